/* Per-call cost of placing cache marks and computing statistics, measured over many calls
 * with a realistic council-sized system prompt. */
#define _POSIX_C_SOURCE 200809L
#include "cache/policy.h"
#include "cache/stats.h"
#include "cost/cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int calls = argc > 1 && strcmp(argv[1], "--short") == 0 ? 1000 : 10000;
    error_info err;
    error_clear(&err);
    model_table *models = models_new_default(&err);
    cache_policy *p = models ? cache_policy_new(models) : NULL;
    if (!p) {
        fprintf(stderr, "bench_cache_policy: %s\n", err.message);
        return 1;
    }
    const model_info *m = models_find(models, "claude-sonnet-5-5");
    size_t base_len = 40000;
    char *base = malloc(base_len + 64);
    for (size_t i = 0; i < base_len; i++)
        base[i] = "The council weighs the plan. "[i % 29];
    cache_stats stats = {0};
    double spent = 0;
    for (int i = 0; i < calls; i++) {
        claude_request req;
        request_init(&req);
        int n = snprintf(base + base_len, 64, "\n\nRespond as: persona %d", i % 5);
        req.system = calloc(1, sizeof *req.system);
        req.messages = calloc(1, sizeof *req.messages);
        req.messages[0].blocks = calloc(1, sizeof *req.messages[0].blocks);
        if (!req.system || !req.messages || !req.messages[0].blocks ||
            block_set(&req.system[0], base, base_len + (size_t)n, 0) != 0 ||
            block_set(&req.messages[0].blocks[0], "What now?", 9, 0) != 0)
            return 1;
        req.nsystem = 1;
        req.nmessages = 1;
        req.messages[0].nblocks = 1;
        claude_usage u = {.input_tokens = 20, .output_tokens = 100, .cache_read_input_tokens = 10000};
        double t0 = now_s();
        cache_expect ex;
        if (cache_place_marks(p, &req, m, 300, t0, &ex, &err) != 0)
            return 1;
        call_cost cost;
        cost_of_usage_at(m, &u, (double)time(NULL), 0, &cost);
        cache_observe(p, &req, m, &u, &ex, t0);
        stats_add(&stats, NYX_STATUS_OK, &u, &cost, 1.0);
        spent += now_s() - t0;
        request_free(&req);
    }
    printf("cache_marks_and_stats_per_call_us: %.2f\n", spent / calls * 1e6);
    cache_policy_free(p);
    models_free(models);
    free(base);
    return 0;
}
