#define _POSIX_C_SOURCE 200809L
#include "types.h"

#include "base/json_print.h"
#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int block_set(claude_block *b, const char *text, size_t len, int mark)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    b->text = copy;
    b->shared = NULL;
    b->len = len;
    b->mark = mark;
    b->kind = NYX_BLOCK_TEXT;
    b->no_mark = 0;
    return 0;
}

void request_init(claude_request *r)
{
    memset(r, 0, sizeof *r);
    r->temperature = -1.0;
    r->cache_mode = NYX_CACHE_AUTO;
}

/* ---- shared texts ---- */

#define POOL_SLOTS 16
#define POOL_MIN 1024 /* shorter texts are copied: sharing would save little */

struct shared_text {
    size_t refs;
    uint64_t h;
    size_t len;
    unsigned long used;
    int has_nul; /* a NUL among its len bytes: looked for once, not by each request built */
    long bad_utf8; /* utf8_bad of its bytes, found once likewise */
    text_shape shape; /* what its bytes are made of (block_shape_add), counted once likewise */
    claude_literal *literal; /* its JSON string literal, once made (block_keep_literal) */
    char bytes[];
};

struct text_pool {
    shared_text *slot[POOL_SLOTS]; /* each holds a reference */
    unsigned long clock, reads;
};

static _Atomic unsigned long alive;

unsigned long shared_texts_alive(void) { return alive; }

static void text_unref(shared_text *t)
{
    if (t && --t->refs == 0) {
        alive--;
        claude_literal_release(t->literal);
        free(t);
    }
}

text_pool *text_pool_new(void) { return calloc(1, sizeof(text_pool)); }

void text_pool_free(text_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < POOL_SLOTS; i++)
        text_unref(p->slot[i]);
    free(p);
}

unsigned long text_pool_reads(const text_pool *p) { return p ? p->reads : 0; }

static shared_text *pooled(text_pool *p, const char *text, size_t len)
{
    uint64_t h = XXH3_64bits(text, len);
    p->reads++;
    int lru = 0;
    for (int i = 0; i < POOL_SLOTS; i++) {
        shared_text *t = p->slot[i];
        if (t && t->h == h && t->len == len && memcmp(t->bytes, text, len) == 0) {
            t->used = ++p->clock;
            return t;
        }
        if (!t || (p->slot[lru] && t->used < p->slot[lru]->used))
            lru = i;
    }
    shared_text *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    *t = (shared_text){1, h, len, ++p->clock, memchr(text, '\0', len) != NULL, utf8_bad(text, len), {0}, NULL};
    text_shape_add(&t->shape, text, len);
    alive++;
    memcpy(t->bytes, text, len);
    t->bytes[len] = '\0';
    text_unref(p->slot[lru]);
    p->slot[lru] = t;
    return t;
}

int block_set_pooled(claude_block *b, text_pool *pool, const char *text, size_t len, int mark)
{
    shared_text *t = pool && len >= POOL_MIN ? pooled(pool, text, len) : NULL;
    if (!t)
        return block_set(b, text, len, mark);
    if (block_set(b, "", 0, mark) != 0)
        return -1;
    free(b->text);
    t->refs++;
    b->shared = t;
    b->text = t->bytes;
    b->len = len;
    return 0;
}

int block_set_like(claude_block *b, const claude_block *from, int mark)
{
    if (!from->shared)
        return -1;
    *b = (claude_block){.text = from->text, .shared = from->shared, .len = from->len, .mark = mark};
    from->shared->refs++;
    return 0;
}

void block_free(claude_block *b)
{
    if (b->shared)
        text_unref(b->shared);
    else
        free(b->text);
    memset(b, 0, sizeof *b);
}

int block_has_nul(const claude_block *b)
{
    return b->shared ? b->shared->has_nul : memchr(b->text, '\0', b->len) != NULL;
}

long block_utf8_bad(const claude_block *b)
{
    return b->shared ? b->shared->bad_utf8 : utf8_bad(b->text, b->len);
}

/* Adds what b's text is made of to s (base/text_shape.h): kept with a shared text (counted
 * once, when pooled), counted otherwise. */
static void block_shape_add(const claude_block *b, text_shape *s)
{
    if (b->shared)
        text_shape_sum(s, &b->shared->shape);
    else
        text_shape_add(s, b->text, b->len);
}

void request_shape(const claude_request *req, text_shape *s)
{
    *s = (text_shape){0};
    if (req->tools_json)
        text_shape_add(s, req->tools_json, strlen(req->tools_json));
    for (size_t i = 0; i < req->nsystem; i++)
        block_shape_add(&req->system[i], s);
    for (size_t i = 0; i < req->nmessages; i++)
        for (size_t j = 0; j < req->messages[i].nblocks; j++)
            block_shape_add(&req->messages[i].blocks[j], s);
}

uint64_t block_hash(const claude_block *b)
{
    return b->shared ? b->shared->h : XXH3_64bits(b->text, b->len);
}

claude_literal *claude_literal_new(const char *json, size_t len)
{
    claude_literal *l = malloc(sizeof *l + len + 1);
    if (!l)
        return NULL;
    l->refs = 1;
    l->len = len;
    memcpy(l->text, json, len);
    l->text[len] = '\0';
    l->h = quick_hash_of(l->text, len);
    return l;
}

void claude_literal_release(claude_literal *l)
{
    if (l && --l->refs == 0)
        free(l);
}

claude_literal *block_literal(const claude_block *b) { return b->shared ? b->shared->literal : NULL; }

int block_keep_literal(const claude_block *b, claude_literal *literal)
{
    if (!b->shared || b->shared->literal)
        return -1;
    b->shared->literal = literal;
    return 0;
}

int block_truncate(claude_block *b, size_t len)
{
    if (len > b->len)
        return -1;
    if (b->shared) {
        char *copy = malloc(len + 1);
        if (!copy)
            return -1;
        memcpy(copy, b->text, len);
        text_unref(b->shared);
        b->shared = NULL;
        b->text = copy;
    }
    b->text[len] = '\0';
    b->len = len;
    return 0;
}

static void free_blocks(claude_block *blocks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (blocks[i].shared)
            text_unref(blocks[i].shared);
        else
            free(blocks[i].text);
    }
    free(blocks);
}

void request_free(claude_request *r)
{
    if (!r)
        return;
    free(r->model);
    free_blocks(r->system, r->nsystem);
    for (size_t i = 0; i < r->nmessages; i++)
        free_blocks(r->messages[i].blocks, r->messages[i].nblocks);
    free(r->messages);
    free(r->tools_json);
    free(r->tool_choice_json);
    free(r->effort);
    free(r->output_schema_json);
    for (size_t i = 0; i < r->nstop; i++)
        free(r->stop_sequences[i]);
    free(r->stop_sequences);
    free(r->user_id);
    request_init(r);
}

void response_init(claude_response *r) { memset(r, 0, sizeof *r); }

void response_free(claude_response *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->model);
    free(r->stop_reason);
    free(r->stop_sequence);
    free(r->text);
    cJSON_Delete(r->content);
    free(r->content_json);
    free(r->request_id);
    response_init(r);
}

const char *response_content_json(claude_response *r)
{
    if (!r->content_json && r->content)
        r->content_json = json_print(r->content);
    return r->content_json;
}
