/* Lua's collector in a host's frames (nyx_poll(e, 0)) and out of them (core/collector.c).
 * In frames it does not run by itself: the time each frame leaves does its work in small
 * steps, and garbage left by a script that then allocates next to nothing is collected frame
 * by frame (Lua's own collector would not even start on it: a full collection has just run
 * with the garbage alive, so its next cycle waits for the heap to double). Frames that leave
 * no time at all still keep the heap bounded: past twice its size the collector runs by itself
 * again. nyx_run collects as Lua does, with a pause of one and a half times the heap. No time
 * is asserted. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core/host_api.h"
#include "core/loop.h"
#include "nyx.h"
#include "sim_engine.h"

#include <time.h>

/* Frames of a millisecond until the script ends, or `most` of them (0: no limit); the result
 * of the last nyx_poll. */
static int frames(nyx_engine *e, int most)
{
    int rc;
    do {
        rc = nyx_poll(e, 0);
        struct timespec frame = {0, 1000 * 1000};
        nanosleep(&frame, NULL);
    } while (rc == NYX_AGAIN && --most != 0);
    if (rc != NYX_OK && rc != NYX_AGAIN)
        fprintf(stderr, "nyx_poll: %d %s\n", rc, nyx_errmsg(e));
    return rc;
}

static const char *idle_steps =
    "local nyx = require 'nyx'\n"
    "local junk = {}\n"
    "for i = 1, 60000 do junk[i] = {i} end\n"
    "collectgarbage()\n" /* a cycle ends with it alive */
    "junk = nil\n"
    "local before = collectgarbage('count')\n"
    "for _ = 1, 3000 do\n"
    "  nyx.sleep(0.001)\n"
    "  assert(not collectgarbage('isrunning'), 'the collector runs by itself in frames')\n"
    "  if collectgarbage('count') < before / 2 then return end\n"
    "end\n"
    "error(string.format('still %.0f KB of %.0f', collectgarbage('count'), before))\n";

/* Each resume leaves ~130 KB of garbage, 26 MB in all: the heap's peak stays a few MB. */
static const char *no_idle =
    "local nyx = require 'nyx'\n"
    "local peak = 0\n"
    "for _ = 1, 200 do\n"
    "  local t = {}\n"
    "  for j = 1, 2000 do t[j] = {j} end\n"
    "  peak = math.max(peak, collectgarbage('count'))\n"
    "  nyx.sleep(0.001)\n"
    "end\n"
    "assert(peak < 4096, string.format('the heap reached %.0f KB', peak))\n";

/* Frames first (the collector stopped), then nyx_run: 17 MB of garbage made in one resume
 * are collected as they are made, a cycle starting at one and a half times the heap. */
static const char *run_after_frames =
    "local nyx = require 'nyx'\n"
    "local pause = collectgarbage('setpause', 150)\n"
    "assert(math.abs(pause - 150) < 4, 'the pause is ' .. pause)\n" /* kept in steps of 4 */
    "local n = 0\n"
    "repeat nyx.sleep(0.001); n = n + 1 until not collectgarbage('isrunning') or n > 3000\n"
    "assert(n <= 3000, 'frames left the collector running by itself')\n"
    "n = 0\n"
    "repeat nyx.sleep(0.001); n = n + 1 until collectgarbage('isrunning') or n > 3000\n"
    "assert(n <= 3000, 'nyx_run left the collector stopped')\n"
    "local peak = 0\n"
    "for i = 1, 300000 do\n"
    "  local t = {i}\n"
    "  if i % 1000 == 0 then peak = math.max(peak, collectgarbage('count')) end\n"
    "end\n"
    "assert(peak < 4096, string.format('the heap reached %.0f KB', peak))\n";

int main(void)
{
    nyx_engine *e = SIM_ENGINE_WITH("0", idle_steps, "=idle_steps");
    REQUIRE_OR(e != NULL, 1);
    CHECK_INT(frames(e, 0), NYX_OK);
    nyx_close(e);

    /* Frames without a moment to spare: the idle work never runs. */
    e = SIM_ENGINE_WITH("0", no_idle, "=no_idle");
    REQUIRE_OR(e != NULL, 1);
    loop_set_idle(engine_loop(e), NULL, NULL);
    CHECK_INT(frames(e, 0), NYX_OK);
    nyx_close(e);

    e = SIM_ENGINE_WITH("0", run_after_frames, "=run_after_frames");
    REQUIRE_OR(e != NULL, 1);
    CHECK_INT(frames(e, 20), NYX_AGAIN);
    CHECK_INT(run_all(e), NYX_OK);
    nyx_close(e);
    return check_failures;
}
