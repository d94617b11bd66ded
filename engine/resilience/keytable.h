/* Objects by string key: the per-model (and per-agent) state of the rate limiter and the
 * circuit breaker. Open addressing; lookups do not allocate. */
#ifndef NYX_KEYTABLE_H
#define NYX_KEYTABLE_H

#include <stddef.h>

typedef struct keytable_slot {
    char *key;
    void *obj;
} keytable_slot;

typedef struct keytable {
    keytable_slot *slots; /* power-of-two size */
    size_t size, count;
} keytable;

/* The object stored under key, or NULL. */
void *keytable_find(const keytable *t, const char *key);

/* The object under key, created zeroed (size bytes) when absent, in which case *created is 1.
 * *name receives the table's copy of the key, valid until keytable_free. NULL when out of
 * memory. */
void *keytable_get_or_add(keytable *t, const char *key, size_t size, const char **name, int *created);

/* Frees every key and object. */
void keytable_free(keytable *t);

#endif
