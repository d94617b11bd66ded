/*
 * Every entry point of nyx.h, and nothing else (like Lua's lapi.c). Each checks its arguments
 * (a NULL engine or string gets the error nyx.h documents, never a crash) and hands the work
 * to the subsystem that holds it; the logic stays there. A function marked NYX_API is defined
 * here only, and an internal function never carries the nyx_ prefix (tests/e2e/symbols.sh).
 *
 * This file is its own layer, above core and lua (tests/layers.sh): nyx_load_file and
 * nyx_stop_scripts run Lua, which core may not reach.
 */
#include "nyx.h"
#include "base/json_number.h"
#include "base/utf8.h"

#include "core/debug.h"
#include "core/entry.h"
#include "core/host_api.h"
#include "core/host_tools.h"
#include "core/call.h"
#include "core/settings.h"
#include "core/sim_host.h"
#include "lua/lnyx.h"

#include <stdlib.h>
#include <string.h>

/* NYX_EINVAL with "fn: what" as the engine's message. */
static int invalid(nyx_engine *e, const char *fn, const char *what)
{
    engine_set_error(e, "%s: %s", fn, what);
    return NYX_EINVAL;
}

/* ---- without an engine ---- */

size_t nyx_versions(char *buf, size_t size) { return versions_text(buf, buf ? size : 0); }

const char *nyx_strerror(int code) { return engine_strerror(code); }

long nyx_utf8_check(const char *text, size_t len) { return text ? utf8_bad(text, len) : -1; }

int nyx_json_number(double v, char *buf, size_t size) { return buf ? json_double_text(v, buf, size) : -1; }

void nyx_free(void *p) { free(p); }

/* ---- the engine's life ---- */

nyx_engine *nyx_open(char **errmsg) { return engine_open(errmsg); }

/* Refused from inside a function the engine runs, as curl_multi_cleanup refuses a call from a
 * callback (CURLM_RECURSIVE_API_CALL): the engine's own frames lie below the host's function
 * and go on using it once it returns, so freeing it there is a use after free. */
int nyx_close(nyx_engine *engine)
{
    if (!engine)
        return NYX_OK;
    if (engine_in_host_fn(engine))
        return invalid(engine, "nyx_close",
                       "called from inside a function the engine runs (a log, output, debug writer, tool or "
                       "row function); nothing was closed: close the engine once that call returned");
    engine_close(engine);
    return NYX_OK;
}

long long nyx_finish_records(nyx_engine *engine) { return engine ? engine_finish_records(engine) : 0; }

int nyx_set(nyx_engine *engine, const char *key, const char *value)
{
    if (!engine)
        return NYX_EINVAL;
    if (!key || !value)
        return invalid(engine, "nyx_set", "key and value are required");
    int rc = engine_set(engine, key, value);
    if (rc == NYX_OK && strncmp(key, "var.", 4) == 0 && lnyx_var_added(engine, key + 4, value) != 0) {
        engine_set_error(engine, "nyx_set: out of memory adding %s to nyx.vars", key);
        return NYX_ENOMEM;
    }
    return rc;
}

const char *nyx_errmsg(const nyx_engine *engine) { return engine ? engine_errmsg(engine) : "no engine"; }

const char *nyx_provider(nyx_engine *engine) { return engine ? engine_provider(engine) : "none"; }

void nyx_set_log(nyx_engine *engine, void (*fn)(void *ud, int level, const char *msg), void *ud)
{
    if (engine)
        engine_set_log(engine, fn, ud);
}

void nyx_set_debug_writer(nyx_engine *engine, void (*fn)(void *ud, const char *text, size_t len), void *ud)
{
    if (engine)
        debug_set_writer(engine, fn, ud);
}

void nyx_set_output(nyx_engine *engine, void (*fn)(void *ud, const char *text, size_t len), void *ud)
{
    if (engine)
        progress_set_output(engine, fn, ud);
}

/* ---- scripts and the loop ---- */

int nyx_load_file(nyx_engine *engine, const char *path, int argc, char **argv)
{
    if (!engine)
        return NYX_EINVAL;
    if (!path) /* luaL_loadfile would read standard input */
        return invalid(engine, "nyx_load_file", "path is required");
    if (argc < 0 || (argc > 0 && !argv))
        return invalid(engine, "nyx_load_file", "argc must be 0 or argv hold argc strings");
    for (int i = 0; i < argc; i++)
        if (!argv[i])
            return invalid(engine, "nyx_load_file", "argv holds a NULL");
    return lnyx_load_file(engine, path, argc, argv);
}

int nyx_load_string(nyx_engine *engine, const char *chunk, const char *name)
{
    if (!engine)
        return NYX_EINVAL;
    if (!chunk)
        return invalid(engine, "nyx_load_string", "chunk is required");
    return lnyx_load_string(engine, chunk, name);
}

/* A loop turned from inside a host's function would run under the work that called it: a
 * tool's call would start again, the start of the engine run twice. */
static int refuse_in_host_fn(nyx_engine *e, const char *fn)
{
    return invalid(e, fn,
                   "called from inside a function the engine runs (a log, output, debug writer, tool or "
                   "row function); return from it, and let the host's loop poll");
}

int nyx_poll(nyx_engine *engine, int timeout_ms)
{
    if (!engine)
        return NYX_EINVAL;
    if (engine_in_host_fn(engine))
        return refuse_in_host_fn(engine, "nyx_poll");
    return engine_poll(engine, timeout_ms < 0 ? 0 : timeout_ms); /* a frame's turn, not a wait */
}

int nyx_run(nyx_engine *engine)
{
    if (!engine)
        return NYX_EINVAL;
    if (engine_in_host_fn(engine))
        return refuse_in_host_fn(engine, "nyx_run");
    int rc;
    while ((rc = engine_poll(engine, 1000)) == NYX_AGAIN)
        ;
    return rc;
}

int nyx_fd(nyx_engine *engine) { return engine ? loop_fd(engine_loop(engine)) : -1; }

int nyx_timeout_ms(nyx_engine *engine) { return engine ? engine_timeout_ms(engine) : -1; }

int nyx_watch_script(nyx_engine *engine, const char *path)
{
    if (!engine)
        return NYX_EINVAL;
    if (!path || !*path)
        return invalid(engine, "nyx_watch_script", "a path is required");
    return engine_watch_script(engine, path);
}

void nyx_stop_scripts(nyx_engine *engine)
{
    if (engine)
        lnyx_stop_scripts(engine);
}

void nyx_cancel_all(nyx_engine *engine, const char *reason)
{
    if (engine)
        calls_cancel_all(engine, reason ? reason : "cancelled by the host");
}

void nyx_interrupt(nyx_engine *engine)
{
    if (engine)
        engine_interrupt(engine);
}

int nyx_stop(nyx_engine *engine, const char *reason /* NULL: "no reason given" */)
{
    return engine ? engine_emergency_stop(engine, reason) : NYX_EINVAL;
}

int nyx_resume(nyx_engine *engine) { return engine ? engine_resume(engine) : NYX_EINVAL; }

/* ---- host tools ---- */

int nyx_tool_register(nyx_engine *engine, const char *name, const char *schema_json, nyx_tool_fn fn, void *ud)
{
    if (!engine)
        return NYX_EINVAL;
    return host_tools_register(engine, name, schema_json, fn, ud); /* it names a NULL name or fn */
}

int nyx_tool_result(nyx_engine *engine, long long call, const char *content, int is_error)
{
    return engine ? host_tools_result(engine, call, content, is_error) : NYX_EINVAL;
}

/* ---- the database: queries, budgets, settings, templates ---- */

int nyx_query(nyx_engine *engine, const char *kind, const char *const *options, nyx_row_fn fn, void *ud)
{
    if (!engine)
        return NYX_EINVAL;
    if (!kind || !fn)
        return invalid(engine, "nyx_query", "kind and fn are required");
    return query_run(engine, kind, options, fn, ud);
}

int nyx_prune(nyx_engine *engine, const char *before, int dry_run, nyx_row_fn fn, void *ud)
{
    if (!engine)
        return NYX_EINVAL;
    if (!before)
        return invalid(engine, "nyx_prune", "a time (before) is required");
    return engine_prune(engine, before, dry_run, fn, ud);
}

int nyx_models_date(nyx_engine *engine, const char **date)
{
    const char *ignored;
    if (!engine) {
        if (date)
            *date = NULL;
        return 0;
    }
    return query_models_date(engine, date ? date : &ignored);
}

int nyx_budget_reset(nyx_engine *engine, const char *scope)
{
    if (!engine)
        return NYX_EINVAL;
    if (!scope || !*scope)
        return invalid(engine, "nyx_budget_reset", "a scope is required");
    return engine_budget_reset(engine, scope);
}

int nyx_progress(nyx_engine *engine, nyx_progress_info *out)
{
    return engine && out ? progress_read(engine, out) : NYX_EINVAL;
}

int nyx_config_get(nyx_engine *engine, const char *key, char **value, const char **source)
{
    if (!engine)
        return NYX_EINVAL;
    if (!key || !value)
        return invalid(engine, "nyx_config_get", "key and value are required");
    return settings_config_get(engine, key, value, source);
}

int nyx_config_set(nyx_engine *engine, const char *key, const char *value /* NULL removes */)
{
    if (!engine)
        return NYX_EINVAL;
    if (!key)
        return invalid(engine, "nyx_config_set", "key is required");
    return settings_config_set(engine, key, value);
}

/* The template functions name a NULL name or out themselves (templates.c, need()). */
int nyx_template_render(nyx_engine *engine, const char *name, const char *const *vars, char **out, int *version)
{
    return engine ? engine_template_render(engine, name, vars, out, version) : NYX_EINVAL;
}

int nyx_template_get(nyx_engine *engine, const char *name, char **text, int *version, char **source)
{
    return engine ? engine_template_get(engine, name, text, version, source) : NYX_EINVAL;
}

int nyx_template_diff(nyx_engine *engine, const char *name, int v1, int v2, char **out)
{
    return engine ? engine_template_diff(engine, name, v1, v2, out) : NYX_EINVAL;
}

/* ---- the simulator (no engine: any thread) ---- */

int nyx_sim_check_options(const char *const *options, char **errmsg)
{
    return sim_host_check_options(options, errmsg);
}

nyx_sim *nyx_sim_start(int port, const char *const *options, char **errmsg)
{
    return sim_host_start(port, options, errmsg);
}

int nyx_sim_port(const nyx_sim *sim) { return sim ? sim_host_port(sim) : -1; }

void nyx_sim_stop(nyx_sim *sim)
{
    if (sim)
        sim_host_stop(sim);
}
