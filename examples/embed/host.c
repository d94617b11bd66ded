/*
 * Embedding nyx in a host that has its own frame loop (a game, an app): the host draws about
 * 60 frames a second and gives the engine one non-blocking turn per frame with
 * nyx_poll(engine, 0). The engine runs driver.lua, which calls Claude once a second through
 * the agent policy in policy.lua. Edit policy.lua while the host runs: the engine reloads it
 * and the next call uses the new version; sessions, budgets and statistics stay.
 *
 * Build: cmake --build build --target nyx_embed_example
 * Run:   build/nyx_embed_example [DIR [SECONDS]]
 *        DIR holds policy.lua and driver.lua (default examples/embed); SECONDS bounds the run
 *        (default 30). Without ANTHROPIC_API_KEY, calls go to the built-in simulator.
 *
 * It uses nothing but nyx.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "nyx.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

/* The engine's notices (provider, reloads, a broken policy edit) go to stderr. */
static void on_log(void *ud, int level, const char *msg)
{
    (void)ud;
    if (level >= NYX_LOG_INFO)
        fprintf(stderr, "%s\n", msg);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "examples/embed";
    double seconds = argc > 2 ? atof(argv[2]) : 30;
    if (!(seconds > 0)) {
        fprintf(stderr, "usage: %s [DIR [SECONDS]]\n", argv[0]);
        return 2;
    }
    /* Lines reach a pipe as they are printed (the driver prints through this stdout). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    char *err = NULL;
    nyx_engine *engine = nyx_open(&err);
    if (!engine) {
        fprintf(stderr, "nyx_open: %s\n", err ? err : "failed");
        nyx_free(err);
        return 1;
    }
    nyx_set_log(engine, on_log, NULL);

    /* `require "policy"` finds DIR/policy.lua; the engine watches every module it loads. */
    char path[4096];
    snprintf(path, sizeof path, "%s/?.lua", dir);
    int rc = nyx_set(engine, "lua_path", path);
    snprintf(path, sizeof path, "%s/driver.lua", dir);
    if (rc == NYX_OK)
        rc = nyx_load_file(engine, path, 0, NULL);
    if (rc != NYX_OK) {
        fprintf(stderr, "%s: %s\n", nyx_strerror(rc), nyx_errmsg(engine));
        nyx_close(engine);
        return 1;
    }

    /* The host's frame loop: the engine gets one turn per frame and never blocks it. */
    const struct timespec frame = {0, 16 * 1000 * 1000};
    long frames = 0, last = (long)(seconds * 60);
    double slowest = 0;
    for (; frames < last && !quit; frames++) {
        /* ... the host's own work for this frame would go here ... */
        double t0 = now_ms();
        rc = nyx_poll(engine, 0);
        double took = now_ms() - t0;
        if (took > slowest)
            slowest = took;
        if (rc == NYX_ESCRIPT)
            fprintf(stderr, "script error: %s\n", nyx_errmsg(engine)); /* the others go on */
        else if (rc == NYX_OK)
            break; /* the driver finished */
        else if (rc != NYX_AGAIN) {
            fprintf(stderr, "%s: %s\n", nyx_strerror(rc), nyx_errmsg(engine));
            break;
        }
        nanosleep(&frame, NULL);
    }
    printf("host: %ld frames, slowest nyx_poll %.2f ms\n", frames, slowest);
    nyx_close(engine);
    return 0;
}
