/* The /sim/... endpoints tests use to drive the simulator:
 *   POST /sim/faults   add fault rules        DELETE /sim/faults  clear them
 *   GET  /sim/requests[?since=N]  the request log
 *   GET  /sim/hanging  how many requests a "hang" fault holds now
 *   POST /sim/reset    clear cache, rate-limit buckets, faults and log
 *   POST /sim/config   change ttft_ms, token_ms, rpm, itpm, otpm, seed, max_body, keep_bodies
 *   GET  /sim/config   the current options */
#include "sim_server.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int error_out(int status, const char *type, const char *message, char **out)
{
    *out = sim_json_error(type, message, NULL);
    return status;
}

static char *config_json(const sim_server *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = cJSON_AddNumberToObject(o, "ttft_ms", s->opt.ttft_ms) &&
             cJSON_AddNumberToObject(o, "token_ms", s->opt.token_ms) &&
             cJSON_AddNumberToObject(o, "rpm", (double)s->opt.rpm) &&
             cJSON_AddNumberToObject(o, "itpm", (double)s->opt.itpm) &&
             cJSON_AddNumberToObject(o, "otpm", (double)s->opt.otpm) &&
             cJSON_AddNumberToObject(o, "max_body", (double)s->opt.max_body) &&
             cJSON_AddNumberToObject(o, "keep_bodies", (double)sim_log_kept_bodies(s->log)) &&
             cJSON_AddNumberToObject(o, "cache_entries", (double)sim_cache_size(s->cache)) &&
             cJSON_AddNumberToObject(o, "faults", (double)sim_faults_count(s->faults)) &&
             cJSON_AddNumberToObject(o, "port", s->port);
    return ok ? sim_json_print(o) : (cJSON_Delete(o), NULL);
}

static const char *const config_keys[] = {"ttft_ms", "token_ms", "rpm", "itpm", "otpm",
                                          "seed", "max_body", "keep_bodies", NULL};

/* Applies a config body; all or nothing. Called with s->mu held. */
static int apply_config(sim_server *s, const char *body, size_t len, char **out)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return error_out(400, "invalid_request_error", "expected a JSON object", out);
    }
    double v[8] = {0};
    int set[8] = {0};
    for (const cJSON *it = root->child; it; it = it->next) {
        int k = 0;
        while (config_keys[k] && !(it->string && strcmp(it->string, config_keys[k]) == 0))
            k++;
        if (!config_keys[k] || !cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
            it->valuedouble < 0 || it->valuedouble > 9.0e15) {
            char msg[200];
            snprintf(msg, sizeof msg, "%.60s: expected one of ttft_ms, token_ms, rpm, itpm, otpm, "
                     "seed, max_body, keep_bodies with a number >= 0", it->string ? it->string : "");
            cJSON_Delete(root);
            return error_out(400, "invalid_request_error", msg, out);
        }
        v[k] = it->valuedouble;
        set[k] = 1;
    }
    cJSON_Delete(root);
    if (set[0])
        s->opt.ttft_ms = v[0];
    if (set[1])
        s->opt.token_ms = v[1];
    if (set[2])
        s->opt.rpm = (int64_t)v[2];
    if (set[3])
        s->opt.itpm = (int64_t)v[3];
    if (set[4])
        s->opt.otpm = (int64_t)v[4];
    if (set[5])
        sim_faults_seed(s->faults, (uint64_t)v[5]);
    if (set[6])
        s->opt.max_body = v[6] > 0 ? (size_t)v[6] : ((size_t)32 << 20);
    if (set[7])
        sim_log_keep_bodies(s->log, v[7] < SIM_LOG_MAX ? (size_t)v[7] : SIM_LOG_MAX);
    if (set[2] || set[3] || set[4])
        sim_rl_set_limits(s->rl, s->opt.rpm, s->opt.itpm, s->opt.otpm);
    *out = config_json(s);
    return 200;
}

static char *ok_json(const char *key, double value)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddTrueToObject(o, "ok") &&
             (!key || cJSON_AddNumberToObject(o, key, value));
    return ok ? sim_json_print(o) : (cJSON_Delete(o), NULL);
}

int sim_control(sim_server *s, const char *method, const char *url, const char *query_since,
                const char *body, size_t len, char **out)
{
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    int del = strcmp(method, "DELETE") == 0;
    int status = 200;
    *out = NULL;
    if (pthread_mutex_lock(&s->mu) != 0)
        return error_out(500, "api_error", "lock failed", out);
    if (strcmp(url, "/sim/faults") == 0 && post) {
        error_info err;
        error_clear(&err);
        int n = sim_faults_add_json(s->faults, body ? body : "", len, &err);
        if (n < 0)
            status = error_out(err.status ? err.status : 400, err.type, err.message, out);
        else
            *out = ok_json("faults", (double)sim_faults_count(s->faults));
    } else if (strcmp(url, "/sim/faults") == 0 && del) {
        sim_faults_clear(s->faults);
        *out = ok_json("faults", 0);
    } else if (strcmp(url, "/sim/requests") == 0 && get) {
        long long since = query_since ? strtoll(query_since, NULL, 10) : 0;
        *out = sim_log_json(s->log, since);
    } else if (strcmp(url, "/sim/hanging") == 0 && get) {
        *out = ok_json("hanging", s->hanging);
    } else if (strcmp(url, "/sim/reset") == 0 && post) {
        sim_cache_clear(s->cache);
        sim_rl_reset(s->rl);
        sim_faults_clear(s->faults);
        sim_log_clear(s->log);
        *out = ok_json(NULL, 0);
    } else if (strcmp(url, "/sim/config") == 0 && post) {
        status = apply_config(s, body ? body : "", len, out);
    } else if (strcmp(url, "/sim/config") == 0 && get) {
        *out = config_json(s);
    } else {
        status = error_out(404, "not_found_error", "no such simulator endpoint", out);
    }
    pthread_mutex_unlock(&s->mu);
    return status;
}
