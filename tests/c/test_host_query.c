/* nyx_query's row function returning non-zero stops the query: for every kind that has more
 * than one row here, the host sees exactly one (reprice gave its total row after the stop). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

static int rows;

static int count_all(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ud, (void)ncols, (void)names, (void)values;
    rows++;
    return 0;
}

static int first_only(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ud, (void)ncols, (void)names, (void)values;
    rows++;
    return 1;
}

int main(void)
{
    nyx_engine *e = SIM_ENGINE_WITH("0",
                                    "local nyx = require 'nyx'\n"
                                    "for i = 1, 3 do nyx.call{prompt = 'question ' .. i, max_tokens = 16} end\n"
                                    "nyx.call{prompt = 'another model', model = 'claude-sonnet-5-5', max_tokens = 16}\n"
                                    "nyx.audit('note', 'one')\n"
                                    "nyx.audit('note', 'two')\n",
                                    "=calls");
    REQUIRE_OR(e != NULL, 1);
    CHECK_INT(run_to_done(e), NYX_OK);
    const char *by_model[] = {"by=model", NULL};
    const char *json[] = {"format=json", NULL};
    const struct {
        const char *kind;
        const char *const *options;
    } kinds[] = {{"log", NULL}, {"log", json}, {"audit", NULL}, {"config", NULL}, {"models", NULL},
                 {"templates", NULL}, {"reprice", NULL}, {"stats", by_model}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        CHECK_ROW("%s%s", kinds[i].kind, kinds[i].options ? " with an option" : "");
        rows = 0;
        CHECK_INT(nyx_query(e, kinds[i].kind, kinds[i].options, count_all, NULL), NYX_OK);
        CHECK(rows >= 2); /* else the stop below proves nothing */
        rows = 0;
        CHECK_INT(nyx_query(e, kinds[i].kind, kinds[i].options, first_only, NULL), NYX_OK);
        CHECK_INT(rows, 1);
        CHECK_ROW_END();
    }
    nyx_close(e);
    CHECK_DONE();
}
