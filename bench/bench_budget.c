/* Budget reservations: what a reservation adds to a call, in one process on a WAL file.
 * A call reserves in three scopes (session, day, month) before sending, and settles when it
 * ends, either on its own or together with its log row (store_log_interaction_settle).
 *   budget_reserve_settle_us: a reserve and a separate settle (two commits)
 *   budget_reserve_us_p50/p99: the reserve alone
 *   budget_reserve_settle_cpu_us: the process's CPU time (checkpoint thread included) per
 *     reserve + settle pair; on a loaded machine the wall time also counts waiting for a CPU
 *   budget_log_settle_added_us: reserve, then log+settle in one commit, minus logging
 *     alone: what the budget adds to a call that logs anyway
 *   store_changed_poll_us: one poll for another process's write (the stop flag) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "base/clock.h"
#include "store/store.h"

static int PAIRS = 10000;

/* CPU time used by the process so far, microseconds. */
static int64_t cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static interaction_rec make(const char *id)
{
    interaction_rec it;
    memset(&it, 0, sizeof it);
    it.id = id;
    it.session = "bench";
    it.model_requested = "claude-haiku-5-5";
    it.usage.input_tokens = 1200;
    it.usage.output_tokens = 250;
    it.has_cost = 1;
    it.cost_usd = 0.0025;
    it.ttfb_ms = 180;
    it.latency_ms = 950;
    it.attempts = 1;
    it.status = "ok";
    return it;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--short") == 0)
        PAIRS = 500;
    char dir[] = "/tmp/nyx-bench-budget-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/budget.db", dir);
    error_info err = cleared_error();
    store_db *s = store_open_opts(path, NULL, &err);
    int64_t *lat = malloc(sizeof *lat * (size_t)PAIRS);
    int64_t *settle_lat = malloc(sizeof *settle_lat * (size_t)PAIRS);
    CHECK(s != NULL && lat != NULL && settle_lat != NULL);
    if (!s || !lat || !settle_lat) {
        fprintf(stderr, "%s\n", err.message);
        store_close(s);
        free(lat);
        free(settle_lat);
        CHECK_DONE();
    }
    /* Limits large enough never to refuse: the cost measured is the accepting path. */
    store_scope sc[] = {{"session:bench", 1e9}, {"day:2026-11-25", 1e9}, {"month:2026-11", 1e9}};
    char id[STORE_RESERVATION_ID_SIZE];

    /* Reserve + settle, each its own commit. */
    int64_t reserve_total = 0;
    int64_t c0 = cpu_us();
    int64_t t0 = clock_now_us();
    for (int k = 0; k < PAIRS; k++) {
        int64_t a = clock_now_us();
        if (store_budget_reserve(s, sc, 3, 0.01, id, sizeof id, NULL, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            break;
        }
        int64_t b = clock_now_us();
        lat[k] = b - a;
        reserve_total += b - a;
        if (store_budget_settle(s, id, 0.005, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            break;
        }
        settle_lat[k] = clock_now_us() - b;
    }
    double pair_us = (double)(clock_now_us() - t0) / PAIRS;
    double pair_cpu_us = (double)(cpu_us() - c0) / PAIRS;
    double reserve_mean = (double)reserve_total / PAIRS;
    qsort(lat, (size_t)PAIRS, sizeof *lat, cmp_i64);
    qsort(settle_lat, (size_t)PAIRS, sizeof *settle_lat, cmp_i64);
    int64_t p50 = lat[PAIRS / 2], p99 = lat[PAIRS * 99 / 100];
    int64_t sp50 = settle_lat[PAIRS / 2], sp99 = settle_lat[PAIRS * 99 / 100];

    /* Logging alone, then reserve + log-and-settle: the difference is the budget's cost. */
    char rid[32];
    t0 = clock_now_us();
    for (int k = 0; k < PAIRS; k++) {
        snprintf(rid, sizeof rid, "a%d", k);
        interaction_rec it = make(rid);
        if (store_log_interaction(s, &it, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            break;
        }
    }
    double log_us = (double)(clock_now_us() - t0) / PAIRS;
    t0 = clock_now_us();
    for (int k = 0; k < PAIRS; k++) {
        snprintf(rid, sizeof rid, "b%d", k);
        interaction_rec it = make(rid);
        if (store_budget_reserve(s, sc, 3, 0.01, id, sizeof id, NULL, &err) != 0 ||
            store_log_interaction_settle(s, &it, id, 0.0025, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            break;
        }
    }
    double log_settle_us = (double)(clock_now_us() - t0) / PAIRS;

    /* Polling for the emergency stop: nothing changed, the common case. */
    int changed = 0;
    CHECK_INT(store_changed(s, &changed, &err), 0);
    t0 = clock_now_us();
    for (int k = 0; k < PAIRS; k++)
        if (store_changed(s, &changed, &err) != 0 || changed) {
            CHECK(0);
            break;
        }
    double changed_us = (double)(clock_now_us() - t0) / PAIRS;
    store_close(s);
    free(lat);
    free(settle_lat);

    printf("budget_reserve_settle_us: %.1f\n", pair_us);
    printf("budget_reserve_settle_cpu_us: %.1f\n", pair_cpu_us);
    printf("budget_reserve_us_mean: %.1f\n", reserve_mean);
    printf("budget_reserve_us_p50: %lld\n", (long long)p50);
    printf("budget_reserve_us_p99: %lld\n", (long long)p99);
    printf("budget_settle_us_p50: %lld\n", (long long)sp50);
    printf("budget_settle_us_p99: %lld\n", (long long)sp99);
    printf("budget_log_only_us: %.1f\n", log_us);
    printf("budget_reserve_and_log_settle_us: %.1f\n", log_settle_us);
    printf("budget_log_settle_added_us: %.1f\n", log_settle_us - log_us);
    printf("store_changed_poll_us: %.2f\n", changed_us);

    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
