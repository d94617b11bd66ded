/* Engine throughput and cost per call, through the public API only: a script fires calls at
 * the in-process simulator with many in flight. The simulator answers from its own threads,
 * so the main thread's CPU time is the engine's (with Lua and curl) and nothing else. */
#define _GNU_SOURCE /* RUSAGE_THREAD, in bench_frames.h */
#include "nyx.h"
#include "bench_frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *workload =
    "local nyx = require 'nyx'\n"
    "local n, k = tonumber(nyx.vars.calls), tonumber(nyx.vars.inflight)\n"
    "local system = string.rep('Shared context for the benchmark run. ', 200)\n"
    "local next_call, tasks = 1, {}\n"
    "for w = 1, k do\n"
    "  tasks[w] = nyx.spawn(function()\n"
    "    while next_call <= n do\n"
    "      local i = next_call; next_call = next_call + 1\n"
    "      nyx.call{system = system, prompt = 'question ' .. i, max_tokens = 16}\n"
    "    end\n"
    "  end)\n"
    "end\n"
    "for w = 1, k do tasks[w]:wait() end\n";

static int run(const char *calls, const char *inflight, const char *ttft, double *wall, double *cpu)
{
    setenv("NYX_PROVIDER", "sim", 1);
    setenv("NYX_SIM_TTFT_MS", ttft, 1);
    setenv("NYX_SIM_TOKEN_MS", "0", 1);
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e) {
        fprintf(stderr, "bench_engine: %s\n", msg ? msg : "cannot open");
        return 1;
    }
    nyx_set(e, "db", ":memory:");
    nyx_set(e, "var.calls", calls);
    nyx_set(e, "var.inflight", inflight);
    double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
    int rc = nyx_load_string(e, workload, "=bench");
    if (rc == NYX_OK)
        rc = nyx_run(e);
    *wall = seconds(CLOCK_MONOTONIC) - w0;
    *cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (rc != NYX_OK)
        fprintf(stderr, "bench_engine: %s\n", nyx_errmsg(e));
    nyx_close(e);
    return rc == NYX_OK ? 0 : 1;
}

/* A host's frame loop while 50 calls are in flight, on a database file as a host has (each
 * frame's records committed there); then, the engine closed, the machine's floor beside it. */
static int frame_loop(bench_frame_stats *st, bench_frame_stats *canary)
{
    setenv("NYX_SIM_TTFT_MS", "20", 1);
    char dir[] = "/tmp/nyx-bench-frames.XXXXXX", db[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/nyx.db", dir);
    bench_frames_set_aside();
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e)
        return 1;
    nyx_set(e, "db", db);
    nyx_set(e, "var.calls", "400");
    nyx_set(e, "var.inflight", "50");
    int rc = nyx_load_string(e, workload, "=frames");
    if (rc == NYX_OK)
        rc = bench_frames(e, st);
    nyx_close(e);
    const char *files[] = {"nyx.db", "nyx.db-wal", "nyx.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[96];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
    if (rc != NYX_OK)
        return 1;
    bench_frames_floor(st, canary);
    return 0;
}

/* --frames: only the frame loop (what a host's frame costs, without the rest). */
int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--short") == 0;
    int frames_only = argc > 1 && strcmp(argv[1], "--frames") == 0;
    const char *calls = quick ? "200" : "5000";
    double wall, cpu;
    if (frames_only) {
        bench_frame_stats st = {0}, canary = {0};
        if (frame_loop(&st, &canary) != 0)
            return 1;
        bench_frames_print("", &st, &canary);
        return 0;
    }
    if (run(calls, "50", "0", &wall, &cpu) != 0)
        return 1;
    double n = atof(calls);
    printf("engine_cpu_per_call_us: %.1f\n", cpu / n * 1e6);
    printf("calls_per_second_50_in_flight: %.0f\n", n / wall);
    if (run("20", "20", "200", &wall, &cpu) != 0)
        return 1;
    printf("twenty_calls_200ms_ttft_wall_s: %.3f\n", wall);
    bench_frame_stats st = {0}, canary = {0};
    if (frame_loop(&st, &canary) != 0)
        return 1;
    bench_frames_print("", &st, &canary);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mb: %.1f\n", (double)ru.ru_maxrss / 1024.0);
    return 0;
}
