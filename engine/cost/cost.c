/* Cost arithmetic. Sums are taken in token*USD-per-MTok units and divided by a million once,
 * so that round prices give round results. */
#include "cost.h"

#include <stddef.h>

#define PER_MTOK 1e6

int cost_of_usage(const nyx_model *m, const nyx_usage *u, nyx_cost *out)
{
    if (!m || !m->has_price || !u || !out)
        return -1;
    if (u->input_tokens < 0 || u->output_tokens < 0 || u->cache_creation_input_tokens < 0 ||
        u->cache_read_input_tokens < 0)
        return -1;

    int64_t w5m = u->cache_creation_input_tokens, w1h = 0;
    int64_t writes = w5m;
    if (u->has_cache_creation_detail) {
        if (u->cache_creation_5m < 0 || u->cache_creation_1h < 0)
            return -1;
        w5m = u->cache_creation_5m;
        w1h = u->cache_creation_1h;
        int64_t detail = w5m + w1h;
        if (writes > detail)
            w5m += writes - detail; /* unattributed writes: the default TTL is 5m */
        else
            writes = detail;
    }

    double with = (double)u->input_tokens * m->input + (double)w5m * m->cache_write_5m +
                  (double)w1h * m->cache_write_1h +
                  (double)u->cache_read_input_tokens * m->cache_read +
                  (double)u->output_tokens * m->output;
    double without =
        (double)(u->input_tokens + writes + u->cache_read_input_tokens) * m->input +
        (double)u->output_tokens * m->output;

    out->cost_usd = with / PER_MTOK;
    out->cost_without_cache_usd = without / PER_MTOK;
    out->saved_usd = (without - with) / PER_MTOK;
    return 0;
}

double cost_worst_case(const nyx_model *m, int64_t input_tokens, int64_t max_tokens,
                       int write_1h)
{
    if (!m || !m->has_price)
        return -1.0;
    if (input_tokens < 0)
        input_tokens = 0;
    if (max_tokens < 0)
        max_tokens = 0;
    /* A request with 1h marks may also carry 5m marks (mixed TTLs), so it can be billed at
     * either write price. */
    double p = m->cache_write_5m;
    if (write_1h && m->cache_write_1h > p)
        p = m->cache_write_1h;
    if (m->input > p)
        p = m->input;
    return ((double)input_tokens * p + (double)max_tokens * m->output) / PER_MTOK;
}
