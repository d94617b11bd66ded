/* The memo of JSON string literals (json_text.h): a few slots, the least recently used
 * replaced. Each keeps the text and its literal, so a hit is confirmed byte for byte. */
#include "claude/json_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SLOTS 8
#define MAX_TEXT ((size_t)1 << 20)

typedef struct slot {
    uint64_t h;
    char *text;    /* a copy of the text, to confirm a hit */
    size_t len;
    char *literal; /* its JSON string, quotes included */
    unsigned long used;
} slot;

struct claude_json_texts {
    slot s[SLOTS];
    unsigned long clock, made, found;
};

claude_json_texts *claude_json_texts_new(void) { return calloc(1, sizeof(claude_json_texts)); }

void claude_json_texts_free(claude_json_texts *t)
{
    if (!t)
        return;
    for (int i = 0; i < SLOTS; i++) {
        free(t->s[i].text);
        free(t->s[i].literal);
    }
    free(t);
}

void claude_json_texts_counts(const claude_json_texts *t, unsigned long *made, unsigned long *found)
{
    *made = t ? t->made : 0;
    *found = t ? t->found : 0;
}

/* The literal cJSON prints for text. */
static char *literal_of(const char *text)
{
    cJSON *s = cJSON_CreateStringReference(text);
    char *out = s ? cJSON_PrintUnformatted(s) : NULL;
    cJSON_Delete(s);
    return out;
}

cJSON *claude_json_text(claude_json_texts *t, const char *text, size_t len)
{
    if (!t || len < JSON_TEXT_MIN || len > MAX_TEXT)
        return cJSON_CreateStringReference(text);
    uint64_t h = XXH3_64bits(text, len);
    slot *lru = &t->s[0];
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &t->s[i];
        if (s->literal && s->h == h && s->len == len && memcmp(s->text, text, len) == 0) {
            s->used = ++t->clock;
            t->found++;
            return cJSON_CreateRaw(s->literal);
        }
        if (s->used < lru->used)
            lru = s;
    }
    char *copy = malloc(len + 1), *literal = copy ? literal_of(text) : NULL;
    if (!literal) { /* out of memory: the plain way, which may still work */
        free(copy);
        return cJSON_CreateStringReference(text);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(lru->text);
    free(lru->literal);
    *lru = (slot){h, copy, len, literal, ++t->clock};
    t->made++;
    return cJSON_CreateRaw(literal);
}

/* A raw node that prints literal without owning a copy of it. */
static cJSON *raw_reference(const char *literal)
{
    cJSON *node = cJSON_CreateStringReference(literal);
    if (node)
        node->type = cJSON_Raw | cJSON_IsReference;
    return node;
}

cJSON *claude_json_block_text(claude_json_texts *t, const claude_block *b)
{
    if (!t || !b->shared || b->len > MAX_TEXT)
        return claude_json_text(t, b->text, b->len);
    const char *literal = block_literal(b);
    if (literal) {
        t->found++;
        return raw_reference(literal);
    }
    char *made = literal_of(b->text);
    if (!made || block_keep_literal(b, made) != 0) {
        free(made);
        return claude_json_text(t, b->text, b->len);
    }
    t->made++;
    return raw_reference(made);
}
