/* Arrays that double as they fill (like Lua's luaM_growvector): one growth rule for every layer. */
#ifndef NYX_BASE_ARRAY_H
#define NYX_BASE_ARRAY_H

#include <stddef.h>

/* Room for element n of items (*cap elements of size bytes): items itself while n < *cap, else
 * items reallocated to twice *cap elements (first when *cap is 0) with *cap updated; NULL when
 * out of memory, items and *cap untouched. The caller stores what it gets back. */
void *array_room(void *items, size_t n, size_t *cap, size_t size, size_t first);

#endif
