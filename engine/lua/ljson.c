/* Lua values <-> JSON (cJSON), for content blocks, tool schemas and tool inputs. Object keys
 * are written sorted, so the same table always gives the same bytes: the API caches exact
 * prefixes, and a tool list that reorders itself from run to run would never be read back.
 * A table whose keys are exactly 1..n (n > 0) is an array; any other table, the empty one
 * included, is an object (tool inputs and schemas are objects far more often than arrays),
 * but an empty table with the array mark (ARRAY_MARK, nyx.json_array) is []: a schema's
 * `required = {}` written as {} is one the API refuses. Decoding marks the empty arrays it
 * makes, so [] comes back as []; a non-empty array needs no mark.
 *
 * Numbers: an integer is written as its digits, a float as the shortest text that reads back
 * as the same double (json_number.h); decoding gives an integer written past 2^53 as the exact
 * Lua integer when it fits one (json_parse.h keeps its digits), a float otherwise. */
#include "lnyx.h"

#include "base/json_number.h"
#include "base/json_parse.h"
#include "base/json_print.h"
#include "base/utf8.h"
#include "claude/schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* The registry's name of the metatable every marked empty array shares. */
#define ARRAY_MARK "nyx.json_array"

typedef struct conv {
    lua_State *L;
    const char *skip; /* a top-level key left out (the "cache" of a block), or NULL */
    char why[200];
} conv;

static cJSON *value(conv *c, int idx, int depth, const char *path);

static int is_array(lua_State *L, int idx, size_t *n)
{
    size_t len = lua_rawlen(L, idx), count = 0;
    if (len == 0)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
    }
    *n = len;
    return count == len;
}

/* Whether the table at idx is empty and carries the array mark. */
static int is_marked_empty(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx)) /* most tables: no metatable at all */
        return 0;
    luaL_getmetatable(L, ARRAY_MARK);
    int marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!marked)
        return 0;
    lua_pushnil(L);
    if (!lua_next(L, idx))
        return 1;
    lua_pop(L, 2);
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static cJSON *object(conv *c, int idx, int depth, const char *path)
{
    lua_State *L = c->L;
    size_t n = 0, cap = 8;
    const char **keys = malloc(cap * sizeof *keys);
    if (!keys)
        return NULL;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            snprintf(c->why, sizeof c->why, "%s has a %s key (JSON objects have string keys)",
                     path, luaL_typename(L, -1));
            lua_pop(L, 1);
            free(keys);
            return NULL;
        }
        size_t klen;
        const char *k = lua_tolstring(L, -1, &klen);
        long bad = utf8_bad(k, klen);
        if (bad >= 0) {
            snprintf(c->why, sizeof c->why, "%s has a key that is not valid UTF-8 (its byte %ld is 0x%02X)", path,
                     bad + 1, (unsigned char)k[bad]);
            lua_pop(L, 1);
            free(keys);
            return NULL;
        }
        if (depth == 0 && c->skip && strcmp(lua_tostring(L, -1), c->skip) == 0)
            continue;
        if (n == cap) {
            const char **grown = realloc(keys, (cap *= 2) * sizeof *keys);
            if (!grown) {
                lua_pop(L, 1);
                free(keys);
                return NULL;
            }
            keys = grown;
        }
        keys[n++] = lua_tostring(L, -1); /* the table keeps the key string alive */
    }
    qsort(keys, n, sizeof *keys, cmp_keys);
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < n; i++) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s.%s", path, keys[i]);
        lua_pushstring(L, keys[i]);
        lua_rawget(L, idx);
        cJSON *v = value(c, lua_gettop(L), depth + 1, sub);
        lua_pop(L, 1);
        if (!v || !cJSON_AddItemToObject(o, keys[i], v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            o = NULL;
        }
    }
    free(keys);
    return o;
}

static cJSON *value(conv *c, int idx, int depth, const char *path)
{
    lua_State *L = c->L;
    if (depth > MAX_DEPTH) {
        snprintf(c->why, sizeof c->why, "%s nests deeper than %d levels (a cycle?)", path,
                 MAX_DEPTH);
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        /* An integer of 16 digits or more (an id, a hash) is written as its digits: cJSON
         * holds a number as a double and prints 15 significant digits when they read back
         * within a relative DBL_EPSILON, so 9007199254740991 came out as 9.00719925474099e+15,
         * 9007199254740993 as 9007199254740992, math.maxinteger as 9.2233720368547758e+18. */
        if (lua_isinteger(L, idx)) {
            lua_Integer i = lua_tointeger(L, idx);
            if (i >= 1000000000000000LL || i <= -1000000000000000LL)
                return json_int((long long)i);
            return cJSON_CreateNumber((double)i); /* printed as its digits */
        }
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) {
            snprintf(c->why, sizeof c->why, "%s is not a finite number", path);
            return NULL;
        }
        return json_double(d);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (memchr(s, '\0', len)) {
            snprintf(c->why, sizeof c->why, "%s contains a NUL byte", path);
            return NULL;
        }
        long bad = utf8_bad(s, len); /* JSON is UTF-8: the API refuses a body with other bytes */
        if (bad >= 0) {
            snprintf(c->why, sizeof c->why, "%s is not valid UTF-8 (its byte %ld is 0x%02X)", path, bad + 1,
                     (unsigned char)s[bad]);
            return NULL;
        }
        return cJSON_CreateString(s);
    }
    case LUA_TTABLE: {
        luaL_checkstack(L, 4, "JSON nesting");
        size_t n;
        if (!(depth == 0 && c->skip) && is_array(L, idx, &n)) {
            cJSON *a = cJSON_CreateArray();
            for (size_t i = 1; a && i <= n; i++) {
                char sub[160];
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                lua_rawgeti(L, idx, (lua_Integer)i);
                cJSON *v = value(c, lua_gettop(L), depth + 1, sub);
                lua_pop(L, 1);
                if (!v || !cJSON_AddItemToArray(a, v)) {
                    cJSON_Delete(v);
                    cJSON_Delete(a);
                    a = NULL;
                }
            }
            return a;
        }
        if (!(depth == 0 && c->skip) && lua_rawlen(L, idx) == 0 && is_marked_empty(L, idx))
            return cJSON_CreateArray();
        return object(c, idx, depth, path);
    }
    default:
        snprintf(c->why, sizeof c->why, "%s is a %s, which JSON cannot hold", path,
                 luaL_typename(L, idx));
        return NULL;
    }
}

cJSON *lnyx_to_json(lua_State *L, int idx, const char *field, const char *skip)
{
    conv c = {L, skip, ""};
    cJSON *v = value(&c, lua_absindex(L, idx), 0, field);
    if (v)
        return v;
    if (c.why[0])
        lnyx_argerror(L, 1, "%s", c.why);
    lnyx_fail(L, "out_of_memory", "out of memory converting %s to JSON", field);
    return NULL;
}

char *lnyx_to_json_text(lua_State *L, int idx, const char *field, const char *skip)
{
    cJSON *v = lnyx_to_json(L, idx, field, skip);
    char *s = json_print(v);
    cJSON_Delete(v);
    if (!s)
        lnyx_fail(L, "out_of_memory", "out of memory converting %s to JSON", field);
    return s;
}

/* same: a string whose bytes are these is the one at same_idx (NULL: none). */
static void push_json(lua_State *L, const cJSON *v, const char *same, int same_idx)
{
    luaL_checkstack(L, 3, "JSON nesting");
    if (cJSON_IsBool(v)) {
        lua_pushboolean(L, cJSON_IsTrue(v));
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, d);
    } else if (cJSON_IsString(v)) {
        if (same && v->valuestring == same)
            lua_pushvalue(L, same_idx);
        else /* not lua_pushstring: its cache of C strings would miss (new memory) after a strcmp */
            lua_pushlstring(L, v->valuestring, strlen(v->valuestring));
    } else if (cJSON_IsArray(v)) {
        lua_createtable(L, cJSON_GetArraySize(v), 0);
        if (!v->child) { /* [] stays [] when encoded again */
            luaL_getmetatable(L, ARRAY_MARK);
            lua_setmetatable(L, -2);
        }
        lua_Integer i = 1;
        for (const cJSON *e = v->child; e; e = e->next) {
            push_json(L, e, same, same_idx);
            lua_rawseti(L, -2, i++);
        }
    } else if (cJSON_IsObject(v)) {
        int n = 0;
        for (const cJSON *e = v->child; e; e = e->next)
            n += !cJSON_IsNull(e); /* a Lua table cannot hold nil */
        lua_createtable(L, 0, n);
        for (const cJSON *e = v->child; e; e = e->next) {
            if (cJSON_IsNull(e))
                continue;
            lua_pushlstring(L, e->string, strlen(e->string));
            push_json(L, e, same, same_idx);
            lua_rawset(L, -3); /* a new table: no metamethods */
        }
    } else if (cJSON_IsRaw(v)) { /* an integer past 2^53, as its digits (json_parse.h) */
        if (!lua_stringtonumber(L, v->valuestring)) /* Lua's rule: an integer when it fits */
            lua_pushnil(L); /* no parse makes another raw node */
    } else {
        lua_pushnil(L); /* null */
    }
}

void lnyx_push_json(lua_State *L, const cJSON *v) { push_json(L, v, NULL, 0); }

void lnyx_push_json_sharing(lua_State *L, const cJSON *v, const char *s, int idx)
{
    push_json(L, v, s, lua_absindex(L, idx));
}

int lnyx_json_slot_gc(lua_State *L)
{
    cJSON **slot = lua_touserdata(L, 1);
    cJSON_Delete(*slot);
    *slot = NULL;
    return 0;
}

static int l_json_encode(lua_State *L)
{
    if (lua_isnone(L, 1)) /* luaL_checkany raised a string, not an error table */
        return lnyx_argerror(L, 1, "value expected");
    char *s = lnyx_to_json_text(L, 1, "value", NULL);
    lua_pushstring(L, s);
    free(s);
    return 1;
}

/* nyx.json_array([t]): t (a new table when none) marked as a JSON array, so that empty it is
 * written [] rather than {}. A table with a metatable of its own is refused: the mark would
 * replace it. */
static int l_json_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else if (!lua_istable(L, 1)) {
        return lnyx_argerror(L, 1, "table expected, got %s", luaL_typename(L, 1));
    }
    lua_settop(L, 1);
    luaL_getmetatable(L, ARRAY_MARK);
    if (lua_getmetatable(L, 1) && !lua_rawequal(L, -1, -2))
        return lnyx_argerror(L, 1, "the table has a metatable already");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* core.schema_problem(t, where) -> nil | problem: what structured outputs would refuse in the
 * JSON Schema table t (claude/schema.h), the place in it named from where, counted from 1. */
static int l_schema_problem(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TTABLE);
    const char *where = lnyx_checkstring(L, 2);
    cJSON *schema = lnyx_to_json(L, 1, where, NULL);
    error_info bad;
    error_clear(&bad);
    int rc = claude_schema_check(schema, where, 1, &bad);
    cJSON_Delete(schema);
    if (rc == 0)
        return 0;
    if (strcmp(bad.type, "invalid_argument") != 0)
        return lnyx_raise(L, &bad);
    lua_pushstring(L, bad.message);
    return 1;
}

static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *s = lnyx_checklstring(L, 1, &len);
    error_info err;
    error_clear(&err);
    cJSON *v = json_parse_whole(s, len, &err);
    if (!v)
        return lnyx_raise(L, &err);
    lnyx_push_json(L, v);
    cJSON_Delete(v);
    return 1;
}

int lnyx_open_json(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"json_array", l_json_array},   {"json_encode", l_json_encode},
                                     {"json_decode", l_json_decode}, {"schema_problem", l_schema_problem},
                                     {NULL, NULL}};
    luaL_newmetatable(L, ARRAY_MARK); /* shared by every marked table; __name says what it is */
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
