/* The template library's listings for the command line (list, history, stats, diff) and the
 * variables of `nyx render --var k=v`. */
#define _POSIX_C_SOURCE 200809L
#include "library_int.h"
#include "base/array.h"


#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- listings ---- */

typedef struct name_set {
    char **names;
    int *versions; /* stored versions, from the database */
    size_t n, cap;
} name_set;

static int name_add(name_set *s, const char *name, size_t len, int versions)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->names[i]) == len && strncmp(s->names[i], name, len) == 0) {
            if (versions > s->versions[i])
                s->versions[i] = versions;
            return 0;
        }
    size_t cap = s->cap; /* the two arrays grow alike: s->cap moves with the second */
    char **nn = array_room(s->names, s->n, &cap, sizeof *nn, 16);
    if (!nn)
        return -1;
    s->names = nn;
    int *vv = array_room(s->versions, s->n, &s->cap, sizeof *vv, 16);
    if (!vv)
        return -1;
    s->versions = vv;
    if (!(s->names[s->n] = strndup(name, len)))
        return -1;
    s->versions[s->n++] = versions;
    return 0;
}

static void names_free(name_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->versions);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int stored_row(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types)
{
    (void)types;
    name_set *s = ud;
    int cn = rows_col(ncols, names, "name"), cv = rows_col(ncols, names, "versions");
    if (cn < 0 || !values[cn])
        return 0;
    int versions = cv >= 0 && values[cv] ? atoi(values[cv]) : 0;
    return name_add(s, values[cn], strlen(values[cn]), versions) == 0 ? 0 : 1;
}

static void scan_dir(name_set *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *de; (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (n <= 3 || strcmp(de->d_name + n - 3, ".md") != 0)
            continue;
        char name[TEMPLATES_MAX_NAME + 1];
        int v = 0;
        error_info ignored;
        char spec[TEMPLATES_MAX_NAME + 4];
        if (n - 3 > TEMPLATES_MAX_NAME)
            continue;
        memcpy(spec, de->d_name, n - 3);
        spec[n - 3] = '\0';
        if (templates_parse_spec(spec, name, sizeof name, &v, &ignored) != 0 || v != 0)
            continue;
        name_add(s, name, strlen(name), 0);
    }
    closedir(d);
}

int templates_list(tpl_library *lib, store_row_fn fn, void *ud, error_info *err)
{
    if (!lib)
        return -1;
    templates_check_path(lib);
    name_set s = {0};
    for (size_t i = 0; i < lib->ndirs; i++)
        scan_dir(&s, lib->dirs[i]);
    /* Record the files' current contents first, so the counts below include them. */
    for (size_t i = 0; i < s.n; i++) {
        tpl_entry *en;
        error_info ignored;
        templates_resolve(lib, s.names[i], &en, &ignored);
    }
    store_db *st = templates_store(lib);
    if (st && store_template_list(st, stored_row, &s, err) < 0) {
        names_free(&s);
        return -1;
    }
    /* Sort names and their counts together: sort indices by name. */
    size_t *order = malloc((s.n + 1) * sizeof *order);
    char **sorted = malloc((s.n + 1) * sizeof *sorted);
    if (!order || !sorted) {
        free(order);
        free(sorted);
        names_free(&s);
        return templates_oom(err, "listing templates");
    }
    memcpy(sorted, s.names, s.n * sizeof *sorted);
    qsort(sorted, s.n, sizeof *sorted, by_name);
    for (size_t i = 0; i < s.n; i++)
        for (size_t j = 0; j < s.n; j++)
            if (s.names[j] == sorted[i])
                order[i] = j;
    static const char *const names[] = {"name", "version", "versions", "source", "description"};
    int rc = 0;
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        size_t k = order[i];
        tpl_entry *en = NULL;
        error_info rerr;
        error_clear(&rerr);
        char version[16], versions[16], desc[600];
        const char *row[5] = {s.names[k], NULL, versions, NULL, NULL};
        snprintf(versions, sizeof versions, "%d", s.versions[k]);
        if (templates_resolve(lib, s.names[k], &en, &rerr) == 0) {
            snprintf(version, sizeof version, "%d", en->version);
            row[1] = version;
            row[3] = en->path ? en->path : "database";
            row[4] = template_description(en->t);
        } else {
            snprintf(desc, sizeof desc, "error: %s", rerr.message);
            row[4] = desc;
        }
        if (fn(ud, 5, names, row, row[1] ? "tiitt" : "ttitt") != 0)
            rc = 1;
    }
    free(order);
    free(sorted);
    names_free(&s);
    return rc;
}

typedef struct history_rows {
    store_row_fn fn;
    void *ud;
    int current;
} history_rows;

static int history_row(void *ud, int ncols, const char *const *names, const char *const *values,
                       const char *types)
{
    history_rows *h = ud;
    const char *n2[16], *v2[16];
    char t2[16];
    if (ncols > 15)
        ncols = 15;
    int cv = rows_col(ncols, names, "version");
    for (int i = 0; i < ncols; i++) {
        n2[i] = names[i];
        v2[i] = values[i];
        t2[i] = types[i];
    }
    n2[ncols] = "current";
    v2[ncols] = cv >= 0 && values[cv] && h->current > 0 && atoi(values[cv]) == h->current ? "*"
                                                                                          : "";
    t2[ncols] = ROW_BOOL; /* "*" in a person's table; true or false in --json */
    return h->fn(h->ud, ncols + 1, n2, v2, t2);
}

/* Records name's current content (so its version is listed) and returns that version; a
 * not_found error when name is nowhere. */
static int current_version(tpl_library *lib, const char *name, int *version, error_info *err)
{
    tpl_entry *en = NULL;
    error_info rerr;
    error_clear(&rerr);
    char bare[TEMPLATES_MAX_NAME + 1];
    int v = 0;
    if (templates_parse_spec(name, bare, sizeof bare, &v, err) != 0)
        return -1;
    if (v != 0) {
        error_set(err, "invalid_argument", 0, "give the template name without '@': %.80s",
                      name);
        return -1;
    }
    *version = 0;
    if (templates_resolve(lib, bare, &en, &rerr) == 0)
        *version = en->version;
    else if (strcmp(rerr.type, "not_found") == 0) {
        *err = rerr;
        return -1;
    }
    if (!templates_store(lib)) {
        error_set(err, "store_error", 0, "template %s: no database holds its versions",
                      bare);
        return -1;
    }
    return 0;
}

int templates_history(tpl_library *lib, const char *name, store_row_fn fn, void *ud,
                      error_info *err)
{
    history_rows h = {fn, ud, 0};
    if (current_version(lib, name, &h.current, err) != 0)
        return -1;
    return store_template_history(templates_store(lib), name, history_row, &h, err);
}

int templates_stats(tpl_library *lib, const char *name, store_row_fn fn, void *ud, error_info *err)
{
    int current = 0;
    if (current_version(lib, name, &current, err) != 0)
        return -1;
    return store_template_stats(templates_store(lib), name, fn, ud, err);
}

char *templates_diff(tpl_library *lib, const char *name, int v1, int v2, error_info *err)
{
    char bare[TEMPLATES_MAX_NAME + 1];
    int v = 0;
    if (templates_parse_spec(name, bare, sizeof bare, &v, err) != 0)
        return NULL;
    if (v != 0 || v1 < 1 || v2 < 1) {
        error_set(err, "invalid_argument", 0,
                      "diff takes a template name without '@' and two versions >= 1");
        return NULL;
    }
    /* Record the current content, so the newest version can be compared too. */
    tpl_entry *cur = NULL;
    error_info ignored;
    templates_resolve(lib, bare, &cur, &ignored);
    char spec1[TEMPLATES_MAX_NAME + 16], spec2[TEMPLATES_MAX_NAME + 16];
    snprintf(spec1, sizeof spec1, "%s@%d", bare, v1);
    snprintf(spec2, sizeof spec2, "%s@%d", bare, v2);
    tpl_entry *a = NULL, *b = NULL;
    if (templates_resolve(lib, spec1, &a, err) != 0 || templates_resolve(lib, spec2, &b, err) != 0)
        return NULL;
    char *out = text_diff(template_text(a->t, NULL), template_text(b->t, NULL), spec1, spec2);
    if (!out)
        templates_oom(err, "comparing template versions");
    return out;
}

/* ---- variables from the command line ---- */

tvalue *templates_vars_from_pairs(const char *const *pairs, error_info *err)
{
    tvalue *map = tvalue_map();
    if (!map) {
        templates_oom(err, "building template variables");
        return NULL;
    }
    for (size_t i = 0; pairs && pairs[i]; i++) {
        const char *eq = strchr(pairs[i], '=');
        if (!eq || eq == pairs[i]) {
            error_set(err, "invalid_argument", 0, "a variable must be key=value, got \"%.80s\"",
                          pairs[i]);
            tvalue_free(map);
            return NULL;
        }
        char key[256];
        size_t klen = (size_t)(eq - pairs[i]);
        if (klen >= sizeof key) {
            error_set(err, "invalid_argument", 0, "variable name too long: \"%.40s...\"",
                          pairs[i]);
            tvalue_free(map);
            return NULL;
        }
        memcpy(key, pairs[i], klen);
        key[klen] = '\0';
        tvalue *val = tvalue_string(eq + 1, strlen(eq + 1));
        tvalue *prev = (tvalue *)tvalue_map_get(map, key);
        int rc;
        if (!prev) {
            rc = tvalue_map_set(map, key, val);
        } else if (tvalue_kind(prev) == TVALUE_LIST) {
            rc = tvalue_list_push(prev, val);
        } else {
            /* A key given twice becomes a list of its values. */
            tvalue *list = tvalue_list();
            rc = list ? 0 : -1;
            if (rc == 0)
                rc = tvalue_list_push(list, tvalue_string(prev->u.str.s, prev->u.str.len));
            if (rc == 0)
                rc = tvalue_list_push(list, val);
            else
                tvalue_free(val);
            if (rc == 0)
                rc = tvalue_map_set(map, key, list);
            else
                tvalue_free(list);
        }
        if (rc != 0) {
            tvalue_free(map);
            templates_oom(err, "building template variables");
            return NULL;
        }
    }
    return map;
}
