/* The value tree a render reads: strings, booleans, lists and hashed maps. Maps keep their
 * entries in insertion order (so warnings come out in a stable order) plus an open-addressing
 * index, so a lookup is one hash probe with the hash the compiler precomputed for the name. */
#include "template_int.h"
#include "base/array.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t tv_hash(const char *s, size_t len) { return XXH3_64bits(s, len); }

static tvalue *tv_new(int kind)
{
    tvalue *v = calloc(1, sizeof *v);
    if (v)
        v->kind = kind;
    return v;
}

tvalue *tvalue_map(void) { return tv_new(TVALUE_MAP); }
tvalue *tvalue_list(void) { return tv_new(TVALUE_LIST); }

tvalue *tvalue_bool(int b)
{
    tvalue *v = tv_new(TVALUE_BOOL);
    if (v)
        v->u.b = b ? 1 : 0;
    return v;
}

tvalue *tvalue_string(const char *s, size_t len)
{
    if (!s && len)
        return NULL;
    if (len == SIZE_MAX)
        return NULL;
    tvalue *v = tv_new(TVALUE_STRING);
    if (!v)
        return NULL;
    v->u.str.s = malloc(len + 1);
    if (!v->u.str.s) {
        free(v);
        return NULL;
    }
    if (len)
        memcpy(v->u.str.s, s, len);
    v->u.str.s[len] = '\0';
    v->u.str.len = len;
    return v;
}

void tvalue_free(tvalue *v)
{
    if (!v)
        return;
    switch (v->kind) {
    case TVALUE_STRING:
        free(v->u.str.s);
        break;
    case TVALUE_LIST:
        for (size_t i = 0; i < v->u.list.n; i++)
            tvalue_free(v->u.list.items[i]);
        free(v->u.list.items);
        break;
    case TVALUE_MAP:
        for (size_t i = 0; i < v->u.map.n; i++) {
            free(v->u.map.e[i].key);
            tvalue_free(v->u.map.e[i].v);
        }
        free(v->u.map.e);
        free(v->u.map.slots);
        break;
    default:
        break;
    }
    free(v);
}

int tvalue_kind(const tvalue *v) { return v ? v->kind : -1; }

/* Index of the slot holding key, or of the empty slot where it would go. */
static size_t map_slot(const tvalue *map, const char *key, size_t klen, uint64_t hash)
{
    size_t mask = map->u.map.nslots - 1;
    size_t i = (size_t)hash & mask;
    for (;;) {
        uint32_t s = map->u.map.slots[i];
        if (s == 0)
            return i;
        const tv_entry *e = &map->u.map.e[s - 1];
        if (e->hash == hash && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

const tvalue *tv_map_find(const tvalue *map, const char *key, size_t klen, uint64_t hash)
{
    if (!map || map->kind != TVALUE_MAP || map->u.map.n == 0)
        return NULL;
    uint32_t s = map->u.map.slots[map_slot(map, key, klen, hash)];
    return s ? map->u.map.e[s - 1].v : NULL;
}

const tvalue *tvalue_map_get(const tvalue *map, const char *key)
{
    if (!key)
        return NULL;
    size_t klen = strlen(key);
    return tv_map_find(map, key, klen, tv_hash(key, klen));
}

/* Rebuilds the index with n slots (a power of two). */
static int map_reindex(tvalue *map, size_t n)
{
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    free(map->u.map.slots);
    map->u.map.slots = slots;
    map->u.map.nslots = n;
    for (size_t k = 0; k < map->u.map.n; k++) {
        const tv_entry *e = &map->u.map.e[k];
        size_t i = map_slot(map, e->key, e->klen, e->hash);
        slots[i] = (uint32_t)(k + 1);
    }
    return 0;
}

int tvalue_map_set(tvalue *map, const char *key, tvalue *v)
{
    if (!map || map->kind != TVALUE_MAP || !key || !v)
        goto fail;
    size_t klen = strlen(key);
    uint64_t hash = tv_hash(key, klen);
    if (map->u.map.n) {
        uint32_t s = map->u.map.slots[map_slot(map, key, klen, hash)];
        if (s) {
            tv_entry *e = &map->u.map.e[s - 1];
            tvalue_free(e->v);
            e->v = v;
            return 0;
        }
    }
    if (map->u.map.n >= UINT32_MAX - 1)
        goto fail;
    tv_entry *e = array_room(map->u.map.e, map->u.map.n, &map->u.map.cap, sizeof *e, 8);
    if (!e)
        goto fail;
    map->u.map.e = e;
    /* Keep the index at most half full: probes stay short. */
    if ((map->u.map.n + 1) * 2 > map->u.map.nslots) {
        size_t n = map->u.map.nslots ? map->u.map.nslots * 2 : 16;
        if (map_reindex(map, n) != 0)
            goto fail;
    }
    char *k = malloc(klen + 1);
    if (!k)
        goto fail;
    memcpy(k, key, klen + 1);
    size_t i = map_slot(map, key, klen, hash);
    map->u.map.e[map->u.map.n] = (tv_entry){.key = k, .klen = klen, .hash = hash, .v = v};
    map->u.map.n++;
    map->u.map.slots[i] = (uint32_t)map->u.map.n;
    return 0;
fail:
    tvalue_free(v);
    return -1;
}

int tvalue_list_push(tvalue *list, tvalue *v)
{
    if (!list || list->kind != TVALUE_LIST || !v)
        goto fail;
    tvalue **items = array_room(list->u.list.items, list->u.list.n, &list->u.list.cap, sizeof *items, 8);
    if (!items)
        goto fail;
    list->u.list.items = items;
    list->u.list.items[list->u.list.n++] = v;
    return 0;
fail:
    tvalue_free(v);
    return -1;
}
