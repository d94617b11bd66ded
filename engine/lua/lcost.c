/* What a call would cost, before it is made: the engine's token estimate for a text and the bill
 * for a usage the script supposes. Thin bindings over engine/cache/policy.c and
 * engine/cost/cost.c; estimates built from them (a council's) are Lua. The worst case a budget
 * reserves for a call is core.estimate's (lcall.c), from the request the call would send. */
#include "lnyx.h"

#include "base/text_shape.h"
#include "cache/policy.h"
#include "cost/cost.h"
#include "cost/models.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const model_info *check_model(lua_State *L, int arg)
{
    nyx_engine *e = lnyx_engine(L);
    const char *name = lua_isnoneornil(L, arg) ? engine_cfg(e)->default_model : lnyx_checkname(L, arg, "the model");
    const model_info *m = models_find(engine_models(e), name);
    if (!m)
        lnyx_argerror(L, arg, "unknown model \"%s\"", name);
    if (!m->has_price)
        lnyx_argerror(L, arg, "no price is known for model \"%s\"", name);
    return m;
}

static int64_t count_field(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    double v = lua_isnil(L, -1) ? 0 : lua_tonumber(L, -1);
    int ok = lua_isnil(L, -1) || lua_isnumber(L, -1);
    lua_pop(L, 1);
    if (!ok || !(v >= 0) || isinf(v))
        lnyx_argerror(L, t, "%s must be a token count (a number >= 0)", k);
    return (int64_t)v;
}

/* nyx.tokens(text [, model [, "max"]]): the engine's estimate of text's tokens for the model,
 * from bytes per token calibrated on the usage of earlier calls; with "max", the most it may
 * hold (what a budget reserves for, which reads what the text is made of). */
static int l_tokens(lua_State *L)
{
    size_t len;
    const char *text = lnyx_checklstring(L, 1, &len);
    const model_info *m = check_model(L, 2);
    const char *bound = lnyx_optstring(L, 3, "estimate");
    cache_policy *p = engine_cache(lnyx_engine(L));
    if (strcmp(bound, "max") == 0) {
        text_shape shape = {0};
        text_shape_add(&shape, text, len);
        lua_pushinteger(L, cache_estimate_tokens_max(p, m, &shape, len));
    } else if (strcmp(bound, "estimate") == 0) {
        lua_pushinteger(L, cache_estimate_tokens(p, m, len));
    } else {
        return lnyx_argerror(L, 3, "\"estimate\" or \"max\" expected, got \"%s\"", bound);
    }
    return 1;
}

/* nyx.price(usage [, model]): what the API bills for usage {input_tokens, output_tokens,
 * cache_read_input_tokens, cache_creation_input_tokens, ttl = "5m"|"1h", service_tier =
 * "standard"|"batch"} now, with every rule the bill has (tiers, dated prices, batch prices). */
static int l_price(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TTABLE);
    const model_info *m = check_model(L, 2);
    claude_usage u = {0};
    u.input_tokens = count_field(L, 1, "input_tokens");
    u.output_tokens = count_field(L, 1, "output_tokens");
    u.cache_read_input_tokens = count_field(L, 1, "cache_read_input_tokens");
    u.cache_creation_input_tokens = count_field(L, 1, "cache_creation_input_tokens");
    lua_getfield(L, 1, "ttl");
    const char *ttl = lua_tostring(L, -1);
    int one_hour = ttl && ttl[0] == '1';
    lua_pop(L, 1);
    lua_getfield(L, 1, "service_tier");
    if (lua_isstring(L, -1))
        snprintf(u.service_tier, sizeof u.service_tier, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    call_cost c;
    if (cost_of_usage_at(m, &u, (double)time(NULL), one_hour, &c) != 0)
        return lnyx_fail(L, "invalid_argument", "cannot price this usage for model \"%s\"", m->id);
    lua_pushnumber(L, c.cost_usd);
    return 1;
}

int lnyx_open_cost(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"tokens", l_tokens}, {"price", l_price}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
