/* The model and price table: parsing and validation of the JSON data, merging of user
 * overrides, and an open-addressing index from every id and alias to its model. */
#include "models.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated from data/models.json by cmake/embed.cmake. */
extern const char nyx_models_json[];
extern const size_t nyx_models_json_len;

#define NO_MODEL ((size_t)-1)
#define MAX_FILE_BYTES ((size_t)64 << 20)
/* Far above any model's minimum, low enough that a typo (an extra zero run) is caught. */
#define MAX_MIN_CACHE 1e9

typedef struct slot {
    const char *key; /* an id or alias owned by the model; NULL marks an empty slot */
    size_t model;    /* index into nyx_models.v */
} slot;

struct nyx_models {
    nyx_model **v; /* each model allocated on its own so pointers survive merges */
    size_t n;
    slot *index;
    size_t cap;    /* power of two, or 0 while the table is empty */
};

enum { P_INPUT, P_OUTPUT, P_WRITE_5M, P_WRITE_1H, P_READ, NPRICES };
static const char *const price_keys[NPRICES] = {"input", "output", "cache_write_5m",
                                                "cache_write_1h", "cache_read"};

/* ---- errors ---- */

static void fail(nyx_error *err, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(nyx_error *err, const char *type, const char *fmt, ...)
{
    if (!err)
        return;
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nyx_error_clear(err);
    nyx_error_set(err, type, 0, "%s", msg);
}

static int oom(nyx_error *err)
{
    fail(err, "out_of_memory", "out of memory while loading the model table");
    return -1;
}

/* ---- one model ---- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void model_free(nyx_model *md)
{
    if (!md)
        return;
    free(md->id);
    for (size_t i = 0; i < md->naliases; i++)
        free(md->aliases[i]);
    free(md->aliases);
    free(md->deprecated);
    free(md->retires);
    free(md->family);
    free(md);
}

/* Deep copy; NULL when out of memory. */
static nyx_model *model_dup(const nyx_model *src)
{
    nyx_model *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = *src;
    d->id = NULL;
    d->aliases = NULL;
    d->naliases = 0;
    d->deprecated = d->retires = d->family = NULL;
    if (!(d->id = dup_str(src->id)))
        goto fail;
    if (src->naliases) {
        if (!(d->aliases = calloc(src->naliases, sizeof *d->aliases)))
            goto fail;
        for (; d->naliases < src->naliases; d->naliases++)
            if (!(d->aliases[d->naliases] = dup_str(src->aliases[d->naliases])))
                goto fail;
    }
    if (src->deprecated && !(d->deprecated = dup_str(src->deprecated)))
        goto fail;
    if (src->retires && !(d->retires = dup_str(src->retires)))
        goto fail;
    if (src->family && !(d->family = dup_str(src->family)))
        goto fail;
    return d;
fail:
    model_free(d);
    return NULL;
}

static int model_has_name(const nyx_model *md, const char *name)
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
static int index_build(nyx_model *const *v, size_t n, slot **out, size_t *outcap,
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

const nyx_model *models_find(const nyx_models *m, const char *name)
{
    if (!m || !name || !m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t j = (size_t)hash_str(name) & mask; m->index[j].key; j = (j + 1) & mask)
        if (strcmp(m->index[j].key, name) == 0)
            return m->v[m->index[j].model];
    return NULL;
}

size_t models_count(const nyx_models *m) { return m ? m->n : 0; }

const nyx_model *models_at(const nyx_models *m, size_t i)
{
    return m && i < m->n ? m->v[i] : NULL;
}

void models_free(nyx_models *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        model_free(m->v[i]);
    free(m->v);
    free(m->index);
    free(m);
}

/* ---- validation of one entry ---- */

/* What one JSON entry says; pointers into the parsed document. */
typedef struct staged {
    const char *id;
    const cJSON *aliases;
    double price[NPRICES];
    int has_price[NPRICES];
    int64_t min_cache;
    int has_min_cache;
    const cJSON *deprecated, *retires, *family; /* the item (possibly JSON null), or NULL */
} staged;

static int is_date(const char *s)
{
    /* YYYY-MM-DD with a plausible month and day; calendars are not checked further. */
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

static int stage_entry(const cJSON *e, size_t idx, const char *origin, staged *s,
                       nyx_error *err)
{
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(e)) {
        fail(err, "invalid_argument", "%s: models[%zu]: must be an object", origin, idx);
        return -1;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
    if (!id) {
        fail(err, "invalid_argument", "%s: models[%zu]: missing field 'id'", origin, idx);
        return -1;
    }
    if (!cJSON_IsString(id) || !id->valuestring[0]) {
        fail(err, "invalid_argument", "%s: models[%zu]: field 'id' must be a non-empty string",
             origin, idx);
        return -1;
    }
    s->id = id->valuestring;

    for (const cJSON *f = e->child; f; f = f->next) {
        const char *k = f->string;
        if (k[0] == '_')
            continue;
        for (const cJSON *g = e->child; g != f; g = g->next)
            if (strcmp(g->string, k) == 0) {
                fail(err, "invalid_argument", "%s: model '%s': field '%s' given twice", origin,
                     s->id, k);
                return -1;
            }
        int p = -1;
        for (int i = 0; i < NPRICES; i++)
            if (strcmp(k, price_keys[i]) == 0)
                p = i;
        if (strcmp(k, "id") == 0) {
            continue;
        } else if (p >= 0) {
            if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble) || f->valuedouble < 0) {
                fail(err, "invalid_argument",
                     "%s: model '%s': field '%s' must be a non-negative number (USD per million "
                     "tokens)", origin, s->id, k);
                return -1;
            }
            s->price[p] = f->valuedouble;
            s->has_price[p] = 1;
        } else if (strcmp(k, "aliases") == 0) {
            if (!cJSON_IsArray(f)) {
                fail(err, "invalid_argument",
                     "%s: model '%s': field 'aliases' must be an array of strings", origin,
                     s->id);
                return -1;
            }
            for (const cJSON *a = f->child; a; a = a->next)
                if (!cJSON_IsString(a) || !a->valuestring[0]) {
                    fail(err, "invalid_argument",
                         "%s: model '%s': field 'aliases' must hold only non-empty strings",
                         origin, s->id);
                    return -1;
                }
            s->aliases = f;
        } else if (strcmp(k, "min_cache_tokens") == 0) {
            double v = cJSON_IsNumber(f) ? f->valuedouble : -1;
            if (!(v >= 1 && v <= MAX_MIN_CACHE && v == floor(v))) {
                fail(err, "invalid_argument",
                     "%s: model '%s': field 'min_cache_tokens' must be a positive integer",
                     origin, s->id);
                return -1;
            }
            s->min_cache = (int64_t)v;
            s->has_min_cache = 1;
        } else if (strcmp(k, "deprecated") == 0 || strcmp(k, "retires") == 0) {
            if (!cJSON_IsNull(f) && !(cJSON_IsString(f) && is_date(f->valuestring))) {
                fail(err, "invalid_argument",
                     "%s: model '%s': field '%s' must be a date \"YYYY-MM-DD\" or null", origin,
                     s->id, k);
                return -1;
            }
            if (k[0] == 'd')
                s->deprecated = f;
            else
                s->retires = f;
        } else if (strcmp(k, "family") == 0) {
            if (!cJSON_IsNull(f) && !(cJSON_IsString(f) && f->valuestring[0])) {
                fail(err, "invalid_argument",
                     "%s: model '%s': field 'family' must be a non-empty string or null", origin,
                     s->id);
                return -1;
            }
            s->family = f;
        } else {
            fail(err, "invalid_argument",
                 "%s: model '%s': unknown field '%s' (prefix comments with '_')", origin, s->id,
                 k);
            return -1;
        }
    }
    return 0;
}

/* ---- merging ---- */

/* A copy of the table that a merge edits; committed only when every entry applied. */
typedef struct work {
    nyx_model **v;
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
    if (cJSON_IsString(item) && !(copy = dup_str(item->valuestring)))
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* w->v has room for one more model. */
static int apply_entry(work *w, const staged *s, const char *origin, nyx_error *err)
{
    size_t t = work_find(w, s->id);
    int nprices = 0;
    for (int i = 0; i < NPRICES; i++)
        nprices += s->has_price[i];

    nyx_model *md;
    if (t == NO_MODEL) {
        if (!(md = calloc(1, sizeof *md)))
            return oom(err);
        if (!(md->id = dup_str(s->id))) {
            free(md);
            return oom(err);
        }
        md->min_cache_tokens = NYX_MODELS_DEFAULT_MIN_CACHE;
        t = w->n++;
        w->v[t] = md;
    } else {
        md = w->v[t];
    }

    /* A model without prices gets all five at once, or stays without: a half-priced model
     * would make every cost silently wrong. */
    if (!md->has_price && nprices > 0 && nprices < NPRICES) {
        for (int i = 0; i < NPRICES; i++)
            if (!s->has_price[i]) {
                fail(err, "invalid_argument",
                     "%s: model '%s': missing field '%s' (a model without prices must be given "
                     "input, output, cache_write_5m, cache_write_1h and cache_read)",
                     origin, s->id, price_keys[i]);
                return -1;
            }
    }
    double *dst[NPRICES] = {&md->input, &md->output, &md->cache_write_5m, &md->cache_write_1h,
                            &md->cache_read};
    for (int i = 0; i < NPRICES; i++)
        if (s->has_price[i])
            *dst[i] = s->price[i];
    if (nprices == NPRICES)
        md->has_price = 1;
    if (s->has_min_cache)
        md->min_cache_tokens = s->min_cache;
    if ((s->deprecated && set_opt_str(&md->deprecated, s->deprecated) < 0) ||
        (s->retires && set_opt_str(&md->retires, s->retires) < 0) ||
        (s->family && set_opt_str(&md->family, s->family) < 0))
        return oom(err);

    if (s->aliases) {
        for (const cJSON *a = s->aliases->child; a; a = a->next) {
            const char *name = a->valuestring;
            if (model_has_name(md, name))
                continue;
            size_t owner = work_find(w, name);
            if (owner != NO_MODEL) {
                fail(err, "invalid_argument",
                     "%s: model '%s': alias '%s' already names model '%s'", origin, s->id, name,
                     w->v[owner]->id);
                return -1;
            }
            char **grown = realloc(md->aliases, (md->naliases + 1) * sizeof *grown);
            if (!grown)
                return oom(err);
            md->aliases = grown;
            if (!(md->aliases[md->naliases] = dup_str(name)))
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

static void parse_error_at(nyx_error *err, const char *origin, const char *json, size_t len,
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

int models_merge_json(nyx_models *m, const char *json, size_t len, const char *origin,
                      nyx_error *err)
{
    if (!origin)
        origin = "model table";
    if (!m || !json) {
        fail(err, "invalid_argument", "%s: no table or no JSON given", origin);
        return -1;
    }
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
    for (const cJSON *f = doc->child; f; f = f->next) {
        if (strcmp(f->string, "models") == 0) {
            if (list) {
                fail(err, "invalid_argument", "%s: field 'models' given twice", origin);
                goto out;
            }
            list = f;
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
        if (stage_entry(e, idx, origin, &s, err) < 0 || apply_entry(&w, &s, origin, err) < 0)
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
        nyx_model old = *m->v[i];
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

int models_merge_file(nyx_models *m, const char *path, nyx_error *err)
{
    if (!path) {
        fail(err, "invalid_argument", "models_merge_file: no path given");
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, "io_error", "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE_BYTES) {
                fail(err, "invalid_argument", "%s: larger than %zu bytes", path,
                     MAX_FILE_BYTES);
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 8192;
            char *grown = realloc(buf, ncap);
            if (!grown) {
                oom(err);
                goto out;
            }
            buf = grown;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                fail(err, "io_error", "%s: read failed: %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    rc = models_merge_json(m, buf ? buf : "", len, path, err);
out:
    free(buf);
    fclose(f);
    return rc;
}

nyx_models *models_new_default(nyx_error *err)
{
    nyx_models *m = calloc(1, sizeof *m);
    if (!m) {
        oom(err);
        return NULL;
    }
    if (models_merge_json(m, nyx_models_json, nyx_models_json_len, "built-in data/models.json",
                          err) < 0) {
        models_free(m);
        return NULL;
    }
    return m;
}
