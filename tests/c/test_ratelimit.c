/* engine/resilience/ratelimit: token-bucket arithmetic, waits per bucket, oversize requests,
 * holds of the buckets a 429 shows empty, settling both token buckets to the real usage, what
 * counts toward input tokens per minute (cache reads only where the model table says), and
 * tightening from anthropic-ratelimit-* headers. Time is a parameter, so every number here
 * is exact. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "claude/headers.h"
#include "cost/models.h"
#include "resilience/ratelimit.h"

#define EPS 1e-9
#define WALL 1700000000.0 /* an epoch "now" for the reset times */

static ratelimit_state state(const ratelimiter *r, const char *key)
{
    ratelimit_state s;
    memset(&s, 0xff, sizeof s);
    CHECK_INT(ratelimit_get(r, key, &s), 0);
    return s;
}

/* Refills key to `now` without taking (settle of nothing), then reads its state. */
static ratelimit_state state_at(ratelimiter *r, const char *key, double now)
{
    ratelimit_settle(r, key, 0, 0, 0, 0, now);
    return state(r, key);
}

/* got[i] within eps of want[i] for each bucket (requests, input, output) whose want is not NAN;
 * a failure names the key, the bucket and what was measured. */
static void check_buckets(const char *key, const char *what, const double got[3],
                          const double want[3], double eps, int line)
{
    static const char *const bucket[] = {"requests", "input", "output"};
    for (int i = 0; i < 3; i++)
        if (!isnan(want[i]) && !(fabs(got[i] - want[i]) <= eps)) {
            check_fail_at(__FILE__, line);
            fprintf(stderr, "%s: the %s bucket %s %.12g, expected %.12g\n", key, bucket[i], what,
                    got[i], want[i]);
        }
}

/* What key's three buckets hold, within eps; and their limits per minute, exactly. */
#define CHECK_AVAIL(r, key, req, in, out, eps)                                                  \
    do {                                                                                        \
        ratelimit_state s_ = state(r, key);                                                     \
        check_buckets(key, "holds", (double[]){s_.requests_avail, s_.input_avail, s_.output_avail}, \
                      (double[]){req, in, out}, eps, __LINE__);                                 \
    } while (0)
#define CHECK_LIMITS(r, key, rpm_, itpm, otpm)                                                  \
    do {                                                                                        \
        ratelimit_state s_ = state(r, key);                                                     \
        check_buckets(key, "allows per minute", (double[]){s_.rpm, s_.input_tpm, s_.output_tpm}, \
                      (double[]){rpm_, itpm, otpm}, 0, __LINE__);                               \
    } while (0)

static claude_headers headers(void)
{
    claude_headers h;
    claude_headers_init(&h);
    return h;
}

static void test_unknown_and_null(void)
{
    ratelimiter *r = ratelimit_new();
    CHECK(r != NULL);
    ratelimit_state s;
    CHECK_NEAR(ratelimit_acquire(r, "claude-x", 1000000, 1000000, 0), 0, 0);
    CHECK_INT(ratelimit_get(r, "claude-x", &s), -1); /* acquire did not create it */
    CHECK_NEAR(ratelimit_acquire(NULL, "claude-x", 1, 1, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, NULL, 1, 1, 0), 0, 0);
    CHECK_INT(ratelimit_configure(NULL, "k", 1, 1, 1), -1);
    CHECK_INT(ratelimit_configure(r, NULL, 1, 1, 1), -1);
    CHECK_INT(ratelimit_configure(r, "k", -1, 0, 0), -1);
    CHECK_INT(ratelimit_configure(r, "k", 0, NAN, 0), -1);
    CHECK_INT(ratelimit_configure(r, "k", 0, 0, INFINITY), -1);
    CHECK_INT(ratelimit_get(r, "k", &s), -1); /* refused configure created nothing */
    CHECK_INT(ratelimit_get(r, NULL, &s), -1);
    ratelimit_settle(r, "nope", 10, 0, 10, 0, 0);   /* unknown key: no effect, no crash */
    ratelimit_settle(NULL, "nope", 10, 0, 10, 0, 0);
    ratelimit_hold(NULL, "k", 1, NULL, 0);
    ratelimit_observe(NULL, "k", NULL, 0, WALL);
    /* a configured key with every limit 0 is unlimited */
    CHECK_INT(ratelimit_configure(r, "free", 0, 0, 0), 0);
    CHECK_NEAR(ratelimit_acquire(r, "free", 1 << 30, 1 << 30, 5), 0, 0);
    s = state(r, "free");
    CHECK_NEAR(s.rpm, 0, 0);
    CHECK_NEAR(s.requests_avail, 0, 0);
    CHECK_NEAR(s.held_until, 0, 0);
    ratelimit_free(r);
    ratelimit_free(NULL);
}

static void test_refill_exact(void)
{
    ratelimiter *r = ratelimit_new();
    /* 60 rpm = 1 request/s, 6000 itpm = 100/s, 600 otpm = 10/s */
    CHECK_INT(ratelimit_configure(r, "m", 60, 6000, 600), 0);
    CHECK_LIMITS(r, "m", 60, 6000, 600);
    CHECK_AVAIL(r, "m", 60, 6000, 600, 0); /* starts full */

    CHECK_NEAR(ratelimit_acquire(r, "m", 1000, 100, 100.0), 0, 0);
    CHECK_AVAIL(r, "m", 59, 5000, 500, EPS);

    /* 2.5 s later: +2.5 requests, +250 input, +25 output, then the next call takes its share */
    CHECK_NEAR(ratelimit_acquire(r, "m", 2000, 300, 102.5), 0, 0);
    /* 59 + 2.5 requests stop at the capacity, 60 */
    CHECK_AVAIL(r, "m", 60 - 1, 5000 + 250 - 2000, 500 + 25 - 300, EPS);

    /* refill stops at capacity */
    state_at(r, "m", 1000.0);
    CHECK_AVAIL(r, "m", 60, 6000, 600, 0);

    /* drain the request bucket: 60 go at once, the 61st waits exactly 1 s */
    for (int i = 0; i < 60; i++)
        CHECK_NEAR(ratelimit_acquire(r, "m", 0, 0, 1000.0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "m", 0, 0, 1000.0), 1.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "m", 0, 0, 1000.25), 0.75, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "m", 0, 0, 1001.0), 0, 0); /* waiting it out suffices */
    CHECK_NEAR(state(r, "m").requests_avail, 0, EPS);
    ratelimit_free(r);
}

/* Waiting out the returned time is always enough, also where the arithmetic is inexact
 * (7 rpm, a `now` with no short binary form): no sliver-of-a-second second wait. */
static void test_wait_suffices(void)
{
    ratelimiter *r = ratelimit_new();
    CHECK_INT(ratelimit_configure(r, "k", 7, 7 * 37.0, 0), 0);
    double t = 1e6 / 3.0;
    for (int i = 0; i < 7; i++)
        CHECK_NEAR(ratelimit_acquire(r, "k", 37, 0, t), 0, 0);
    for (int i = 0; i < 50; i++) {
        double w = ratelimit_acquire(r, "k", 37, 0, t);
        CHECK_NEAR(w, 60.0 / 7.0, 1e-6);
        t += w;
        CHECK_NEAR(ratelimit_acquire(r, "k", 37, 0, t), 0, 0);
    }
    ratelimit_free(r);
}

static void test_wait_per_bucket(void)
{
    ratelimiter *r = ratelimit_new();
    /* requests: 2 rpm => one every 30 s */
    CHECK_INT(ratelimit_configure(r, "req", 2, 0, 0), 0);
    CHECK_NEAR(ratelimit_acquire(r, "req", 0, 0, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "req", 0, 0, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "req", 0, 0, 0), 30.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "req", 0, 0, 12), 18.0, EPS);

    /* input: 60000 itpm = 1000/s; output: 6000 otpm = 100/s; requests plentiful */
    CHECK_INT(ratelimit_configure(r, "w", 120, 60000, 6000), 0);
    CHECK_NEAR(ratelimit_acquire(r, "w", 60000, 0, 0), 0, 0); /* input now empty */
    CHECK_NEAR(ratelimit_acquire(r, "w", 500, 0, 0), 0.5, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "w", 0, 6000, 0), 0, 0); /* output now empty */
    CHECK_NEAR(ratelimit_acquire(r, "w", 0, 300, 0), 3.0, EPS);
    /* several short: the longest wait wins */
    CHECK_NEAR(ratelimit_acquire(r, "w", 500, 300, 0), 3.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "w", 5000, 300, 0), 5.0, EPS);
    /* refused calls took nothing */
    CHECK_AVAIL(r, "w", 118, 0, 0, EPS);
    /* peek answers like acquire and takes nothing */
    CHECK_NEAR(ratelimit_peek(r, "w", 5000, 300, 1), 4.0, EPS);
    CHECK_NEAR(ratelimit_peek(r, "w", 500, 100, 1), 0, 0);
    CHECK_NEAR(ratelimit_peek(r, "unknown", 500, 100, 1), 0, 0);
    CHECK_AVAIL(r, "w", NAN, 0, NAN, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "w", 500, 100, 1), 0, 0);
    /* 2/s refilled the requests to capacity */
    CHECK_AVAIL(r, "w", 120 - 1, 1000 - 500, 100 - 100, EPS);
    /* negative amounts count as 0 */
    CHECK_NEAR(ratelimit_acquire(r, "w", -5, -5, 1), 0, 0);
    ratelimit_free(r);
}

static void test_oversize(void)
{
    ratelimiter *r = ratelimit_new();
    CHECK_INT(ratelimit_configure(r, "o", 0, 0, 1200), 0); /* 20 tokens/s */
    /* larger than the capacity, bucket full: goes, leaving a debt */
    CHECK_NEAR(ratelimit_acquire(r, "o", 0, 1500, 0), 0, 0);
    CHECK_NEAR(state(r, "o").output_avail, -300, EPS);
    /* the next oversize one waits until the bucket is full again: 1500 tokens at 20/s */
    CHECK_NEAR(ratelimit_acquire(r, "o", 0, 1500, 0), 75.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "o", 0, 1500, 74.0), 1.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "o", 0, 1500, 75.0), 0, 0);
    /* not full: an oversize request waits even if a normal one would go */
    CHECK_NEAR(ratelimit_acquire(r, "o", 0, 1200, 150.0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "o", 0, 100, 155.0), 0, 0); /* 100 refilled, 100 taken */
    CHECK_NEAR(ratelimit_acquire(r, "o", 0, 5000, 160.0), (1200.0 - 100) / 20.0, EPS);
    ratelimit_free(r);
}

static void test_hold(void)
{
    ratelimiter *r = ratelimit_new();
    /* a hold on an unknown key creates it; nothing goes before its end */
    ratelimit_hold(r, "m", 5.0, NULL, 10.0);
    CHECK_NEAR(state(r, "m").held_until, 15.0, 0);
    for (int i = 0; i < 50; i++) /* 50 queued calls polling before the end: none goes */
        CHECK(ratelimit_acquire(r, "m", 10, 10, 10.0 + i * 0.0999) > 0);
    CHECK_NEAR(ratelimit_acquire(r, "m", 10, 10, 10.0), 5.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "m", 10, 10, 14.0), 1.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "m", 10, 10, 15.0), 0, 0);
    /* a later, shorter hold does not shorten an earlier one */
    ratelimit_hold(r, "m", 10.0, NULL, 20.0);
    ratelimit_hold(r, "m", 2.0, NULL, 21.0);
    CHECK_NEAR(state(r, "m").held_until, 30.0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "m", 0, 0, 29.0), 1.0, EPS);
    ratelimit_hold(r, "m", -1, NULL, 29.0); /* ignored */
    ratelimit_hold(r, "m", NAN, NULL, 29.0);
    CHECK_NEAR(state(r, "m").held_until, 30.0, 0);
    /* a held call takes nothing; the hold outlasts the bucket's own wait */
    CHECK_INT(ratelimit_configure(r, "b", 60, 0, 0), 0);
    ratelimit_hold(r, "b", 3.0, NULL, 0);
    CHECK_NEAR(ratelimit_acquire(r, "b", 0, 0, 1.0), 2.0, EPS);
    CHECK_NEAR(state(r, "b").requests_avail, 60, 0);
    CHECK_NEAR(ratelimit_acquire(r, "b", 0, 0, 3.0), 0, 0);
    CHECK_NEAR(state(r, "b").requests_avail, 59, EPS);
    /* other keys are not held */
    CHECK_NEAR(ratelimit_acquire(r, "other", 0, 0, 0), 0, 0);
    ratelimit_free(r);
}

/* A 429 holds only the buckets its headers show empty; all of them when they show none. */
static void test_hold_by_headers(void)
{
    ratelimiter *r = ratelimit_new();
    claude_headers h = headers();
    h.rl_requests_limit = 50;
    h.rl_requests_remaining = 12;
    h.rl_input_limit = 30000;
    h.rl_input_remaining = 0; /* the input bucket is what refused */
    h.rl_output_limit = 8000;
    h.rl_output_remaining = 5000;
    ratelimit_hold(r, "in", 20.0, &h, 100.0);
    ratelimit_state s = state(r, "in");
    CHECK_NEAR(s.input_held_until, 120.0, 0);
    CHECK_NEAR(s.requests_held_until, 0, 0);
    CHECK_NEAR(s.output_held_until, 0, 0);
    CHECK_NEAR(s.held_until, 120.0, 0);
    CHECK_NEAR(ratelimit_peek(r, "in", 10, 10, 101.0), 19.0, EPS); /* needs input: held */
    CHECK_NEAR(ratelimit_peek(r, "in", 0, 10, 101.0), 0, 0);       /* needs none: goes */
    CHECK_NEAR(ratelimit_peek(r, "in", 10, 10, 120.0), 0, 0);
    /* the output bucket alone */
    h.rl_input_remaining = 100;
    h.rl_output_remaining = 0;
    ratelimit_hold(r, "out", 5.0, &h, 0);
    s = state(r, "out");
    CHECK_NEAR(s.output_held_until, 5.0, 0);
    CHECK_NEAR(s.input_held_until + s.requests_held_until, 0, 0);
    CHECK_NEAR(ratelimit_peek(r, "out", 10, 0, 1.0), 0, 0);
    CHECK_NEAR(ratelimit_peek(r, "out", 10, 1, 1.0), 4.0, EPS);
    /* the requests bucket: every request needs it */
    h.rl_output_remaining = 10;
    h.rl_requests_remaining = 0;
    ratelimit_hold(r, "req", 5.0, &h, 0);
    CHECK_NEAR(ratelimit_peek(r, "req", 0, 0, 0), 5.0, EPS);
    CHECK_NEAR(state(r, "req").input_held_until, 0, 0);
    /* only the combined tokens headers say empty: both token buckets, not requests */
    h = headers();
    h.rl_tokens_limit = 30000;
    h.rl_tokens_remaining = 0;
    h.rl_requests_remaining = 3;
    ratelimit_hold(r, "tok", 5.0, &h, 0);
    s = state(r, "tok");
    CHECK_NEAR(s.input_held_until, 5.0, 0);
    CHECK_NEAR(s.output_held_until, 5.0, 0);
    CHECK_NEAR(s.requests_held_until, 0, 0);
    /* nothing shown empty (or no rate-limit headers at all): every bucket */
    h = headers();
    h.rl_input_remaining = 100;
    ratelimit_hold(r, "all", 5.0, &h, 0);
    s = state(r, "all");
    CHECK_NEAR(s.requests_held_until + s.input_held_until + s.output_held_until, 15.0, 0);
    ratelimit_free(r);
}

static void test_settle(void)
{
    ratelimiter *r = ratelimit_new();
    CHECK_INT(ratelimit_configure(r, "s", 0, 0, 600), 0); /* 10/s */
    CHECK_NEAR(ratelimit_acquire(r, "s", 0, 600, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "s", 0, 400, 0), 40.0, EPS);
    /* the call produced 100 of its 600: 500 come back */
    ratelimit_settle(r, "s", 0, 0, 600, 100, 2.0);
    CHECK_NEAR(state(r, "s").output_avail, 20 + 500, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "s", 0, 400, 2.0), 0, 0);
    /* refunds stop at capacity */
    ratelimit_settle(r, "s", 0, 0, 10000, 0, 3.0);
    CHECK_NEAR(state(r, "s").output_avail, 600, 0);
    /* an unlimited output bucket ignores settle */
    CHECK_INT(ratelimit_configure(r, "i", 60, 600, 0), 0);
    CHECK_NEAR(ratelimit_acquire(r, "i", 600, 1000, 0), 0, 0);
    ratelimit_settle(r, "i", 600, 600, 1000, 0, 0);
    ratelimit_state s = state(r, "i");
    CHECK_NEAR(s.input_avail, 0, EPS);
    CHECK_NEAR(s.output_avail, 0, 0);
    ratelimit_free(r);
}

/* The input bucket is settled like the output one: an estimate above the real usage comes
 * back at once, one below it is charged (a debt the next calls wait out). */
static void test_settle_input(void)
{
    ratelimiter *r = ratelimit_new();
    CHECK_INT(ratelimit_configure(r, "t1", 50, 30000, 8000), 0); /* tier 1: 500 input/s */
    CHECK_NEAR(ratelimit_acquire(r, "t1", 9000, 200, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "t1", 9000, 200, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "t1", 9000, 200, 0), 0, 0);
    CHECK_NEAR(ratelimit_peek(r, "t1", 9000, 200, 0), (9000 - 3000) / 500.0, EPS);
    /* the first answer counted 150 input (the rest was read from the cache) and 40 output */
    ratelimit_settle(r, "t1", 9000, 150, 200, 40, 0);
    CHECK_AVAIL(r, "t1", NAN, 3000 + 8850, 8000 - 600 + 160, EPS);
    CHECK_NEAR(ratelimit_peek(r, "t1", 9000, 200, 0), 0, 0);
    /* an estimate that was too low: the difference is taken, past zero */
    CHECK_NEAR(ratelimit_acquire(r, "t1", 11000, 0, 0), 0, 0);
    ratelimit_settle(r, "t1", 11000, 13000, 0, 0, 0);
    CHECK_NEAR(state(r, "t1").input_avail, 11850 - 11000 - 2000, EPS);
    CHECK_NEAR(ratelimit_peek(r, "t1", 100, 0, 0), (1150 + 100) / 500.0, EPS);
    /* never above capacity */
    ratelimit_settle(r, "t1", 1000000, 0, 1000000, 0, 1000);
    CHECK_AVAIL(r, "t1", NAN, 30000, 8000, 0);
    ratelimit_free(r);
}

/* Input tokens per minute count uncached input and cache writes; cache reads only for the
 * models whose table entry says so (itpm_counts_cache_reads, false when not given). */
static void test_input_counted(void)
{
    error_info err = cleared_error();
    model_table *m = models_new_default(&err);
    CHECK(m != NULL);
    const char *extra = "{\"models\": [{\"id\": \"nyx-old\", \"itpm_counts_cache_reads\": true}]}";
    CHECK_INT(models_merge_json(m, extra, strlen(extra), "test", &err), 0);
    const char *bad = "{\"models\": [{\"id\": \"nyx-old\", \"itpm_counts_cache_reads\": 1}]}";
    CHECK_INT(models_merge_json(m, bad, strlen(bad), "test", &err), -1);
    CHECK_CONTAINS(err.message, "itpm_counts_cache_reads");
    claude_usage u = {.input_tokens = 50, .output_tokens = 7, .cache_creation_input_tokens = 300,
                   .cache_read_input_tokens = 9000};
    const model_info *current = models_find(m, "claude-sonnet-4-6");
    CHECK(current != NULL && !current->itpm_counts_cache_reads);
    CHECK_INT(ratelimit_input_counted(current, &u), 350);
    CHECK_INT(ratelimit_input_counted(NULL, &u), 350);
    const model_info *old = models_find(m, "nyx-old");
    CHECK(old != NULL && old->itpm_counts_cache_reads);
    CHECK_INT(ratelimit_input_counted(old, &u), 9350);
    models_free(m);
}

static void test_observe_limits(void)
{
    ratelimiter *r = ratelimit_new();
    CHECK_INT(ratelimit_configure(r, "h", 60, 0, 6000), 0);
    claude_headers h = headers();
    h.rl_requests_limit = 30;    /* lower than configured: adopted */
    h.rl_input_limit = 12000;    /* none configured: adopted */
    h.rl_output_limit = 12000;   /* higher than configured: ignored */
    h.rl_output_remaining = 9000; /* more than the bucket holds: ignored */
    ratelimit_observe(r, "h", &h, 0, WALL);
    CHECK_LIMITS(r, "h", 30, 12000, 6000);
    /* requests cut to the new capacity; a new input bucket starts full */
    CHECK_AVAIL(r, "h", 30, 12000, 6000, 0);
    /* the lower limit governs the rate too: 30 rpm = one per 2 s */
    for (int i = 0; i < 30; i++)
        CHECK_NEAR(ratelimit_acquire(r, "h", 0, 0, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "h", 0, 0, 0), 2.0, EPS);
    /* the server's limit rises again: back to the configured limit, never beyond; no tokens
     * are added by the observation itself */
    h = headers();
    h.rl_requests_limit = 1000;
    ratelimit_observe(r, "h", &h, 0, WALL);
    CHECK_LIMITS(r, "h", 60, NAN, NAN);
    CHECK_AVAIL(r, "h", 0, NAN, NAN, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "h", 0, 0, 0), 1.0, EPS); /* 60 rpm */
    /* reconfiguring lower cuts the bucket; the server limit still applies when lower */
    CHECK_INT(ratelimit_configure(r, "h", 60, 24000, 6000), 0);
    CHECK_NEAR(state(r, "h").input_tpm, 12000, 0);
    CHECK_INT(ratelimit_configure(r, "h", 60, 3000, 3000), 0);
    CHECK_LIMITS(r, "h", NAN, 3000, NAN);
    CHECK_AVAIL(r, "h", NAN, 3000, 3000, 0);
    /* headers with no rate-limit fields create no key */
    h = headers();
    ratelimit_observe(r, "foundry", &h, 0, WALL);
    ratelimit_state s;
    CHECK_INT(ratelimit_get(r, "foundry", &s), -1);
    /* ... and ones with fields do, adopting them */
    h.rl_requests_limit = 50;
    h.rl_requests_remaining = 10;
    ratelimit_observe(r, "fresh", &h, 0, WALL);
    CHECK_LIMITS(r, "fresh", 50, 0, NAN);
    CHECK_AVAIL(r, "fresh", 10, NAN, NAN, 0);
    ratelimit_free(r);
}

static void test_observe_remaining_reset(void)
{
    ratelimiter *r = ratelimit_new();
    CHECK_INT(ratelimit_configure(r, "m", 0, 60000, 0), 0); /* 1000/s */
    /* server: 30000 left, full again in 60 s => its bucket refills at 500/s */
    claude_headers h = headers();
    h.rl_input_limit = 60000;
    h.rl_input_remaining = 30000;
    h.rl_input_reset = WALL + 60;
    ratelimit_observe(r, "m", &h, 100.0, WALL);
    CHECK_NEAR(state(r, "m").input_avail, 30000, 0);
    CHECK_NEAR(ratelimit_acquire(r, "m", 20000, 0, 100.0), 0, 0); /* 10000 left */
    /* a full bucket is 50000 away: 30000 come by the reset (60 s at 500/s), 20000 after it at
     * the normal 1000/s */
    CHECK_NEAR(ratelimit_acquire(r, "m", 60000, 0, 100.0), 80.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "m", 15000, 0, 100.0), 10.0, EPS); /* within the reset */
    CHECK_NEAR(ratelimit_acquire(r, "m", 15000, 0, 106.0), 4.0, EPS);
    /* recovery: at the reset the bucket is where the server said, then refills normally */
    CHECK_NEAR(ratelimit_peek(r, "m", 50000, 0, 160.0), 10.0, EPS);
    CHECK_NEAR(state_at(r, "m", 160.0).input_avail, 40000, EPS);
    CHECK_NEAR(ratelimit_peek(r, "m", 45000, 0, 161.0), 4.0, EPS); /* 1000/s, not 500/s */
    CHECK_NEAR(ratelimit_acquire(r, "m", 50000, 0, 170.0), 0, 0);
    CHECK_NEAR(state_at(r, "m", 1000.0).input_avail, 60000, 0);

    /* a remaining above what the bucket holds changes nothing */
    CHECK_NEAR(ratelimit_acquire(r, "m", 50000, 0, 1000.0), 0, 0);
    h.rl_input_remaining = 59000;
    h.rl_input_reset = WALL + 1000 + 1;
    ratelimit_observe(r, "m", &h, 1000.0, WALL + 1000);
    CHECK_NEAR(state(r, "m").input_avail, 10000, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "m", 20000, 0, 1000.0), 10.0, EPS);

    /* a low remaining whose reset is near: the server refills faster than our rate, so ours
     * stands; and one without a reset: lowered, normal refill */
    h.rl_input_remaining = 1000;
    h.rl_input_reset = WALL + 2000 + 1;
    ratelimit_observe(r, "m", &h, 2000.0, WALL + 2000);
    CHECK_NEAR(state(r, "m").input_avail, 1000, 0);
    CHECK_NEAR(ratelimit_acquire(r, "m", 3000, 0, 2000.0), 2.0, EPS);
    h.rl_input_reset = -1;
    h.rl_input_remaining = 0;
    ratelimit_observe(r, "m", &h, 2000.0, WALL + 2000);
    CHECK_NEAR(ratelimit_acquire(r, "m", 3000, 0, 2000.0), 3.0, EPS);

    /* the pin follows the server's own limit, not ours: 600000 back in 600 s is 1000/s, no
     * slower than our 60000 per minute, so our normal rate stands */
    CHECK_INT(ratelimit_configure(r, "big", 0, 60000, 0), 0);
    h = headers();
    h.rl_input_limit = 600000;
    h.rl_input_remaining = 0;
    h.rl_input_reset = WALL + 600;
    ratelimit_observe(r, "big", &h, 0, WALL);
    CHECK_NEAR(state(r, "big").input_tpm, 60000, 0);
    CHECK_NEAR(ratelimit_acquire(r, "big", 1000, 0, 0), 1.0, EPS);
    ratelimit_free(r);
}

/* The combined anthropic-ratelimit-tokens-* headers stand for a token bucket the response
 * gives no specific headers for; the specific ones win where present. */
static void test_observe_tokens_headers(void)
{
    ratelimiter *r = ratelimit_new();
    claude_headers h = headers();
    h.rl_tokens_limit = 40000;
    h.rl_tokens_remaining = 1000;
    ratelimit_observe(r, "only", &h, 0, WALL);
    CHECK_LIMITS(r, "only", NAN, 40000, 40000);
    CHECK_AVAIL(r, "only", NAN, 1000, 1000, 0);
    CHECK_NEAR(ratelimit_peek(r, "only", 2000, 0, 0), 1000 / (40000 / 60.0), EPS);
    h.rl_input_limit = 30000;
    h.rl_input_remaining = 21000;
    ratelimit_observe(r, "both", &h, 0, WALL);
    /* output: only the combined headers spoke */
    CHECK_LIMITS(r, "both", NAN, 30000, 40000);
    CHECK_AVAIL(r, "both", NAN, 21000, 1000, 0);
    ratelimit_free(r);
}

/* The same through the real header parser: lines as curl delivers them. */
static void test_observe_parsed_headers(void)
{
    double wall;
    const char *now_s = "2025-08-21T12:40:00Z";
    CHECK_INT(claude_parse_rfc3339(now_s, strlen(now_s), &wall), 0);
    const char *lines[] = {
        "HTTP/1.1 200 OK\r\n",
        "anthropic-ratelimit-requests-limit: 50\r\n",
        "anthropic-ratelimit-requests-remaining: 0\r\n",
        "anthropic-ratelimit-requests-reset: 2025-08-21T12:41:40Z\r\n",
        "anthropic-ratelimit-output-tokens-limit: 8000\r\n",
        "anthropic-ratelimit-output-tokens-remaining: 7000\r\n",
        "anthropic-ratelimit-output-tokens-reset: 2025-08-21T12:40:07Z\r\n",
    };
    claude_headers h = headers();
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        claude_headers_feed(&h, lines[i], strlen(lines[i]), wall);
    ratelimiter *r = ratelimit_new();
    CHECK_INT(ratelimit_configure(r, "claude-sonnet-4-5", 100, 0, 0), 0);
    ratelimit_observe(r, "claude-sonnet-4-5", &h, 5.0, wall);
    CHECK_LIMITS(r, "claude-sonnet-4-5", 50, NAN, 8000);
    CHECK_AVAIL(r, "claude-sonnet-4-5", 0, NAN, 7000, 0);
    /* 50 requests back over the 100 s to the reset: 0.5/s, one request in 2 s */
    CHECK_NEAR(ratelimit_acquire(r, "claude-sonnet-4-5", 0, 0, 5.0), 2.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "claude-sonnet-4-5", 0, 0, 7.0), 0, 0);
    ratelimit_free(r);
}

static void test_many_keys(void)
{
    ratelimiter *r = ratelimit_new();
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "agent:%d", i);
        CHECK_INT(ratelimit_configure(r, key, i + 1, 0, 0), 0);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "agent:%d", i);
        CHECK_NEAR(state(r, key).rpm, i + 1, 0);
    }
    /* keys are copied: the caller's buffer may change */
    CHECK_NEAR(ratelimit_acquire(r, "agent:0", 0, 0, 0), 0, 0);
    CHECK_NEAR(ratelimit_acquire(r, "agent:0", 0, 0, 0), 60.0, EPS);
    CHECK_NEAR(ratelimit_acquire(r, "agent:1", 0, 0, 0), 0, 0);
    ratelimit_free(r);
}

int main(void)
{
    test_unknown_and_null();
    test_refill_exact();
    test_wait_suffices();
    test_wait_per_bucket();
    test_oversize();
    test_hold();
    test_hold_by_headers();
    test_settle();
    test_settle_input();
    test_input_counted();
    test_observe_limits();
    test_observe_remaining_reset();
    test_observe_tokens_headers();
    test_observe_parsed_headers();
    test_many_keys();
    CHECK_DONE();
}
