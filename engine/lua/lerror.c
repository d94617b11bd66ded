/* Error tables: every failure that reaches Lua is a table with a type. */
#include "lnyx.h"

#include "base/closest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "where");
    lua_getfield(L, 1, "type");
    lua_getfield(L, 1, "message");
    lua_pushfstring(L, "%s%s: %s", lua_isstring(L, 2) ? lua_tostring(L, 2) : "",
                    lua_isstring(L, 3) ? lua_tostring(L, 3) : "error",
                    lua_isstring(L, 4) ? lua_tostring(L, 4) : "");
    return 1;
}

/* The text of a raised value (at index 1), run protected by lnyx_push_error_text. */
static int error_text(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTABLE && luaL_getmetafield(L, 1, "__tostring") == LUA_TNIL) {
        lua_getfield(L, 1, "type");
        lua_getfield(L, 1, "message");
        const char *type = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
        const char *msg = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : NULL;
        if (type && msg)
            lua_pushfstring(L, "%s: %s", type, msg);
        else if (type || msg)
            lua_pushstring(L, type ? type : msg);
        else
            luaL_tolstring(L, 1, NULL);
        return 1;
    }
    luaL_tolstring(L, 1, NULL);
    return 1;
}

void lnyx_push_error_text(lua_State *L, int i)
{
    i = lua_absindex(L, i);
    if (lua_type(L, i) == LUA_TSTRING) {
        lua_pushvalue(L, i);
        return;
    }
    lua_pushcfunction(L, error_text);
    lua_pushvalue(L, i);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushfstring(L, "an error value (a %s) that cannot be turned into text", luaL_typename(L, i));
    }
}

static void push_metatable(lua_State *L)
{
    if (luaL_newmetatable(L, NYX_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
}

void lnyx_push_error(lua_State *L, const error_info *err)
{
    lua_createtable(L, 0, 8);
    lnyx_set_str(L, "type", err->type[0] ? err->type : "error");
    lnyx_set_str(L, "message", err->message);
    if (err->status) {
        lnyx_set_int(L, "status", err->status);
    }
    lua_pushboolean(L, err->retryable);
    lua_setfield(L, -2, "retryable");
    if (err->request_id[0])
        lnyx_set_str(L, "request_id", err->request_id);
    if (err->retry_after_s >= 0) {
        lnyx_set_num(L, "retry_after", err->retry_after_s);
    }
    push_metatable(L);
    lua_setmetatable(L, -2);
}

static void add_where(lua_State *L)
{
    luaL_where(L, 1);
    lua_setfield(L, -2, "where");
}

int lnyx_raise(lua_State *L, const error_info *err)
{
    lnyx_push_error(L, err);
    add_where(L);
    return lua_error(L);
}

/* Pushes what is wrong with the key at index key of an options table whose options are
 * names[0..n): "unknown option 'budjet_usd'; did you mean 'budget_usd'?". */
static void push_unknown_option(lua_State *L, int key, const char *const *names, size_t n)
{
    if (lua_type(L, key) != LUA_TSTRING) {
        lua_pushfstring(L, "options are named (name = value); the key %s is not a name",
                        luaL_tolstring(L, key, NULL));
        lua_remove(L, -2);
        return;
    }
    size_t len;
    const char *word = lua_tolstring(L, key, &len);
    /* Shown as Lua writes it in a string ("model\0x"), so a NUL or a control byte in the key
     * cannot make it read as another, valid option. */
    luaL_Buffer shown;
    luaL_buffinit(L, &shown);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c < 0x20 || c == 0x7f) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\%u", c);
            luaL_addstring(&shown, esc);
        } else {
            luaL_addchar(&shown, (char)c);
        }
    }
    luaL_pushresult(&shown);
    const char *meant = strlen(word) == len ? closest_name(word, names, n) : NULL;
    if (meant)
        lua_pushfstring(L, "unknown option '%s'; did you mean '%s'?", lua_tostring(L, -1), meant);
    else
        lua_pushfstring(L, "unknown option '%s'", lua_tostring(L, -1));
    lua_remove(L, -2);
}

int lnyx_unknown_option(lua_State *L, int arg, int key, const char *const *names, size_t n)
{
    push_unknown_option(L, lua_absindex(L, key), names, n);
    return lnyx_argerror(L, arg, "%s", lua_tostring(L, -1));
}

/* Pushes what is wrong with the first key of the table at arg that is not one of names[0..n)
 * and returns 1, or returns 0: every key is an option, or the table has a metatable (its
 * __index may hold options its keys do not show). */
static int find_unknown_option(lua_State *L, int arg, const char *const *names, size_t n)
{
    arg = lua_absindex(L, arg);
    if (lua_getmetatable(L, arg)) {
        lua_pop(L, 1);
        return 0;
    }
    for (lua_pushnil(L); lua_next(L, arg); lua_pop(L, 1)) {
        size_t i = 0;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        while (k && i < n && strcmp(names[i], k) != 0)
            i++;
        if (!k || i == n) {
            push_unknown_option(L, lua_absindex(L, -2), names, n);
            lua_replace(L, -3);
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

void lnyx_check_options(lua_State *L, int arg, const char *const *names, size_t n)
{
    if (lua_type(L, arg) == LUA_TTABLE && find_unknown_option(L, arg, names, n))
        lnyx_argerror(L, arg, "%s", lua_tostring(L, -1));
}

/* core.unknown_option(t, names) -> nil | problem: for the Lua library's option tables, which
 * raise their own errors ("bad argument #1 to 'council' (unknown option ...)"). */
static int l_unknown_option(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TTABLE);
    lnyx_checktype(L, 2, LUA_TTABLE);
    const char *names[64];
    size_t n = 0;
    for (; n < sizeof names / sizeof *names; n++) {
        if (lua_rawgeti(L, 2, (lua_Integer)n + 1) != LUA_TSTRING) {
            lua_pop(L, 1);
            break;
        }
        names[n] = lua_tostring(L, -1); /* the list keeps it alive */
        lua_pop(L, 1);
    }
    if (!find_unknown_option(L, 1, names, n))
        lua_pushnil(L);
    return 1;
}

static int type_error(lua_State *L, int arg, const char *expected)
{
    return lnyx_argerror(L, arg, "%s expected, got %s", expected, luaL_typename(L, arg));
}

const char *lnyx_checklstring(lua_State *L, int arg, size_t *len)
{
    const char *s = lua_tolstring(L, arg, len);
    if (!s)
        type_error(L, arg, "string");
    return s;
}

const char *lnyx_checkname(lua_State *L, int arg, const char *what)
{
    size_t len = 0;
    const char *s = lnyx_checklstring(L, arg, &len);
    if (len == 0)
        lnyx_argerror(L, arg, "%s must not be empty", what);
    if (strlen(s) != len)
        lnyx_argerror(L, arg, "%s must not contain NUL bytes", what);
    return s;
}

const char *lnyx_optstring(lua_State *L, int arg, const char *def)
{
    return lua_isnoneornil(L, arg) ? def : lnyx_checklstring(L, arg, NULL);
}

lua_Number lnyx_checknumber(lua_State *L, int arg)
{
    int isnum = 0;
    lua_Number d = lua_tonumberx(L, arg, &isnum);
    if (!isnum)
        type_error(L, arg, "number");
    return d;
}

void lnyx_checktype(lua_State *L, int arg, int t)
{
    if (lua_type(L, arg) != t)
        type_error(L, arg, lua_typename(L, t));
}

void *lnyx_checkudata(lua_State *L, int arg, const char *tname)
{
    void *p = luaL_testudata(L, arg, tname);
    if (!p)
        type_error(L, arg, tname);
    return p;
}

int lnyx_fail(lua_State *L, const char *type, const char *fmt, ...)
{
    error_info err;
    error_clear(&err);
    snprintf(err.type, sizeof err.type, "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    return lnyx_raise(L, &err);
}

int lnyx_argerror(lua_State *L, int arg, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    lua_Debug ar;
    const char *fname = "?";
    if (lua_getstack(L, 0, &ar)) {
        lua_getinfo(L, "nf", &ar);
        if (ar.name)
            fname = ar.name;
        else if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE &&
                 lua_getfield(L, -1, "nyx.core") == LUA_TTABLE) {
            /* Called through pcall: name it by its key in the module. */
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                if (lua_rawequal(L, -1, -5) && lua_type(L, -2) == LUA_TSTRING) {
                    fname = lua_tostring(L, -2);
                    lua_pop(L, 2);
                    break;
                }
                lua_pop(L, 1);
            }
        }
    }
    error_info err;
    error_clear(&err);
    error_set(&err, "invalid_argument", 0, "bad argument #%d to '%s' (%s)", arg, fname, detail);
    return lnyx_raise(L, &err);
}

/* nyx.raise(err [, level]): raises err, a table with a type, as the engine raises its own:
 * with the error metatable and `where` naming the line at level (1: the function calling
 * raise, as for error()) unless it already names one. For the Lua library, whose errors
 * must look like the engine's. */
static int l_raise(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2) && !lua_isinteger(L, 2))
        return lnyx_argerror(L, 2, "level must be a whole number");
    int level = lua_isnoneornil(L, 2) ? 1 : (int)lua_tointeger(L, 2);
    lua_settop(L, 1);
    if (lua_getfield(L, 1, "type") != LUA_TSTRING)
        return lnyx_argerror(L, 1, "an error table needs a type");
    lua_pop(L, 1);
    const char *where = lua_getfield(L, 1, "where") == LUA_TSTRING ? lua_tostring(L, -1) : "";
    int has_where = where[0] != '\0';
    lua_pop(L, 1);
    if (!has_where && level > 0) {
        luaL_where(L, level);
        lua_setfield(L, 1, "where");
    }
    if (!lua_getmetatable(L, 1)) {
        push_metatable(L);
        lua_setmetatable(L, 1);
    } else {
        lua_pop(L, 1);
    }
    return lua_error(L);
}

int lnyx_open_errors(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"raise", l_raise}, {"unknown_option", l_unknown_option}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
