#define _POSIX_C_SOURCE 200809L
/* The model and price table: parsing and validation of the JSON data, merging of user
 * overrides, and an open-addressing index from every id and alias to its model. */
#include "models.h"
#include "base/file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NO_MODEL ((size_t)-1)
#define MAX_FILE_BYTES ((size_t)64 << 20)
/* Far above any model's minimum, low enough that a typo (an extra zero run) is caught. */
#define MAX_MIN_CACHE 1e9

typedef struct slot {
    const char *key; /* an id or alias owned by the model; NULL marks an empty slot */
    size_t model;    /* index into model_table.v */
} slot;

struct model_table {
    model_info **v; /* each model allocated on its own so pointers survive merges */
    size_t n;
    slot *index;
    size_t cap;    /* power of two, or 0 while the table is empty */
    char date[11]; /* the latest "date" merged, or "" */
};

enum { P_INPUT, P_OUTPUT, P_WRITE_5M, P_WRITE_1H, P_READ, NPRICES };
static const char *const price_keys[NPRICES] = {"input", "output", "cache_write_5m",
                                                "cache_write_1h", "cache_read"};

/* ---- errors ---- */

#define fail(err, type, ...) error_fail(err, type, 0, __VA_ARGS__)

static int oom(error_info *err)
{
    return fail(err, "out_of_memory", "out of memory while loading the model table");
}

/* ---- one model ---- */

static void model_free(model_info *md)
{
    if (!md)
        return;
    free(md->id);
    for (size_t i = 0; i < md->naliases; i++)
        free(md->aliases[i]);
    free(md->aliases);
    free(md->deprecated);
    free(md->retires);
    free(md->replacement);
    free(md->family);
    free(md->default_effort);
    for (size_t i = 0; i < md->nrows; i++)
        free(md->rows[i].tiers);
    free(md->rows);
    free(md->geo);
    for (size_t i = 0; i < md->nunconfirmed; i++)
        free(md->unconfirmed[i]);
    free(md->unconfirmed);
    free(md);
}

static char **dup_strs(char *const *src, size_t n)
{
    char **d = calloc(n ? n : 1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(d[i] = strdup(src[i]))) {
            while (i--)
                free(d[i]);
            free(d);
            return NULL;
        }
    return d;
}

static void *dup_mem(const void *src, size_t size)
{
    void *d = malloc(size ? size : 1);
    if (d && size)
        memcpy(d, src, size);
    return d;
}

/* Deep copy of price rows; NULL when out of memory. */
static price_row *rows_dup(const price_row *src, size_t n)
{
    price_row *d = calloc(n ? n : 1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        d[i] = src[i];
        d[i].tiers = NULL;
        if (src[i].ntiers && !(d[i].tiers = dup_mem(src[i].tiers, src[i].ntiers * sizeof *src[i].tiers))) {
            while (i--)
                free(d[i].tiers);
            free(d);
            return NULL;
        }
    }
    return d;
}

/* Deep copy; NULL when out of memory. */
static model_info *model_dup(const model_info *src)
{
    model_info *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = *src;
    d->id = NULL;
    d->aliases = NULL;
    d->naliases = 0;
    d->deprecated = d->retires = d->family = d->replacement = d->default_effort = NULL;
    d->rows = NULL;
    d->nrows = 0;
    d->geo = NULL;
    d->ngeo = 0;
    d->unconfirmed = NULL;
    d->nunconfirmed = 0;
    if (!(d->id = strdup(src->id)))
        goto fail;
    if (src->naliases) {
        if (!(d->aliases = calloc(src->naliases, sizeof *d->aliases)))
            goto fail;
        for (; d->naliases < src->naliases; d->naliases++)
            if (!(d->aliases[d->naliases] = strdup(src->aliases[d->naliases])))
                goto fail;
    }
    if (!(d->rows = rows_dup(src->rows, src->nrows)))
        goto fail;
    d->nrows = src->nrows;
    if (!(d->geo = dup_mem(src->geo, src->ngeo * sizeof *src->geo)))
        goto fail;
    d->ngeo = src->ngeo;
    if (!(d->unconfirmed = dup_strs(src->unconfirmed, src->nunconfirmed)))
        goto fail;
    d->nunconfirmed = src->nunconfirmed;
    if (src->replacement && !(d->replacement = strdup(src->replacement)))
        goto fail;
    if (src->default_effort && !(d->default_effort = strdup(src->default_effort)))
        goto fail;
    if (src->deprecated && !(d->deprecated = strdup(src->deprecated)))
        goto fail;
    if (src->retires && !(d->retires = strdup(src->retires)))
        goto fail;
    if (src->family && !(d->family = strdup(src->family)))
        goto fail;
    return d;
fail:
    model_free(d);
    return NULL;
}

static int model_has_name(const model_info *md, const char *name)
{
    if (strcmp(md->id, name) == 0)
        return 1;
    for (size_t i = 0; i < md->naliases; i++)
        if (strcmp(md->aliases[i], name) == 0)
            return 1;
    return 0;
}

/* ---- index ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Returns 0; -1 when out of memory; 1 when a name belongs to two models (*clash set). */
static int index_build(model_info *const *v, size_t n, slot **out, size_t *outcap,
                       const char **clash, size_t *clash_a, size_t *clash_b)
{
    size_t nkeys = 0;
    for (size_t i = 0; i < n; i++)
        nkeys += 1 + v[i]->naliases;
    size_t cap = 16;
    while (cap < nkeys * 2) /* load factor <= 1/2 keeps probes short */
        cap <<= 1;
    slot *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return -1;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k <= v[i]->naliases; k++) {
            const char *key = k == 0 ? v[i]->id : v[i]->aliases[k - 1];
            size_t j = (size_t)hash_str(key) & (cap - 1);
            for (; tab[j].key; j = (j + 1) & (cap - 1))
                if (strcmp(tab[j].key, key) == 0)
                    break;
            if (tab[j].key) {
                if (tab[j].model == i)
                    continue;
                *clash = key;
                *clash_a = tab[j].model;
                *clash_b = i;
                free(tab);
                return 1;
            }
            tab[j].key = key;
            tab[j].model = i;
        }
    }
    *out = tab;
    *outcap = cap;
    return 0;
}

const model_info *models_find(const model_table *m, const char *name)
{
    if (!m || !name || !m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t j = (size_t)hash_str(name) & mask; m->index[j].key; j = (j + 1) & mask)
        if (strcmp(m->index[j].key, name) == 0)
            return m->v[m->index[j].model];
    return NULL;
}

size_t models_count(const model_table *m) { return m ? m->n : 0; }

const model_info *models_at(const model_table *m, size_t i)
{
    return m && i < m->n ? m->v[i] : NULL;
}

void models_free(model_table *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        model_free(m->v[i]);
    free(m->v);
    free(m->index);
    free(m);
}

/* ---- dates ---- */

double models_date_time(const char *s)
{
    /* YYYY-MM-DD with a plausible month and day; calendars are not checked further. */
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return -1;
    /* Days from 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
    y -= month <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (double)(era * 146097 + doe - 719468) * 86400.0;
}

static int is_date(const char *s) { return models_date_time(s) >= 0; }

/* ---- queries on one model ---- */

const price_row *models_row_at(const model_info *md, double at)
{
    if (!md || !md->has_price || !md->nrows)
        return NULL;
    const price_row *row = &md->rows[0];
    for (size_t i = 1; i < md->nrows; i++)
        if (md->rows[i].from <= at)
            row = &md->rows[i];
    return row;
}

const char *models_date(const model_table *m) { return m && m->date[0] ? m->date : NULL; }

const char *models_lifecycle_name(int lifecycle)
{
    static const char *const names[] = {"current", "legacy", "deprecated", "retired"};
    return lifecycle >= 0 && lifecycle <= NYX_LIFE_RETIRED ? names[lifecycle] : "unknown";
}

int models_unconfirmed(const model_info *md, const char *field)
{
    if (!md || !field)
        return 0;
    for (size_t i = 0; i < md->nunconfirmed; i++)
        if (strcmp(md->unconfirmed[i], field) == 0)
            return 1;
    return 0;
}

int models_raise_min_cache(model_table *m, const char *name, int64_t min_tokens)
{
    model_info *md = (model_info *)models_find(m, name);
    if (!md)
        return -1;
    if (min_tokens <= md->min_cache_tokens || min_tokens > (int64_t)MAX_MIN_CACHE)
        return 0;
    md->min_cache_tokens = min_tokens;
    md->min_cache_learned = 1;
    return 1;
}

/* The flat prices: the row in force now. */
static void refresh_flat(model_info *md, double now)
{
    const price_row *row = models_row_at(md, now);
    if (!row)
        return;
    md->input = row->p.input;
    md->output = row->p.output;
    md->cache_write_5m = row->p.cache_write_5m;
    md->cache_write_1h = row->p.cache_write_1h;
    md->cache_read = row->p.cache_read;
}

/* ---- validation of one entry ---- */

/* What one JSON entry says; pointers into the parsed document, and rows it owns. */
typedef struct staged {
    const char *id;
    const cJSON *aliases;
    double price[NPRICES];
    int has_price[NPRICES];
    price_row *rows; /* owned: freed by staged_free() unless taken */
    size_t nrows;
    int has_rows;
    price_set fast;
    int fast_given, fast_null;
    double batch_factor;
    int has_batch;
    price_factor *geo; /* owned */
    size_t ngeo;
    int has_geo;
    int64_t min_cache, context_window, max_output;
    int has_min_cache, has_context_window, has_max_output;
    int lifecycle, has_lifecycle;
    unsigned thinking, sampling;
    int has_thinking, has_sampling;
    int forced_tool, has_forced_tool;
    int itpm, has_itpm;
    const cJSON *deprecated, *retires, *family, *replacement, *default_effort, *unconfirmed;
} staged;

static void staged_free(staged *s)
{
    for (size_t i = 0; i < s->nrows; i++)
        free(s->rows[i].tiers);
    free(s->rows);
    free(s->geo);
    s->rows = NULL;
    s->nrows = 0;
    s->geo = NULL;
}

static const char *const entry_keys[] = {
    "id", "aliases", "family", "lifecycle", "deprecated", "retires", "replacement", "prices", "fast",
    "batch_factor", "geo_factors", "min_cache_tokens", "context_window", "max_output", "thinking",
    "sampling", "forced_tool_choice_with_thinking", "default_effort", "itpm_counts_cache_reads",
    "unconfirmed", "input", "output", "cache_write_5m", "cache_write_1h", "cache_read"};

static int known_entry_key(const char *k)
{
    for (size_t i = 0; i < sizeof entry_keys / sizeof entry_keys[0]; i++)
        if (strcmp(k, entry_keys[i]) == 0)
            return 1;
    return 0;
}

/* Where a problem was found, for messages. */
typedef struct where {
    const char *origin, *id;
    error_info *err;
} where;

static int bad_field(const where *w, const char *field, const char *what)
{
    return fail(w->err, "invalid_argument", "%s: model '%s': field '%s' %s", w->origin, w->id, field, what);
}

static int dup_key(const where *w, const cJSON *obj, const cJSON *f, const char *path)
{
    for (const cJSON *g = obj->child; g != f; g = g->next)
        if (strcmp(g->string, f->string) == 0) {
            char field[160];
            snprintf(field, sizeof field, "%s%s", path, f->string);
            return bad_field(w, field, "given twice");
        }
    return 0;
}

static int price_index(const char *k)
{
    for (int i = 0; i < NPRICES; i++)
        if (strcmp(k, price_keys[i]) == 0)
            return i;
    return -1;
}

static int get_price(const where *w, const cJSON *f, const char *field, double *out)
{
    if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble) || f->valuedouble < 0)
        return bad_field(w, field, "must be a non-negative number (USD per million tokens)");
    *out = f->valuedouble;
    return 0;
}

static int get_count(const where *w, const cJSON *f, const char *field, int64_t *out)
{
    double v = cJSON_IsNumber(f) ? f->valuedouble : -1;
    if (!(v >= 1 && v <= MAX_MIN_CACHE && v == floor(v)))
        return bad_field(w, field, "must be a positive integer");
    *out = (int64_t)v;
    return 0;
}

/* A complete set of five prices in an object whose other keys are `extra` (NULL-ended) or
 * comments. `path` prefixes field names in messages, e.g. "prices[1]." */
static int parse_price_set(const where *w, const cJSON *o, const char *path, const char *const *extra,
                           price_set *out)
{
    char field[160];
    if (!cJSON_IsObject(o)) {
        snprintf(field, sizeof field, "%.*s", (int)(strlen(path) ? strlen(path) - 1 : 0), path);
        return bad_field(w, field, "must be an object of prices");
    }
    double v[NPRICES];
    int have[NPRICES] = {0};
    for (const cJSON *f = o->child; f; f = f->next) {
        if (f->string[0] == '_')
            continue;
        if (dup_key(w, o, f, path) < 0)
            return -1;
        snprintf(field, sizeof field, "%s%s", path, f->string);
        int p = price_index(f->string);
        if (p >= 0) {
            if (get_price(w, f, field, &v[p]) < 0)
                return -1;
            have[p] = 1;
            continue;
        }
        int ok = 0;
        for (size_t i = 0; extra && extra[i]; i++)
            ok |= strcmp(f->string, extra[i]) == 0;
        if (!ok)
            return bad_field(w, field, "is unknown (prefix comments with '_')");
    }
    for (int i = 0; i < NPRICES; i++)
        if (!have[i]) {
            snprintf(field, sizeof field, "%s%s", path, price_keys[i]);
            return bad_field(w, field, "is missing (every price set gives input, output, cache_write_5m, "
                                       "cache_write_1h and cache_read)");
        }
    *out = (price_set){v[P_INPUT], v[P_OUTPUT], v[P_WRITE_5M], v[P_WRITE_1H], v[P_READ]};
    return 0;
}

static int parse_row(const where *w, const cJSON *o, size_t idx, price_row *row)
{
    static const char *const extra[] = {"from", "tiers", NULL};
    static const char *const tier_extra[] = {"above_prompt_tokens", NULL};
    char path[64], field[200];
    snprintf(path, sizeof path, "prices[%zu].", idx);
    memset(row, 0, sizeof *row);
    if (parse_price_set(w, o, path, extra, &row->p) < 0)
        return -1;
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(o, "from");
    if (from) {
        snprintf(field, sizeof field, "%sfrom", path);
        if (!cJSON_IsString(from) || !is_date(from->valuestring))
            return bad_field(w, field, "must be a date \"YYYY-MM-DD\"");
        row->from = models_date_time(from->valuestring);
        memcpy(row->from_date, from->valuestring, 11);
    }
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(o, "tiers");
    if (!tiers)
        return 0;
    snprintf(field, sizeof field, "%stiers", path);
    if (!cJSON_IsArray(tiers))
        return bad_field(w, field, "must be an array of tiers");
    size_t n = (size_t)cJSON_GetArraySize(tiers);
    if (n && !(row->tiers = calloc(n, sizeof *row->tiers)))
        return oom(w->err);
    size_t k = 0;
    for (const cJSON *t = tiers->child; t; t = t->next, k++) {
        char tpath[120];
        snprintf(tpath, sizeof tpath, "%stiers[%zu].", path, k);
        price_tier *tier = &row->tiers[k];
        row->ntiers = k + 1;
        if (parse_price_set(w, t, tpath, tier_extra, &tier->p) < 0)
            return -1;
        snprintf(field, sizeof field, "%sabove_prompt_tokens", tpath);
        const cJSON *above = cJSON_GetObjectItemCaseSensitive(t, "above_prompt_tokens");
        if (!above)
            return bad_field(w, field, "is missing");
        if (get_count(w, above, field, &tier->above_prompt_tokens) < 0)
            return -1;
        if (k > 0 && tier->above_prompt_tokens <= row->tiers[k - 1].above_prompt_tokens)
            return bad_field(w, field, "must be larger than the tier before it");
    }
    return 0;
}

static int parse_rows(const where *w, const cJSON *f, staged *s)
{
    size_t n = cJSON_IsArray(f) ? (size_t)cJSON_GetArraySize(f) : 0;
    if (n == 0)
        return bad_field(w, "prices", "must be a non-empty array of price rows");
    if (!(s->rows = calloc(n, sizeof *s->rows)))
        return oom(w->err);
    size_t k = 0;
    for (const cJSON *r = f->child; r; r = r->next, k++) {
        s->nrows = k + 1;
        if (parse_row(w, r, k, &s->rows[k]) < 0)
            return -1;
        if (k > 0 && s->rows[k].from <= s->rows[k - 1].from) {
            char field[64];
            snprintf(field, sizeof field, "prices[%zu].from", k);
            return bad_field(w, field, "must be later than the row before it (rows in date order; only the "
                                       "first may lack 'from')");
        }
    }
    s->has_rows = 1;
    return 0;
}

/* An array of names, each one of `names` (n of them); the bits of those given. */
static int parse_flags(const where *w, const cJSON *f, const char *field, const char *const *names, size_t n,
                       unsigned *out)
{
    if (!cJSON_IsArray(f))
        return bad_field(w, field, "must be an array of strings");
    unsigned bits = 0;
    for (const cJSON *a = f->child; a; a = a->next) {
        size_t i = 0;
        while (i < n && !(cJSON_IsString(a) && strcmp(a->valuestring, names[i]) == 0))
            i++;
        if (i == n) {
            char what[200];
            size_t used = (size_t)snprintf(what, sizeof what, "may hold only");
            for (size_t j = 0; j < n && used < sizeof what; j++)
                used += (size_t)snprintf(what + used, sizeof what - used, "%s \"%s\"", j ? "," : "", names[j]);
            return bad_field(w, field, what);
        }
        bits |= 1u << i;
    }
    *out = bits;
    return 0;
}

static int get_bool(const where *w, const cJSON *f, const char *field, int *out)
{
    if (!cJSON_IsBool(f))
        return bad_field(w, field, "must be true or false");
    *out = cJSON_IsTrue(f);
    return 0;
}

static int get_opt_string(const where *w, const cJSON *f, const char *field, const cJSON **out)
{
    if (!cJSON_IsNull(f) && !(cJSON_IsString(f) && f->valuestring[0]))
        return bad_field(w, field, "must be a non-empty string or null");
    *out = f;
    return 0;
}

static int parse_geo(const where *w, const cJSON *f, staged *s)
{
    if (!cJSON_IsObject(f))
        return bad_field(w, "geo_factors", "must be an object {\"us\": 1.1, ...}");
    size_t n = (size_t)cJSON_GetArraySize(f);
    if (n && !(s->geo = calloc(n, sizeof *s->geo)))
        return oom(w->err);
    for (const cJSON *g = f->child; g; g = g->next) {
        if (g->string[0] == '_')
            continue;
        char field[64];
        snprintf(field, sizeof field, "geo_factors.%.40s", g->string);
        if (dup_key(w, f, g, "geo_factors.") < 0)
            return -1;
        if (strlen(g->string) >= sizeof s->geo->name || !g->string[0])
            return bad_field(w, field, "has a name that is empty or too long");
        if (!cJSON_IsNumber(g) || !isfinite(g->valuedouble) || g->valuedouble <= 0)
            return bad_field(w, field, "must be a positive number");
        price_factor *pf = &s->geo[s->ngeo++];
        snprintf(pf->name, sizeof pf->name, "%s", g->string);
        pf->factor = g->valuedouble;
    }
    s->has_geo = 1;
    return 0;
}

static int stage_field(const where *w, const cJSON *f, staged *s)
{
    static const char *const think_names[] = {"adaptive", "enabled", "disabled"};
    static const char *const sample_names[] = {"temperature", "top_p", "top_k"};
    static const char *const life_names[] = {"current", "legacy", "deprecated", "retired"};
    const char *k = f->string;
    int p = price_index(k);
    if (p >= 0) {
        if (get_price(w, f, k, &s->price[p]) < 0)
            return -1;
        s->has_price[p] = 1;
    } else if (strcmp(k, "prices") == 0) {
        return parse_rows(w, f, s);
    } else if (strcmp(k, "fast") == 0) {
        s->fast_given = 1;
        if (cJSON_IsNull(f))
            s->fast_null = 1;
        else
            return parse_price_set(w, f, "fast.", NULL, &s->fast);
    } else if (strcmp(k, "aliases") == 0) {
        if (!cJSON_IsArray(f))
            return bad_field(w, k, "must be an array of strings");
        for (const cJSON *a = f->child; a; a = a->next)
            if (!cJSON_IsString(a) || !a->valuestring[0])
                return bad_field(w, k, "must hold only non-empty strings");
        s->aliases = f;
    } else if (strcmp(k, "unconfirmed") == 0) {
        if (!cJSON_IsArray(f))
            return bad_field(w, k, "must be an array of field names");
        for (const cJSON *a = f->child; a; a = a->next)
            if (!cJSON_IsString(a) || !known_entry_key(a->valuestring) || strcmp(a->valuestring, "id") == 0)
                return bad_field(w, k, "must hold only names of the entry's fields");
        s->unconfirmed = f;
    } else if (strcmp(k, "min_cache_tokens") == 0) {
        s->has_min_cache = 1;
        return get_count(w, f, k, &s->min_cache);
    } else if (strcmp(k, "context_window") == 0) {
        s->has_context_window = 1;
        return get_count(w, f, k, &s->context_window);
    } else if (strcmp(k, "max_output") == 0) {
        s->has_max_output = 1;
        return get_count(w, f, k, &s->max_output);
    } else if (strcmp(k, "batch_factor") == 0) {
        if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble) || f->valuedouble <= 0 || f->valuedouble > 1)
            return bad_field(w, k, "must be a number in (0, 1]");
        s->batch_factor = f->valuedouble;
        s->has_batch = 1;
    } else if (strcmp(k, "geo_factors") == 0) {
        return parse_geo(w, f, s);
    } else if (strcmp(k, "deprecated") == 0 || strcmp(k, "retires") == 0) {
        if (!cJSON_IsNull(f) && !(cJSON_IsString(f) && is_date(f->valuestring)))
            return bad_field(w, k, "must be a date \"YYYY-MM-DD\" or null");
        if (k[0] == 'd')
            s->deprecated = f;
        else
            s->retires = f;
    } else if (strcmp(k, "lifecycle") == 0) {
        for (s->lifecycle = 0; s->lifecycle < 4; s->lifecycle++)
            if (cJSON_IsString(f) && strcmp(f->valuestring, life_names[s->lifecycle]) == 0)
                break;
        if (s->lifecycle == 4)
            return bad_field(w, k, "must be \"current\", \"legacy\", \"deprecated\" or \"retired\"");
        s->has_lifecycle = 1;
    } else if (strcmp(k, "thinking") == 0) {
        s->has_thinking = 1;
        return parse_flags(w, f, k, think_names, 3, &s->thinking);
    } else if (strcmp(k, "sampling") == 0) {
        s->has_sampling = 1;
        return parse_flags(w, f, k, sample_names, 3, &s->sampling);
    } else if (strcmp(k, "forced_tool_choice_with_thinking") == 0) {
        s->has_forced_tool = 1;
        return get_bool(w, f, k, &s->forced_tool);
    } else if (strcmp(k, "itpm_counts_cache_reads") == 0) {
        s->has_itpm = 1;
        return get_bool(w, f, k, &s->itpm);
    } else if (strcmp(k, "family") == 0) {
        return get_opt_string(w, f, k, &s->family);
    } else if (strcmp(k, "replacement") == 0) {
        return get_opt_string(w, f, k, &s->replacement);
    } else if (strcmp(k, "default_effort") == 0) {
        return get_opt_string(w, f, k, &s->default_effort);
    } else {
        return bad_field(w, k, "is unknown (prefix comments with '_')");
    }
    return 0;
}

static int stage_entry(const cJSON *e, size_t idx, const char *origin, staged *s,
                       error_info *err)
{
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(e))
        return fail(err, "invalid_argument", "%s: models[%zu]: must be an object", origin, idx);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
    if (!id)
        return fail(err, "invalid_argument", "%s: models[%zu]: missing field 'id'", origin, idx);
    if (!cJSON_IsString(id) || !id->valuestring[0])
        return fail(err, "invalid_argument", "%s: models[%zu]: field 'id' must be a non-empty string",
                    origin, idx);
    s->id = id->valuestring;
    where w = {origin, s->id, err};
    for (const cJSON *f = e->child; f; f = f->next) {
        if (f->string[0] == '_' || strcmp(f->string, "id") == 0)
            continue;
        if (dup_key(&w, e, f, "") < 0 || stage_field(&w, f, s) < 0)
            return -1;
    }
    for (int i = 0; i < NPRICES; i++)
        if (s->has_rows && s->has_price[i])
            return bad_field(&w, price_keys[i], "cannot be given beside 'prices' (give it in each row)");
    return 0;
}

/* ---- merging ---- */

/* A copy of the table that a merge edits; committed only when every entry applied. */
typedef struct work {
    model_info **v;
    size_t n;
} work;

static size_t work_find(const work *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (model_has_name(w->v[i], name))
            return i;
    return NO_MODEL;
}

static void work_free(work *w)
{
    for (size_t i = 0; i < w->n; i++)
        model_free(w->v[i]);
    free(w->v);
}

/* Replaces *dst by a copy of the item's string, or NULL for JSON null. */
static int set_opt_str(char **dst, const cJSON *item)
{
    char *copy = NULL;
    if (cJSON_IsString(item) && !(copy = strdup(item->valuestring)))
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* Replaces the list of unconfirmed fields by the array's strings. */
static int set_unconfirmed(model_info *md, const cJSON *list)
{
    size_t n = (size_t)cJSON_GetArraySize(list);
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return -1;
    size_t k = 0;
    for (const cJSON *a = list->child; a; a = a->next, k++)
        if (!(v[k] = strdup(a->valuestring))) {
            while (k--)
                free(v[k]);
            free(v);
            return -1;
        }
    for (size_t i = 0; i < md->nunconfirmed; i++)
        free(md->unconfirmed[i]);
    free(md->unconfirmed);
    md->unconfirmed = v;
    md->nunconfirmed = n;
    return 0;
}

/* w->v has room for one more model. The staged rows and factors are taken when used. */
static int apply_entry(work *w, staged *s, const char *origin, error_info *err)
{
    size_t t = work_find(w, s->id);
    int nprices = 0;
    for (int i = 0; i < NPRICES; i++)
        nprices += s->has_price[i];

    model_info *md;
    if (t == NO_MODEL) {
        if (!(md = calloc(1, sizeof *md)))
            return oom(err);
        if (!(md->id = strdup(s->id))) {
            free(md);
            return oom(err);
        }
        md->min_cache_tokens = NYX_MODELS_DEFAULT_MIN_CACHE;
        md->thinking = NYX_THINK_ALL;
        md->sampling = NYX_SAMPLE_ALL;
        md->forced_tool_choice_with_thinking = 1;
        t = w->n++;
        w->v[t] = md;
    } else {
        md = w->v[t];
    }

    /* A model without prices gets all five at once, or stays without: a half-priced model
     * would make every cost silently wrong. */
    if (!md->has_price && !s->has_rows && nprices > 0 && nprices < NPRICES) {
        for (int i = 0; i < NPRICES; i++)
            if (!s->has_price[i])
                return fail(err, "invalid_argument",
                            "%s: model '%s': missing field '%s' (a model without prices must be given "
                            "input, output, cache_write_5m, cache_write_1h and cache_read, or 'prices')",
                            origin, s->id, price_keys[i]);
    }
    if (s->has_rows) {
        for (size_t i = 0; i < md->nrows; i++)
            free(md->rows[i].tiers);
        free(md->rows);
        md->rows = s->rows;
        md->nrows = s->nrows;
        s->rows = NULL;
        s->nrows = 0;
        md->has_price = 1;
    } else if (nprices > 0) {
        if (!md->has_price) { /* all five: one row in force since always */
            price_row *row = calloc(1, sizeof *row);
            if (!row)
                return oom(err);
            free(md->rows); /* a copy's placeholder: no rows */
            md->rows = row;
            md->nrows = 1;
            md->has_price = 1;
        }
        for (size_t r = 0; r < md->nrows; r++) {
            double *dst[NPRICES] = {&md->rows[r].p.input, &md->rows[r].p.output, &md->rows[r].p.cache_write_5m,
                                    &md->rows[r].p.cache_write_1h, &md->rows[r].p.cache_read};
            for (int i = 0; i < NPRICES; i++)
                if (s->has_price[i])
                    *dst[i] = s->price[i];
        }
    }
    if (s->fast_given) {
        md->has_fast = !s->fast_null;
        md->fast = s->fast_null ? (price_set){0, 0, 0, 0, 0} : s->fast;
    }
    if (s->has_batch)
        md->batch_factor = s->batch_factor;
    if (s->has_geo) {
        free(md->geo);
        md->geo = s->geo;
        md->ngeo = s->ngeo;
        s->geo = NULL;
        s->ngeo = 0;
    }
    if (s->has_min_cache)
        md->min_cache_tokens = s->min_cache;
    if (s->has_context_window)
        md->context_window = s->context_window;
    if (s->has_max_output)
        md->max_output = s->max_output;
    if (s->has_lifecycle)
        md->lifecycle = s->lifecycle;
    if (s->has_thinking)
        md->thinking = s->thinking;
    if (s->has_sampling)
        md->sampling = s->sampling;
    if (s->has_forced_tool)
        md->forced_tool_choice_with_thinking = s->forced_tool;
    if (s->has_itpm)
        md->itpm_counts_cache_reads = s->itpm;
    if ((s->deprecated && set_opt_str(&md->deprecated, s->deprecated) < 0) ||
        (s->retires && set_opt_str(&md->retires, s->retires) < 0) ||
        (s->family && set_opt_str(&md->family, s->family) < 0) ||
        (s->replacement && set_opt_str(&md->replacement, s->replacement) < 0) ||
        (s->default_effort && set_opt_str(&md->default_effort, s->default_effort) < 0) ||
        (s->unconfirmed && set_unconfirmed(md, s->unconfirmed) < 0))
        return oom(err);
    /* A minimum given without saying it is unconfirmed is taken as known. */
    if (s->has_min_cache && !s->unconfirmed)
        for (size_t i = 0; i < md->nunconfirmed; i++)
            if (strcmp(md->unconfirmed[i], "min_cache_tokens") == 0) {
                free(md->unconfirmed[i]);
                md->unconfirmed[i] = md->unconfirmed[--md->nunconfirmed];
                break;
            }
    if (s->has_min_cache)
        md->min_cache_confirmed = 1;
    if (models_unconfirmed(md, "min_cache_tokens"))
        md->min_cache_confirmed = 0;
    refresh_flat(md, (double)time(NULL));

    if (s->aliases) {
        for (const cJSON *a = s->aliases->child; a; a = a->next) {
            const char *name = a->valuestring;
            if (model_has_name(md, name))
                continue;
            size_t owner = work_find(w, name);
            if (owner != NO_MODEL)
                return fail(err, "invalid_argument",
                            "%s: model '%s': alias '%s' already names model '%s'", origin, s->id, name,
                            w->v[owner]->id);
            char **grown = realloc(md->aliases, (md->naliases + 1) * sizeof *grown);
            if (!grown)
                return oom(err);
            md->aliases = grown;
            if (!(md->aliases[md->naliases] = strdup(name)))
                return oom(err);
            md->naliases++;
        }
    }
    return 0;
}

/* Bytes after the parsed value must be whitespace (or the NUL of a C string); returns the
 * first other byte, or NULL. */
static const char *trailing_junk(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0')
            return p;
    return NULL;
}

static void parse_error_at(error_info *err, const char *origin, const char *json, size_t len,
                           const char *at)
{
    size_t off = at && at >= json && at <= json + len ? (size_t)(at - json) : 0;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    fail(err, "invalid_argument", "%s: invalid JSON at line %zu, column %zu", origin, line, col);
}

int models_merge_json(model_table *m, const char *json, size_t len, const char *origin,
                      error_info *err)
{
    if (!origin)
        origin = "model table";
    if (!m || !json)
        return fail(err, "invalid_argument", "%s: no table or no JSON given", origin);
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!doc) {
        parse_error_at(err, origin, json, len, end);
        return -1;
    }
    const char *junk = trailing_junk(end, json + len);
    if (junk) {
        parse_error_at(err, origin, json, len, junk);
        cJSON_Delete(doc);
        return -1;
    }

    int rc = -1;
    work w = {0};
    slot *index = NULL;
    size_t cap = 0;

    if (!cJSON_IsObject(doc)) {
        fail(err, "invalid_argument", "%s: must be a JSON object {\"models\": [...]}", origin);
        goto out;
    }
    const cJSON *list = NULL;
    const char *date = NULL;
    for (const cJSON *f = doc->child; f; f = f->next) {
        if (strcmp(f->string, "models") == 0) {
            if (list) {
                fail(err, "invalid_argument", "%s: field 'models' given twice", origin);
                goto out;
            }
            list = f;
        } else if (strcmp(f->string, "date") == 0) {
            if (!cJSON_IsString(f) || !is_date(f->valuestring)) {
                fail(err, "invalid_argument", "%s: field 'date' must be a date \"YYYY-MM-DD\"", origin);
                goto out;
            }
            date = f->valuestring;
        } else if (f->string[0] != '_') {
            fail(err, "invalid_argument", "%s: unknown top-level field '%s'", origin, f->string);
            goto out;
        }
    }
    if (!cJSON_IsArray(list)) {
        fail(err, "invalid_argument", "%s: field 'models' must be an array", origin);
        goto out;
    }

    size_t nentries = (size_t)cJSON_GetArraySize(list);
    if (!(w.v = calloc(m->n + nentries + 1, sizeof *w.v))) {
        oom(err);
        goto out;
    }
    for (; w.n < m->n; w.n++)
        if (!(w.v[w.n] = model_dup(m->v[w.n]))) {
            oom(err);
            goto out;
        }

    size_t idx = 0;
    for (const cJSON *e = list->child; e; e = e->next, idx++) {
        staged s;
        int bad = stage_entry(e, idx, origin, &s, err) < 0 || apply_entry(&w, &s, origin, err) < 0;
        staged_free(&s);
        if (bad)
            goto out;
    }

    const char *clash = NULL;
    size_t a = 0, b = 0;
    int ir = index_build(w.v, w.n, &index, &cap, &clash, &a, &b);
    if (ir < 0) {
        oom(err);
        goto out;
    }
    if (ir > 0) { /* apply_entry checks aliases, so this is a safety net */
        fail(err, "invalid_argument", "%s: name '%s' is given to both '%s' and '%s'", origin,
             clash, w.v[a]->id, w.v[b]->id);
        goto out;
    }

    /* Commit without allocating: existing models keep their address and take the new
     * contents; added models are appended. */
    for (size_t i = 0; i < m->n; i++) {
        model_info old = *m->v[i];
        *m->v[i] = *w.v[i];
        *w.v[i] = old;
        model_free(w.v[i]);
        w.v[i] = m->v[i];
    }
    free(m->v);
    free(m->index);
    m->v = w.v;
    m->n = w.n;
    m->index = index;
    m->cap = cap;
    if (date && strcmp(date, m->date) > 0) /* ISO dates order as strings */
        memcpy(m->date, date, sizeof m->date);
    w.v = NULL;
    w.n = 0;
    index = NULL;
    rc = 0;
out:
    free(index);
    work_free(&w);
    cJSON_Delete(doc);
    return rc;
}

int models_merge_file(model_table *m, const char *path, error_info *err)
{
    if (!path)
        return fail(err, "invalid_argument", "models_merge_file: no path given");
    char *buf = NULL;
    size_t len = 0;
    int rc = file_read_path(path, MAX_FILE_BYTES, &buf, &len);
    if (rc != 0) {
        if (rc == -1)
            fail(err, "io_error", "%s: cannot open: %s", path, strerror(errno));
        else if (errno == EFBIG)
            fail(err, "invalid_argument", "%s: larger than %zu bytes", path, MAX_FILE_BYTES);
        else if (errno == ENOMEM)
            oom(err);
        else
            fail(err, "io_error", "%s: read failed: %s", path, strerror(errno));
        return -1;
    }
    rc = models_merge_json(m, buf, len, path, err);
    free(buf);
    return rc;
}

model_table *models_new_from(const model_info *v, size_t n, const char *date, error_info *err)
{
    model_table *m = calloc(1, sizeof *m);
    if (!m || !(m->v = calloc(n ? n : 1, sizeof *m->v))) {
        free(m);
        oom(err);
        return NULL;
    }
    double now = (double)time(NULL);
    for (; m->n < n; m->n++) {
        if (!(m->v[m->n] = model_dup(&v[m->n]))) {
            models_free(m);
            oom(err);
            return NULL;
        }
        refresh_flat(m->v[m->n], now);
    }
    const char *clash = NULL;
    size_t a = 0, b = 0;
    int ir = index_build(m->v, m->n, &m->index, &m->cap, &clash, &a, &b);
    if (ir != 0) {
        if (ir < 0)
            oom(err);
        else
            fail(err, "invalid_argument", "model table: name '%s' is given to both '%s' and '%s'",
                 clash, m->v[a]->id, m->v[b]->id);
        models_free(m);
        return NULL;
    }
    if (date && is_date(date))
        memcpy(m->date, date, sizeof m->date);
    return m;
}
