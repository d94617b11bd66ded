/* A request body in pieces (body.h). */
#include "claude/body.h"

#include "base/quick_hash.h"
#include "base/textbuf.h"
#include "claude/json_text.h"

#include <stdlib.h>
#include <string.h>

/* Writes the body's len bytes and a NUL at out. */
static void flatten_at(const claude_body *b, char *out)
{
    char *w = out;
    size_t from = 0;
    for (size_t i = 0; i < b->npieces; i++) {
        const claude_body_piece *p = &b->pieces[i];
        memcpy(w, b->own + from, p->at - from);
        w += p->at - from;
        memcpy(w, p->lit->text, p->lit->len);
        w += p->lit->len;
        from = p->at;
    }
    memcpy(w, b->own + from, b->own_len - from);
    w += b->own_len - from;
    *w = '\0';
}

int claude_body_write(const claude_body *b, char *out)
{
    if (!b->own)
        return -1;
    flatten_at(b, out);
    return 0;
}

char *claude_body_flatten(const claude_body *b)
{
    if (!b->own)
        return NULL;
    char *out = malloc(b->len + 1);
    if (out)
        flatten_at(b, out);
    return out;
}

int claude_body_flatten_into(const claude_body *b, textbuf *o, hashed_span *span, size_t max_spans,
                             size_t *nspans)
{
    if (nspans)
        *nspans = 0;
    if (!b->own)
        return -1;
    textbuf_reset(o);
    if (textbuf_reserve(o, b->len) != 0)
        return -1;
    flatten_at(b, o->s);
    o->len = b->len;
    size_t at = 0, from = 0, n = 0;
    for (size_t i = 0; span && i < b->npieces && n < max_spans; i++) {
        at += b->pieces[i].at - from; /* the body's own bytes before it */
        from = b->pieces[i].at;
        span[n++] = (hashed_span){at, b->pieces[i].lit->len, b->pieces[i].lit->h};
        at += b->pieces[i].lit->len;
    }
    if (nspans)
        *nspans = n;
    return 0;
}

void claude_body_free(claude_body *b)
{
    for (size_t i = 0; i < b->npieces; i++)
        claude_literal_release(b->pieces[i].lit);
    free(b->pieces);
    free(b->own);
    memset(b, 0, sizeof *b);
}
