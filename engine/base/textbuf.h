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

/* Buffers let go by one user and taken by the next instead of freed and made again: a call's
 * request body in one piece and the reply it reads are each a few KB, made and let go on every
 * call, as many at once as calls start together (64 in flight start together). Bounded: at most
 * TEXTBUF_POOL_SIZE idle buffers holding at most TEXTBUF_POOL_BYTES in all, none with more room
 * than TEXTBUF_POOL_KEEP_MAX; what does not fit is freed when given back, and everything is
 * under AddressSanitizer (pooling.h). Start from {0}. */
#define TEXTBUF_POOL_SIZE 64
#define TEXTBUF_POOL_KEEP_MAX ((size_t)64 << 10)
#define TEXTBUF_POOL_BYTES ((size_t)512 << 10)

typedef struct textbuf_pool {
    textbuf idle[TEXTBUF_POOL_SIZE];
    size_t n;
    size_t bytes; /* the room of the idle buffers */
} textbuf_pool;

/* Empties *b into the room of the idle buffer given back last that fits want bytes (and a
 * NUL), or to {0} when none does. *b must hold no room of its own.
 *
 * A buffer fits when it has room for want and no more than TEXTBUF_POOL_FIT times want (at
 * least TEXTBUF_POOL_SMALL): a call's reply (1 KB) does not take a request body's room (16 KB)
 * nor a body a reply's, to grow it. Mixed, the same live bytes took more of the process (glibc
 * laid them out in more pages): 36.5-37.9 MB with 1,000 calls in flight, 35.4-35.9 kept apart,
 * as without the pool. */
#define TEXTBUF_POOL_FIT 4
#define TEXTBUF_POOL_SMALL ((size_t)4 << 10)
int textbuf_pool_fits(size_t cap, size_t want);
void textbuf_pool_take(textbuf_pool *p, textbuf *b, size_t want);
/* Keeps b's room for the next taker, or frees it (the pool is full or b is over the size kept);
 * b is {0} after. */
void textbuf_pool_give(textbuf_pool *p, textbuf *b);
/* Frees the idle buffers; p is empty after. */
void textbuf_pool_clear(textbuf_pool *p);

#endif
