/* Response-header parsing for the Messages API: request id, retry hints and rate-limit state.
 * Fed one raw header line at a time, exactly as curl's CURLOPT_HEADERFUNCTION delivers it. */
#ifndef NYX_CLAUDE_HEADERS_H
#define NYX_CLAUDE_HEADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct claude_headers {
    char request_id[80];
    double retry_after_s; /* -1 if absent; retry-after-ms (wins) or retry-after (s or HTTP date) */
    int should_retry;     /* x-should-retry: -1 absent, 0 "false", 1 "true" */
    /* anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining};
     * -1 if absent, else from 0 to 2^53 (a larger value is ignored as unreadable) */
    int64_t rl_requests_limit, rl_requests_remaining, rl_tokens_limit, rl_tokens_remaining,
        rl_input_limit, rl_input_remaining, rl_output_limit, rl_output_remaining;
    /* -reset RFC 3339 timestamps as epoch seconds, -1 if absent */
    double rl_requests_reset, rl_input_reset, rl_output_reset, rl_tokens_reset;
    char content_type[64];
    char content_encoding[32]; /* "gzip", ...: "" when the body came as it is */
    int chunked;               /* Transfer-Encoding names chunked: the body's end is marked */
    int retry_after_from_ms; /* internal: retry-after-ms seen, so retry-after must not override */
} claude_headers;

/* Sets every field to "absent". */
void claude_headers_init(claude_headers *h);

/* Takes one header line ("Name: value\r\n", not NUL-terminated). Unknown or malformed headers
 * are ignored. A status line ("HTTP/1.1 200 OK") starts a new response and resets the fields,
 * because curl passes interim (100 Continue) and proxy CONNECT responses through the same
 * callback. */
void claude_headers_feed(claude_headers *h, /* parsed state, updated in place */
                         const char *line,  /* one raw header line */
                         size_t len,        /* its length in bytes */
                         double now_wall_s  /* wall clock, epoch s: for an HTTP-date retry-after;
                                               NAN: read it then (a response's other lines never
                                               need it, and it is read for none of them) */
);

/* Parses an RFC 3339 timestamp (2025-08-21T12:40:59Z, fractions, +hh:mm offsets) into epoch
 * seconds; returns 0, or -1 if s[0..len) is not one. */
int claude_parse_rfc3339(const char *s, size_t len, double *out);

/* Parses an HTTP date (IMF-fixdate, RFC 850 or asctime form, always GMT) into epoch seconds;
 * returns 0, or -1. Month and day names are matched in ASCII, independent of the locale. */
int claude_parse_http_date(const char *s, size_t len, double *out);

#endif
