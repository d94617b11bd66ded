/* engine/resilience/breaker: opening on a run of failures and on a failure share over the
 * sliding window, the cool-down, the single half-open probe, and the change callback. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "resilience/breaker.h"

#define EPS 1e-9

/* The change callback writes every transition here. */
typedef struct change_log {
    int n;
    char keys[16][32];
    breaker_state from[16], to[16];
} change_log;

static void on_change(void *ud, const char *key, breaker_state from, breaker_state to)
{
    change_log *log = ud;
    if (log->n < 16) {
        snprintf(log->keys[log->n], sizeof log->keys[0], "%s", key);
        log->from[log->n] = from;
        log->to[log->n] = to;
    }
    log->n++;
}

static breakers *make(int failures_to_open, int min_calls, double failure_rate)
{
    breaker_config c;
    breaker_config_default(&c);
    c.failures_to_open = failures_to_open;
    c.min_calls = min_calls;
    c.failure_rate = failure_rate;
    breakers *b = breakers_new(&c);
    CHECK(b != NULL);
    return b;
}

/* n outcomes of key (failed 1 or 0) at time t. */
static void record_n(breakers *b, const char *key, int n, int failed, double t)
{
    for (int i = 0; i < n; i++)
        breaker_record(b, key, failed, t);
}

static void test_config_and_names(void)
{
    breaker_config c;
    breaker_config_default(&c);
    CHECK_INT(c.failures_to_open, 5);
    CHECK_NEAR(c.window_s, 60, 0);
    CHECK_NEAR(c.failure_rate, 0.5, 0);
    CHECK_INT(c.min_calls, 10);
    CHECK_NEAR(c.cooldown_s, 30, 0);
    CHECK_STR(breaker_state_name(BREAKER_CLOSED), "closed");
    CHECK_STR(breaker_state_name(BREAKER_OPEN), "open");
    CHECK_STR(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
    CHECK_STR(breaker_state_name((breaker_state)42), "unknown");

    breaker_config bad = c;
    bad.window_s = 0;
    CHECK(breakers_new(&bad) == NULL);
    bad = c;
    bad.cooldown_s = -1;
    CHECK(breakers_new(&bad) == NULL);
    bad = c;
    bad.failure_rate = NAN;
    CHECK(breakers_new(&bad) == NULL);
    bad = c;
    bad.failure_rate = -0.1;
    CHECK(breakers_new(&bad) == NULL);

    breakers *b = breakers_new(NULL); /* defaults */
    CHECK(b != NULL);
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);
    CHECK_INT(breaker_allow(b, "m", 0), 1);
    CHECK_NEAR(breaker_retry_in(b, "m", 0), 0, 0);
    breakers_free(b);
    breakers_free(NULL);
    /* a NULL set is "breakers disabled" */
    CHECK_INT(breaker_allow(NULL, "m", 0), 1);
    CHECK_INT(breaker_get(NULL, "m"), BREAKER_CLOSED);
    breaker_record(NULL, "m", 1, 0);
    breaker_release(NULL, "m");
}

static void test_consecutive(void)
{
    breakers *b = make(5, 1000, 0.5); /* rate rule out of reach */
    change_log log = {0};
    breakers_on_change(b, on_change, &log);
    for (int i = 0; i < 4; i++)
        breaker_record(b, "m", 1, i);
    breaker_record(b, "m", 0, 4); /* a success breaks the run */
    for (int i = 0; i < 4; i++)
        breaker_record(b, "m", 1, 5 + i);
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);
    CHECK_INT(breaker_allow(b, "m", 9), 1);
    CHECK_INT(log.n, 0);
    breaker_record(b, "m", 1, 10); /* the fifth in a row */
    CHECK_INT(breaker_get(b, "m"), BREAKER_OPEN);
    CHECK_INT(log.n, 1);
    CHECK_STR(log.keys[0], "m");
    CHECK_INT(log.from[0], BREAKER_CLOSED);
    CHECK_INT(log.to[0], BREAKER_OPEN);
    /* other keys are unaffected */
    CHECK_INT(breaker_allow(b, "other", 10), 1);
    CHECK_INT(breaker_get(b, "other"), BREAKER_CLOSED);
    breakers_free(b);
}

/* Runs of outcomes of "m" fed to a new set (failure rate 0.5), then the state it is in: each
 * run is n outcomes, failed or not, at time t. */
typedef struct run {
    int n, failed;
    double t;
} run;
#define OK_FAIL {1, 0, 1}, {1, 1, 1} /* a success, then a failure, at t=1 */

static const struct {
    const char *name;
    int failures_to_open, min_calls;
    run runs[12];
    breaker_state want;
} fed[] = {
    {"failures_to_open <= 0 turns the run rule off", 0, 1000, {{100, 1, 0}}, BREAKER_CLOSED},
    /* the run rule out of reach from here on */
    {"9 calls, 8 failures: a high share, but below min_calls", 100, 10, {{8, 1, 1}, {1, 0, 1}},
     BREAKER_CLOSED},
    {"the 10th: 9/10 > 0.5", 100, 10, {{8, 1, 1}, {1, 0, 1}, {1, 1, 2}}, BREAKER_OPEN},
    {"5 of 10: exactly at the rate does not open", 100, 10, {OK_FAIL, OK_FAIL, OK_FAIL, OK_FAIL, OK_FAIL},
     BREAKER_CLOSED},
    {"6 of 11: over it does", 100, 10, {OK_FAIL, OK_FAIL, OK_FAIL, OK_FAIL, OK_FAIL, {1, 1, 1}},
     BREAKER_OPEN},
    {"successes never open it, however many", 100, 10, {{1000, 0, 1}}, BREAKER_CLOSED},
    /* the window: 60 s in 10 buckets of 6 s */
    {"t=54 is the 10th bucket: the failures at 0.5 still count, 10 of 10", 100, 10, {{9, 1, 0.5}, {1, 1, 54}},
     BREAKER_OPEN},
    {"t=60 starts the 11th bucket: the first has slid out, 1 call in the window", 100, 10,
     {{9, 1, 0.5}, {1, 1, 60}}, BREAKER_CLOSED},
    {"9 in the window", 100, 10, {{9, 1, 0.5}, {1, 1, 60}, {8, 1, 61}}, BREAKER_CLOSED},
    {"10 in the window", 100, 10, {{9, 1, 0.5}, {1, 1, 60}, {8, 1, 61}, {1, 1, 65}}, BREAKER_OPEN},
    /* failures at 6.5 s (2nd bucket), one at 72 s (13th; the window holds the 4th to the 13th) */
    {"a bucket that slid out counts nothing even before it is reused", 100, 10, {{9, 1, 6.5}, {1, 1, 72}},
     BREAKER_CLOSED},
    /* the success at 3600 s is in the same slot as 3 s (600 buckets later): 4 failures of 5 calls */
    {"a long gap forgets everything, and a reused bucket starts from zero", 100, 10,
     {{9, 1, 3}, {1, 0, 3600}, {4, 1, 3601}}, BREAKER_CLOSED},
};

static void test_runs(void)
{
    for (size_t i = 0; i < sizeof fed / sizeof fed[0]; i++) {
        CHECK_ROW("%s", fed[i].name);
        breakers *b = make(fed[i].failures_to_open, fed[i].min_calls, 0.5);
        for (size_t k = 0; k < sizeof fed[i].runs / sizeof fed[i].runs[0] && fed[i].runs[k].n > 0; k++)
            record_n(b, "m", fed[i].runs[k].n, fed[i].runs[k].failed, fed[i].runs[k].t);
        CHECK_INT(breaker_get(b, "m"), fed[i].want);
        breakers_free(b);
    }
    CHECK_ROW_END();
}

static void test_open_half_open(void)
{
    breakers *b = make(3, 10, 0.5); /* cool-down 30 s */
    change_log log = {0};
    breakers_on_change(b, on_change, &log);
    record_n(b, "m", 3, 1, 100.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_OPEN);

    /* open: refused until the cool-down has passed */
    CHECK_INT(breaker_allow(b, "m", 100.0), 0);
    CHECK_NEAR(breaker_retry_in(b, "m", 100.0), 30.0, EPS);
    CHECK_INT(breaker_allow(b, "m", 129.5), 0);
    CHECK_NEAR(breaker_retry_in(b, "m", 129.5), 0.5, EPS);
    /* late outcomes of calls sent before it opened change nothing, nor prolong it */
    breaker_record(b, "m", 1, 110.0);
    breaker_record(b, "m", 0, 111.0);
    record_n(b, "m", 5, 1, 115.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_OPEN);
    CHECK_NEAR(breaker_retry_in(b, "m", 120.0), 10.0, EPS);

    /* cool-down over: exactly one probe */
    CHECK_INT(breaker_allow(b, "m", 130.0), 1);
    CHECK_INT(breaker_get(b, "m"), BREAKER_HALF_OPEN);
    CHECK_NEAR(breaker_retry_in(b, "m", 130.0), 0, 0);
    for (int i = 0; i < 20; i++)
        CHECK_INT(breaker_allow(b, "m", 130.0 + i), 0);

    /* the probe fails: open again, with a new cool-down from now */
    breaker_record(b, "m", 1, 140.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_OPEN);
    CHECK_NEAR(breaker_retry_in(b, "m", 140.0), 30.0, EPS);
    CHECK_INT(breaker_allow(b, "m", 169.0), 0);

    /* second probe: lost (cancelled) and released, so another may go; that one succeeds */
    CHECK_INT(breaker_allow(b, "m", 170.0), 1);
    CHECK_INT(breaker_allow(b, "m", 171.0), 0);
    breaker_release(b, "m");
    CHECK_INT(breaker_get(b, "m"), BREAKER_HALF_OPEN);
    CHECK_INT(breaker_allow(b, "m", 172.0), 1);
    CHECK_INT(breaker_allow(b, "m", 172.0), 0);
    breaker_record(b, "m", 0, 175.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);
    CHECK_INT(breaker_allow(b, "m", 175.0), 1);
    CHECK_INT(breaker_allow(b, "m", 175.0), 1);
    breaker_release(b, "m"); /* closed: nothing */
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);

    /* closing starts afresh: it takes a whole new run to open again */
    breaker_record(b, "m", 1, 176.0);
    breaker_record(b, "m", 1, 176.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);
    breaker_record(b, "m", 1, 176.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_OPEN);

    /* the whole sequence of changes, in order */
    const breaker_state want[][2] = {
        {BREAKER_CLOSED, BREAKER_OPEN},    {BREAKER_OPEN, BREAKER_HALF_OPEN},
        {BREAKER_HALF_OPEN, BREAKER_OPEN}, {BREAKER_OPEN, BREAKER_HALF_OPEN},
        {BREAKER_HALF_OPEN, BREAKER_CLOSED}, {BREAKER_CLOSED, BREAKER_OPEN},
    };
    int nwant = (int)(sizeof want / sizeof want[0]);
    CHECK_INT(log.n, nwant);
    for (int i = 0; i < nwant && i < log.n; i++) {
        CHECK_STR(log.keys[i], "m");
        CHECK_INT(log.from[i], want[i][0]);
        CHECK_INT(log.to[i], want[i][1]);
    }
    /* removing the callback */
    breakers_on_change(b, NULL, NULL);
    CHECK_INT(breaker_allow(b, "m", 1000.0), 1);
    CHECK_INT(log.n, nwant);
    breakers_free(b);
}

/* Closing forgets the failures that opened it: the rate rule cannot trip on old counts. */
static void test_close_resets_window(void)
{
    breakers *b = make(100, 4, 0.5);
    record_n(b, "m", 4, 1, 0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_OPEN);
    CHECK_INT(breaker_allow(b, "m", 30.0), 1);
    breaker_record(b, "m", 0, 31.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);
    /* 2 of 3 fail, under min_calls (4): with the old counts this would be 6 of 7 */
    breaker_record(b, "m", 1, 32.0);
    breaker_record(b, "m", 0, 32.0);
    breaker_record(b, "m", 1, 32.0);
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);
    breakers_free(b);
}

/* The callback may call back into the set. */
static breakers *reentrant_set;
static int reentrant_calls;
static void on_change_reenter(void *ud, const char *key, breaker_state from, breaker_state to)
{
    (void)ud;
    (void)from;
    reentrant_calls++;
    CHECK_INT(breaker_get(reentrant_set, key), to);
    breaker_record(reentrant_set, "elsewhere", 0, 0); /* may create a key */
}

static void test_many_keys_and_reentry(void)
{
    breakers *b = make(2, 10, 0.5);
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "model-%d", i);
        breaker_record(b, key, 1, 0);
        if (i % 2)
            breaker_record(b, key, 1, 0);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "model-%d", i);
        CHECK_INT(breaker_get(b, key), i % 2 ? BREAKER_OPEN : BREAKER_CLOSED);
    }
    reentrant_set = b;
    breakers_on_change(b, on_change_reenter, NULL);
    breaker_record(b, "model-0", 1, 0);
    CHECK_INT(reentrant_calls, 1);
    CHECK_INT(breaker_get(b, "model-0"), BREAKER_OPEN);
    CHECK_INT(breaker_get(b, "elsewhere"), BREAKER_CLOSED);
    breakers_free(b);
}

/* Quick failures arriving before slow successes are judged in the order they were sent. */
static void test_send_order(void)
{
    breakers *b = breakers_new(NULL);
    uint64_t t[11];
    for (int i = 1; i <= 10; i++)
        t[i] = breaker_send(b, "m", 0.0);
    int fails[] = {3, 5, 7, 8, 9}, oks[] = {1, 2, 4, 6, 10};
    for (int i = 0; i < 5; i++) /* the failures come back first */
        breaker_outcome(b, "m", t[fails[i]], 1, 0.1);
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);
    for (int i = 0; i < 5; i++)
        breaker_outcome(b, "m", t[oks[i]], 0, 0.5);
    /* In send order: at most 3 failures in a row, 5 of 10 (not over half). */
    CHECK_INT(breaker_get(b, "m"), BREAKER_CLOSED);

    /* A real outage still opens it: five failures in send order. */
    for (int i = 1; i <= 5; i++)
        breaker_outcome(b, "m", breaker_send(b, "m", 1.0), 1, 1.1);
    CHECK_INT(breaker_get(b, "m"), BREAKER_OPEN);
    breakers_free(b);

    /* An outcome does not wait forever for a request that hangs. */
    b = breakers_new(NULL);
    uint64_t hung = breaker_send(b, "h", 0.0);
    (void)hung;
    for (int i = 0; i < 5; i++)
        breaker_outcome(b, "h", breaker_send(b, "h", 0.0), 1, 0.1);
    CHECK_INT(breaker_get(b, "h"), BREAKER_CLOSED); /* held behind the hung one */
    breaker_outcome(b, "h", breaker_send(b, "h", 10.0), 1, 10.0);
    CHECK_INT(breaker_get(b, "h"), BREAKER_OPEN); /* judged without it after the patience */
    breakers_free(b);

    /* A host that stalls before reading its answers still judges them in send order: the
     * quick failures are read 20 s after the burst was sent, the successes after them. */
    b = breakers_new(NULL);
    for (int i = 1; i <= 10; i++)
        t[i] = breaker_send(b, "s", 0.0);
    for (int i = 0; i < 5; i++)
        breaker_outcome(b, "s", t[fails[i]], 1, 20.0);
    for (int i = 0; i < 5; i++)
        breaker_outcome(b, "s", t[oks[i]], 0, 20.1);
    CHECK_INT(breaker_get(b, "s"), BREAKER_CLOSED);
    breakers_free(b);

    /* Nothing sent since a hung request: its followers wait a minute at most. */
    b = breakers_new(NULL);
    (void)breaker_send(b, "w", 0.0);
    for (int i = 0; i < 4; i++)
        breaker_outcome(b, "w", breaker_send(b, "w", 0.0), 1, 0.1);
    CHECK_INT(breaker_get(b, "w"), BREAKER_CLOSED);
    breaker_outcome(b, "w", breaker_send(b, "w", 0.0), 1, 59.0);
    CHECK_INT(breaker_get(b, "w"), BREAKER_CLOSED);
    breaker_outcome(b, "w", breaker_send(b, "w", 0.0), 1, 61.0);
    CHECK_INT(breaker_get(b, "w"), BREAKER_OPEN);
    breakers_free(b);
}

int main(void)
{
    test_config_and_names();
    test_consecutive();
    test_runs();
    test_open_half_open();
    test_close_resets_window();
    test_many_keys_and_reentry();
    test_send_order();
    CHECK_DONE();
}
