/* A host's frames (nyx_poll(e, 0)) give the Lua collector the time their budget leaves, in
 * small steps: garbage left by a script that then allocates next to nothing is collected
 * frame by frame. Lua's own collector would not start on it: a full collection has just
 * run with the garbage still alive, so its next cycle waits for the heap to double, which
 * the script's few small allocations afterwards are far from. No time is asserted. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "nyx.h"
#include "sim_engine.h"

#include <time.h>

static const char *script =
    "local nyx = require 'nyx'\n"
    "local junk = {}\n"
    "for i = 1, 60000 do junk[i] = {i} end\n"
    "collectgarbage()\n" /* a cycle ends with it alive */
    "junk = nil\n"
    "local before = collectgarbage('count')\n"
    "for _ = 1, 3000 do\n"
    "  if collectgarbage('count') < before / 2 then return end\n"
    "  nyx.sleep(0.001)\n"
    "end\n"
    "error(string.format('still %.0f KB of %.0f', collectgarbage('count'), before))\n";

int main(void)
{
    nyx_engine *e = open_sim_engine("0");
    CHECK(e != NULL);
    if (!e)
        return 1;
    CHECK_INT(nyx_load_string(e, script, "=collector"), NYX_OK);
    int rc;
    do {
        rc = nyx_poll(e, 0);
        struct timespec frame = {0, 1000 * 1000};
        nanosleep(&frame, NULL);
    } while (rc == NYX_AGAIN);
    if (rc != NYX_OK)
        fprintf(stderr, "nyx_poll: %d %s\n", rc, nyx_errmsg(e));
    CHECK_INT(rc, NYX_OK);
    nyx_close(e);
    return check_failures;
}
