/* Message Batches in the simulator: the store, the processing schedule and the JSON the API
 * answers with (see sim_batch.h). */
#define _POSIX_C_SOURCE 200809L
#include "sim_batch.h"
#include "base/textbuf.h"
#include "base/array.h"
#include "base/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_core.h"
#include "sim_server.h"

#define MAX_REQUESTS 100000

enum { R_PENDING = 0, R_SUCCEEDED, R_ERRORED, R_CANCELED, R_EXPIRED };
static const char *const result_types[] = {"", "succeeded", "errored", "canceled", "expired"};

typedef struct breq {
    char *custom_id;
    char *params;  /* the params object as text, parsed when processed */
    int state;
    char *result;  /* the message or the error object (JSON text) once processed */
} breq;

typedef struct batch {
    char id[48];
    int64_t created_us, delay_us, expires_us;
    double created_wall, expires_wall, ended_wall, cancel_wall;
    int canceling, ended, deleted;
    breq *reqs;
    size_t n, next; /* next: the first request not processed yet */
    int64_t seq;
} batch;

struct sim_batches {
    batch **all;
    size_t n, cap;
    int64_t next_id;
};

sim_batches *sim_batches_new(void) { return calloc(1, sizeof(sim_batches)); }

static void batch_free(batch *b)
{
    for (size_t i = 0; b && i < b->n; i++) {
        free(b->reqs[i].custom_id);
        free(b->reqs[i].params);
        free(b->reqs[i].result);
    }
    if (b)
        free(b->reqs);
    free(b);
}

void sim_batches_free(sim_batches *bs)
{
    for (size_t i = 0; bs && i < bs->n; i++)
        batch_free(bs->all[i]);
    if (bs)
        free(bs->all);
    free(bs);
}

static int fail(int status, const char *type, const char *message, char **out)
{
    *out = sim_json_error(type, message, "req_sim_batch");
    return status;
}

static batch *find(sim_batches *bs, const char *id)
{
    for (size_t i = 0; bs && id && i < bs->n; i++)
        if (!bs->all[i]->deleted && strcmp(bs->all[i]->id, id) == 0)
            return bs->all[i];
    return NULL;
}

/* ---- processing ---- */

static char *error_object(const char *type, const char *message)
{
    cJSON *o = cJSON_CreateObject(), *inner = cJSON_CreateObject();
    if (!o || !inner || !cJSON_AddStringToObject(inner, "type", type) ||
        !cJSON_AddStringToObject(inner, "message", message) || !cJSON_AddStringToObject(o, "type", "error") ||
        !cJSON_AddItemToObject(o, "error", inner)) {
        cJSON_Delete(o);
        cJSON_Delete(inner);
        return NULL;
    }
    return sim_json_print(o);
}

/* The request log (GET /sim/requests) gets each request a batch processes, as it gets each
 * request to /v1/messages: its own number, the path /v1/messages/batches/ID/requests/CUSTOM_ID,
 * the model, the tokens served (0 for an errored one) and the fault applied, so what a client
 * logged for a batch can be checked against what was served. Under the server lock. */
static void log_processed(sim_server *s, const batch *b, const breq *r, const sim_req *req,
                          const sim_usage *u, const sim_fault *fault, int status, int64_t at_us)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/messages/batches/%s/requests/%.64s", b->id, r->custom_id);
    sim_log_entry e;
    memset(&e, 0, sizeof e);
    e.n = ++s->next_n;
    e.path = path;
    e.model = req ? req->model : NULL;
    e.max_tokens = req ? req->max_tokens : 0;
    e.status = status; /* an errored request's: the status the HTTP endpoint would answer */
    if (u) {
        e.input_tokens = u->input_tokens;
        e.cache_read = u->cache_read;
        e.cache_write = u->cache_creation;
        e.cache_write_1h = u->cache_write_1h;
        e.output_tokens = u->output_tokens;
    }
    e.fault = fault ? sim_fault_name(fault->kind) : NULL;
    e.t = (double)at_us / 1e6;
    (void)sim_log_add(s->log, &e); /* a lost log line must not fail the batch */
}

/* One request, as POST /v1/messages would answer it, without its latency or rate limits (a
 * batch is not subject to them). Returns 0, or -1 when out of memory. */
static int process(sim_server *s, batch *b, breq *r, int64_t at_us)
{
    sim_req req;
    error_info err;
    error_clear(&err);
    if (sim_req_parse(&req, r->params, strlen(r->params), &s->models, s->memo, 0, &err)) {
        sim_req_free(&req);
        r->state = R_ERRORED;
        r->result = error_object(err.type, err.message);
        log_processed(s, b, r, NULL, NULL, NULL, err.status ? err.status : 400, at_us);
        return r->result ? 0 : -1;
    }
    if (req.stream) {
        r->state = R_ERRORED;
        r->result = error_object("invalid_request_error", "stream: streaming is not supported in batches");
        log_processed(s, b, r, &req, NULL, NULL, 400, at_us);
        sim_req_free(&req);
        return r->result ? 0 : -1;
    }
    /* A fault rule for endpoint "batch": this request ends errored, as the API reports a
     * request that failed inside a batch (nothing is billed for it). */
    sim_fault fault;
    if (sim_faults_match(s->faults, req.model, req.canonical, SIM_EP_BATCH, 0, &fault)) {
        int status = 500;
        const char *type = "api_error", *msg = "Internal server error";
        (void)sim_fault_error(fault.kind, &status, &type, &msg);
        r->state = R_ERRORED;
        r->result = error_object(type, fault.message[0] ? fault.message : msg);
        log_processed(s, b, r, &req, NULL, &fault, status, at_us);
        sim_req_free(&req);
        return r->result ? 0 : -1;
    }
    sim_plan plan;
    sim_cache_plan(s->cache, &req, at_us, &plan);
    (void)sim_cache_commit(s->cache, &req, &plan, at_us, at_us);
    sim_reply rep;
    if (sim_reply_make(&req, &rep)) {
        sim_req_free(&req);
        return -1;
    }
    /* Tool calls and JSON for an output schema, as the Messages endpoint answers them. */
    if (sim_tools_reply(&req, &rep)) {
        sim_reply_free(&rep);
        sim_req_free(&req);
        return -1;
    }
    sim_usage u = plan.usage;
    u.output_tokens = rep.output_tokens;
    u.speed = req.speed;
    u.geo = req.geo;
    u.tier = "batch";
    char id[64];
    snprintf(id, sizeof id, "msg_sim_b%lld_%lld", (long long)b->seq, (long long)(r - b->reqs) + 1);
    r->result = sim_json_message(id, req.canonical, &rep, &u);
    sim_reply_free(&rep);
    r->state = R_SUCCEEDED;
    log_processed(s, b, r, &req, &u, NULL, 200, at_us);
    sim_req_free(&req);
    return r->result ? 0 : -1;
}

static void end(batch *b, double wall)
{
    if (!b->ended) {
        b->ended = 1;
        b->ended_wall = wall;
    }
}

/* Processes what is due by now_us; a cancelled batch cancels the rest, an expired one expires
 * it. Returns -1 when out of memory (the batch stays consistent: it is retried later). */
static int advance(sim_server *s, batch *b, int64_t now_us)
{
    while (!b->ended && b->next < b->n) {
        int64_t due = b->created_us + (int64_t)((double)b->delay_us * (double)(b->next + 1) / (double)b->n);
        if (due > now_us || due > b->expires_us)
            break;
        if (process(s, b, &b->reqs[b->next], due))
            return -1;
        b->next++;
    }
    int expired = !b->ended && now_us >= b->expires_us;
    if (!b->ended && (b->canceling || expired || b->next == b->n)) {
        for (size_t i = b->next; i < b->n; i++)
            b->reqs[i].state = b->canceling ? R_CANCELED : R_EXPIRED;
        b->next = b->n;
        int64_t at = b->canceling || expired ? now_us : b->created_us + b->delay_us;
        end(b, expired && !b->canceling ? b->expires_wall : b->created_wall + (double)(at - b->created_us) / 1e6);
    }
    return 0;
}

/* ---- JSON ---- */

static int add_time(cJSON *o, const char *key, double wall)
{
    if (wall <= 0)
        return cJSON_AddNullToObject(o, key) != NULL;
    time_t t = (time_t)wall;
    struct tm tm;
    char buf[40];
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    char full[64];
    snprintf(full, sizeof full, "%s.%06dZ", buf, (int)((wall - (double)t) * 1e6));
    return cJSON_AddStringToObject(o, key, full) != NULL;
}

static cJSON *batch_json(const sim_server *s, const batch *b)
{
    cJSON *o = cJSON_CreateObject(), *counts = cJSON_CreateObject();
    double n[5] = {0};
    for (size_t i = 0; i < b->n; i++)
        n[b->reqs[i].state]++;
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/messages/batches/%s/results", s->port, b->id);
    const char *status = b->ended ? "ended" : b->canceling ? "canceling" : "in_progress";
    int ok = o && counts && cJSON_AddNumberToObject(counts, "processing", n[R_PENDING]) &&
             cJSON_AddNumberToObject(counts, "succeeded", n[R_SUCCEEDED]) &&
             cJSON_AddNumberToObject(counts, "errored", n[R_ERRORED]) &&
             cJSON_AddNumberToObject(counts, "canceled", n[R_CANCELED]) &&
             cJSON_AddNumberToObject(counts, "expired", n[R_EXPIRED]) && cJSON_AddStringToObject(o, "id", b->id) &&
             cJSON_AddStringToObject(o, "type", "message_batch") &&
             cJSON_AddStringToObject(o, "processing_status", status) &&
             cJSON_AddItemToObject(o, "request_counts", counts);
    if (ok)
        counts = NULL;
    ok = ok && add_time(o, "created_at", b->created_wall) && add_time(o, "expires_at", b->expires_wall) &&
         add_time(o, "ended_at", b->ended ? b->ended_wall : 0) &&
         add_time(o, "cancel_initiated_at", b->canceling ? b->cancel_wall : 0) &&
         add_time(o, "archived_at", 0) &&
         (b->ended ? cJSON_AddStringToObject(o, "results_url", url) : cJSON_AddNullToObject(o, "results_url"));
    cJSON_Delete(counts);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int answer_batch(const sim_server *s, const batch *b, char **out)
{
    *out = sim_json_print(batch_json(s, b));
    return 200;
}

/* ---- endpoints ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(((const breq *)a)->custom_id, ((const breq *)b)->custom_id);
}

/* Requests are validated as a whole (custom_id format, uniqueness, params an object); what
 * is wrong inside params is a per-request error, reported in the results. */
static int read_requests(const cJSON *list, batch *b, char *why, size_t whylen)
{
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1) {
        snprintf(why, whylen, "requests: must be a non-empty list");
        return -1;
    }
    if (n > MAX_REQUESTS) {
        snprintf(why, whylen, "requests: at most %d requests per batch, got %d", MAX_REQUESTS, n);
        return -1;
    }
    if (!(b->reqs = calloc((size_t)n, sizeof *b->reqs)))
        return -2;
    int i = 0;
    for (const cJSON *r = list->child; r; r = r->next, i++) {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(r, "custom_id");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
        if (!cJSON_IsString(cid) || !text_is_word(cid->valuestring, 64)) {
            snprintf(why, whylen, "requests.%d.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$", i);
            return -1;
        }
        if (!cJSON_IsObject(params)) {
            snprintf(why, whylen, "requests.%d.params: Field required", i);
            return -1;
        }
        b->n++;
        if (!(b->reqs[i].custom_id = strdup(cid->valuestring)) ||
            !(b->reqs[i].params = sim_json_print(cJSON_Duplicate(params, 1))))
            return -2;
    }
    breq *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted)
        return -2;
    memcpy(sorted, b->reqs, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    for (int k = 1; k < n; k++)
        if (strcmp(sorted[k - 1].custom_id, sorted[k].custom_id) == 0) {
            snprintf(why, whylen, "requests: custom_id '%.64s' is not unique", sorted[k].custom_id);
            free(sorted);
            return -1;
        }
    free(sorted);
    return 0;
}

int sim_batch_create(sim_server *s, const char *body, size_t len, int64_t now_us, double wall_s, char **out)
{
    char why[200] = "";
    if (sim_body_utf8(body ? body : "", body ? len : 0, why, sizeof why) != 0)
        return fail(400, "invalid_request_error", why, out);
    cJSON *root = cJSON_ParseWithLength(body ? body : "", len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(400, "invalid_request_error", "the body must be a JSON object", out);
    }
    sim_batches *bs = s->batches;
    batch *b = calloc(1, sizeof *b);
    int rc = b ? read_requests(cJSON_GetObjectItemCaseSensitive(root, "requests"), b, why, sizeof why) : -2;
    cJSON_Delete(root);
    batch **nb = rc == 0 ? array_room(bs->all, bs->n, &bs->cap, sizeof *nb, 16) : NULL;
    if (nb)
        bs->all = nb;
    else if (rc == 0)
        rc = -2;
    if (rc) {
        batch_free(b);
        return rc == -1 ? fail(400, "invalid_request_error", why, out) : fail(500, "api_error", "out of memory", out);
    }
    b->seq = ++bs->next_id;
    snprintf(b->id, sizeof b->id, "msgbatch_sim_%06lld", (long long)b->seq);
    b->created_us = now_us;
    b->delay_us = (int64_t)(s->opt.batch_delay_ms * 1000.0);
    double expiry_ms = s->opt.batch_expiry_ms > 0 ? s->opt.batch_expiry_ms : 24.0 * 3600.0 * 1000.0;
    b->expires_us = now_us + (int64_t)(expiry_ms * 1000.0);
    b->created_wall = wall_s;
    b->expires_wall = wall_s + expiry_ms / 1000.0;
    bs->all[bs->n++] = b;
    if (advance(s, b, now_us))
        return fail(500, "api_error", "out of memory", out);
    return answer_batch(s, b, out);
}

static batch *lookup(sim_server *s, const char *id, int64_t now_us, int *status, char **out)
{
    batch *b = find(s->batches, id);
    if (!b) {
        char msg[160];
        snprintf(msg, sizeof msg, "No batch found with id %.64s", id ? id : "");
        *status = fail(404, "not_found_error", msg, out);
        return NULL;
    }
    if (advance(s, b, now_us)) {
        *status = fail(500, "api_error", "out of memory", out);
        return NULL;
    }
    return b;
}

int sim_batch_get(sim_server *s, const char *id, int64_t now_us, char **out)
{
    int status;
    batch *b = lookup(s, id, now_us, &status, out);
    return b ? answer_batch(s, b, out) : status;
}

/* Results in an order of their own (by custom id, descending), as the API promises none. */
static int cmp_desc(const void *a, const void *b)
{
    return strcmp((*(breq *const *)b)->custom_id, (*(breq *const *)a)->custom_id);
}

int sim_batch_results(sim_server *s, const char *id, int64_t now_us, char **out)
{
    int status;
    batch *b = lookup(s, id, now_us, &status, out);
    if (!b)
        return status;
    if (!b->ended)
        return fail(400, "invalid_request_error", "Batch is still processing: results are available once it has ended", out);
    breq **order = malloc(b->n * sizeof *order);
    if (!order)
        return fail(500, "api_error", "out of memory", out);
    for (size_t i = 0; i < b->n; i++)
        order[i] = &b->reqs[i];
    qsort(order, b->n, sizeof *order, cmp_desc);
    textbuf text = {0};
    if (textbuf_reserve(&text, 4096) == 0)
        textbuf_reset(&text); /* "" until a line is written */
    for (size_t i = 0; !text.failed && i < b->n; i++) {
        cJSON *line = cJSON_CreateObject(), *result = cJSON_CreateObject();
        cJSON *payload = order[i]->result ? cJSON_Parse(order[i]->result) : NULL;
        int st = order[i]->state;
        int ok = line && result && cJSON_AddStringToObject(line, "custom_id", order[i]->custom_id) &&
                 cJSON_AddStringToObject(result, "type", result_types[st]) &&
                 (!payload || cJSON_AddItemToObject(result, st == R_SUCCEEDED ? "message" : "error", payload));
        if (ok)
            payload = NULL;
        ok = ok && cJSON_AddItemToObject(line, "result", result);
        if (ok)
            result = NULL;
        cJSON_Delete(payload);
        cJSON_Delete(result);
        char *one = ok ? sim_json_print(line) : (cJSON_Delete(line), NULL);
        if (!one)
            text.failed = 1;
        textbuf_puts(&text, one ? one : "");
        textbuf_put(&text, "\n", 1);
        free(one);
    }
    free(order);
    if (text.failed || !text.s) {
        free(text.s);
        return fail(500, "api_error", "out of memory", out);
    }
    *out = text.s;
    return 200;
}

int sim_batch_cancel(sim_server *s, const char *id, int64_t now_us, double wall_s, char **out)
{
    int status;
    batch *b = lookup(s, id, now_us, &status, out);
    if (!b)
        return status;
    if (!b->ended && !b->canceling) {
        b->canceling = 1;
        b->cancel_wall = wall_s;
    }
    /* The API answers "canceling" and ends the batch shortly after: here at the next look. */
    char *first = sim_json_print(batch_json(s, b));
    if (advance(s, b, now_us)) {
        free(first);
        return fail(500, "api_error", "out of memory", out);
    }
    *out = first;
    return 200;
}

int sim_batch_remove(sim_server *s, const char *id, int64_t now_us, char **out)
{
    int status;
    batch *b = lookup(s, id, now_us, &status, out);
    if (!b)
        return status;
    if (!b->ended)
        return fail(400, "invalid_request_error", "Batch cannot be deleted while it is processing: cancel it first", out);
    b->deleted = 1;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "id", b->id) || !cJSON_AddStringToObject(o, "type", "message_batch_deleted")) {
        cJSON_Delete(o);
        return fail(500, "api_error", "out of memory", out);
    }
    *out = sim_json_print(o);
    return 200;
}

int sim_batch_list(sim_server *s, int limit, const char *after_id, int64_t now_us, char **out)
{
    if (limit < 1 || limit > 1000)
        return fail(400, "invalid_request_error", "limit: must be between 1 and 1000", out);
    sim_batches *bs = s->batches;
    cJSON *o = cJSON_CreateObject(), *data = cJSON_CreateArray();
    int ok = o && data, count = 0, more = 0, started = !after_id || !*after_id;
    const char *first = NULL, *last = NULL;
    for (size_t i = bs->n; ok && i-- > 0;) { /* newest first */
        batch *b = bs->all[i];
        if (b->deleted)
            continue;
        if (!started) {
            started = strcmp(b->id, after_id) == 0;
            continue;
        }
        if (count == limit) {
            more = 1;
            break;
        }
        if (advance(s, b, now_us)) {
            ok = 0;
            break;
        }
        cJSON *one = batch_json(s, b);
        ok = one && cJSON_AddItemToArray(data, one);
        if (!ok)
            cJSON_Delete(one);
        first = first ? first : b->id;
        last = b->id;
        count++;
    }
    ok = ok && cJSON_AddItemToObject(o, "data", data);
    if (ok)
        data = NULL;
    ok = ok && cJSON_AddBoolToObject(o, "has_more", more) &&
         (first ? cJSON_AddStringToObject(o, "first_id", first) : cJSON_AddNullToObject(o, "first_id")) &&
         (last ? cJSON_AddStringToObject(o, "last_id", last) : cJSON_AddNullToObject(o, "last_id"));
    cJSON_Delete(data);
    if (!ok) {
        cJSON_Delete(o);
        return fail(500, "api_error", "out of memory", out);
    }
    *out = sim_json_print(o);
    return 200;
}
