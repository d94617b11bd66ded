/* What a call's model allows, checked before anything is sent: retired models and refused
 * parameters fail the call; a deprecated model, an id the table does not know and a table
 * too old to trust each give one notice. */
#define _POSIX_C_SOURCE 200809L
#include "call_internal.h"

#include "base/clock.h"
#include "cost/accept.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STALE_TABLE_DAYS NYX_MODELS_STALE_DAYS

int call_check_model(api_call *c, error_info *err)
{
    nyx_engine *e = c->e;
    const char *name = call_route_model(c);
    if (accept_table_stale(e->provider.models, clock_wall_s(), STALE_TABLE_DAYS)) {
        const char *date = models_date(e->provider.models);
        engine_warn_once(e, "models-stale",
                         "nyx: the model table is dated %s, more than %d days ago; prices or models may "
                         "have changed: add or correct rows with NYX_MODELS",
                         date ? date : "(no date)", STALE_TABLE_DAYS);
    }
    if (!c->model) {
        char key[200];
        snprintf(key, sizeof key, "unknown-model:%.180s", name);
        engine_warn_once(e, key,
                         "nyx: model \"%s\" is not in the model table; its prices, cache minimum and "
                         "accepted parameters are unknown: add it with NYX_MODELS",
                         name);
        return 0;
    }
    if (accept_request(c->model, &c->spec.req, err) != 0)
        return -1;
    char notice[400];
    if (accept_deprecation_notice(c->model, notice, sizeof notice)) {
        char key[200];
        snprintf(key, sizeof key, "deprecated:%.180s", c->model->id);
        engine_warn_once(e, key, "%s", notice);
    }
    return 0;
}

/* Settings key under which a learned minimum is kept (system_config). */
#define LEARNED_PREFIX "models.min_cache."

void call_learn_min_cache(api_call *c)
{
    nyx_engine *e = c->e;
    const model_info *m = c->model;
    const claude_usage *u = &c->result.resp.usage;
    const claude_request *req = &c->spec.req;
    if (!m || m->min_cache_confirmed || c->result.status != NYX_STATUS_OK ||
        u->cache_creation_input_tokens > 0 || u->cache_read_input_tokens > 0)
        return;
    /* Where the last mark falls, as a share of the prompt's text. */
    size_t total = req->tools_json ? strlen(req->tools_json) : 0, through = 0;
    for (size_t i = 0; i < req->nsystem; i++) {
        total += req->system[i].len;
        if (req->system[i].mark != NYX_MARK_NONE)
            through = total;
    }
    for (size_t i = 0; i < req->nmessages; i++)
        for (size_t k = 0; k < req->messages[i].nblocks; k++) {
            total += req->messages[i].blocks[k].len;
            if (req->messages[i].blocks[k].mark != NYX_MARK_NONE)
                through = total;
        }
    if (req->top_level_cache)
        through = total;
    if (!through || !total)
        return;
    int64_t prompt = u->input_tokens;
    /* The prefix's share of the text, less a tenth: a share by bytes may overstate the
     * tokens before the mark, and a minimum raised too far would keep marks off prefixes
     * the API caches. */
    int64_t prefix = (int64_t)(0.9 * (double)prompt * (double)through / (double)total);
    /* A marked prefix of this size wrote nothing: the minimum is above it. */
    if (models_raise_min_cache(e->provider.models, m->id, prefix + 1) != 1)
        return;
    engine_log(e, NYX_LOG_INFO, "nyx: %s caches nothing below %lld tokens (learned from usage)", m->id,
               (long long)(prefix + 1));
    if (!e->storage.db || e->storage.degraded)
        return;
    char key[200], value[32];
    snprintf(key, sizeof key, LEARNED_PREFIX "%.150s", m->id);
    snprintf(value, sizeof value, "%lld", (long long)(prefix + 1));
    error_info err;
    error_clear(&err);
    if (store_config_set(e->storage.db, key, value, &err) != 0)
        engine_warn_once(e, "learned-min-cache", "nyx: a learned cache minimum could not be stored: %s",
                         err.message);
}

int call_learned_setting(nyx_engine *e, const char *key, const char *value)
{
    size_t n = strlen(LEARNED_PREFIX);
    if (strncmp(key, LEARNED_PREFIX, n) != 0 || !value)
        return 0;
    char *end;
    long long v = strtoll(value, &end, 10);
    if (end != value && !*end && v > 0)
        models_raise_min_cache(e->provider.models, key + n, (int64_t)v);
    return 1;
}
