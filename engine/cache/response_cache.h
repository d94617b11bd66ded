/* The response cache, layer 1: exact-match answers kept in memory (LRU, bounded by entries
 * and by age). Opt-in; native prompt caching stays the default path. */
#ifndef NYX_RESPONSE_CACHE_H
#define NYX_RESPONSE_CACHE_H

#include "claude/types.h"

#include <stddef.h>

#define RESPONSE_KEY_SIZE 33 /* 128-bit hash as hex, NUL-terminated */

typedef struct response_cache response_cache;

response_cache *response_cache_new(size_t max_entries, double ttl_s);
void response_cache_free(response_cache *rc);
/* The age at which entries stored from now on expire (cache.ttl.ephemeral); entries already
 * kept keep theirs. A negative ttl_s changes nothing. */
void response_cache_set_ttl(response_cache *rc, double ttl_s);

/* The key over everything that determines an answer: model, system, messages, tools,
 * temperature, max_tokens and stop sequences (not cache marks, not streaming). */
void response_cache_key(const claude_request *req, char key[RESPONSE_KEY_SIZE]);

/* Copies a live entry into out (which the caller frees with response_free); returns 1 on
 * a hit, 0 on a miss. */
int response_cache_get(response_cache *rc, const char *key, double now, claude_response *out);

/* Keeps a copy of resp under key; returns 0, or -1 when out of memory (nothing kept). */
int response_cache_put(response_cache *rc, const char *key, const claude_response *resp, double now);

/* A response as JSON for the persistent layer (its content printed, and kept in resp, when
 * it was not yet), and back. */
char *response_to_json(claude_response *resp);
int response_from_json(const char *json, claude_response *out);

#endif
