/* engine/store rows keep the database's types: a session named "007" and an agent named
 * "1e3" are text, counts are integers and costs reals, on each backend; and the rows reach
 * Lua (lnyx_push_row, what nyx.budget.status and nyx.templates.stats use) as strings and
 * numbers by those types, not by how the text looks. */
#include "conformance.h"

#include "base/rows.h"
#include "lua/lnyx.h"

#include <lauxlib.h>
#include <lualib.h>

/* The type letter of column name in a kept row (ROW_NULL for NULL, '?' when absent); its
 * value in *value when value is not NULL. */
static char type_of(const rowset_row *row, const char *name, const char **value)
{
    for (int c = 0; c < row->ncols; c++)
        if (strcmp(row->names[c], name) == 0) {
            if (value)
                *value = row->values[c];
            return row->values[c] ? row->types[c] : ROW_NULL;
        }
    return '?';
}

/* Two calls into s's new database: session "007" as agent "1e3", and the other way round. */
static void log_two(store_db *s)
{
    error_info err = cleared_error();
    interaction_rec a = make("i-007", 1000), b = make("i-1e3", 1001);
    a.session = "007";
    a.agent = "1e3";
    a.has_cost = 1;
    a.cost_usd = 0.25;
    a.usage.input_tokens = 10;
    b.session = "1e3";
    b.agent = "007";
    b.has_cost = 1;
    b.cost_usd = 0.5;
    b.usage.input_tokens = 20;
    CHECK_INT(store_log_interaction(s, &a, &err), 0);
    CHECK_INT(store_log_interaction(s, &b, &err), 0);
    CHECK_INT(drive(s, 10), 0);
}

static void test_columns_keep_their_types(store_db *s)
{
    log_two(s);
    error_info err = cleared_error();
    static const char *const by[] = {"session", "agent"};
    for (int k = 0; k < 2; k++) {
        rowset t = {0};
        store_filter f = {.group_by = by[k]};
        CHECK_INT(store_query_stats(s, &f, rowset_add, &t, &err), 0);
        CHECK_INT((long long)t.n, 2);
        for (size_t i = 0; i < t.n; i++) {
            const char *g = NULL;
            CHECK_INT(type_of(&t.rows[i], "group", &g), ROW_TEXT);
            CHECK(g && (strcmp(g, "007") == 0 || strcmp(g, "1e3") == 0));
            CHECK_INT(type_of(&t.rows[i], "calls", NULL), ROW_INT);
            char cost = type_of(&t.rows[i], "cost_usd", NULL);
            CHECK(cost == ROW_REAL || cost == ROW_INT);
        }
        rowset_free(&t);
    }
}

/* The rows as a script sees them. */
static void test_lua_sees_strings_and_numbers(store_db *s)
{
    log_two(s);
    error_info err = cleared_error();
    lua_State *L = luaL_newstate();
    CHECK(L != NULL);
    if (!L)
        return;
    lua_newtable(L);
    lnyx_rows r = {L, 0};
    store_filter f = {.group_by = "session"};
    CHECK_INT(store_query_stats(s, &f, lnyx_push_row, &r, &err), 0);
    CHECK_INT(r.n, 2);
    for (lua_Integer i = 1; i <= r.n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "group");
        CHECK_INT(lua_type(L, -1), LUA_TSTRING);
        const char *g = lua_tostring(L, -1);
        CHECK(g && (strcmp(g, "007") == 0 || strcmp(g, "1e3") == 0));
        lua_pop(L, 1);
        lua_getfield(L, -1, "calls");
        CHECK(lua_isinteger(L, -1));
        CHECK_INT(lua_tointeger(L, -1), 1);
        lua_pop(L, 1);
        lua_getfield(L, -1, "cost_usd");
        CHECK_INT(lua_type(L, -1), LUA_TNUMBER);
        lua_pop(L, 2);
    }
    /* Kept rows (an answer read after the loop resumes the script) keep the types too. */
    rowset kept = {0};
    CHECK_INT(store_query_stats(s, &f, rowset_add, &kept, &err), 0);
    CHECK_INT((long long)kept.n, 2);
    for (size_t i = 0; i < kept.n; i++)
        CHECK_INT(type_of(&kept.rows[i], "group", NULL), ROW_TEXT);
    rowset_free(&kept);
    lua_close(L);
}

CONFORMANCE_SUITE("types",
    {"columns keep their types", .on_db = test_columns_keep_their_types},
    {"Lua sees strings and numbers", .on_db = test_lua_sees_strings_and_numbers})
