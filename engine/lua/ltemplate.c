/* nyx.templates: render, get, create, pick, record, stats. Conversion only: Lua tables become
 * template values here; finding, versioning, choosing and recording are template/library.c's.
 *
 * Values: strings as they are; numbers as text (integers, and floats with an integral value,
 * without ".0"); booleans; an array (keys 1..n, or an empty table) is a list; any other table
 * is a map with string keys. A cycle, a non-string key or another type is an invalid_argument
 * naming the variable's path (e.g. "persona.tags[2]"). */
#include "lnyx.h"

#include "core/settings.h"
#include "template/library.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TVALUE_BOX_MT "nyx.tvalue"

/* lnyx_argerror with the function's name given: these functions live in nyx.templates,
 * where a call through pcall cannot be named from the stack. */
static int arg_error(lua_State *L, int arg, const char *fname, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int arg_error(lua_State *L, int arg, const char *fname, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    error_info err;
    error_clear(&err);
    error_set(&err, "invalid_argument", 0, "bad argument #%d to '%s' (%s)", arg, fname, detail);
    return lnyx_raise(L, &err);
}
/* How deep tables may nest in a template's variables. */
#define MAX_DEPTH 64

/* ---- Lua values -> tvalue ---- */

/* Holds the tree being built, so an error raised halfway frees what was built. */
static int box_gc(lua_State *L)
{
    tvalue **box = lnyx_checkudata(L, 1, TVALUE_BOX_MT);
    tvalue_free(*box);
    *box = NULL;
    return 0;
}

typedef struct conv {
    lua_State *L;
    int arg;      /* the argument converted, for messages */
    const char *fname;
    int seen;     /* stack index of a table: tables on the current path -> true */
    char path[256];
} conv;

static int conv_fail(conv *c, const char *problem)
{
    return arg_error(c->L, c->arg, c->fname, "vars%s%s: %s", c->path[0] == '[' ? "" : ".", c->path,
                     problem);
}

/* Appends ".key" or "[i]" to the path; returns the old length to restore. */
static size_t path_push(conv *c, const char *key, lua_Integer index)
{
    size_t n = strlen(c->path);
    if (key)
        snprintf(c->path + n, sizeof c->path - n, "%s%s", n ? "." : "", key);
    else
        snprintf(c->path + n, sizeof c->path - n, "[%lld]", (long long)index);
    return n;
}

static tvalue *scalar(conv *c, int idx)
{
    lua_State *L = c->L;
    char num[64];
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return tvalue_string(s, len);
    }
    case LUA_TBOOLEAN:
        return tvalue_bool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            lua_Number d = lua_tonumber(L, idx);
            if (isfinite(d) && d == floor(d) && fabs(d) < 1e15)
                snprintf(num, sizeof num, "%.0f", (double)d);
            else
                snprintf(num, sizeof num, "%.14g", (double)d);
        }
        return tvalue_string(num, strlen(num));
    default:
        conv_fail(c, lua_pushfstring(L, "a %s cannot be a template value", luaL_typename(L, idx)));
        return NULL;
    }
}

static void fill(conv *c, int idx, tvalue *into, int depth);

/* Converts the value at idx and adds it to parent (a list when key is NULL), then fills it:
 * the parent owns it from the start, so an error leaves nothing unowned. */
static void add_value(conv *c, int idx, tvalue *parent, const char *key, int depth)
{
    lua_State *L = c->L;
    tvalue *v;
    int table = lua_type(L, idx) == LUA_TTABLE;
    if (table) {
        /* An array (keys 1..n) or an empty table is a list; anything else a map. */
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            count++;
        }
        v = count == n ? tvalue_list() : tvalue_map();
    } else {
        v = scalar(c, idx);
    }
    if (!v || (key ? tvalue_map_set(parent, key, v) : tvalue_list_push(parent, v)) != 0)
        lnyx_fail(L, "out_of_memory", "out of memory");
    if (table)
        fill(c, idx, v, depth + 1);
}

static void fill(conv *c, int idx, tvalue *into, int depth)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    if (depth > MAX_DEPTH)
        conv_fail(c, "tables nest too deeply");
    luaL_checkstack(L, 6, "template variables");
    lua_pushvalue(L, idx);
    if (lua_rawget(L, c->seen) != LUA_TNIL)
        conv_fail(c, "a table contains itself (a cycle)");
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, c->seen);
    if (tvalue_kind(into) == TVALUE_LIST) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            size_t was = path_push(c, NULL, i);
            add_value(c, lua_gettop(L), into, NULL, depth);
            c->path[was] = '\0';
            lua_pop(L, 1);
        }
    } else {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                /* luaL_tolstring on a copy: never convert a key lua_next still uses. */
                lua_pushvalue(L, -2);
                const char *k = luaL_tolstring(L, -1, NULL);
                conv_fail(c, lua_pushfstring(L, "key %s is not a string (a table is a list "
                                                "only when its keys are 1..n)",
                                             k));
            }
            const char *key = lua_tostring(L, -2);
            size_t was = path_push(c, key, 0);
            add_value(c, lua_gettop(L), into, key, depth);
            c->path[was] = '\0';
            lua_pop(L, 1);
        }
    }
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, c->seen);
}

/* Converts the table at arg (nil: none) into a map; returns it, owned by a box pushed on the
 * stack (or NULL with nothing pushed for nil). */
static tvalue *check_vars(lua_State *L, int arg, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return NULL;
    if (!lua_istable(L, arg))
        arg_error(L, arg, fname, "vars must be a table, got %s", luaL_typename(L, arg));
    arg = lua_absindex(L, arg);
    tvalue **box = lnyx_new_udata(L, sizeof *box, 0, TVALUE_BOX_MT, box_gc);
    if (!(*box = tvalue_map()))
        lnyx_fail(L, "out_of_memory", "out of memory");
    lua_newtable(L);
    conv c = {L, arg, fname, lua_gettop(L), ""};
    lua_pushvalue(L, arg);
    lua_pushboolean(L, 1);
    lua_rawset(L, c.seen);
    /* Top-level keys must be strings: a map even when the table looks like an array. */
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pushvalue(L, -2);
            const char *k = luaL_tolstring(L, -1, NULL);
            arg_error(L, arg, fname, "vars: key %s is not a string (variables have names)", k);
        }
        const char *key = lua_tostring(L, -2);
        size_t was = path_push(&c, key, 0);
        add_value(&c, lua_gettop(L), *box, key, 0);
        c.path[was] = '\0';
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* the seen table */
    return *box;
}

static const char *check_name(lua_State *L, int arg, const char *fname)
{
    if (lua_type(L, arg) != LUA_TSTRING)
        arg_error(L, arg, fname, "template name expected, got %s", luaL_typename(L, arg));
    return lua_tostring(L, arg);
}

/* ---- functions ---- */

/* nyx.templates.render(name, vars) -> text, version */
static int l_render(lua_State *L)
{
    const char *name = check_name(L, 1, "render");
    tvalue *vars = check_vars(L, 2, "render");
    error_info err;
    error_clear(&err);
    char *out = NULL;
    size_t len = 0;
    int version = 0;
    if (templates_render(engine_templates(lnyx_engine(L)), name, vars, &out, &len, &version, &err) != 0)
        return lnyx_raise(L, &err);
    lua_pushlstring(L, out, len);
    free(out);
    lua_pushinteger(L, version);
    return 2;
}

/* nyx.templates.get("name" | "name@3") -> {name, version, text, description, model, source,
 * variables = {{name, required, default, description}, ...}} */
static int l_get(lua_State *L)
{
    const char *name = check_name(L, 1, "get");
    error_info err;
    error_clear(&err);
    tpl_info info;
    if (templates_get(engine_templates(lnyx_engine(L)), name, &info, &err) != 0)
        return lnyx_raise(L, &err);
    const template_def *t = info.t;
    lua_createtable(L, 0, 8);
    lnyx_set_str(L, "name", info.name);
    lnyx_set_int(L, "version", info.version);
    size_t len = 0;
    const char *text = template_text(t, &len);
    lua_pushlstring(L, text, len);
    lua_setfield(L, -2, "text");
    lnyx_set_str(L, "description", template_description(t));
    lnyx_set_str(L, "model", template_model_hint(t));
    lnyx_set_str(L, "source", info.source);
    cJSON *output = template_output_schema(t) ? cJSON_Parse(template_output_schema(t)) : NULL;
    if (output) {
        lnyx_push_json(L, output);
        cJSON_Delete(output);
        lua_setfield(L, -2, "output");
    }
    const char *tools = template_tools(t);
    if (tools) {
        lua_newtable(L);
        lua_Integer k = 1;
        for (const char *p = tools; *p;) {
            size_t n = strcspn(p, ",");
            lua_pushlstring(L, p, n);
            lua_rawseti(L, -2, k++);
            p += n + (p[n] == ',');
        }
        lua_setfield(L, -2, "tools");
    }
    size_t n = template_nvars(t);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 4);
        lnyx_set_str(L, "name", template_var_name(t, i));
        lua_pushboolean(L, template_var_required(t, i));
        lua_setfield(L, -2, "required");
        lnyx_set_str(L, "default", template_var_default(t, i));
        lnyx_set_str(L, "description", template_var_description(t, i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "variables");
    return 1;
}

/* nyx.templates.create(name, text [, {agent = NAME}]) -> version. With templates.writers set,
 * only the agents it names may write (settings.h); a refusal raises "permission_denied". */
static int l_create(lua_State *L)
{
    const char *name = check_name(L, 1, "create");
    if (lua_type(L, 2) != LUA_TSTRING)
        return arg_error(L, 2, "create", "template text expected, got %s", luaL_typename(L, 2));
    size_t len;
    const char *text = lua_tolstring(L, 2, &len);
    const char *agent = NULL;
    if (!lua_isnoneornil(L, 3)) {
        if (!lua_istable(L, 3))
            return arg_error(L, 3, "create", "options table expected, got %s", luaL_typename(L, 3));
        lua_getfield(L, 3, "agent");
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
            return arg_error(L, 3, "create", "agent must be a string, got %s", luaL_typename(L, -1));
        agent = lua_tostring(L, -1); /* stays on the stack, so stays valid */
    }
    error_info err;
    error_clear(&err);
    if (settings_template_write_allowed(lnyx_engine(L), agent, name, &err) != 0)
        return lnyx_raise(L, &err);
    int version = 0;
    if (templates_create(engine_templates(lnyx_engine(L)), name, text, len, &version, &err) != 0)
        return lnyx_raise(L, &err);
    lua_pushinteger(L, version);
    return 1;
}

/* nyx.templates.pick(name [, vars]) -> version [, text] */
static int l_pick(lua_State *L)
{
    const char *name = check_name(L, 1, "pick");
    tvalue *vars = check_vars(L, 2, "pick");
    int render = !lua_isnoneornil(L, 2);
    nyx_engine *e = lnyx_engine(L);
    error_info err;
    error_clear(&err);
    int version = 0;
    if (templates_pick(engine_templates(e), name, &version, &err) != 0)
        return lnyx_raise(L, &err);
    lua_pushinteger(L, version);
    if (!render)
        return 1;
    char spec[TEMPLATES_MAX_NAME + 16];
    if (version > 0)
        snprintf(spec, sizeof spec, "%s@%d", name, version);
    else
        snprintf(spec, sizeof spec, "%s", name);
    char *out = NULL;
    size_t len = 0;
    if (templates_render(engine_templates(e), spec, vars, &out, &len, NULL, &err) != 0)
        return lnyx_raise(L, &err);
    lua_pushlstring(L, out, len);
    free(out);
    return 2;
}

/* nyx.templates.record("name" | "name@3", success) */
static int l_record(lua_State *L)
{
    const char *name = check_name(L, 1, "record");
    if (lua_type(L, 2) != LUA_TBOOLEAN)
        return arg_error(L, 2, "record", "success must be true or false, got %s",
                         luaL_typename(L, 2));
    error_info err;
    error_clear(&err);
    if (templates_record(engine_templates(lnyx_engine(L)), name, lua_toboolean(L, 2), &err) != 0)
        return lnyx_raise(L, &err);
    return 0;
}

/* nyx.templates.stats(name) -> {{version, uses, successes, failures, success_rate, tokens,
 * cost_usd, avg_latency_ms, cache_hit_rate}, ...} */
static int l_stats(lua_State *L)
{
    const char *name = check_name(L, 1, "stats");
    error_info err;
    error_clear(&err);
    lua_newtable(L);
    lnyx_rows r = {L, 0};
    if (templates_stats(engine_templates(lnyx_engine(L)), name, lnyx_push_row, &r, &err) != 0)
        return lnyx_raise(L, &err);
    return 1;
}

int lnyx_open_templates(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"render", l_render}, {"get", l_get},
                                     {"create", l_create}, {"pick", l_pick},
                                     {"record", l_record}, {"stats", l_stats},
                                     {NULL, NULL}};
    luaL_newlib(L, funcs);
    lua_setfield(L, -2, "templates");
    return 0;
}
