/* The script host's part of the engine: the Lua state that owns the scripts (opaque to the
 * core), how many of its tasks live, whether one failed, the event hook it installed, the
 * variables and module path it was given, and the file watch behind hot reload. The engine
 * holds one; the bindings reach it only through core/host_api.h. */
#ifndef NYX_SCRIPT_HOST_H
#define NYX_SCRIPT_HOST_H

#include <stdatomic.h>
#include <stddef.h>

#include "collector.h"
#include "host_api.h"
#include "loop.h"

struct file_watch;

typedef struct engine_var {
    char *name, *value;
} engine_var;

typedef void (*engine_emit_fn)(nyx_engine *e, const char *event, const engine_field *f, size_t n);

typedef struct script_host {
    void *host; /* the Lua state, NULL until a script is loaded */
    void (*host_close)(nyx_engine *e);
    /* The host's thread running now (NULL: none), set around each run of a task, and what
     * stops it at its next instruction: nyx_interrupt, from a signal handler or another
     * thread, reads both. interrupting counts the nyx_interrupts under way: a thread that
     * stops running is not let go (and so cannot be freed) until none is (host_api.c). */
    _Atomic(void *) running;
    atomic_int interrupting;
    void (*interrupt)(void *running);
    collector_pace gc; /* its collector's pace in frames and out of them */
    int tasks_alive;
    int script_failed; /* a main task failed: the next nyx_poll returns NYX_ESCRIPT */
    int in_callback;   /* a Lua callback runs inside a network callback: no waiting */
    /* the host's event hook (nyx.on handlers in Lua) */
    engine_emit_fn emit;
    void *emit_ud;
    engine_var *vars; /* nyx_set "var.NAME" */
    size_t nvars;
    char *lua_path;
    /* hot reload (core/watch.h, lua/lreload.c) */
    struct file_watch *watch; /* created on first use */
    int watch_off;            /* nyx_set "reload" "0", or inotify is unavailable */
    int watch_script;         /* nyx_watch_script: changes end nyx_poll with NYX_CHANGED */
    int changed;              /* such a change happened since the last nyx_poll */
} script_host;

/* Adds a variable for scripts (nyx.vars); 0, or -1 when out of memory. */
int script_host_add_var(script_host *h, const char *name, const char *value);
/* Takes the flag: 1 when it was set, and clears it. */
int script_host_take_failure(script_host *h);
int script_host_take_change(script_host *h);
/* The host's file watch, made on first use in loop; NULL when hot reload is off (nyx_set
 * "reload" "0") or the watch cannot be made (errno says why; it is then off for good). */
struct file_watch *script_host_watch(script_host *h, event_loop *loop);
/* A watched file changed: 1 when nyx_watch_script asked to hear of it (the next nyx_poll
 * returns NYX_CHANGED), else 0 and nothing changes. */
int script_host_note_change(script_host *h);
/* Frees what the host was given (variables, module path, the watch); the Lua state is
 * closed by its own host_close before this. */
void script_host_free(script_host *h);

#endif
