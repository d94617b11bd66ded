/* libFuzzer target: the response-header parser and its two date readers. The input is split on
 * newlines and each line fed, from its own exact-sized copy as curl hands it over, into one
 * claude_headers; the whole input is then read as an RFC 3339 timestamp and an HTTP date.
 * Invariant: whatever the lines, every field holds "absent" or a sane value: text fields end
 * inside their arrays and hold no control byte, retry-after is -1 or a finite wait >= 0, the
 * rate-limit counts are -1 or from 0 to 2^53, the resets -1 or finite, the flags one of their values; a
 * date that parses is finite. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claude/headers.h"

#define NOW 1755780059.0 /* a fixed wall clock for HTTP-date retry-afters: runs repeat */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

static void check_text(const char *s, size_t cap)
{
    const char *end = memchr(s, '\0', cap);
    if (!end)
        abort();
    for (; s < end; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
}

static void check(const claude_headers *h)
{
    check_text(h->request_id, sizeof h->request_id);
    check_text(h->content_type, sizeof h->content_type);
    check_text(h->content_encoding, sizeof h->content_encoding);
    if (!(h->retry_after_s == -1.0 || (isfinite(h->retry_after_s) && h->retry_after_s >= 0)))
        abort();
    if (h->should_retry < -1 || h->should_retry > 1 || (h->chunked != 0 && h->chunked != 1))
        abort();
    const int64_t counts[] = {h->rl_requests_limit, h->rl_requests_remaining, h->rl_tokens_limit,
                              h->rl_tokens_remaining, h->rl_input_limit,      h->rl_input_remaining,
                              h->rl_output_limit,     h->rl_output_remaining};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (counts[i] < -1 || counts[i] > ((int64_t)1 << 53))
            abort();
    const double resets[] = {h->rl_requests_reset, h->rl_input_reset, h->rl_output_reset,
                             h->rl_tokens_reset};
    for (size_t i = 0; i < sizeof resets / sizeof resets[0]; i++)
        if (!isfinite(resets[i]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    claude_headers h;
    claude_headers_init(&h);
    size_t at = 0;
    while (at < size) {
        const char *nl = memchr(s + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (s + at)) + 1 : size - at;
        char *line = malloc(n ? n : 1);
        if (!line)
            return 0;
        memcpy(line, s + at, n);
        claude_headers_feed(&h, line, n, NOW);
        free(line);
        check(&h);
        at += n;
    }

    double t = NAN;
    if (claude_parse_rfc3339(s, size, &t) == 0 && !isfinite(t))
        abort();
    t = NAN;
    if (claude_parse_http_date(s, size, &t) == 0 && !isfinite(t))
        abort();
    return 0;
}
