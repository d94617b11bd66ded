/* Live progress for hosts (nyx_progress): counters the engine already keeps, the calls on
 * its in-flight list, the nearest budget as the ledger last reported it, and the script's
 * own line. Also where scripts' print() goes (nyx_set_output). */
#include "call_internal.h"
#include "engine.h"

#include <stdio.h>

int nyx_progress(nyx_engine *e, nyx_progress_info *out)
{
    if (!e || !out)
        return NYX_EINVAL;
    int n = 0;
    for (const nyx_call *c = e->calls; c; c = c->next)
        n++;
    out->calls_in_flight = n;
    out->calls_done = (long long)e->stats.calls;
    out->errors = (long long)e->stats.errors;
    out->spent_usd = e->stats.cost_usd;
    out->saved_usd = e->stats.saved_usd;
    out->cache_hit_rate = stats_hit_rate(&e->stats);
    out->budget_remaining = e->budget_remaining;
    snprintf(out->budget_scope, sizeof out->budget_scope, "%s",
             e->budget_remaining >= 0 ? e->budget_scope : "");
    snprintf(out->text, sizeof out->text, "%s", e->progress_text);
    return NYX_OK;
}

void engine_set_progress_text(nyx_engine *e, const char *text)
{
    snprintf(e->progress_text, sizeof e->progress_text, "%s", text ? text : "");
}

void nyx_set_output(nyx_engine *e, void (*fn)(void *ud, const char *text, size_t len), void *ud)
{
    if (!e)
        return;
    e->out_fn = fn;
    e->out_ud = ud;
}

int engine_output(nyx_engine *e, const char *text, size_t len)
{
    if (!e->out_fn)
        return -1;
    e->out_fn(e->out_ud, text, len);
    return 0;
}
