/* The state of one call, shared by the files of the call pipeline: call.c (admission, routes,
 * finishing), call_http.c (one HTTP attempt) and call_account.c (cost, statistics, log). */
#ifndef NYX_CALL_INTERNAL_H
#define NYX_CALL_INTERNAL_H

#include "batch.h"
#include "budget.h"
#include "cache/policy.h"
#include "call.h"
#include "claude/body.h"
#include "claude/headers.h"
#include "claude/sse.h"
#include "cost/models.h"
#include "engine.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>

typedef void (*call_attempt_fn)(api_call *c, int status, error_info *err);

/* What a call holds while a budget applies to it: made only then (reserve_budget), since most
 * calls have none and these are most of a call's size. */
typedef struct call_budget {
    budget_scopes scopes;
    budget_request req;
    char reservation[STORE_RESERVATION_ID_SIZE];
} call_budget;

struct api_call {
    nyx_engine *e;
    call_spec spec;
    call_done_fn done;
    void *ud;
    api_call *prev, *next;   /* the engine's in-flight list */

    /* routes: the requested model, then each fallback */
    size_t route, nroutes;
    const model_info *model;  /* of the current route, NULL when unknown */
    claude_body parts;       /* request JSON for the current route, in pieces */
    char *body;              /* the same in one piece while something needs it (call_body):
                                body_room.s, taken from the engine's buffers and given back */
    textbuf body_room;
    size_t body_len;
    cache_expect expect;
    int64_t est_input_tokens;
    char *route_errors;      /* why earlier routes failed (ROUTE_ERRORS_SIZE bytes, made at the
                                first failure of a call with fallbacks) */
    call_budget *budget;     /* NULL until a budget applies */
    int reserved;            /* a reservation (budget->reservation) is held */
    double batch_worst;      /* a batch member: its worst case, held by its batch's one
                                reservation (batch.c) instead of one of its own */
    int batch_result;        /* its outcome is its batch's result for it (batch.c): logged under
                                the batch and custom id, exactly once across processes */
    int batch_detached;      /* stopped waiting while the API holds its durable batch: not
                                logged here; whoever picks the batch up logs its result (batch.c) */
    int awaiting_store;      /* a reservation or a cached answer is on its way: the call
                                outlives it */
    int use_response_cache;
    char response_key[33];

    /* the current attempt */
    CURL *easy;
    call_attempt_fn attempt_done;
    loop_timer *timer;       /* backoff or a rate-limit wait */
    claude_headers headers;
    claude_stream *stream;
    textbuf reply;           /* the body arriving, in a buffer from the engine's (e->buffers) */
    error_info *attempt_err;  /* set by a callback that aborts the transfer, made only then */
    int text_delivered;
    int stream_chosen;       /* sent as a stream that the caller did not ask for (call_prepare):
                                its answer may outlast an attempt's timeout; nothing of it
                                reaches the caller's stream hooks */
    int retries_on_route;
    uint64_t breaker_ticket;  /* the breaker judges outcomes in send order */
    int64_t input_reserved;  /* taken from the input-token bucket: the uncached estimate */
    int64_t output_reserved; /* taken from the output-token bucket */
    int requests_sent;       /* by this attempt's transfer: libcurl may send it again */
    int socket_errno;        /* this attempt could not open a socket for want of resources */
    double socket_opened_at; /* when this attempt opened a connection's socket; 0: none */
    uint64_t connections_mark; /* loop_connections_mark as this attempt began */
    loop_timer *queue_timer;   /* its deadline, while it may wait in curl for a connection */
    loop_timer *silence_timer; /* a stream bounded by silence (call_http.c): when it may end */
    double last_byte;          /* when such a stream last moved a byte, sent or received (its start at first) */
    long long bytes_sent;      /* of its request, as libcurl last said: a slow upload is not silence */
    int silenced;              /* it ended for want of a byte: its timeout names that limit */
    double waited;           /* seconds of the call's timeout spent waiting on rate limits
                                and retry-after; the timeout bounds it */
    double attempt_started;
    uint64_t rng;
    textbuf attempts;        /* the attempts as a JSON array (call_record_attempt) */
    struct debug_capture *debug; /* debug.c: the raw response, while NYX_DEBUG is on */
    struct curl_slist *req_headers; /* the engine's headers with the call's own (net.c) */
    char errbuf[CURL_ERROR_SIZE];   /* curl's words for a failed transfer */

    double started, first_byte;
    int finished;
    int cancel_deferred;     /* cancel asked inside curl's callbacks: done after perform */
    char *cancel_reason;     /* a cancel waiting for curl to return: why (NULL: not said) */
    int released;            /* its owner let it go while an answer was on its way */
    int logging;             /* finished, its record not yet committed (on e->logging) */
    double logged_at;        /* when its record was first written */
    /* What the final reply holds, read once from its content (call_account) for the
     * statistics and every build of its record: 1 when more than text, and its tool calls. */
    int reply_has_blocks;
    int64_t reply_tool_calls;
    /* What earlier attempts of the call were billed for: a response that began (its usage
     * read) and broke, and was tried again (call_keep_billed); call_account adds it to the
     * final attempt's. */
    claude_usage billed_before;
    call_cost cost_before;
    int billed_before_unpriced; /* one of them had no price: the call's cost is unknown */
    call_outcome result;
};

/* call_http.c */
/* Starts an attempt with the current body; done runs from the loop with err NULL on
 * success. Returns -1 when the transfer cannot start. */
int call_http_start(api_call *c, call_attempt_fn done);
void call_http_reset(api_call *c);
void call_http_abort(api_call *c);

/* call_account.c */
void call_account(api_call *c);
/* Before a failed attempt's response is let go for another attempt or route: the usage it
 * read (a stream's message_start, a last message_delta), which the API billed, is kept, priced
 * at the model that answered, for the call's cost, record and statistics. */
void call_keep_billed(api_call *c);
/* Checks the route's model (c->model) against the request before sending (call_model.c);
 * gives the one-time notices. Returns 0, or -1 with err filled. */
int call_check_model(api_call *c, error_info *err);
/* After an answer: a marked prefix that wrote and read nothing was under the model's
 * minimum; an unconfirmed minimum is raised and kept in the database (call_model.c). */
void call_learn_min_cache(api_call *c);
/* A learned minimum read back from system_config: applied, returns 1; not such a key: 0. */
int call_learned_setting(nyx_engine *e, const char *key, const char *value);
/* Writes the call's record, settling its reservation, then calls logged (before returning
 * when the store answers at once). A record the store refuses waits in memory
 * (pending_log.c); logged runs either way. */
void call_log(api_call *c, void (*logged)(api_call *c));
void call_record_attempt(api_call *c, int status, const error_info *err);
/* libcurl sent the attempt's request again on a fresh connection (the reused one closed
 * before any response): the first send is an attempt of its own, counted and logged. */
void call_request_resent(api_call *c);

/* call.c */
/* The call's own error (c->result.err), made when it first needs one; NULL out of memory. */
error_info *call_result_error(api_call *c);
/* The request body in one piece (c->body), made from c->parts if it is not there; NULL when
 * out of memory. call_body_drop lets the piece go (c->parts stays). */
const char *call_body(api_call *c);
void call_body_drop(api_call *c);
/* Whether the call has a body to send (body_len bytes). */
int call_has_body(const api_call *c);
/* Writes the body (body_len bytes, then a NUL) at out, from the piece when there is one, else
 * from the parts without making one: a batch's submission takes every member's body at once,
 * and a flat copy of each, all alive until the last is written, doubled its peak memory.
 * Returns 0, or -1 when the call holds no body. */
int call_body_write(const api_call *c, char *out);
const char *call_route_model(const api_call *c);
/* A batch member's outcome (batch.c): c->result.resp holds the message when err is NULL. */
void call_batch_result(api_call *c, int status, error_info *err);
/* 1 when the request's cache marks ask only for the 1-hour TTL (how unbroken-down cache
 * writes are priced). */
int call_asked_1h(const claude_request *req);

#endif
