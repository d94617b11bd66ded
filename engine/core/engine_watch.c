#define _POSIX_C_SOURCE 200809L
/* The engine's side of hot reload: one watcher per engine, the template directories, and the
 * NYX_CHANGED signal of nyx_watch_script. Lua modules are reloaded by engine/lua/lreload.c. */
#include "engine.h"
#include "host_tools.h"
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

file_watch *engine_watch(nyx_engine *e)
{
    int was_off = e->script.watch_off;
    file_watch *w = script_host_watch(&e->script, e->loop);
    if (!w && !was_off)
        engine_warn_once(e, "watch", "nyx: hot reload is off: cannot watch files (%s)", strerror(errno));
    return w;
}

void engine_note_change(nyx_engine *e, const char *path)
{
    if (script_host_note_change(&e->script))
        engine_log(e, NYX_LOG_DEBUG, "nyx: %s changed", path);
}

int engine_poll_wait(nyx_engine *e, int timeout_ms)
{
    return loop_pending(e->loop) > 0 || host_tools_pending(e) > 0 || e->script.watch_script ? timeout_ms : 0;
}

static void template_changed(void *ud, const char *path)
{
    nyx_engine *e = ud;
    if (e->on_template_change)
        e->on_template_change(e, path);
    engine_note_change(e, path);
}

static void watch_dir(nyx_engine *e, file_watch *w, const char *dir)
{
    /* A directory that does not exist is simply not watched. */
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    if (watch_add(w, dir, template_changed, e) != 0)
        engine_warn_once(e, dir, "nyx: cannot watch %s for template changes: %s", dir, strerror(errno));
}

void engine_watch_templates(nyx_engine *e)
{
    file_watch *w = engine_watch(e);
    if (!w)
        return;
    watch_dir(e, w, "./templates");
    const char *spec = e->cfg.template_path;
    char *copy = spec && *spec ? strdup(spec) : NULL, *save = NULL;
    for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir; dir = strtok_r(NULL, ":", &save))
        watch_dir(e, w, dir);
    free(copy);
}

static void script_changed(void *ud, const char *path) { engine_note_change(ud, path); }

int engine_watch_script(nyx_engine *e, const char *path)
{
    if (!e || !path || !*path) {
        if (e)
            engine_set_error(e, "nyx_watch_script: a path is required");
        return NYX_EINVAL;
    }
    file_watch *w = engine_watch(e);
    if (!w) {
        engine_set_error(e, "cannot watch %s: hot reload is off or inotify is unavailable", path);
        return NYX_EIO;
    }
    if (watch_add(w, path, script_changed, e) != 0) {
        engine_set_error(e, "cannot watch %s: %s", path, strerror(errno));
        return NYX_EIO;
    }
    e->script.watch_script = 1;
    return NYX_OK;
}
