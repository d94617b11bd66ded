#define _POSIX_C_SOURCE 200809L
#include "stats.h"
#include "base/array.h"

#include <stdlib.h>
#include <string.h>

void stats_add(cache_stats *s, int status, const claude_usage *u, const call_cost *cost,
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

double stats_hit_rate(const cache_stats *s)
{
    return s->ok > 0 ? (double)s->calls_with_read / (double)s->ok : 0.0;
}

cache_stats *stats_group_get(stats_group *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->names[i], name) == 0)
            return &g->stats[i];
    size_t cap = g->cap; /* the two arrays grow alike: g->cap moves with the second */
    char **names = array_room(g->names, g->n, &cap, sizeof *names, 8);
    if (!names)
        return NULL;
    g->names = names;
    cache_stats *stats = array_room(g->stats, g->n, &g->cap, sizeof *stats, 8);
    if (!stats)
        return NULL;
    g->stats = stats;
    if (!(g->names[g->n] = strdup(name)))
        return NULL;
    memset(&g->stats[g->n], 0, sizeof g->stats[g->n]);
    return &g->stats[g->n++];
}

void stats_group_free(stats_group *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->names[i]);
    free(g->names);
    free(g->stats);
    memset(g, 0, sizeof *g);
}
