/* Copies of texts: strdup, which C11 lacks. */
#ifndef NYX_BASE_TEXT_H
#define NYX_BASE_TEXT_H

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

#endif
