/* The Claude API simulator: an HTTP server on 127.0.0.1 that answers POST /v1/messages and
 * /v1/messages/count_tokens with the real API's caching, usage, error, streaming and
 * rate-limit semantics, plus /sim/... control endpoints that tests use to script faults and
 * inspect what reached the server. Everything in nyx is tested offline against it.
 *
 * Threads: the server runs its own threads (one per connection). The sim_models callbacks
 * are called from those threads, concurrently, without a lock held: they must be safe to
 * call from any thread (a read-only table is). */
#ifndef NYX_SIM_H
#define NYX_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "claude/types.h"

/* How the simulator learns model facts without depending on the cost module. */
typedef struct sim_models {
    /* Minimum cacheable prefix in tokens; -1 if the model is unknown (-> 404 not_found_error). */
    int64_t (*min_cache_tokens)(void *ud, const char *model);
    /* The id to report in "model" (resolves aliases); may return its input. NULL: report
     * the requested id. The returned string must stay valid while the server runs. */
    const char *(*canonical)(void *ud, const char *model);
    void *ud; /* passed to all three; must outlive the server */
    /* 1 when the model accepts a parameter ("temperature", "top_p", "top_k" at a non-default
     * value, "speed:fast", "thinking:adaptive|enabled|disabled"); 0 -> 400 as the API
     * answers. NULL: every model accepts everything. */
    int (*accepts)(void *ud, const char *model, const char *param);
} sim_models;

typedef struct sim_options {
    double ttft_ms;          /* time to first token (message_start is sent after it); default 0 */
    double token_ms;         /* per output token */
    int64_t rpm, itpm, otpm; /* per-model rate limits per minute; 0 = unlimited */
    uint64_t seed;           /* for probabilistic faults */
    const char *api_key;     /* required x-api-key; NULL = any non-empty key (copied at start) */
    size_t max_body;         /* 413 above it; 0 = 32 MiB */
    double batch_delay_ms;   /* a message batch's processing time, spread over its requests */
    double batch_expiry_ms;  /* unprocessed requests expire this long after submission; 0 = 24 h */
} sim_options;

/* Fills *o with the defaults: no latency, no limits, seed 0, any key, 32 MiB bodies. */
void sim_options_default(sim_options *o);

typedef struct sim_server sim_server;

/* Starts a simulator listening on 127.0.0.1.
 * Returns the server (stop it with sim_server_stop), or NULL with *err filled.
 *   models  model facts; the struct is copied, models->ud must outlive the server
 *   opt     options, copied; NULL = sim_options_default
 *   port    TCP port, 0 = an ephemeral port (read it with sim_server_port)
 *   err     failure detail written here */
sim_server *sim_server_start(const sim_models *models, const sim_options *opt, int port,
                             error_info *err);

/* The port the server listens on. */
int sim_server_port(const sim_server *s);

/* Stops the server and frees it. Returns promptly even while requests hang or stream:
 * those connections are closed without a complete response. NULL does nothing. */
void sim_server_stop(sim_server *s);

/* Adds fault rules, in the format of POST /sim/faults:
 *   {"faults":[{"fault":"overloaded","count":2,"model":"claude-x"}, ...]}
 * (a single rule object without the "faults" wrapper is accepted too).
 * Returns 0, or -1 with *err filled (nothing is added then).
 *   s     the server
 *   json  NUL-terminated JSON text
 *   err   failure detail written here */
int sim_add_faults_json(sim_server *s, const char *json, error_info *err);

/* The simulator's deterministic token count of a text: about one token per four characters
 * of English prose (words in pieces of up to 5 letters, each punctuation mark one token).
 * Message and block overheads are not included. */
int64_t sim_count_tokens(const char *text, size_t len);

#endif
