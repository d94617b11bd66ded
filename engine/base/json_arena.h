/* The nodes of a tree that is only printed, taken from room kept from tree to tree. A request
 * body is such a tree, built on every call: made of cJSON_Create* nodes it cost an allocation
 * and a free a node (13 for the plainest call) and a copy of every raw text. Here a node is a
 * slot of a chunk the arena keeps; what a node shows (a string, a raw text) is referenced, not
 * copied, unless it is short text made for the node (a number, a mark). A tree cJSON made on
 * its own (one parsed from the caller's JSON) joins the tree as it is and is deleted at reset.
 * Never pass an arena's node to cJSON_Delete. */
#ifndef NYX_BASE_JSON_ARENA_H
#define NYX_BASE_JSON_ARENA_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Room for a node's own short text, with its NUL (base/json_number.h's JSON_NUMBER_TEXT). */
#define JSON_ARENA_TEXT 32
/* Nodes kept past a reset at most: more were made for one uncommon tree, let go then. */
#define JSON_ARENA_KEEP 1024

typedef struct json_arena_chunk json_arena_chunk;

typedef struct json_arena {
    json_arena_chunk *first; /* kept from tree to tree */
    json_arena_chunk *cur;
    size_t used;  /* slots of cur taken */
    size_t slots; /* in all chunks */
    cJSON **owned; /* trees cJSON allocated, deleted at reset */
    size_t nowned, owned_cap;
} json_arena;

/* A node of type (cJSON_Object, cJSON_String, cJSON_Raw, cJSON_True, ...) showing value (which
 * must outlive the print; NULL for a container); NULL when out of memory. */
cJSON *json_arena_node(json_arena *a, int type, const char *value);

/* A node of type showing a copy of text[0..len), len < JSON_ARENA_TEXT; NULL when out of
 * memory or when the text is longer. */
cJSON *json_arena_text(json_arena *a, int type, const char *text, size_t len);

/* A finite number, written as json_number.h's json_double writes it (the shortest text that
 * reads back as v; cJSON's print settles for one merely close); NULL when v is not finite or
 * out of memory. */
cJSON *json_arena_number(json_arena *a, double v);

/* tree, now the arena's to delete at reset; NULL (tree deleted) when out of memory. */
cJSON *json_arena_own(json_arena *a, cJSON *tree);

/* Deletes the owned trees and makes every slot free again (the nodes given out are gone). */
void json_arena_reset(json_arena *a);

/* Resets and lets go of all the room; a is then empty (all zero). */
void json_arena_free(json_arena *a);

#endif
