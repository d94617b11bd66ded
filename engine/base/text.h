/* Copies of texts (strdup, which C11 lacks) and fixed-width hex, which ids and marks are made of
 * on every call (without snprintf parsing its format each time). */
#ifndef NYX_BASE_TEXT_H
#define NYX_BASE_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of s: NULL for NULL or when out of memory. */
static inline char *text_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A letter, digit, '_' or '-': what the API's names are made of (and template keys). */
static inline int text_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Whether s is 1 to max text_word_chars: with max 64, a name the API accepts for a tool or a
 * batch request's custom_id (^[a-zA-Z0-9_-]{1,64}$). */
static inline int text_is_word(const char *s, size_t max)
{
    size_t n = 0;
    while (s[n] && n < max && text_word_char(s[n]))
        n++;
    return n > 0 && !s[n];
}

/* text_dup of a text that may be absent (NULL gives NULL); a copy that fails sets *failed, so
 * a run of copies is checked once at its end. */
static inline char *text_dup_or_fail(const char *s, int *failed)
{
    char *d = text_dup(s);
    if (s && !d)
        *failed = 1;
    return d;
}

/* The low 4 * digits bits of v in lower-case hex, exactly digits characters (no NUL): what
 * printf's "%0*llx" writes for a v that fits. */
static inline void text_hex(char *out, uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        out[i] = "0123456789abcdef"[v & 15];
}

#endif
