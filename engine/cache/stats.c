#include "stats.h"

void stats_add(nyx_stats *s, int status, const nyx_usage *u, const nyx_cost *cost,
               double latency_ms)
{
    s->calls++;
    if (status == NYX_STATUS_OK)
        s->ok++;
    else if (status == NYX_STATUS_CANCELLED)
        s->cancelled++;
    else
        s->errors++;
    s->latency_ms_total += latency_ms;
    if (!u)
        return;
    s->input_tokens += u->input_tokens;
    s->output_tokens += u->output_tokens;
    s->cache_read_tokens += u->cache_read_input_tokens;
    s->cache_write_tokens += u->cache_creation_input_tokens;
    if (u->cache_read_input_tokens > 0)
        s->calls_with_read++;
    if (u->cache_creation_input_tokens > 0)
        s->calls_with_write++;
    if (cost) {
        s->cost_usd += cost->cost_usd;
        s->cost_without_cache_usd += cost->cost_without_cache_usd;
        s->saved_usd += cost->saved_usd;
    } else {
        s->unknown_cost_calls++;
    }
}

double stats_hit_rate(const nyx_stats *s)
{
    return s->ok > 0 ? (double)s->calls_with_read / (double)s->ok : 0.0;
}
