/* What a call cost, from the usage the API reported and the model's prices; and the most a
 * call can cost, for reserving budget before it is sent. */
#ifndef NYX_COST_COST_H
#define NYX_COST_COST_H

#include <stdint.h>

#include "claude/types.h"
#include "cost/models.h"

typedef struct nyx_cost {
    double cost_usd;               /* what the API bills for this usage */
    double cost_without_cache_usd; /* the same tokens, all at the plain input price */
    double saved_usd;              /* cost_without_cache_usd - cost_usd; negative when a write
                                      premium was paid and nothing was read yet */
} nyx_cost;

/* Prices a usage:
 *   cost = input*P_in + writes_5m*P_5m + writes_1h*P_1h + reads*P_read + output*P_out
 * (all per million tokens). Without the cache_creation detail every cache write is a 5m write.
 * With the detail, writes are ephemeral_5m + ephemeral_1h; if cache_creation_input_tokens is
 * larger than their sum, the rest is priced as 5m writes, so no reported token goes unpriced.
 *   cost_without_cache = (input + cache writes + cache reads)*P_in + output*P_out.
 * Returns 0 with *out filled; -1 (out untouched) when m is NULL or has no price, u or out is
 * NULL, or a token count is negative. */
int cost_of_usage(const nyx_model *m,  /* the model that served the call */
                  const nyx_usage *u,  /* usage as reported by the API */
                  nyx_cost *out);      /* result written here */

/* Worst-case cost of a call, for a budget reservation: every input token at the highest
 * price it could be billed (the cache-write price for the TTL asked for, or the plain input
 * price if that is higher) plus max_tokens of output. Negative counts count as 0.
 * Returns USD, or -1.0 when m is NULL or has no price. */
double cost_worst_case(const nyx_model *m,
                       int64_t input_tokens, /* estimated prompt size, all of it */
                       int64_t max_tokens,   /* the request's max_tokens */
                       int write_1h);        /* 1: 1h cache marks may be written; 0: 5m */

#endif
