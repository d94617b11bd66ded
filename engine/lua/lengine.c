#define _POSIX_C_SOURCE 200809L
/* The nyx.core module: finds or creates the engine for a Lua state and registers the
 * primitives. From stock lua5.4 the module owns an engine; inside a host the host's engine
 * is bound to the state before the module is required. */
#include "lnyx.h"

#include "core/call.h"
#include "core/governance.h"
#include "base/clock.h"
#include "cost/models.h"
#include "resilience/ratelimit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const engine_key = "nyx.engine.ptr";

typedef struct engine_box {
    nyx_engine *e;
    int log_ref;
    lua_State *L;
} engine_box;

void lnyx_bind_engine(lua_State *L, nyx_engine *e)
{
    lua_pushlightuserdata(L, e);
    lua_setfield(L, LUA_REGISTRYINDEX, engine_key);
}

nyx_engine *lnyx_engine(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, engine_key);
    nyx_engine *e = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!e)
        lnyx_fail(L, "invalid_state", "nyx: this Lua state has no engine");
    return e;
}

int lnyx_push_row(void *ud, int ncols, const char *const *names, const char *const *values,
                  const char *types)
{
    lnyx_rows *r = ud;
    lua_createtable(r->L, 0, ncols);
    for (int i = 0; i < ncols; i++) {
        if (!values[i])
            continue;
        if (types[i] == ROW_INT) {
            lua_pushinteger(r->L, (lua_Integer)strtoll(values[i], NULL, 10));
        } else if (types[i] == ROW_REAL) {
            /* A whole number is an integer whichever backend summed it (PostgreSQL's SUM of
             * integers is numeric). */
            double d = strtod(values[i], NULL);
            if (d == floor(d) && fabs(d) < 9e15)
                lua_pushinteger(r->L, (lua_Integer)d);
            else
                lua_pushnumber(r->L, d);
        } else {
            lua_pushstring(r->L, values[i]);
        }
        lua_setfield(r->L, -2, names[i]);
    }
    lua_rawseti(r->L, -2, ++r->n);
    return 0;
}

int lnyx_callback_value(lua_State *L, int ref, int nargs)
{
    nyx_engine *e = lnyx_engine(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_insert(L, -(nargs + 1));
    int was = engine_enter_callback(e);
    void *outer = engine_host_running(e, L); /* nyx_interrupt stops a callback that never returns */
    int rc = lua_pcall(L, nargs, 1, 0);
    engine_host_running(e, outer);
    engine_leave_callback(e, was);
    return rc;
}

int lnyx_callback(lua_State *L, int ref, int nargs)
{
    int rc = lnyx_callback_value(L, ref, nargs);
    if (rc != LUA_OK && !lua_isstring(L, -1)) {
        lnyx_push_error_text(L, -1); /* protected: this runs inside the engine's own callbacks */
        lua_remove(L, -2);
    }
    return rc;
}

/* ---- stock-Lua mode: the module owns its engine ---- */

static int box_gc(lua_State *L)
{
    engine_box *b = lua_touserdata(L, 1);
    if (b->e) {
        /* The Lua state is closing: nothing may call back into it. */
        nyx_set_log(b->e, NULL, NULL);
        nyx_set_debug_writer(b->e, NULL, NULL);
        engine_set_emit(b->e, NULL, NULL);
        nyx_close(b->e);
        b->e = NULL;
    }
    return 0;
}

static void box_log(void *ud, int level, const char *msg)
{
    engine_box *b = ud;
    if (b->log_ref == LUA_NOREF || level < NYX_LOG_INFO)
        return;
    lua_pushinteger(b->L, level);
    lua_pushstring(b->L, msg);
    lnyx_callback(b->L, b->log_ref, 2);
    lua_pop(b->L, 1);
}

static int l_set_log(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TFUNCTION);
    lua_getfield(L, LUA_REGISTRYINDEX, "nyx.engine.box");
    engine_box *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!b)
        return 0; /* inside a host, the host routes notices */
    lua_pushvalue(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, b->log_ref);
    b->log_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static void own_engine(lua_State *L)
{
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e) {
        error_info err;
        error_clear(&err);
        error_set(&err, "invalid_argument", 0, "nyx: %s", msg ? msg : "cannot create the engine");
        free(msg);
        lnyx_push_error(L, &err);
        lua_error(L);
    }
    engine_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->e = e;
    b->log_ref = LUA_NOREF;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    b->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "nyx.engine.box");
    lnyx_bind_engine(L, e);
    nyx_set_log(e, box_log, b);
}

/* ---- small primitives ---- */

static int l_provider(lua_State *L)
{
    lua_pushstring(L, nyx_provider(lnyx_engine(L)));
    return 1;
}

/* One value of a variable into the vars table on top of the stack: the first is a string, a
 * second makes the key the list of its values, in order. */
static void add_var(lua_State *L, const char *name, const char *value)
{
    int t = lua_getfield(L, -1, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushstring(L, value);
        lua_setfield(L, -2, name);
        return;
    }
    if (t == LUA_TSTRING) { /* the second value: the first becomes a list */
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
    }
    lua_pushstring(L, value);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

/* nyx.vars: each --var k=v as vars.k; a key given more than once is the list of its values,
 * in order, as `nyx render` makes it. */
static int l_vars(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    lua_newtable(L);
    const char *name, *value;
    for (size_t i = 0; (name = engine_var_at(e, i, &value)); i++)
        add_var(L, name, value);
    return 1;
}

/* A variable the host set after a script loaded the module: into the table scripts read. */
static int var_added(lua_State *L)
{
    const char *name = lua_touserdata(L, 1), *value = lua_touserdata(L, 2);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "nyx.core") == LUA_TTABLE && lua_getfield(L, -1, "vars") == LUA_TTABLE)
        add_var(L, name, value);
    return 0;
}

int lnyx_var_added(nyx_engine *e, const char *name, const char *value)
{
    lua_State *L = engine_host(e);
    if (!L) /* no script yet: the module reads every variable when it is loaded */
        return 0;
    lua_pushcfunction(L, var_added);
    lua_pushlightuserdata(L, (void *)name);
    lua_pushlightuserdata(L, (void *)value);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) { /* out of memory */
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static int l_cancel_all(lua_State *L)
{
    nyx_cancel_all(lnyx_engine(L), lnyx_optstring(L, 1, "cancelled by the script"));
    return 0;
}

/* nyx.model([name]): the price table's entry for a model id or alias (the default model when
 * none is named), nil when unknown. */
static int l_model(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    const char *name = lua_isnoneornil(L, 1) ? engine_cfg(e)->default_model : lnyx_checkstring(L, 1);
    const model_info *m = models_find(engine_models(e), name);
    if (!m) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 10);
    lnyx_set_str(L, "id", m->id);
    if (m->has_price) {
        const struct { const char *k; double v; } prices[] = {
            {"input", m->input}, {"output", m->output}, {"cache_write_5m", m->cache_write_5m},
            {"cache_write_1h", m->cache_write_1h}, {"cache_read", m->cache_read}};
        for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++) {
            lua_pushnumber(L, prices[i].v);
            lua_setfield(L, -2, prices[i].k);
        }
    }
    lnyx_set_int(L, "min_cache_tokens", m->min_cache_tokens);
    lnyx_set_str(L, "deprecated", m->deprecated);
    lnyx_set_str(L, "retires", m->retires);
    return 1;
}

static int l_stop(lua_State *L)
{
    const char *reason = lnyx_optstring(L, 1, "stopped by the script");
    char why[160];
    if (governance_reason_check(reason, why, sizeof why) != 0)
        return lnyx_argerror(L, 1, "%s", why);
    engine_stop(lnyx_engine(L), reason, 1);
    return 0;
}

/* nyx.resume(): lifts an emergency stop, for every process on the database (nyx stop --clear). */
static int l_resume(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    if (nyx_resume(e) != NYX_OK)
        return lnyx_fail(L, "store_error", "%s", nyx_errmsg(e));
    return 0;
}

/* nyx.rate_limit(key, {rpm=, input_tpm=, output_tpm=}): key is a model or "agent:NAME". */
static int l_rate_limit(lua_State *L)
{
    const char *key = lnyx_checkname(L, 1, "the model or \"agent:NAME\"");
    if (strcmp(key, "agent:") == 0)
        return lnyx_argerror(L, 1, "the agent's name must not be empty");
    lnyx_checktype(L, 2, LUA_TTABLE);
    double v[3] = {0, 0, 0};
    static const char *const fields[3] = {"rpm", "input_tpm", "output_tpm"};
    lnyx_check_options(L, 2, fields, 3);
    for (int i = 0; i < 3; i++) {
        if (lua_getfield(L, 2, fields[i]) != LUA_TNIL) {
            if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) >= 0) || isinf(lua_tonumber(L, -1)))
                return lnyx_argerror(L, 2, "%s must be a finite number >= 0 (0 = unlimited)", fields[i]);
            v[i] = lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
    }
    if (ratelimit_configure(engine_limiter(lnyx_engine(L)), key, v[0], v[1], v[2]) != 0)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    return 0;
}

static int l_timeout_profile(lua_State *L)
{
    const char *name = lnyx_checkname(L, 1, "the profile's name");
    lua_Number s = lnyx_checknumber(L, 2);
    if (!call_timeout_valid(s))
        return lnyx_argerror(L, 2, "seconds must be > 0 and at most %g, or math.huge for no timeout",
                             NYX_TIMEOUT_MAX_S);
    if (engine_set_timeout_profile(lnyx_engine(L), name, s) != 0)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    return 0;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, clock_now_s());
    return 1;
}

/* nyx.log(message [, level]): a notice through the engine's log, as the engine's own go
 * (stderr under nyx run, the host's log function in a C host). level: "info" or "warn". */
static int l_log(lua_State *L)
{
    const char *msg = lnyx_checkstring(L, 1);
    const char *level = lnyx_optstring(L, 2, "warn");
    engine_log(lnyx_engine(L), strcmp(level, "info") == 0 ? NYX_LOG_INFO : NYX_LOG_WARN, "%s", msg);
    return 0;
}

/* nyx.progress(text [, key]): a part of the live status line (nyx run on a terminal; a C
 * host reads it with nyx_progress): the script's own, or under key another's (a council's).
 * nil or "" removes it. */
static int l_progress(lua_State *L)
{
    const char *text = lua_isnoneornil(L, 1) ? NULL : lnyx_checkstring(L, 1);
    const char *key = lua_isnoneornil(L, 2) ? "script" : lnyx_checkname(L, 2, "key");
    engine_set_progress_text(lnyx_engine(L), key, text);
    return 0;
}

/* The module's entry point: stock lua5.4 finds it by name in core.so. */
NYX_API int luaopen_nyx_core(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, engine_key);
    int hosted = lua_touserdata(L, -1) != NULL;
    lua_pop(L, 1);
    if (!hosted)
        own_engine(L);
    static const luaL_Reg funcs[] = {{"provider", l_provider},
                                     {"set_log", l_set_log},
                                     {"cancel_all", l_cancel_all},
                                     {"now", l_now},
                                     {"stop", l_stop},
                                     {"resume", l_resume},
                                     {"rate_limit", l_rate_limit},
                                     {"timeout_profile", l_timeout_profile},
                                     {"model", l_model},
                                     {"log", l_log},
                                     {"progress", l_progress},
                                     {NULL, NULL}};
    luaL_newlib(L, funcs);
    lnyx_open_tasks(L);
    lnyx_open_call(L);
    lnyx_open_batch(L);
    lnyx_open_errors(L);
    lnyx_open_json(L);
    lnyx_open_session(L);
    lnyx_open_reload(L);
    lnyx_open_budget(L);
    lnyx_open_templates(L);
    lnyx_open_guard(L);
    lnyx_open_config(L);
    lnyx_open_debug(L);
    lnyx_open_audit(L);
    lnyx_open_otel(L);
    lnyx_open_tools(L);
    lnyx_open_cost(L);
    l_vars(L);
    lua_setfield(L, -2, "vars");
    lnyx_set_str(L, "version", NYX_VERSION);
    return 1;
}
