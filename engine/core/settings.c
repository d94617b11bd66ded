/* Operator settings in the database (system_config), under the environment and over the
 * defaults. The keys are the keyed entries of the one settings table (config.c), which also
 * parses them. Values are kept as canonical text (what `nyx config list` shows) and applied
 * to the engine's configuration fields, so the code that uses a TTL or a budget limit reads
 * one place and never asks where a value came from. */
#define _POSIX_C_SOURCE 200809L
#include "settings.h"

#include "base/closest.h"
#include "cache/response_cache.h"
#include "call_internal.h"
#include "engine.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Budget scope kinds, in the order of their *_hard keys. */
static const struct {
    const char *prefix, *key;
} scope_kinds[] = {{"day:", "budget.daily_hard"},
                   {"month:", "budget.monthly_hard"},
                   {"session:", "budget.session_hard"},
                   {"agent:", "budget.agent_hard"}};

#define NKINDS (sizeof scope_kinds / sizeof scope_kinds[0])

struct settings {
    const setting_def *defs; /* the settings table (config.c); the keyed entries are ours */
    size_t ndefs;
    char **env;       /* per entry: canonical text from the environment; NULL: unset */
    char **db;        /* per entry: canonical text from the database; NULL: absent */
    int loaded;       /* the database was read at least once */
    int hard[NKINDS];
    alert_thresholds alerts;
    char **writers;   /* templates.writers; NULL: anyone may write */
    size_t nwriters;
    alert_window window;
};

/* The table index of a database key, or -1. */
static long find(const char *key)
{
    size_t n = 0;
    const setting_def *d = setting_defs(&n), *k = setting_by_key(key);
    return k ? (long)(k - d) : -1;
}

const char *settings_type(const char *key)
{
    const setting_def *k = setting_by_key(key);
    return k ? setting_type_name(k) : NULL;
}

/* The key a person most likely meant by key: the setting whose environment variable it is
 * (LLM_DAILY_BUDGET_USD typed as a key), a slip of a key's letters, or a key's words in another
 * order (daily_budget_usd); NULL when none. */
static const char *meant_key(const char *key, const setting_def *d, size_t ndefs)
{
    const char *keys[64]; /* the keyed settings: 16 */
    size_t n = 0;
    for (size_t i = 0; i < ndefs && n < sizeof keys / sizeof *keys; i++) {
        if (!d[i].key)
            continue;
        if (d[i].env && strcasecmp(key, d[i].env) == 0)
            return d[i].key;
        keys[n++] = d[i].key;
    }
    const char *meant = closest_name(key, keys, n);
    return meant ? meant : same_words_name(key, keys, n);
}

static void unknown_key(const char *key, error_info *err)
{
    char known[600] = "";
    size_t n = 0, ndefs = 0;
    const setting_def *d = setting_defs(&ndefs);
    for (size_t i = 0; i < ndefs && n < sizeof known; i++)
        if (d[i].key)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", d[i].key);
    const char *meant = key ? meant_key(key, d, ndefs) : NULL;
    error_set(err, "invalid_argument", 0, "unknown setting \"%.60s\"%s%s%s (settings: %s)", key ? key : "",
              meant ? "; did you mean \"" : "", meant ? meant : "", meant ? "\"?" : "", known);
}

/* ---- the values in force ---- */

static const char *source_of(const settings *s, long i)
{
    return s->env[i] ? "environment" : s->db[i] ? "database" : "default";
}

static const char *value_of(const settings *s, long i)
{
    if (s->env[i])
        return s->env[i];
    if (s->db[i])
        return s->db[i];
    if (!s->defs[i].def && s->defs[i].kind == SET_BOOL) /* a *_hard key: as budget.hard */
        return value_of(s, find("budget.hard"));
    return s->defs[i].def;
}

static double number_or(const settings *s, const char *key, double none)
{
    const char *v = value_of(s, find(key));
    return v ? strtod(v, NULL) : none;
}

static void free_writers(settings *s)
{
    for (size_t i = 0; i < s->nwriters; i++)
        free(s->writers[i]);
    free(s->writers);
    s->writers = NULL;
    s->nwriters = 0;
}

static void apply_writers(settings *s)
{
    const char *v = value_of(s, find("templates.writers"));
    free_writers(s);
    if (!v)
        return;
    size_t n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    char **w = calloc(n, sizeof *w);
    char *copy = strdup(v);
    if (!w || !copy) {
        free(w);
        free(copy);
        return; /* out of memory: the list is unknown, so nobody may write */
    }
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && s->nwriters < n; t = strtok_r(NULL, ",", &save))
        if ((w[s->nwriters] = strdup(t)))
            s->nwriters++;
    free(copy);
    s->writers = w;
}

/* Puts the values in force into the engine: the configuration fields of the database keys
 * (environment, else database, else default), the response cache's TTL, and this module's
 * own. */
static void apply(nyx_engine *e)
{
    settings *s = e->settings;
    for (size_t i = 0; i < s->ndefs; i++)
        if (s->defs[i].key)
            setting_store(&e->cfg, &s->defs[i], value_of(s, (long)i));
    if (e->responses)
        response_cache_set_ttl(e->responses, e->cfg.ephemeral_ttl_s);
    for (size_t k = 0; k < NKINDS; k++) {
        const char *v = value_of(s, find(scope_kinds[k].key));
        s->hard[k] = !v || strcmp(v, "false") != 0;
    }
    s->alerts.latency_ms = number_or(s, "alert.latency_ms", -1);
    s->alerts.error_rate = number_or(s, "alert.error_rate", -1);
    s->alerts.cache_hit_floor = number_or(s, "alert.cache_hit_rate_floor", -1);
    apply_writers(s);
}

/* ---- life cycle ---- */

int settings_open(nyx_engine *e, error_info *err)
{
    settings *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, "out_of_memory", 0, "out of memory");
        return -1;
    }
    e->settings = s;
    s->defs = setting_defs(&s->ndefs);
    s->env = calloc(s->ndefs, sizeof *s->env);
    s->db = calloc(s->ndefs, sizeof *s->db);
    if (!s->env || !s->db) {
        settings_free(e);
        error_set(err, "out_of_memory", 0, "out of memory");
        return -1;
    }
    /* The environment's value of each database key (config_from_env gave them their
     * defaults): checked, kept with its source, applied above the database. */
    for (size_t i = 0; i < s->ndefs; i++) {
        const setting_def *d = &s->defs[i];
        const char *v = d->key && d->env ? getenv(d->env) : NULL;
        if (!v || !*v)
            continue;
        char label[120];
        setting_label(d, label, sizeof label);
        if (!(s->env[i] = setting_check(d, label, v, err))) {
            settings_free(e);
            return -1;
        }
    }
    apply(e);
    return 0;
}

void settings_free(nyx_engine *e)
{
    settings *s = e->settings;
    if (!s)
        return;
    for (size_t i = 0; i < s->ndefs; i++) {
        if (s->env)
            free(s->env[i]);
        if (s->db)
            free(s->db[i]);
    }
    free(s->env);
    free(s->db);
    free_writers(s);
    free(s);
    e->settings = NULL;
}

struct settings_rows {
    nyx_engine *e;
    size_t ndefs;
    char **db;
};

settings_rows *settings_rows_new(nyx_engine *e)
{
    settings_rows *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->e = e;
    setting_defs(&r->ndefs);
    if (!(r->db = calloc(r->ndefs, sizeof *r->db))) {
        free(r);
        return NULL;
    }
    return r;
}

void settings_rows_free(settings_rows *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ndefs; i++)
        free(r->db[i]);
    free(r->db);
    free(r);
}

void settings_rows_apply(settings_rows *r)
{
    settings *s = r->e->settings;
    if (s) {
        for (size_t i = 0; i < r->ndefs; i++) {
            free(s->db[i]);
            s->db[i] = r->db[i];
            r->db[i] = NULL;
        }
        s->loaded = 1;
        apply(r->e);
    }
    settings_rows_free(r);
}

int settings_rows_add(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types)
{
    (void)types;
    settings_rows *r = ud;
    const char *key = rows_value(ncols, names, values, "key");
    const char *value = rows_value(ncols, names, values, "value");
    if (key && call_learned_setting(r->e, key, value))
        return 0;
    long i = find(key);
    if (!key || !value || i < 0)
        return 0; /* a key of another version of nyx: not ours to judge */
    const setting_def *d = setting_by_key(key);
    error_info err;
    error_clear(&err);
    free(r->db[i]);
    if (!(r->db[i] = setting_check(d, d->key, value, &err))) {
        char once[96];
        snprintf(once, sizeof once, "settings:%s=%.40s", key, value);
        /* A spending limit written behind nyx's back in a form it cannot read is not dropped
         * (that would leave the scope without one): nothing is spent under it until it is set
         * again. Any other setting keeps its value from below. */
        if (d->unit && strcmp(d->unit, "usd") == 0 && (r->db[i] = strdup("0")) != NULL)
            engine_warn_once(r->e, once,
                             "nyx: the database holds a malformed spending limit: %s; nothing may be spent under "
                             "it until `nyx config set %s` sets it again",
                             err.message, key);
        else
            engine_warn_once(r->e, once, "nyx: the database holds a malformed setting, ignored: %s", err.message);
    }
    return 0;
}

int settings_load(nyx_engine *e, error_info *err)
{
    if (!e->settings || !e->storage.db)
        return 0;
    settings_rows *r = settings_rows_new(e);
    if (!r) {
        error_set(err, "out_of_memory", 0, "out of memory reading the settings");
        return -1;
    }
    if (store_config_list(e->storage.db, settings_rows_add, r, err) != 0) {
        settings_rows_free(r);
        return -1;
    }
    settings_rows_apply(r);
    return 0;
}

/* The command line and nyx.config read settings without starting a provider. */
static int ensure_loaded(nyx_engine *e, error_info *err)
{
    if (!e->settings) {
        error_set(err, "invalid_argument", 0, "the engine has no settings");
        return -1;
    }
    if (e->settings->loaded)
        return 0;
    /* Also once the engine runs without its database: the values in the database are then
     * unknown, and "default" would be a guess (nyx_query "config" says NYX_EIO there too). */
    if (!e->storage.db && engine_open_store(e) != 0) {
        error_set(err, "store_error", 0, "%s", e->errmsg);
        return -1;
    }
    return settings_load(e, err);
}

/* ---- reading and writing ---- */

int settings_get(nyx_engine *e, const char *key, char **value, const char **source, error_info *err)
{
    *value = NULL;
    long i = find(key);
    if (i < 0) {
        unknown_key(key, err);
        return -1;
    }
    if (ensure_loaded(e, err) != 0)
        return -1;
    const char *v = value_of(e->settings, i);
    if (v && !(*value = strdup(v))) {
        error_set(err, "out_of_memory", 0, "out of memory");
        return -1;
    }
    if (source)
        *source = source_of(e->settings, i);
    return 0;
}

int settings_set(nyx_engine *e, const char *key, const char *value, error_info *err)
{
    long i = find(key);
    const setting_def *k = setting_by_key(key);
    if (!k) {
        unknown_key(key, err);
        return -1;
    }
    char *canon = NULL;
    if (value && !(canon = setting_check(k, k->key, value, err)))
        return -1;
    if (ensure_loaded(e, err) != 0 || !e->storage.db) {
        if (!e->storage.db && !err->type[0])
            error_set(err, "store_error", 0, "cannot set %s: the database is unavailable", key);
        free(canon);
        return -1;
    }
    e->local_changes++;
    if (store_config_set(e->storage.db, key, canon, err) != 0) {
        free(canon);
        return -1;
    }
    char detail[600];
    snprintf(detail, sizeof detail, canon ? "%s=%.500s" : "%s removed", key, canon);
    error_info aerr;
    error_clear(&aerr);
    store_audit(e->storage.db, "config_set", NULL, NULL, detail, &aerr);
    settings *s = e->settings;
    free(s->db[i]);
    s->db[i] = canon;
    apply(e);
    return 0;
}

int settings_list(nyx_engine *e, store_row_fn fn, void *ud, error_info *err)
{
    if (ensure_loaded(e, err) != 0)
        return -1;
    static const char *const names[] = {"key", "value", "source"};
    const settings *s = e->settings;
    for (size_t i = 0; i < s->ndefs; i++) {
        if (!s->defs[i].key)
            continue;
        const char *row[] = {s->defs[i].key, value_of(s, (long)i), source_of(s, (long)i)};
        const setting_kind k = s->defs[i].kind;
        const char types[] = {ROW_TEXT,
                              k == SET_NUMBER ? ROW_REAL : k == SET_COUNT ? ROW_INT : k == SET_BOOL ? ROW_BOOL : ROW_TEXT,
                              ROW_TEXT};
        if (fn(ud, 3, names, row, types) != 0)
            return 1;
    }
    return 0;
}

/* ---- what the engine asks ---- */

int settings_budget_hard(const nyx_engine *e, const char *scope)
{
    const settings *s = e->settings;
    if (!s)
        return 1;
    for (size_t k = 0; k < NKINDS; k++)
        if (strncmp(scope, scope_kinds[k].prefix, strlen(scope_kinds[k].prefix)) == 0)
            return s->hard[k];
    return 1;
}

int settings_template_write_allowed(nyx_engine *e, const char *agent, const char *template_name,
                                    error_info *err)
{
    if (ensure_loaded(e, err) != 0)
        return -1;
    settings *s = e->settings;
    long w = find("templates.writers");
    if (!value_of(s, w))
        return 0;
    for (size_t i = 0; i < s->nwriters; i++)
        if (strcmp(s->writers[i], "*") == 0 || (agent && strcmp(s->writers[i], agent) == 0))
            return 0;
    if (agent)
        error_set(err, "permission_denied", 0,
                      "agent \"%.60s\" may not create or change template \"%.60s\" (templates.writers: %.200s)",
                      agent, template_name, value_of(s, w));
    else
        error_set(err, "permission_denied", 0,
                      "creating or changing template \"%.60s\" needs an agent named in templates.writers (%.200s)",
                      template_name, value_of(s, w));
    if (e->storage.db) {
        char detail[200];
        snprintf(detail, sizeof detail, "template=%.120s", template_name);
        error_info aerr;
        error_clear(&aerr);
        store_audit(e->storage.db, "template_write_refused", NULL, agent, detail, &aerr);
    }
    return -1;
}

const alert_thresholds *settings_alerts(const nyx_engine *e)
{
    return e->settings ? &e->settings->alerts : NULL;
}

alert_window *settings_alert_window(nyx_engine *e)
{
    return e->settings ? &e->settings->window : NULL;
}

/* ---- public API (nyx.h) ---- */

int settings_config_get(nyx_engine *e, const char *key, char **value, const char **source)
{
    error_info err;
    error_clear(&err);
    if (!e || !value) {
        if (e)
            engine_set_error(e, "nyx_config_get: key and value are required");
        return NYX_EINVAL;
    }
    if (settings_get(e, key, value, source, &err) != 0) {
        engine_set_error(e, "%s", err.message);
        return error_code(&err);
    }
    return NYX_OK;
}

int settings_config_set(nyx_engine *e, const char *key, const char *value)
{
    error_info err;
    error_clear(&err);
    if (!e)
        return NYX_EINVAL;
    if (settings_set(e, key, value, &err) != 0) {
        engine_set_error(e, "%s", err.message);
        return error_code(&err);
    }
    return NYX_OK;
}
