/* Nodes for trees only printed, from kept chunks (json_arena.h). */
#include "base/json_arena.h"

#include "base/json_number.h"
#include "base/pooling.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    cJSON node;
    char text[JSON_ARENA_TEXT];
} slot;

struct json_arena_chunk {
    json_arena_chunk *next;
    size_t n;
    slot s[];
};

#define FIRST_CHUNK 24 /* a plain call's body takes 13 */

static slot *take(json_arena *a)
{
    if (a->cur && a->used < a->cur->n)
        return &a->cur->s[a->used++];
    json_arena_chunk *next = a->cur ? a->cur->next : a->first;
    if (!next) { /* each chunk twice the room of all before it */
        size_t n = a->slots ? 2 * a->slots : FIRST_CHUNK;
        if (!(next = malloc(sizeof *next + n * sizeof(slot))))
            return NULL;
        next->next = NULL;
        next->n = n;
        a->slots += n;
        if (a->cur)
            a->cur->next = next;
        else
            a->first = next;
    }
    a->cur = next;
    a->used = 1;
    return &next->s[0];
}

cJSON *json_arena_node(json_arena *a, int type, const char *value)
{
    slot *s = take(a);
    if (!s)
        return NULL;
    /* A reference: were it ever deleted, cJSON would free neither its value nor children. */
    s->node = (cJSON){.type = type | cJSON_IsReference, .valuestring = (char *)value};
    return &s->node;
}

cJSON *json_arena_text(json_arena *a, int type, const char *text, size_t len)
{
    if (len >= JSON_ARENA_TEXT)
        return NULL;
    slot *s = take(a);
    if (!s)
        return NULL;
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    s->node = (cJSON){.type = type | cJSON_IsReference, .valuestring = s->text};
    return &s->node;
}

cJSON *json_arena_number(json_arena *a, double v)
{
    char text[JSON_ARENA_TEXT];
    int n = json_double_text(v, text, sizeof text);
    return n > 0 ? json_arena_text(a, cJSON_Raw, text, (size_t)n) : NULL;
}

cJSON *json_arena_own(json_arena *a, cJSON *tree)
{
    if (!tree)
        return NULL;
    if (a->nowned == a->owned_cap) {
        size_t cap = a->owned_cap ? 2 * a->owned_cap : 4;
        cJSON **o = realloc(a->owned, cap * sizeof *o);
        if (!o) {
            cJSON_Delete(tree);
            return NULL;
        }
        a->owned = o;
        a->owned_cap = cap;
    }
    a->owned[a->nowned++] = tree;
    return tree;
}

static void free_chunks(json_arena *a)
{
    for (json_arena_chunk *c = a->first, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->first = NULL;
    a->slots = 0;
}

void json_arena_reset(json_arena *a)
{
    for (size_t i = 0; i < a->nowned; i++) {
        cJSON *t = a->owned[i];
        t->next = t->prev = NULL; /* its siblings are not its to delete */
        cJSON_Delete(t);
    }
    a->nowned = 0;
    a->cur = NULL;
    a->used = 0;
    if (!NYX_POOLING || a->slots > JSON_ARENA_KEEP)
        free_chunks(a);
}

void json_arena_free(json_arena *a)
{
    json_arena_reset(a);
    free_chunks(a);
    free(a->owned);
    memset(a, 0, sizeof *a);
}
