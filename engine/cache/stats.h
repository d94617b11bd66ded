/* Counters of calls, tokens by kind, cost and savings: engine-wide, per session, and per
 * model/agent/template. Every number comes from API-reported usage, never from estimates. */
#ifndef NYX_STATS_H
#define NYX_STATS_H

#include "claude/types.h"
#include "cost/cost.h"

#include <stdint.h>

enum call_status { NYX_STATUS_OK = 0, NYX_STATUS_ERROR, NYX_STATUS_CANCELLED };

typedef struct cache_stats {
    int64_t calls, ok, errors, cancelled;
    int64_t calls_with_read, calls_with_write, unexpected_misses, from_response_cache;
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd, cost_without_cache_usd, saved_usd;
    int64_t unknown_cost_calls;
    double latency_ms_total;
    int64_t tool_calls;  /* tool_use blocks the model sent */
    int64_t tool_rounds; /* answers that stopped to have tools run (stop_reason tool_use) */
    int64_t iterations;  /* calls made as an iteration of a tool loop */
} cache_stats;

/* Statistics kept per name: by model, by agent, by template. */
typedef struct stats_group {
    char **names;
    cache_stats *stats;
    size_t n, cap;
} stats_group;

/* The entry for name, created empty on first use; NULL when out of memory. */
cache_stats *stats_group_get(stats_group *g, const char *name);
void stats_group_free(stats_group *g);

/* Adds one finished call; cost is NULL when the model's price is unknown. */
void stats_add(cache_stats *s, int status, const claude_usage *u, const call_cost *cost,
               double latency_ms);
/* Share of successful calls that read from the prompt cache, 0..1. */
double stats_hit_rate(const cache_stats *s);

#endif
