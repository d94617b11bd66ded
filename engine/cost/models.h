/* The model and price table: which model ids exist, what they cost, how long a prefix must
 * be before the API caches it. The table is data (data/models.json, which the build turns into
 * models_builtin.h's table with this file's own parser) that a user may override or extend
 * from their own JSON; nothing here is hard-coded. */
#ifndef NYX_COST_MODELS_H
#define NYX_COST_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "claude/types.h"

/* One set of prices, USD per million tokens of each kind. */
typedef struct price_set {
    double input, output, cache_write_5m, cache_write_1h, cache_read;
} price_set;

/* A prompt-length tier: a request whose prompt (input + cache reads + cache writes) exceeds
 * above_prompt_tokens is billed entirely at these prices, output included. */
typedef struct price_tier {
    int64_t above_prompt_tokens;
    price_set p;
} price_tier;

/* Prices in force from a date on. */
typedef struct price_row {
    double from;            /* UTC seconds since the epoch; 0 = since always */
    char from_date[11];     /* "YYYY-MM-DD", or "" */
    price_set p;           /* standard prices */
    price_tier *tiers;  /* ascending thresholds; owned */
    size_t ntiers;
} price_row;

/* A factor on every price, chosen by a value of a usage field (usage.inference_geo). */
typedef struct price_factor {
    char name[24];
    double factor;
} price_factor;

/* Forms of `thinking` a model accepts; a model without NYX_THINK_DISABLED always thinks. */
enum { NYX_THINK_ADAPTIVE = 1, NYX_THINK_ENABLED = 2, NYX_THINK_DISABLED = 4, NYX_THINK_ALL = 7 };
/* Sampling parameters a model accepts at a non-default value. */
enum { NYX_SAMPLE_TEMPERATURE = 1, NYX_SAMPLE_TOP_P = 2, NYX_SAMPLE_TOP_K = 4, NYX_SAMPLE_ALL = 7 };
/* Where a model is in its life. */
enum { NYX_LIFE_CURRENT = 0, NYX_LIFE_LEGACY, NYX_LIFE_DEPRECATED, NYX_LIFE_RETIRED };

typedef struct model_info {
    char *id;                  /* canonical name, as the API expects it */
    char **aliases;            /* dated ids, "-latest" and short names; never contains id */
    size_t naliases;
    /* The standard prices of the row in force when the table was loaded: for estimates
     * only. What a call cost comes from cost_of_usage_at(), which reads the rows. */
    double input, output, cache_write_5m, cache_write_1h, cache_read; /* USD per MTok */
    int has_price;             /* 0 for an entry given without prices */
    price_row *rows;       /* ascending `from`; owned; nrows > 0 when has_price */
    size_t nrows;
    price_set fast;           /* prices when usage.speed is "fast" */
    int has_fast;              /* 0: the model has no fast mode (or its prices are unknown) */
    double batch_factor;       /* on every price when usage.service_tier is "batch"; 0 = none */
    price_factor *geo;     /* by usage.inference_geo; owned */
    size_t ngeo;
    int64_t min_cache_tokens;  /* minimum cacheable prefix, > 0 */
    int min_cache_confirmed;   /* 0: a guess the engine may raise from usage */
    int min_cache_learned;     /* 1: raised from usage by models_raise_min_cache() */
    int64_t context_window, max_output; /* 0 when unknown */
    int lifecycle;             /* NYX_LIFE_* */
    char *deprecated, *retires; /* "YYYY-MM-DD", or NULL when none is known */
    char *replacement;         /* model to use instead; may be NULL */
    char *family;              /* "opus", "sonnet", "haiku", ...; may be NULL */
    unsigned thinking;         /* NYX_THINK_* bits */
    unsigned sampling;         /* NYX_SAMPLE_* bits */
    int forced_tool_choice_with_thinking; /* 1: tool_choice any/tool allowed with thinking on */
    char *default_effort;      /* may be NULL */
    int itpm_counts_cache_reads; /* 1: cache reads count toward input tokens per minute */
    char **unconfirmed;        /* field names not confirmed by an official source; owned */
    size_t nunconfirmed;
} model_info;

typedef struct model_table model_table;

/* Minimum cacheable prefix given to a model whose entry does not say (the long-standing
 * minimum of the 3.x/4.x Sonnet and Opus models). */
#define NYX_MODELS_DEFAULT_MIN_CACHE 1024

/* Builds the table from data/models.json as the build read it (models_builtin.h).
 * Returns a table to release with models_free(), or NULL with err filled in. */
model_table *models_new_default(error_info *err /* failure written here; may be NULL */);

/* A table of deep copies of n models (what models_at() of a merged table gives), with date
 * ("YYYY-MM-DD" or NULL) as its date; each model's flat prices are those of its row in force
 * now, as a merge sets them. Returns a table to release with models_free(), or NULL with err
 * filled in ("out_of_memory"; "invalid_argument" when two models share a name). */
model_table *models_new_from(const model_info *v, size_t n, const char *date, error_info *err);

/* Merges a JSON document {"models": [ {...}, ... ]} into the table.
 * An entry whose "id" is already known as an id or alias updates that model: every field
 * it gives replaces the old value, except "aliases", which are added to the existing ones
 * (so a dated id the API reports in responses always keeps resolving). An unknown id adds a
 * model; it must give all five prices (flat, or rows in "prices") or none (has_price = 0),
 * and gets NYX_MODELS_DEFAULT_MIN_CACHE when it gives no "min_cache_tokens" (unconfirmed).
 * "prices" replaces every price row; a flat price field ("input", ...) replaces that price in
 * every row. Fields without a value given keep theirs (a new model accepts every thinking
 * form and sampling parameter, is "current", and counts no cache reads toward ITPM). Keys beginning with '_'
 * are comments; any other unknown key is an error (a misspelt price must not pass silently).
 * All or nothing: on failure the table is unchanged.
 * Returns 0, or -1 with err filled in: type "invalid_argument" with a message naming the
 * origin, the model and the field; "out_of_memory".
 * Pointers from models_find()/models_at() stay valid; the strings inside a model (id,
 * aliases, dates) are replaced by a successful merge, so copy them if you keep them. */
int models_merge_json(model_table *m,
                      const char *json,   /* the document; need not be NUL-terminated */
                      size_t len,         /* its length in bytes */
                      const char *origin, /* named in error messages, e.g. a path; may be NULL */
                      error_info *err);    /* failure written here; may be NULL */

/* models_merge_json() on the contents of a file; the path is the origin.
 * Returns 0, or -1 with err filled in (also type "io_error" when the file cannot be read). */
int models_merge_file(model_table *m, const char *path, error_info *err);

/* Finds a model by id or alias, exact and case-sensitive. Does not allocate.
 * Returns the model, owned by the table and valid until models_free(); NULL if unknown. */
const model_info *models_find(const model_table *m, const char *name);

/* Number of models, and the i-th in table order (data/models.json's order, then added ones).
 * models_at returns NULL when i >= models_count(m). */
size_t models_count(const model_table *m);
const model_info *models_at(const model_table *m, size_t i);

/* The price row in force at a time (UTC seconds since the epoch): the last row whose
 * `from` is not after it. Returns NULL when the model has no price. */
const price_row *models_row_at(const model_info *md, double at);

/* The table's date ("YYYY-MM-DD": the latest "date" of the documents merged), or NULL. */
const char *models_date(const model_table *m);

/* "current", "legacy", "deprecated" or "retired". */
const char *models_lifecycle_name(int lifecycle);

/* 1 when the entry lists the field as unconfirmed, else 0. */
int models_unconfirmed(const model_info *md, const char *field);

/* Raises a model's minimum cacheable prefix to min_tokens, learned from usage; a lower or
 * equal value changes nothing. Returns 1 when it changed, 0 when not, -1 when the name is
 * unknown. */
int models_raise_min_cache(model_table *m, const char *name, int64_t min_tokens);

/* UTC seconds since the epoch at 00:00 of a "YYYY-MM-DD" date; -1 when malformed. */
double models_date_time(const char *date);

/* Releases the table and every model in it. NULL does nothing. */
void models_free(model_table *m);

#endif
