/* engine/resilience/retry: which errors get another attempt and how many, and the backoff:
 * full jitter under base * factor^n, capped, or exactly the server's retry-after. */
#include <stdint.h>

#include "check.h"
#include "resilience/retry.h"

static error_info error_of(int retryable, double retry_after_s)
{
    error_info e = cleared_error();
    e.retryable = retryable;
    e.retry_after_s = retry_after_s;
    return e;
}

static void test_allowed(void)
{
    retry_policy p = {3, 0.5, 2, 8};
    error_info transient = error_of(1, -1), final = error_of(0, -1);
    for (int done = 0; done < 3; done++)
        CHECK_INT(retry_allowed(&p, &transient, done), 1);
    CHECK_INT(retry_allowed(&p, &transient, 3), 0); /* attempts = 1 + max_retries */
    CHECK_INT(retry_allowed(&p, &final, 0), 0);
    retry_policy none = {0, 0.5, 2, 8};
    CHECK_INT(retry_allowed(&none, &transient, 0), 0);
}

/* Each delay lies in [0, min(base * factor^n, max)); over many draws they spread across it. */
static void test_full_jitter(void)
{
    retry_policy p = {10, 0.5, 2, 3};
    error_info e = error_of(1, -1);
    uint64_t rng = 42;
    const double ceiling[] = {0.5, 1, 2, 3, 3, 3};
    for (int n = 0; n < 6; n++) {
        double lo = 1e9, hi = -1, sum = 0;
        for (int i = 0; i < 2000; i++) {
            double d = retry_delay_s(&p, &e, n, &rng);
            CHECK(d >= 0 && d < ceiling[n]);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            sum += d;
        }
        CHECK(lo < 0.05 * ceiling[n]);  /* full jitter: from near 0 ... */
        CHECK(hi > 0.95 * ceiling[n]);  /* ... to near the ceiling ... */
        CHECK_NEAR(sum / 2000, ceiling[n] / 2, 0.05 * ceiling[n]); /* ... evenly */
    }
}

/* The same seed gives the same delays; another seed, others. */
static void test_reproducible(void)
{
    retry_policy p = {3, 0.5, 2, 8};
    error_info e = error_of(1, -1);
    uint64_t a = 7, b = 7, c = 8;
    int differ = 0;
    for (int i = 0; i < 10; i++) {
        double da = retry_delay_s(&p, &e, 1, &a), db = retry_delay_s(&p, &e, 1, &b);
        CHECK_NEAR(da, db, 0);
        differ += da != retry_delay_s(&p, &e, 1, &c);
    }
    CHECK(differ > 0);
    uint64_t zero = 0; /* a zero state still draws */
    CHECK(retry_delay_s(&p, &e, 0, &zero) >= 0 && zero != 0);
}

/* A retry-after is waited out exactly, whatever the backoff would say, even past its cap. */
static void test_retry_after(void)
{
    retry_policy p = {3, 0.5, 2, 8};
    uint64_t rng = 1;
    error_info e = error_of(1, 1.5);
    CHECK_NEAR(retry_delay_s(&p, &e, 0, &rng), 1.5, 0);
    CHECK_NEAR(retry_delay_s(&p, &e, 2, &rng), 1.5, 0);
    e.retry_after_s = 20;
    CHECK_NEAR(retry_delay_s(&p, &e, 0, &rng), 20, 0);
    e.retry_after_s = 0; /* "retry now" */
    CHECK_NEAR(retry_delay_s(&p, &e, 1, &rng), 0, 0);
}

int main(void)
{
    test_allowed();
    test_full_jitter();
    test_reproducible();
    test_retry_after();
    CHECK_DONE();
}
