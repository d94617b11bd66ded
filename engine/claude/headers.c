/* Numbers and dates are parsed by hand rather than with strtod/strptime: both follow the
 * process locale, and a host that calls setlocale() must not change how we read the API. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* timegm */
#endif
#include "headers.h"

#include "base/clock.h"

#include <math.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

/* ---- small lexing helpers over [p, end) ---- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }
static int is_space(char c) { return c == ' ' || c == '\t'; }

static int take_char(cursor *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 0;
    }
    return -1;
}

/* Reads between min and max digits as an int. */
static int take_digits(cursor *c, int min, int max, int *v)
{
    int n = 0, x = 0;
    while (c->p < c->end && n < max && is_digit(*c->p)) {
        x = x * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n < min)
        return -1;
    *v = x;
    return 0;
}

static void skip_spaces(cursor *c)
{
    while (c->p < c->end && is_space(*c->p))
        c->p++;
}

/* The digits after a decimal point, each added to *acc at its place; how many there were. */
static int take_fraction(cursor *c, double *acc)
{
    double scale = 0.1;
    int n = 0;
    for (; c->p < c->end && is_digit(*c->p); n++, scale /= 10.0)
        *acc += (*c->p++ - '0') * scale;
    return n;
}

static int eq_nocase(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    if (alen != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lit[i])
            return 0;
    return 1;
}

/* An unsigned decimal between optional spaces, no sign, no exponent: an integer to *whole, or
 * with value given one with an optional fraction ("12", "1.5", ".5") up to 1e15. */
static int parse_number(const char *s, size_t len, int64_t *whole, double *value)
{
    cursor c = {s, s + len};
    int64_t v = 0;
    int digits = 0;
    skip_spaces(&c);
    for (; c.p < c.end && is_digit(*c.p); digits++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*c.p++ - '0');
    }
    double d = (double)v;
    if (value && take_char(&c, '.') == 0)
        digits += take_fraction(&c, &d);
    skip_spaces(&c);
    if (!digits || c.p != c.end || (value && d > 1e15))
        return -1;
    if (whole)
        *whole = v;
    if (value)
        *value = d;
    return 0;
}

static int take_hms(cursor *c, struct tm *tm)
{
    return take_digits(c, 2, 2, &tm->tm_hour) || take_char(c, ':') ||
                   take_digits(c, 2, 2, &tm->tm_min) || take_char(c, ':') ||
                   take_digits(c, 2, 2, &tm->tm_sec)
               ? -1
               : 0;
}

/* The seconds since the epoch of tm, a UTC time; -1 when its fields name none. */
static int utc_seconds(struct tm *tm, double *out)
{
    if (!(tm->tm_mon >= 0 && tm->tm_mon <= 11 && tm->tm_mday >= 1 && tm->tm_mday <= 31 &&
          tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60))
        return -1;
    time_t t = timegm(tm);
    if (t == (time_t)-1)
        return -1;
    *out = (double)t;
    return 0;
}

/* ---- dates ---- */

int claude_parse_rfc3339(const char *s, size_t len, double *out)
{
    cursor c = {s, s + len};
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo;
    skip_spaces(&c);
    if (take_digits(&c, 4, 4, &y) || take_char(&c, '-') || take_digits(&c, 2, 2, &mo) ||
        take_char(&c, '-') || take_digits(&c, 2, 2, &tm.tm_mday))
        return -1;
    if (c.p >= c.end || (*c.p != 'T' && *c.p != 't' && *c.p != ' '))
        return -1;
    c.p++;
    if (take_hms(&c, &tm))
        return -1;
    double frac = 0.0;
    if (take_char(&c, '.') == 0 && take_fraction(&c, &frac) == 0)
        return -1;
    int offset_s = 0;
    if (c.p < c.end && (*c.p == 'Z' || *c.p == 'z')) {
        c.p++;
    } else if (c.p < c.end && (*c.p == '+' || *c.p == '-')) {
        int sign = *c.p++ == '-' ? -1 : 1, oh, om;
        if (take_digits(&c, 2, 2, &oh) || take_char(&c, ':') || take_digits(&c, 2, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    skip_spaces(&c);
    if (c.p != c.end)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    double t;
    if (utc_seconds(&tm, &t) != 0)
        return -1;
    *out = t - offset_s + frac;
    return 0;
}

static int take_month(cursor *c, int *mon)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    if (c->end - c->p < 3)
        return -1;
    for (int i = 0; i < 12; i++) {
        if (lower(c->p[0]) == names[3 * i] && lower(c->p[1]) == names[3 * i + 1] &&
            lower(c->p[2]) == names[3 * i + 2]) {
            c->p += 3;
            *mon = i;
            return 0;
        }
    }
    return -1;
}

int claude_parse_http_date(const char *s, size_t len, double *out)
{
    cursor c = {s, s + len};
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int year;
    skip_spaces(&c);
    while (c.p < c.end && is_alpha(*c.p)) /* weekday: carries no information */
        c.p++;
    if (take_char(&c, ',') == 0) {
        /* "Sun, 06 Nov 1994 08:49:37 GMT" or "Sunday, 06-Nov-94 08:49:37 GMT" */
        skip_spaces(&c);
        if (take_digits(&c, 1, 2, &tm.tm_mday) || c.p >= c.end)
            return -1;
        char sep = *c.p;
        if (sep != ' ' && sep != '-')
            return -1;
        c.p++;
        if (take_month(&c, &tm.tm_mon) || take_char(&c, sep) || take_digits(&c, 2, 4, &year))
            return -1;
        if (year < 100) /* RFC 850 two-digit year */
            year += year < 70 ? 2000 : 1900;
        skip_spaces(&c);
        if (take_hms(&c, &tm))
            return -1;
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        skip_spaces(&c);
        if (take_month(&c, &tm.tm_mon))
            return -1;
        skip_spaces(&c);
        if (take_digits(&c, 1, 2, &tm.tm_mday))
            return -1;
        skip_spaces(&c);
        if (take_hms(&c, &tm))
            return -1;
        skip_spaces(&c);
        if (take_digits(&c, 4, 4, &year))
            return -1;
    }
    skip_spaces(&c);
    if (c.end - c.p >= 3 && (eq_nocase(c.p, 3, "gmt") || eq_nocase(c.p, 3, "utc")))
        c.p += 3;
    skip_spaces(&c);
    if (c.p != c.end)
        return -1;
    tm.tm_year = year - 1900;
    return utc_seconds(&tm, out);
}

/* ---- header table ---- */

/* A rate-limit count above 2^53 cannot come from a real server, and one near INT64_MAX
 * overflowed what the engine adds to it (the output a call did not use, call.c). */
#define MAX_COUNT ((int64_t)1 << 53)

enum { H_I64, H_RESET };

/* Names after the "anthropic-ratelimit-" prefix. */
static const struct {
    const char *name;
    size_t off;
    int kind;
} ratelimit_fields[] = {
    {"requests-limit", offsetof(claude_headers, rl_requests_limit), H_I64},
    {"requests-remaining", offsetof(claude_headers, rl_requests_remaining), H_I64},
    {"requests-reset", offsetof(claude_headers, rl_requests_reset), H_RESET},
    {"tokens-limit", offsetof(claude_headers, rl_tokens_limit), H_I64},
    {"tokens-remaining", offsetof(claude_headers, rl_tokens_remaining), H_I64},
    {"tokens-reset", offsetof(claude_headers, rl_tokens_reset), H_RESET},
    {"input-tokens-limit", offsetof(claude_headers, rl_input_limit), H_I64},
    {"input-tokens-remaining", offsetof(claude_headers, rl_input_remaining), H_I64},
    {"input-tokens-reset", offsetof(claude_headers, rl_input_reset), H_RESET},
    {"output-tokens-limit", offsetof(claude_headers, rl_output_limit), H_I64},
    {"output-tokens-remaining", offsetof(claude_headers, rl_output_remaining), H_I64},
    {"output-tokens-reset", offsetof(claude_headers, rl_output_reset), H_RESET},
};

void claude_headers_init(claude_headers *h)
{
    memset(h, 0, sizeof *h);
    h->retry_after_s = -1.0;
    h->should_retry = -1;
    h->rl_requests_limit = h->rl_requests_remaining = -1;
    h->rl_tokens_limit = h->rl_tokens_remaining = -1;
    h->rl_input_limit = h->rl_input_remaining = -1;
    h->rl_output_limit = h->rl_output_remaining = -1;
    h->rl_requests_reset = h->rl_input_reset = h->rl_output_reset = h->rl_tokens_reset = -1.0;
}

/* Copies a value into a fixed field, replacing control bytes so the field stays printable. */
static void copy_field(char *dst, size_t cap, const char *v, size_t vlen)
{
    if (vlen >= cap)
        vlen = cap - 1;
    for (size_t i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)v[i];
        dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    dst[vlen] = '\0';
}

void claude_headers_feed(claude_headers *h, const char *line, size_t len, double now_wall_s)
{
    if (!h || !line)
        return;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || is_space(line[len - 1])))
        len--;
    if (len == 0 || is_space(line[0])) /* blank line, or an obsolete folded continuation */
        return;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        claude_headers_init(h);
        return;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    size_t nlen = (size_t)(colon - line);
    while (nlen > 0 && is_space(line[nlen - 1]))
        nlen--;
    const char *v = colon + 1;
    size_t vlen = len - (size_t)(v - line);
    while (vlen > 0 && is_space(*v)) {
        v++;
        vlen--;
    }

    double d;
    if (eq_nocase(line, nlen, "request-id")) {
        copy_field(h->request_id, sizeof h->request_id, v, vlen);
    } else if (eq_nocase(line, nlen, "content-type")) {
        copy_field(h->content_type, sizeof h->content_type, v, vlen);
    } else if (eq_nocase(line, nlen, "transfer-encoding")) {
        for (size_t i = 0; i + 7 <= vlen && !h->chunked; i++)
            h->chunked = eq_nocase(v + i, 7, "chunked");
    } else if (eq_nocase(line, nlen, "content-encoding")) {
        if (!eq_nocase(v, vlen, "identity"))
            copy_field(h->content_encoding, sizeof h->content_encoding, v, vlen);
    } else if (eq_nocase(line, nlen, "retry-after-ms")) {
        if (parse_number(v, vlen, NULL, &d) == 0) {
            h->retry_after_s = d / 1000.0;
            h->retry_after_from_ms = 1;
        }
    } else if (eq_nocase(line, nlen, "retry-after")) {
        if (h->retry_after_from_ms)
            return;
        if (parse_number(v, vlen, NULL, &d) == 0)
            h->retry_after_s = d;
        else if (claude_parse_http_date(v, vlen, &d) == 0) {
            if (isnan(now_wall_s))
                now_wall_s = clock_wall_s();
            h->retry_after_s = d > now_wall_s ? d - now_wall_s : 0.0;
        }
    } else if (eq_nocase(line, nlen, "x-should-retry")) {
        if (eq_nocase(v, vlen, "true"))
            h->should_retry = 1;
        else if (eq_nocase(v, vlen, "false"))
            h->should_retry = 0;
    } else if (nlen > 20 && eq_nocase(line, 20, "anthropic-ratelimit-")) {
        for (size_t i = 0; i < sizeof ratelimit_fields / sizeof ratelimit_fields[0]; i++) {
            if (!eq_nocase(line + 20, nlen - 20, ratelimit_fields[i].name))
                continue;
            char *field = (char *)h + ratelimit_fields[i].off;
            int64_t n;
            if (ratelimit_fields[i].kind == H_I64 && parse_number(v, vlen, &n, NULL) == 0 && n <= MAX_COUNT)
                memcpy(field, &n, sizeof n);
            else if (ratelimit_fields[i].kind == H_RESET && claude_parse_rfc3339(v, vlen, &d) == 0)
                memcpy(field, &d, sizeof d);
            return;
        }
    }
}
