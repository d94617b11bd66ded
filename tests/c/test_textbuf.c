/* engine/base/textbuf: pieces appended in order, a formatted piece of any length kept whole
 * (the debug dump once cut them at 1 KB), nothing written for an empty piece. Its pool: a buffer
 * given back is the next one taken, emptied, with its room; the pool keeps at most
 * TEXTBUF_POOL_SIZE buffers and TEXTBUF_POOL_BYTES, none over TEXTBUF_POOL_KEEP_MAX; a take
 * gets a buffer with room for what is wanted and not many times more (a reply's small want
 * never gets a request body's room, a body's want never a reply's small room to grow), or
 * none. Under AddressSanitizer it keeps nothing
 * (base/pooling.h): a buffer given back is freed. */
#include "check.h"

#include "base/pooling.h"
#include "base/textbuf.h"

#include <stdlib.h>
#include <string.h>

static void pool(void)
{
    textbuf_pool p = {0};
    textbuf b;
    textbuf_pool_take(&p, &b, 10);
    CHECK(b.s == NULL && b.cap == 0); /* none idle: b starts empty */
    textbuf_puts(&b, "a request body");
    char *room = b.s;
    size_t cap = b.cap;
    textbuf_pool_give(&p, &b);
    CHECK(b.s == NULL && b.len == 0 && b.cap == 0);
    if (!NYX_POOLING) { /* freed, so a stale pointer to it is reported */
        CHECK_INT((long)p.n, 0);
        CHECK_INT((long)p.bytes, 0);
        return;
    }
    CHECK_INT((long)p.n, 1);
    CHECK_INT((long)p.bytes, (long)cap);
    textbuf_pool_take(&p, &b, 10);
    CHECK(b.s == room && b.cap == cap); /* the same room, no allocation */
    CHECK(b.len == 0 && b.s[0] == '\0' && !b.failed);
    CHECK_INT((long)p.n, 0);
    CHECK_INT((long)p.bytes, 0);

    /* Of the idle buffers, one with room for what is wanted, though given back earlier. */
    CHECK_INT(textbuf_reserve(&b, 1000), 0);
    room = b.s;
    cap = b.cap;
    textbuf small = {0};
    textbuf_puts(&small, "x");
    CHECK(small.cap < cap);
    textbuf_pool_give(&p, &b);
    textbuf_pool_give(&p, &small);
    textbuf_pool_take(&p, &b, cap - 1);
    CHECK(b.s == room);
    textbuf_pool_give(&p, &b);
    textbuf_pool_clear(&p);
    CHECK_INT((long)p.n, 0);

    /* Sizes kept apart: a body's 16 KB room and a reply's 1 KB, whichever went back last. */
    textbuf body = {0}, reply = {0};
    CHECK_INT(textbuf_reserve(&body, 15000), 0);
    CHECK_INT(textbuf_reserve(&reply, 700), 0);
    char *body_room = body.s, *reply_room = reply.s;
    textbuf_pool_give(&p, &reply);
    textbuf_pool_give(&p, &body);
    textbuf_pool_take(&p, &reply, 700);
    CHECK(reply.s == reply_room); /* not the body's room, given back after it */
    textbuf_pool_take(&p, &b, 700);
    CHECK(b.s == NULL && b.cap == 0); /* only the body's room is idle: none for a reply */
    CHECK_INT((long)p.n, 1);
    textbuf_pool_give(&p, &reply);
    textbuf_pool_take(&p, &body, 15000);
    CHECK(body.s == body_room);
    textbuf_pool_take(&p, &b, 15000);
    CHECK(b.s == NULL); /* only a reply's room is idle: not grown for a body */
    CHECK_INT((long)p.n, 1);
    textbuf_pool_take(&p, &b, 10); /* a small want: any room up to TEXTBUF_POOL_SMALL */
    CHECK(b.s == reply_room);
    free(b.s);
    free(body.s);
    CHECK(textbuf_pool_fits(TEXTBUF_POOL_SMALL, 1) && !textbuf_pool_fits(2 * TEXTBUF_POOL_SMALL, 1));
    CHECK(textbuf_pool_fits(32768, 15000) && !textbuf_pool_fits(65536, 15000) && !textbuf_pool_fits(16384, 16384));
    CHECK_INT((long)p.n, 0);
    CHECK_INT((long)p.bytes, 0);

    /* A buffer grown past what is kept is freed when given back. */
    textbuf_pool_take(&p, &b, 10);
    CHECK_INT(textbuf_reserve(&b, TEXTBUF_POOL_KEEP_MAX), 0);
    textbuf_pool_give(&p, &b);
    CHECK_INT((long)p.n, 0);

    /* At most TEXTBUF_POOL_SIZE are kept idle; the rest are freed. */
    textbuf many[TEXTBUF_POOL_SIZE + 3];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++) {
        many[i] = (textbuf){0};
        textbuf_puts(&many[i], "x");
    }
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        textbuf_pool_give(&p, &many[i]);
    CHECK_INT((long)p.n, TEXTBUF_POOL_SIZE);
    textbuf_pool_clear(&p);

    /* At most TEXTBUF_POOL_BYTES of room in all. */
    size_t big = TEXTBUF_POOL_KEEP_MAX / 2, kept = 0;
    for (size_t i = 0; i < TEXTBUF_POOL_BYTES / big + 2; i++) {
        textbuf t = {0};
        CHECK_INT(textbuf_reserve(&t, big - 1), 0);
        kept += p.bytes + t.cap <= TEXTBUF_POOL_BYTES;
        textbuf_pool_give(&p, &t);
    }
    CHECK(p.bytes <= TEXTBUF_POOL_BYTES);
    CHECK(p.n < TEXTBUF_POOL_BYTES / big + 2);
    CHECK_INT((long)p.n, (long)kept);
    textbuf_pool_clear(&p);
    CHECK_INT((long)p.n, 0);
}

int main(void)
{
    pool();
    textbuf b = {0};
    textbuf_put(&b, "", 0);
    CHECK(b.s == NULL && b.len == 0);
    textbuf_puts(&b, "ab");
    textbuf_put(&b, "cdef", 2);
    textbuf_printf(&b, "-%d-", 42);
    CHECK_STR(b.s, "abcd-42-");
    CHECK_INT((long)b.len, 8);

    char *long_text = malloc(5001);
    CHECK(long_text != NULL);
    if (long_text) {
        memset(long_text, 'x', 5000);
        long_text[5000] = '\0';
        textbuf_printf(&b, "[%s]", long_text);
        CHECK_INT((long)b.len, 8 + 5002);
        CHECK(b.s[b.len - 1] == ']' && b.s[b.len] == '\0' && b.s[9] == 'x');
        free(long_text);
    }
    CHECK(!b.failed);
    free(b.s);
    return check_failures;
}
