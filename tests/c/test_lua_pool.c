/* The Lua state's allocator (engine/lua/lalloc.c): blocks keep their bytes through every
 * resize, within a class and across classes and the pool's limit; a freed block comes back
 * for its class; a block malloc made smaller than its class never serves that class; and a
 * state runs on it (the valgrind twin checks that no byte is read or written outside a block
 * and that closing leaks nothing). An engine's state takes the pool, except under
 * AddressSanitizer. */
#include "base/pooling.h"
#include "check.h"
#include "core/host_api.h"
#include "lua/lnyx.h"
#include "nyx.h"

#include <lualib.h>
#include <stdlib.h>

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

static void resizes_keep_bytes(void)
{
    lnyx_pool *pool = lnyx_pool_new();
    CHECK(pool != NULL);
    /* sizes either side of each class edge and of the largest pooled size */
    static const size_t sizes[] = {1, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, 768, 1023, 1024,
                                   1025, 4000, 1000, 24, 8, 1};
    const size_t n = sizeof sizes / sizeof sizes[0];
    unsigned char *p = lnyx_pool_alloc(pool, NULL, LUA_TSTRING, sizes[0]);
    CHECK(p != NULL);
    fill(p, sizes[0], 1);
    for (size_t i = 1; i < n; i++) {
        size_t keep = sizes[i - 1] < sizes[i] ? sizes[i - 1] : sizes[i];
        CHECK_ROW("%zu -> %zu", sizes[i - 1], sizes[i]);
        p = lnyx_pool_alloc(pool, p, sizes[i - 1], sizes[i]);
        CHECK(p != NULL);
        CHECK(same(p, keep, 1));
        fill(p, sizes[i], 1); /* every byte of the new size is writable */
    }
    CHECK_ROW_END();
    CHECK(lnyx_pool_alloc(pool, p, sizes[n - 1], 0) == NULL);
    lnyx_pool_free(pool);
}

static void freed_blocks_come_back(void)
{
    lnyx_pool *pool = lnyx_pool_new();
    void *a = lnyx_pool_alloc(pool, NULL, 0, 40);
    void *b = lnyx_pool_alloc(pool, NULL, 0, 40);
    CHECK(a && b && a != b);
    lnyx_pool_alloc(pool, a, 40, 0);
    lnyx_pool_alloc(pool, b, 40, 0);
    /* the last freed first, for any size of the class (33 to 48 bytes) */
    CHECK(lnyx_pool_alloc(pool, NULL, 0, 48) == b);
    CHECK(lnyx_pool_alloc(pool, NULL, 0, 33) == a);
    /* a resize within the class keeps the block */
    CHECK(lnyx_pool_alloc(pool, a, 33, 47) == a);
    lnyx_pool_alloc(pool, a, 47, 0);
    lnyx_pool_alloc(pool, b, 48, 0);
    lnyx_pool_free(pool); /* frees the blocks it keeps */
}

static void foreign_small_block_not_kept(void)
{
    lnyx_pool *pool = lnyx_pool_new();
    /* A block malloc made for 20 bytes, as luaL_newstate's allocator does before the pool
     * takes over: its class is 17 to 32 bytes, more than it holds. */
    void *small = malloc(20);
    CHECK(small != NULL);
    lnyx_pool_alloc(pool, small, 20, 0);
    void *q = lnyx_pool_alloc(pool, NULL, 0, 32);
    CHECK(q != NULL && q != small);
    fill(q, 32, 3);
    lnyx_pool_alloc(pool, q, 32, 0);
    /* nor grown in place within its class */
    small = malloc(20);
    fill(small, 20, 5);
    unsigned char *g = lnyx_pool_alloc(pool, small, 20, 32);
    CHECK(g != NULL && (void *)g != small);
    CHECK(same(g, 20, 5));
    lnyx_pool_alloc(pool, g, 32, 0);
    lnyx_pool_free(pool);
}

static void a_state_runs_on_it(void)
{
    lua_State *L = luaL_newstate();
    CHECK(L != NULL);
    lnyx_pool *pool = lnyx_pool_new();
    lua_setallocf(L, lnyx_pool_alloc, pool);
    luaL_openlibs(L);
    /* strings and tables of many sizes made, grown, dropped and collected, several rounds */
    const char *chunk =
        "local sum = 0\n"
        "for round = 1, 20 do\n"
        "  local t = {}\n"
        "  for i = 1, 300 do\n"
        "    local s = string.rep('x', i % 70) .. i\n"
        "    t[i] = { s = s, n = i, list = { i, i + 1, s } }\n"
        "  end\n"
        "  for i = 1, 300 do sum = sum + #t[i].s + t[i].list[2] end\n"
        "  collectgarbage()\n"
        "end\n"
        "return sum";
    CHECK_INT(luaL_dostring(L, chunk), LUA_OK);
    long long expect = 0;
    for (int i = 1; i <= 300; i++) {
        char digits[8];
        expect += (i % 70) + snprintf(digits, sizeof digits, "%d", i) + i + 1;
    }
    CHECK_INT(lua_tointeger(L, -1), expect * 20);
    lua_close(L);
    lnyx_pool_free(pool);
}

/* The state an engine makes allocates from the pool, but not under AddressSanitizer
 * (base/pooling.h): there a block freed must be freed, so that a stale pointer into an object
 * the collector let go is reported, not served a live object kept and handed out again. */
static void an_engines_state(void)
{
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    REQUIRE(e != NULL);
    CHECK_INT(nyx_set(e, "reload", "0"), NYX_OK);
    int rc = nyx_load_string(e, "return 1", "=pool");
    CHECK(rc == NYX_OK || rc == NYX_AGAIN);
    lua_State *L = engine_host(e);
    REQUIRE(L != NULL);
    CHECK_INT(lua_getallocf(L, NULL) == lnyx_pool_alloc, NYX_POOLING);
    nyx_close(e);
}

int main(void)
{
    resizes_keep_bytes();
    freed_blocks_come_back();
    foreign_small_block_not_kept();
    a_state_runs_on_it();
    an_engines_state();
    CHECK_DONE();
}
