/* A host that cancels what its scripts started, or closes the engine with work under way: the
 * tasks nobody waited for end cancelled, which the host asked for, and are not reported one by
 * one as failures through the log function (each was a warning with a traceback); a task that
 * failed for another reason and that nobody waited for still is. nyx_cancel_all while a tool
 * loop waits for the host's answer cancels nothing: the loop goes on once answered. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

static int unseen; /* "a task failed and nobody waited for it" warnings */
static char last_unseen[300];

static void on_log(void *ud, int level, const char *msg)
{
    (void)ud;
    if (level >= NYX_LOG_WARN && strstr(msg, "nobody waited for it")) {
        unseen++;
        snprintf(last_unseen, sizeof last_unseen, "%s", msg);
    }
}

/* Five tasks with a call each, and one that fails on its own; the main chunk waits for none. */
static const char *script = "local nyx = require 'nyx'\n"
                            "for i = 1, 5 do nyx.spawn(function() nyx.call{prompt = 'hello ' .. i} end) end\n"
                            "nyx.spawn(function() error('a real failure', 0) end)\n"
                            "nyx.sleep(10)\n";

static nyx_engine *started(void)
{
    nyx_engine *e = open_sim_engine("200"); /* calls still under way a few turns later */
    if (!e)
        return NULL;
    nyx_set_log(e, on_log, NULL);
    CHECK_INT(nyx_load_string(e, script, "=tasks"), NYX_OK);
    for (int i = 0; i < 3; i++)
        CHECK_INT(nyx_poll(e, 1), NYX_AGAIN);
    return e;
}

static long long held; /* the host tool's call, answered later */

static void hold(void *ud, nyx_engine *e, long long call, const char *input)
{
    (void)ud, (void)e, (void)input;
    held = call;
}

/* nyx_cancel_all while a tool loop waits for the host's answer: no request is in flight then,
 * so nothing is cancelled, and the loop goes on once the host answers. */
static void cancel_while_tool_waits(void)
{
    nyx_engine *e = open_sim_engine("1");
    REQUIRE(e != NULL);
    CHECK_INT(nyx_tool_register(e, "hold", NULL, hold, NULL), NYX_OK);
    CHECK_INT(nyx_load_string(e,
                              "local nyx = require 'nyx'\n"
                              "local r = nyx.call{prompt = 'use hold', tools = {'hold'}}\n"
                              "assert(r.iterations == 2, 'iterations ' .. tostring(r.iterations))\n",
                              "=hold"),
              NYX_OK);
    held = 0;
    for (int i = 0; i < 10000 && !held; i++)
        CHECK_INT(nyx_poll(e, 1), NYX_AGAIN);
    REQUIRE(held > 0);
    nyx_progress_info p;
    CHECK_INT(nyx_progress(e, &p), NYX_OK);
    CHECK_INT(p.calls_in_flight, 0);
    nyx_cancel_all(e, "enough");
    for (int i = 0; i < 5; i++)
        CHECK_INT(nyx_poll(e, 1), NYX_AGAIN);
    CHECK_INT(nyx_tool_result(e, held, "done", 0), NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    nyx_close(e);
}

int main(void)
{
    /* nyx_close with the calls in flight. */
    unseen = 0;
    nyx_engine *e = started();
    REQUIRE_OR(e != NULL, 1);
    nyx_close(e);
    CHECK_INT(unseen, 1);
    CHECK_CONTAINS(last_unseen, "a real failure");

    /* nyx_stop_scripts, then polling to the end: the main chunk, which catches nothing, ends
     * as a failure (NYX_ESCRIPT, once), then everything is done. */
    unseen = 0;
    REQUIRE_OR((e = started()) != NULL, 1);
    nyx_stop_scripts(e);
    int rc, failed = 0;
    while ((rc = nyx_poll(e, 10)) == NYX_AGAIN || rc == NYX_ESCRIPT)
        if (rc == NYX_ESCRIPT) {
            failed++;
            CHECK_CONTAINS(nyx_errmsg(e), "cancelled");
        }
    CHECK_INT(rc, NYX_OK);
    CHECK_INT(failed, 1);
    nyx_close(e);
    CHECK_INT(unseen, 1);
    CHECK_CONTAINS(last_unseen, "a real failure");

    /* nyx_cancel_all: the calls fail "cancelled", their tasks with them. */
    unseen = 0;
    REQUIRE_OR((e = started()) != NULL, 1);
    nyx_cancel_all(e, "enough");
    nyx_stop_scripts(e); /* the main chunk's sleep */
    while ((rc = nyx_poll(e, 10)) == NYX_AGAIN || rc == NYX_ESCRIPT)
        ;
    nyx_close(e);
    CHECK_INT(unseen, 1);

    cancel_while_tool_waits();
    CHECK_DONE();
}
