/* engine/cost: the built-in model table (data/models.json as the parser reads it), lookups,
 * merges and their validation, and the cost arithmetic. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cost/accept.h"
#include "cost/cost.h"
#include "cost/models.h"

#define EPS 1e-12

static model_table *fresh(void)
{
    error_info err = cleared_error();
    model_table *m = models_new_default(&err);
    if (!m)
        fprintf(stderr, "models_new_default: %s: %s\n", err.type, err.message);
    return m;
}

static claude_usage usage(int64_t in, int64_t out, int64_t write, int64_t read)
{
    claude_usage u;
    memset(&u, 0, sizeof u);
    u.input_tokens = in;
    u.output_tokens = out;
    u.cache_creation_input_tokens = write;
    u.cache_read_input_tokens = read;
    return u;
}

/* A usage priced now, writes of unknown TTL as 5m writes: as a call is priced. */
static int cost_now(const model_info *m, const claude_usage *u, call_cost *out)
{
    return cost_of_usage_at(m, u, (double)time(NULL), 0, out);
}

static int merge(model_table *m, const char *json, error_info *err)
{
    error_clear(err);
    return models_merge_json(m, json, strlen(json), "test.json", err);
}

/* A merge that must succeed; a failure shows its error. */
#define CHECK_MERGES(m, json)                                               \
    do {                                                                    \
        error_info e_;                                                      \
        if (merge((m), (json), &e_) != 0) {                                 \
            check_fail_at(__FILE__, __LINE__);                              \
            fprintf(stderr, "merge failed: %s: %s\n", e_.type, e_.message); \
        }                                                                   \
    } while (0)

/* A merge that must fail with invalid_argument and a message holding every fragment. */
#define CHECK_REJECTS(m, json, frag1, frag2)                                       \
    do {                                                                           \
        error_info e_;                                                              \
        CHECK_INT(merge((m), (json), &e_), -1);                                    \
        CHECK_STR(e_.type, "invalid_argument");                                    \
        CHECK(strstr(e_.message, "test.json") != NULL);                            \
        CHECK_CONTAINS(e_.message, (frag1));                                       \
        CHECK_CONTAINS(e_.message, (frag2));                                       \
    } while (0)

/* ---- the embedded table ---- */

static void test_default_table(void)
{
    model_table *m = fresh();
    REQUIRE(m != NULL);
    CHECK_INT(models_count(m), 21);
    for (size_t i = 0; i < models_count(m); i++) {
        const model_info *md = models_at(m, i);
        CHECK(md->has_price);
        CHECK(md->input > 0 && md->output > 0 && md->cache_write_5m > 0 &&
              md->cache_write_1h > 0 && md->cache_read > 0);
        CHECK(md->cache_write_5m > md->input && md->cache_write_1h > md->cache_write_5m &&
              md->cache_read < md->input && md->output > md->input);
        CHECK(md->min_cache_tokens > 0);
        CHECK(md->family != NULL);
        CHECK(models_find(m, md->id) == md);
        for (size_t k = 0; k < md->naliases; k++)
            CHECK(models_find(m, md->aliases[k]) == md);
    }
    CHECK(models_at(m, models_count(m)) == NULL);

    static const struct {
        const char *name, *id;
        double in, w5, w1, rd, out;
        int64_t min;
    } want[] = {
        {"claude-opus-4-7", "claude-opus-4-7", 5, 6.25, 10, 0.5, 25, 2048},
        {"claude-opus-4-6", "claude-opus-4-6", 5, 6.25, 10, 0.5, 25, 4096},
        {"claude-opus-4-5-20251101", "claude-opus-4-5", 5, 6.25, 10, 0.5, 25, 4096},
        {"claude-opus-4-1-20250805", "claude-opus-4-1", 15, 18.75, 30, 1.5, 75, 1024},
        {"claude-opus-4-20250514", "claude-opus-4-0", 15, 18.75, 30, 1.5, 75, 1024},
        {"claude-sonnet-4-6", "claude-sonnet-4-6", 3, 3.75, 6, 0.3, 15, 2048},
        {"claude-sonnet-4-5-20250929", "claude-sonnet-4-5", 3, 3.75, 6, 0.3, 15, 1024},
        {"claude-sonnet-4-20250514", "claude-sonnet-4-0", 3, 3.75, 6, 0.3, 15, 1024},
        {"claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219", 3, 3.75, 6, 0.3, 15, 1024},
        {"claude-haiku-4-5-20251001", "claude-haiku-4-5", 1, 1.25, 2, 0.1, 5, 4096},
        {"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022", 0.8, 1, 1.6, 0.08, 4, 2048},
        {"claude-3-haiku-20240307", "claude-3-haiku-20240307", 0.25, 0.3, 0.5, 0.03, 1.25, 2048},
        {"claude-3-opus-20240229", "claude-3-opus-20240229", 15, 18.75, 30, 1.5, 75, 1024},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_ROW("%s", want[i].name);
        const model_info *md = models_find(m, want[i].name);
        CHECK(md != NULL);
        if (!md)
            continue;
        CHECK_STR(md->id, want[i].id);
        CHECK_NEAR(md->input, want[i].in, EPS);
        CHECK_NEAR(md->cache_write_5m, want[i].w5, EPS);
        CHECK_NEAR(md->cache_write_1h, want[i].w1, EPS);
        CHECK_NEAR(md->cache_read, want[i].rd, EPS);
        CHECK_NEAR(md->output, want[i].out, EPS);
        CHECK_INT(md->min_cache_tokens, want[i].min);
    }
    CHECK_ROW_END();

    const model_info *opus3 = models_find(m, "claude-3-opus-20240229");
    CHECK_STR(opus3->deprecated, "2025-06-30");
    CHECK_STR(opus3->retires, "2026-01-05");
    CHECK(models_find(m, "claude-sonnet-4-6")->deprecated == NULL);
    CHECK_STR(models_find(m, "claude-haiku-4-5")->family, "haiku");

    /* exact matches only */
    CHECK(models_find(m, "claude-sonnet-4") == NULL);
    CHECK(models_find(m, "Claude-Sonnet-4-5") == NULL);
    CHECK(models_find(m, "claude-sonnet-4-5 ") == NULL);
    CHECK(models_find(m, "gpt-4o") == NULL);
    CHECK(models_find(m, "") == NULL);
    CHECK(models_find(m, NULL) == NULL);
    CHECK(models_find(NULL, "claude-haiku-4-5") == NULL);
    CHECK_INT(models_count(NULL), 0);
    CHECK(models_at(NULL, 0) == NULL);
    models_free(m);
    models_free(NULL);
}

/* ---- cost arithmetic ---- */

/* One usage priced: the model, the usage (w5m/w1h: the cache_creation breakdown when detail),
 * the service tier, speed and region, the TTL the request asked for; what it costs, and with
 * CHK_WITHOUT / CHK_SAVED its price without the cache and the saving. at 0: cost_now
 * (now, as a call is priced), else cost_of_usage_at that moment. */
enum { CHK_WITHOUT = 1, CHK_SAVED = 2 };

typedef struct priced {
    const char *model;
    int64_t in, out, write, read;
    int detail;
    int64_t w5m, w1h;
    const char *tier, *speed, *geo;
    int one_hour;
    double cost, without, saved;
    unsigned check;
} priced;

static void check_priced(const model_table *m, const priced *cases, size_t n, double at)
{
    for (size_t i = 0; i < n; i++) {
        const priced *p = &cases[i];
        claude_usage u = usage(p->in, p->out, p->write, p->read);
        u.has_cache_creation_detail = p->detail;
        u.cache_creation_5m = p->w5m;
        u.cache_creation_1h = p->w1h;
        snprintf(u.service_tier, sizeof u.service_tier, "%s", p->tier ? p->tier : "");
        snprintf(u.speed, sizeof u.speed, "%s", p->speed ? p->speed : "");
        snprintf(u.inference_geo, sizeof u.inference_geo, "%s", p->geo ? p->geo : "");
        call_cost c = {0, 0, 0};
        const model_info *md = models_find(m, p->model);
        int rc = at > 0 ? cost_of_usage_at(md, &u, at, p->one_hour, &c) : cost_now(md, &u, &c);
        int bad = rc != 0 || fabs(c.cost_usd - p->cost) > EPS ||
                  ((p->check & CHK_WITHOUT) && fabs(c.cost_without_cache_usd - p->without) > EPS) ||
                  ((p->check & CHK_SAVED) && fabs(c.saved_usd - p->saved) > EPS);
        if (bad) {
            check_fail_at(__FILE__, __LINE__);
            fprintf(stderr, "case %zu (%s): rc %d, cost %.12g without %.12g saved %.12g; expected "
                            "%.12g, %.12g, %.12g\n", i, p->model, rc, c.cost_usd,
                    c.cost_without_cache_usd, c.saved_usd, p->cost, p->without, p->saved);
        }
    }
}

#define ALL (CHK_WITHOUT | CHK_SAVED)

/* Reads and writes at the prices of the day a call is made. */
static void test_cost_read_write(void)
{
    static const priced cases[] = {
        /* Sonnet 4.5: 10000*0.30 + 200*3 + 300*15; without: 10200*3 + 4500 */
        {"claude-sonnet-4-5-20250929", 200, 300, 0, 10000, .cost = 0.0081, .without = 0.0351, .saved = 0.027, .check = ALL},
        /* Haiku 3 reads at 0.03: 100000*0.03 + 1000*0.25 + 2000*1.25; without: 101000*0.25 + 2500 */
        {"claude-3-haiku-20240307", 1000, 2000, 0, 100000, .cost = 0.00575, .without = 0.02775, .saved = 0.022, .check = ALL},
        /* Haiku 3.5: 3000*0.08 + 4000*1 + 100*0.8 + 50*4; without: 7100*0.8 + 200 */
        {"claude-3-5-haiku-latest", 100, 50, 4000, 3000, .cost = 0.00452, .without = 0.00588, .saved = 0.00136, .check = ALL},
        /* one million plain input tokens on Opus 4.1 is exactly its input price */
        {"claude-opus-4-1", 1000000, 0, 0, 0, .cost = 15.0, .saved = 0, .check = CHK_SAVED},
        /* Opus 4.7, a long cached conversation: 900000*0.5 + 5000*5 + 20000*25; without: 905000*5 + 500000 */
        {"claude-opus-4-7", 5000, 20000, 0, 900000, .cost = 0.975, .without = 5.025, .saved = 4.05, .check = ALL},
        /* no detail: all 5000 writes are 5m writes, 5000*3.75 + 50*3 + 100*15; the write premium
         * makes the saving negative */
        {"claude-sonnet-4-5", 50, 100, 5000, 0, .cost = 0.0204, .without = 0.01665, .saved = -0.00375, .check = ALL},
        /* detail: 1000 5m + 4000 1h, 1000*3.75 + 4000*6 + 150 + 1500 */
        {"claude-sonnet-4-5", 50, 100, 5000, 0, 1, 1000, 4000, .cost = 0.0294, .without = 0.01665, .saved = -0.01275, .check = ALL},
        /* a pure 1h write on Haiku 4.5: 8000*2 + 10*1 + 20*5; without: 8010*1 + 100 */
        {"claude-haiku-4-5", 10, 20, 8000, 0, 1, 0, 8000, .cost = 0.01611, .without = 0.00811, .saved = -0.008, .check = ALL},
        /* detail covering part of the total: the rest are 5m writes, 2000*3.75 + 1000*6 */
        {"claude-sonnet-4-5", 0, 0, 3000, 0, 1, 1000, 1000, .cost = 0.0135, .without = 0.009, .check = CHK_WITHOUT},
        /* detail larger than the total (the total not filled in): the detail counts */
        {"claude-sonnet-4-5", 0, 0, 0, 0, 1, 0, 2000, .cost = 0.012, .without = 0.006, .check = CHK_WITHOUT},
        /* zero usage costs nothing */
        {"claude-sonnet-4-5", 0, 0, 0, 0, .cost = 0, .saved = 0, .check = CHK_SAVED},
    };
    model_table *m = fresh();
    check_priced(m, cases, sizeof cases / sizeof cases[0], 0);
    models_free(m);
}

static void test_cost_refusals(void)
{
    model_table *m = fresh();
    const model_info *sonnet = models_find(m, "claude-sonnet-4-5");
    call_cost c = {1, 2, 3};
    claude_usage u = usage(10, 10, 0, 0);

    CHECK_INT(cost_now(models_find(m, "claude-unknown"), &u, &c), -1);
    CHECK_INT(cost_now(NULL, &u, &c), -1);
    CHECK_INT(cost_now(sonnet, NULL, &c), -1);
    CHECK_INT(cost_now(sonnet, &u, NULL), -1);
    u.output_tokens = -1;
    CHECK_INT(cost_now(sonnet, &u, &c), -1);
    u = usage(10, 10, 0, 0);
    u.has_cache_creation_detail = 1;
    u.cache_creation_5m = -5;
    CHECK_INT(cost_now(sonnet, &u, &c), -1);
    CHECK_NEAR(c.cost_usd, 1, 0); /* untouched on failure */
    CHECK_NEAR(c.saved_usd, 3, 0);
    CHECK_NEAR(cost_worst_case(NULL, 100, 100, 0), -1.0, 0);
    models_free(m);
}

static void test_worst_case(void)
{
    model_table *m = fresh();
    const model_info *sonnet = models_find(m, "claude-sonnet-4-5");
    /* 10000*3.75 + 1000*15 = 37500 + 15000 */
    CHECK_NEAR(cost_worst_case(sonnet, 10000, 1000, 0), 0.0525, EPS);
    /* 10000*6 + 1000*15 */
    CHECK_NEAR(cost_worst_case(sonnet, 10000, 1000, 1), 0.075, EPS);
    /* Haiku 3: 4000*0.30 + 4096*1.25 = 1200 + 5120 */
    CHECK_NEAR(cost_worst_case(models_find(m, "claude-3-haiku-20240307"), 4000, 4096, 0),
               0.00632, EPS);
    CHECK_NEAR(cost_worst_case(sonnet, 0, 0, 1), 0, EPS);
    CHECK_NEAR(cost_worst_case(sonnet, -5, 1000, 0), 0.015, EPS);

    /* a model whose writes are cheaper than its input: the input price bounds it */
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"odd\",\"input\":10,\"output\":20,\"cache_write_5m\":5,"
                 "\"cache_write_1h\":8,\"cache_read\":1}]}");
    const model_info *odd = models_find(m, "odd");
    CHECK_NEAR(cost_worst_case(odd, 1000, 0, 0), 0.01, EPS);
    CHECK_NEAR(cost_worst_case(odd, 1000, 0, 1), 0.01, EPS);
    CHECK_NEAR(cost_worst_case(odd, 0, 1000, 1), 0.02, EPS);
    models_free(m);
}

/* ---- the 2026 table: effective dates, tiers, modifiers ---- */

static double day(const char *date, double hours) { return models_date_time(date) + hours * 3600; }

static void test_table_2026(void)
{
    model_table *m = fresh();
    CHECK_STR(models_date(m), "2026-12-06");
    static const struct {
        const char *id;
        double in, out, w5, w1, rd;
        int life;
    } want[] = {
        {"claude-fable-5-2", 8, 40, 10, 16, 0.20, NYX_LIFE_CURRENT},
        {"claude-fable-5-1", 10, 50, 12.5, 20, 0.25, NYX_LIFE_CURRENT},
        {"claude-opus-5-5", 4, 20, 5, 8, 0.20, NYX_LIFE_CURRENT},
        {"claude-opus-5", 5, 25, 6.25, 10, 0.5, NYX_LIFE_LEGACY},
        {"claude-opus-4-8", 5, 25, 6.25, 10, 0.5, NYX_LIFE_CURRENT},
        {"claude-opus-4-7", 5, 25, 6.25, 10, 0.5, NYX_LIFE_CURRENT},
        {"claude-opus-4-6", 5, 25, 6.25, 10, 0.5, NYX_LIFE_LEGACY},
        {"claude-opus-4-5", 5, 25, 6.25, 10, 0.5, NYX_LIFE_DEPRECATED},
        {"claude-sonnet-5-5", 2, 10, 2.5, 4, 0.10, NYX_LIFE_CURRENT},
        {"claude-sonnet-5", 2, 10, 2.5, 4, 0.20, NYX_LIFE_LEGACY},
        {"claude-sonnet-4-6", 3, 15, 3.75, 6, 0.3, NYX_LIFE_LEGACY},
        {"claude-sonnet-4-5", 3, 15, 3.75, 6, 0.3, NYX_LIFE_DEPRECATED},
        {"claude-haiku-5-5", 0.10, 0.50, 0.125, 0.20, 0.01, NYX_LIFE_CURRENT},
        {"claude-haiku-4-5", 1, 5, 1.25, 2, 0.1, NYX_LIFE_CURRENT},
        {"claude-opus-4-1", 15, 75, 18.75, 30, 1.5, NYX_LIFE_RETIRED},
        {"claude-opus-4-0", 15, 75, 18.75, 30, 1.5, NYX_LIFE_RETIRED},
        {"claude-sonnet-4-0", 3, 15, 3.75, 6, 0.3, NYX_LIFE_RETIRED},
        {"claude-3-5-haiku-20241022", 0.8, 4, 1, 1.6, 0.08, NYX_LIFE_RETIRED},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_ROW("%s", want[i].id);
        const model_info *md = models_find(m, want[i].id);
        CHECK(md != NULL);
        if (!md)
            continue;
        const price_row *r = models_row_at(md, day("2026-12-06", 0));
        CHECK_NEAR(r->p.input, want[i].in, EPS);
        CHECK_NEAR(r->p.output, want[i].out, EPS);
        CHECK_NEAR(r->p.cache_write_5m, want[i].w5, EPS);
        CHECK_NEAR(r->p.cache_write_1h, want[i].w1, EPS);
        CHECK_NEAR(r->p.cache_read, want[i].rd, EPS);
        CHECK_INT(md->lifecycle, want[i].life);
        CHECK_NEAR(md->batch_factor, 0.5, EPS);
        CHECK(md->context_window > 0 && md->max_output > 0);
        /* a retired or deprecated model names what to use instead */
        if (md->lifecycle >= NYX_LIFE_DEPRECATED)
            CHECK(md->replacement && models_find(m, md->replacement) &&
                  models_find(m, md->replacement)->lifecycle == NYX_LIFE_CURRENT);
    }
    CHECK_ROW_END();
    const model_info *opus45 = models_find(m, "claude-opus-4-5-20251101");
    CHECK_STR(opus45->deprecated, "2026-11-23");
    CHECK_STR(opus45->retires, "2027-01-22");
    CHECK(models_unconfirmed(opus45, "retires"));
    CHECK_STR(models_lifecycle_name(opus45->lifecycle), "deprecated");

    /* always thinking, no sampling, effort default; reads never counted toward ITPM on 4.x+ */
    const model_info *opus55 = models_find(m, "claude-opus-5-5");
    CHECK_INT(opus55->thinking, NYX_THINK_ADAPTIVE);
    CHECK_INT(opus55->sampling, 0);
    CHECK_STR(opus55->default_effort, "high");
    CHECK_INT(opus55->itpm_counts_cache_reads, 0);
    CHECK_INT(opus55->forced_tool_choice_with_thinking, 0);
    CHECK_INT(models_find(m, "claude-haiku-4-5")->sampling, NYX_SAMPLE_ALL);
    CHECK_INT(models_find(m, "claude-3-5-haiku-20241022")->itpm_counts_cache_reads, 1);
    CHECK(models_find(m, "claude-haiku-5-5")->thinking & NYX_THINK_DISABLED);

    /* unknown minimums are marked and learnable; known ones are not */
    const model_info *s55 = models_find(m, "claude-sonnet-5-5");
    CHECK(models_unconfirmed(s55, "min_cache_tokens"));
    CHECK_INT(s55->min_cache_confirmed, 0);
    CHECK_INT(models_find(m, "claude-haiku-4-5")->min_cache_confirmed, 1);
    CHECK_INT(models_raise_min_cache(m, "claude-sonnet-5-5", 800), 0); /* never lowered */
    CHECK_INT(models_raise_min_cache(m, "claude-sonnet-5-5", 2048), 1);
    CHECK_INT(s55->min_cache_tokens, 2048);
    CHECK_INT(models_raise_min_cache(m, "claude-sonnet-5-5", 2048), 0);
    CHECK_INT(models_raise_min_cache(m, "no-such-model", 2048), -1);

    /* fast mode only where the API offers it */
    CHECK(opus55->has_fast && models_find(m, "claude-fable-5-2")->has_fast);
    CHECK(!models_find(m, "claude-sonnet-5-5")->has_fast);
    models_free(m);
}

/* Sonnet 5.5's read price was cut on 2026-10-07: a call is priced by the row in force when
 * it was made. */
static void test_effective_dates(void)
{
    model_table *m = fresh();
    const model_info *s55 = models_find(m, "claude-sonnet-5-5");
    call_cost c;
    /* 100,000 read + 1,000 in + 500 out */
    claude_usage u = usage(1000, 500, 0, 100000);
    /* before: 100000*0.20 + 1000*2 + 500*10 = 20000 + 2000 + 5000 */
    CHECK_INT(cost_of_usage_at(s55, &u, day("2026-10-06", 23.99), 0, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.027, EPS);
    CHECK_INT(cost_of_usage_at(s55, &u, day("2026-08-01", 0), 0, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.027, EPS);
    /* from midnight UTC on: 100000*0.10 + 2000 + 5000 */
    CHECK_INT(cost_of_usage_at(s55, &u, day("2026-10-07", 0), 0, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.017, EPS);
    CHECK_INT(cost_of_usage_at(s55, &u, day("2026-12-06", 12), 0, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.017, EPS);
    CHECK_NEAR(c.cost_without_cache_usd, 0.207, EPS); /* 101000*2 + 5000 */
    CHECK_NEAR(s55->cache_read, 0.10, EPS);           /* the flat prices: the row in force now */

    /* a user row added later replaces the rows; rows must be in date order */
    CHECK_MERGES(m, "{\"date\":\"2027-01-01\",\"models\":[{\"id\":\"claude-sonnet-5-5\",\"prices\":["
                 "{\"input\":2,\"output\":10,\"cache_write_5m\":2.5,\"cache_write_1h\":4,\"cache_read\":0.2},"
                 "{\"from\":\"2026-10-07\",\"input\":2,\"output\":10,\"cache_write_5m\":2.5,"
                 "\"cache_write_1h\":4,\"cache_read\":0.1},"
                 "{\"from\":\"2027-02-01\",\"input\":3,\"output\":15,\"cache_write_5m\":3.75,"
                 "\"cache_write_1h\":6,\"cache_read\":0.15}]}]}");
    CHECK_STR(models_date(m), "2027-01-01");
    CHECK_INT(s55->nrows, 3);
    CHECK_INT(cost_of_usage_at(s55, &u, day("2027-02-01", 1), 0, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.0255, EPS); /* 15000 + 3000 + 7500 */
    CHECK_INT(cost_of_usage_at(s55, &u, day("2026-12-31", 1), 0, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.017, EPS);
    /* an older table date does not move the table's date back */
    CHECK_MERGES(m, "{\"date\":\"2026-01-01\",\"models\":[]}");
    CHECK_STR(models_date(m), "2027-01-01");

    CHECK_REJECTS(m,
                  "{\"models\":[{\"id\":\"x1\",\"prices\":["
                  "{\"from\":\"2026-10-07\",\"input\":1,\"output\":1,\"cache_write_5m\":1,\"cache_write_1h\":1,\"cache_read\":1},"
                  "{\"from\":\"2026-01-07\",\"input\":1,\"output\":1,\"cache_write_5m\":1,\"cache_write_1h\":1,\"cache_read\":1}]}]}",
                  "x1", "'prices[1].from'");
    CHECK_REJECTS(m, "{\"models\":[{\"id\":\"x1\",\"prices\":[{\"input\":1}]}]}", "x1", "'prices[0].output'");
    CHECK_REJECTS(m, "{\"models\":[{\"id\":\"x1\",\"prices\":[]}]}", "x1", "'prices'");
    CHECK_REJECTS(m,
                  "{\"models\":[{\"id\":\"x1\",\"prices\":[{\"input\":1,\"output\":1,\"cache_write_5m\":1,"
                  "\"cache_write_1h\":1,\"cache_read\":1,\"form\":\"2026-01-01\"}]}]}",
                  "x1", "'prices[0].form' is unknown");
    CHECK_REJECTS(m,
                  "{\"models\":[{\"id\":\"claude-sonnet-5-5\",\"input\":1,\"prices\":[{\"input\":1,\"output\":1,"
                  "\"cache_write_5m\":1,\"cache_write_1h\":1,\"cache_read\":1}]}]}",
                  "claude-sonnet-5-5", "beside 'prices'");
    CHECK_REJECTS(m, "{\"date\":\"yesterday\",\"models\":[]}", "'date'", "YYYY-MM-DD");
    models_free(m);
}

/* Haiku 5.5 bills a whole request at its upper tier once the prompt (input + cache reads +
 * cache writes) exceeds 100,000 tokens, output included; batch halves both tiers. Fast mode
 * and US data residency are read from usage. 1-hour writes are priced per TTL from
 * usage.cache_creation, else by the TTL the request asked for. */
static void test_tiers_and_modifiers(void)
{
    static const priced cases[] = {
        /* exactly 100,000: 40000*0.10 + 50000*0.01 + 10000*0.125 + 1000*0.50; without: 100000*0.10 + 500 */
        {"claude-haiku-5-5", 40000, 1000, 10000, 50000, .cost = 0.00625, .without = 0.0105, .check = CHK_WITHOUT},
        /* one more input token: 40001*0.50 + 50000*0.05 + 10000*0.625 + 1000*2.50; without: 100001*0.50 + 2500 */
        {"claude-haiku-5-5", 40001, 1000, 10000, 50000, .cost = 0.0312505, .without = 0.0525005, .check = CHK_WITHOUT},
        /* the cache writes count toward the prompt too: 1h writes at the upper tier's 1h price */
        {"claude-haiku-5-5", 40000, 1000, 10001, 50000, 1, 0, 10001,
         .cost = (40000 * 0.5 + 50000 * 0.05 + 10001 * 1.0 + 1000 * 2.5) / 1e6},
        /* batch: half of each tier; standard and priority price alike */
        {"claude-haiku-5-5", 40000, 1000, 10000, 50000, .tier = "batch", .cost = 0.003125},
        {"claude-haiku-5-5", 40001, 1000, 10000, 50000, .tier = "batch", .cost = 0.01562525},
        {"claude-haiku-5-5", 40001, 1000, 10000, 50000, .tier = "priority", .cost = 0.0312505},
        /* Opus 5.5 standard: 1000*4 + 1000*20; fast: 1000*8 + 1000*40; fast in the US: 1.1x */
        {"claude-opus-5-5", 1000, 1000, 0, 0, .cost = 0.024},
        {"claude-opus-5-5", 1000, 1000, 0, 0, .speed = "fast", .cost = 0.048},
        {"claude-opus-5-5", 1000, 1000, 0, 0, .speed = "fast", .geo = "us", .cost = 0.0528, .without = 0.0528,
         .check = CHK_WITHOUT},
        /* US on every token kind: (1000*4 + 2000*0.2 + 3000*5 + 1000*20) * 1.1; the default region
         * and "speed":"standard" cost the standard price */
        {"claude-opus-5-5", 1000, 1000, 3000, 2000, .geo = "us", .cost = 0.04334},
        {"claude-opus-5-5", 1000, 1000, 3000, 2000, .geo = "global", .cost = 0.0394},
        {"claude-opus-5-5", 1000, 1000, 3000, 2000, .geo = "global", .speed = "standard", .cost = 0.0394},
        /* US on a model without residency pricing: as billed, no factor */
        {"claude-haiku-4-5", 1000, 1000, 0, 0, .geo = "us", .cost = 0.006},
        /* batch and US together: 24000 * 0.5 * 1.1 */
        {"claude-opus-5-5", 1000, 1000, 0, 0, .geo = "us", .tier = "batch", .cost = 0.0132},
        /* no breakdown, 1h asked: 6000*4 + 100*2 + 200*10; 5m asked: 6000*2.5 + 2200 */
        {"claude-sonnet-5-5", 100, 200, 6000, 0, .one_hour = 1, .cost = 0.0262},
        {"claude-sonnet-5-5", 100, 200, 6000, 0, .cost = 0.0172},
        /* a breakdown always wins over what was asked: 2000 5m + 4000 1h = 5000 + 16000 + 2200 */
        {"claude-sonnet-5-5", 100, 200, 6000, 0, 1, 2000, 4000, .one_hour = 1, .cost = 0.0232},
        {"claude-sonnet-5-5", 100, 200, 6000, 0, 1, 2000, 4000, .cost = 0.0232},
        /* Haiku 5.5 over its tier: 1h writes at the upper tier's 1h price, 1.00 */
        {"claude-haiku-5-5", 1000, 0, 100000, 0, .one_hour = 1, .cost = (1000 * 0.5 + 100000 * 1.0) / 1e6},
    };
    model_table *m = fresh();
    check_priced(m, cases, sizeof cases / sizeof cases[0], day("2026-12-06", 12));
    models_free(m);
}

/* A price tier is data: one added to another model needs no code. A model without fast prices
 * cannot be priced in fast mode: unknown, never guessed. */
static void test_tier_as_data(void)
{
    model_table *m = fresh();
    double now = day("2026-12-06", 12);
    call_cost c;
    claude_usage u;
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"claude-opus-4-8\",\"prices\":[{\"input\":5,\"output\":25,"
                 "\"cache_write_5m\":6.25,\"cache_write_1h\":10,\"cache_read\":0.5,\"tiers\":["
                 "{\"above_prompt_tokens\":200000,\"input\":10,\"output\":37.5,\"cache_write_5m\":12.5,"
                 "\"cache_write_1h\":20,\"cache_read\":1}]}]}]}");
    u = usage(200001, 1000, 0, 0);
    CHECK_INT(cost_of_usage_at(models_find(m, "claude-opus-4-8"), &u, now, 0, &c), 0);
    CHECK_NEAR(c.cost_usd, (200001 * 10 + 1000 * 37.5) / 1e6, EPS);
    CHECK_REJECTS(m,
                  "{\"models\":[{\"id\":\"x2\",\"prices\":[{\"input\":1,\"output\":1,\"cache_write_5m\":1,"
                  "\"cache_write_1h\":1,\"cache_read\":1,\"tiers\":[{\"input\":1,\"output\":1,"
                  "\"cache_write_5m\":1,\"cache_write_1h\":1,\"cache_read\":1}]}]}]}",
                  "x2", "'prices[0].tiers[0].above_prompt_tokens' is missing");
    u = usage(1000, 1000, 3000, 2000);
    strcpy(u.speed, "fast");
    call_cost keep = {7, 8, 9};
    CHECK_INT(cost_of_usage_at(models_find(m, "claude-haiku-4-5"), &u, now, 0, &keep), -1);
    CHECK_NEAR(keep.cost_usd, 7, 0);
    models_free(m);
}

/* A budget reserves the worst case: a prompt that may hold more than the tier's threshold
 * (the caller gives the most tokens it may hold) reserves at the upper tier. */
static void test_worst_case_tier(void)
{
    model_table *m = fresh();
    const model_info *h55 = models_find(m, "claude-haiku-5-5");
    double now = day("2026-12-06", 12);
    /* at most 100,000: standard, 100000*0.125 + 1000*0.50 */
    CHECK_NEAR(cost_worst_case_at(h55, 100000, 1000, 0, now), 0.013, EPS);
    /* may hold 100,001: upper tier, 100001*0.625 + 1000*2.50 */
    CHECK_NEAR(cost_worst_case_at(h55, 100001, 1000, 0, now), 0.065000625, EPS);
    /* 1h marks: 100001*1.00 + 2500 */
    CHECK_NEAR(cost_worst_case_at(h55, 100001, 1000, 1, now), 0.102501, EPS);
    /* the reservation covers what such a request is billed when it does cross */
    claude_usage u = usage(100001, 1000, 0, 0);
    call_cost c;
    CHECK_INT(cost_of_usage_at(h55, &u, now, 0, &c), 0);
    CHECK(cost_worst_case_at(h55, 100001, 1000, 0, now) >= c.cost_usd);
    /* dated rows apply to reservations too */
    const model_info *s55 = models_find(m, "claude-sonnet-5-5");
    CHECK_NEAR(cost_worst_case_at(s55, 1000, 1000, 0, day("2026-09-01", 0)), 0.0125, EPS);
    models_free(m);
}

/* ---- what each model accepts ---- */

static void test_accept(void)
{
    model_table *m = fresh();
    const model_info *h55 = models_find(m, "claude-haiku-5-5"), *h45 = models_find(m, "claude-haiku-4-5");
    claude_request req;
    request_init(&req);
    error_info err = cleared_error();
    /* no temperature: nothing to check */
    CHECK_INT(accept_request(h55, &req, &err), 0);
    /* the default is left out where the model takes none, kept where it does */
    req.temperature = 1.0;
    CHECK_INT(accept_request(h55, &req, &err), 0);
    CHECK(req.temperature < 0);
    req.temperature = 1.0;
    CHECK_INT(accept_request(h45, &req, &err), 0);
    CHECK_NEAR(req.temperature, 1.0, 0);
    /* another value is refused, naming the model and the field */
    req.temperature = 0.2;
    CHECK_INT(accept_request(h55, &req, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK(strstr(err.message, "temperature") && strstr(err.message, "claude-haiku-5-5"));
    CHECK_INT(accept_request(h45, &req, &err), 0);
    /* retired: refused, naming the replacement */
    error_clear(&err);
    CHECK_INT(accept_request(models_find(m, "claude-3-opus-latest"), &req, &err), -1);
    CHECK(strstr(err.message, "retired on 2026-01-05") && strstr(err.message, "\"claude-opus-4-8\""));
    /* unknown model: not refused here (the API answers for it) */
    CHECK_INT(accept_request(NULL, &req, &err), 0);
    request_free(&req);

    /* a forced tool_choice while thinking: refused by the models that refuse it, naming
     * tool_choice; a model that always thinks refuses it with thinking left unset */
    static const struct {
        const char *model, *choice;
        int thinking, rc;
    } forced[] = {
        {"claude-sonnet-5-5", "{\"type\":\"any\"}", NYX_THINKING_ADAPTIVE, -1},
        {"claude-sonnet-5-5", "{\"type\":\"tool\",\"name\":\"f\"}", NYX_THINKING_ADAPTIVE, -1},
        {"claude-sonnet-5-5", "{\"type\":\"auto\"}", NYX_THINKING_ADAPTIVE, 0},
        {"claude-sonnet-5-5", "{\"type\":\"any\"}", NYX_THINKING_UNSET, 0},
        {"claude-sonnet-5-5", "{\"type\":\"any\"}", NYX_THINKING_DISABLED, 0},
        {"claude-opus-5-5", "{\"type\":\"any\"}", NYX_THINKING_UNSET, -1},
        {"claude-opus-5-5", "{\"type\":\"none\"}", NYX_THINKING_UNSET, 0},
        {"claude-sonnet-5", "{\"type\":\"any\"}", NYX_THINKING_ADAPTIVE, 0},
    };
    for (size_t i = 0; i < sizeof forced / sizeof forced[0]; i++) {
        CHECK_ROW("forced[%zu] %s", i, forced[i].model);
        claude_request fr;
        request_init(&fr);
        fr.thinking = forced[i].thinking;
        fr.tool_choice_json = strdup(forced[i].choice);
        error_clear(&err);
        CHECK_INT(accept_request(models_find(m, forced[i].model), &fr, &err), forced[i].rc);
        if (forced[i].rc)
            CHECK(strncmp(err.message, "tool_choice: ", 13) == 0 && strstr(err.message, forced[i].model));
        request_free(&fr);
    }
    CHECK_ROW_END();
    CHECK_INT(accept_param(models_find(m, "claude-opus-5-5"), "tool_choice:forced_with_thinking"), 0);
    CHECK_INT(accept_param(h55, "tool_choice:forced_with_thinking"), 1);

    CHECK_INT(accept_param(h55, "temperature"), 0);
    CHECK_INT(accept_param(h45, "top_k"), 1);
    CHECK_INT(accept_param(models_find(m, "claude-opus-5-5"), "thinking:disabled"), 0);
    CHECK_INT(accept_param(models_find(m, "claude-opus-5-5"), "speed:fast"), 1);
    CHECK_INT(accept_param(h55, "speed:fast"), 0);
    CHECK_INT(accept_param(NULL, "temperature"), 1);

    char note[300];
    CHECK_INT(accept_deprecation_notice(h55, note, sizeof note), 0);
    CHECK_INT(accept_deprecation_notice(models_find(m, "claude-opus-4-5"), note, sizeof note), 1);
    CHECK_STR(note, "nyx: model \"claude-opus-4-5\" is deprecated and retires on 2027-01-22 (date unconfirmed); "
                    "move to \"claude-opus-4-8\"");

    /* the table is dated 2026-12-06: stale after 60 days, not before */
    double t = models_date_time("2026-12-06");
    CHECK_INT(accept_table_stale(m, t + 60 * 86400.0, 60), 0);
    CHECK_INT(accept_table_stale(m, t + 60 * 86400.0 + 1, 60), 1);
    model_table *empty = NULL;
    CHECK_INT(accept_table_stale(empty, t, 60), 1); /* no date known */
    models_free(m);
}

/* ---- merging ---- */

static void test_merge(void)
{
    model_table *m = fresh();
    error_info err;
    const model_info *sonnet = models_find(m, "claude-sonnet-4-5");

    /* override one price through the dated alias; the rest stays, the pointer stays */
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"claude-sonnet-4-5-20250929\",\"input\":4}]}");
    CHECK(models_find(m, "claude-sonnet-4-5") == sonnet);
    CHECK_NEAR(sonnet->input, 4, EPS);
    CHECK_NEAR(sonnet->output, 15, EPS);
    CHECK_NEAR(sonnet->cache_read, 0.3, EPS);
    CHECK_INT(sonnet->min_cache_tokens, 1024);
    CHECK(sonnet->has_price);
    CHECK_INT(models_count(m), 21);
    call_cost c;
    claude_usage u = usage(1000, 0, 0, 0);
    CHECK_INT(cost_now(sonnet, &u, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.004, EPS);

    /* add a model; aliases resolve; no minimum given -> the default */
    CHECK_MERGES(m, "{\"_note\":\"mine\",\"models\":[{\"id\":\"claude-sonnet-9\","
                 "\"aliases\":[\"sonnet5\",\"claude-sonnet-5-20260901\"],\"family\":\"sonnet\","
                 "\"input\":2,\"output\":10,\"cache_write_5m\":2.5,\"cache_write_1h\":4,"
                 "\"cache_read\":0.2,\"deprecated\":null,\"retires\":null}]}");
    CHECK_INT(models_count(m), 22);
    const model_info *s5 = models_find(m, "sonnet5");
    CHECK(s5 != NULL);
    CHECK(s5 == models_find(m, "claude-sonnet-5-20260901"));
    CHECK(s5 == models_at(m, 21));
    CHECK_STR(s5->id, "claude-sonnet-9");
    CHECK(s5->has_price);
    CHECK_INT(s5->min_cache_tokens, NYX_MODELS_DEFAULT_MIN_CACHE);
    CHECK(s5->deprecated == NULL);
    u = usage(100, 100, 0, 1000); /* 100*2 + 100*10 + 1000*0.2 = 1400 */
    CHECK_INT(cost_now(s5, &u, &c), 0);
    CHECK_NEAR(c.cost_usd, 0.0014, EPS);
    CHECK(models_find(m, "claude-sonnet-4-5") == sonnet); /* older models still found */

    /* aliases add to the existing ones; the dated id keeps resolving */
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"claude-sonnet-4-5\",\"aliases\":[\"s45\","
                 "\"claude-sonnet-4-5\",\"s45\"],\"min_cache_tokens\":2048,"
                 "\"deprecated\":\"2027-01-31\"}]}");
    CHECK(models_find(m, "s45") == sonnet);
    CHECK(models_find(m, "claude-sonnet-4-5-20250929") == sonnet);
    CHECK_INT(sonnet->naliases, 2);
    CHECK_INT(sonnet->min_cache_tokens, 2048);
    CHECK_STR(sonnet->deprecated, "2027-01-31");
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"s45\",\"deprecated\":null}]}");
    CHECK(sonnet->deprecated == NULL);

    /* a model without prices: known, but not priceable */
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"claude-mystery\",\"min_cache_tokens\":512}]}");
    const model_info *mys = models_find(m, "claude-mystery");
    CHECK(mys != NULL);
    CHECK(!mys->has_price);
    CHECK_INT(mys->min_cache_tokens, 512);
    CHECK_INT(cost_now(mys, &u, &c), -1);
    CHECK_NEAR(cost_worst_case(mys, 10, 10, 0), -1.0, 0);
    /* ... it needs all five prices at once */
    CHECK_REJECTS(m, "{\"models\":[{\"id\":\"claude-mystery\",\"input\":1,\"output\":2}]}",
                  "claude-mystery", "cache_write_5m");
    CHECK(!mys->has_price);
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"claude-mystery\",\"input\":1,\"output\":2,"
                 "\"cache_write_5m\":1.25,\"cache_write_1h\":2,\"cache_read\":0.1}]}");
    CHECK(mys->has_price);
    CHECK_INT(cost_now(mys, &u, &c), 0);

    /* two entries for the same model in one document: the later wins */
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"claude-haiku-4-5\",\"output\":6},"
                 "{\"id\":\"claude-haiku-4-5-20251001\",\"output\":7}]}");
    CHECK_NEAR(models_find(m, "claude-haiku-4-5")->output, 7, EPS);

    /* an entry may name a model added earlier in the same document */
    CHECK_MERGES(m, "{\"models\":[{\"id\":\"x1\"},{\"id\":\"x1\",\"aliases\":[\"x1b\"]}]}");
    CHECK(models_find(m, "x1b") == models_find(m, "x1"));

    /* the JSON need not be NUL-terminated: only len bytes are read */
    const char doc[] = "{\"models\":[{\"id\":\"claude-opus-4-7\",\"output\":30}]}GARBAGE";
    error_clear(&err);
    CHECK_INT(models_merge_json(m, doc, sizeof doc - 1 - 7, "buf", &err), 0);
    CHECK_NEAR(models_find(m, "claude-opus-4-7")->output, 30, EPS);
    models_free(m);
}

static void test_merge_file(void)
{
    model_table *m = fresh();
    error_info err;
    char path[] = "/tmp/nyx_test_cost_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) {
        models_free(m);
        return;
    }
    close(fd);
    write_file(path, "{\"models\": [\n  {\"id\": \"claude-3-haiku-20240307\", \"cache_read\": 0.025}\n]}\n");
    error_clear(&err);
    CHECK_INT(models_merge_file(m, path, &err), 0);
    CHECK_NEAR(models_find(m, "claude-3-haiku-20240307")->cache_read, 0.025, EPS);

    /* errors in a file name the file */
    write_file(path, "{\"models\": [\n  {\"id\": \"claude-3-haiku-20240307\", \"input\": -1}\n]}\n");
    error_clear(&err);
    CHECK_INT(models_merge_file(m, path, &err), -1);
    CHECK_ERROR(err, "invalid_argument", path);
    CHECK(strstr(err.message, "'input'") != NULL);

    write_file(path, "{\"models\": [\n  {\"id\": \"a\",\n   \"input\": 1,,\n]}\n");
    error_clear(&err);
    CHECK_INT(models_merge_file(m, path, &err), -1);
    CHECK_ERROR(err, "invalid_argument", "line 3");

    unlink(path);
    error_clear(&err);
    CHECK_INT(models_merge_file(m, path, &err), -1);
    CHECK_ERROR(err, "io_error", path);
    CHECK_INT(models_merge_file(m, path, NULL), -1); /* err may be NULL */
    CHECK_NEAR(models_find(m, "claude-3-haiku-20240307")->input, 0.25, EPS);
    models_free(m);
}

/* ---- the built-in table is data/models.json as the parser reads it ---- */

static int same_num(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_strs(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!same_str(a[i], b[i]))
            return 0;
    return 1;
}

static int same_prices(const price_set *a, const price_set *b)
{
    return same_num(a->input, b->input) && same_num(a->output, b->output) &&
           same_num(a->cache_write_5m, b->cache_write_5m) &&
           same_num(a->cache_write_1h, b->cache_write_1h) && same_num(a->cache_read, b->cache_read);
}

static int same_rows(const model_info *a, const model_info *b)
{
    if (a->nrows != b->nrows)
        return 0;
    for (size_t r = 0; r < a->nrows; r++) {
        const price_row *x = &a->rows[r], *y = &b->rows[r];
        if (!same_num(x->from, y->from) || strcmp(x->from_date, y->from_date) != 0 ||
            !same_prices(&x->p, &y->p) || x->ntiers != y->ntiers)
            return 0;
        for (size_t t = 0; t < x->ntiers; t++)
            if (x->tiers[t].above_prompt_tokens != y->tiers[t].above_prompt_tokens ||
                !same_prices(&x->tiers[t].p, &y->tiers[t].p))
                return 0;
    }
    return 1;
}

static int same_geo(const model_info *a, const model_info *b)
{
    if (a->ngeo != b->ngeo)
        return 0;
    for (size_t g = 0; g < a->ngeo; g++)
        if (strcmp(a->geo[g].name, b->geo[g].name) != 0 || !same_num(a->geo[g].factor, b->geo[g].factor))
            return 0;
    return 1;
}

/* Every field, numbers bit for bit. */
static void check_same_model(const model_info *a, const model_info *b)
{
    CHECK_STR(a->id, b->id);
    CHECK(same_strs(a->aliases, a->naliases, b->aliases, b->naliases));
    CHECK(same_num(a->input, b->input) && same_num(a->output, b->output) &&
          same_num(a->cache_write_5m, b->cache_write_5m) &&
          same_num(a->cache_write_1h, b->cache_write_1h) && same_num(a->cache_read, b->cache_read));
    CHECK_INT(a->has_price, b->has_price);
    CHECK(same_rows(a, b));
    CHECK(same_prices(&a->fast, &b->fast));
    CHECK_INT(a->has_fast, b->has_fast);
    CHECK(same_num(a->batch_factor, b->batch_factor));
    CHECK(same_geo(a, b));
    CHECK_INT(a->min_cache_tokens, b->min_cache_tokens);
    CHECK_INT(a->min_cache_confirmed, b->min_cache_confirmed);
    CHECK_INT(a->min_cache_learned, b->min_cache_learned);
    CHECK_INT(a->context_window, b->context_window);
    CHECK_INT(a->max_output, b->max_output);
    CHECK_INT(a->lifecycle, b->lifecycle);
    CHECK(same_str(a->deprecated, b->deprecated));
    CHECK(same_str(a->retires, b->retires));
    CHECK(same_str(a->replacement, b->replacement));
    CHECK(same_str(a->family, b->family));
    CHECK_INT(a->thinking, b->thinking);
    CHECK_INT(a->sampling, b->sampling);
    CHECK_INT(a->forced_tool_choice_with_thinking, b->forced_tool_choice_with_thinking);
    CHECK(same_str(a->default_effort, b->default_effort));
    CHECK_INT(a->itpm_counts_cache_reads, b->itpm_counts_cache_reads);
    CHECK(same_strs(a->unconfirmed, a->nunconfirmed, b->unconfirmed, b->nunconfirmed));
}

static void test_builtin_is_the_json(void)
{
    error_info err = cleared_error();
    model_table *parsed = models_new_from(NULL, 0, NULL, &err);
    CHECK(parsed != NULL);
    CHECK_INT(models_merge_file(parsed, NYX_SOURCE_DIR "/data/models.json", &err), 0);
    model_table *m = fresh();
    CHECK(m != NULL);
    if (!m || !parsed) {
        models_free(m);
        models_free(parsed);
        return;
    }
    CHECK(models_count(m) > 0);
    CHECK_INT(models_count(m), models_count(parsed));
    for (size_t i = 0; i < models_count(m) && i < models_count(parsed); i++)
        check_same_model(models_at(m, i), models_at(parsed, i));
    CHECK_STR(models_date(m), models_date(parsed));
    /* every name finds the same model */
    for (size_t i = 0; i < models_count(parsed); i++) {
        const model_info *md = models_at(parsed, i);
        CHECK(models_find(m, md->id) == models_at(m, i));
        for (size_t k = 0; k < md->naliases; k++)
            CHECK(models_find(m, md->aliases[k]) == models_at(m, i));
    }

    /* A table is a copy: a merge into one leaves the next one built as it was. */
    const model_info *first = models_at(m, 0);
    char json[256];
    snprintf(json, sizeof json, "{\"models\": [{\"id\": \"%s\", \"aliases\": [\"x-alias\"], \"input\": 123}]}", first->id);
    CHECK_MERGES(m, json);
    CHECK_NEAR(models_at(m, 0)->input, 123, EPS);
    model_table *again = fresh();
    CHECK(again != NULL);
    if (again) {
        check_same_model(models_at(again, 0), models_at(parsed, 0));
        CHECK(models_find(again, "x-alias") == NULL);
    }
    models_free(again);
    models_free(m);
    models_free(parsed);
}

static void test_new_from(void)
{
    error_info err = cleared_error();
    model_table *m = models_new_from(NULL, 0, "2026-01-02", &err);
    CHECK(m != NULL);
    CHECK_INT(models_count(m), 0);
    CHECK(models_find(m, "anything") == NULL);
    CHECK_STR(models_date(m), "2026-01-02");
    models_free(m);

    /* flat prices are those of the row in force now, whatever the copied model said */
    price_row rows[2] = {{.from = 0, .p = {1, 2, 3, 4, 5}},
                         {.from = models_date_time("2001-01-01"), .from_date = "2001-01-01", .p = {6, 7, 8, 9, 10}}};
    char *aliases[] = {"b"};
    model_info v[2] = {{.id = "a", .has_price = 1, .rows = rows, .nrows = 2, .input = 99},
                       {.id = "c", .aliases = aliases, .naliases = 1}};
    error_clear(&err);
    m = models_new_from(v, 2, NULL, &err);
    CHECK(m != NULL);
    if (m) {
        CHECK_NEAR(models_find(m, "a")->input, 6, EPS);
        CHECK_NEAR(models_find(m, "a")->cache_read, 10, EPS);
        CHECK(models_find(m, "b") == models_at(m, 1));
        CHECK(models_date(m) == NULL);
    }
    models_free(m);

    /* a name given to two models is refused */
    v[1].aliases[0] = "a";
    error_clear(&err);
    CHECK(models_new_from(v, 2, NULL, &err) == NULL);
    CHECK_ERROR(err, "invalid_argument", "'a'");
}

/* ---- validation ---- */

static void test_validation(void)
{
    model_table *m = fresh();
    const model_info *haiku = models_find(m, "claude-haiku-4-5");

    /* a merge that must fail: the document, two fragments of the message */
    static const struct {
        const char *json, *frag1, *frag2;
    } bad[] = {
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"output\":-1}]}", "claude-haiku-4-5", "'output'"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"input\":\"1\"}]}", "claude-haiku-4-5", "'input'"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"cache_read\":null}]}", "claude-haiku-4-5",
         "'cache_read'"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"cache_write_1h\":1e999}]}", "claude-haiku-4-5",
         "'cache_write_1h'"},
        {"{\"models\":[{\"aliases\":[\"x\"],\"input\":1}]}", "models[0]", "'id'"},
        {"{\"models\":[{\"id\":\"ok\"},{\"input\":1}]}", "models[1]", "'id'"},
        {"{\"models\":[{\"id\":42}]}", "models[0]", "'id'"},
        {"{\"models\":[{\"id\":\"\"}]}", "models[0]", "'id'"},
        {"{\"models\":[7]}", "models[0]", "object"},
        /* one name for two models */
        {"{\"models\":[{\"id\":\"claude-new\",\"aliases\":[\"claude-haiku-4-5\"]}]}", "claude-new",
         "'claude-haiku-4-5'"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"aliases\":[\"claude-sonnet-4-5-20250929\"]}]}",
         "claude-sonnet-4-5-20250929", "claude-sonnet-4-5'"},
        {"{\"models\":[{\"id\":\"a1\",\"aliases\":[\"dup\"]},{\"id\":\"a2\",\"aliases\":[\"dup\"]}]}",
         "alias 'dup'", "'a1'"},
        {"{\"models\":[{\"id\":\"a1\",\"aliases\":\"dup\"}]}", "a1", "'aliases'"},
        {"{\"models\":[{\"id\":\"a1\",\"aliases\":[\"\"]}]}", "a1", "'aliases'"},
        /* other fields and the document's shape */
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"ouput\":5}]}", "claude-haiku-4-5",
         "'ouput' is unknown"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"input\":1,\"input\":2}]}", "claude-haiku-4-5", "twice"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"retires\":\"soon\"}]}", "claude-haiku-4-5",
         "'retires'"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"deprecated\":\"2026-13-01\"}]}", "claude-haiku-4-5",
         "'deprecated'"},
        {"{\"models\":[{\"id\":\"claude-haiku-4-5\",\"family\":3}]}", "claude-haiku-4-5", "'family'"},
        {"{\"models\":[{\"id\":\"new-model\",\"input\":1}]}", "new-model", "missing field 'output'"},
        {"{\"models\":{}}", "'models'", "array"},
        {"{}", "'models'", "array"},
        {"{\"models\":[],\"models\":[]}", "'models'", "twice"},
        {"{\"modles\":[]}", "unknown top-level field", "modles"},
        {"[]", "object", "models"},
        {"{\"models\":[", "invalid JSON", "line 1"},
        {"{\"models\":[]} x", "invalid JSON", "column 15"},
        {"", "invalid JSON", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ROW("%s", bad[i].json);
        CHECK_REJECTS(m, bad[i].json, bad[i].frag1, bad[i].frag2);
    }
    CHECK_ROW_END();
    /* min_cache_tokens must be a positive integer */
    const char *bad_min[] = {"0", "-1024", "1.5", "\"1024\"", "1e12", "null", "true"};
    for (size_t i = 0; i < sizeof bad_min / sizeof bad_min[0]; i++) {
        char doc[200];
        snprintf(doc, sizeof doc, "{\"models\":[{\"id\":\"claude-haiku-4-5\",\"min_cache_tokens\":%s}]}",
                 bad_min[i]);
        CHECK_ROW("%s", doc);
        CHECK_REJECTS(m, doc, "claude-haiku-4-5", "'min_cache_tokens'");
    }
    CHECK_ROW_END();
    CHECK_INT(haiku->min_cache_tokens, 4096);

    /* all or nothing: a good entry before a bad one changes nothing */
    CHECK_REJECTS(m,
                  "{\"models\":[{\"id\":\"claude-haiku-4-5\",\"input\":9,\"aliases\":[\"h\"]},"
                  "{\"id\":\"brand-new\",\"input\":1,\"output\":1,\"cache_write_5m\":1,"
                  "\"cache_write_1h\":1,\"cache_read\":1},"
                  "{\"id\":\"claude-opus-4-7\",\"cache_read\":-0.5}]}",
                  "claude-opus-4-7", "'cache_read'");
    CHECK_NEAR(haiku->input, 1, EPS);
    CHECK(models_find(m, "h") == NULL);
    CHECK(models_find(m, "brand-new") == NULL);
    CHECK(models_find(m, "claude-haiku-4-5") == haiku);
    CHECK_INT(models_count(m), 21);

    /* a NULL err is allowed; NULL arguments are errors, not crashes */
    CHECK_INT(models_merge_json(m, "{", 1, NULL, NULL), -1);
    error_info err = cleared_error();
    CHECK_INT(models_merge_json(NULL, "{}", 2, NULL, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(models_merge_json(m, NULL, 0, "x", &err), -1);
    models_free(m);
}

int main(void)
{
    test_default_table();
    test_cost_read_write();
    test_cost_refusals();
    test_worst_case();
    test_table_2026();
    test_effective_dates();
    test_tiers_and_modifiers();
    test_tier_as_data();
    test_worst_case_tier();
    test_accept();
    test_merge();
    test_merge_file();
    test_builtin_is_the_json();
    test_new_from();
    test_validation();
    CHECK_DONE();
}
