/* The model and price table: which model ids exist, what they cost, how long a prefix must
 * be before the API caches it. The table is data (data/models.json, embedded at build time)
 * that a user may override or extend from their own JSON; nothing here is hard-coded. */
#ifndef NYX_COST_MODELS_H
#define NYX_COST_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "claude/types.h"

typedef struct nyx_model {
    char *id;                  /* canonical name, as the API expects it */
    char **aliases;            /* dated ids, "-latest" and short names; never contains id */
    size_t naliases;
    double input, output, cache_write_5m, cache_write_1h, cache_read; /* USD per MTok */
    int has_price;             /* 0 for an entry given without prices */
    int64_t min_cache_tokens;  /* minimum cacheable prefix, > 0 */
    char *deprecated, *retires; /* "YYYY-MM-DD", or NULL when none is known */
    char *family;              /* "opus", "sonnet", "haiku", ...; may be NULL */
} nyx_model;

typedef struct nyx_models nyx_models;

/* Minimum cacheable prefix given to a model whose entry does not say (the long-standing
 * minimum of the 3.x/4.x Sonnet and Opus models). */
#define NYX_MODELS_DEFAULT_MIN_CACHE 1024

/* Builds the table from the embedded data/models.json.
 * Returns a table to release with models_free(), or NULL with err filled in. */
nyx_models *models_new_default(nyx_error *err /* failure written here; may be NULL */);

/* Merges a JSON document {"models": [ {...}, ... ]} into the table.
 * An entry whose "id" is already known as an id or alias updates that model: every field
 * it gives replaces the old value, except "aliases", which are added to the existing ones
 * (so a dated id the API reports in responses always keeps resolving). An unknown id adds a
 * model; it must give all five prices or none (has_price = 0), and gets
 * NYX_MODELS_DEFAULT_MIN_CACHE when it gives no "min_cache_tokens". Keys beginning with '_'
 * are comments; any other unknown key is an error (a misspelt price must not pass silently).
 * All or nothing: on failure the table is unchanged.
 * Returns 0, or -1 with err filled in: type "invalid_argument" with a message naming the
 * origin, the model and the field; "out_of_memory".
 * Pointers from models_find()/models_at() stay valid; the strings inside a model (id,
 * aliases, dates) are replaced by a successful merge, so copy them if you keep them. */
int models_merge_json(nyx_models *m,
                      const char *json,   /* the document; need not be NUL-terminated */
                      size_t len,         /* its length in bytes */
                      const char *origin, /* named in error messages, e.g. a path; may be NULL */
                      nyx_error *err);    /* failure written here; may be NULL */

/* models_merge_json() on the contents of a file; the path is the origin.
 * Returns 0, or -1 with err filled in (also type "io_error" when the file cannot be read). */
int models_merge_file(nyx_models *m, const char *path, nyx_error *err);

/* Finds a model by id or alias, exact and case-sensitive. Does not allocate.
 * Returns the model, owned by the table and valid until models_free(); NULL if unknown. */
const nyx_model *models_find(const nyx_models *m, const char *name);

/* Number of models, and the i-th in table order (embedded order, then added ones).
 * models_at returns NULL when i >= models_count(m). */
size_t models_count(const nyx_models *m);
const nyx_model *models_at(const nyx_models *m, size_t i);

/* Releases the table and every model in it. NULL does nothing. */
void models_free(nyx_models *m);

#endif
