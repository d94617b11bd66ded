/* Cost arithmetic. Sums are taken in token*USD-per-MTok units and divided by a million once,
 * so that round prices give round results. */
#include "cost.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#define PER_MTOK 1e6

/* The prices of a request's prompt of `prompt` tokens under a row: the highest tier it
 * exceeds, else the row's standard prices. */
static const price_set *tier_prices(const price_row *row, int64_t prompt)
{
    const price_set *p = &row->p;
    for (size_t i = 0; i < row->ntiers; i++)
        if (prompt > row->tiers[i].above_prompt_tokens)
            p = &row->tiers[i].p;
    return p;
}

/* The prices and factor cost_of_usage_at() applies to a usage at time `at`: 0, or -1 when the
 * table has none for it. */
static int prices_for(const model_info *m, const claude_usage *u, double at, price_set *prices, double *factor)
{
    const price_row *row = models_row_at(m, at);
    if (!row || !u || !prices || !factor)
        return -1;
    int64_t prompt = u->input_tokens + u->cache_read_input_tokens + u->cache_creation_input_tokens;
    if (strcmp(u->speed, "fast") == 0) {
        if (!m->has_fast)
            return -1; /* the API reported fast mode where the table knows no fast price */
        *prices = m->fast;
    } else {
        *prices = *tier_prices(row, prompt);
    }
    double f = 1.0;
    if (strcmp(u->service_tier, "batch") == 0) {
        if (m->batch_factor <= 0)
            return -1;
        f *= m->batch_factor;
    }
    for (size_t i = 0; i < m->ngeo; i++)
        if (strcmp(u->inference_geo, m->geo[i].name) == 0)
            f *= m->geo[i].factor;
    *factor = f;
    return 0;
}

int cost_of_usage_at(const model_info *m, const claude_usage *u, double at, int writes_1h, call_cost *out)
{
    if (!m || !m->has_price || !u || !out)
        return -1;
    if (u->input_tokens < 0 || u->output_tokens < 0 || u->cache_creation_input_tokens < 0 ||
        u->cache_read_input_tokens < 0)
        return -1;

    int64_t writes = u->cache_creation_input_tokens;
    int64_t w5m = writes_1h ? 0 : writes, w1h = writes_1h ? writes : 0;
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
    claude_usage priced = *u;
    priced.cache_creation_input_tokens = writes;
    price_set p;
    double f;
    if (prices_for(m, &priced, at, &p, &f) < 0)
        return -1;

    double with = (double)u->input_tokens * p.input + (double)w5m * p.cache_write_5m +
                  (double)w1h * p.cache_write_1h + (double)u->cache_read_input_tokens * p.cache_read +
                  (double)u->output_tokens * p.output;
    double without = (double)(u->input_tokens + writes + u->cache_read_input_tokens) * p.input +
                     (double)u->output_tokens * p.output;

    out->cost_usd = with * f / PER_MTOK;
    out->cost_without_cache_usd = without * f / PER_MTOK;
    out->saved_usd = (without - with) * f / PER_MTOK;
    return 0;
}

double cost_worst_case_at(const model_info *m, int64_t input_tokens, int64_t max_tokens, int write_1h, double at)
{
    const price_row *row = models_row_at(m, at);
    if (!row)
        return -1.0;
    if (input_tokens < 0)
        input_tokens = 0;
    if (max_tokens < 0)
        max_tokens = 0;
    const price_set *tp = tier_prices(row, input_tokens);
    /* A request with 1h marks may also carry 5m marks (mixed TTLs), so it can be billed at
     * either write price. */
    double p = tp->cache_write_5m;
    if (write_1h && tp->cache_write_1h > p)
        p = tp->cache_write_1h;
    if (tp->input > p)
        p = tp->input;
    return ((double)input_tokens * p + (double)max_tokens * tp->output) / PER_MTOK;
}

double cost_worst_case(const model_info *m, int64_t input_tokens, int64_t max_tokens, int write_1h)
{
    return cost_worst_case_at(m, input_tokens, max_tokens, write_1h, (double)time(NULL));
}

double cost_worst_case_batch(const model_info *m, int64_t input_tokens, int64_t max_tokens, int write_1h)
{
    double w = cost_worst_case(m, input_tokens, max_tokens, write_1h);
    return m && w >= 0 && m->batch_factor > 0 ? w * m->batch_factor : w;
}
