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

/* Lets go of the body's bytes and references; b is then empty (all zero). */
void claude_body_free(claude_body *b);

#endif
