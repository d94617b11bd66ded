/* One call to the Messages API from start to finish: cache marks, request, attempts with
 * retries, parsing, cost, statistics, and the durable log, then the owner's callback. */
#ifndef NYX_CALL_H
#define NYX_CALL_H

#include "cache/stats.h"
#include "claude/types.h"
#include "cost/cost.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nyx_engine nyx_engine;
typedef struct api_call api_call;

typedef struct call_spec {
    claude_request req;        /* moved into the call by call_start */
    char *session;          /* owned, optional */
    char *agent;            /* owned, optional */
    char *template_name;    /* owned, optional */
    int template_version;
    int64_t thought;        /* 0 = none */
    int iteration;          /* its place in a tool loop (1, 2, ...); 0: not in one */
    double timeout_s;       /* <= 0: the engine's default */
    char *timeout_profile;  /* owned, optional: a named timeout (e.g. "council") */
    char **fallback;        /* owned, optional: models to try, in order, when one is down */
    size_t nfallback;
    char **headers;         /* owned, optional: "Name: value" lines this call adds (a gateway's
                               routing or auth), checked by net_check_header */
    size_t nheaders;
    struct batch_job *batch; /* owned reference, optional: sent as a request of this batch
                                (batch.h) instead of on its own */
    char *batch_custom_id;  /* owned: its custom_id in the batch */
    int cache_response;     /* response cache: -1 engine default, 0 off, 1 on (temperature 0
                               only), 2 on whatever the temperature */
    /* Streaming: on_start when the response begins, on_text for each text delta,
     * on_thinking for each thinking delta. */
    void (*on_start)(void *ud);
    void (*on_text)(void *ud, const char *text, size_t len);
    void (*on_thinking)(void *ud, const char *text, size_t len);
    void *stream_ud;
} call_spec;

typedef struct call_outcome {
    int status;             /* enum call_status */
    claude_response resp;      /* on a broken stream, text holds what arrived */
    error_info *err;         /* when status is not NYX_STATUS_OK, made then (a call that has
                                not failed holds none); read it with call_outcome_error */
    int has_cost;
    call_cost cost;
    int has_standard_cost;    /* a batch result: what the same usage costs at standard prices */
    double standard_cost_usd;
    int cache_hit;          /* the API reported cache_read_input_tokens > 0 */
    double ttfb_ms, latency_ms;
    int attempts;
    int route;              /* 0: the requested model served; n: the n-th fallback */
    int from_cache;         /* answered by the response cache: no request was sent */
    char interaction_id[48];
    char model_requested[128];
    char trace_id[33], span_id[17]; /* its OpenTelemetry span (otel.c), "" when not exported */
} call_outcome;

typedef void (*call_done_fn)(api_call *call, void *ud);

/* The longest finite timeout (seconds); infinity (math.huge, "inf") means none at all. */
#define NYX_TIMEOUT_MAX_S 1e6
/* Whether seconds is a timeout a call can have: > 0 and at most NYX_TIMEOUT_MAX_S, or
 * infinity. */
int call_timeout_valid(double seconds);

/* Resets spec to "nothing asked" (cache_response -1: the engine's default). */
void call_spec_init(call_spec *spec);
void call_spec_free(call_spec *spec);

/* Starts a call. On success the spec's contents belong to the call (the spec is reset) and
 * done runs exactly once, from the loop or from call_cancel. Returns NULL with err set when
 * the call cannot start (the spec is then still the caller's to free). */
api_call *call_start(nyx_engine *e, call_spec *spec, call_done_fn done, void *ud,
                     error_info *err);

/* What a call of a spec would send and may cost, before it is made (nyx.council's estimate). */
typedef struct call_bound {
    char model[128];          /* the model its first route goes to (defaults and template hints given) */
    int priced;               /* the model is in the table with its prices */
    size_t body_bytes;        /* its request body, as it would be sent */
    int64_t input_tokens;     /* the estimate of the body's tokens (what rate limits charge) */
    int64_t input_tokens_max; /* the most tokens the body may hold */
    int max_tokens;
    double worst_case_usd;    /* what a budget reserves for it; -1 when not priced */
} call_bound;

/* Bounds a call of spec without making it: the spec given its defaults and its request built
 * for its first route by what call_start runs (text checks, model checks, cache marks, the
 * body), and the worst case from what the budget reservation computes it from; at batch prices
 * when batch is set or the spec is of a batch. Nothing is sent, reserved or recorded. The spec
 * stays the caller's (its request holds the defaults and marks the call would have had).
 * Returns 0, or -1 with err: the error call_start would have failed with. */
int call_estimate(nyx_engine *e, call_spec *spec, int batch, call_bound *out, error_info *err);

/* Valid from the done callback until call_free. */
const call_outcome *call_result(const api_call *c);
/* The outcome's error: its own, or a cleared one when it has none (it succeeded), or an
 * out_of_memory error when a failure found no memory for its own. */
const error_info *call_outcome_error(const call_outcome *r);

/* Aborts the call: done runs now with status cancelled. Inside curl's callbacks (a stream
 * callback) nothing may end a transfer: the call stops receiving at once and is cancelled as
 * soon as curl returns (calls_cancel_deferred), done running then. */
void call_cancel(api_call *c, const char *reason);
/* Whether the call is asked to stop (a cancel waits for curl to return). */
int call_stopping(const api_call *c);
/* The loop's after_perform hook (ud: the engine): the cancels asked inside curl's callbacks. */
void calls_cancel_deferred(void *ud);

/* Frees a finished call. For a call still in flight, its owner gives it up: it is cancelled
 * without a callback and frees itself. */
void call_free(api_call *c);
/* Frees the memory of the calls let go and kept for the next (engine close). */
void call_idle_free(nyx_engine *e);

void calls_cancel_all(nyx_engine *e, const char *reason);
/* Cancels every call without calling its owner: for when the owners are gone. */
void calls_abandon_all(nyx_engine *e, const char *reason);

/* Commits the records of the calls finished since the last group commit, then lets their
 * owners see the results (the loop does it at the end of each turn). */
void call_log_flush(nyx_engine *e);
/* At close: the last group, then the group's memory. */
void call_log_close(nyx_engine *e);

/* One use of a template's version in template_usage (templates_call_finished): the same for a
 * call that finished in this process and for a batch result logged by whichever process picked
 * its batch up. name (may be "NAME@V", cut in place) and version as the call carried them;
 * returns the version credited, 0 when none was. */
int call_template_use(nyx_engine *e, char *name, int version, const call_outcome *r);

#endif
