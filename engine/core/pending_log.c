#define _POSIX_C_SOURCE 200809L
#include "pending_log.h"

#include "engine.h"

#include <stdlib.h>
#include <string.h>

#define PENDING_MAX 100000   /* about 100 MB at most of prompts and responses */
#define RETRY_SECONDS 0.5

typedef struct pending {
    nyx_interaction it;      /* every string owned */
    char reservation[STORE_RESERVATION_ID_SIZE];
    int has_reservation;
    double actual_usd;
} pending;

struct pending_log {
    pending *items;
    size_t n, cap;
};

static char *dup(const char *s) { return s ? strdup(s) : NULL; }

static void free_item(pending *p)
{
    nyx_interaction *it = &p->it;
    char *strings[] = {(char *)it->id, (char *)it->session, (char *)it->agent, (char *)it->template_name,
                       (char *)it->request_id, (char *)it->model_requested, (char *)it->model_served,
                       (char *)it->provider, (char *)it->attempts_json, (char *)it->status,
                       (char *)it->error_type, (char *)it->error_message, (char *)it->stop_reason,
                       (char *)it->prompt_text, (char *)it->response_text};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
}

static int copy_item(pending *p, const nyx_interaction *src)
{
    nyx_interaction *it = &p->it;
    *it = *src;
    it->id = dup(src->id);
    it->session = dup(src->session);
    it->agent = dup(src->agent);
    it->template_name = dup(src->template_name);
    it->request_id = dup(src->request_id);
    it->model_requested = dup(src->model_requested);
    it->model_served = dup(src->model_served);
    it->provider = dup(src->provider);
    it->attempts_json = dup(src->attempts_json);
    it->status = dup(src->status);
    it->error_type = dup(src->error_type);
    it->error_message = dup(src->error_message);
    it->stop_reason = dup(src->stop_reason);
    it->prompt_text = dup(src->prompt_text);
    it->response_text = dup(src->response_text);
    if (!it->id || !it->status) {
        free_item(p);
        return -1;
    }
    return 0;
}

static void retry_later(void *ud);

static void schedule(nyx_engine *e)
{
    if (!e->pending_timer && e->loop)
        e->pending_timer = loop_timer_add_background(e->loop, RETRY_SECONDS, retry_later, e);
}

void pending_log_add(nyx_engine *e, const nyx_interaction *it, const char *reservation, double actual_usd,
                     const char *why)
{
    if (!e->degraded) {
        e->degraded = 1;
        engine_log(e, NYX_LOG_WARN,
                   "nyx: storage failed (%s); calls go on and their records wait in memory until it is back",
                   why);
    }
    struct pending_log *q = e->pending;
    if (!q && !(q = e->pending = calloc(1, sizeof *q))) {
        e->lost_interactions++;
        return;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        pending *items = q->n < PENDING_MAX ? realloc(q->items, cap * sizeof *items) : NULL;
        if (!items) {
            e->lost_interactions++;
            engine_warn_once(e, "pending-overflow", "nyx: the queue of unwritten records is full; records are being lost");
            return;
        }
        q->items = items;
        q->cap = cap;
    }
    pending *p = &q->items[q->n];
    memset(p, 0, sizeof *p);
    if (copy_item(p, it) != 0) {
        e->lost_interactions++;
        return;
    }
    if (reservation) {
        strncpy(p->reservation, reservation, sizeof p->reservation - 1);
        p->has_reservation = 1;
    }
    p->actual_usd = actual_usd;
    q->n++;
    schedule(e);
}

size_t pending_log_flush(nyx_engine *e)
{
    struct pending_log *q = e->pending;
    if (!q || q->n == 0)
        return 0;
    if (!e->store && engine_open_store(e) != 0)
        return q->n;
    nyx_error err;
    nyx_error_clear(&err);
    if (store_batch_begin(e->store, &err) != 0)
        return q->n;
    for (size_t i = 0; i < q->n; i++) {
        pending *p = &q->items[i];
        if (store_log_interaction_settle(e->store, &p->it, p->has_reservation ? p->reservation : NULL,
                                         p->actual_usd, &err) != 0) {
            /* All of it waits for the next try (writing a record twice is harmless: by id). The
             * batch is closed, or every later try would be refused as a second batch. */
            nyx_error ignored;
            store_batch_rollback(e->store, &ignored);
            return q->n;
        }
    }
    if (store_batch_commit(e->store, &err) != 0)
        return q->n;
    size_t written = q->n;
    for (size_t i = 0; i < q->n; i++)
        free_item(&q->items[i]);
    q->n = 0;
    e->degraded = 0;
    engine_log(e, NYX_LOG_INFO, "nyx: storage is back; %zu waiting records written", written);
    return 0;
}

static void retry_later(void *ud)
{
    nyx_engine *e = ud;
    e->pending_timer = NULL;
    if (pending_log_flush(e) > 0)
        schedule(e);
}

void pending_log_close(nyx_engine *e)
{
    struct pending_log *q = e->pending;
    if (e->pending_timer) {
        loop_timer_cancel(e->loop, e->pending_timer);
        e->pending_timer = NULL;
    }
    if (!q)
        return;
    if (pending_log_flush(e) > 0) {
        e->lost_interactions += (int64_t)q->n;
        engine_log(e, NYX_LOG_ERROR, "nyx: %zu interaction records could not be written and are lost", q->n);
        for (size_t i = 0; i < q->n; i++)
            free_item(&q->items[i]);
    }
    free(q->items);
    free(q);
    e->pending = NULL;
}
