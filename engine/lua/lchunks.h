/* The library's Lua modules compiled at build time (cmake/lua_chunks_gen.c): `require` of one
 * whose file holds the text the build compiled loads its bytecode instead of compiling it
 * again (init.lua and tools.lua, which every run loads, cost 2.5M instructions to compile,
 * 0.4M to load as bytecode). Any other text, an edited file or a project's own module of the
 * same name, is compiled as before, so it behaves and fails exactly as its text says. */
#ifndef NYX_LUA_LCHUNKS_H
#define NYX_LUA_LCHUNKS_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

/* A module's bytecode less its source name, which lies between head and tail (its size in
 * Lua's encoding, then the name): put back at load time as the file then found. */
typedef struct lnyx_chunk {
    const char *name;   /* "nyx.tools"; NULL ends the list */
    uint64_t hash;      /* XXH3-64 of the text compiled */
    const unsigned char *head;
    size_t head_len;
    const unsigned char *tail;
    size_t tail_len;
} lnyx_chunk;

extern const lnyx_chunk lnyx_chunks[];
extern const size_t lnyx_nchunks;

/* 1 when module `name` is one of the compiled ones, else 0. */
int lnyx_chunk_known(const char *name);

/* Pushes the function of module `name` whose file `path` holds text of len bytes, loaded from
 * its bytecode, and returns 1. Returns 0, pushing nothing, when the text is not the one the
 * build compiled (or this Lua refuses the bytecode, or memory ran out): compile it then. */
int lnyx_chunk_load(lua_State *L, const char *name, const char *path, const char *text, size_t len);

#endif
