#define _POSIX_C_SOURCE 200809L
#include "keytable.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

static keytable_slot *slot_for(const keytable *t, const char *key)
{
    size_t mask = t->size - 1;
    size_t i = (size_t)hash_str(key) & mask;
    while (t->slots[i].key && strcmp(t->slots[i].key, key) != 0)
        i = (i + 1) & mask;
    return &t->slots[i];
}

void *keytable_find(const keytable *t, const char *key)
{
    if (!t || !key || t->size == 0)
        return NULL;
    return slot_for(t, key)->obj;
}

static int grow(keytable *t)
{
    size_t nsize = t->size ? t->size * 2 : 16;
    keytable_slot *old = t->slots;
    size_t osize = t->size;
    if (!(t->slots = calloc(nsize, sizeof *t->slots))) {
        t->slots = old;
        return -1;
    }
    t->size = nsize;
    for (size_t i = 0; i < osize; i++)
        if (old[i].key)
            *slot_for(t, old[i].key) = old[i];
    free(old);
    return 0;
}

void *keytable_get_or_add(keytable *t, const char *key, size_t size, const char **name, int *created)
{
    *created = 0;
    void *obj = keytable_find(t, key);
    if (obj) {
        *name = slot_for(t, key)->key;
        return obj;
    }
    if ((t->count + 1) * 4 > t->size * 3 && grow(t) != 0) /* keep the load under 3/4 */
        return NULL;
    char *copy = strdup(key);
    obj = calloc(1, size);
    if (!copy || !obj) {
        free(copy);
        free(obj);
        return NULL;
    }
    keytable_slot *s = slot_for(t, key);
    s->key = copy;
    s->obj = obj;
    t->count++;
    *name = copy;
    *created = 1;
    return obj;
}

void keytable_free(keytable *t)
{
    for (size_t i = 0; i < t->size; i++) {
        free(t->slots[i].key);
        free(t->slots[i].obj);
    }
    free(t->slots);
    memset(t, 0, sizeof *t);
}
