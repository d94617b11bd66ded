#define _POSIX_C_SOURCE 200809L
/* Sessions (nyx.session, a to-be-closed value), thought nodes and statistics tables. */
#include "lnyx.h"

#include "cache/policy.h"
#include "core/budget.h"
#include "base/clock.h"
#include "store/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lsession {
    nyx_engine *e;
    call_session *s; /* owned by the engine: sessions outlive scripts and reloads */
} lsession;

static void push_stats(lua_State *L, const cache_stats *st)
{
    lua_createtable(L, 0, 20);
    lnyx_set_int(L, "calls", st->calls);
    lnyx_set_int(L, "ok", st->ok);
    lnyx_set_int(L, "errors", st->errors);
    lnyx_set_int(L, "cancelled", st->cancelled);
    lnyx_set_int(L, "calls_with_cache_read", st->calls_with_read);
    lnyx_set_int(L, "calls_with_cache_write", st->calls_with_write);
    lnyx_set_num(L, "cache_hit_rate", stats_hit_rate(st));
    lnyx_set_int(L, "input_tokens", st->input_tokens);
    lnyx_set_int(L, "output_tokens", st->output_tokens);
    lnyx_set_int(L, "cache_read_tokens", st->cache_read_tokens);
    lnyx_set_int(L, "cache_write_tokens", st->cache_write_tokens);
    lnyx_set_num(L, "cost_usd", st->cost_usd);
    lnyx_set_num(L, "cost_without_cache_usd", st->cost_without_cache_usd);
    lnyx_set_num(L, "saved_usd", st->saved_usd);
    lnyx_set_num(L, "cost_saved_by_caching", st->saved_usd);
    lnyx_set_int(L, "unknown_cost_calls", st->unknown_cost_calls);
    lnyx_set_int(L, "unexpected_misses", st->unexpected_misses);
    lnyx_set_int(L, "from_response_cache", st->from_response_cache);
    lnyx_set_int(L, "tool_calls", st->tool_calls);
    lnyx_set_int(L, "tool_rounds", st->tool_rounds);
    lnyx_set_int(L, "iterations", st->iterations);
    lnyx_set_num(L, "avg_latency_ms", st->calls ? st->latency_ms_total / (double)st->calls : 0.0);
}

static lsession *check_session(lua_State *L, int i)
{
    return lnyx_checkudata(L, i, NYX_SESSION_MT);
}

/* Opens (or reopens) the session. */
static int open_session(lua_State *L, nyx_engine *e, const char *name, double budget)
{
    call_session *s = engine_session_open(e, name, budget);
    if (!s)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    lsession *ls = lua_newuserdatauv(L, sizeof *ls, 0);
    ls->e = e;
    ls->s = s;
    luaL_setmetatable(L, NYX_SESSION_MT);
    return 1;
}

/* A session reopened with another budget than the one it has: changing a limit is
 * nyx.budget.limit's job, never a side effect of opening a session. */
static int limit_differs(lua_State *L, const char *name, double have, const char *where, double asked)
{
    return lnyx_argerror(L, 1,
                         "budget_usd: session %s already has a limit of $%.6g (%s), this asks $%.6g; "
                         "change it with nyx.budget.limit(\"session:%s\", usd) or leave budget_usd out",
                         name, have, where, asked, name);
}

/* The ledger's answer: the stored limit of the session's scope, if any, must match. */
static int session_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    lnyx_store_wait *w = (lnyx_store_wait *)ctx;
    if (w->op.cancelled)
        return lnyx_raise_cancelled(L);
    int top = lua_gettop(L); /* name, budget, the wait */
    const char *name = lua_tostring(L, top - 2);
    double budget = lua_tonumber(L, top - 1);
    nyx_engine *e = lnyx_engine(L);
    char scope[200];
    snprintf(scope, sizeof scope, "session:%s", name);
    /* An unreadable ledger does not keep a session from opening: reservations still check. */
    for (size_t i = 0; w->rc == 0 && i < w->rows.n; i++) {
        const rowset_row *r = &w->rows.rows[i];
        const char *sc = rows_value(r->ncols, r->names, r->values, "scope");
        const char *limit = rows_value(r->ncols, r->names, r->values, "limit_usd");
        if (sc && limit && strcmp(sc, scope) == 0 && strtod(limit, NULL) != budget)
            return limit_differs(L, name, strtod(limit, NULL), "stored in the budget ledger", budget);
    }
    return open_session(L, e, name, budget);
}

static int l_session(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    const char *name = NULL;
    double budget = -1;
    char generated[64];
    if (!lua_isnoneornil(L, 1)) {
        static const char *const options[] = {"name", "budget_usd"};
        lnyx_checktype(L, 1, LUA_TTABLE);
        lnyx_check_options(L, 1, options, sizeof options / sizeof *options);
        if (lua_getfield(L, 1, "name") != LUA_TNIL) {
            if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
                return lnyx_argerror(L, 1, "name must be a non-empty string");
            name = lua_tostring(L, -1);
            if (strlen(name) != lua_rawlen(L, -1))
                return lnyx_argerror(L, 1, "name must not contain NUL bytes");
        }
        if (lua_getfield(L, 1, "budget_usd") != LUA_TNIL) {
            if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) >= 0) || isinf(lua_tonumber(L, -1)))
                return lnyx_argerror(L, 1, "budget_usd must be a finite number >= 0");
            budget = lua_tonumber(L, -1);
        }
    }
    if (engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    if (!name) {
        snprintf(generated, sizeof generated, "session_%.0f_%llu", clock_wall_s(),
                 (unsigned long long)engine_next_seq(e));
        return open_session(L, e, generated, budget); /* new: nothing to compare with */
    }
    if (budget < 0)
        return open_session(L, e, name, budget);
    char scope[200];
    snprintf(scope, sizeof scope, "session:%s", name);
    double set = budget_limit_set(e, scope);
    const call_session *old = engine_session(e, name, 0);
    if (set >= 0 || (old && old->budget_usd >= 0)) {
        double have = set >= 0 ? set : old->budget_usd;
        if (have != budget)
            return limit_differs(L, name, have, set >= 0 ? "set by nyx.budget.limit" : "given when it was opened",
                                 budget);
        return open_session(L, e, name, budget);
    }
    if (!engine_store(e))
        return open_session(L, e, name, budget);
    /* Opened before, by another run or process: the ledger holds its limit. */
    lua_pushstring(L, name);
    lua_pushnumber(L, budget);
    error_info err;
    error_clear(&err);
    lnyx_store_wait *w = lnyx_store_wait_new(L);
    if (store_budget_status_async(engine_store(e), rowset_add, &w->rows, lnyx_store_done, w, &err) != 0) {
        lnyx_store_not_started(w);
        return open_session(L, e, name, budget);
    }
    return lnyx_wait(L, &w->op, (lua_KContext)w, session_k);
}

/* __close and __gc: ends the session and records its totals (once). */
static int session_close(lua_State *L)
{
    lsession *ls = check_session(L, 1);
    if (ls->s)
        engine_session_end(ls->e, ls->s);
    return 0;
}

static int session_stats(lua_State *L)
{
    lsession *ls = check_session(L, 1);
    push_stats(L, &ls->s->stats);
    lnyx_set_str(L, "session", ls->s->name);
    return 1;
}

static int session_index(lua_State *L)
{
    lsession *ls = check_session(L, 1);
    const char *k = lnyx_checkstring(L, 2);
    if (strcmp(k, "name") == 0)
        lua_pushstring(L, ls->s->name);
    else if (strcmp(k, "budget_usd") == 0 && ls->s->budget_usd >= 0)
        lua_pushnumber(L, ls->s->budget_usd);
    else if (strcmp(k, "closed") == 0)
        lua_pushboolean(L, !ls->s->open);
    else if (strcmp(k, "stats") == 0)
        lua_pushcfunction(L, session_stats);
    else if (strcmp(k, "close") == 0)
        lua_pushcfunction(L, session_close);
    else
        lua_pushnil(L);
    return 1;
}

static int session_tostring(lua_State *L)
{
    lua_pushfstring(L, "nyx.session(%s)", check_session(L, 1)->s->name);
    return 1;
}

static void push_group(lua_State *L, const char *field, const stats_group *g)
{
    lua_createtable(L, 0, (int)g->n);
    for (size_t i = 0; i < g->n; i++) {
        push_stats(L, &g->stats[i]);
        lua_setfield(L, -2, g->names[i]);
    }
    lua_setfield(L, -2, field);
}

static int l_stats(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    engine_counters c;
    engine_counters_read(e, &c);
    push_stats(L, c.stats);
    lua_pushboolean(L, c.degraded);
    lua_setfield(L, -2, "storage_degraded");
    lnyx_set_int(L, "records_lost", c.records_lost);
    lnyx_set_int(L, "breaker_opens", c.breaker_opens);
    lnyx_set_int(L, "connections_opened", c.connections);
    lnyx_set_int(L, "tls_handshakes", c.tls_handshakes);
    lnyx_set_num(L, "write_premium_unread_usd", engine_cache(e) ? cache_unread_premium(engine_cache(e)) : 0.0);
    lua_createtable(L, 0, CACHE_MISS_KINDS);
    for (int i = 1; i < CACHE_MISS_KINDS; i++) {
        lua_pushinteger(L, c.miss_reasons[i]);
        lua_setfield(L, -2, cache_miss_name(i));
    }
    lua_setfield(L, -2, "unexpected_miss_reasons");
    push_group(L, "by_model", c.by_model);
    push_group(L, "by_agent", c.by_agent);
    push_group(L, "by_template", c.by_template);
    lua_newtable(L);
    double ratio;
    int64_t samples;
    const model_info *m;
    for (size_t i = 0; engine_cache(e) && (m = cache_calibration_at(engine_cache(e), i, &ratio, &samples)); i++) {
        lua_createtable(L, 0, 2);
        lnyx_set_num(L, "bytes_per_token", ratio);
        lnyx_set_int(L, "samples", samples);
        lua_setfield(L, -2, m->id);
    }
    lua_setfield(L, -2, "calibration");
    return 1;
}

static int thought_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    lnyx_store_wait *w = (lnyx_store_wait *)ctx;
    lnyx_store_check(L, w);
    lua_pushinteger(L, w->id);
    return 1;
}

static int l_thought(lua_State *L)
{
    static const char *const options[] = {"label", "parent", "session"};
    nyx_engine *e = lnyx_engine(L);
    lnyx_checktype(L, 1, LUA_TTABLE);
    lnyx_check_options(L, 1, options, sizeof options / sizeof *options);
    lua_getfield(L, 1, "label");
    const char *label = lua_tostring(L, -1);
    if (!label || !*label) /* "" made a node that nyx thoughts shows as "label=" */
        return lnyx_argerror(L, 1, "label must be a non-empty string");
    lua_Integer parent = 0;
    if (lua_getfield(L, 1, "parent") != LUA_TNIL) {
        int isint = 0;
        parent = lua_tointegerx(L, -1, &isint);
        if (!isint || parent <= 0)
            return lnyx_argerror(L, 1, "parent must be a node id from nyx.thought");
    }
    const char *session = NULL;
    if (lua_getfield(L, 1, "session") != LUA_TNIL) {
        lsession *ls = luaL_testudata(L, -1, NYX_SESSION_MT);
        session = ls ? ls->s->name : lua_tostring(L, -1);
        /* A table or "" made a node of no session, said nowhere, as nyx.call refuses them. */
        if (!session || !*session)
            return lnyx_argerror(L, 1, "session must be a session or its name (a non-empty string)");
    }
    if (engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    error_info err;
    error_clear(&err);
    if (!engine_store(e)) {
        error_set(&err, "store_error", 0, "thought nodes need the database, which is unavailable");
        return lnyx_raise(L, &err);
    }
    lnyx_store_wait *w = lnyx_store_wait_new(L);
    if (store_thought_add_async(engine_store(e), session, parent, label, lnyx_store_got_id, w, &err) != 0) {
        lnyx_store_not_started(w);
        return lnyx_raise(L, &err);
    }
    return lnyx_wait(L, &w->op, (lua_KContext)w, thought_k);
}

int lnyx_open_session(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__index", session_index},
                                    {"__close", session_close},
                                    {"__gc", session_close},
                                    {"__tostring", session_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, NYX_SESSION_MT);
    luaL_setfuncs(L, meta, 0);
    lua_pop(L, 1);
    static const luaL_Reg funcs[] = {
        {"session", l_session}, {"stats", l_stats}, {"thought", l_thought}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
