/* Live progress for hosts (nyx_progress): counters the engine already keeps, the calls on
 * its in-flight list, the nearest budget as the ledger last reported it, and the script's
 * own line. Also where scripts' print() goes (nyx_set_output). */
#include "call_internal.h"
#include "engine.h"

#include <stdio.h>
#include <string.h>

int progress_read(nyx_engine *e, nyx_progress_info *out)
{
    if (!e || !out)
        return NYX_EINVAL;
    int n = 0;
    for (const api_call *c = e->calls; c; c = c->next)
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
    size_t len = 0;
    out->text[0] = 0;
    for (size_t i = 0; i < sizeof e->progress / sizeof e->progress[0]; i++) {
        if (!e->progress[i].key[0] || len >= sizeof out->text - 1)
            continue;
        int w = snprintf(out->text + len, sizeof out->text - len, "%s%s", len ? " | " : "",
                         e->progress[i].text);
        len = w < 0 ? len : len + (size_t)w;
        if (len >= sizeof out->text)
            len = sizeof out->text - 1;
    }
    return NYX_OK;
}

void engine_set_progress_text(nyx_engine *e, const char *key, const char *text)
{
    /* The used parts are always the first ones, in the order they were first set. */
    const size_t nparts = sizeof e->progress / sizeof e->progress[0];
    size_t i = 0;
    while (i < nparts && e->progress[i].key[0] &&
           strncmp(e->progress[i].key, key, sizeof e->progress[i].key - 1) != 0)
        i++;
    if (i == nparts)
        return; /* no room for another part */
    struct progress_part *slot = &e->progress[i];
    if (!text || !*text) {
        if (slot->key[0]) {
            memmove(slot, slot + 1, (nparts - i - 1) * sizeof *slot);
            e->progress[nparts - 1].key[0] = 0;
        }
        return;
    }
    if (!slot->key[0])
        snprintf(slot->key, sizeof slot->key, "%s", key);
    snprintf(slot->text, sizeof slot->text, "%s", text);
}

void progress_set_output(nyx_engine *e, void (*fn)(void *ud, const char *text, size_t len), void *ud)
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
