/* The template library: lookup through the search path and the database, the cache of
 * compiled templates with their versions, and rendering with partials. Choosing and
 * recording (the bandit) is in library_pick.c, the command line's listings in
 * library_list.c. */
#define _POSIX_C_SOURCE 200809L
#include "library_int.h"
#include "base/array.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json_print.h"


#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#ifndef NYX_SOURCE_TEMPLATES_DIR
#define NYX_SOURCE_TEMPLATES_DIR ""
#endif
#ifndef NYX_INSTALL_TEMPLATES_DIR
#define NYX_INSTALL_TEMPLATES_DIR ""
#endif

/* A template file larger than this is refused rather than read into memory. */
#define MAX_TEMPLATE_BYTES (16u << 20)
/* A file modified less than this long before it was read may be written again within the
 * same mtime tick: its content is compared again on the next use. */
#define RACY_SECONDS 2.0

/* ---- the library object ---- */

static int add_dir(tpl_library *lib, const char *dir, size_t len)
{
    if (len == 0)
        return 0;
    char **d = realloc(lib->dirs, (lib->ndirs + 1) * sizeof *d);
    if (!d)
        return -1;
    lib->dirs = d;
    if (!(d[lib->ndirs] = strndup(dir, len)))
        return -1;
    lib->ndirs++;
    return 0;
}

static void retire(tpl_library *lib, template_def *t)
{
    if (!t)
        return;
    if (lib->rendering == 0) {
        template_free(t);
        return;
    }
    /* A render in progress may still hold it (a partial edited mid-render). */
    template_def **r = array_room(lib->retired, lib->nretired, &lib->capretired, sizeof *r, 4);
    if (!r)
        return; /* leaks one template rather than free one in use */
    lib->retired = r;
    lib->retired[lib->nretired++] = t;
}

static void free_retired(tpl_library *lib)
{
    for (size_t i = 0; i < lib->nretired; i++)
        template_free(lib->retired[i]);
    lib->nretired = 0;
}

void templates_free(tpl_library *lib)
{
    if (!lib)
        return;
    for (size_t i = 0; i < lib->n; i++) {
        tpl_entry *en = lib->entries[i];
        template_free(en->t);
        free(en->name);
        free(en->path);
        free(en);
    }
    free(lib->entries);
    lib->rendering = 0;
    free_retired(lib);
    free(lib->retired);
    for (size_t i = 0; i < lib->ndirs; i++)
        free(lib->dirs[i]);
    free(lib->dirs);
    for (size_t i = 0; i < lib->nlast; i++)
        free(lib->last[i].name);
    free(lib->last);
    free(lib);
}

void templates_changed(tpl_library *lib, const char *path)
{
    if (!lib || !path)
        return;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n < 4 || strcmp(base + n - 3, ".md") != 0)
        return;
    n -= 3;
    for (size_t i = 0; i < lib->n; i++) {
        tpl_entry *en = lib->entries[i];
        if (!en->pinned && strlen(en->name) == n && strncmp(en->name, base, n) == 0)
            en->stale = 1;
    }
}

/* A directory of NYX_TEMPLATE_PATH that is not one (a slip of its name, a directory since
 * removed) is said once: its templates were otherwise silently not found, and the lookup went on
 * to the next directory, whose template of the same name may be another. */
static void say_missing_dir(tpl_library *lib, const char *dir)
{
    struct stat st;
    int missing = stat(dir, &st) != 0;
    if (!missing && S_ISDIR(st.st_mode))
        return;
    char key[300];
    snprintf(key, sizeof key, "template-path:%s", dir);
    if (!missing)
        templates_warn(lib, key, "nyx: NYX_TEMPLATE_PATH names %.200s, which is not a directory", dir);
    else if (errno == ENOENT || errno == ENOTDIR)
        templates_warn(lib, key, "nyx: NYX_TEMPLATE_PATH names %.200s, which does not exist", dir);
    else
        templates_warn(lib, key, "nyx: NYX_TEMPLATE_PATH names %.200s, which cannot be read: %s", dir,
                       strerror(errno));
}

void templates_check_path(tpl_library *lib)
{
    if (lib->path_checked)
        return;
    lib->path_checked = 1;
    for (size_t i = lib->path_first; i < lib->path_end; i++)
        say_missing_dir(lib, lib->dirs[i]);
}

tpl_library *templates_new(const tpl_host *host, const char *p, uint64_t seed, error_info *err)
{
    tpl_library *lib = calloc(1, sizeof *lib);
    int rc = lib ? add_dir(lib, "./templates", 11) : -1;
    while (rc == 0 && p && *p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        rc = add_dir(lib, p, len);
        p = colon ? colon + 1 : NULL;
    }
    if (rc == 0) {
        lib->path_first = 1;
        lib->path_end = lib->ndirs;
    }
    if (rc == 0)
        rc = add_dir(lib, NYX_SOURCE_TEMPLATES_DIR, strlen(NYX_SOURCE_TEMPLATES_DIR));
    if (rc == 0)
        rc = add_dir(lib, NYX_INSTALL_TEMPLATES_DIR, strlen(NYX_INSTALL_TEMPLATES_DIR));
    if (rc != 0) {
        templates_free(lib);
        error_set(err, "out_of_memory", 0, "out of memory creating the template library");
        return NULL;
    }
    lib->host = *host;
    lib->rng = seed;
    return lib;
}

void templates_warn(tpl_library *lib, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lib->host.warn_once(lib->host.ud, key, msg);
}

store_db *templates_store(tpl_library *lib)
{
    const char *why = NULL;
    store_db *s = lib->store_failed ? NULL : lib->host.store(lib->host.ud, &why);
    if (!s && !lib->store_failed) {
        lib->store_failed = 1;
        templates_warn(lib, "templates-store",
                       "nyx: templates are not versioned, the database is unavailable: %s",
                       why ? why : "none is configured");
    }
    return s;
}

/* ---- names ---- */

int templates_parse_spec(const char *spec, char *name, size_t size, int *version, error_info *err)
{
    *version = 0;
    if (!spec || !*spec) {
        error_set(err, "invalid_argument", 0, "a template name is required");
        return -1;
    }
    const char *at = strrchr(spec, '@');
    size_t n = at ? (size_t)(at - spec) : strlen(spec);
    if (at) {
        char *end = NULL;
        errno = 0;
        long v = strtol(at + 1, &end, 10);
        if (!at[1] || *end || errno || v < 1 || v > 1000000000 || at[1] == '+' || at[1] == ' ') {
            error_set(err, "invalid_argument", 0,
                          "template \"%.80s\": the version after '@' must be a whole number >= 1",
                          spec);
            return -1;
        }
        *version = (int)v;
    }
    int ok = n > 0 && n <= TEMPLATES_MAX_NAME && n < size && spec[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = spec[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.';
    }
    if (!ok) {
        error_set(err, "invalid_argument", 0,
                      "bad template name \"%.80s\": use letters, digits, '_', '-' and '.' (not "
                      "first), at most %d characters, optionally followed by @VERSION",
                      spec, TEMPLATES_MAX_NAME);
        return -1;
    }
    memcpy(name, spec, n);
    name[n] = '\0';
    return 0;
}

/* ---- the last version used of each name ---- */

last_use *templates_last_entry(tpl_library *lib, const char *name)
{
    for (size_t i = 0; i < lib->nlast; i++)
        if (strcmp(lib->last[i].name, name) == 0)
            return &lib->last[i];
    last_use *l = realloc(lib->last, (lib->nlast + 1) * sizeof *l);
    if (!l)
        return NULL;
    lib->last = l;
    memset(&l[lib->nlast], 0, sizeof l[lib->nlast]);
    if (!(l[lib->nlast].name = strdup(name)))
        return NULL;
    return &l[lib->nlast++];
}

/* A render or a pick starts a new use: a judgement after it is not the previous call's. */
void templates_set_last(tpl_library *lib, const char *name, int version)
{
    last_use *l = templates_last_entry(lib, name);
    if (l) {
        l->version = version;
        l->has_use = 0;
    }
}

int templates_last_version(tpl_library *lib, const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < lib->nlast; i++)
        if (strcmp(lib->last[i].name, name) == 0)
            return lib->last[i].version;
    return 0;
}

/* ---- entries ---- */

static tpl_entry *find_entry(tpl_library *lib, const char *name, int pinned_version)
{
    for (size_t i = 0; i < lib->n; i++) {
        tpl_entry *en = lib->entries[i];
        if (strcmp(en->name, name) == 0 &&
            (pinned_version ? en->pinned && en->version == pinned_version : !en->pinned))
            return en;
    }
    return NULL;
}

static tpl_entry *add_entry(tpl_library *lib, const char *name)
{
    tpl_entry **es = array_room(lib->entries, lib->n, &lib->cap, sizeof *es, 16);
    if (!es)
        return NULL;
    lib->entries = es;
    tpl_entry *en = calloc(1, sizeof *en);
    if (!en || !(en->name = strdup(name))) {
        free(en);
        return NULL;
    }
    lib->entries[lib->n++] = en;
    return en;
}

int templates_oom(error_info *err, const char *what)
{
    error_set(err, "out_of_memory", 0, "out of memory %s", what);
    return -1;
}

/* ---- versions ---- */

static char *variables_json(const template_def *t)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < template_nvars(t); i++) {
        cJSON *v = cJSON_CreateObject();
        if (!v)
            break;
        cJSON_AddStringToObject(v, "name", template_var_name(t, i));
        cJSON_AddBoolToObject(v, "required", template_var_required(t, i));
        if (template_var_default(t, i))
            cJSON_AddStringToObject(v, "default", template_var_default(t, i));
        if (template_var_description(t, i))
            cJSON_AddStringToObject(v, "description", template_var_description(t, i));
        cJSON_AddItemToArray(arr, v);
    }
    char *json = arr ? json_print(arr) : NULL;
    cJSON_Delete(arr);
    return json;
}

/* The version of t's content under name: found or added in the database; 0 without one. */
static int record_version(tpl_library *lib, const char *name, const template_def *t)
{
    store_db *s = templates_store(lib);
    if (!s)
        return 0;
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)template_hash(t));
    char *vars = variables_json(t);
    error_info err;
    error_clear(&err);
    int version = 0;
    if (store_template_put(s, name, template_text(t, NULL), vars, hash, &version, &err) != 0) {
        version = 0;
        templates_warn(lib, "templates-put", "nyx: template %s is not versioned: %s", name,
                         err.message);
    }
    free(vars);
    return version;
}

/* ---- files ---- */

static int same_file(const tpl_entry *en, const char *path, const struct stat *st)
{
    return en->path && strcmp(en->path, path) == 0 && en->dev == st->st_dev &&
           en->ino == st->st_ino && en->size == st->st_size && en->mtime_s == st->st_mtim.tv_sec &&
           en->mtime_ns == st->st_mtim.tv_nsec;
}

static int set_file(tpl_entry *en, const char *path, const struct stat *st, double read_at)
{
    if (!en->path || strcmp(en->path, path) != 0) {
        char *p = strdup(path);
        if (!p)
            return -1;
        free(en->path);
        en->path = p;
    }
    en->dev = st->st_dev;
    en->ino = st->st_ino;
    en->size = st->st_size;
    en->mtime_s = st->st_mtim.tv_sec;
    en->mtime_ns = st->st_mtim.tv_nsec;
    en->racy = (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9 >= read_at - RACY_SECONDS;
    en->stale = 0;
    return 0;
}

static int read_file(const char *path, char **text, size_t *len, error_info *err)
{
    *text = NULL;
    int rc = file_read_path(path, MAX_TEMPLATE_BYTES, text, len);
    if (rc == 0)
        return 0;
    if (rc == -1)
        error_set(err, "not_found", 0, "cannot read template %s: %s", path, strerror(errno));
    else if (errno == EFBIG)
        error_set(err, "invalid_argument", 0, "template %s is larger than %u bytes", path,
                  MAX_TEMPLATE_BYTES);
    else if (errno == ENOMEM)
        return templates_oom(err, "reading a template");
    else
        error_set(err, "invalid_argument", 0, "cannot read template %s", path);
    return -1;
}

static int same_text(const template_def *t, const char *text, size_t len)
{
    size_t tlen = 0;
    const char *cur = template_text(t, &tlen);
    return tlen == len && memcmp(cur, text, len) == 0;
}

/* The file found for name changed (or was never read): read it, keep the entry when the bytes
 * are the same, else compile and version the new content. */
static int use_file(tpl_library *lib, tpl_entry *en, const char *name, const char *path,
                    const struct stat *st, tpl_entry **out, error_info *err)
{
    if (en && en->t && !en->stale && !en->racy && same_file(en, path, st)) {
        *out = en;
        return 0;
    }
    double read_at = clock_wall_s();
    char *text = NULL;
    size_t len = 0;
    error_info rerr;
    error_clear(&rerr);
    if (read_file(path, &text, &len, &rerr) != 0) {
        if (en && en->t) { /* e.g. replaced by an editor between the stat and the open */
            templates_warn(lib, rerr.message, "nyx: %s; version %d keeps serving",
                             rerr.message, en->version);
            *out = en;
            return 0;
        }
        *err = rerr;
        return -1;
    }
    if (en && en->t && same_text(en->t, text, len)) {
        free(text);
        if (set_file(en, path, st, read_at) != 0)
            return templates_oom(err, "noting a template file");
        *out = en;
        return 0;
    }
    error_info perr;
    error_clear(&perr);
    /* An empty file is most often one an editor has truncated and not yet written: as a
     * version it would send empty prompts, which the API refuses. A broken edit, then. */
    template_def *t = len ? template_parse(text, len, path, &perr) : NULL;
    if (!len)
        error_set(&perr, "invalid_argument", 0, "%s: the file is empty (a template is its text)", path);
    uint64_t bad_hash = t ? 0 : XXH3_64bits(text, len);
    free(text);
    if (!t) {
        if (!en || !en->t) {
            *err = perr;
            return -1;
        }
        /* A broken edit: the version that worked keeps serving, and the error is told once
         * per distinct broken content. */
        char key[600];
        snprintf(key, sizeof key, "template-parse:%.500s:%016llx", path, (unsigned long long)bad_hash);
        templates_warn(lib, key, "nyx: %s (template %s keeps serving version %d)",
                         perr.message, name, en->version);
        if (set_file(en, path, st, read_at) != 0)
            return templates_oom(err, "noting a template file");
        *out = en;
        return 0;
    }
    if (!en && !(en = add_entry(lib, name))) {
        template_free(t);
        return templates_oom(err, "caching a template");
    }
    if (set_file(en, path, st, read_at) != 0) {
        template_free(t);
        return templates_oom(err, "noting a template file");
    }
    retire(lib, en->t);
    en->t = t;
    en->version = record_version(lib, name, t);
    *out = en;
    return 0;
}

/* ---- the database ---- */

static void not_found(tpl_library *lib, const char *name, error_info *err)
{
    char dirs[700];
    size_t off = 0;
    dirs[0] = '\0';
    for (size_t i = 0; i < lib->ndirs && off < sizeof dirs; i++) {
        int w = snprintf(dirs + off, sizeof dirs - off, "%s%s", i ? ", " : "", lib->dirs[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    error_set(err, "not_found", 0,
                  "template '%s' not found: no %s.md in %s, and none in the database", name, name,
                  dirs);
}

static int compile_stored(const char *name, int version, const char *content, template_def **t,
                          error_info *err)
{
    char origin[TEMPLATES_MAX_NAME + 24];
    snprintf(origin, sizeof origin, "%s@%d", name, version);
    *t = template_parse(content, strlen(content), origin, err);
    return *t ? 0 : -1;
}

static int use_database(tpl_library *lib, tpl_entry *en, const char *name, tpl_entry **out,
                        error_info *err)
{
    store_db *s = templates_store(lib);
    if (!s) {
        not_found(lib, name, err);
        return -1;
    }
    char *content = NULL;
    int version = 0;
    error_info serr;
    error_clear(&serr);
    if (store_template_get(s, name, 0, &content, &version, &serr) != 0) {
        if (strcmp(serr.type, "not_found") == 0) {
            not_found(lib, name, err);
            return -1;
        }
        if (en && en->t) { /* the database is busy or failing: keep what we have */
            templates_warn(lib, "templates-get", "nyx: %s", serr.message);
            *out = en;
            return 0;
        }
        *err = serr;
        return -1;
    }
    if (en && en->t && !en->path && en->version == version) {
        free(content);
        *out = en;
        return 0;
    }
    template_def *t = NULL;
    int rc = compile_stored(name, version, content, &t, err);
    free(content);
    if (rc != 0)
        return -1;
    if (!en && !(en = add_entry(lib, name))) {
        template_free(t);
        return templates_oom(err, "caching a template");
    }
    retire(lib, en->t);
    en->t = t;
    en->version = version;
    free(en->path);
    en->path = NULL;
    en->stale = en->racy = 0;
    *out = en;
    return 0;
}

static int use_pinned(tpl_library *lib, const char *name, int version, tpl_entry **out,
                      error_info *err)
{
    tpl_entry *en = find_entry(lib, name, version);
    if (en) {
        *out = en;
        return 0;
    }
    store_db *s = templates_store(lib);
    if (!s) {
        error_set(err, "store_error", 0,
                      "template %s@%d: versions need the database, which is unavailable", name,
                      version);
        return -1;
    }
    char *content = NULL;
    if (store_template_get(s, name, version, &content, NULL, err) != 0)
        return -1;
    template_def *t = NULL;
    int rc = compile_stored(name, version, content, &t, err);
    free(content);
    if (rc != 0)
        return -1;
    if (!(en = add_entry(lib, name))) {
        template_free(t);
        return templates_oom(err, "caching a template");
    }
    en->pinned = 1;
    en->version = version;
    en->t = t;
    *out = en;
    return 0;
}

int templates_resolve(tpl_library *lib, const char *spec, tpl_entry **out, error_info *err)
{
    templates_check_path(lib);
    char name[TEMPLATES_MAX_NAME + 1];
    int version = 0;
    if (templates_parse_spec(spec, name, sizeof name, &version, err) != 0)
        return -1;
    if (version > 0)
        return use_pinned(lib, name, version, out, err);
    tpl_entry *en = find_entry(lib, name, 0);
    char path[4096];
    struct stat st;
    for (size_t i = 0; i < lib->ndirs; i++) {
        int w = snprintf(path, sizeof path, "%s/%s.md", lib->dirs[i], name);
        if (w < 0 || (size_t)w >= sizeof path)
            continue;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return use_file(lib, en, name, path, &st, out, err);
    }
    return use_database(lib, en, name, out, err);
}

/* ---- get, render, create ---- */

int templates_get(tpl_library *lib, const char *spec, tpl_info *out, error_info *err)
{
    tpl_entry *en = NULL;
    if (templates_resolve(lib, spec, &en, err) != 0)
        return -1;
    out->name = en->name;
    out->version = en->version;
    out->source = en->path ? en->path : "database";
    out->t = en->t;
    return 0;
}

static const template_def *partial(void *ud, const char *name)
{
    tpl_library *lib = ud;
    tpl_entry *en = NULL;
    error_info err;
    error_clear(&err);
    if (templates_resolve(lib, name, &en, &err) == 0)
        return en->t;
    if (!lib->partial_failed) {
        lib->partial_err = err;
        lib->partial_failed = 1;
    }
    return NULL;
}

static void warn(void *ud, const char *msg)
{
    tpl_library *lib = ud;
    templates_warn(lib, msg, "nyx: %s", msg);
}

int templates_render(tpl_library *lib, const char *spec, const tvalue *vars, char **out,
                     size_t *len, int *version, error_info *err)
{
    size_t scratch;
    if (out)
        *out = NULL;
    tpl_entry *en = NULL;
    if (templates_resolve(lib, spec, &en, err) != 0)
        return -1;
    /* A partial resolved during the render may replace en's template: hold what we render. */
    const template_def *t = en->t;
    int v = en->version;
    lib->rendering++;
    lib->partial_failed = 0;
    int rc = template_render(t, vars, partial, lib, warn, lib, out, len ? len : &scratch, err);
    lib->rendering--;
    if (rc != 0 && lib->partial_failed && err) {
        error_info why = *err;
        error_set(err, strcmp(lib->partial_err.type, "store_error") == 0 ? "store_error"
                                                                                : why.type,
                      0, "%s (%s)", why.message, lib->partial_err.message);
    }
    lib->partial_failed = 0;
    if (lib->rendering == 0)
        free_retired(lib);
    if (rc != 0)
        return -1;
    templates_set_last(lib, en->name, v);
    if (version)
        *version = v;
    return 0;
}

int templates_create(tpl_library *lib, const char *name, const char *text, size_t len,
                     int *version, error_info *err)
{
    char bare[TEMPLATES_MAX_NAME + 1];
    int v = 0;
    if (templates_parse_spec(name, bare, sizeof bare, &v, err) != 0)
        return -1;
    if (v != 0) {
        error_set(err, "invalid_argument", 0,
                      "template name \"%.80s\": create numbers versions itself, give the name "
                      "without '@'",
                      name);
        return -1;
    }
    if (!text) {
        error_set(err, "invalid_argument", 0, "template %s: no text", bare);
        return -1;
    }
    template_def *t = template_parse(text, len, bare, err);
    if (!t)
        return -1;
    store_db *s = templates_store(lib);
    if (!s) {
        template_free(t);
        error_set(err, "store_error", 0,
                      "cannot create template %s: the database is unavailable", bare);
        return -1;
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)template_hash(t));
    char *vars = variables_json(t);
    int rc = store_template_put(s, bare, template_text(t, NULL), vars, hash, version, err);
    free(vars);
    template_free(t);
    return rc;
}
