/* nyx.audit(kind, detail, {session=, agent=}): a script's own security events (a policy that
 * blocked or redacted a prompt, ...) in the audit trail beside the engine's; the detail is
 * stored as the storage mode stores text. */
#include "lnyx.h"

/* A session object or its name; NULL when absent. */
static const char *session_name(lua_State *L, int opts)
{
    if (lua_getfield(L, opts, "session") == LUA_TNIL)
        return NULL;
    if (luaL_testudata(L, -1, NYX_SESSION_MT)) {
        lua_getfield(L, -1, "name");
        lua_replace(L, -2);
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        lnyx_argerror(L, 3, "session must be a session or its name");
    return lua_tostring(L, -1);
}

static int l_audit(lua_State *L)
{
    const char *kind = lnyx_checkstring(L, 1);
    if (!*kind)
        return lnyx_argerror(L, 1, "kind must be a non-empty string");
    const char *detail = lnyx_optstring(L, 2, NULL);
    const char *session = NULL, *agent = NULL;
    if (!lua_isnoneornil(L, 3)) {
        static const char *const options[] = {"session", "agent"};
        lnyx_checktype(L, 3, LUA_TTABLE);
        lnyx_check_options(L, 3, options, sizeof options / sizeof *options);
        session = session_name(L, 3);
        if (lua_getfield(L, 3, "agent") != LUA_TNIL && lua_type(L, -1) != LUA_TSTRING)
            return lnyx_argerror(L, 3, "agent must be a string");
        agent = lua_tostring(L, -1);
    }
    nyx_engine *e = lnyx_engine(L);
    if (engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    error_info err;
    error_clear(&err);
    if (engine_audit(e, kind, session, agent, detail, &err) != 0)
        return lnyx_raise(L, &err);
    return 0;
}

int lnyx_open_audit(lua_State *L)
{
    lua_pushcfunction(L, l_audit);
    lua_setfield(L, -2, "audit");
    return 0;
}
