/* Client-side rate limits: three token buckets per key (requests, input tokens, output tokens
 * per minute), so calls wait in the engine's queue instead of drawing 429s from the API.
 * A key is a model id, or "agent:NAME" for a per-agent limit. The buckets are configured by the
 * user, tightened from the server's anthropic-ratelimit-* headers, and stopped by a 429's
 * retry-after (only the buckets it shows empty). The input bucket counts what the API counts
 * toward input tokens per minute: uncached input and cache writes, and cache reads only for
 * the models whose table entry says so (ratelimit_input_counted). A call takes its estimate
 * before it goes and settles both token buckets to its real usage when it ends.
 * No clock and no threads inside: every function that depends on time takes `now`, monotonic
 * seconds from the caller, so the arithmetic is exact under test. */
#ifndef NYX_RESILIENCE_RATELIMIT_H
#define NYX_RESILIENCE_RATELIMIT_H

#include <stdint.h>

#include "claude/headers.h"
#include "claude/types.h"
#include "cost/models.h"

typedef struct ratelimiter ratelimiter;

/* Creates an empty limiter: every key is unlimited until configured.
 * Returns the limiter (free with ratelimit_free()), or NULL when out of memory. */
ratelimiter *ratelimit_new(void);

/* Frees the limiter and every key; NULL does nothing. */
void ratelimit_free(ratelimiter *r);

/* Sets the per-minute limits of a key, creating it. A bucket refills continuously at
 * limit/60 per second up to a capacity of the limit; a new bucket starts full. On an existing
 * key, a bucket that was unlimited starts full and one that holds more than its new capacity is
 * cut to it. Limits learnt from the server stay in force: the lower one wins.
 * Returns 0, or -1 (nothing changed) when r or key is NULL, a limit is negative or not finite,
 * or memory runs out. */
int ratelimit_configure(ratelimiter *r,   /* the limiter */
                        const char *key,  /* model id or "agent:NAME"; copied */
                        double rpm,       /* requests per minute, 0 = unlimited */
                        double input_tpm, /* input tokens per minute, 0 = unlimited */
                        double output_tpm /* output tokens per minute, 0 = unlimited */
);

/* Asks to send one request now. When every bucket of the key holds enough and the key is not
 * held, the amounts are taken (1 request, input_tokens, output_tokens) and 0 is returned.
 * Otherwise nothing is taken and the result is the number of seconds (> 0) until the request
 * could go, if nothing else were taken meanwhile: the longest of the three buckets' waits and
 * the hold. A request larger than a bucket's capacity goes when that bucket is full, and leaves
 * it negative (a debt that later requests wait out), so the long-run rate still holds.
 * An unknown key, a NULL r or a NULL key is unlimited: 0. Negative amounts count as 0. */
double ratelimit_acquire(ratelimiter *r,        /* the limiter */
                         const char *key,       /* model id or "agent:NAME" */
                         int64_t input_tokens,  /* estimated input tokens the API will count:
                                                   uncached input and cache writes */
                         int64_t output_tokens, /* the call's max_tokens */
                         double now             /* monotonic seconds */
);

/* The answer ratelimit_acquire() would give, taking nothing. For a call limited by two keys
 * (its model and its agent): wait for the larger of both peeks, then acquire both at the same
 * `now`; the second acquire then cannot refuse after the first has taken. */
double ratelimit_peek(const ratelimiter *r, const char *key, int64_t input_tokens,
                      int64_t output_tokens, double now);

/* Settles a call's reservation to its real usage once known, so an estimate that was too
 * high frees capacity at once and one too low is charged: reserved - actual goes back into
 * each token bucket (up to its capacity; a negative difference is taken, possibly leaving a
 * debt). The key's buckets are refilled to `now` first. Unknown key: nothing; an unlimited
 * bucket: nothing. A call that failed settles with actual 0 (nothing was counted, or the
 * server's headers say otherwise through ratelimit_observe). */
void ratelimit_settle(ratelimiter *r,          /* the limiter */
                      const char *key,         /* the key the call was acquired on */
                      int64_t reserved_input,  /* input_tokens passed to ratelimit_acquire */
                      int64_t actual_input,    /* ratelimit_input_counted() of the usage */
                      int64_t reserved_output, /* output_tokens passed to ratelimit_acquire */
                      int64_t actual_output,   /* usage.output_tokens of the response */
                      double now               /* monotonic seconds */
);

/* The input tokens of a usage that count toward input tokens per minute on model m:
 * input_tokens + cache_creation_input_tokens, plus cache_read_input_tokens when m's entry
 * sets itpm_counts_cache_reads (older models); m NULL (unknown) counts as a current model. */
int64_t ratelimit_input_counted(const model_info *m, const claude_usage *u);

/* A 429 with retry-after: the buckets its headers show empty (remaining 0) are held until
 * now + seconds, all three when the headers show none empty (or h is NULL). A held bucket
 * stops every request that needs some of it (every request needs the requests bucket); a
 * later hold never shortens an earlier one. Creates the key if needed; when memory runs out
 * the hold is lost. A negative or non-finite `seconds` does nothing. */
void ratelimit_hold(ratelimiter *r,          /* the limiter */
                    const char *key,         /* the model the 429 came from */
                    double seconds,          /* the response's retry-after */
                    const claude_headers *h, /* the 429's headers; NULL: hold all */
                    double now               /* monotonic seconds */
);

/* Tightens a key from a response's anthropic-ratelimit-{requests,input-tokens,output-tokens}
 * headers (fields at -1 are absent and ignored). The combined "tokens" headers show the
 * tightest token limit without naming it: they stand for the input and the output bucket of a
 * response that carries no headers specific to that bucket.
 * - The latest reported limit becomes the bucket's capacity when it is lower than the
 *   configured one or none is configured; the configured limit is never exceeded. (So a server
 *   limit that rises again lifts the capacity back, at most to the configured limit.)
 * - A reported remaining below what the bucket holds lowers the bucket to it. Until the
 *   reported reset time the bucket then refills no faster than the server says its own bucket
 *   does (back to the limit by the reset time); after it, at the normal rate again.
 * Never loosens beyond the configuration: no capacity above a configured limit, and no
 * tokens added to a bucket.
 * Creates the key if needed; when memory runs out the observation is lost. */
void ratelimit_observe(ratelimiter *r,          /* the limiter */
                       const char *key,         /* the model that answered */
                       const claude_headers *h, /* that response's parsed headers */
                       double now,              /* monotonic seconds */
                       double now_wall          /* epoch seconds, to place the reset times */
);

/* For stats: the state of a key. Limits are the effective ones (configured or tightened),
 * 0 = unlimited. The avail fields are as of the key's last acquire, settle or observe (this
 * call takes no `now` and does not refill), 0 for an unlimited bucket, negative while a debt
 * from an oversize request lasts. Hold times are monotonic seconds, 0 when never held. */
typedef struct ratelimit_state {
    double rpm, input_tpm, output_tpm;
    double requests_avail, input_avail, output_avail;
    double held_until; /* the latest of the three below */
    double requests_held_until, input_held_until, output_held_until;
} ratelimit_state;

/* Fills *out with the state of key. Returns 0, or -1 when the key is unknown (never
 * configured, held nor observed) or an argument is NULL. */
int ratelimit_get(const ratelimiter *r, const char *key, ratelimit_state *out);

#endif
