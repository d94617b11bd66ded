/* The memo of JSON string literals (json_text.h): a few slots, the least recently used
 * replaced. Each keeps the text and its literal, so a hit is confirmed byte for byte. */
#define _DEFAULT_SOURCE
#include "claude/json_text.h"

#include "base/json_arena.h"
#include "base/json_print.h"
#include "base/random.h"
#include "base/text.h"
#include "base/textbuf.h"
#include "claude/body.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SLOTS 8
#define MAX_TEXT ((size_t)1 << 20)

/* A mark in a body built in pieces: MARK_BYTE, the memo's tag in 16 hex digits, the index of
 * the literal among those of the build in 4. cJSON escapes every control byte of a string, so
 * MARK_BYTE reaches the printed text only through raw nodes: these marks, and the JSON a
 * caller passes through verbatim, which cannot hold the tag without knowing it. */
#define MARK_BYTE '\x01'
#define MARK_LEN 21
#define MAX_MARKS 0xffff

typedef struct slot {
    uint64_t h;
    char *text; /* a copy of the text, to confirm a hit */
    size_t len;
    claude_literal *lit; /* its JSON string */
    unsigned long used;
} slot;

struct claude_json_texts {
    slot s[SLOTS];
    unsigned long clock, made, found;
    char tag[17];
    /* the build in pieces under way: the literals its marks stand for, by index */
    int building;
    claude_literal **marked;
    size_t nmarked, cap;
    textbuf printed; /* claude_json_texts_scratch */
    json_arena nodes; /* claude_json_texts_arena */
};

claude_json_texts *claude_json_texts_new(void)
{
    claude_json_texts *t = calloc(1, sizeof(claude_json_texts));
    if (!t)
        return NULL;
    text_hex(t->tag, random_u64(), 16);
    return t;
}

static void drop_marked(claude_json_texts *t)
{
    for (size_t i = 0; i < t->nmarked; i++)
        claude_literal_release(t->marked[i]);
    t->nmarked = 0;
}

void claude_json_texts_free(claude_json_texts *t)
{
    if (!t)
        return;
    for (int i = 0; i < SLOTS; i++) {
        free(t->s[i].text);
        claude_literal_release(t->s[i].lit);
    }
    drop_marked(t);
    free(t->marked);
    free(t->printed.s);
    json_arena_free(&t->nodes);
    free(t);
}

struct textbuf *claude_json_texts_scratch(claude_json_texts *t) { return t ? &t->printed : NULL; }

json_arena *claude_json_texts_arena(claude_json_texts *t) { return t ? &t->nodes : NULL; }

void claude_json_texts_counts(const claude_json_texts *t, unsigned long *made, unsigned long *found)
{
    *made = t ? t->made : 0;
    *found = t ? t->found : 0;
}

/* The literal cJSON prints for text. */
static claude_literal *literal_of(const char *text)
{
    cJSON s;
    char *printed = json_print(json_node(&s, cJSON_String, NULL, text));
    claude_literal *l = printed ? claude_literal_new(printed, strlen(printed)) : NULL;
    cJSON_free(printed);
    return l;
}

/* The node for a literal (which outlives the node): in a build in pieces, a mark standing for
 * it, the build holding a reference. */
static cJSON *node_for(claude_json_texts *t, json_arena *a, claude_literal *lit)
{
    if (!t->building || t->nmarked >= MAX_MARKS)
        return json_arena_node(a, cJSON_Raw, lit->text);
    if (t->nmarked == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4;
        claude_literal **m = realloc(t->marked, cap * sizeof *m);
        if (!m)
            return NULL;
        t->marked = m;
        t->cap = cap;
    }
    char mark[MARK_LEN + 1];
    mark[0] = MARK_BYTE;
    memcpy(mark + 1, t->tag, 16);
    text_hex(mark + 17, t->nmarked, 4); /* nmarked < MAX_MARKS: four digits hold it */
    mark[MARK_LEN] = '\0';
    cJSON *node = json_arena_text(a, cJSON_Raw, mark, MARK_LEN);
    if (node) {
        lit->refs++;
        t->marked[t->nmarked++] = lit;
    }
    return node;
}

/* A node of a (base/json_arena.h) printing as the JSON string of text[0..len) (NUL-terminated
 * at len): for a long text with t, a raw node whose literal comes from the memo; otherwise a
 * reference to text (keep it alive while the node lives). NULL when out of memory. */
static cJSON *claude_json_text(claude_json_texts *t, json_arena *a, const char *text, size_t len)
{
    if (!t || len < JSON_TEXT_MIN || len > MAX_TEXT)
        return json_arena_node(a, cJSON_String, text);
    uint64_t h = XXH3_64bits(text, len);
    slot *lru = &t->s[0];
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &t->s[i];
        if (s->lit && s->h == h && s->len == len && memcmp(s->text, text, len) == 0) {
            s->used = ++t->clock;
            t->found++;
            return node_for(t, a, s->lit);
        }
        if (s->used < lru->used)
            lru = s;
    }
    char *copy = malloc(len + 1);
    claude_literal *lit = copy ? literal_of(text) : NULL;
    if (!lit) { /* out of memory: the plain way, which may still work */
        free(copy);
        return json_arena_node(a, cJSON_String, text);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(lru->text);
    claude_literal_release(lru->lit);
    *lru = (slot){h, copy, len, lit, ++t->clock};
    t->made++;
    return node_for(t, a, lit);
}

cJSON *claude_json_block_text(claude_json_texts *t, json_arena *a, const claude_block *b)
{
    if (!t || !b->shared || b->len > MAX_TEXT)
        return claude_json_text(t, a, b->text, b->len);
    claude_literal *literal = block_literal(b);
    if (literal) {
        t->found++;
        return node_for(t, a, literal);
    }
    claude_literal *made = literal_of(b->text);
    if (!made || block_keep_literal(b, made) != 0) {
        claude_literal_release(made);
        return claude_json_text(t, a, b->text, b->len);
    }
    t->made++;
    return node_for(t, a, made);
}

void claude_json_texts_begin(claude_json_texts *t)
{
    if (!t)
        return;
    drop_marked(t);
    t->building = 1;
}

/* The index a mark at p (MARK_LEN bytes available) stands for, or -1 when it is no mark of t. */
static long mark_at(const claude_json_texts *t, const char *p)
{
    if (p[0] != MARK_BYTE || memcmp(p + 1, t->tag, 16) != 0)
        return -1;
    long i = 0;
    for (int k = 17; k < MARK_LEN; k++) {
        char c = p[k];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        i = i * 16 + v;
    }
    return i < (long)t->nmarked && t->marked[i] ? i : -1;
}

int claude_json_texts_end(claude_json_texts *t, char *text, size_t len, claude_body *out)
{
    memset(out, 0, sizeof *out);
    if (!t) { /* no memo: the text is all the body's own */
        *out = (claude_body){text, len, NULL, 0, len};
        return 0;
    }
    t->building = 0;
    if (!text) {
        drop_marked(t);
        return 0;
    }
    claude_body_piece *pieces = t->nmarked ? malloc(t->nmarked * sizeof *pieces) : NULL;
    if (t->nmarked && !pieces) {
        drop_marked(t);
        free(text);
        return -1;
    }
    /* Cut the marks out, in place: each becomes a piece at the place it held. */
    size_t n = 0, w = 0, total = 0;
    for (size_t r = 0; r < len;) {
        const char *hit = memchr(text + r, MARK_BYTE, len - r);
        size_t upto = hit ? (size_t)(hit - text) : len;
        memmove(text + w, text + r, upto - r);
        w += upto - r;
        r = upto;
        if (!hit)
            break;
        long i = len - r >= MARK_LEN ? mark_at(t, text + r) : -1;
        if (i < 0) { /* not a mark: an ordinary byte */
            text[w++] = text[r++];
            continue;
        }
        pieces[n].at = w;
        pieces[n].lit = t->marked[i];
        t->marked[i] = NULL;
        total += pieces[n].lit->len;
        n++;
        r += MARK_LEN;
    }
    text[w] = '\0';
    drop_marked(t); /* a literal whose mark did not come out is let go */
    if (n == 0) {
        free(pieces);
        pieces = NULL;
    }
    *out = (claude_body){text, w, pieces, n, w + total};
    return 0;
}
