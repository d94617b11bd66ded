/* The simulator's lifecycle: options, shared state and the public entry points of sim.h. */
#define _POSIX_C_SOURCE 200809L
#include "sim_server.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BODY ((size_t)32 << 20)

void sim_options_default(sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_body = DEFAULT_MAX_BODY;
}

static int check_options(const sim_options *o, error_info *err)
{
    if (!isfinite(o->ttft_ms) || o->ttft_ms < 0 || !isfinite(o->token_ms) || o->token_ms < 0) {
        error_set(err, "invalid_argument", 0, "sim: ttft_ms and token_ms must be >= 0");
        return -1;
    }
    if (o->rpm < 0 || o->itpm < 0 || o->otpm < 0) {
        error_set(err, "invalid_argument", 0, "sim: rate limits must be >= 0");
        return -1;
    }
    if (!isfinite(o->batch_delay_ms) || o->batch_delay_ms < 0 || !isfinite(o->batch_expiry_ms) ||
        o->batch_expiry_ms < 0) {
        error_set(err, "invalid_argument", 0, "sim: batch_delay_ms and batch_expiry_ms must be >= 0");
        return -1;
    }
    return 0;
}

static void free_state(sim_server *s)
{
    sim_cache_free(s->cache);
    sim_token_memo_free(s->memo);
    sim_rl_free(s->rl);
    sim_faults_free(s->faults);
    sim_log_free(s->log);
    sim_batches_free(s->batches);
    free(s->api_key);
}

sim_server *sim_server_start(const sim_models *models, const sim_options *opt, int port,
                             error_info *err)
{
    sim_options def;
    if (!opt) {
        sim_options_default(&def);
        opt = &def;
    }
    if (!models || !models->min_cache_tokens) {
        error_set(err, "invalid_argument", 0, "sim: a model table is required");
        return NULL;
    }
    if (port < 0 || port > 65535) {
        error_set(err, "invalid_argument", 0, "sim: port %d is out of range", port);
        return NULL;
    }
    if (check_options(opt, err))
        return NULL;
    sim_server *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, "out_of_memory", 0, "sim: out of memory");
        return NULL;
    }
    s->models = *models;
    s->opt = *opt;
    s->opt.api_key = NULL;
    if (!s->opt.max_body)
        s->opt.max_body = DEFAULT_MAX_BODY;
    if (opt->api_key) {
        size_t n = strlen(opt->api_key);
        if ((s->api_key = malloc(n + 1)))
            memcpy(s->api_key, opt->api_key, n + 1);
    }
    s->cache = sim_cache_new(0);
    s->memo = sim_token_memo_new();
    s->rl = sim_rl_new();
    s->faults = sim_faults_new(opt->seed);
    s->log = sim_log_new();
    s->batches = sim_batches_new();
    if ((opt->api_key && !s->api_key) || !s->cache || !s->memo || !s->rl || !s->faults || !s->log || !s->batches) {
        free_state(s);
        free(s);
        error_set(err, "out_of_memory", 0, "sim: out of memory");
        return NULL;
    }
    sim_rl_set_limits(s->rl, opt->rpm, opt->itpm, opt->otpm);

    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free_state(s);
        free(s);
        error_set(err, "internal", 0, "sim: could not create the server lock");
        return NULL;
    }
    if (sim_http_start(s, port, err)) {
        pthread_mutex_destroy(&s->mu);
        free_state(s);
        free(s);
        return NULL;
    }
    return s;
}

int sim_server_port(const sim_server *s) { return s ? s->port : 0; }

void sim_server_stop(sim_server *s)
{
    if (!s)
        return;
    sim_http_stop(s); /* ends the waits, then the daemon's thread */
    pthread_mutex_destroy(&s->mu);
    free_state(s);
    free(s);
}

int sim_add_faults_json(sim_server *s, const char *json, error_info *err)
{
    if (!s || !json) {
        error_set(err, "invalid_argument", 0, "sim: no server or no JSON");
        return -1;
    }
    if (pthread_mutex_lock(&s->mu) != 0) {
        error_set(err, "internal", 0, "sim: lock failed");
        return -1;
    }
    int rc = sim_faults_add_json(s->faults, json, strlen(json), err);
    pthread_mutex_unlock(&s->mu);
    return rc < 0 ? -1 : 0;
}
