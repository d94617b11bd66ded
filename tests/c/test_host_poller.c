/* A host with its own poller: it waits on nyx_fd() with nyx_timeout_ms() and calls
 * nyx_poll(e, 0) only then. The engine must finish its work that way, without the host ever
 * spinning (every wait but the due ones must sleep until something happens), also when its
 * frames split the work of fifty calls in flight (their starts, their records, their resumes).
 * A negative timeout is a frame's turn too. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "nyx.h"
#include "sim_engine.h"

#include <poll.h>
#include <stdlib.h>

static const char *script =
    "local nyx = require 'nyx'\n"
    "local tasks = {}\n"
    "for i = 1, 50 do\n"
    "  tasks[i] = nyx.spawn(function()\n"
    "    return nyx.call{prompt = 'question ' .. i, max_tokens = 16}.text\n"
    "  end)\n"
    "end\n"
    "nyx.sleep(0.05)\n"
    "for i = 1, 50 do assert(#tasks[i]:wait() > 0) end\n";

int main(void)
{
    CHECK_INT(nyx_fd(NULL), -1);
    CHECK_INT(nyx_timeout_ms(NULL), -1);

    nyx_engine *e = open_sim_engine("30");
    REQUIRE_OR(e != NULL, 1);
    int fd = nyx_fd(e);
    CHECK(fd >= 0);
    CHECK_INT(nyx_timeout_ms(e), 0); /* not started: the first turn is due now */
    CHECK_INT(nyx_load_string(e, script, "=host"), NYX_OK);

    int rc = NYX_AGAIN, turns = 0;
    while (rc == NYX_AGAIN && turns < 100000) {
        int timeout = nyx_timeout_ms(e);
        CHECK(timeout >= -1);
        struct pollfd p = {fd, POLLIN, 0};
        CHECK(poll(&p, 1, timeout < 0 ? 5000 : timeout) >= 0);
        rc = nyx_poll(e, 0);
        turns++;
        CHECK_INT(nyx_fd(e), fd); /* one descriptor for the engine's life */
    }
    if (rc != NYX_OK)
        fprintf(stderr, "nyx_poll: %d %s\n", rc, nyx_errmsg(e));
    CHECK_INT(rc, NYX_OK);
    /* Fifty answers 30 ms away and a 50 ms sleep: a host that spun on a descriptor always
     * readable, or on a zero timeout, would turn tens of thousands of times. */
    CHECK(turns < 2000);
    nyx_close(e);

    /* A negative timeout (poll(2)'s "forever") is a frame's turn, as 0 is: no wait, and the work
     * of three hundred calls starting is left for the next turns (the timeout is 0 then). */
    e = SIM_ENGINE_WITH("30",
                        "local nyx = require 'nyx'\n"
                        "for i = 1, 300 do\n"
                        "  nyx.spawn(function() nyx.call{prompt = 'q' .. i, max_tokens = 8} end)\n"
                        "end\n"
                        "nyx.sleep(30)\n",
                        "=frame");
    REQUIRE_OR(e != NULL, 1);
    CHECK_INT(nyx_poll(e, -1), NYX_AGAIN);
    CHECK_INT(nyx_timeout_ms(e), 0);
    nyx_close(e);
    return check_failures;
}
