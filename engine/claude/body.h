/* A request body in pieces: its own bytes with, between them, references to JSON literals
 * shared with the memo and with other bodies (claude/json_text.h). What a call holds while it
 * waits is this, a few hundred bytes beside the shared system prompt; the bytes in one piece
 * are made when something needs them (the transfer, the record) and let go after. */
#ifndef NYX_CLAUDE_BODY_H
#define NYX_CLAUDE_BODY_H

#include <stddef.h>

struct claude_literal;
struct textbuf;

typedef struct claude_body_piece {
    size_t at;                  /* the literal goes before own[at] */
    struct claude_literal *lit; /* a reference held by the body */
} claude_body_piece;

typedef struct claude_body {
    char *own; /* the body's own bytes, NUL-terminated; NULL: no body */
    size_t own_len;
    claude_body_piece *pieces; /* in order of at */
    size_t npieces;
    size_t len; /* of the whole body */
} claude_body;

/* The whole body in one allocation, NUL-terminated after len bytes; NULL when out of memory
 * or when b holds no body. */
char *claude_body_flatten(const claude_body *b);

/* Writes the body's len bytes, then a NUL, at out (len + 1 bytes of room), with no copy of
 * its own between. Returns 0, or -1 when b holds no body. */
int claude_body_write(const claude_body *b, char *out);

/* The whole body written over o (its length set to len; o's room kept for the next use, so a
 * caller that flattens one body after another allocates only when a body is longer than any
 * before). Where each literal went, with its hash (made once with it), goes to span[], in
 * order, at most max_spans, their number to *nspans (span and nspans may be NULL): the
 * redaction memo need not hash a shared system prompt again for every record. Returns 0, or
 * -1 when out of memory (o failed) or when b holds no body. */
struct hashed_span;
int claude_body_flatten_into(const claude_body *b, struct textbuf *o, struct hashed_span *span,
                             size_t max_spans, size_t *nspans);

/* A buffer that bodies are flattened into one after another (a call's record, record after
 * record), and the literals the last one left in it, each at its offset. A literal that the
 * next body places at the same offset is in place already and is not written again: the
 * system prompt that every call shares (15 KB in bench/workload.lua) is copied once, not for
 * every record. Each literal listed holds a reference, so its address stays its own. Start
 * from {0}; nothing but claude_body_flatten_kept writes into buf while literals are listed
 * (claude_body_flat_forget first). */
#define CLAUDE_FLAT_KEEP 8
typedef struct claude_body_flat {
    struct textbuf *buf;
    struct {
        struct claude_literal *lit;
        size_t at;
    } kept[CLAUDE_FLAT_KEEP];
    size_t nkept;
} claude_body_flat;

/* claude_body_flatten_into(b, f->buf, ...), copying no literal that f says is in place, and
 * listing in f those it wrote. */
int claude_body_flatten_kept(const claude_body *b, claude_body_flat *f, struct hashed_span *span,
                             size_t max_spans, size_t *nspans);
/* Forgets the literals listed (f->buf is about to be written otherwise, or freed). */
void claude_body_flat_forget(claude_body_flat *f);

/* Lets go of the body's bytes and references; b is then empty (all zero). */
void claude_body_free(claude_body *b);

#endif
