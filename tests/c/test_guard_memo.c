/* The redaction memo: a long text seen again is not scanned again, texts that differ are never
 * taken for one another, and whatever the body, the result is guard_redact()'s. */
#define _GNU_SOURCE
#include "base/textbuf.h"
#include "check.h"
#include "guard/memo.h"
#include "guard/scan.h"

#include <stdlib.h>
#include <string.h>

static char *prose(size_t size, const char *planted)
{
    static const char *words[] = {"orders", "ship", "within", "five", "days", "and", "refunds", "follow", "the"};
    char *s = malloc(size + 256);
    size_t n = 0;
    for (unsigned k = 0; n < size; k++) {
        const char *w = words[(k * 7u + 3u) % 9u];
        memcpy(s + n, w, strlen(w));
        n += strlen(w);
        s[n++] = ' ';
        if (planted && k == 40) {
            memcpy(s + n, planted, strlen(planted));
            n += strlen(planted);
            s[n++] = ' ';
        }
    }
    s[n] = '\0';
    return s;
}

/* A request body as the engine sends it: a long system prompt, then a short question. */
static char *body(const char *system, const char *question)
{
    size_t n = strlen(system) + strlen(question) + 200;
    char *b = malloc(n);
    snprintf(b, n,
             "{\"model\":\"m\",\"max_tokens\":16,\"system\":[{\"type\":\"text\",\"text\":\"%s\",\"cache_control\":"
             "{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
             system, question);
    return b;
}

/* guard_memo_redact_into as the record's redaction runs it, the result copied (malloc'd,
 * NUL-terminated; its length to *out_len): NULL when out of memory. */
static char *memo_redact(guard_memo *m, const char *text, size_t len, size_t *out_len)
{
    textbuf o = {0};
    const char *r = guard_memo_redact_into(m, text, len, NULL, 0, &o, NULL, 0, NULL);
    size_t n = r == text ? len : o.len;
    char *copy = r ? malloc(n + 1) : NULL;
    if (copy) {
        memcpy(copy, r, n);
        copy[n] = '\0';
        if (out_len)
            *out_len = n;
    }
    free(o.s);
    return copy;
}

/* The memo's result must be guard_redact's, byte for byte. */
static void same_as_whole(guard_memo *m, const char *text)
{
    size_t a_len = 0, b_len = 0;
    char *a = memo_redact(m, text, strlen(text), &a_len);
    char *b = guard_redact(text, strlen(text), &b_len);
    CHECK(a && b);
    if (a && b) {
        CHECK_INT(a_len, b_len);
        CHECK_STR(a, b);
    }
    free(a);
    free(b);
}

/* As a whole scan redacts it, and the example key is gone. */
static void key_redacted(guard_memo *m, const char *text)
{
    same_as_whole(m, text);
    size_t len;
    char *r = memo_redact(m, text, strlen(text), &len);
    CHECK(r && strstr(r, "EXAMPLEKEY") == NULL);
    free(r);
}

static void test_second_scan_is_remembered(void)
{
    guard_memo *m = guard_memo_new();
    char *system = prose(15000, NULL);
    char *one = body(system, "where is order 17?"), *two = body(system, "where is order 18? mail me at a.b@example.com");
    guard_memo_stats st;
    same_as_whole(m, one);
    guard_memo_get_stats(m, &st);
    CHECK_INT(st.scans, 1);
    CHECK_INT(st.hits, 0);
    same_as_whole(m, two); /* the question differs, the system prompt is the same */
    same_as_whole(m, one);
    guard_memo_get_stats(m, &st);
    CHECK_INT(st.scans, 1); /* the 15 KB were scanned once */
    CHECK_INT(st.hits, 2);
    CHECK_INT(st.whole, 0);
    /* The cut before the prompt has the same bytes around it every time: judged once. The cut
     * after it reaches into the question: judged again for a new question only. (Three
     * windows, six look-ups; the verdicts are direct-mapped by a hash seeded per process, so
     * two windows share a slot now and then, and the one put out is judged again.) */
    CHECK(st.cuts_checked >= 3);
    CHECK_INT(st.cuts_checked + st.cuts_known, 6);
    /* A plain text (no JSON) long enough is remembered whole. */
    same_as_whole(m, system);
    same_as_whole(m, system);
    guard_memo_get_stats(m, &st);
    CHECK_INT(st.scans, 2);
    CHECK_INT(st.hits, 3);
    free(one);
    free(two);
    free(system);
    guard_memo_free(m);
}

static void test_different_texts_are_not_confused(void)
{
    guard_memo *m = guard_memo_new();
    /* Same length, one byte apart: one clean, one with a card number and an address. */
    char *clean = prose(4000, "call 4111 1111 1111 1112 later"); /* not Luhn-valid */
    char *dirty = prose(4000, "call 4111 1111 1111 1111 later");
    char *mail = prose(4000, "write to jane.doe@example.com");
    CHECK_INT(strlen(clean), strlen(dirty));
    for (int round = 0; round < 2; round++) {
        char *a = body(clean, "q"), *b = body(dirty, "q"), *c = body(mail, "q");
        same_as_whole(m, a);
        same_as_whole(m, b);
        same_as_whole(m, c);
        size_t n;
        char *r = memo_redact(m, b, strlen(b), &n);
        CHECK(r && strstr(r, "[CARD]") && !strstr(r, "4111 1111 1111 1111"));
        free(r);
        r = memo_redact(m, a, strlen(a), &n);
        CHECK(r && !strstr(r, "[CARD]") && strstr(r, "4111 1111 1111 1112"));
        free(r);
        free(a);
        free(b);
        free(c);
    }
    guard_memo_stats st;
    guard_memo_get_stats(m, &st);
    /* Three texts, ten look-ups: scanned once each, unless two share a slot of the memo (by a
     * hash seeded per process) and put each other out; never all ten. */
    CHECK(st.scans >= 3 && st.scans < 10);
    CHECK(st.bytes > 0); /* the two redacted copies */
    free(clean);
    free(dirty);
    free(mail);
    guard_memo_free(m);
}

/* Findings at the edge of a long string: the memo must not cut them in two. */
static void test_edges_redact_as_whole(void)
{
    guard_memo *m = guard_memo_new();
    char *filler = prose(600, NULL);
    size_t n = strlen(filler) + 400;
    char *t = malloc(n);
    /* A labelled secret whose value opens a long string. */
    snprintf(t, n, "{\"aws_secret_access_key\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY %s\"}", filler);
    same_as_whole(m, t);
    /* A private key block opened in one long string and closed in the next. */
    snprintf(t, n, "[\"-----BEGIN RSA PRIVATE KEY-----\\nMIIEow %s\",\"%s -----END RSA PRIVATE KEY-----\"]", filler,
             filler);
    same_as_whole(m, t);
    same_as_whole(m, t);
    /* A private key block begun in a short head, outside any string, and closed inside the long
     * string after it: a finding across the cut, which the head's window must not pass. */
    snprintf(t, n, "{\"k\":-----BEGIN RSA PRIVATE KEY-----\\nMIIEow \"%s -----END RSA PRIVATE KEY----- end\"}",
             filler);
    same_as_whole(m, t);
    same_as_whole(m, t);
    /* An address right at each edge, and an escaped quote inside. */
    snprintf(t, n, "{\"a\":\"x@example.com %s \\\" y@example.org\"}", filler);
    same_as_whole(m, t);
    same_as_whole(m, t);
    guard_memo_stats st;
    guard_memo_get_stats(m, &st);
    CHECK(st.whole >= 1);
    free(t);
    free(filler);
    guard_memo_free(m);
}

static void test_bounded(void)
{
    guard_memo *m = guard_memo_new();
    char *base = prose(3000, "mail x@example.com");
    for (int i = 0; i < 5000; i++) {
        char head[32];
        int k = snprintf(head, sizeof head, "%05d", i);
        memcpy(base, head, (size_t)k); /* a different text each time */
        size_t n;
        free(memo_redact(m, base, strlen(base), &n));
    }
    guard_memo_stats st;
    guard_memo_get_stats(m, &st);
    CHECK(st.entries <= 1024);
    CHECK(st.bytes <= (size_t)4 << 20);
    CHECK_INT(st.scans, 5000);
    free(base);
    guard_memo_free(m);
}

/* One buffer written over, body after body (a record's, call_account.c): each redaction is
 * exactly guard_redact's, a longer text before leaving nothing of itself behind. */
static void test_into_one_buffer(void)
{
    guard_memo *m = guard_memo_new();
    char *system = prose(2000, "write to ann@example.com");
    char *longer = body(system, "first question, from bob@example.org");
    char *shorter = body(system, "q");
    char *plain = prose(2000, NULL), *clean = body(plain, "nothing to find here");
    /* with findings and without, in turn: what one left in o is never another's */
    const char *texts[] = {longer, clean, shorter, "short: c@example.net", clean, longer, "", shorter, clean};
    textbuf o = {0};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t want_len = 0;
        char *want = guard_redact(texts[i], strlen(texts[i]), &want_len);
        const char *got = guard_memo_redact_into(m, texts[i], strlen(texts[i]), NULL, 0, &o, NULL, 0, NULL);
        CHECK(want && got && strcmp(got, want) == 0);
        CHECK_INT(got == texts[i] ? strlen(texts[i]) : o.len, want_len);
        /* the input itself exactly when nothing was found */
        CHECK_INT(got == texts[i], want && strcmp(want, texts[i]) == 0);
        free(want);
    }
    guard_memo_stats st;
    guard_memo_get_stats(m, &st);
    /* each system prompt scanned once: five hits, fewer when the two share a slot by chance */
    CHECK(st.hits >= 1);
    free(o.s);
    free(longer);
    free(shorter);
    free(system);
    free(plain);
    free(clean);
    guard_memo_free(m);
}

/* The spans a redaction reports: each is a long string of what was written, and its hash is
 * of exactly those bytes, whether the string was scanned now or found in the memo, redacted or
 * left as it was. The store takes the hash from them instead of hashing the part again, so a
 * wrong one would file a text under another's address. */
static void test_spans_hash_what_was_written(void)
{
    guard_memo *m = guard_memo_new();
    char *clean = prose(1500, NULL), *dirty = prose(1500, "mail ann@example.com");
    size_t n = strlen(clean) + strlen(dirty) + 300;
    char *t = malloc(n);
    snprintf(t, n, "{\"system\":[\"%s\",\"%s\"],\"messages\":[{\"role\":\"user\",\"content\":\"q from x@example.org\"}]}",
             clean, dirty);
    textbuf o = {0};
    for (int round = 0; round < 2; round++) { /* scanned, then from the memo */
        hashed_span sp[GUARD_MEMO_MAX_SPANS];
        size_t ns = 99;
        CHECK(guard_memo_redact_into(m, t, strlen(t), NULL, 0, &o, sp, GUARD_MEMO_MAX_SPANS, &ns) == o.s);
        CHECK_INT(ns, 2);
        for (size_t k = 0; k < ns && k < 2; k++) {
            CHECK(sp[k].at + sp[k].len <= o.len);
            CHECK(o.s[sp[k].at] == '"' && o.s[sp[k].at + sp[k].len - 1] == '"');
            quick_hash h = quick_hash_of(o.s + sp[k].at, sp[k].len);
            CHECK(h.lo == sp[k].h.lo && h.hi == sp[k].h.hi);
        }
        if (ns == 2) {
            CHECK(sp[0].at < sp[1].at);
            CHECK_INT(sp[0].len, strlen(clean) + 2); /* as it was */
            CHECK(memmem(o.s + sp[1].at, sp[1].len, "[EMAIL]", 7) != NULL); /* redacted */
        }
        size_t one = 0;
        CHECK(guard_memo_redact_into(m, t, strlen(t), NULL, 0, &o, sp, 1, &one) != NULL); /* no more than asked */
        CHECK_INT(one, 1);
    }
    /* Redacted whole (a key block open at a string's end): no spans. */
    snprintf(t, n, "[\"-----BEGIN RSA PRIVATE KEY-----\\nMIIEow %s\",\"%s -----END RSA PRIVATE KEY-----\"]", clean, clean);
    hashed_span sp[GUARD_MEMO_MAX_SPANS];
    size_t ns = 99;
    CHECK(guard_memo_redact_into(m, t, strlen(t), NULL, 0, &o, sp, GUARD_MEMO_MAX_SPANS, &ns) != NULL);
    CHECK_INT(ns, 0);
    free(o.s);
    free(t);
    free(clean);
    free(dirty);
    guard_memo_free(m);
}

/* Hashes the caller knows (a shared literal's, made once) stand for the bytes they name: the
 * memo looks a long string up by a known hash instead of hashing it, and with true ones the
 * result is guard_redact's. Shown by a known hash that names another string, scanned before:
 * its redaction is what comes out, which only happens when the known hash is used. */
static void test_known_hashes_are_used(void)
{
    guard_memo *m = guard_memo_new();
    char *dirty = prose(1200, "mail ann@example.com"), *clean = strdup(dirty);
    char *at = strstr(clean, "ann@example.com");
    memcpy(at, "ann-example-com", 15); /* as long, nothing to find */
    char *a = body(dirty, "q"), *b = body(clean, "q");
    size_t from = (size_t)(strstr(a, dirty) - 1 - a), len = strlen(dirty) + 2;
    hashed_span ka = {from, len, quick_hash_of(a + from, len)}, kb = {from, len, quick_hash_of(b + from, len)};
    textbuf o = {0};
    const char *got = guard_memo_redact_into(m, a, strlen(a), &ka, 1, &o, NULL, 0, NULL);
    char *want = guard_redact(a, strlen(a), NULL);
    CHECK(want && got && strcmp(got, want) == 0);
    free(want);
    got = guard_memo_redact_into(m, b, strlen(b), &kb, 1, &o, NULL, 0, NULL);
    CHECK(got == b); /* true hash: b as it is */
    got = guard_memo_redact_into(m, b, strlen(b), &ka, 1, &o, NULL, 0, NULL);
    CHECK(got && strstr(got, "[EMAIL]") != NULL); /* a's hash: a's redaction */
    /* A known span that opens and closes with a quote is one whole string, not read for its
     * end: a quote inside it (which its maker would have escaped) does not end it. Without the
     * span, the string read ends at that quote: another long string, scanned. */
    guard_memo *m2 = guard_memo_new();
    char *two = malloc(2 * len + 64);
    snprintf(two, 2 * len + 64, "{\"s\":\"%s\"%s\",\"q\":\"x\"}", dirty, clean);
    hashed_span k2 = {5, 2 * (len - 2) + 3, {0, 0}};
    k2.h = quick_hash_of(two + 5, k2.len);
    CHECK(two[5] == '"' && two[5 + k2.len - 1] == '"');
    guard_memo_stats st;
    got = guard_memo_redact_into(m2, two, strlen(two), &k2, 1, &o, NULL, 0, NULL);
    want = guard_redact(two, strlen(two), NULL);
    CHECK(want && got && strcmp(got, want) == 0);
    free(want);
    guard_memo_get_stats(m2, &st);
    CHECK_INT(st.scans, 1);
    got = guard_memo_redact_into(m2, two, strlen(two), NULL, 0, &o, NULL, 0, NULL);
    want = guard_redact(two, strlen(two), NULL);
    CHECK(want && got && strcmp(got, want) == 0);
    free(want);
    guard_memo_get_stats(m2, &st);
    CHECK_INT(st.scans, 2);
    free(two);
    guard_memo_free(m2);
    kb.len--; /* not exactly the string: hashed instead */
    got = guard_memo_redact_into(m, b, strlen(b), &kb, 1, &o, NULL, 0, NULL);
    CHECK(got == b);
    free(o.s);
    free(a);
    free(b);
    free(dirty);
    free(clean);
    guard_memo_free(m);
}

/* The window around the cut after a long string reaches into what follows it (the question),
 * so it is judged again each call, but its half inside the string is scanned once: its
 * findings are remembered by its hash. With them the verdict must be what scanning gives:
 * a finding in that half (an address at the prompt's end) does not make the cut matter, nor
 * one wholly in the question; a finding that needs both sides (a label at the prompt's end
 * naming the secret after it) does, with the half from the memo, and the body is redacted
 * whole. */
static void test_inner_half_is_remembered(void)
{
    guard_memo *m = guard_memo_new();
    char *filler = prose(1200, NULL);
    size_t n = strlen(filler) + 400;
    char *sys = malloc(n), *t = malloc(2 * n);
    snprintf(sys, n, "%s write to ann@example.com", filler); /* a finding just before the cut */
    const char *questions[] = {
        "where is order 17?",
        "mail bob@example.org, or call +44 20 7946 0958", /* findings wholly in the question */
        "", "x@example.net",                              /* one right at the cut */
        "where is order 18?",
        /* longer than the window: its address lies past the window's outer half */
        ("a question long enough to run past the window after the cut, so that the window's half "
         "is not the whole tail and the tail is scanned: dan@example.com"),
    };
    size_t nq = sizeof questions / sizeof questions[0];
    guard_memo_stats st;
    for (size_t i = 0; i < nq; i++) {
        snprintf(t, 2 * n, "{\"system\":\"%s\",\"q\":\"%s\"}", sys, questions[i]);
        same_as_whole(m, t);
        size_t len;
        char *r = memo_redact(m, t, strlen(t), &len);
        CHECK(r && strstr(r, "write to [EMAIL]\"") != NULL);
        free(r);
    }
    guard_memo_get_stats(m, &st);
    CHECK_INT(st.whole, 0);       /* every cut judged safe, with the remembered half */
    CHECK_INT(st.scans, 1);       /* the prompt, scanned once */
    /* The tables are direct-mapped by a hash seeded per process: two entries may share a slot
     * by chance, and the one put out is judged or scanned again. So at least: */
    CHECK(st.cuts_checked >= 1 + nq); /* before the prompt, after it for each question */
    CHECK(st.halves_known >= nq - 3); /* the prompt's half of the window after it, from the memo
                                        (nq - 1 without a shared slot; none if the question's half
                                        were the one remembered) */
    /* The head before the prompt and the tail after it are the outer halves of their windows:
     * redacted from those findings (the tail's with the question's addresses, shown equal to
     * guard_redact above), two pieces in each of two redactions per question. */
    CHECK_INT(st.pieces_known, 4 * nq - 2); /* not the long question's tail */
    /* A head with a finding, judged once, then redacted from the remembered window; and one
     * longer than the window, with its finding before the window: scanned. */
    for (int round = 0; round < 2; round++) {
        snprintf(t, 2 * n, "{\"to\":\"carl@example.com\",\"system\":\"%s\",\"q\":\"r%d\"}", sys, round);
        same_as_whole(m, t);
        snprintf(t, 2 * n,
                 "{\"to\":\"eve@example.com\",\"note\":\"a head long enough to run past the window before the "
                 "cut, so that the window's half is not the whole head\",\"system\":\"%s\",\"q\":\"r%d\"}",
                 sys, round);
        same_as_whole(m, t);
    }
    /* A label at the prompt's end naming the secret after the cut: the tail scanned alone would
     * not see the secret. The tail is redacted from the window's findings, which see the label,
     * so the secret goes as in the whole body's scan, and the body is not redacted whole. */
    guard_memo_stats mid, after;
    guard_memo_get_stats(m, &mid);
    snprintf(sys, n, "%s aws_secret_access_key", filler);
    for (int round = 0; round < 2; round++) {
        snprintf(t, 2 * n, "{\"system\":\"%s\",\"q\":\"question %d\"}", sys, round);
        same_as_whole(m, t);
        snprintf(t, 2 * n, "{\"system\":\"%s\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\"n\":%d}", sys, round);
        key_redacted(m, t);
    }
    guard_memo_get_stats(m, &after);
    CHECK_INT(after.whole, mid.whole);
    CHECK(after.halves_known > st.halves_known);
    /* With a tail longer than the window the tail is scanned alone: cutting there would lose
     * the secret, judged with the remembered half of that prompt, and the body goes whole. */
    for (int round = 0; round < 2; round++) {
        snprintf(t, 2 * n,
                 "{\"system\":\"%s\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\"n\":%d,\"q\":\"a question "
                 "long enough to run past the window after the cut, so that the window's half is not the "
                 "whole tail\"}",
                 sys, round);
        key_redacted(m, t);
    }
    guard_memo_get_stats(m, &after);
    CHECK(after.whole > mid.whole);
    /* A private key block begun at the prompt's end and closed in the question: a finding
     * across the cut, and the prompt's own scan leaves the block open. Redacted whole. */
    snprintf(sys, n, "%s -----BEGIN RSA PRIVATE KEY-----\\nMIIEow", filler);
    uint64_t before_key = after.whole;
    snprintf(t, 2 * n, "{\"system\":\"%s\",\"q\":\"abc -----END RSA PRIVATE KEY----- thanks\"}", sys);
    same_as_whole(m, t);
    guard_memo_get_stats(m, &after);
    CHECK(after.whole > before_key);
    free(sys);
    free(t);
    free(filler);
    guard_memo_free(m);
}

int main(void)
{
    test_inner_half_is_remembered();
    test_known_hashes_are_used();
    test_spans_hash_what_was_written();
    test_into_one_buffer();
    test_second_scan_is_remembered();
    test_different_texts_are_not_confused();
    test_edges_redact_as_whole();
    test_bounded();
    same_as_whole(NULL, "no memo: a@b.co");
    return check_failures;
}
