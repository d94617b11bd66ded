/* Picking a batch up from the database (batch.h): its requests as rows, and each line of its
 * results logged as its request's interaction exactly once, whichever process gets there. */
#define _POSIX_C_SOURCE 200809L
#include "batch.h"
#include "base/array.h"

#include "base/clock.h"
#include "base/text.h"
#include "claude/batch_result.h"
#include "cost/cost.h"
#include "cost/models.h"
#include "engine.h"
#include "guard/scan.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct loading {
    batch_row *rows;
    size_t n, cap;
    int oom;
} loading;

static double num(const char *v) { return v ? strtod(v, NULL) : 0; }

static int load_row(void *ud, int ncols, const char *const *names, const char *const *values,
                    const char *types)
{
    (void)types;
    loading *l = ud;
    batch_row *nr = array_room(l->rows, l->n, &l->cap, sizeof *nr, 16);
    if (!nr) {
        l->oom = 1;
        return 1;
    }
    l->rows = nr;
    batch_row *r = &l->rows[l->n++];
    memset(r, 0, sizeof *r);
#define TEXT(col) text_dup_or_fail(rows_value(ncols, names, values, col), &l->oom)
#define NUM(col) num(rows_value(ncols, names, values, col))
    r->batch_id = TEXT("batch_id");
    r->name = TEXT("name");
    r->provider_id = TEXT("provider_id");
    r->custom_id = TEXT("custom_id");
    r->session = TEXT("session");
    r->agent = TEXT("agent");
    r->template_name = TEXT("template");
    r->model = TEXT("model");
    r->reservation_id = TEXT("reservation_id");
    r->interaction_id = TEXT("interaction_id");
    r->part = (int)NUM("part");
    r->template_version = (int)NUM("template_version");
    r->write_1h = NUM("write_1h") != 0;
    r->logged = NUM("logged") != 0;
    r->reserved_usd = NUM("reserved_usd");
    r->created_at = NUM("created_at");
#undef TEXT
#undef NUM
    return l->oom;
}

void batch_rows_free(batch_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        batch_row *r = &rows[i];
        char *s[] = {r->batch_id, r->name, r->provider_id, r->custom_id, r->session, r->agent, r->template_name,
                     r->model, r->reservation_id, r->interaction_id};
        for (size_t k = 0; k < sizeof s / sizeof s[0]; k++)
            free(s[k]);
    }
    free(rows);
}

int batch_rows_load(nyx_engine *e, const char *id, batch_row **rows, size_t *n, error_info *err)
{
    *rows = NULL;
    *n = 0;
    if (!e->storage.db && engine_open_store(e) != 0) {
        error_set(err, "store_error", 0, "batch %.64s cannot be picked up without the database: %s", id,
                      e->errmsg);
        return -1;
    }
    loading l = {0};
    int rc = store_batch_requests(e->storage.db, id, load_row, &l, err);
    if (l.oom) {
        error_set(err, "out_of_memory", 0, "out of memory reading batch %.64s", id);
        rc = -1;
    }
    if (rc < 0) {
        batch_rows_free(l.rows, l.n);
        return -1;
    }
    *rows = l.rows;
    *n = l.n;
    return 0;
}

static int count_row(void *ud, int ncols, const char *const *names, const char *const *values, const char *types)
{
    (void)ncols, (void)names, (void)values, (void)types;
    (*(int *)ud)++;
    return 0;
}

int batch_record_result(nyx_engine *e, const batch_row *row, const char *line, size_t len,
                        call_outcome *out, error_info *out_err, error_info *err)
{
    memset(out, 0, sizeof *out);
    response_init(&out->resp);
    error_clear(out_err);
    out->err = out_err;
    const char *cid;
    const cJSON *result;
    cJSON *o = claude_batch_line(line, len, &cid, &result);
    if (!cid || !result || strcmp(cid, row->custom_id) != 0) {
        cJSON_Delete(o);
        error_set(err, "invalid_argument", 0, "that line is not a result of request %.64s", row->custom_id);
        return -1;
    }
    claude_batch_result(result, &out->resp, out_err);
    cJSON_Delete(o);
    int ok = !out_err->type[0];
    out->status = ok ? NYX_STATUS_OK : NYX_STATUS_ERROR;
    out->attempts = 1;
    out->ttfb_ms = -1;
    /* A batch request's latency is the batch's: from its creation (recorded before it was
     * submitted) to now, when its result is read, as a member waiting in its own process
     * counts from its start to its result (call.c). */
    out->latency_ms = row->created_at > 0 ? (clock_wall_s() - row->created_at) * 1000.0 : -1;
    snprintf(out->model_requested, sizeof out->model_requested, "%s", row->model ? row->model : "");
    const model_info *served = out->resp.model ? models_find(e->provider.models, out->resp.model) : NULL;
    const model_info *m = served ? served : row->model ? models_find(e->provider.models, row->model) : NULL;
    /* Priced as call_account prices a result delivered in the process: an errored, cancelled
     * or expired request has no usage and costs a known 0 (the API bills nothing for it), not
     * an unknown cost. */
    out->has_cost = cost_of_usage_at(m, &out->resp.usage, clock_wall_s(), row->write_1h, &out->cost) == 0;
    batch_standard_cost(m, &out->resp.usage, clock_wall_s(), row->write_1h, out);
    out->cache_hit = out->resp.usage.cache_read_input_tokens > 0;
    engine_new_id(e, out->interaction_id, sizeof out->interaction_id);

    interaction_rec it;
    memset(&it, 0, sizeof it);
    it.id = out->interaction_id;
    it.session = row->session;
    it.agent = row->agent;
    it.template_name = row->template_name;
    it.template_version = row->template_version;
    it.request_id = out->resp.request_id;
    it.model_requested = row->model;
    it.model_served = out->resp.model;
    it.provider = e->provider.name;
    it.usage = out->resp.usage;
    it.has_cost = out->has_cost;
    it.cost_usd = out->cost.cost_usd;
    it.cost_without_cache_usd = out->cost.cost_without_cache_usd;
    it.saved_usd = out->cost.saved_usd;
    it.ttfb_ms = -1;
    it.latency_ms = out->latency_ms;
    it.attempts = 1;
    it.status = ok ? "ok" : "error";
    it.error_type = ok ? NULL : out_err->type;
    it.error_message = ok ? NULL : out_err->message;
    it.stop_reason = out->resp.stop_reason;
    it.cache_hit = out->cache_hit;
    it.service_tier = out->resp.usage.service_tier[0] ? out->resp.usage.service_tier : NULL;
    it.has_standard_cost = out->has_standard_cost;
    it.standard_cost_usd = out->standard_cost_usd;
    it.batch_id = row->batch_id;
    it.custom_id = row->custom_id;
    /* The reply as the storage mode keeps it (the prompt stayed with the process that sent it). */
    char *owned = NULL;
    const char *mode = e->cfg.storage_mode;
    if (ok && out->resp.text && strcmp(mode, "full") == 0) {
        it.response_text = out->resp.text;
    } else if (ok && out->resp.text && strcmp(mode, "redacted") == 0) {
        size_t n;
        it.response_text = owned = guard_redact(out->resp.text, out->resp.text_len, &n);
    }
    /* The reservation may hold the whole batch: it is settled once every result it covers is
     * logged (batch_settle_logged), not by the first. */
    int rc = store_log_interaction(e->storage.db, &it, err);
    free(owned);
    /* A use of its template, as a call in this process counts one, by whichever process logged
     * the result: the row under this interaction's id is there only when this write made it. */
    int mine = 0;
    error_info qerr;
    error_clear(&qerr);
    if (rc == 0 && row->template_name && store_query_exchange(e->storage.db, out->interaction_id, count_row, &mine, &qerr) == 0 &&
        mine > 0) {
        char name[256];
        snprintf(name, sizeof name, "%s", row->template_name);
        call_template_use(e, name, row->template_version, out);
    }
    return rc;
}
