/* A whole text as one JSON value (json_parse.h). */
#include "base/json_parse.h"

#include <string.h>

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

cJSON *json_parse_value(const char *text, size_t len, size_t *stop)
{
    const char *end = NULL;
    cJSON *v = text ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    /* cJSON points at the byte it stopped at (the last one when the text ended first). */
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    while (v && off < len && is_space(text[off]))
        off++;
    *stop = off;
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
