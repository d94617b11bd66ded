/* Live progress for hosts (nyx_progress): counters the engine already keeps, the calls on
 * its in-flight list, the nearest budget as the ledger last reported it, and the script's
 * own line (progress.h). Also where scripts' print() goes (nyx_set_output). */
#include "progress.h"
#include "call_internal.h"
#include "engine.h"

#include <stdio.h>
#include <string.h>

void progress_line_set(progress_line *p, const char *key, const char *text)
{
    /* The used parts are always the first ones, in the order they were first set. */
    size_t i = 0;
    while (i < PROGRESS_PARTS && p->parts[i].key[0] &&
           strncmp(p->parts[i].key, key, sizeof p->parts[i].key - 1) != 0)
        i++;
    if (i == PROGRESS_PARTS)
        return; /* no room for another part */
    struct progress_part *slot = &p->parts[i];
    if (!text || !*text) {
        if (slot->key[0]) {
            memmove(slot, slot + 1, (PROGRESS_PARTS - i - 1) * sizeof *slot);
            p->parts[PROGRESS_PARTS - 1].key[0] = 0;
        }
        return;
    }
    if (!slot->key[0])
        snprintf(slot->key, sizeof slot->key, "%s", key);
    snprintf(slot->text, sizeof slot->text, "%s", text);
}

void progress_line_text(const progress_line *p, char *out, size_t size)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < PROGRESS_PARTS; i++) {
        if (!p->parts[i].key[0] || len >= size - 1)
            continue;
        int w = snprintf(out + len, size - len, "%s%s", len ? " | " : "", p->parts[i].text);
        len = w < 0 ? len : len + (size_t)w;
        if (len >= size)
            len = size - 1;
    }
}

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
    out->budget_remaining = e->progress.budget_remaining;
    snprintf(out->budget_scope, sizeof out->budget_scope, "%s",
             e->progress.budget_remaining >= 0 ? e->progress.budget_scope : "");
    progress_line_text(&e->progress, out->text, sizeof out->text);
    return NYX_OK;
}

void engine_set_progress_text(nyx_engine *e, const char *key, const char *text)
{
    progress_line_set(&e->progress, key, text);
}

void progress_set_output(nyx_engine *e, void (*fn)(void *ud, const char *text, size_t len), void *ud)
{
    if (!e)
        return;
    e->progress.out_fn = fn;
    e->progress.out_ud = ud;
}

int engine_output(nyx_engine *e, const char *text, size_t len)
{
    if (!e->progress.out_fn)
        return -1;
    engine_host_fn_enter(e);
    e->progress.out_fn(e->progress.out_ud, text, len);
    engine_host_fn_leave(e);
    return 0;
}
