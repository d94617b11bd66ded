/* A whole text as one JSON value (json_parse.h). */
#include "base/json_parse.h"

#include "base/json_scan.h"

#include <math.h>
#include <string.h>

/* 2^53: from here on doubles are more than 1 apart, and an integer's digits say more than its
 * double. */
#define EXACT_LIMIT 9007199254740992.0

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* what, then where, then why (each may be empty). */
static int fail_at(error_info *err, const char *text, size_t len, size_t off, const char *what, const char *why)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return error_fail(err, "invalid_argument", 0, "%s at line %zu, column %zu (byte %zu)%s", what, line, col,
                      off + 1, why);
}

/* The offset of a \u0000 escape (the backslash), or len: an odd run of backslashes before
 * "u0000" makes it an escape; an even one is escaped backslashes followed by text. */
static size_t nul_escape(const char *text, size_t len)
{
    for (const char *p = text; (p = memchr(p, 'u', (size_t)(text + len - p))) != NULL; p++) {
        if ((size_t)(text + len - p) < 5 || memcmp(p, "u0000", 5) != 0)
            continue;
        size_t slashes = 0;
        while (p - slashes > text && p[-(long)slashes - 1] == '\\')
            slashes++;
        if (slashes % 2 == 1)
            return (size_t)(p - text) - 1;
    }
    return len;
}

/* Whether the siblings from v on, or anything inside them, hold a number past EXACT_LIMIT: a
 * look at each node, all a parse costs when none does (every reply but a rare one). */
static int has_wide_number(const cJSON *v)
{
    for (; v; v = v->next) {
        if ((v->type & 0xFF) == cJSON_Number ? fabs(v->valuedouble) >= EXACT_LIMIT : has_wide_number(v->child))
            return 1;
    }
    return 0;
}

typedef struct numbers {
    const char *text;
    size_t len, at; /* the text's numbers before at are paired already */
    int failed;     /* out of memory */
} numbers;

static int integer_shaped(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
            return 0;
    return 1;
}

/* Pairs the number nodes from v on, in the order of the text, with the text's numbers, and
 * turns one past EXACT_LIMIT written as an integer into a raw node of its digits. */
static void keep_digits(cJSON *v, numbers *n)
{
    for (; v && !n->failed; v = v->next) {
        if ((v->type & 0xFF) != cJSON_Number) {
            keep_digits(v->child, n);
            continue;
        }
        size_t from, to;
        if (!json_next_number(n->text, n->len, n->at, &from, &to))
            return; /* cannot happen on a text cJSON read: every number node has its text */
        n->at = to;
        if (fabs(v->valuedouble) < EXACT_LIMIT || !integer_shaped(n->text + from, to - from))
            continue;
        char *digits = cJSON_malloc(to - from + 1); /* cJSON_Delete frees it */
        if (!digits) {
            n->failed = 1;
            return;
        }
        memcpy(digits, n->text + from, to - from);
        digits[to - from] = '\0';
        v->type = cJSON_Raw;
        v->valuestring = digits;
    }
}

cJSON *json_parse_value(const char *text, size_t len, size_t *stop)
{
    const char *end = NULL;
    cJSON *v = text ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    /* cJSON points at the byte it stopped at (the last one when the text ended first). */
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    while (v && off < len && is_space(text[off]))
        off++;
    *stop = off;
    if (v && has_wide_number(v)) {
        numbers n = {text, off, 0, 0};
        keep_digits(v, &n);
        if (n.failed) {
            cJSON_Delete(v);
            *stop = 0;
            return NULL;
        }
    }
    return v;
}

cJSON *json_parse_whole(const char *text, size_t len, error_info *err)
{
    size_t off;
    cJSON *v = json_parse_value(text, len, &off);
    if (!v) {
        fail_at(err, text, len, off, "not valid JSON", "");
        return NULL;
    }
    if (off < len) {
        cJSON_Delete(v);
        fail_at(err, text, len, off, "not valid JSON: more text after the value", "");
        return NULL;
    }
    size_t nul = nul_escape(text, len);
    if (nul < len) {
        cJSON_Delete(v);
        fail_at(err, text, len, nul, "a string holds \\u0000", ", which would cut it there");
        return NULL;
    }
    return v;
}
