/* What a call cost, from the usage the API reported and the model's prices; and the most a
 * call can cost, for reserving budget before it is sent. */
#ifndef NYX_COST_COST_H
#define NYX_COST_COST_H

#include <stdint.h>

#include "claude/types.h"
#include "cost/models.h"

typedef struct call_cost {
    double cost_usd;               /* what the API bills for this usage */
    double cost_without_cache_usd; /* the same tokens, all at the plain input price */
    double saved_usd;              /* cost_without_cache_usd - cost_usd; negative when a write
                                      premium was paid and nothing was read yet */
} call_cost;

/* Prices a usage as billed at time `at` (UTC seconds since the epoch; the price row in force
 * then):
 *   cost = (input*P_in + writes_5m*P_5m + writes_1h*P_1h + reads*P_read + output*P_out) * F
 * (all per million tokens). P are the row's standard prices, or those of the highest tier
 * the prompt (input + cache reads + cache writes) exceeds, or the fast prices when
 * usage.speed is "fast". F is the product of the model's batch_factor when
 * usage.service_tier is "batch" and its factor for usage.inference_geo (1 when unlisted).
 * With the cache_creation detail, writes are ephemeral_5m + ephemeral_1h; if
 * cache_creation_input_tokens is larger than their sum, the rest is priced as 5m writes, so
 * no reported token goes unpriced. Without the detail every write is priced at the TTL the
 * request asked for: 1h when writes_1h, else 5m.
 *   cost_without_cache = ((input + cache writes + cache reads)*P_in + output*P_out) * F.
 * Returns 0 with *out filled; -1 (out untouched) when m is NULL or has no price, u or out is
 * NULL, a token count is negative, or the usage asks for a price the table lacks (fast mode
 * without fast prices, batch without a batch_factor). */
int cost_of_usage_at(const model_info *m,  /* the model that served the call */
                     const claude_usage *u,  /* usage as reported by the API */
                     double at,           /* when the call was made */
                     int writes_1h,       /* 1: the request's marks asked for 1h (no detail) */
                     call_cost *out);      /* result written here */

/* Worst-case cost of a call at time `at`, for a budget reservation: every input token at the
 * highest price it could be billed (the cache-write price for the TTL asked for, or the
 * plain input price if that is higher) plus max_tokens of output, all at the tier
 * input_tokens reaches. Give the most tokens the prompt may hold
 * (cache_estimate_tokens_max), so a prompt that may cross a tier is reserved at it.
 * Negative counts count as 0. Returns USD, or -1.0 when m is NULL or has no price. */
double cost_worst_case_at(const model_info *m,
                          int64_t input_tokens, /* the most tokens the prompt may hold */
                          int64_t max_tokens,   /* the request's max_tokens */
                          int write_1h,         /* 1: 1h cache marks may be written; 0: 5m */
                          double at);           /* when the call is made */

/* cost_worst_case_at() now. */
double cost_worst_case(const model_info *m, int64_t input_tokens, int64_t max_tokens, int write_1h);

/* cost_worst_case() of a request sent in a Message Batch: every price times the model's
 * batch_factor (the standard worst case when the model has none). */
double cost_worst_case_batch(const model_info *m, int64_t input_tokens, int64_t max_tokens, int write_1h);

#endif
