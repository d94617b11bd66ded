/* Where cache_control marks go. The API caches a prefix only up to a marked block and only
 * when the prefix reaches the model's minimum; this module decides the marks from token
 * estimates (calibrated from reported usage) and remembers what it has written, so it can
 * say in advance whether a call should hit. */
#ifndef NYX_CACHE_POLICY_H
#define NYX_CACHE_POLICY_H

#include "claude/types.h"
#include "cost/models.h"

#include <stdint.h>

typedef struct cache_policy cache_policy;

/* What the policy expects of one call, checked against the reported usage afterwards. */
typedef struct cache_expect {
    int marks;               /* marks in the request, the script's own included */
    int expect_hit;          /* a prefix this engine wrote is still alive */
    double written_at;       /* when that prefix was written, if expect_hit */
    uint64_t known_hash;     /* the longest remembered prefix the request starts with */
    size_t known_len;        /* 0 when none */
    double placed_at;
} cache_expect;

/* Why a call that should have read the cache wrote instead (a guess). */
enum cache_miss {
    CACHE_MISS_NONE = 0,
    CACHE_MISS_EXPIRED,    /* the entry's TTL ran out before the call reached the API */
    CACHE_MISS_CONCURRENT, /* the entry was written moments before, by a call still starting */
    CACHE_MISS_EVICTED,    /* the API no longer had it, or never did */
    CACHE_MISS_KINDS
};
const char *cache_miss_name(int reason);

cache_policy *cache_policy_new(const model_table *models);
void cache_policy_free(cache_policy *p);

/* Places marks in req according to req->cache_mode (the script's own marks are kept and
 * counted); never more than 4. shared_ttl_s > 300 selects the 1 hour TTL for shared contexts.
 * Returns 0, or -1 with err (invalid_argument) when the script's own marks exceed 4. */
int cache_place_marks(cache_policy *p, claude_request *req, const model_info *m, double shared_ttl_s,
                      double now, cache_expect *expect, error_info *err);

/* Learns from a finished call: calibrates the token estimate, records written prefixes, the
 * write premium paid for them and whether they were read. Returns CACHE_MISS_NONE, or the
 * guessed reason when the call was expected to hit and wrote instead (an unexpected miss). */
int cache_observe(cache_policy *p, const claude_request *req, const model_info *m, const claude_usage *u,
                  const cache_expect *expect, double now);

/* Records that the response to req began at now: the prefixes it marked are now written,
 * so calls that start from here on should read them. Safe to call more than once. */
void cache_response_began(cache_policy *p, const claude_request *req, const model_info *m, double now);

/* The write premium (USD above the plain input price) paid for prefixes this engine wrote
 * and has not read since. */
double cache_unread_premium(const cache_policy *p);

/* Estimated tokens of text for model m, using the calibrated ratio. */
int64_t cache_estimate_tokens(const cache_policy *p, const model_info *m, size_t bytes);

/* At most how many tokens a request holds, for what must never be short (a budget's worst
 * case): texts is what its texts are made of (request_shape, or text_shape_add of one text)
 * and bytes all it sends (its body; texts->bytes when only the texts are known). Before
 * calibration 2 bytes a token and a token for each byte that may be one; after, the
 * calibrated ratio with a margin for text like the texts it came from, the uncalibrated
 * count for the rest (policy.c says how). */
int64_t cache_estimate_tokens_max(const cache_policy *p, const model_info *m, const text_shape *texts,
                                  size_t bytes);

/* The i-th calibrated model, its bytes per token and how many calls it learned from (for
 * listing); NULL past the end. */
const model_info *cache_calibration_at(const cache_policy *p, size_t i, double *bytes_per_token,
                                      int64_t *samples);

/* Estimated tokens at the start of req (its system text, or the conversation up to the
 * newest block prefix it marked) that a response this engine saw begin has written for model
 * m and that are still alive at now: what the API should read from its cache rather than
 * count as input. 0 when nothing is known. For the rate limiter, which charges only what the
 * API counts. */
int64_t cache_known_tokens(cache_policy *p, const claude_request *req, const model_info *m, double now);
/* The bytes of system text read so far to hash it at the lengths of remembered prefixes (at
 * most each text once a call, however many prefixes are remembered). */
unsigned long long cache_prefix_bytes_read(const cache_policy *p);

#endif
