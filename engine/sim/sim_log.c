/* A ring of the newest request records. */
#include "sim_log.h"
#include "sim_core.h"
#include "base/text.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct rec {
    sim_log_entry e;
    char *path;
    char *model;
    char *body;
} rec;

struct sim_log {
    rec *ring; /* SIM_LOG_MAX slots, allocated on first use */
    size_t head, n;
    int64_t total;
    size_t keep_bodies;
};

void sim_log_keep_bodies(sim_log *l, size_t n) { l->keep_bodies = n; }
size_t sim_log_kept_bodies(const sim_log *l) { return l->keep_bodies; }

static void forget_body(rec *r)
{
    free(r->body);
    r->body = NULL;
    r->e.body = NULL;
    r->e.body_len = 0;
}

sim_log *sim_log_new(void) { return calloc(1, sizeof(sim_log)); }

static rec *at(const sim_log *l, size_t i) { return &l->ring[(l->head + i) % SIM_LOG_MAX]; }

void sim_log_clear(sim_log *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(at(l, i)->path);
        free(at(l, i)->model);
        forget_body(at(l, i));
    }
    l->head = l->n = 0;
    l->total = 0;
}

void sim_log_free(sim_log *l)
{
    if (!l)
        return;
    sim_log_clear(l);
    free(l->ring);
    free(l);
}

int sim_log_add(sim_log *l, const sim_log_entry *e)
{
    if (!l->ring && !(l->ring = calloc(SIM_LOG_MAX, sizeof *l->ring)))
        return -1;
    char *path = text_dup(e->path), *model = text_dup(e->model);
    if ((e->path && !path) || (e->model && !model)) {
        free(path);
        free(model);
        return -1;
    }
    char *body = NULL;
    if (l->keep_bodies > 0 && e->body && (body = malloc(e->body_len + 1)) != NULL) {
        memcpy(body, e->body, e->body_len);
        body[e->body_len] = '\0';
    }
    rec *r;
    if (l->n == SIM_LOG_MAX) {
        r = at(l, 0);
        free(r->path);
        free(r->model);
        forget_body(r);
        l->head = (l->head + 1) % SIM_LOG_MAX;
        l->n--;
    }
    r = at(l, l->n);
    l->n++;
    l->total++;
    r->e = *e;
    r->path = path;
    r->model = model;
    r->e.path = path;
    r->e.model = model;
    r->body = body;
    r->e.body = body;
    r->e.body_len = body ? e->body_len : 0;
    /* Only the newest keep_bodies bodies are kept. */
    for (size_t i = l->n > l->keep_bodies ? l->n - l->keep_bodies : 0; i-- > 0 && at(l, i)->body;)
        forget_body(at(l, i));
    return 0;
}

static int add_entry(cJSON *arr, const sim_log_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return -1;
    int ok = cJSON_AddNumberToObject(o, "n", (double)e->n) &&
             (e->path ? cJSON_AddStringToObject(o, "path", e->path) != NULL
                      : cJSON_AddNullToObject(o, "path") != NULL) &&
             (e->model ? cJSON_AddStringToObject(o, "model", e->model) != NULL
                       : cJSON_AddNullToObject(o, "model") != NULL) &&
             cJSON_AddBoolToObject(o, "stream", e->stream) &&
             cJSON_AddNumberToObject(o, "max_tokens", (double)e->max_tokens) &&
             cJSON_AddNumberToObject(o, "status", e->status) &&
             cJSON_AddNumberToObject(o, "t", e->t) &&
             cJSON_AddNumberToObject(o, "input_tokens", (double)e->input_tokens) &&
             cJSON_AddNumberToObject(o, "cache_read", (double)e->cache_read) &&
             cJSON_AddNumberToObject(o, "cache_write", (double)e->cache_write) &&
             cJSON_AddNumberToObject(o, "cache_write_1h", (double)e->cache_write_1h) &&
             cJSON_AddNumberToObject(o, "output_tokens", (double)e->output_tokens) &&
             (e->fault ? cJSON_AddStringToObject(o, "fault", e->fault) != NULL
                       : cJSON_AddNullToObject(o, "fault") != NULL) &&
             (!e->body || cJSON_AddStringToObject(o, "body", e->body) != NULL);
    if (!ok || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return -1;
    }
    return 0;
}

char *sim_log_json(const sim_log *l, int64_t since)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    if (!root || !arr || !cJSON_AddItemToObject(root, "requests", arr)) {
        cJSON_Delete(root);
        cJSON_Delete(arr);
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++) {
        const sim_log_entry *e = &at(l, i)->e;
        if (e->n > since && add_entry(arr, e)) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    if (cJSON_AddNumberToObject(root, "count", (double)l->total))
        return sim_json_print(root);
    cJSON_Delete(root);
    return NULL;
}
