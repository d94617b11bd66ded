/* nyx_stop and nyx_resume as a host sees them when the database cannot be reached: the stop
 * still holds in this process (a call made after it fails with "stopped") and says, with
 * NYX_EIO, that the other processes were not told; nyx_resume cannot clear what the database
 * may hold, so the stop stays and it says so. With the database, both succeed. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

#include <stdlib.h>

/* What a call made now ends as: "ok", or its error's type. */
static const char *call_outcome(nyx_engine *e)
{
    int rc = nyx_load_string(e,
                             "local nyx = require 'nyx'\n"
                             "local ok, r = pcall(nyx.call, {prompt = 'hi', max_tokens = 20})\n"
                             "error(ok and 'ok' or r.type, 0)\n",
                             "=probe");
    while (rc == NYX_OK || rc == NYX_AGAIN)
        rc = nyx_poll(e, 10); /* the call waits: the script fails at a later turn */
    CHECK_INT(rc, NYX_ESCRIPT);
    const char *msg = nyx_errmsg(e);
    if (strncmp(msg, "ok\n", 3) == 0)
        return "ok";
    if (strncmp(msg, "stopped\n", 8) == 0)
        return "stopped";
    fprintf(stderr, "probe: %s\n", msg);
    return "other";
}

static void stop_without_database(void)
{
    setenv("NYX_DURABILITY", "degrade", 1); /* calls go on without the database */
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    CHECK_INT(nyx_set(e, "db", "/nonexistent/nyx-test-dir/nyx.db"), NYX_OK);
    CHECK_STR(call_outcome(e), "ok");
    CHECK_INT(nyx_stop(e, "runaway spend"), NYX_EIO);
    CHECK_CONTAINS(nyx_errmsg(e),
                   "stopped in this process only: the stop could not reach the database: store: "
                   "cannot open /nonexistent/nyx-test-dir/nyx.db");
    CHECK_STR(call_outcome(e), "stopped");
    CHECK_INT(nyx_resume(e), NYX_EIO);
    CHECK_CONTAINS(nyx_errmsg(e), "the stop stays: the database cannot be reached to clear it");
    CHECK_STR(call_outcome(e), "stopped");
    nyx_close(e);
    unsetenv("NYX_DURABILITY");
}

static void stop_with_database(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    CHECK_INT(nyx_stop(e, "runaway spend"), NYX_OK);
    CHECK_STR(call_outcome(e), "stopped");
    CHECK_INT(nyx_resume(e), NYX_OK);
    CHECK_STR(call_outcome(e), "ok");
    nyx_close(e);
}

int main(void)
{
    stop_without_database();
    stop_with_database();
    CHECK_DONE();
}
