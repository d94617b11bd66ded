#define _POSIX_C_SOURCE 200809L
#include "pending_log.h"

#include "base/clock.h"
#include "base/text.h"
#include "nyx.h"
#include "pending_spill.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_SECONDS 0.5

typedef struct pending {
    interaction_rec it;      /* every string owned */
    char reservation[STORE_RESERVATION_ID_SIZE];
    int has_reservation;
    double actual_usd;
    pending_done_fn done; /* strict: the call that waits for this record, or NULL */
    void *ud;
    double deadline;
} pending;

struct pending_log {
    pending *items;
    size_t n, cap;
    size_t waiters;    /* items a caller waits for (strict durability) */
    int timer_busy;    /* the retry timer keeps the loop busy: someone waits for it */
};


static void free_item(pending *p)
{
    interaction_rec *it = &p->it;
    char *strings[] = {(char *)it->id, (char *)it->session, (char *)it->agent, (char *)it->template_name,
                       (char *)it->request_id, (char *)it->model_requested, (char *)it->model_served,
                       (char *)it->provider, (char *)it->attempts_json, (char *)it->status,
                       (char *)it->error_type, (char *)it->error_message, (char *)it->stop_reason,
                       (char *)it->prompt_text, (char *)it->response_text, (char *)it->service_tier,
                       (char *)it->batch_id, (char *)it->custom_id};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
}

static int copy_item(pending *p, const interaction_rec *src)
{
    interaction_rec *it = &p->it;
    *it = *src;
    it->id = text_dup(src->id);
    it->session = text_dup(src->session);
    it->agent = text_dup(src->agent);
    it->template_name = text_dup(src->template_name);
    it->request_id = text_dup(src->request_id);
    it->model_requested = text_dup(src->model_requested);
    it->model_served = text_dup(src->model_served);
    it->provider = text_dup(src->provider);
    it->attempts_json = text_dup(src->attempts_json);
    it->status = text_dup(src->status);
    it->error_type = text_dup(src->error_type);
    it->error_message = text_dup(src->error_message);
    it->stop_reason = text_dup(src->stop_reason);
    it->prompt_text = text_dup(src->prompt_text);
    it->prompt_spans = NULL; /* the caller's, gone when it returns */
    it->nprompt_spans = 0;
    it->response_text = text_dup(src->response_text);
    it->service_tier = text_dup(src->service_tier);
    it->batch_id = text_dup(src->batch_id);
    it->custom_id = text_dup(src->custom_id);
    if (!it->id || !it->status) {
        free_item(p);
        return -1;
    }
    return 0;
}

static void retry_later(void *ud);

/* Logs through the owner; once_key: only the first time this key is seen. */
static void slog(storage *s, int level, const char *once_key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void slog(storage *s, int level, const char *once_key, const char *fmt, ...)
{
    if (!s->owner.log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->owner.log(s->owner.ud, level, once_key, msg);
}

/* The retry timer is housekeeping (it must not keep a finished script's loop alive), unless
 * a call waits for it: then the loop has work until the record is written or given up. */
static void schedule(storage *s)
{
    struct pending_log *q = s->pending;
    int busy = q && q->waiters > 0;
    if (!s->loop)
        return;
    if (s->pending_timer && busy && !q->timer_busy) {
        loop_timer_cancel(s->loop, s->pending_timer);
        s->pending_timer = NULL;
    }
    if (s->pending_timer)
        return;
    s->pending_timer = busy ? loop_timer_add(s->loop, RETRY_SECONDS, retry_later, s)
                            : loop_timer_add_background(s->loop, RETRY_SECONDS, retry_later, s);
    if (q)
        q->timer_busy = busy;
}

static pending *add(storage *s, const interaction_rec *it, const char *reservation, double actual_usd,
                    const char *why);

/* Strict durability: a record refused for a reason waiting will not cure stops new calls
 * (storage.h's refusing) until the waiting records are written. Not one refused for its own
 * values (err->refused: text PostgreSQL will not take, a cost that is no number): the database
 * takes the others, and the next write of the queue drops that one. */
static void note_refusal(storage *s, const error_info *err)
{
    if (!err || err->retryable || err->refused || s->cfg->durability != DURABILITY_STRICT)
        return;
    s->refusing = 1;
    snprintf(s->refusing_why, sizeof s->refusing_why, "%.200s", err->message);
}

void pending_log_add(storage *s, const interaction_rec *it, const char *reservation, double actual_usd,
                     const char *why)
{
    add(s, it, reservation, actual_usd, why);
}

void pending_log_add_waiting(storage *s, const interaction_rec *it, const char *reservation,
                             double actual_usd, const error_info *why, double deadline, pending_done_fn done,
                             void *ud)
{
    note_refusal(s, why);
    pending *p = add(s, it, reservation, actual_usd, why->message);
    if (p) {
        p->done = done;
        p->ud = ud;
        p->deadline = why->retryable ? deadline : 0; /* waiting will not cure the others */
        s->pending->waiters++;
        schedule(s);
        return;
    }
    /* Not even kept (the queue is full, or memory is out): the caller hears it now. */
    error_info err;
    error_clear(&err);
    error_set(&err, "store_error", 0, "the record of this call could not be kept to be written later (%s)",
                  why->message);
    done(ud, &err);
}

static pending *add(storage *s, const interaction_rec *it, const char *reservation, double actual_usd,
                    const char *why)
{
    if (!s->degraded) {
        s->degraded = 1;
        slog(s, NYX_LOG_WARN, NULL, "nyx: storage failed (%s); %s", why,
                   s->cfg->durability == DURABILITY_STRICT
                       ? "records wait in memory until it is back, and results wait for their records "
                         "(NYX_DURABILITY=strict)"
                       : "calls go on and their records wait in memory until it is back");
    }
    struct pending_log *q = s->pending;
    if (!q && !(q = s->pending = calloc(1, sizeof *q))) {
        s->lost_interactions++;
        return NULL;
    }
    if (q->n == q->cap) {
        size_t max = s->cfg->pending_max > 0 ? (size_t)s->cfg->pending_max : 1;
        size_t cap = q->cap ? (q->cap * 2 < max ? q->cap * 2 : max) : (max < 64 ? max : 64);
        pending *items = q->n < max ? realloc(q->items, cap * sizeof *items) : NULL;
        if (!items) {
            s->lost_interactions++;
            slog(s, NYX_LOG_WARN, "pending-overflow", "nyx: the queue of unwritten records is full; records are being lost");
            return NULL;
        }
        q->items = items;
        q->cap = cap;
    }
    pending *p = &q->items[q->n];
    memset(p, 0, sizeof *p);
    if (copy_item(p, it) != 0) {
        s->lost_interactions++;
        return NULL;
    }
    if (reservation) {
        strncpy(p->reservation, reservation, sizeof p->reservation - 1);
        p->has_reservation = 1;
    }
    p->actual_usd = actual_usd;
    q->n++;
    schedule(s);
    return p;
}

/* Tells the callers that waited (all of them, or those past their deadline) how it went.
 * The answers are gathered first and given after: a caller may add records as it hears. */
typedef struct waiter {
    pending_done_fn done;
    void *ud;
    int late;
} waiter;

/* What a caller that waited hears of its record's fate when it is not committed. */
#define FATE_WAITS "it waits in memory to be written later (NYX_DURABILITY=degrade lets results through meanwhile)"

static void answer_waiting_in(struct pending_log *q, pending *items, size_t count, const error_info *err, int all,
                              const char *fate)
{
    double now = clock_now_s();
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += items[i].done != NULL;
    waiter *w = n ? calloc(n, sizeof *w) : NULL;
    if (!w)
        return; /* nobody waits (or no memory: they hear it at the next try) */
    size_t k = 0;
    for (size_t i = 0; i < count && k < n; i++) {
        pending *p = &items[i];
        if (!p->done || (!all && err && now < p->deadline))
            continue;
        w[k++] = (waiter){p->done, p->ud, p->deadline > 0 && now >= p->deadline};
        p->done = NULL;
        if (q && q->waiters > 0)
            q->waiters--;
    }
    for (size_t i = 0; i < k; i++) {
        if (!err) {
            w[i].done(w[i].ud, NULL);
            continue;
        }
        error_info e2;
        error_clear(&e2);
        error_set(&e2, "store_error", 0, "the record of this call could not be committed%s (%s); %s",
                  w[i].late && err->retryable ? " within its timeout" : "", err->message, fate);
        w[i].done(w[i].ud, &e2);
    }
    free(w);
}

static void answer_waiting(storage *s, const error_info *err, int all)
{
    if (s->pending)
        answer_waiting_in(s->pending, s->pending->items, s->pending->n, err, all, FATE_WAITS);
}

/* A try failed: the callers past their deadline hear it, and all of them when waiting will
 * not help (a read-only or corrupt database). Returns what still waits. */
static size_t unwritten(storage *s, const error_info *err)
{
    note_refusal(s, err);
    answer_waiting(s, err, !err->retryable);
    return s->pending ? s->pending->n : 0;
}

/* Takes item i out of the queue as lost: its caller hears why, its reservation is settled at
 * what the call cost (the money was spent whether or not its record is kept), and the loss is
 * counted, so the run reports it (NYX_DURABILITY, "records_lost"). */
static void drop_refused(storage *s, size_t i, const error_info *why)
{
    struct pending_log *q = s->pending;
    pending *p = &q->items[i];
    error_info ignored;
    if (p->has_reservation)
        store_budget_settle(s->db, p->reservation, p->actual_usd, &ignored);
    s->lost_interactions++;
    slog(s, NYX_LOG_ERROR, NULL, "nyx: the database refuses a record for good and it is lost (%s)", why->message);
    pending_done_fn done = p->done;
    void *ud = p->ud;
    if (done && q->waiters > 0)
        q->waiters--;
    free_item(p);
    memmove(p, p + 1, (q->n - i - 1) * sizeof *p);
    q->n--;
    if (done) { /* last: the caller may add records as it hears */
        error_info e2;
        error_clear(&e2);
        error_set(&e2, "store_error", 0, "the record of this call is refused by the database and lost (%s)",
                  why->message);
        done(ud, &e2);
    }
}

/* Writes the waiting records one at a time, outside a batch, dropping those the database
 * refuses for good. Returns how many it dropped (0: every record is now written), or -1 with
 * err when a write failed for another reason. */
static long drop_refused_one_by_one(storage *s, error_info *err)
{
    struct pending_log *q = s->pending;
    long dropped = 0;
    for (size_t i = 0; i < q->n;) {
        pending *p = &q->items[i];
        error_clear(err);
        if (store_log_interaction_settle(s->db, &p->it, p->has_reservation ? p->reservation : NULL,
                                         p->actual_usd, err) == 0) {
            i++;
        } else if (err->refused) {
            drop_refused(s, i, err);
            dropped++;
        } else {
            return -1;
        }
    }
    error_clear(err);
    return dropped;
}

size_t pending_log_flush(storage *s)
{
    struct pending_log *q = s->pending;
    if (!q || q->n == 0)
        return 0;
    error_info err;
    error_clear(&err);
    if (!s->db && s->owner.reopen(s->owner.ud, &err) != 0) {
        err.retryable = 1; /* a file that cannot be opened now may be later */
        return unwritten(s, &err);
    }
again:
    if (store_batch_begin(s->db, &err) != 0)
        return unwritten(s, &err);
    for (size_t i = 0; i < q->n; i++) {
        pending *p = &q->items[i];
        if (store_log_interaction_settle(s->db, &p->it, p->has_reservation ? p->reservation : NULL,
                                         p->actual_usd, &err) != 0) {
            /* All of it waits for the next try (writing a record twice is harmless: by id). The
             * batch is closed, or every later try would be refused as a second batch. */
            error_info ignored;
            store_batch_rollback(s->db, &ignored);
            if (!err.refused)
                return unwritten(s, &err);
            /* The database refuses this record for good: it goes, and the others are written
             * without it, instead of waiting behind it for ever. */
            drop_refused(s, i, &err);
            if (q->n == 0)
                break;
            error_clear(&err);
            goto again;
        }
    }
    if (q->n > 0 && store_batch_commit(s->db, &err) != 0) {
        /* PostgreSQL reports a write refused in a batch only at its commit, without saying
         * which: the records are written one by one to find it (the others again, which a
         * record's id makes harmless), and the rest in a batch once it is gone. */
        long dropped = err.refused ? drop_refused_one_by_one(s, &err) : -1;
        if (dropped < 0)
            return unwritten(s, &err);
        if (dropped > 0 && q->n > 0)
            goto again;
    }
    size_t written = q->n;
    for (size_t i = 0; i < q->n; i++)
        free_item(&q->items[i]);
    /* The callers waiting for these records hear it once they are gone from the queue. */
    pending *items = q->items;
    q->items = NULL;
    q->n = q->cap = 0;
    q->waiters = 0;
    s->degraded = 0;
    s->refusing = 0;
    slog(s, NYX_LOG_INFO, NULL, "nyx: storage is back; %zu waiting records written", written);
    answer_waiting_in(NULL, items, written, NULL, 1, NULL);
    free(items);
    return s->pending ? s->pending->n : 0;
}

static void retry_later(void *ud)
{
    storage *s = ud;
    s->pending_timer = NULL;
    if (pending_log_flush(s) > 0)
        schedule(s);
}

/* What still waits at close, items [from, q->n), goes to the spill file of the database
 * (pending_spill.h) for the next engine that opens it: 0 with its path in where, or -1 (said,
 * why in where) when it cannot, and the records are lost. */
static int spill(storage *s, size_t from, char *where, size_t size)
{
    struct pending_log *q = s->pending;
    size_t n = q->n - from;
    const char *db = config_db(s->cfg);
    error_info err;
    error_clear(&err);
    spill_place place;
    if (!storage_spills(s, db) || pending_spill_place(db, s->cfg->spill_dir, &place) != 0) {
        snprintf(where, size, "%s",
                 !store_uri_is_pg(db) ? "only a database file or PostgreSQL keeps records for later"
                 : s->cfg->spill_dir  ? "no spill file can be named for its URI"
                                      : "no spill directory: NYX_SPILL_DIR and HOME are unset");
        slog(s, NYX_LOG_ERROR, NULL, "nyx: %zu interaction records could not be written and are lost (%s)", n,
             where);
        return -1;
    }
    spill_item *items = calloc(n, sizeof *items);
    if (!items)
        error_set(&err, "store_error", 0, "out of memory");
    for (size_t i = 0; items && i < n; i++) {
        pending *p = &q->items[from + i];
        items[i] = (spill_item){&p->it, p->has_reservation ? p->reservation : NULL, p->actual_usd};
    }
    int rc = items ? pending_spill_write(&place, items, n, s->owner.filter, s->owner.ud, &err) : -1;
    free(items);
    if (rc != 0) {
        snprintf(where, size, "%s", err.message);
        slog(s, NYX_LOG_ERROR, NULL, "nyx: %zu interaction records could not be written and are lost (%s)", n,
             err.message);
        return -1;
    }
    snprintf(where, size, "%s", place.path);
    slog(s, NYX_LOG_WARN, NULL,
         "nyx: %zu interaction records wait in %s; the next engine to open the database writes them", n,
         place.path);
    return 0;
}

void pending_log_close(storage *s)
{
    struct pending_log *q = s->pending;
    if (s->pending_timer) {
        loop_timer_cancel(s->loop, s->pending_timer);
        s->pending_timer = NULL;
    }
    if (!q)
        return;
    if (pending_log_flush(s) > 0) {
        error_info err;
        error_clear(&err);
        error_set(&err, "store_error", 0, "the engine closed before the database took it");
        /* Spilled first, so that a caller that waited hears where its record went; a caller may
         * add records as it hears, and those are spilled in their turn. */
        for (size_t from = 0; from < q->n;) {
            size_t to = q->n;
            char where[PENDING_SPILL_PATH_SIZE + 64], fate[sizeof where + 80];
            if (spill(s, from, where, sizeof where) == 0) {
                snprintf(fate, sizeof fate, "it waits in %s for the next engine that opens the database", where);
            } else {
                s->lost_interactions += (int64_t)(to - from);
                snprintf(fate, sizeof fate, "it is lost (%s)", where);
            }
            answer_waiting_in(q, q->items + from, to - from, &err, 1, fate);
            from = to;
        }
        for (size_t i = 0; i < q->n; i++)
            free_item(&q->items[i]);
    }
    if (s->pending_timer) { /* set again by a record added as its caller heard */
        loop_timer_cancel(s->loop, s->pending_timer);
        s->pending_timer = NULL;
    }
    free(q->items);
    free(q);
    s->pending = NULL;
}
