/* nyx.budget (status, limit) and nyx.on (event handlers: budget_alert, stopped, ...). */
#include "lnyx.h"

#include "core/budget.h"
#include "store/store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const handlers_key = "nyx.handlers"; /* event -> array of functions */

static int status_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    lnyx_store_wait *w = (lnyx_store_wait *)ctx;
    lnyx_store_check(L, w);
    lua_createtable(L, (int)w->rows.n, 0);
    lnyx_rows r = {L, 0};
    for (size_t i = 0; i < w->rows.n; i++)
        lnyx_push_row(&r, w->rows.rows[i].ncols, w->rows.rows[i].names, w->rows.rows[i].values,
                      w->rows.rows[i].types);
    return 1;
}

/* nyx.budget.status(): every scope with limit, spent, reserved and remaining. */
static int l_status(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    if (engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    if (!engine_store(e)) {
        lua_newtable(L);
        return 1;
    }
    error_info err;
    error_clear(&err);
    lnyx_store_wait *w = lnyx_store_wait_new(L);
    if (store_budget_status_async(engine_store(e), rowset_add, &w->rows, lnyx_store_done, w, &err) != 0) {
        lnyx_store_not_started(w);
        return lnyx_raise(L, &err);
    }
    return lnyx_wait(L, &w->op, (lua_KContext)w, status_k);
}

/* nyx.budget.limit(scope, usd [, per]): "day", "month", "session:NAME" or "agent:NAME"; nil
 * removes. per, for an agent: "day" (the default), "month" or "total". */
static int l_limit(lua_State *L)
{
    const char *scope = lnyx_checkname(L, 1, "scope");
    double usd = -1;
    if (!lua_isnoneornil(L, 2)) {
        if (!lua_isnumber(L, 2) || !(lua_tonumber(L, 2) >= 0) || isinf(lua_tonumber(L, 2)))
            return lnyx_argerror(L, 2, "limit must be a finite number of USD >= 0, or nil to remove it");
        usd = lua_tonumber(L, 2);
    }
    if (strcmp(scope, "day") != 0 && strcmp(scope, "month") != 0 && strncmp(scope, "session:", 8) != 0 &&
        strncmp(scope, "agent:", 6) != 0)
        return lnyx_argerror(L, 1, "scope must be \"day\", \"month\", \"session:NAME\" or \"agent:NAME\"");
    if (strcmp(scope, "session:") == 0 || strcmp(scope, "agent:") == 0)
        return lnyx_argerror(L, 1, "scope \"%s\" needs a name after the colon", scope);
    int per = -1;
    if (!lua_isnoneornil(L, 3)) {
        static const char *const windows[] = {"total", "day", "month", NULL};
        const char *w = lnyx_checkstring(L, 3);
        for (int i = 0; windows[i]; i++)
            if (strcmp(w, windows[i]) == 0)
                per = i; /* BUDGET_PER_TOTAL, _DAY, _MONTH */
        if (per < 0)
            return lnyx_argerror(L, 3, "per must be \"day\", \"month\" or \"total\", got \"%s\"", w);
        if (strncmp(scope, "agent:", 6) != 0)
            return lnyx_argerror(L, 3, "only an agent's budget has a window; %s has its own", scope);
    }
    if (budget_set_limit_per(lnyx_engine(L), scope, usd, per) != 0)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    return 0;
}

/* nyx.budget.scope(scope): the ledger's name of scope now, as nyx.budget.status() lists it
 * ("agent:NAME" -> "agent:NAME/2026-12-06" for a daily agent budget, "day" -> today's). */
static int l_scope(lua_State *L)
{
    char name[200];
    budget_scope_now(lnyx_engine(L), lnyx_checkname(L, 1, "scope"), name, sizeof name);
    lua_pushstring(L, name);
    return 1;
}

static void emit(nyx_engine *e, const char *event, const engine_field *f, size_t n)
{
    lua_State *L = engine_emit_ud(e);
    lua_getfield(L, LUA_REGISTRYINDEX, handlers_key);
    if (lua_getfield(L, -1, event) != LUA_TTABLE) {
        lua_pop(L, 2);
        return;
    }
    lua_Integer count = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= count; i++) {
        lua_rawgeti(L, -1, i);
        int ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_createtable(L, 0, (int)n + 1);
        lnyx_set_str(L, "event", event);
        for (size_t k = 0; k < n; k++) {
            if (f[k].str)
                lua_pushstring(L, f[k].str);
            else
                lua_pushnumber(L, f[k].num);
            lua_setfield(L, -2, f[k].key);
        }
        if (lnyx_callback(L, ref, 1) != LUA_OK)
            engine_log(e, NYX_LOG_WARN, "nyx: a %s handler failed: %s", event, lua_tostring(L, -1));
        lua_pop(L, 1);
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
    }
    lua_pop(L, 2);
}

/* nyx.on(event, fn): fn(tbl) runs for each event; it must not wait (no calls or sleeps). */
static int l_on(lua_State *L)
{
    const char *event = lnyx_checkstring(L, 1);
    lnyx_checktype(L, 2, LUA_TFUNCTION);
    lua_getfield(L, LUA_REGISTRYINDEX, handlers_key);
    if (lua_getfield(L, -1, event) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, event);
    }
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

int lnyx_open_budget(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, handlers_key) != LUA_TTABLE) {
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, handlers_key);
    }
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    engine_set_emit(e, emit, lua_tothread(L, -1));
    lua_pop(L, 1);
    static const luaL_Reg budget[] = {{"status", l_status}, {"limit", l_limit}, {"scope", l_scope}, {NULL, NULL}};
    luaL_newlib(L, budget);
    lua_setfield(L, -2, "budget");
    lua_pushcfunction(L, l_on);
    lua_setfield(L, -2, "on");
    return 0;
}
