/* When to try a failed attempt again, and how long to wait first. */
#ifndef NYX_RETRY_H
#define NYX_RETRY_H

#include "claude/types.h"
#include <stdint.h>

typedef struct retry_policy {
    int max_retries;     /* attempts = 1 + max_retries */
    double base_s;       /* first backoff ceiling */
    double factor;       /* growth per retry */
    double max_s;        /* ceiling of any backoff */
} retry_policy;

/* 1 if err deserves another attempt after `retries_done` retries. */
int retry_allowed(const retry_policy *p, const error_info *err, int retries_done);

/* Seconds to wait before the next attempt: the server's retry-after when it gave one,
 * else full jitter over base * factor^retries_done, capped at max_s. rng is the caller's
 * state (xorshift), so an engine's retries are reproducible for a given seed. */
double retry_delay_s(const retry_policy *p, const error_info *err, int retries_done, uint64_t *rng);

#endif
