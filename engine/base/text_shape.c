/* The counts of text_shape.h, in one pass over the bytes. Most texts are words: the letters
 * after a word's first are passed over in a loop of their own, which tests nothing else. */
#include "base/text_shape.h"

static int is_letter(unsigned c) { return (c | 0x20) - 'a' < 26; }

/* What the byte before was: a letter that follows WORD or SPACE goes on a word (the space
 * just before a word joins it; one before it, or before anything else, is counted); after
 * OTHER, a letter begins a word that a tokenizer may split off it. A text begins as after
 * OTHER: its first letter may be a token of its own. */
enum { WORD, SPACE, OTHER };

void text_shape_add(text_shape *s, const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t other = 0, nonascii = 0;
    int prev = OTHER;
    for (size_t i = 0; i < len; i++) {
        unsigned c = u[i];
        if (is_letter(c)) {
            other += prev == OTHER;
            prev = WORD;
            while (i + 1 < len && is_letter(u[i + 1])) /* the rest of the word */
                i++;
            continue;
        }
        /* A space that did not join a word is a token of its own, at most. */
        other += prev == SPACE;
        if (c == ' ') {
            prev = SPACE; /* counted once what follows is known */
        } else if (c >= 0x80) {
            nonascii++;
            prev = OTHER;
        } else {
            other++;
            prev = OTHER;
        }
    }
    other += prev == SPACE;
    s->bytes += len;
    s->other += other;
    s->nonascii += nonascii;
}

void text_shape_sum(text_shape *a, const text_shape *b)
{
    a->bytes += b->bytes;
    a->other += b->other;
    a->nonascii += b->nonascii;
}
