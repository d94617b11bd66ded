/* Response headers: request id, retry hints, rate-limit counters and resets. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "claude/headers.h"

#define NOV_6_1994 784111777.0 /* Sun, 06 Nov 1994 08:49:37 GMT */

/* Feeds from an exactly-sized heap copy: curl's lines are not NUL-terminated. */
static void feed(claude_headers *h, const char *line, double now)
{
    size_t n = strlen(line);
    char *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, line, n);
    claude_headers_feed(h, copy, n, now);
    free(copy);
}

/* Feeds each line in turn at time now, to the list's NULL. */
static void feed_lines(claude_headers *h, double now, const char *const *lines)
{
    for (; *lines; lines++)
        feed(h, *lines, now);
}
#define FEED(h, now, ...) feed_lines(h, now, (const char *const[]){__VA_ARGS__, NULL})

/* h as a response's headers leave it: initialised, then fed each line at time 0. */
#define HEADERS(h, ...) (claude_headers_init(h), FEED(h, 0, __VA_ARGS__))

static void test_init(void)
{
    claude_headers h;
    memset(&h, 0x7f, sizeof h);
    claude_headers_init(&h);
    CHECK_STR(h.request_id, "");
    CHECK_NEAR(h.retry_after_s, -1, 0);
    CHECK_INT(h.should_retry, -1);
    CHECK_INT(h.rl_requests_limit, -1);
    CHECK_INT(h.rl_output_remaining, -1);
    CHECK_NEAR(h.rl_tokens_reset, -1, 0);
    CHECK_STR(h.content_type, "");
}

static void test_basic_response(void)
{
    claude_headers h;
    HEADERS(&h, "HTTP/1.1 429 Too Many Requests\r\n", "Content-Type: application/json\r\n",
            "request-id: req_011CSHoEeqs5C35K2UUqR7Fy\r\n", "Retry-After: 30\r\n",
            "x-should-retry: true\r\n", "\r\n");
    CHECK_STR(h.content_type, "application/json");
    CHECK_STR(h.request_id, "req_011CSHoEeqs5C35K2UUqR7Fy");
    CHECK_NEAR(h.retry_after_s, 30, 0);
    CHECK_INT(h.should_retry, 1);
    feed(&h, "X-Should-Retry: FALSE", 0); /* no line ending, any case */
    CHECK_INT(h.should_retry, 0);
    feed(&h, "x-should-retry: maybe\r\n", 0);
    CHECK_INT(h.should_retry, 0);
    feed(&h, "retry-after:2.5\n", 0);
    CHECK_NEAR(h.retry_after_s, 2.5, 1e-12);
    FEED(&h, 0, "retry-after: soon\r\n" /* unreadable: ignored */, "retry-after: -3\r\n");
    CHECK_NEAR(h.retry_after_s, 2.5, 1e-12);
}

static void test_retry_after_ms_wins(void)
{
    claude_headers h;
    HEADERS(&h, "retry-after-ms: 1500\r\n", "retry-after: 30\r\n");
    CHECK_NEAR(h.retry_after_s, 1.5, 1e-12);
    HEADERS(&h, "retry-after: 30\r\n", "Retry-After-Ms: 250.5\r\n");
    CHECK_NEAR(h.retry_after_s, 0.2505, 1e-12);
}

static void test_retry_after_http_date(void)
{
    claude_headers h;
    claude_headers_init(&h);
    feed(&h, "Retry-After: Sun, 06 Nov 1994 08:50:07 GMT\r\n", NOV_6_1994);
    CHECK_NEAR(h.retry_after_s, 30, 1e-9);
    feed(&h, "Retry-After: Sunday, 06-Nov-94 08:49:47 GMT\r\n", NOV_6_1994);
    CHECK_NEAR(h.retry_after_s, 10, 1e-9);
    feed(&h, "Retry-After: Sun Nov  6 08:49:42 1994\r\n", NOV_6_1994);
    CHECK_NEAR(h.retry_after_s, 5, 1e-9);
    feed(&h, "Retry-After: Sun, 06 Nov 1994 08:00:00 GMT\r\n", NOV_6_1994); /* past */
    CHECK_NEAR(h.retry_after_s, 0, 0);
    feed(&h, "Retry-After: Sun, 06 Foo 1994 08:00:00 GMT\r\n", NOV_6_1994); /* bad month */
    CHECK_NEAR(h.retry_after_s, 0, 0);

    /* Without a time given (NAN), the date is measured against the wall clock, read then. */
    char line[80];
    time_t later = time(NULL) + 600;
    struct tm tm;
    CHECK(gmtime_r(&later, &tm) != NULL);
    CHECK(strftime(line, sizeof line, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm) > 0);
    feed(&h, line, NAN);
    CHECK(h.retry_after_s > 300 && h.retry_after_s <= 600);

    double t = 0;
    CHECK_INT(claude_parse_http_date("Thu, 21 Aug 2025 12:40:59 GMT", 29, &t), 0);
    CHECK_NEAR(t, 1755780059, 0);
    CHECK_INT(claude_parse_http_date("Thu, 21 Aug 2025 25:40:59 GMT", 29, &t), -1);
    CHECK_INT(claude_parse_http_date("Thu, 21 Aug 2025 12:40:59 GMT x", 31, &t), -1);
    CHECK_INT(claude_parse_http_date("", 0, &t), -1);
}

static void test_ratelimit(void)
{
    claude_headers h;
    HEADERS(&h, "anthropic-ratelimit-requests-limit: 4000\r\n",
            "anthropic-ratelimit-requests-remaining: 3999\r\n",
            "anthropic-ratelimit-requests-reset: 2025-08-21T12:40:59Z\r\n",
            "Anthropic-RateLimit-Tokens-Limit: 2400000\r\n",
            "anthropic-ratelimit-tokens-remaining: 2399000\r\n",
            "anthropic-ratelimit-tokens-reset: 2025-08-21T12:40:59.250Z\r\n",
            "anthropic-ratelimit-input-tokens-limit: 2000000\r\n",
            "anthropic-ratelimit-input-tokens-remaining: 1999500\r\n",
            "anthropic-ratelimit-input-tokens-reset: 2025-08-21T14:40:59+02:00\r\n",
            "anthropic-ratelimit-output-tokens-limit: 400000\r\n",
            "anthropic-ratelimit-output-tokens-remaining: 0\r\n",
            "anthropic-ratelimit-output-tokens-reset: 2025-08-21t07:10:59.5-05:30\r\n");
    CHECK_INT(h.rl_requests_limit, 4000);
    CHECK_INT(h.rl_requests_remaining, 3999);
    CHECK_NEAR(h.rl_requests_reset, 1755780059, 1e-6);
    CHECK_INT(h.rl_tokens_limit, 2400000);
    CHECK_INT(h.rl_tokens_remaining, 2399000);
    CHECK_NEAR(h.rl_tokens_reset, 1755780059.25, 1e-6);
    CHECK_INT(h.rl_input_limit, 2000000);
    CHECK_INT(h.rl_input_remaining, 1999500);
    CHECK_NEAR(h.rl_input_reset, 1755780059, 1e-6);
    CHECK_INT(h.rl_output_limit, 400000);
    CHECK_INT(h.rl_output_remaining, 0);
    CHECK_NEAR(h.rl_output_reset, 1755780059.5, 1e-6);

    /* unreadable values leave the field alone */
    FEED(&h, 0, "anthropic-ratelimit-requests-limit: lots\r\n",
         "anthropic-ratelimit-requests-remaining: 99999999999999999999999\r\n",
         "anthropic-ratelimit-requests-reset: tomorrow\r\n", "anthropic-ratelimit-unknown-limit: 5\r\n");
    CHECK_INT(h.rl_requests_limit, 4000);
    CHECK_INT(h.rl_requests_remaining, 3999);
    CHECK_NEAR(h.rl_requests_reset, 1755780059, 1e-6);

    /* A count past 2^53 is no server's: one near INT64_MAX overflowed the engine's sum. */
    FEED(&h, 0, "anthropic-ratelimit-output-tokens-remaining: 9223372036854775000\r\n",
         "anthropic-ratelimit-output-tokens-limit: 9007199254740993\r\n",
         "anthropic-ratelimit-input-tokens-limit: 9007199254740992\r\n");
    CHECK_INT(h.rl_output_remaining, 0);
    CHECK_INT(h.rl_output_limit, 400000);
    CHECK_INT(h.rl_input_limit, 9007199254740992);

    double t;
    CHECK_INT(claude_parse_rfc3339("2025-08-21", 10, &t), -1);
    CHECK_INT(claude_parse_rfc3339("2025-08-21T12:40:59", 19, &t), -1);
    CHECK_INT(claude_parse_rfc3339("2025-13-21T12:40:59Z", 20, &t), -1);
    CHECK_INT(claude_parse_rfc3339("2025-08-21T12:40:59.Z", 21, &t), -1);
    CHECK_INT(claude_parse_rfc3339("2025-08-21 12:40:59Z", 20, &t), 0);
    CHECK_NEAR(t, 1755780059, 0);
}

static void test_status_line_resets(void)
{
    claude_headers h;
    HEADERS(&h, "HTTP/1.1 100 Continue\r\n", "retry-after: 9\r\n", "\r\n", "HTTP/2 200\r\n",
            "request-id: req_2\r\n");
    CHECK_NEAR(h.retry_after_s, -1, 0);
    CHECK_STR(h.request_id, "req_2");
}

static void test_odd_lines(void)
{
    claude_headers h;
    HEADERS(&h, "no colon here\r\n", " folded: continuation\r\n", ": empty name\r\n", "request-id:\r\n");
    CHECK_STR(h.request_id, "");
    feed(&h, "request-id: req\x01x\r\n", 0);
    CHECK_STR(h.request_id, "req?x");
    feed(&h, "content-type: application/json; charset=utf-8; "
             "boundary=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
         0);
    CHECK_INT(strlen(h.content_type), sizeof h.content_type - 1);
    claude_headers_feed(&h, NULL, 5, 0);
    claude_headers_feed(&h, "", 0, 0);
}

/* What the body came compressed with (libcurl decodes it, and does not check that it was whole),
 * and whether its end is marked. */
static void test_content_encoding(void)
{
    claude_headers h;
    claude_headers_init(&h);
    CHECK_STR(h.content_encoding, "");
    feed(&h, "Content-Encoding: gzip\r\n", 0);
    CHECK_STR(h.content_encoding, "gzip");
    feed(&h, "HTTP/1.1 200 OK\r\n", 0);
    CHECK_STR(h.content_encoding, "");
    feed(&h, "content-encoding: identity\r\n", 0); /* as it is: nothing to decode */
    CHECK_STR(h.content_encoding, "");
    CHECK_INT(h.chunked, 0);
    feed(&h, "Transfer-Encoding: gzip, Chunked\r\n", 0);
    CHECK_INT(h.chunked, 1);
    feed(&h, "HTTP/1.1 200 OK\r\n", 0);
    CHECK_INT(h.chunked, 0);
}

int main(void)
{
    test_init();
    test_content_encoding();
    test_basic_response();
    test_retry_after_ms_wins();
    test_retry_after_http_date();
    test_ratelimit();
    test_status_line_resets();
    test_odd_lines();
    CHECK_DONE();
}
