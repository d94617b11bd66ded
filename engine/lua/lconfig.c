#define _POSIX_C_SOURCE 200809L
/* nyx.config: get, set and list settings.
 *   nyx.config.get("CLAUDE_DEFAULT_MODEL")  an environment setting by its variable name
 *   nyx.config.get("budget.daily_usd")      a setting of system_config (a name with a dot):
 *                                           its value in force (number, boolean, or an array
 *                                           for a list; nil when none) and its source
 *   nyx.config.set("budget.hard", false)    checks and stores it in the database; nil removes
 *   nyx.config.list()                       {{key=, value=, source=}, ...} */
#include "lnyx.h"

#include "core/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A setting's text as the Lua value of its type. */
static void push_typed(lua_State *L, const char *key, const char *text)
{
    const char *type = settings_type(key);
    if (!text) {
        lua_pushnil(L);
    } else if (strcmp(type, "boolean") == 0) {
        lua_pushboolean(L, strcmp(text, "true") == 0);
    } else if (strcmp(type, "list") == 0) {
        lua_newtable(L);
        lua_Integer n = 0;
        for (const char *p = text; *p;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            lua_pushlstring(L, p, len);
            lua_rawseti(L, -2, ++n);
            p += len + (end != NULL);
        }
    } else if (strcmp(type, "choice") == 0) {
        lua_pushstring(L, text);
    } else {
        lua_pushnumber(L, strtod(text, NULL));
    }
}

static int env_setting(lua_State *L, const char *name)
{
    config_value v;
    if (config_lookup(engine_cfg(lnyx_engine(L)), name, &v) != 0)
        return lnyx_argerror(L, 1, "unknown setting \"%s\"", name);
    switch (v.kind) {
    case CONFIG_STRING: lua_pushstring(L, v.string); break;
    case CONFIG_NUMBER: lua_pushnumber(L, v.number); break;
    case CONFIG_COUNT: lua_pushinteger(L, (lua_Integer)v.count); break;
    case CONFIG_BOOL: lua_pushboolean(L, v.boolean); break;
    default: lua_pushnil(L); break;
    }
    return 1;
}

static int l_get(lua_State *L)
{
    const char *name = lnyx_checkstring(L, 1);
    if (!strchr(name, '.'))
        return env_setting(L, name);
    error_info err;
    error_clear(&err);
    char *value = NULL;
    const char *source = NULL;
    if (settings_get(lnyx_engine(L), name, &value, &source, &err) != 0)
        return lnyx_raise(L, &err);
    push_typed(L, name, value);
    free(value);
    lua_pushstring(L, source);
    return 2;
}

static int l_set(lua_State *L)
{
    const char *key = lnyx_checkstring(L, 1);
    char text[64];
    luaL_Buffer b;
    const char *value = NULL;
    switch (lua_type(L, 2)) {
    case LUA_TNONE:
    case LUA_TNIL:
        break;
    case LUA_TBOOLEAN:
        value = lua_toboolean(L, 2) ? "true" : "false";
        break;
    case LUA_TNUMBER:
        snprintf(text, sizeof text, "%.17g", (double)lua_tonumber(L, 2));
        value = text;
        break;
    case LUA_TSTRING:
        value = lua_tostring(L, 2);
        break;
    case LUA_TTABLE: { /* a list: {"analyst", "editor"} */
        luaL_buffinit(L, &b);
        lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, 2, i) != LUA_TSTRING)
                return lnyx_argerror(L, 2, "%s: list item %d is not a string", key, (int)i);
            if (i > 1)
                luaL_addchar(&b, ',');
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        value = lua_tostring(L, -1);
        break;
    }
    default:
        return lnyx_argerror(L, 2, "%s: a string, number, boolean, list or nil expected, got %s", key,
                             luaL_typename(L, 2));
    }
    error_info err;
    error_clear(&err);
    if (settings_set(lnyx_engine(L), key, value, &err) != 0)
        return lnyx_raise(L, &err);
    return 0;
}

typedef struct list_rows {
    lua_State *L;
    lua_Integer n;
} list_rows;

static int list_row(void *ud, int ncols, const char *const *names, const char *const *values,
                    const char *types)
{
    (void)types;
    list_rows *r = ud;
    (void)names;
    if (ncols < 3)
        return 0;
    lua_createtable(r->L, 0, 3);
    lua_pushstring(r->L, values[0]);
    lua_setfield(r->L, -2, "key");
    push_typed(r->L, values[0], values[1]);
    lua_setfield(r->L, -2, "value");
    lua_pushstring(r->L, values[2]);
    lua_setfield(r->L, -2, "source");
    lua_rawseti(r->L, -2, ++r->n);
    return 0;
}

static int l_list(lua_State *L)
{
    error_info err;
    error_clear(&err);
    lua_newtable(L);
    list_rows r = {L, 0};
    if (settings_list(lnyx_engine(L), list_row, &r, &err) < 0)
        return lnyx_raise(L, &err);
    return 1;
}

int lnyx_open_config(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"get", l_get}, {"set", l_set}, {"list", l_list}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    lua_setfield(L, -2, "config");
    return 0;
}
