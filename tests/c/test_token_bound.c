/* The most tokens a text may hold (cache_estimate_tokens_max, from what the text is made of:
 * base/text_shape.h), which a budget reserves for: never fewer than the simulator's tokenizer
 * counts, before calibration and after it, for text like the calibration's and unlike it
 * (base64, CJK, digits, code after prose), and for ordinary text not far above what it costs. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text_shape.h"
#include "cache/policy.h"
#include "check.h"
#include "sim/sim.h"

static model_info model = {.id = "claude-sonnet-4-6", .input = 3, .output = 15, .cache_write_5m = 3.75,
                           .cache_write_1h = 6, .cache_read = 0.3, .has_price = 1, .min_cache_tokens = 2048};

/* ---- the counts ---- */

static text_shape shape_of(const char *s)
{
    text_shape t = {0};
    text_shape_add(&t, s, strlen(s));
    return t;
}

static void test_counts(void)
{
    struct {
        const char *text;
        size_t other, nonascii;
    } rows[] = {
        {"", 0, 0},
        {"hello world", 1, 0},      /* the first letter; the space joins "world" */
        {"Hello world. Bye", 2, 0}, /* the first letter and the full stop */
        {"a1b2", 4, 0},             /* each letter begins a word after a digit */
        {"123456", 6, 0},
        {"a  b", 2, 0},             /* the first space is a token of its own; the second joins */
        {"word ", 2, 0},            /* a space at the end joins nothing */
        {"x\n\ny", 4, 0},
        {"\xe4\xb8\x80\xe4\xb8\x80", 0, 6},
        {"caf\xc3\xa9 ok", 1, 2},   /* " ok" follows the é's space: a word */
        {"\xc3\xa9t\xc3\xa9", 1, 4}, /* "t" after é begins a word */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK_ROW("\"%s\"", rows[i].text);
        text_shape t = shape_of(rows[i].text);
        CHECK_INT(t.bytes, strlen(rows[i].text));
        CHECK_INT(t.other, rows[i].other);
        CHECK_INT(t.nonascii, rows[i].nonascii);
    }
    CHECK_ROW_END();
    /* Texts added one after another are each counted from their own start. */
    text_shape t = {0};
    text_shape_add(&t, "ab", 2);
    text_shape_add(&t, "cd", 2);
    CHECK_INT(t.bytes, 4);
    CHECK_INT(t.other, 2);
    text_shape u = shape_of("x1");
    text_shape_sum(&t, &u);
    CHECK_INT(t.bytes, 6);
    CHECK_INT(t.other, 4);
}

/* ---- texts of every kind ---- */

static uint64_t seed;
static unsigned next_rand(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(seed >> 33);
}

static const char *const words[] = {"the", "assistant", "answers", "customer", "questions", "about", "orders",
                                    "and", "shipping", "always", "politely", "with", "short", "clear",
                                    "sentences", "never", "invent", "policy", "details", "refunds", "take",
                                    "five", "business", "days", "after", "return", "a", "to", "is"};

enum kind { PROSE, CODE, BASE64, CJK, DIGITS, MIXED, MARKS, SPACES, CYRILLIC, EMOJI, KINDS };
static const char *const kind_names[KINDS] = {"prose", "code", "base64", "cjk", "digits",
                                              "mixed", "marks", "spaces", "cyrillic", "emoji"};

/* A text of kind of about n bytes (malloc'd, NUL-terminated), from the seed s. */
static char *make_text(int kind, size_t n, uint64_t s)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char marks[] = "!?;:.,()[]{}<>=+-*/&|^%$#@~`'\"\\";
    char *t = malloc(n + 64); /* a last word or sequence may go past n */
    if (!t)
        abort();
    seed = s;
    size_t len = 0;
    char *code = NULL;
    size_t clen = 0;
    if (kind == CODE && (file_read_path(NYX_SOURCE_DIR "/engine/cache/policy.c", 0, &code, &clen) != 0 || !clen))
        abort();
    while (len < n) {
        switch (kind) {
        case PROSE: {
            const char *w = words[next_rand() % (sizeof words / sizeof words[0])];
            len += (size_t)sprintf(t + len, "%s%s", len ? " " : "", w);
            if (next_rand() % 12 == 0)
                t[len++] = next_rand() % 3 ? '.' : ',';
            break;
        }
        case CODE:
            t[len] = code[len % clen];
            len++;
            break;
        case BASE64:
            t[len++] = b64[next_rand() % 64];
            break;
        case CJK: { /* U+4E00..U+9FFF, three bytes each */
            unsigned cp = 0x4E00 + next_rand() % 0x5200;
            t[len++] = (char)(0xE0 | cp >> 12);
            t[len++] = (char)(0x80 | (cp >> 6 & 0x3F));
            t[len++] = (char)(0x80 | (cp & 0x3F));
            break;
        }
        case DIGITS:
            t[len++] = (char)('0' + next_rand() % 10);
            break;
        case MIXED: /* a letter, a digit, a mark: every byte a token of the simulator's */
            len += (size_t)sprintf(t + len, "%c%c%c", 'a' + next_rand() % 26, '0' + next_rand() % 10,
                                   marks[next_rand() % (sizeof marks - 1)]);
            break;
        case MARKS:
            t[len++] = marks[next_rand() % (sizeof marks - 1)];
            break;
        case SPACES: /* runs of spaces and line breaks between short words */
            len += (size_t)sprintf(t + len, "%.*s%s%s", (int)(next_rand() % 6), "      ",
                                   words[next_rand() % (sizeof words / sizeof words[0])],
                                   next_rand() % 2 ? "\n" : "");
            break;
        case CYRILLIC: { /* U+0430..U+044F, two bytes each, in words */
            unsigned cp = 0x430 + next_rand() % 32;
            t[len++] = (char)(0xC0 | cp >> 6);
            t[len++] = (char)(0x80 | (cp & 0x3F));
            if (next_rand() % 6 == 0)
                t[len++] = ' ';
            break;
        }
        case EMOJI: { /* U+1F600..U+1F64F, four bytes each */
            unsigned cp = 0x1F600 + next_rand() % 0x50;
            t[len++] = (char)(0xF0 | cp >> 18);
            t[len++] = (char)(0x80 | (cp >> 12 & 0x3F));
            t[len++] = (char)(0x80 | (cp >> 6 & 0x3F));
            t[len++] = (char)(0x80 | (cp & 0x3F));
            break;
        }
        }
    }
    free(code);
    t[len] = '\0';
    return t;
}

static int64_t bound_of(const cache_policy *p, const char *text)
{
    text_shape t = shape_of(text);
    return cache_estimate_tokens_max(p, &model, &t, t.bytes);
}

/* A call of one prompt answered with the simulator's count: the policy learns from it. */
static void observe(cache_policy *p, const char *text)
{
    claude_request req;
    request_init(&req);
    req.single_prompt = 1;
    claude_message msg = {.role = NYX_ROLE_USER, .nblocks = 1};
    claude_block b;
    if (block_set(&b, text, strlen(text), NYX_MARK_NONE) != 0)
        abort();
    msg.blocks = &b;
    req.messages = &msg;
    req.nmessages = 1;
    claude_usage u = {.input_tokens = sim_count_tokens(text, strlen(text))};
    cache_expect ex = {0};
    cache_observe(p, &req, &model, &u, &ex, 1000.0);
    block_free(&b);
}

#define SIZE 60000

/* Every kind's bound holds what the simulator counts; the one calibrated on, at most
 * (1 + margin) of it: ordinary text is not reserved for far more than it costs. */
static void check_kinds(const cache_policy *p, const char *when, int like, double most)
{
    for (int k = 0; k < KINDS; k++) {
        char *t = make_text(k, SIZE, 77 + (uint64_t)k);
        int64_t counted = sim_count_tokens(t, strlen(t)), bound = bound_of(p, t);
        CHECK_ROW("%s, %s: %zu bytes, %lld tokens, bound %lld (%.2fx)", when, kind_names[k], strlen(t),
                  (long long)counted, (long long)bound, (double)bound / (double)counted);
        CHECK(bound >= counted);
        if (k == like)
            CHECK((double)bound <= most * (double)counted);
        CHECK_ROW_END();
        free(t);
    }
}

static void test_bounds(void)
{
    cache_policy *p = cache_policy_new(NULL);
    REQUIRE(p);
    /* Before calibration: 2 bytes a token and a token for each byte that may be one. */
    check_kinds(p, "uncalibrated", PROSE, 2.2); /* 2.11: 2 bytes a token, as before */
    /* Calibrated on short prose calls, then a long text of every kind. */
    for (int i = 0; i < 10; i++) {
        char *t = make_text(PROSE, 2000, 1000 + (uint64_t)i);
        observe(p, t);
        free(t);
    }
    check_kinds(p, "calibrated on prose", PROSE, 1.3); /* 1.21 */
    cache_policy_free(p);

    /* Calibrated on code: code is reserved near its cost, prose and the rest are held. */
    p = cache_policy_new(NULL);
    REQUIRE(p);
    for (int i = 0; i < 10; i++) {
        char *t = make_text(CODE, 2000 + 300 * (size_t)i, 2000 + (uint64_t)i);
        observe(p, t);
        free(t);
    }
    check_kinds(p, "calibrated on code", CODE, 1.5); /* 1.29 (a long text of a file its calls began) */
    cache_policy_free(p);
}

int main(void)
{
    test_counts();
    test_bounds();
    CHECK_DONE();
}
