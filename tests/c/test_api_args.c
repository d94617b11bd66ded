/* The entry points of nyx.h (engine/api/api.c) given a NULL engine, NULL strings or NULL
 * places for a result: each returns the error nyx.h documents, names the argument in
 * nyx_errmsg, and never crashes. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

#include <math.h>

static int no_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ud, (void)ncols, (void)names, (void)values;
    return 0;
}

static void no_tool(void *ud, nyx_engine *e, long long call, const char *input)
{
    (void)ud, (void)e, (void)call, (void)input;
}

/* Every function that takes an engine, given none. */
static void test_null_engine(void)
{
    char *out = NULL;
    const char *date = "unset";
    nyx_progress_info info;
    CHECK_STR(nyx_errmsg(NULL), "no engine");
    CHECK_STR(nyx_provider(NULL), "none");
    CHECK_INT(nyx_set(NULL, "db", ":memory:"), NYX_EINVAL);
    CHECK_INT(nyx_load_file(NULL, "x.lua", 0, NULL), NYX_EINVAL);
    CHECK_INT(nyx_load_string(NULL, "return 1", "x"), NYX_EINVAL);
    CHECK_INT(nyx_poll(NULL, 0), NYX_EINVAL);
    CHECK_INT(nyx_run(NULL), NYX_EINVAL);
    CHECK_INT(nyx_fd(NULL), -1);
    CHECK_INT(nyx_timeout_ms(NULL), -1);
    CHECK_INT(nyx_watch_script(NULL, "x.lua"), NYX_EINVAL);
    CHECK_INT(nyx_stop(NULL, "r"), NYX_EINVAL);
    CHECK_INT(nyx_resume(NULL), NYX_EINVAL);
    CHECK_INT(nyx_tool_register(NULL, "t", NULL, no_tool, NULL), NYX_EINVAL);
    CHECK_INT(nyx_tool_result(NULL, 1, "x", 0), NYX_EINVAL);
    CHECK_INT(nyx_query(NULL, "stats", NULL, no_row, NULL), NYX_EINVAL);
    CHECK_INT(nyx_models_date(NULL, &date), 0);
    CHECK(date == NULL);
    CHECK_INT(nyx_budget_reset(NULL, "day:2026-12-06"), NYX_EINVAL);
    CHECK_INT(nyx_prune(NULL, "2026-12-01", 1, NULL, NULL), NYX_EINVAL);
    CHECK_INT(nyx_progress(NULL, &info), NYX_EINVAL);
    CHECK_INT(nyx_config_get(NULL, "budget.hard", &out, NULL), NYX_EINVAL);
    CHECK_INT(nyx_config_set(NULL, "budget.hard", "true"), NYX_EINVAL);
    CHECK_INT(nyx_template_render(NULL, "t", NULL, &out, NULL), NYX_EINVAL);
    CHECK_INT(nyx_template_get(NULL, "t", &out, NULL, NULL), NYX_EINVAL);
    CHECK_INT(nyx_template_diff(NULL, "t", 1, 2, &out), NYX_EINVAL);
    CHECK_INT((int)nyx_finish_records(NULL), 0);
    CHECK(out == NULL);
    nyx_set_log(NULL, NULL, NULL);
    nyx_set_debug_writer(NULL, NULL, NULL);
    nyx_set_output(NULL, NULL, NULL);
    nyx_stop_scripts(NULL);
    nyx_cancel_all(NULL, "r");
    nyx_interrupt(NULL);
    nyx_close(NULL);
    nyx_free(NULL);
    CHECK_INT(nyx_sim_port(NULL), -1);
    nyx_sim_stop(NULL);
}

/* An engine, given NULL where a string or a place for a result is required. */
static void test_null_arguments(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    char *out = NULL;
    CHECK_INT(nyx_set(e, NULL, "x"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set");
    CHECK_INT(nyx_set(e, "db", NULL), NYX_EINVAL);
    CHECK_INT(nyx_load_file(e, NULL, 0, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "path is required");
    CHECK_INT(nyx_load_file(e, "x.lua", 1, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "argv");
    CHECK_INT(nyx_load_string(e, NULL, "x"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "chunk is required");
    CHECK_INT(nyx_watch_script(e, NULL), NYX_EINVAL);
    CHECK_INT(nyx_query(e, NULL, NULL, no_row, NULL), NYX_EINVAL);
    CHECK_INT(nyx_query(e, "stats", NULL, NULL, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_query");
    CHECK_INT(nyx_budget_reset(e, NULL), NYX_EINVAL);
    CHECK_INT(nyx_prune(e, NULL, 1, NULL, NULL), NYX_EINVAL);
    CHECK_INT(nyx_prune(e, "yesterday", 1, NULL, NULL), NYX_EINVAL);
    CHECK_INT(nyx_progress(e, NULL), NYX_EINVAL);
    CHECK_INT(nyx_config_get(e, NULL, &out, NULL), NYX_EINVAL);
    CHECK_INT(nyx_config_get(e, "budget.hard", NULL, NULL), NYX_EINVAL);
    CHECK_INT(nyx_config_set(e, NULL, "true"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "key is required");
    CHECK_INT(nyx_template_render(e, NULL, NULL, &out, NULL), NYX_EINVAL);
    CHECK_INT(nyx_template_get(e, "t", NULL, NULL, NULL), NYX_EINVAL);
    CHECK_INT(nyx_template_diff(e, NULL, 1, 2, &out), NYX_EINVAL);
    CHECK_INT(nyx_tool_register(e, NULL, NULL, no_tool, NULL), NYX_EINVAL);
    CHECK_INT(nyx_tool_register(e, "t", NULL, NULL, NULL), NYX_EINVAL);
    CHECK(out == NULL);
    CHECK_INT(nyx_models_date(e, NULL) >= 0, 1);
    CHECK_INT(nyx_utf8_check(NULL, 5), -1);
    CHECK_INT(nyx_utf8_check("caf\xe9", 4), 3); /* base/utf8.c's check, as a host sees it */
    char num[32];
    CHECK_INT(nyx_json_number(0.1, NULL, 32), -1);
    CHECK_INT(nyx_json_number(0.30000000000000004, num, 4), -1); /* too small */
    CHECK_INT(nyx_json_number(0.30000000000000004, num, sizeof num), 19);
    CHECK_STR(num, "0.30000000000000004"); /* base/json_number.c's, as a host sees it */
    CHECK_INT(nyx_json_number(-1.7976931348623157e308, num, sizeof num), 24); /* the longest */
    CHECK_INT(nyx_json_number(INFINITY, num, sizeof num), -1);
    nyx_cancel_all(e, NULL);
    nyx_interrupt(e); /* no Lua runs: nothing to stop, and nothing is left to fire later */
    nyx_close(e);
}

int main(void)
{
    test_null_engine();
    test_null_arguments();
    CHECK_DONE();
}
