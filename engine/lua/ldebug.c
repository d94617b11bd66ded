/* nyx.set_debug_writer(fn): where the debug view (NYX_DEBUG=1) goes when stock lua5.4 owns
 * the engine — init.lua sends it to io.stderr, as it does the engine's notices. Inside a host
 * (nyx run, a C program) the host decides (nyx_set_debug_writer) and this does nothing. */
#include "lnyx.h"

static const char *const writer_key = "nyx.debug.writer";

typedef struct writer {
    lua_State *L; /* the main thread */
    int ref;      /* the function */
} writer;

static void write_text(void *ud, const char *text, size_t len)
{
    writer *w = ud;
    lua_pushlstring(w->L, text, len);
    lnyx_callback(w->L, w->ref, 1);
    lua_pop(w->L, 1);
}

static int l_set_debug_writer(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TFUNCTION);
    lua_getfield(L, LUA_REGISTRYINDEX, "nyx.engine.box");
    int own = lua_touserdata(L, -1) != NULL;
    lua_pop(L, 1);
    if (!own)
        return 0;
    if (lua_getfield(L, LUA_REGISTRYINDEX, writer_key) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        writer *w = lua_newuserdatauv(L, sizeof *w, 0);
        w->ref = LUA_NOREF;
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
        w->L = lua_tothread(L, -1);
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, writer_key); /* kept alive by the registry */
    }
    writer *w = lua_touserdata(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, w->ref);
    w->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    nyx_set_debug_writer(lnyx_engine(L), write_text, w);
    return 0;
}

int lnyx_open_debug(lua_State *L)
{
    lua_pushcfunction(L, l_set_debug_writer);
    lua_setfield(L, -2, "set_debug_writer");
    return 0;
}
