/* core.otel_tool{name=, call_id=, started=, session=, agent=, error=, trace_id=, parent_id=}:
 * a tool the script ran, as an execute_tool span (otel.c); nothing when export is off. */
#include "lnyx.h"

#include "core/otel.h"

/* A string field of the table at index 1, or NULL when absent. */
static const char *opt_field(lua_State *L, const char *key)
{
    int t = lua_getfield(L, 1, key);
    if (t == LUA_TNIL)
        return NULL;
    if (t != LUA_TSTRING)
        lnyx_argerror(L, 1, "%s must be a string", key);
    return lua_tostring(L, -1); /* stays on the stack until the function returns */
}

static int l_otel_tool(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TTABLE);
    nyx_engine *e = lnyx_engine(L);
    if (!engine_otel(e))
        return 0;
    otel_tool t = {0};
    if (!(t.name = opt_field(L, "name")))
        return lnyx_argerror(L, 1, "name is required");
    t.call_id = opt_field(L, "call_id");
    t.session = opt_field(L, "session");
    t.agent = opt_field(L, "agent");
    t.error_type = opt_field(L, "error");
    t.trace_id = opt_field(L, "trace_id");
    t.parent_id = opt_field(L, "parent_id");
    lua_getfield(L, 1, "started");
    if (!lua_isnumber(L, -1))
        return lnyx_argerror(L, 1, "started must be a number (nyx.now())");
    t.started = lua_tonumber(L, -1);
    otel_tool_finished(e, &t);
    return 0;
}

int lnyx_open_otel(lua_State *L)
{
    lua_pushcfunction(L, l_otel_tool);
    lua_setfield(L, -2, "otel_tool");
    return 0;
}
