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

int lnyx_push_keys(lua_State *L, const lnyx_keys *ks)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, ks) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, ks->n, 0);
        for (int i = 0; i < ks->n; i++) {
            lua_pushstring(L, ks->names[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, ks);
    }
    return lua_gettop(L);
}

void lnyx_key_set(lua_State *L, int keys, int k)
{
    lua_rawgeti(L, keys, k + 1);
    lua_insert(L, -2);
    lua_rawset(L, -3);
}

void lnyx_key_int(lua_State *L, int keys, int k, long long v)
{
    lua_rawgeti(L, keys, k + 1);
    lua_pushinteger(L, v);
    lua_rawset(L, -3);
}

void lnyx_key_num(lua_State *L, int keys, int k, double v)
{
    lua_rawgeti(L, keys, k + 1);
    lua_pushnumber(L, v);
    lua_rawset(L, -3);
}

void lnyx_key_bool(lua_State *L, int keys, int k, int v)
{
    lua_rawgeti(L, keys, k + 1);
    lua_pushboolean(L, v);
    lua_rawset(L, -3);
}

void lnyx_key_str(lua_State *L, int keys, int k, const char *v)
{
    if (!v)
        return;
    lua_rawgeti(L, keys, k + 1);
    /* lua_pushstring would first look the pointer up in Lua's cache of C strings (a strcmp
     * or two that never hit: each reply's strings are new memory). */
    lua_pushlstring(L, v, strlen(v));
    lua_rawset(L, -3);
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

void lnyx_new_class(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc)
{
    luaL_newmetatable(L, tname);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}
