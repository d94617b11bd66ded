/* Growing texts (textbuf.h). */
#include "base/textbuf.h"
#include "base/pooling.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int textbuf_reserve(textbuf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void textbuf_reset(textbuf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->s)
        b->s[0] = '\0';
}

void textbuf_put(textbuf *b, const char *s, size_t n)
{
    if (b->failed || n == 0 || textbuf_reserve(b, n) != 0)
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void textbuf_puts(textbuf *b, const char *s) { textbuf_put(b, s, strlen(s)); }

void textbuf_printf(textbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (textbuf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int textbuf_pool_fits(size_t cap, size_t want)
{
    size_t most = want < TEXTBUF_POOL_SMALL / TEXTBUF_POOL_FIT ? TEXTBUF_POOL_SMALL
                                                               : TEXTBUF_POOL_FIT * want;
    return cap > want && cap <= most;
}

void textbuf_pool_take(textbuf_pool *p, textbuf *b, size_t want)
{
    *b = (textbuf){0};
    for (size_t k = p->n; k-- > 0;)
        if (textbuf_pool_fits(p->idle[k].cap, want)) {
            *b = p->idle[k];
            p->idle[k] = p->idle[--p->n];
            p->bytes -= b->cap;
            textbuf_reset(b);
            return;
        }
}

void textbuf_pool_give(textbuf_pool *p, textbuf *b)
{
    if (NYX_POOLING && b->s && b->cap <= TEXTBUF_POOL_KEEP_MAX && p->n < TEXTBUF_POOL_SIZE &&
        p->bytes + b->cap <= TEXTBUF_POOL_BYTES) {
        p->idle[p->n++] = *b;
        p->bytes += b->cap;
    } else {
        free(b->s);
    }
    *b = (textbuf){0};
}

void textbuf_pool_clear(textbuf_pool *p)
{
    while (p->n)
        free(p->idle[--p->n].s);
    p->bytes = 0;
}
