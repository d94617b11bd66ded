/*
 * Embedding nyx in a host that has its own frame loop (a game, an app): the host draws about
 * 60 frames a second and gives the engine one non-blocking turn per frame with
 * nyx_poll(engine, 0). The world is a 10x10 map with one NPC, a guard. The engine runs
 * driver.lua, which asks Claude once a second, through the agent policy in policy.lua, what
 * the guard does next; the model acts through two tools the host implements in C: "look"
 * (answered at once) and "move" (the guard walks one square every few frames, and the tool
 * answers when it arrives). The policy decides: it picks the model and the tools, and keeps
 * every move inside the guard's patrol area. Edit policy.lua while the host runs: the engine
 * reloads it and the next call uses the new version; sessions, budgets and statistics stay.
 *
 * Build: cmake --build build --target nyx_embed_example
 * Run:   build/nyx_embed_example [DIR [SECONDS]]
 *        DIR holds policy.lua and driver.lua (default examples/embed); SECONDS bounds the run
 *        (default 30). Without ANTHROPIC_API_KEY (or with NYX_PROVIDER=sim), calls go to the
 *        built-in simulator.
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

/* The host's world: a guard on a 10x10 map, walking one square every FRAMES_PER_STEP frames. */
#define MAP 10
#define FRAMES_PER_STEP 4
typedef struct world {
    long frame;
    int x, y;                /* where the guard stands */
    int to_x, to_y;          /* where it walks */
    long long walk;          /* the "move" call answered on arrival; 0: standing */
    long walk_started;
    long next_step;
} world;

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

/* A number from the model's input ({"x":3,"y":4}); a real host would use its JSON library. */
static int field(const char *json, const char *key, int *out)
{
    char pat[16];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    char *end;
    long v = strtol(p + strlen(pat), &end, 10);
    if (end == p + strlen(pat) || v < 0 || v >= MAP)
        return -1;
    *out = (int)v;
    return 0;
}

/* Tool "look": answered in the same frame. */
static void look(void *ud, nyx_engine *engine, long long call, const char *input_json)
{
    (void)input_json;
    const world *w = ud;
    char text[160];
    snprintf(text, sizeof text, "The guard stands at (%d,%d) on a %dx%d map; the gate is at (0,0), the well at (9,9).",
             w->x, w->y, MAP, MAP);
    nyx_tool_result(engine, call, text, 0);
}

/* Tool "move": the walk takes frames; the answer comes when the guard arrives. An order the
 * world cannot carry out is an error the model reads as one. */
static void move(void *ud, nyx_engine *engine, long long call, const char *input_json)
{
    world *w = ud;
    if (w->walk) {
        nyx_tool_result(engine, call, "the guard is already walking", 1);
        return;
    }
    if (field(input_json, "x", &w->to_x) != 0 || field(input_json, "y", &w->to_y) != 0) {
        nyx_tool_result(engine, call, "x and y must be squares of the map, 0 to 9", 1);
        return;
    }
    w->walk = call;
    w->walk_started = w->next_step = w->frame;
    printf("npc: walking from (%d,%d) to (%d,%d)\n", w->x, w->y, w->to_x, w->to_y);
}

/* The world's turn in each frame: one step of the walk, and the answer on arrival. */
static void world_frame(world *w, nyx_engine *engine)
{
    w->frame++;
    if (!w->walk || w->frame < w->next_step + FRAMES_PER_STEP)
        return;
    w->next_step = w->frame;
    w->x += (w->to_x > w->x) - (w->to_x < w->x);
    w->y += (w->to_y > w->y) - (w->to_y < w->y);
    if (w->x != w->to_x || w->y != w->to_y)
        return;
    char text[96];
    snprintf(text, sizeof text, "arrived at (%d,%d) after %ld frames", w->x, w->y, w->frame - w->walk_started);
    printf("npc: %s\n", text);
    long long call = w->walk;
    w->walk = 0;
    nyx_tool_result(engine, call, text, 0);
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

    /* The guard's tools, named by the script as "look" and "move". */
    world w = {.x = 5, .y = 5};
    int rc = nyx_tool_register(engine, "look", "{\"type\": \"object\", \"description\": \"What the guard sees\"}",
                               look, &w);
    if (rc == NYX_OK)
        rc = nyx_tool_register(engine, "move",
                               "{\"type\": \"object\", \"description\": \"Walk the guard to a square of the map\","
                               " \"properties\": {\"x\": {\"type\": \"integer\"}, \"y\": {\"type\": \"integer\"}},"
                               " \"required\": [\"x\", \"y\"]}",
                               move, &w);

    /* `require "policy"` finds DIR/policy.lua; the engine watches every module it loads. */
    char path[4096];
    snprintf(path, sizeof path, "%s/?.lua", dir);
    if (rc == NYX_OK)
        rc = nyx_set(engine, "lua_path", path);
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
        world_frame(&w, engine); /* the host's own work for this frame */
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
    printf("host: %ld frames, slowest nyx_poll %.2f ms, the guard at (%d,%d)\n", frames, slowest, w.x, w.y);
    nyx_close(engine);
    return 0;
}
