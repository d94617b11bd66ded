#define _GNU_SOURCE /* malloc_usable_size */
/* The allocator of the Lua state nyx makes (lnyx.h). Lua allocates and frees its small
 * objects (tables, strings, closures, userdata) at a high rate: a call's result alone is a
 * dozen. Freed in bursts by the collector's sweep, they overflow malloc's per-thread cache
 * and each free and malloc goes the long way (measured by callgrind on bench/workload.lua:
 * about 9,400 instructions a call in Lua's allocator, for some 30 mallocs and 45 frees).
 * Here blocks of up to POOL_MAX bytes are kept, by size class, in free lists that the next
 * allocation of the class takes back, a few instructions each way. The lists hold at most
 * POOL_KEEP_BYTES in all; beyond, freed blocks go back to malloc, so a heap that shrinks gives
 * its memory back. */
#include "lnyx.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define POOL_GRAIN 16
#define POOL_MAX 1024 /* larger blocks go to malloc as they are; a result table's 32 slots take 768 */
#define POOL_CLASSES (POOL_MAX / POOL_GRAIN)
/* Free blocks kept, all classes together. A budget of 1 MB served no more allocations from
 * the lists at 64 or 1,000 calls in flight (bench/workload.lua) and added 1 MB to the peak
 * RSS at 1,000. */
#define POOL_KEEP_BYTES ((size_t)256 << 10)

typedef struct free_block {
    struct free_block *next;
} free_block;

struct lnyx_pool {
    free_block *free[POOL_CLASSES];
    size_t kept; /* bytes in the free lists */
};

/* The class of a block of size bytes (1 to POOL_MAX), and the size its blocks have. */
static size_t class_of(size_t size) { return (size - 1) / POOL_GRAIN; }
static size_t class_size(size_t c) { return (c + 1) * POOL_GRAIN; }

lnyx_pool *lnyx_pool_new(void) { return calloc(1, sizeof(lnyx_pool)); }

void lnyx_pool_free(lnyx_pool *p)
{
    if (!p)
        return;
    for (size_t c = 0; c < POOL_CLASSES; c++)
        while (p->free[c]) {
            free_block *b = p->free[c];
            p->free[c] = b->next;
            free(b);
        }
    free(p);
}

static void *take(lnyx_pool *p, size_t size)
{
    if (size > POOL_MAX)
        return malloc(size);
    size_t c = class_of(size);
    free_block *b = p->free[c];
    if (!b)
        return malloc(class_size(c));
    p->free[c] = b->next;
    p->kept -= class_size(c);
    return b;
}

/* A block of size bytes as Lua knows it. Blocks the state made before the pool was its
 * allocator (luaL_newstate's own) may be smaller than their class: those go back to malloc. */
static void give(lnyx_pool *p, void *ptr, size_t size)
{
    if (size > POOL_MAX || size == 0) {
        free(ptr);
        return;
    }
    size_t c = class_of(size);
    if (p->kept + class_size(c) > POOL_KEEP_BYTES || malloc_usable_size(ptr) < class_size(c)) {
        free(ptr);
        return;
    }
    free_block *b = ptr;
    b->next = p->free[c];
    p->free[c] = b;
    p->kept += class_size(c);
}

void *lnyx_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lnyx_pool *p = ud;
    if (nsize == 0) {
        if (ptr)
            give(p, ptr, osize);
        return NULL;
    }
    if (!ptr) /* osize is the kind of object then, not a size */
        return take(p, nsize);
    if (osize > POOL_MAX && nsize > POOL_MAX)
        return realloc(ptr, nsize);
    /* The same class, and a block that has its class's size: it already fits. */
    if (osize <= POOL_MAX && nsize <= POOL_MAX && class_of(osize) == class_of(nsize) &&
        malloc_usable_size(ptr) >= class_size(class_of(nsize)))
        return ptr;
    void *n = take(p, nsize);
    if (!n) /* Lua keeps the old block; a block that shrinks is the same block then, which
             * fits what it holds (Lua counts on a shrink not failing) */
        return nsize <= osize ? ptr : NULL;
    memcpy(n, ptr, osize < nsize ? osize : nsize);
    give(p, ptr, osize);
    return n;
}
