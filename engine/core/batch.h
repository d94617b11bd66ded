/* Message Batches: calls that go to the API as one batch at half price instead of one request
 * each. Every request of a batch is an ordinary call (call.c) that carries the batch in its
 * spec: it is admitted as any call, then, instead of sending, joins the batch; its worst case
 * at batch prices joins the batch's one reservation per set of budget scopes, made once every
 * member has joined (with partial, each member reserves its own). Once every member has joined, the batch is
 * submitted; the engine polls it on a timer in its loop (backing off to a minute, no longer
 * than the batch's expiry and a margin, however its polls fail) and hands
 * each member its own result, matched by custom id, to be accounted and logged as the call's
 * answer. A member refused before it joined (a budget, a bad model) refuses the batch whole:
 * nothing is sent and every member fails with that error. */
#ifndef NYX_BATCH_H
#define NYX_BATCH_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "call.h"
#include "claude/types.h"
#include "cost/cost.h"
#include "cost/models.h"

typedef struct nyx_engine nyx_engine;
typedef struct api_call api_call;
typedef struct batch_job batch_job;

#define BATCH_POLL_FIRST_S 0.25
#define BATCH_POLL_MAX_S 60.0
/* The API ends a batch at its expires_at, this long after it was created; polls that cannot
 * see it end stop that long and a margin of BATCH_EXPIRY_MARGIN_S a lifetime after (batch.c). */
#define BATCH_LIFETIME_S 86400.0
#define BATCH_EXPIRY_MARGIN_S 300.0
/* The API's limits on one batch (nyx.batch splits larger ones). */
#define BATCH_MAX_REQUESTS 100000
#define BATCH_MAX_BYTES ((size_t)256 << 20)

/* A batch that will hold `expected` calls; name is for the log (may be NULL). One reference
 * for the caller. NULL when out of memory. */
batch_job *batch_new(nyx_engine *e, const char *name, size_t expected);
/* partial: a member refused before it joined (its budget) fails alone and the batch goes out
 * with the members that fit, instead of being refused whole. */
void batch_set_partial(batch_job *b, int partial);
/* The largest submission (request body bytes) sent; over it the batch fails whole with
 * invalid_argument before anything is sent. Default BATCH_MAX_BYTES. */
void batch_set_max_bytes(batch_job *b, size_t max_bytes);
/* b (new, no member yet) is a part of leader's batch, split over the API's limits: it carries
 * leader's id, and the parts are recorded together, once each is ready or refused, before any
 * is sent; a pickup by that id or any part's API id covers every part. 0, or -1 (not allowed:
 * leader is itself a part, or has gone; out of memory). */
int batch_set_leader(batch_job *b, batch_job *leader);
void batch_ref(batch_job *b);
void batch_unref(batch_job *b);

/* Counts per outcome (processing, succeeded, errored, canceled, expired), the API's
 * processing_status ("preparing" before submission, "refused" when refused whole) and its
 * id ("" before submission). */
typedef struct batch_status {
    const char *processing_status;
    const char *id;
    const char *local_id; /* nyx's id (recorded in the database before submission) */
    long counts[5];
    const char *error;  /* why the batch failed as a whole, or NULL */
} batch_status;
void batch_get_status(const batch_job *b, batch_status *st);

/* Asks the API to cancel the batch (requests it has not processed end "batch_canceled"); before
 * submission, cancels its members. Returns 0, or -1 when nothing can be cancelled. */
int batch_cancel(batch_job *b);

/* call.c: 1 when the batch reserves for its members at once (one reservation per set of
 * budget scopes, once every member has joined; not with partial, whose members reserve each
 * their own so that those that fit go): a member then only tells its worst case
 * (c->batch_worst). */
int batch_holds_budgets(const batch_job *b);
/* call.c: a member's record is written (or kept for later): once every result is, the batch's
 * reservations are settled at what the results cost (store_batch_settle). */
void batch_member_logged(batch_job *b, api_call *c);
/* The reservations of batch id (nyx's) whose results are all logged, settled (a pickup's last
 * step); 0, or -1 with err. */
int batch_settle_logged(nyx_engine *e, const char *id, error_info *err);

/* call.c: a member's reservation is held and its body built: it waits for its result. */
void batch_join(batch_job *b, api_call *c);
/* call.c: a member finished before it joined (refused) or while it waited (cancelled). A
 * member that stops waiting for a batch the database holds and the API has accepted is
 * detached (c->batch_detached): the batch goes on, its reservation stays with it, nothing is
 * logged for it here and its result is logged once by whoever picks the batch up; only
 * batch_cancel cancels a batch. */
void batch_member_finished(batch_job *b, api_call *c, const error_info *err);

/* One request to the batch endpoints (list, a batch, its results, cancel), through the loop
 * with the engine's endpoint, credentials and network settings: method "GET" or "POST", path
 * after /v1/messages/batches ("" or "/ID..."). done runs once from the loop: ok when the
 * status is 2xx, else err (the API's error). batch_api_cancel stops it without calling done.
 * Returns NULL when the transfer cannot start. */
typedef void (*batch_api_fn)(void *ud, int ok, long status, const char *body, size_t len, const error_info *err);
batch_job *batch_api(nyx_engine *e, const char *method, const char *path, batch_api_fn done, void *ud);
void batch_api_cancel(batch_job *b);

/* nyx's id of the batch once it is recorded in the database (before it is submitted), else
 * NULL: its results are logged under it (store.h, Message Batches). */
const char *batch_recorded_id(const batch_job *b);

/* A batch result's price at standard prices (the same usage, the standard tier), for `nyx stats`'
 * saving: r->has_standard_cost and r->standard_cost_usd set when u's tier is "batch" and m
 * has prices. */
void batch_standard_cost(const model_info *m, const claude_usage *u, double at, int asked_1h, call_outcome *r);

/* ---- picking a batch up (batch_pickup.c) ----
 * Another process, or this one after a restart, reads a batch's requests from the database,
 * asks the API for its results and logs each as its request's interaction exactly once. */
typedef struct batch_row {
    char *batch_id, *name, *provider_id, *custom_id, *session, *agent, *template_name, *model,
        *reservation_id, *interaction_id; /* interaction_id: its result's, once logged */
    int part, template_version, write_1h, logged;
    double reserved_usd;
    double created_at; /* the batch's creation, wall clock seconds */
} batch_row;

/* The requests of the batch whose id (nyx's, or the API's id of a part) is id, as
 * store_batch_requests() gives them: *rows malloc'd (batch_rows_free), *n 0 for an id the
 * database does not know. Returns 0, or -1 with err (no database: store_error). */
int batch_rows_load(nyx_engine *e, const char *id, batch_row **rows, size_t *n, error_info *err);
void batch_rows_free(batch_row *rows, size_t n);

/* Logs one line of the batch's results file ({custom_id, result}) as row's interaction, at the
 * price the API bills (usage.service_tier "batch" on the model table); a result logged already
 * (by any process) is left as it is. Its reservation is settled by batch_settle_logged once
 * every result it covers is logged.
 * out receives what nyx.call would give: status OK with the message and its cost, or the error,
 * written in out_err (out->err points at it).
 * Returns 0, or -1 with err when the line is not a result for row or the database refused. */
int batch_record_result(nyx_engine *e, const batch_row *row, const char *line, size_t len,
                        call_outcome *out, error_info *out_err, error_info *err);

#endif
