/* A text that grows as it is written. An allocation that fails marks it failed and makes every
 * later write do nothing, so a writer checks once, at the end. Start from {0}; free(b.s). */
#ifndef NYX_BASE_TEXTBUF_H
#define NYX_BASE_TEXTBUF_H

#include <stddef.h>

typedef struct textbuf {
    char *s; /* NUL-terminated once anything was written */
    size_t len, cap;
    int failed;
} textbuf;

/* Room for n more bytes and a NUL without moving: 0, or -1 (b marked failed). */
int textbuf_reserve(textbuf *b, size_t n);
/* Empties b for its next use, keeping its room (and clearing a failure). */
void textbuf_reset(textbuf *b);
/* Appends n bytes of s (nothing when n is 0). */
void textbuf_put(textbuf *b, const char *s, size_t n);
void textbuf_puts(textbuf *b, const char *s);
/* Appends the formatted text, however long. */
void textbuf_printf(textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
