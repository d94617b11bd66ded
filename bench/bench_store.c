/* Storage throughput: interactions committed durably in batches, and the cost of one call
 * committing on its own. Rows carry 3 KB of prompt and response text, as a real call does.
 * Beside the wall time, the CPU time of the whole process (the checkpoint thread's
 * included) per call: on a loaded machine the wall time also counts waiting for a CPU. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "base/clock.h"
#include "store/store.h"
#include "bench_interaction.h"

#define BATCH_SIZE 500
static int BATCHED = 50000, SINGLE = 5000;

static int count_row(void *ud, int ncols, const char *const *names, const char *const *values,
                     const char *types)
{
    (void)types;
    (void)ncols;
    (void)names;
    (void)values;
    ++*(int *)ud;
    return 0;
}

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

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--short") == 0) {
        BATCHED = 2000;
        SINGLE = 200;
    }
    char dir[] = "/tmp/nyx-test-store-perf-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/perf.db", dir);
    bench_texts();

    error_info err = cleared_error();
    store_db *s = store_open_opts(path, NULL, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err.message);
        CHECK_DONE();
    }

    /* Batched: BATCH_SIZE rows per commit, as one loop turn's finished calls. */
    char id[32];
    int64_t t0 = clock_now_us();
    for (int n = 0; n < BATCHED; n += BATCH_SIZE) {
        CHECK_INT(store_batch_begin(s, &err), 0);
        for (int k = n; k < n + BATCH_SIZE; k++) {
            snprintf(id, sizeof id, "b%d", k);
            interaction_rec it = bench_interaction(id);
            if (store_log_interaction(s, &it, &err) != 0) {
                CHECK(0);
                fprintf(stderr, "%s\n", err.message);
                break;
            }
        }
        CHECK_INT(store_batch_commit(s, &err), 0);
    }
    double batched_s = (double)(clock_now_us() - t0) / 1e6;
    double rate = BATCHED / batched_s;

    /* One commit per call: the per-call cost a script pays. Every fourth call carries a
     * thought node, as in a script that records its reasoning at some steps. */
    int64_t *lat = malloc(sizeof *lat * SINGLE);
    CHECK(lat != NULL);
    if (!lat) {
        store_close(s);
        CHECK_DONE();
    }
    int64_t c0 = cpu_us();
    t0 = clock_now_us();
    for (int k = 0; k < SINGLE; k++) {
        snprintf(id, sizeof id, "s%d", k);
        interaction_rec it = bench_interaction(id);
        it.thought_id = k % 4 == 0 ? 1 : 0;
        int64_t a = clock_now_us();
        if (store_log_interaction(s, &it, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            break;
        }
        lat[k] = clock_now_us() - a;
    }
    double single_mean_us = (double)(clock_now_us() - t0) / SINGLE;
    double single_cpu_us = (double)(cpu_us() - c0) / SINGLE;
    qsort(lat, SINGLE, sizeof *lat, cmp_i64);
    int64_t p50 = lat[SINGLE / 2], p99 = lat[SINGLE * 99 / 100];
    free(lat);

    /* The queries behind `nyx stats` and `nyx log --last 20` over all of it. */
    int nrows = 0;
    store_filter f = {.group_by = "model"};
    t0 = clock_now_us();
    CHECK_INT(store_query_stats(s, &f, count_row, &nrows, &err), 0);
    double stats_ms = (double)(clock_now_us() - t0) / 1000.0;
    CHECK_INT(nrows, 1);
    f = (store_filter){.last = 20};
    nrows = 0;
    t0 = clock_now_us();
    CHECK_INT(store_query_log(s, &f, count_row, &nrows, &err), 0);
    double log_ms = (double)(clock_now_us() - t0) / 1000.0;
    CHECK_INT(nrows, 20);
    store_close(s);

    printf("store_batched_interactions_per_s: %.0f\n", rate);
    printf("store_single_commit_mean_us: %.1f\n", single_mean_us);
    printf("store_single_commit_p50_us: %lld\n", (long long)p50);
    printf("store_single_commit_p99_us: %lld\n", (long long)p99);
    printf("store_single_commit_cpu_us: %.1f\n", single_cpu_us);
    printf("store_stats_query_ms_%d_rows: %.1f\n", BATCHED + SINGLE, stats_ms);
    printf("store_log_last20_ms: %.2f\n", log_ms);

    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
