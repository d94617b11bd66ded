/* The scan loop, overlap resolution, redaction and masking. The matchers live in match_*.c. */
#include "guard/scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/match.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- names ---- */

static const char *const NAMES[GUARD_KIND_COUNT] = {
    "email", "phone", "card", "ssn", "ipv4", "ipv6", "iban", "api_key", "aws_key", "jwt",
    "private_key",
};

static const char *const LABELS[GUARD_KIND_COUNT] = {
    "[EMAIL]", "[PHONE]", "[CARD]", "[SSN]", "[IP]", "[IP]", "[IBAN]", "[SECRET]", "[SECRET]",
    "[SECRET]", "[SECRET]",
};

const char *guard_kind_name(guard_kind k)
{
    return (unsigned)k < GUARD_KIND_COUNT ? NAMES[k] : "unknown";
}

const char *guard_kind_label(guard_kind k)
{
    return (unsigned)k < GUARD_KIND_COUNT ? LABELS[k] : "[REDACTED]";
}

/* ---- the scan loop ---- */

/* Which bytes can start a finding, decided without branches so that a block of 64 bytes
 * becomes a bit mask and prose costs a few table look-ups per byte. A byte is a start when
 *   - it is '@', ':', '+', '(' or '-' (FIRST bit 15): e-mail, IPv6, phone, PEM anchors; or
 *   - it begins a word (the byte before is not a letter or digit: PREV_OK) and the pair it
 *     forms with the next byte begins some finding: FIRST[c] & SECOND[next] != 0. Bits:
 *     1 'k', 2 'e', 4 'h', 8 'o', 16 'y', 32 'w', 64 'i', 128 a capital, 256 any byte. So
 *     "sk", "se", "rk", "gh", "gi", "xo", "ey", "aw", "Aw", "Se", two capitals, or a digit.
 * English words rarely begin with those pairs, so most words are never looked at. */
static const unsigned short FIRST[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0x8000, 0, 0, 0x8000, 0, 0x8000, 0, 0,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x8000, 0,
    0, 0, 0, 0, 0x8000, 0xa0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x82,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 0, 0, 0, 0,
    0, 0x20, 0, 0, 0, 0x10, 0, 0x44, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0x1, 0x3, 0, 0, 0, 0,
    0x8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0,
};
static const unsigned short SECOND[256] = {
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180,
    0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180,
    0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x180, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x102, 0x100, 0x100, 0x104, 0x140, 0x100, 0x101,
    0x100, 0x100, 0x100, 0x108, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x120,
    0x100, 0x110, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
    0x100, 0x100, 0x100, 0x100,
};
static const unsigned char PREV_OK[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static inline uint64_t start_bit(unsigned prev, unsigned c, unsigned next)
{
    unsigned f = FIRST[c];
    return (uint64_t)(((f & SECOND[next] & 0x7fffu) != 0) & PREV_OK[prev]) | (f >> 15);
}

#if defined(__SSE2__)
/* 0xff in the bytes of x within [lo, hi]. */
static inline __m128i in_range(__m128i x, unsigned char lo, unsigned char hi)
{
    __m128i t = _mm_sub_epi8(x, _mm_set1_epi8((char)lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8((char)(hi - lo))), t);
}

/* A bit per byte of q[0..16) that may be a start (q[-1] must be readable): a superset of the
 * bytes start_bit() takes, found 16 at a time. The bytes FIRST knows are the digits, the
 * capitals, "aegrsx" (with a word start before them) and "(+-:@" (anywhere). A prose byte is
 * rarely one of them after a word start, so few bits come out to be checked one by one. */
static inline unsigned maybe_starts16(const unsigned char *q)
{
    __m128i c = _mm_loadu_si128((const __m128i *)q);
    __m128i prev = _mm_loadu_si128((const __m128i *)(q - 1));
    __m128i prev_alnum = _mm_or_si128(in_range(prev, '0', '9'),
                                      in_range(_mm_or_si128(prev, _mm_set1_epi8(0x20)), 'a', 'z'));
    __m128i lower = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('a')), _mm_cmpeq_epi8(c, _mm_set1_epi8('e'))),
                                 _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('g')), _mm_cmpeq_epi8(c, _mm_set1_epi8('r'))));
    lower = _mm_or_si128(lower, _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('s')), _mm_cmpeq_epi8(c, _mm_set1_epi8('x'))));
    /* '0'..'Z' holds the digits, ':', '@' and the capitals (and a few bytes more: checked) */
    __m128i word = _mm_andnot_si128(prev_alnum, _mm_or_si128(lower, in_range(c, '0', 'Z')));
    /* '('..'-' holds '(', '+' and '-' */
    __m128i anywhere = _mm_or_si128(in_range(c, '(', '-'),
                                    _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8(':')), _mm_cmpeq_epi8(c, _mm_set1_epi8('@'))));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(word, anywhere));
}
#endif

/* The start bits of p[i + k0 .. i + k1), all of which have both neighbours in the text. */
static uint64_t inner_starts(const unsigned char *p, size_t i, size_t k0, size_t k1)
{
    uint64_t m = 0;
    size_t k = k0;
#if defined(__SSE2__)
    for (; k + 16 <= k1; k += 16) {
        unsigned c = maybe_starts16(p + i + k);
        while (c) {
            size_t b = k + (size_t)__builtin_ctz(c), j = i + b;
            c &= c - 1;
            m |= start_bit(p[j - 1], p[j], p[j + 1]) << b;
        }
    }
#endif
    for (; k < k1; k++)
        m |= start_bit(p[i + k - 1], p[i + k], p[i + k + 1]) << k;
    return m;
}

/* A candidate is held back until the scan is past its end, so that a longer candidate that
 * overlaps it (an e-mail found at its '@' after a phone number in its local part) can
 * replace it. */
typedef struct scan_state {
    guard_fn fn;
    void *ud;
    size_t count;
    size_t emitted_end; /* end of the last finding passed to fn */
    guard_finding pend;
    int have_pend;
    int stop;
} scan_state;

static void emit(scan_state *st)
{
    st->have_pend = 0;
    st->count++;
    st->emitted_end = st->pend.end;
    if (st->fn && st->fn(st->ud, &st->pend))
        st->stop = 1;
}

static void offer(scan_state *st, const guard_finding *f)
{
    if (st->have_pend && f->start < st->pend.end) {
        if (f->end - f->start > st->pend.end - st->pend.start)
            st->pend = *f;
        return;
    }
    if (st->have_pend)
        emit(st);
    st->pend = *f;
    st->have_pend = 1;
}

/* Runs the matcher for the start byte at j. */
static int match_at(const unsigned char *p, size_t len, size_t j, size_t lo, guard_finding *f)
{
    switch (p[j]) {
    case '@':
        return gm_at(p, len, j, lo, f);
    case ':':
        return gm_colon(p, len, j, lo, f);
    case '+':
        return gm_plus(p, len, j, f);
    case '(':
        return gm_paren(p, len, j, f);
    case '-':
        return gm_dash(p, len, j, f);
    default:
        if (g_digit(p[j]))
            return gm_digit(p, len, j, f);
        /* credentials also refuse to start after '_' or '-' (inside a longer token) */
        return (j == 0 || !g_tok(p[j - 1])) && gm_letter(p, len, j, f);
    }
}

size_t guard_scan(const char *text, size_t len, guard_fn fn, void *ud)
{
    const unsigned char *p = (const unsigned char *)text;
    scan_state st = {.fn = fn, .ud = ud};
    if (!text)
        return 0;
    size_t i = 0, resume = 0; /* bytes before resume lie inside a finding */
    while (i < len && !st.stop) {
        size_t n = len - i < 64 ? len - i : 64;
        uint64_t m = 0;
        /* The text's first and last bytes lack a neighbour: taken apart, so that every other
         * byte (all of a short text but two) goes through the loop without a bounds test. */
        size_t k0 = 0, k1 = n;
        if (i == 0) {
            m = start_bit(' ', p[0], len > 1 ? p[1] : 0);
            k0 = 1;
        }
        if (i + n == len && n > k0) {
            k1 = n - 1;
            m |= start_bit(p[len - 2], p[len - 1], 0) << k1;
        }
        m |= inner_starts(p, i, k0, k1);
        while (m && !st.stop) {
            size_t j = i + (size_t)__builtin_ctzll(m);
            m &= m - 1;
            guard_finding f;
            if (j >= resume && match_at(p, len, j, st.emitted_end, &f)) {
                offer(&st, &f);
                if (f.end > resume)
                    resume = f.end;
            }
        }
        i += n;
        if (resume > i)
            i = resume;
    }
    if (st.have_pend && !st.stop)
        emit(&st);
    return st.count;
}

/* ---- redaction ---- */

typedef struct redact_buf {
    const char *text;
    char *out;
    size_t len, cap;
    size_t copied; /* text[0..copied) is dealt with */
    int oom;
} redact_buf;

static int put(redact_buf *b, const char *s, size_t n)
{
    if (n > b->cap - b->len) {
        size_t cap = b->cap;
        while (n > cap - b->len) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *out = realloc(b->out, cap);
        if (!out)
            return -1;
        b->out = out;
        b->cap = cap;
    }
    memcpy(b->out + b->len, s, n);
    b->len += n;
    return 0;
}

static int redact_one(void *ud, const guard_finding *f)
{
    redact_buf *b = ud;
    const char *label = guard_kind_label(f->kind);
    if (put(b, b->text + b->copied, f->start - b->copied) != 0 ||
        put(b, label, strlen(label)) != 0) {
        b->oom = 1;
        return 1;
    }
    b->copied = f->end;
    return 0;
}

/* "[EMAIL]" becomes "[EMAIL:1a2b3c4d]", the tag a hash of the finding's bytes. */
static int tag_one(void *ud, const guard_finding *f)
{
    redact_buf *b = ud;
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = f->start; i < f->end; i++)
        h = (h ^ (unsigned char)b->text[i]) * 1099511628211ull;
    const char *label = guard_kind_label(f->kind);
    char tag[16];
    snprintf(tag, sizeof tag, ":%08x]", (unsigned)(h ^ (h >> 32)));
    if (put(b, b->text + b->copied, f->start - b->copied) != 0 || put(b, label, strlen(label) - 1) != 0 ||
        put(b, tag, strlen(tag)) != 0) {
        b->oom = 1;
        return 1;
    }
    b->copied = f->end;
    return 0;
}

static char *redact_with(const char *text, size_t len, size_t *out_len, guard_fn each)
{
    if (!text)
        len = 0;
    redact_buf b = {.text = text, .cap = len < SIZE_MAX - 64 ? len + 64 : len};
    b.out = malloc(b.cap);
    if (!b.out)
        return NULL;
    guard_scan(text, len, each, &b);
    if (b.oom || put(&b, text ? text + b.copied : "", len - b.copied) != 0 ||
        put(&b, "", 1) != 0) {
        free(b.out);
        return NULL;
    }
    if (out_len)
        *out_len = b.len - 1;
    return b.out;
}

char *guard_redact(const char *text, size_t len, size_t *out_len)
{
    return redact_with(text, len, out_len, redact_one);
}

char *guard_redact_tagged(const char *text, size_t len, size_t *out_len)
{
    return redact_with(text, len, out_len, tag_one);
}

/* ---- masking ---- */

void guard_mask(const char *secret, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return;
    size_t n = secret ? strlen(secret) : 0, w = 0;
    for (size_t k = 0; k < n && w + 1 < out_size; k++) {
        int keep = n >= 12 && (k < 6 || k >= n - 2);
        out[w++] = keep ? secret[k] : '*';
    }
    out[w] = '\0';
}
