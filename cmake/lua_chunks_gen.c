/* lua_chunks_gen OUT.c NAME FILE [NAME FILE ...]: compiles each of the library's Lua modules
 * as `require` would (luaL_loadfilex) and writes its bytecode, with debug information, into
 * C arrays for engine/lua/lchunks.c, beside the hash of the text it came from. At run time a
 * module whose file holds that same text is loaded from the bytecode instead of compiled
 * again. The dump names its source (the file) once, right after its header; that name is cut
 * out here (head and tail are kept) and put back at run time as the file then found, so
 * messages and debug.getinfo name the file as a compiled one would.
 * A file that does not compile is left out: at run time it is compiled and fails as before. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static int writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    buf *b = ud;
    if (b->n + sz > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + sz)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q)
            return 1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, sz);
    b->n += sz;
    return 0;
}

/* Lua 5.4's dumpSize: 7 bits a byte, most significant first, the last byte marked 0x80. */
static size_t size_bytes(size_t x, unsigned char out[16])
{
    unsigned char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = x & 0x7f;
        x >>= 7;
    } while (x);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n - 1] |= 0x80;
    return n;
}

static void bytes(FILE *f, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%u,", i % 20 == 0 ? "\n    " : "", p[i]);
    if (!n)
        fputs("0", f); /* no empty initialiser */
}

static int read_text(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    buf b = {0};
    unsigned char chunk[8192];
    size_t got;
    int bad = 0;
    while (!bad && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        bad = writer(NULL, chunk, got, &b);
    bad |= ferror(f);
    fclose(f);
    if (bad) {
        free(b.p);
        return -1;
    }
    *text = (char *)b.p;
    *len = b.n;
    return 0;
}

/* Writes module i; returns 1 when written, 0 when left out, -1 on a failure of this tool. */
static int module(FILE *out, lua_State *L, size_t i, const char *name, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (read_text(path, &text, &len) != 0) {
        fprintf(stderr, "lua_chunks_gen: cannot read %s\n", path);
        return -1;
    }
    unsigned long long hash = (unsigned long long)XXH3_64bits(text, len);
    free(text);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        fprintf(stderr, "lua_chunks_gen: %s left out: %s\n", name, lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    buf b = {0};
    int rc = lua_dump(L, writer, &b, 0);
    lua_pop(L, 1);
    /* The source name, "@" and the path, with its size in front. */
    size_t slen = strlen(path) + 1;
    char *source = malloc(slen + 1);
    unsigned char size[16];
    size_t nsize = size_bytes(slen + 1, size);
    unsigned char *at = NULL;
    if (source && rc == 0) {
        source[0] = '@';
        memcpy(source + 1, path, slen);
        for (size_t off = nsize; off + slen <= b.n; off++)
            if (memcmp(b.p + off, source, slen) == 0 && memcmp(b.p + off - nsize, size, nsize) == 0) {
                at = b.p + off;
                break;
            }
    }
    free(source);
    if (!at) {
        fprintf(stderr, "lua_chunks_gen: %s: no source name found in its bytecode\n", name);
        free(b.p);
        return -1;
    }
    size_t head = (size_t)(at - b.p) - nsize, tail = b.n - (size_t)(at - b.p) - slen;
    fprintf(out, "static const unsigned char head_%zu[] = {", i);
    bytes(out, b.p, head);
    fprintf(out, "};\nstatic const unsigned char tail_%zu[] = {", i);
    bytes(out, at + slen, tail);
    fputs("};\n", out);
    fprintf(out, "#define CHUNK_%zu {\"%s\", 0x%016llxULL, head_%zu, %zu, tail_%zu, %zu}\n", i, name,
            hash, i, head, i, tail);
    free(b.p);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc % 2) {
        fprintf(stderr, "usage: lua_chunks_gen OUT.c NAME FILE [NAME FILE ...]\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    FILE *out = L ? fopen(argv[1], "w") : NULL;
    if (!out) {
        fprintf(stderr, "lua_chunks_gen: cannot write %s\n", argv[1]);
        if (L)
            lua_close(L);
        return 1;
    }
    fputs("/* generated from lua/nyx/ by cmake/lua_chunks_gen.c */\n#include \"lua/lchunks.h\"\n\n", out);
    int written[256] = {0};
    int bad = argc / 2 - 1 > 256;
    for (int i = 2; !bad && i < argc; i += 2) {
        int r = module(out, L, (size_t)(i / 2 - 1), argv[i], argv[i + 1]);
        bad = r < 0;
        written[i / 2 - 1] = r == 1;
    }
    size_t n = 0;
    fputs("\nconst lnyx_chunk lnyx_chunks[] = {\n", out);
    for (int i = 0; !bad && i < argc / 2 - 1; i++)
        if (written[i]) {
            fprintf(out, "    CHUNK_%d,\n", i);
            n++;
        }
    fprintf(out, "    {0, 0, 0, 0, 0, 0}};\nconst size_t lnyx_nchunks = %zu;\n", n);
    lua_close(L);
    bad |= ferror(out);
    if (fclose(out) != 0 || bad) {
        remove(argv[1]);
        return 1;
    }
    return 0;
}
