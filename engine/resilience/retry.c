#include "retry.h"

#include <math.h>

int retry_allowed(const retry_policy *p, const error_info *err, int retries_done)
{
    return err->retryable && retries_done < p->max_retries;
}

static double next_unit(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
}

double retry_delay_s(const retry_policy *p, const error_info *err, int retries_done, uint64_t *rng)
{
    if (err->retry_after_s >= 0)
        return err->retry_after_s;
    double ceiling = p->base_s * pow(p->factor, retries_done);
    if (ceiling > p->max_s)
        ceiling = p->max_s;
    return ceiling * next_unit(rng);
}
