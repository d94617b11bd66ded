/* Loading the library's modules from the bytecode the build made (lchunks.h). */
#include "lua/lchunks.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const lnyx_chunk *find(const char *name)
{
    for (size_t i = 0; i < lnyx_nchunks; i++)
        if (strcmp(lnyx_chunks[i].name, name) == 0)
            return &lnyx_chunks[i];
    return NULL;
}

int lnyx_chunk_known(const char *name) { return name && find(name) != NULL; }

int lnyx_chunk_load(lua_State *L, const char *name, const char *path, const char *text, size_t len)
{
    const lnyx_chunk *c = name && path && text ? find(name) : NULL;
    if (!c || XXH3_64bits(text, len) != c->hash)
        return 0;
    /* The source name as luaL_loadfilex gives it ("@" and the path), with its size plus one
     * first, 7 bits a byte, most significant first, the last byte marked (Lua 5.4's dumpSize). */
    size_t plen = strlen(path), slen = plen + 1, n = 0;
    unsigned char size[16], tmp[16];
    for (size_t x = slen + 1; n == 0 || x; x >>= 7)
        tmp[n++] = x & 0x7f;
    for (size_t i = 0; i < n; i++)
        size[i] = tmp[n - 1 - i];
    size[n - 1] |= 0x80;
    /* The chunk name is also "@path": a binary chunk's own source name is used, this one only
     * in messages about the chunk's header. */
    const char *chunkname = lua_pushfstring(L, "@%s", path);
    size_t total = c->head_len + n + slen + c->tail_len;
    unsigned char *b = malloc(total);
    if (!b) {
        lua_pop(L, 1);
        return 0;
    }
    unsigned char *p = b;
    memcpy(p, c->head, c->head_len);
    p += c->head_len;
    memcpy(p, size, n);
    p += n;
    *p++ = '@';
    memcpy(p, path, plen);
    p += plen;
    memcpy(p, c->tail, c->tail_len);
    int rc = luaL_loadbufferx(L, (const char *)b, total, chunkname, "b");
    free(b);
    lua_remove(L, -2);
    if (rc != LUA_OK) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}
