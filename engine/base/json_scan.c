/* The long strings of a JSON text (json_scan.h). */
#include "base/json_scan.h"

#include <string.h>

size_t json_string_end(const char *text, size_t len, size_t i)
{
    size_t j = i + 1;
    for (;;) {
        const char *q = j < len ? memchr(text + j, '"', len - j) : NULL;
        if (!q)
            return len;
        size_t k = (size_t)(q - text), back = 0;
        while (k - back > i + 1 && text[k - back - 1] == '\\')
            back++;
        if (back % 2 == 0)
            return k + 1;
        j = k + 1;
    }
}

size_t json_string_end_known(const char *text, size_t len, size_t i, const hashed_span *known,
                             size_t nknown, size_t *k)
{
    while (*k < nknown && known[*k].at < i)
        (*k)++;
    if (*k < nknown && known[*k].at == i && known[*k].len >= 2 && known[*k].len <= len - i &&
        text[i + known[*k].len - 1] == '"')
        return i + known[*k].len;
    return json_string_end(text, len, i);
}

size_t json_long_strings_known(const char *text, size_t len, size_t min, const hashed_span *known,
                               size_t nknown, size_t *from, size_t *to, size_t max)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < len && n < max;) {
        const char *q = memchr(text + i, '"', len - i);
        if (!q)
            break;
        size_t s = (size_t)(q - text), e = json_string_end_known(text, len, s, known, nknown, &k);
        if (e - s >= min) {
            from[n] = s;
            to[n++] = e;
        }
        i = e;
    }
    return n;
}

static int in_number(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'; }

int json_next_number(const char *text, size_t len, size_t i, size_t *from, size_t *to)
{
    while (i < len) {
        char c = text[i];
        if (c == '"') {
            i = json_string_end(text, len, i);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i + 1;
            while (j < len && in_number(text[j]))
                j++;
            *from = i;
            *to = j;
            return 1;
        } else {
            i++;
        }
    }
    return 0;
}
