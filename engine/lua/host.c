#define _POSIX_C_SOURCE 200809L
/* The scripting host of nyx.h: the engine owns a Lua state, finds the nyx Lua library,
 * and runs each loaded script's main chunk as a task. */
#include "lnyx.h"

#include <lualib.h>
#include <stdlib.h>
#include <string.h>

static void host_close(nyx_engine *e)
{
    lua_State *L = engine_host(e);
    engine_host_detach(e);
    if (L)
        lua_close(L);
}

/* ./lua first (a project's own modules), then the user's path, then the library's. */
/* nyx_interrupt's hook: the thread it was set on raises at its next instruction. */
static void stop_here(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    lnyx_fail(L, "cancelled", "interrupted");
}

/* From a signal handler: lua_sethook is the one Lua call made to be called so (ldebug.c). A
 * script's loop that never waits (while true do end) never returns to the host's loop, where
 * a cancellation would be seen; this stops it where it is, as the lua interpreter does. */
static void host_interrupt(void *thread)
{
    lua_sethook(thread, stop_here, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static void set_search_path(lua_State *L, const nyx_engine *e)
{
    luaL_Buffer b;
    lua_getglobal(L, "package");
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "./lua/?.lua;./lua/?/init.lua;");
    if (engine_lua_path(e)) {
        luaL_addstring(&b, engine_lua_path(e));
        luaL_addchar(&b, ';');
    }
    const char *dirs[] = {getenv("NYX_LUA_DIR"), NYX_SOURCE_LUA_DIR, NYX_INSTALL_LUA_DIR};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dirs[i], dirs[i]);
        luaL_addvalue(&b);
    }
    lua_getfield(L, -2, "path");
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "path");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_nyx_core);
    lua_setfield(L, -2, "nyx.core");
    lua_pop(L, 2);
}

/* print as stock Lua's (tostring of each argument, tab-separated, a newline), handed whole to
 * the host's output function when it set one (nyx_set_output), else to the original print. */
static int host_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *line = lua_tolstring(L, -1, &len);
    if (engine_output(lnyx_engine(L), line, len) == 0)
        return 0;
    lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, 0);
    return 0;
}

static void install_print(lua_State *L)
{
    lua_getglobal(L, "print");
    lua_pushcclosure(L, host_print, 1);
    lua_setglobal(L, "print");
}

/* The engine's way to the collector (core/collector.h says when it does what). */
static int host_gc(void *state, collector_op op, int arg)
{
    lua_State *L = state;
    switch (op) {
    case COLLECTOR_COUNT_KB:
        return lua_gc(L, LUA_GCCOUNT);
    case COLLECTOR_STEP:
        return lua_gc(L, LUA_GCSTEP, 0);
    case COLLECTOR_STOP:
        return lua_gc(L, LUA_GCSTOP);
    case COLLECTOR_RESTART:
        return lua_gc(L, LUA_GCRESTART);
    case COLLECTOR_STEP_SIZE:
        return lua_gc(L, LUA_GCINC, 0, 0, arg);
    case COLLECTOR_PAUSE:
        return lua_gc(L, LUA_GCINC, arg, 0, 0);
    }
    return 0;
}

static lua_State *host_state(nyx_engine *e)
{
    lua_State *L = engine_host(e);
    if (L)
        return L;
    L = luaL_newstate();
    if (!L)
        return NULL;
    luaL_openlibs(L);
    engine_host_collector(e, host_gc, L);
    lnyx_bind_engine(L, e);
    install_print(L);
    set_search_path(L, e);
    engine_host_attach(e, L, host_close);
    engine_host_on_interrupt(e, host_interrupt);
    lnyx_reload_install(L); /* before any script: every module it loads is watched */
    return L;
}

static int start_chunk(nyx_engine *e, lua_State *L, int status)
{
    if (status != LUA_OK) {
        engine_set_error(e, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return status == LUA_ERRFILE ? NYX_EIO : NYX_ESCRIPT;
    }
    lnyx_spawn(L, 0, 1);
    lua_pop(L, 1);
    return engine_take_script_failure(e) ? NYX_ESCRIPT : NYX_OK;
}

static lua_State *prepare(nyx_engine *e)
{
    if (engine_start(e) != 0)
        return NULL;
    lua_State *L = host_state(e);
    if (!L)
        engine_set_error(e, "out of memory creating the Lua state");
    return L;
}

int lnyx_load_file(nyx_engine *e, const char *path, int argc, char **argv)
{
    lua_State *L = prepare(e);
    if (!L)
        return engine_starting(e) ? NYX_EINVAL : engine_started(e) ? NYX_ENOMEM : NYX_ECONFIG;
    lua_createtable(L, argc, 1);
    lua_pushstring(L, path);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    return start_chunk(e, L, luaL_loadfile(L, path));
}

int lnyx_load_string(nyx_engine *e, const char *chunk, const char *name)
{
    lua_State *L = prepare(e);
    if (!L)
        return engine_starting(e) ? NYX_EINVAL : engine_started(e) ? NYX_ENOMEM : NYX_ECONFIG;
    return start_chunk(e, L, luaL_loadbuffer(L, chunk, strlen(chunk), name ? name : "=chunk"));
}
