/* What a text is made of, for the most tokens it may hold (a budget's worst case, in
 * cache/policy.c). A tokenizer makes few tokens of words (letters, and the one space before
 * each, which joins the word after it) but may make a token of every other byte: a digit, a
 * mark, a line break, a letter that begins a word after a mark or a digit ("a1b2", base64).
 * Bytes of other scripts are counted apart: a token for each of their characters, which are
 * two to four bytes long, is the most a tokenizer has been seen to make of them. */
#ifndef NYX_BASE_TEXT_SHAPE_H
#define NYX_BASE_TEXT_SHAPE_H

#include <stddef.h>

typedef struct text_shape {
    size_t bytes;    /* all of them */
    size_t other;    /* ASCII bytes that may each be a token of their own */
    size_t nonascii; /* bytes of characters beyond ASCII */
} text_shape;

/* Adds the bytes of text[0..len) to s (which starts zeroed); texts added one after another
 * are counted each from its own start. */
void text_shape_add(text_shape *s, const char *text, size_t len);

/* Adds b's counts to a. */
void text_shape_sum(text_shape *a, const text_shape *b);

#endif
