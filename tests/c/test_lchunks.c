/* engine/lua/lchunks.c: the library's modules compiled at build time load from their bytecode
 * only for the exact text the build compiled, named by the file they were found in, and behave
 * as that text compiled. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "check.h"
#include "lua/lchunks.h"

#define LUA_DIR NYX_SOURCE_DIR "/lua/nyx"

static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    CHECK_INT(file_read_path(path, 0, &text, len), 0);
    return text;
}

/* Every file of lua/nyx is one of the compiled modules. */
static void test_every_module(void)
{
    DIR *d = opendir(LUA_DIR);
    CHECK(d != NULL);
    size_t n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0)
            continue;
        char name[256];
        if (strcmp(de->d_name, "init.lua") == 0)
            snprintf(name, sizeof name, "nyx");
        else
            snprintf(name, sizeof name, "nyx.%.*s", (int)(len - 4), de->d_name);
        if (!lnyx_chunk_known(name))
            fprintf(stderr, "not compiled: %s\n", name);
        CHECK(lnyx_chunk_known(name));
        n++;
    }
    if (d)
        closedir(d);
    CHECK(n >= 2);
    CHECK_INT(lnyx_nchunks, n);
    CHECK(!lnyx_chunk_known("nyx.no_such_module"));
    CHECK(!lnyx_chunk_known(NULL));
}

/* The bytecode of tools.lua, named by another path, and the same text compiled: the functions
 * name that path and their lines, and run alike. */
static void test_load(void)
{
    size_t len = 0;
    char *text = slurp(LUA_DIR "/tools.lua", &len);
    if (!text)
        return;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    const char *path = "/some/where/else/nyx/tools.lua";
    CHECK_INT(lnyx_chunk_load(L, "nyx.tools", path, text, len), 1);
    CHECK_INT(lua_gettop(L), 1);
    CHECK_INT(lua_type(L, -1), LUA_TFUNCTION);
    lua_setglobal(L, "chunk");
    CHECK_INT(luaL_loadbuffer(L, text, len, "@/some/where/else/nyx/tools.lua"), LUA_OK);
    lua_setglobal(L, "compiled");
    /* nyx.tools requires nyx.core: a stand-in with what the chunk touches while it loads. */
    const char *probe =
        "package.preload['nyx.core'] = function() return setmetatable({}, {__index = function() return function() end end}) end\n"
        "local a, b = chunk('nyx.tools'), compiled('nyx.tools')\n"
        "local ia, ib = debug.getinfo(a.tool, 'S'), debug.getinfo(b.tool, 'S')\n"
        "local ok_a, ea = pcall(a.tool, {})\n"
        "local ok_b, eb = pcall(b.tool, {})\n"
        "return ia.source, ia.linedefined == ib.linedefined and ia.lastlinedefined == ib.lastlinedefined,"
        " ok_a == ok_b and tostring(ea) == tostring(eb), ia.source == ib.source\n";
    CHECK_INT(luaL_dostring(L, probe), LUA_OK);
    if (lua_gettop(L) >= 4) {
        CHECK_STR(lua_tostring(L, -4), "@/some/where/else/nyx/tools.lua");
        CHECK(lua_toboolean(L, -3));
        CHECK(lua_toboolean(L, -2));
        CHECK(lua_toboolean(L, -1));
    } else {
        fprintf(stderr, "probe: %s\n", lua_tostring(L, -1));
    }
    lua_settop(L, 0);

    /* Any other text, another module's name or no path: nothing is pushed, compile instead. */
    text[len - 1] = text[len - 1] == ' ' ? '\n' : ' ';
    CHECK_INT(lnyx_chunk_load(L, "nyx.tools", path, text, len), 0);
    text[len - 1] = text[len - 1] == ' ' ? '\n' : ' ';
    CHECK_INT(lnyx_chunk_load(L, "nyx.tools", path, text, len - 1), 0);
    CHECK_INT(lnyx_chunk_load(L, "nyx.agent", path, text, len), 0);
    CHECK_INT(lnyx_chunk_load(L, "nyx.no_such_module", path, text, len), 0);
    CHECK_INT(lnyx_chunk_load(L, "nyx.tools", NULL, text, len), 0);
    CHECK_INT(lua_gettop(L), 0);
    CHECK_INT(lnyx_chunk_load(L, "nyx.tools", path, text, len), 1); /* the text restored */
    lua_close(L);
    free(text);
}

/* A long path needs more than one byte for its size in the bytecode. */
static void test_long_path(void)
{
    size_t len = 0;
    char *text = slurp(LUA_DIR "/init.lua", &len);
    if (!text)
        return;
    char path[400];
    memset(path, 'd', sizeof path);
    memcpy(path, "/x/", 3);
    memcpy(path + sizeof path - 14, "/nyx/init.lua", 14);
    lua_State *L = luaL_newstate();
    CHECK_INT(lnyx_chunk_load(L, "nyx", path, text, len), 1);
    lua_Debug ar;
    lua_getinfo(L, ">S", &ar);
    CHECK(ar.source[0] == '@' && strcmp(ar.source + 1, path) == 0);
    lua_close(L);
    free(text);
}

int main(void)
{
    test_every_module();
    test_load();
    test_long_path();
    CHECK_DONE();
}
