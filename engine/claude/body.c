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

/* Where each literal of b goes in its flattening, with its hash, into span[] (at most
 * max_spans; may be NULL), their number to *nspans (may be NULL). */
static void literal_spans(const claude_body *b, hashed_span *span, size_t max_spans, size_t *nspans)
{
    size_t at = 0, from = 0, n = 0;
    for (size_t i = 0; span && i < b->npieces && n < max_spans; i++) {
        at += b->pieces[i].at - from; /* the body's own bytes before it */
        from = b->pieces[i].at;
        span[n++] = (hashed_span){at, b->pieces[i].lit->len, b->pieces[i].lit->h};
        at += b->pieces[i].lit->len;
    }
    if (nspans)
        *nspans = n;
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
    literal_spans(b, span, max_spans, nspans);
    return 0;
}

/* 1 when f lists lit at offset at: its bytes are there already. */
static int in_place(const claude_body_flat *f, const claude_literal *lit, size_t at)
{
    for (size_t i = 0; i < f->nkept; i++)
        if (f->kept[i].lit == lit && f->kept[i].at == at)
            return 1;
    return 0;
}

void claude_body_flat_forget(claude_body_flat *f)
{
    for (size_t i = 0; i < f->nkept; i++)
        claude_literal_release(f->kept[i].lit);
    f->nkept = 0;
}

int claude_body_flatten_kept(const claude_body *b, claude_body_flat *f, hashed_span *span, size_t max_spans,
                             size_t *nspans)
{
    if (nspans)
        *nspans = 0;
    textbuf *o = f->buf;
    /* Emptied without textbuf_reset, which writes a NUL at the start (over a literal there). */
    o->len = 0;
    o->failed = 0;
    if (!b->own || textbuf_reserve(o, b->len) != 0) { /* a realloc keeps the bytes in place */
        claude_body_flat_forget(f);
        return -1;
    }
    claude_body_flat now = {.buf = o};
    char *w = o->s;
    size_t from = 0;
    for (size_t i = 0; i < b->npieces; i++) {
        const claude_body_piece *p = &b->pieces[i];
        memcpy(w, b->own + from, p->at - from);
        w += p->at - from;
        size_t at = (size_t)(w - o->s);
        if (!in_place(f, p->lit, at))
            memcpy(w, p->lit->text, p->lit->len);
        if (now.nkept < CLAUDE_FLAT_KEEP) {
            p->lit->refs++; /* the literal listed keeps its address */
            now.kept[now.nkept].lit = p->lit;
            now.kept[now.nkept++].at = at;
        }
        w += p->lit->len;
        from = p->at;
    }
    memcpy(w, b->own + from, b->own_len - from);
    w += b->own_len - from;
    *w = '\0';
    o->len = b->len;
    claude_body_flat_forget(f);
    *f = now;
    literal_spans(b, span, max_spans, nspans);
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
