#define _POSIX_C_SOURCE 200809L
/* Hot reload of Lua modules.
 *
 * `require` finds Lua files through package.searchers[2]; a wrapper around it records each
 * module's file (and, in a host, watches it). When the file changes, the module is loaded
 * again and the table `require` returned is updated IN PLACE: new fields copied in, fields
 * that disappeared removed, its metatable replaced. Every `local m = require "x"` keeps
 * working and sees the new functions. The new chunk's functions captured the chunk's own
 * `local M = {}` as an upvalue: that upvalue (one cell shared by all of them) is pointed at
 * the old table, so the new code reads and writes the table everybody holds. A field that
 * held the new table itself (M.__index = M) is copied as the old table.
 *
 * A module may define on_reload(old): it runs after the update, with `old` a shallow copy of
 * the module table as it was before (the state to carry over). An edit that fails to parse,
 * raises while its chunk runs, or whose on_reload raises changes nothing (on_reload's partial
 * work is undone field by field) and is reported once per content, with file and line.
 *
 * Reloading is Lua work, so this file holds Lua API calls; the watching is engine/core/watch.c
 * and nothing here touches engine state other than the log. */
#include "lnyx.h"
#include "lua/lchunks.h"

#include "core/watch.h"
#include "base/file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

static const char *const modules_key = "nyx.reload.modules"; /* name -> {file=, hash=} */
static const char *const files_key = "nyx.reload.files";     /* file -> name */

enum { R_RELOADED, R_UNCHANGED, R_NOT_LOADED, R_FAILED };

static void push_table(lua_State *L, const char *key)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, key);
}

static lua_Integer file_hash(const char *path, int *ok)
{
    size_t len = 0;
    char *text = NULL;
    *ok = file_read_path(path, 0, &text, &len) == 0;
    uint64_t h = text ? XXH3_64bits(text, len) : 0;
    free(text);
    lua_Integer v;
    memcpy(&v, &h, sizeof v);
    return v;
}

/* ---- recording what require loads ---- */

static void module_changed(void *ud, const char *path);

/* modules[name] = {file=, hash=}; files[file] = name; and, in a host, watch the file.
 * hash: the text's that was loaded (file_hash), or NULL when none was or it is unknown. */
static void remember(lua_State *L, const char *name, const char *file, const lua_Integer *hash)
{
    push_table(L, files_key);
    int known = lua_getfield(L, -1, file) != LUA_TNIL;
    lua_pop(L, 1);
    lua_pushstring(L, name);
    lua_setfield(L, -2, file);
    lua_pop(L, 1);

    push_table(L, modules_key);
    lua_createtable(L, 0, 2);
    lnyx_set_str(L, "file", file);
    if (hash)
        lua_pushinteger(L, *hash);
    else
        lua_pushboolean(L, 0); /* unknown: the next change reloads */
    lua_setfield(L, -2, "hash");
    lua_setfield(L, -2, name);
    lua_pop(L, 1);

    nyx_engine *e = lnyx_engine(L);
    file_watch *w = !known && engine_host(e) ? engine_watch(e) : NULL;
    if (w && watch_add(w, file, module_changed, e) != 0)
        engine_warn_once(e, file, "nyx: cannot watch %s for hot reload: %s", file, strerror(errno));
}

/* A module the build compiled (lchunks.h), found where package.path says and holding the text
 * the build compiled: pushes its function and file and returns 1. Returns 0, the stack as it
 * was, for the original searcher to do (and word) everything else. */
static int precompiled(lua_State *L, const char *name)
{
    int top = lua_gettop(L);
    if (!lnyx_chunk_known(name) || lua_getglobal(L, "package") != LUA_TTABLE ||
        lua_getfield(L, -1, "searchpath") != LUA_TFUNCTION || lua_getfield(L, -2, "path") != LUA_TSTRING) {
        lua_settop(L, top);
        return 0;
    }
    lua_pushvalue(L, 1);
    lua_insert(L, -2);
    lua_call(L, 2, 1);
    const char *file = lua_tostring(L, -1);
    char *text = NULL;
    size_t len = 0;
    if (!file || file_read_path(file, 0, &text, &len) != 0 || !lnyx_chunk_load(L, name, file, text, len)) {
        free(text);
        lua_settop(L, top);
        return 0;
    }
    uint64_t h = XXH3_64bits(text, len);
    free(text);
    lua_Integer hash;
    memcpy(&hash, &h, sizeof hash);
    lua_remove(L, top + 1); /* package */
    lua_insert(L, top + 1); /* the function, then the file, as the original searcher gives them */
    remember(L, name, lua_tostring(L, -1), &hash);
    return 1;
}

/* package.searchers[2], wrapped: upvalue 1 is the original. */
static int searcher(lua_State *L)
{
    const char *name = lnyx_checkstring(L, 1);
    lua_settop(L, 1);
    if (precompiled(L, name))
        return 2;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
        /* The file exists but does not compile: watch it anyway, so that fixing it counts as
         * a change (nyx run --watch runs the script again). */
        lua_getglobal(L, "package");
        if (lua_getfield(L, -1, "searchpath") == LUA_TFUNCTION) {
            lua_pushvalue(L, 1);
            lua_getfield(L, -3, "path");
            lua_call(L, 2, 1);
            if (lua_type(L, -1) == LUA_TSTRING)
                remember(L, name, lua_tostring(L, -1), NULL);
        }
        lua_settop(L, 2);
        return lua_error(L);
    }
    if (lua_isfunction(L, 2) && lua_type(L, 3) == LUA_TSTRING) {
        int ok = 0;
        lua_Integer h = file_hash(lua_tostring(L, 3), &ok);
        remember(L, name, lua_tostring(L, 3), ok ? &h : NULL);
    }
    return 2;
}

static int install(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, modules_key) == LUA_TTABLE)
        return 0; /* already */
    push_table(L, modules_key);
    push_table(L, files_key);
    if (lua_getglobal(L, "package") != LUA_TTABLE || lua_getfield(L, -1, "searchers") != LUA_TTABLE)
        return 0; /* no package library: nothing is loaded from files */
    lua_rawgeti(L, -1, 2);
    if (!lua_isfunction(L, -1))
        return 0;
    lua_pushcclosure(L, searcher, 1);
    lua_rawseti(L, -2, 2);
    return 0;
}

/* ---- reloading ---- */

/* Error handler of a module's chunk: the message, with the module's own file:line in front
 * when the error was raised elsewhere or without a position. Upvalue 1: the file. */
static int msgh(lua_State *L)
{
    const char *file = lua_tostring(L, lua_upvalueindex(1));
    const char *msg = luaL_tolstring(L, 1, NULL);
    size_t flen = strlen(file);
    if (strncmp(msg, file, flen) == 0 && msg[flen] == ':')
        return 1;
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.source[0] == '@' && strcmp(ar.source + 1, file) == 0 &&
            ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: %s", file, ar.currentline, msg);
            return 1;
        }
    }
    lua_pushfstring(L, "%s: %s", file, msg);
    return 1;
}

static void shallow_copy(lua_State *L, int from)
{
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, from)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    if (lua_getmetatable(L, from))
        lua_setmetatable(L, -2);
}

/* dst gets exactly the fields of src (a value equal to self becomes dst) and src's metatable. */
static void replace_fields(lua_State *L, int dst, int src, int self)
{
    lua_pushnil(L);
    while (lua_next(L, dst)) { /* clearing existing fields while traversing is allowed */
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, src) == LUA_TNIL) {
            lua_pushvalue(L, -2);
            lua_pushnil(L);
            lua_rawset(L, dst);
        }
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, src)) {
        if (self && lua_rawequal(L, -1, self)) {
            lua_pop(L, 1);
            lua_pushvalue(L, dst);
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, dst);
    }
    if (!lua_getmetatable(L, src))
        lua_pushnil(L);
    else if (self && lua_rawequal(L, -1, self)) {
        lua_pop(L, 1);
        lua_pushvalue(L, dst);
    }
    lua_setmetatable(L, dst);
}

/* Points every upvalue of newt's functions that holds newt at oldt. */
static void rebind(lua_State *L, int oldt, int newt)
{
    lua_pushnil(L);
    while (lua_next(L, newt)) {
        if (lua_type(L, -1) == LUA_TFUNCTION && !lua_iscfunction(L, -1)) {
            int fn = lua_gettop(L);
            for (int i = 1; lua_getupvalue(L, fn, i) != NULL; i++) {
                int same = lua_rawequal(L, -1, newt);
                lua_pop(L, 1);
                if (same) {
                    lua_pushvalue(L, oldt);
                    lua_setupvalue(L, fn, i);
                }
            }
        }
        lua_pop(L, 1);
    }
}

/* Runs f(arg) under msgh; leaves nothing, or the message on failure. */
static int call_protected(lua_State *L, nyx_engine *e, const char *file, int nargs, int nres)
{
    int base = lua_gettop(L) - nargs;
    lua_pushstring(L, file);
    lua_pushcclosure(L, msgh, 1);
    lua_insert(L, base);
    /* The chunk or hook must not wait: it runs inside the loop's turn. */
    int was = engine_enter_callback(e);
    int rc = lua_pcall(L, nargs, nres, base);
    engine_leave_callback(e, was);
    lua_remove(L, base);
    return rc;
}

/* Loads module name from file again and updates it in place. Returns R_*; on R_FAILED the
 * message is left on top of the stack. The stack is otherwise unchanged. */
static int reload(lua_State *L, const char *name, const char *file, int force)
{
    nyx_engine *e = lnyx_engine(L);
    int top = lua_gettop(L);
    lua_pushfstring(L, "@%s", file);
    const char *chunkname = lua_tostring(L, -1);

    push_table(L, modules_key);
    lua_getfield(L, -1, name);
    int entry = lua_gettop(L);
    size_t len = 0;
    char *text = NULL;
    if (file_read_path(file, 0, &text, &len) != 0) {
        lua_pushfstring(L, "%s: cannot read the file (%s)", file, strerror(errno));
        goto failed;
    }
    uint64_t h = XXH3_64bits(text, len);
    lua_Integer hv;
    memcpy(&hv, &h, sizeof hv);
    if (!force && lua_istable(L, entry) && lua_getfield(L, entry, "hash") == LUA_TNUMBER &&
        lua_tointeger(L, -1) == hv) {
        free(text);
        lua_settop(L, top);
        return R_UNCHANGED; /* written again, same content */
    }
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    int loaded = lua_gettop(L);
    lua_getfield(L, loaded, name);
    int old = lua_gettop(L);
    if (lua_isnil(L, old)) {
        free(text);
        lua_settop(L, top);
        return R_NOT_LOADED;
    }
    /* As luaL_loadfile: a first line starting with '#' is skipped (its newline is kept). */
    size_t skip = 0;
    if (len > 0 && text[0] == '#')
        while (skip < len && text[skip] != '\n')
            skip++;
    int rc = luaL_loadbufferx(L, text + skip, len - skip, chunkname, NULL);
    free(text);
    if (rc != LUA_OK)
        goto failed;
    int istable = lua_istable(L, old);
    if (istable)
        shallow_copy(L, old); /* the state before the reload, for on_reload and undoing */
    else
        lua_pushvalue(L, old);
    int snap = lua_gettop(L);
    lua_pushvalue(L, snap - 1); /* the chunk */
    lua_pushstring(L, name);
    lua_pushstring(L, file);
    if (call_protected(L, e, file, 2, 1) != LUA_OK)
        goto failed;
    int fresh = lua_gettop(L);
    if (lua_isnil(L, fresh)) {
        /* require's rule: a chunk returning nothing may have set package.loaded itself */
        lua_pop(L, 1);
        lua_getfield(L, loaded, name);
        fresh = lua_gettop(L);
    }
    if (istable && lua_istable(L, fresh)) {
        if (!lua_rawequal(L, old, fresh)) {
            rebind(L, old, fresh);
            replace_fields(L, old, fresh, fresh);
        }
        lua_pushvalue(L, old);
        lua_setfield(L, loaded, name);
        if (lua_getfield(L, old, "on_reload") == LUA_TFUNCTION) {
            lua_pushvalue(L, snap);
            if (call_protected(L, e, file, 1, 0) != LUA_OK) {
                replace_fields(L, old, snap, 0); /* the old version serves on */
                goto failed;
            }
        } else {
            lua_pop(L, 1);
        }
    } else if (istable && !lua_isnil(L, fresh)) {
        /* Callers hold the table: a value of another kind cannot update it in place, and
         * handing it to `require` would leave them on the old functions for good. */
        lua_pushvalue(L, old);
        lua_setfield(L, loaded, name);
        lua_pushfstring(L, "%s: the module returned a %s where the loaded version is a table", file,
                        luaL_typename(L, fresh));
        goto failed;
    } else if (!lua_isnil(L, fresh)) {
        /* Not a table on both sides: identity cannot be kept; `require` gets the new value. */
        lua_pushvalue(L, fresh);
        lua_setfield(L, loaded, name);
    }
    if (lua_istable(L, entry)) {
        lua_pushinteger(L, hv);
        lua_setfield(L, entry, "hash");
    }
    lua_settop(L, top);
    return R_RELOADED;

failed:
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return R_FAILED;
}

/* A watched module file changed: reload it (in a protected call, from the loop). */
static int reload_file(lua_State *L)
{
    nyx_engine *e = lnyx_engine(L);
    const char *file = lnyx_checkstring(L, 1);
    push_table(L, files_key);
    if (lua_getfield(L, -1, file) != LUA_TSTRING)
        return 0;
    const char *name = lua_tostring(L, -1);
    switch (reload(L, name, file, 0)) {
    case R_RELOADED:
        engine_log(e, NYX_LOG_INFO, "nyx: reloaded module '%s' from %s", name, file);
        engine_note_change(e, file);
        break;
    case R_NOT_LOADED: /* its last load failed: nothing to update, but the script may care */
        engine_note_change(e, file);
        break;
    case R_FAILED: {
        /* Once per content: saving the same broken text again is no news. */
        int ok = 0;
        lua_Integer h = file_hash(file, &ok);
        char key[64 + 4096];
        snprintf(key, sizeof key, "reload:%llx:%s", (unsigned long long)h, file);
        engine_warn_once(e, key, "nyx: module '%s' was not reloaded, the loaded version keeps serving: %s",
                         name, lua_tostring(L, -1));
        break;
    }
    default:
        break;
    }
    return 0;
}

static void module_changed(void *ud, const char *path)
{
    nyx_engine *e = ud;
    lua_State *L = engine_host(e);
    if (!L)
        return;
    int top = lua_gettop(L);
    lua_pushcfunction(L, reload_file);
    lua_pushstring(L, path);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        engine_log(e, NYX_LOG_WARN, "nyx: reloading %s failed: %s", path, lua_tostring(L, -1));
    lua_settop(L, top);
}

/* A file in ./lua that no loaded module came from: for nyx run --watch only. */
static void lua_dir_changed(void *ud, const char *path)
{
    nyx_engine *e = ud;
    lua_State *L = engine_host(e);
    size_t n = strlen(path);
    if (!L || !engine_watching_script(e) || n < 4 || strcmp(path + n - 4, ".lua") != 0)
        return;
    int top = lua_gettop(L), known = 0;
    if (lua_getfield(L, LUA_REGISTRYINDEX, files_key) == LUA_TTABLE)
        known = lua_getfield(L, -1, path) != LUA_TNIL;
    lua_settop(L, top);
    if (!known)
        engine_note_change(e, path);
}

void lnyx_reload_install(lua_State *L)
{
    lua_pushcfunction(L, install);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK)
        lua_pop(L, 1); /* out of memory: modules are simply not recorded */
    nyx_engine *e = lnyx_engine(L);
    file_watch *w = engine_host(e) ? engine_watch(e) : NULL;
    struct stat st;
    if (w && stat("./lua", &st) == 0 && S_ISDIR(st.st_mode))
        watch_add(w, "./lua", lua_dir_changed, e);
    if (w)
        engine_watch_templates(e);
}

/* ---- nyx.reload ---- */

/* nyx.reload(name): loads a module again now. Returns true, or false and the message. */
static int l_reload(lua_State *L)
{
    const char *name = lnyx_checkstring(L, 1);
    push_table(L, modules_key);
    if (lua_getfield(L, -1, name) != LUA_TTABLE)
        return lnyx_argerror(L, 1, "module '%s' was not loaded from a Lua file", name);
    lua_getfield(L, -1, "file");
    const char *file = lua_tostring(L, -1);
    int rc = reload(L, name, file, 1);
    if (rc == R_RELOADED) {
        engine_log(lnyx_engine(L), NYX_LOG_INFO, "nyx: reloaded module '%s' from %s", name, file);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (rc != R_FAILED)
        lua_pushfstring(L, "module '%s' is not loaded (its last load failed)", name);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

int lnyx_open_reload(lua_State *L)
{
    lnyx_reload_install(L);
    lua_pushcfunction(L, l_reload);
    lua_setfield(L, -2, "reload");
    return 0;
}

/* ---- nyx run --watch ---- */

static int cancel_tasks(lua_State *L)
{
    lnyx_cancel_tasks(L);
    return 0;
}

void lnyx_stop_scripts(nyx_engine *e)
{
    lua_State *L = e ? engine_host(e) : NULL;
    if (!L)
        return;
    lua_pushcfunction(L, cancel_tasks);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}
