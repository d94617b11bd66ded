/* nyx_interrupt from another thread while tasks start and end by the thousand: nyx.h allows
 * it from any thread while the engine is open. An interrupt reads the thread running at that
 * moment and sets a hook on it; a task's thread that ends as the interrupt reads it must not be
 * freed under it (the engine lets go of a thread only when no interrupt is under way). Under
 * ASan and valgrind a hook written to a freed thread is caught; here the interrupts must also
 * land: some runs end "cancelled: interrupted", and every run ends one way or the other. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static atomic_int running = 1;
static atomic_long sent;

static void *interrupter(void *ud)
{
    nyx_engine *e = ud;
    struct timespec pause = {0, 500 * 1000}; /* 0.5 ms: a few per run, most between two tasks */
    while (atomic_load(&running)) {
        nyx_interrupt(e);
        atomic_fetch_add(&sent, 1);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* Tasks that start, run a little and end, their threads collected as the script goes. */
static const char SCRIPT[] = "local nyx = require 'nyx'\n"
                             "for i = 1, 3000 do\n"
                             "  local t = nyx.spawn(function() local x = 0 for k = 1, 50 do x = x + k end return x end)\n"
                             "  t:wait()\n"
                             "  if i % 50 == 0 then collectgarbage() end\n"
                             "end\n"
                             "error('finished', 0)\n";

static void interrupts_while_tasks_come_and_go(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, interrupter, e) == 0);
    int finished = 0, interrupted = 0, other = 0;
    /* At least 40 runs, and on until two were interrupted (valgrind runs one thread at a time,
     * so the interrupter gets its turns rarely there). */
    for (int run = 0; run < 2000 && (run < 40 || interrupted < 2); run++) {
        int rc = nyx_load_string(e, SCRIPT, "=tasks");
        while (rc == NYX_OK || rc == NYX_AGAIN)
            rc = nyx_poll(e, 10);
        const char *msg = nyx_errmsg(e);
        if (rc == NYX_ESCRIPT && strncmp(msg, "finished", 8) == 0)
            finished++;
        else if (strstr(msg, "interrupted"))
            interrupted++;
        else {
            other++;
            fprintf(stderr, "run %d: %d %s\n", run, rc, msg);
        }
    }
    atomic_store(&running, 0);
    pthread_join(th, NULL);
    CHECK_INT(other, 0);
    CHECK(interrupted >= 2); /* interrupts from another thread land */
    fprintf(stderr, "runs finished %d, interrupted %d, interrupts sent %ld\n", finished, interrupted,
            atomic_load(&sent));
    nyx_close(e);
}

int main(void)
{
    interrupts_while_tasks_come_and_go();
    CHECK_DONE();
}
