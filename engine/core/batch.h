/* Message Batches: calls that go to the API as one batch at half price instead of one request
 * each. Every request of a batch is an ordinary call (call.c) that carries the batch in its
 * spec: it is admitted as any call (its worst case reserved in every budget, at batch prices),
 * then, instead of sending, joins the batch. Once every member has joined, the batch is
 * submitted; the engine polls it on a timer in its loop (backing off to a minute) and hands
 * each member its own result, matched by custom id, to be accounted and logged as the call's
 * answer. A member refused before it joined (a budget, a bad model) refuses the batch whole:
 * nothing is sent and every member fails with that error. */
#ifndef NYX_BATCH_H
#define NYX_BATCH_H

#include <stddef.h>

#include "claude/types.h"

typedef struct nyx_engine nyx_engine;
typedef struct nyx_call nyx_call;
typedef struct nyx_batch nyx_batch;

#define BATCH_POLL_FIRST_S 0.25
#define BATCH_POLL_MAX_S 60.0

/* A batch that will hold `expected` calls; name is for the log (may be NULL). One reference
 * for the caller. NULL when out of memory. */
nyx_batch *batch_new(nyx_engine *e, const char *name, size_t expected);
/* partial: a member refused before it joined (its budget) fails alone and the batch goes out
 * with the members that fit, instead of being refused whole. */
void batch_set_partial(nyx_batch *b, int partial);
void batch_ref(nyx_batch *b);
void batch_unref(nyx_batch *b);

/* Counts per outcome (processing, succeeded, errored, canceled, expired), the API's
 * processing_status ("preparing" before submission, "refused" when refused whole) and its
 * id ("" before submission). */
typedef struct batch_status {
    const char *processing_status;
    const char *id;
    long counts[5];
    const char *error;  /* why the batch failed as a whole, or NULL */
} batch_status;
void batch_get_status(const nyx_batch *b, batch_status *st);

/* Asks the API to cancel the batch (requests it has not processed end "batch_canceled"); before
 * submission, cancels its members. Returns 0, or -1 when nothing can be cancelled. */
int batch_cancel(nyx_batch *b);

/* call.c: a member's reservation is held and its body built: it waits for its result. */
void batch_join(nyx_batch *b, nyx_call *c);
/* call.c: a member finished before it joined (refused) or while it waited (cancelled). */
void batch_member_finished(nyx_batch *b, nyx_call *c, const nyx_error *err);

/* One request to the batch endpoints (list, a batch, its results, cancel), through the loop
 * with the engine's endpoint, credentials and network settings: method "GET" or "POST", path
 * after /v1/messages/batches ("" or "/ID..."). done runs once from the loop: ok when the
 * status is 2xx, else err (the API's error). batch_api_cancel stops it without calling done.
 * Returns NULL when the transfer cannot start. */
typedef void (*batch_api_fn)(void *ud, int ok, long status, const char *body, size_t len, const nyx_error *err);
nyx_batch *batch_api(nyx_engine *e, const char *method, const char *path, batch_api_fn done, void *ud);
void batch_api_cancel(nyx_batch *b);

/* Whether s is a custom id the API accepts (^[a-zA-Z0-9_-]{1,64}$). */
int batch_custom_id_valid(const char *s);

#endif
