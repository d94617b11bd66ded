/* nyx.guard's C half: the PII and secrets scanner (lua/nyx/guard.lua adds the policy). */
#include "lnyx.h"

#include "guard/scan.h"

#include <stdlib.h>

typedef struct scan_rows {
    lua_State *L;
    int n;
} scan_rows;

static int push_finding(void *ud, const guard_finding *f)
{
    scan_rows *r = ud;
    lua_createtable(r->L, 0, 3);
    lua_pushstring(r->L, guard_kind_name(f->kind));
    lua_setfield(r->L, -2, "kind");
    lua_pushinteger(r->L, (lua_Integer)f->start + 1); /* Lua strings count from 1 */
    lua_setfield(r->L, -2, "start");
    lua_pushinteger(r->L, (lua_Integer)f->end); /* inclusive, as string.sub takes it */
    lua_setfield(r->L, -2, "end");
    lua_rawseti(r->L, -2, ++r->n);
    return 0;
}

/* nyx.guard.scan(text) -> {{kind=, start=, end=}, ...} */
static int l_scan(lua_State *L)
{
    size_t len;
    const char *text = lnyx_checklstring(L, 1, &len);
    lua_newtable(L);
    scan_rows r = {L, 0};
    guard_scan(text, len, push_finding, &r);
    return 1;
}

/* nyx.guard.redact(text) -> text with [EMAIL], [CARD], ... in place of what was found */
static int l_redact(lua_State *L)
{
    size_t len, out_len = 0;
    const char *text = lnyx_checklstring(L, 1, &len);
    char *out = guard_redact(text, len, &out_len);
    if (!out)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    lua_pushlstring(L, out, out_len);
    free(out);
    return 1;
}

int lnyx_open_guard(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"guard_scan", l_scan}, {"guard_redact", l_redact}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
