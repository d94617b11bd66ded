#include "base/array.h"

#include <stdint.h>
#include <stdlib.h>

void *array_room(void *items, size_t n, size_t *cap, size_t size, size_t first)
{
    if (n < *cap)
        return items;
    size_t grown = *cap ? *cap * 2 : first;
    if (grown < *cap || grown > SIZE_MAX / size)
        return NULL;
    void *p = realloc(items, grown * size);
    if (p)
        *cap = grown;
    return p;
}
