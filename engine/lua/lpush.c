/* Pieces every binding uses to build what it hands Lua: the fields of a result table and
 * userdata whose __gc frees what they hold. */
#include "lnyx.h"

#include <string.h>

void lnyx_set_int(lua_State *L, const char *k, long long v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

void lnyx_set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

void lnyx_set_str(lua_State *L, const char *k, const char *v)
{
    if (!v)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

void *lnyx_new_udata(lua_State *L, size_t size, int nuvalue, const char *tname, lua_CFunction gc)
{
    void *p = lua_newuserdatauv(L, size, nuvalue);
    /* Zeroed before the metatable is set, so __gc never sees garbage if a later step raises. */
    memset(p, 0, size);
    if (luaL_newmetatable(L, tname)) {
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return p;
}
