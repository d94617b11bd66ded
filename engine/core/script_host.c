#define _POSIX_C_SOURCE 200809L
#include "script_host.h"
#include "watch.h"

#include <stdlib.h>
#include <string.h>

int script_host_add_var(script_host *h, const char *name, const char *value)
{
    engine_var *v = realloc(h->vars, (h->nvars + 1) * sizeof *v);
    if (!v)
        return -1;
    h->vars = v;
    v[h->nvars].name = strdup(name);
    v[h->nvars].value = strdup(value);
    if (!v[h->nvars].name || !v[h->nvars].value) {
        free(v[h->nvars].name);
        free(v[h->nvars].value);
        return -1;
    }
    h->nvars++;
    return 0;
}

int script_host_take_failure(script_host *h)
{
    int was = h->script_failed;
    h->script_failed = 0;
    return was;
}

int script_host_take_change(script_host *h)
{
    int was = h->changed;
    h->changed = 0;
    return was;
}

file_watch *script_host_watch(script_host *h, event_loop *loop)
{
    if (h->watch || h->watch_off)
        return h->watch;
    if (!(h->watch = watch_new(loop, 0)))
        h->watch_off = 1;
    return h->watch;
}

int script_host_note_change(script_host *h)
{
    if (!h->watch_script)
        return 0;
    h->changed = 1;
    return 1;
}

void script_host_free(script_host *h)
{
    watch_free(h->watch);
    h->watch = NULL;
    for (size_t i = 0; i < h->nvars; i++) {
        free(h->vars[i].name);
        free(h->vars[i].value);
    }
    free(h->vars);
    h->vars = NULL;
    h->nvars = 0;
    free(h->lua_path);
    h->lua_path = NULL;
}
