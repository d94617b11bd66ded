/* PostgreSQL on loopback: the reservation round trip (reserve + settle, each one statement
 * and one commit), batched logging, and logging with many calls in flight the way the
 * engine does it (asynchronously, answers read in the loop). Needs a server: NYX_BENCH_PG
 * holds its URI (bench/run.sh starts a throwaway one). */
#define _GNU_SOURCE /* RUSAGE_THREAD, in bench_frames.h */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "nyx.h"
#include "bench_frames.h"
#include "store/store.h"
#include "bench_interaction.h"

static int RESERVATIONS = 3000, BATCHED = 20000, INFLIGHT_TOTAL = 10000;
#define BATCH_SIZE 500
#define IN_FLIGHT 50

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void reservations(store_db *s, const char *label)
{
    int64_t *us = malloc((size_t)RESERVATIONS * sizeof *us);
    if (!us)
        return;
    store_scope scopes[] = {{"session:bench", 1e9}, {"day:bench", 1e9}, {"month:bench", 1e9}};
    error_info err;
    error_clear(&err);
    int failed = 0;
    for (int i = 0; i < RESERVATIONS; i++) {
        char id[STORE_RESERVATION_ID_SIZE];
        int64_t t0 = clock_now_us();
        failed |= store_budget_reserve(s, scopes, 3, 0.01, id, sizeof id, NULL, &err) != 0;
        us[i] = clock_now_us() - t0;
        failed |= store_budget_settle(s, id, 0.005, &err) != 0;
    }
    if (failed)
        fprintf(stderr, "bench_pg: a reservation failed: %s\n", err.message);
    qsort(us, (size_t)RESERVATIONS, sizeof *us, cmp_i64);
    printf("pg_reservation_round_trip%s_p50_ms: %.3f\n", label, us[RESERVATIONS / 2] / 1000.0);
    printf("pg_reservation_round_trip%s_p99_ms: %.3f\n", label, us[RESERVATIONS * 99 / 100] / 1000.0);
    free(us);
}

static void batched(store_db *s)
{
    error_info err;
    error_clear(&err);
    char id[48];
    double t0 = clock_now_s();
    int failed = 0;
    for (int i = 0; i < BATCHED && !failed; i += BATCH_SIZE) {
        failed |= store_batch_begin(s, &err) != 0;
        for (int k = 0; k < BATCH_SIZE && !failed; k++) {
            snprintf(id, sizeof id, "batch-%d", i + k);
            interaction_rec it = bench_interaction(id);
            failed |= store_log_interaction(s, &it, &err) != 0;
        }
        failed |= store_batch_commit(s, &err) != 0;
    }
    double dt = clock_now_s() - t0;
    if (failed)
        fprintf(stderr, "bench_pg: batched logging failed: %s\n", err.message);
    printf("pg_batched_logging_per_s: %.0f\n", BATCHED / dt);
}

typedef struct flight {
    int done, failed;
} flight;

static void logged(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused;
    (void)err;
    flight *f = ud;
    f->done++;
    f->failed += rc != 0;
}

/* The engine's way: each call's record sent on its own, answers read as they come, with
 * IN_FLIGHT records outstanding; the queue groups what waits into one commit. */
static void in_flight(store_db *s)
{
    flight f = {0, 0};
    error_info err;
    error_clear(&err);
    char id[48];
    int sent = 0;
    double t0 = clock_now_s();
    while (f.done < INFLIGHT_TOTAL) {
        while (sent < INFLIGHT_TOTAL && sent - f.done < IN_FLIGHT) {
            snprintf(id, sizeof id, "flight-%d", sent);
            interaction_rec it = bench_interaction(id);
            if (store_log_interaction_settle_async(s, &it, NULL, 0, logged, &f, &err) != 0) {
                fprintf(stderr, "bench_pg: %s\n", err.message);
                return;
            }
            sent++;
        }
        int want_write = 0;
        struct pollfd p = {store_poll_fd(s, &want_write), POLLIN, 0};
        if (want_write)
            p.events |= POLLOUT;
        if (p.fd >= 0)
            poll(&p, 1, 100);
        store_pump(s);
    }
    double dt = clock_now_s() - t0;
    printf("pg_logging_%d_in_flight_per_s: %.0f (%d failed)\n", IN_FLIGHT, INFLIGHT_TOTAL / dt, f.failed);
}

/* A host's frame loop with the engine on PostgreSQL: nyx_poll(e, 0) once per frame while 50
 * budgeted calls are in flight, each reserved and logged on the database. The frame never
 * waits on the database: answers are read when the socket has them. */
static const char *frame_workload =
    "local nyx = require 'nyx'\n"
    "local next_call, tasks = 1, {}\n"
    "for w = 1, 50 do\n"
    "  tasks[w] = nyx.spawn(function()\n"
    "    while next_call <= 400 do\n"
    "      local i = next_call; next_call = next_call + 1\n"
    "      nyx.call{prompt = 'question ' .. i, max_tokens = 16}\n"
    "    end\n"
    "  end)\n"
    "end\n"
    "for w = 1, 50 do tasks[w]:wait() end\n";

static void frames(const char *uri)
{
    setenv("NYX_PROVIDER", "sim", 1);
    setenv("NYX_SIM_TTFT_MS", "20", 1);
    setenv("NYX_SIM_TOKEN_MS", "0", 1);
    setenv("LLM_DAILY_BUDGET_USD", "1000", 1);
    bench_frames_set_aside();
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e) {
        fprintf(stderr, "bench_pg: %s\n", msg ? msg : "cannot open");
        free(msg);
        return;
    }
    nyx_set(e, "db", uri);
    double t_start = clock_now_s();
    bench_frame_stats st = {0};
    int rc = nyx_load_string(e, frame_workload, "=frames");
    if (rc == NYX_OK)
        rc = bench_frames(e, &st);
    if (rc != NYX_OK)
        fprintf(stderr, "bench_pg: %s\n", nyx_errmsg(e));
    double wall = clock_now_s() - t_start;
    nyx_close(e);
    printf("pg_engine_400_calls_50_in_flight_wall_s: %.2f\n", wall);
    bench_frame_stats canary = {0};
    bench_frames_floor(&st, &canary);
    bench_frames_print("pg_frame_", &st, &canary);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--short") == 0) {
        RESERVATIONS = 200;
        BATCHED = 2000;
        INFLIGHT_TOTAL = 1000;
    }
    const char *uri = getenv("NYX_BENCH_PG");
    if (!uri || !*uri) {
        printf("pg: skipped (NYX_BENCH_PG names no server)\n");
        return 0;
    }
    /* --frames: only the engine's frame loop. */
    if (argc > 1 && strcmp(argv[1], "--frames") == 0) {
        frames(uri);
        return 0;
    }
    bench_texts();
    error_info err;
    error_clear(&err);
    store_db *s = store_open_opts(uri, NULL, &err);
    if (!s) {
        fprintf(stderr, "bench_pg: %s\n", err.message);
        return 1;
    }
    reservations(s, "");
    batched(s);
    in_flight(s);
    store_close(s);
    frames(uri);

    /* The same round trip without waiting for the server's WAL flush: what the statement
     * itself costs, apart from this machine's disk. */
    char relaxed[1024];
    snprintf(relaxed, sizeof relaxed, "%s%coptions=-c%%20synchronous_commit%%3Doff", uri,
             strchr(uri, '?') ? '&' : '?');
    if (!(s = store_open_opts(relaxed, NULL, &err))) {
        fprintf(stderr, "bench_pg: %s\n", err.message);
        return 1;
    }
    reservations(s, "_no_flush_wait");
    store_close(s);
    return 0;
}
