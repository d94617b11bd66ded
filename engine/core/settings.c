/* Operator settings in the database (system_config), under the environment and over the
 * defaults. The table of keys below is the documentation: name, environment variable, type
 * and default. Values are kept as canonical text (what `nyx config list` shows) and applied
 * to the engine's configuration fields, so the code that uses a TTL or a budget limit reads
 * one place and never asks where a value came from. */
#define _POSIX_C_SOURCE 200809L
#include "settings.h"

#include "cache/response_cache.h"
#include "call_internal.h"
#include "engine.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum stype { T_SECONDS, T_USD, T_BOOL, T_RATE, T_MS, T_LIST, T_CHOICE };

static const char *const type_names[] = {"seconds", "usd", "boolean", "rate", "milliseconds", "list", "choice"};

#define NO_CFG ((size_t)-1)
#define AT(f) offsetof(nyx_config, f)

typedef struct key_def {
    const char *key;
    const char *env;  /* the environment variable that overrides it, or NULL */
    enum stype type;
    const char *def;  /* default as text; NULL: none (a *_hard key: budget.hard's value) */
    size_t cfg;       /* the double in nyx_config it sets, or NO_CFG */
    const char *choices; /* T_CHOICE: the words allowed, "|"-separated; cfg gets the word's index */
} key_def;

/* Sorted by key: `nyx config list` prints them in this order. */
static const key_def keys[] = {
    {"alert.cache_hit_rate_floor", "NYX_ALERT_CACHE_HIT_RATE_FLOOR", T_RATE, NULL, NO_CFG, NULL},
    {"alert.error_rate", "NYX_ALERT_ERROR_RATE", T_RATE, NULL, NO_CFG, NULL},
    {"alert.latency_ms", "NYX_ALERT_LATENCY_MS", T_MS, NULL, NO_CFG, NULL},
    {"budget.agent_hard", NULL, T_BOOL, NULL, NO_CFG, NULL},
    {"budget.daily_hard", NULL, T_BOOL, NULL, NO_CFG, NULL},
    {"budget.daily_usd", "LLM_DAILY_BUDGET_USD", T_USD, NULL, AT(daily_budget_usd), NULL},
    {"budget.hard", "NYX_BUDGET_HARD", T_BOOL, "true", NO_CFG, NULL},
    {"budget.monthly_hard", NULL, T_BOOL, NULL, NO_CFG, NULL},
    {"budget.monthly_usd", "LLM_MONTHLY_BUDGET_USD", T_USD, NULL, AT(monthly_budget_usd), NULL},
    {"budget.session_hard", NULL, T_BOOL, NULL, NO_CFG, NULL},
    {"budget.session_usd", "LLM_SESSION_BUDGET_USD", T_USD, NULL, AT(session_budget_usd), NULL},
    {"cache.ttl.ephemeral", "LLM_EPHEMERAL_CACHE_TTL", T_SECONDS, "300", AT(ephemeral_ttl_s), NULL},
    {"cache.ttl.persistent", "LLM_PERSISTENT_CACHE_TTL", T_SECONDS, "86400", AT(persistent_ttl_s), NULL},
    {"cache.ttl.shared_context", "LLM_SHARED_CONTEXT_TTL", T_SECONDS, "300", AT(shared_context_ttl_s), NULL},
    /* strict: a call fails with store_error unless its record is committed (it waits, within
     * its timeout, for a database that is locked or reconnecting); degrade: results go on and
     * records wait in memory, bounded, and what is lost makes `nyx run` exit 1. */
    {"storage.durability", "NYX_DURABILITY", T_CHOICE, "strict", AT(durability), "strict|degrade"},
    {"templates.writers", "NYX_TEMPLATE_WRITERS", T_LIST, NULL, NO_CFG, NULL},
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* Budget scope kinds, in the order of their *_hard keys. */
static const struct {
    const char *prefix, *key;
} scope_kinds[] = {{"day:", "budget.daily_hard"},
                   {"month:", "budget.monthly_hard"},
                   {"session:", "budget.session_hard"},
                   {"agent:", "budget.agent_hard"}};

#define NKINDS (sizeof scope_kinds / sizeof scope_kinds[0])

struct settings {
    char *env[NKEYS]; /* canonical text from the environment; NULL: unset */
    char *db[NKEYS];  /* canonical text from the database; NULL: absent */
    int loaded;       /* the database was read at least once */
    int hard[NKINDS];
    alert_thresholds alerts;
    char **writers;   /* templates.writers; NULL: anyone may write */
    size_t nwriters;
    alert_window window;
};

static const key_def *find(const char *key, size_t *index)
{
    for (size_t i = 0; key && i < NKEYS; i++)
        if (strcmp(keys[i].key, key) == 0) {
            if (index)
                *index = i;
            return &keys[i];
        }
    return NULL;
}

const char *settings_type(const char *key)
{
    const key_def *k = find(key, NULL);
    return k ? type_names[k->type] : NULL;
}

const char *settings_env_name(const char *key)
{
    const key_def *k = find(key, NULL);
    return k ? k->env : NULL;
}

static void unknown_key(const char *key, nyx_error *err)
{
    char known[600] = "";
    size_t n = 0;
    for (size_t i = 0; i < NKEYS && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", keys[i].key);
    nyx_error_set(err, "invalid_argument", 0, "unknown setting \"%.60s\" (settings: %s)", key ? key : "",
                  known);
}

/* ---- checking values ---- */

static int is_name_char(int c) { return isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c == '@'; }

/* "a, b ,c" -> "a,b,c": names of agents, or "*". */
static char *check_list(const char *label, const char *text, nyx_error *err)
{
    size_t len = strlen(text);
    char *out = malloc(len + 1);
    if (!out) {
        nyx_error_set(err, "out_of_memory", 0, "out of memory");
        return NULL;
    }
    size_t w = 0;
    int item = 1;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end == start) {
            nyx_error_set(err, "invalid_argument", 0,
                          "%s: must be a comma-separated list of agent names (or *), but item %d is empty", label,
                          item);
            free(out);
            return NULL;
        }
        int star = end - start == 1 && *start == '*';
        for (const char *c = start; c < end && !star; c++)
            if (!is_name_char((unsigned char)*c)) {
                nyx_error_set(err, "invalid_argument", 0,
                              "%s: \"%.*s\" is not an agent name (letters, digits and _ - . : @, or *)", label,
                              (int)(end - start > 60 ? 60 : end - start), start);
                free(out);
                return NULL;
            }
        if (w)
            out[w++] = ',';
        memcpy(out + w, start, (size_t)(end - start));
        w += (size_t)(end - start);
        if (!*p)
            break;
        p++;
        item++;
    }
    out[w] = '\0';
    return out;
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Checks text against k's type. Returns the canonical text (malloc'd) or NULL with err,
 * whose message starts with label (the key, or "VARIABLE (key)"). */
/* The index of word among k->choices ("a|b|c"), or -1. */
static int choice_index(const key_def *k, const char *word)
{
    size_t n = strlen(word);
    int i = 0;
    for (const char *c = k->choices; c && *c; i++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncasecmp(c, word, n) == 0)
            return i;
        c += len + (bar != NULL);
    }
    return -1;
}

static char *check_value(const key_def *k, const char *label, const char *text, nyx_error *err)
{
    char buf[64];
    if (k->type == T_LIST)
        return check_list(label, text, err);
    if (k->type == T_CHOICE) {
        int i = choice_index(k, text);
        if (i < 0) {
            nyx_error_set(err, "invalid_argument", 0, "%s: must be one of %s, got \"%.40s\"", label, k->choices, text);
            return NULL;
        }
        snprintf(buf, sizeof buf, "%.*s", (int)strcspn(text, " \t"), text);
        for (char *c = buf; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        char *copy = strdup(buf);
        if (!copy)
            nyx_error_set(err, "out_of_memory", 0, "out of memory");
        return copy;
    }
    if (k->type == T_BOOL) {
        int b;
        if (parse_bool(text, &b) != 0) {
            nyx_error_set(err, "invalid_argument", 0, "%s: must be true or false (1/0, yes/no, on/off), got \"%.40s\"",
                          label, text);
            return NULL;
        }
        snprintf(buf, sizeof buf, "%s", b ? "true" : "false");
    } else {
        static const struct {
            double min, max;
            int min_open; /* the minimum itself is not allowed */
            const char *what;
        } range[] = {
            [T_SECONDS] = {0, 1e9, 0, "a number of seconds"},
            [T_USD] = {0, 1e12, 0, "a number of USD"},
            [T_RATE] = {0, 1, 0, "a share (a number from 0 to 1)"},
            [T_MS] = {0, 1e9, 1, "a number of milliseconds"},
        };
        errno = 0;
        char *end = NULL;
        double d = strtod(text, &end);
        while (end && end != text && (*end == ' ' || *end == '\t'))
            end++;
        if (end == text || *end != '\0' || errno != 0 || !isfinite(d)) {
            nyx_error_set(err, "invalid_argument", 0, "%s: must be %s, got \"%.40s\"", label, range[k->type].what, text);
            return NULL;
        }
        if (d < range[k->type].min || (range[k->type].min_open && d <= range[k->type].min) ||
            d > range[k->type].max) {
            nyx_error_set(err, "invalid_argument", 0, "%s: must be %s %g and at most %g, got %g", label,
                          range[k->type].min_open ? "above" : "at least", range[k->type].min, range[k->type].max, d);
            return NULL;
        }
        snprintf(buf, sizeof buf, "%.15g", d);
    }
    char *copy = strdup(buf);
    if (!copy)
        nyx_error_set(err, "out_of_memory", 0, "out of memory");
    return copy;
}

/* ---- the values in force ---- */

static const char *source_of(const settings *s, size_t i)
{
    return s->env[i] ? "environment" : s->db[i] ? "database" : "default";
}

static const char *value_of(const settings *s, size_t i)
{
    if (s->env[i])
        return s->env[i];
    if (s->db[i])
        return s->db[i];
    if (!keys[i].def && keys[i].type == T_BOOL) { /* a *_hard key: as budget.hard */
        size_t h = 0;
        find("budget.hard", &h);
        return value_of(s, h);
    }
    return keys[i].def;
}

static double number_or(const settings *s, const char *key, double none)
{
    size_t i = 0;
    const char *v = find(key, &i) ? value_of(s, i) : NULL;
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
    size_t i = 0;
    find("templates.writers", &i);
    const char *v = value_of(s, i);
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

/* Puts the values in force into the engine: configuration fields (under the environment,
 * which config_from_env already wrote), the response cache's TTL, and this module's own. */
static void apply(nyx_engine *e)
{
    settings *s = e->settings;
    for (size_t i = 0; i < NKEYS; i++) {
        /* A choice's variable is read here only (config_from_env does not know it). */
        if (keys[i].cfg == NO_CFG || (s->env[i] && keys[i].type != T_CHOICE))
            continue;
        const char *v = value_of(s, i);
        double *field = (double *)((char *)&e->cfg + keys[i].cfg);
        *field = keys[i].type == T_CHOICE ? (v ? choice_index(&keys[i], v) : 0) : v ? strtod(v, NULL) : -1;
    }
    if (e->responses)
        response_cache_set_ttl(e->responses, e->cfg.ephemeral_ttl_s);
    for (size_t k = 0; k < NKINDS; k++) {
        size_t i = 0;
        find(scope_kinds[k].key, &i);
        const char *v = value_of(s, i);
        s->hard[k] = !v || strcmp(v, "false") != 0;
    }
    s->alerts.latency_ms = number_or(s, "alert.latency_ms", -1);
    s->alerts.error_rate = number_or(s, "alert.error_rate", -1);
    s->alerts.cache_hit_floor = number_or(s, "alert.cache_hit_rate_floor", -1);
    apply_writers(s);
}

/* ---- life cycle ---- */

int settings_open(nyx_engine *e, nyx_error *err)
{
    settings *s = calloc(1, sizeof *s);
    if (!s) {
        nyx_error_set(err, "out_of_memory", 0, "out of memory");
        return -1;
    }
    e->settings = s;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *v = keys[i].env ? getenv(keys[i].env) : NULL;
        if (!v || !*v)
            continue;
        char label[96];
        snprintf(label, sizeof label, "%s (%s)", keys[i].env, keys[i].key);
        if (!(s->env[i] = check_value(&keys[i], label, v, err))) {
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
    for (size_t i = 0; i < NKEYS; i++) {
        free(s->env[i]);
        free(s->db[i]);
    }
    free_writers(s);
    free(s);
    e->settings = NULL;
}

struct settings_rows {
    nyx_engine *e;
    char *db[NKEYS];
};

settings_rows *settings_rows_new(nyx_engine *e)
{
    settings_rows *r = calloc(1, sizeof *r);
    if (r)
        r->e = e;
    return r;
}

void settings_rows_free(settings_rows *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        free(r->db[i]);
    free(r);
}

void settings_rows_apply(settings_rows *r)
{
    settings *s = r->e->settings;
    if (s) {
        for (size_t i = 0; i < NKEYS; i++) {
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
    const char *key = NULL, *value = NULL;
    for (int c = 0; c < ncols; c++) {
        if (strcmp(names[c], "key") == 0)
            key = values[c];
        else if (strcmp(names[c], "value") == 0)
            value = values[c];
    }
    size_t i = 0;
    if (key && call_learned_setting(r->e, key, value))
        return 0;
    if (!key || !value || !find(key, &i))
        return 0; /* a key of another version of nyx: not ours to judge */
    nyx_error err;
    nyx_error_clear(&err);
    free(r->db[i]);
    if (!(r->db[i] = check_value(&keys[i], keys[i].key, value, &err))) {
        char once[96];
        snprintf(once, sizeof once, "settings:%s=%.40s", key, value);
        engine_warn_once(r->e, once, "nyx: the database holds a malformed setting, ignored: %s", err.message);
    }
    return 0;
}

int settings_load(nyx_engine *e, nyx_error *err)
{
    if (!e->settings || !e->store)
        return 0;
    settings_rows *r = settings_rows_new(e);
    if (!r) {
        nyx_error_set(err, "out_of_memory", 0, "out of memory reading the settings");
        return -1;
    }
    if (store_config_list(e->store, settings_rows_add, r, err) != 0) {
        settings_rows_free(r);
        return -1;
    }
    settings_rows_apply(r);
    return 0;
}

/* The command line and nyx.config read settings without starting a provider. */
static int ensure_loaded(nyx_engine *e, nyx_error *err)
{
    if (!e->settings) {
        nyx_error_set(err, "invalid_argument", 0, "the engine has no settings");
        return -1;
    }
    if (e->settings->loaded)
        return 0;
    if (!e->store && !e->started && engine_open_store(e) != 0) {
        nyx_error_set(err, "store_error", 0, "%s", e->errmsg);
        return -1;
    }
    return settings_load(e, err);
}

/* ---- reading and writing ---- */

int settings_get(nyx_engine *e, const char *key, char **value, const char **source, nyx_error *err)
{
    *value = NULL;
    size_t i = 0;
    if (!find(key, &i)) {
        unknown_key(key, err);
        return -1;
    }
    if (ensure_loaded(e, err) != 0)
        return -1;
    const char *v = value_of(e->settings, i);
    if (v && !(*value = strdup(v))) {
        nyx_error_set(err, "out_of_memory", 0, "out of memory");
        return -1;
    }
    if (source)
        *source = source_of(e->settings, i);
    return 0;
}

int settings_set(nyx_engine *e, const char *key, const char *value, nyx_error *err)
{
    size_t i = 0;
    const key_def *k = find(key, &i);
    if (!k) {
        unknown_key(key, err);
        return -1;
    }
    char *canon = NULL;
    if (value && !(canon = check_value(k, k->key, value, err)))
        return -1;
    if (ensure_loaded(e, err) != 0 || !e->store) {
        if (!e->store && !err->type[0])
            nyx_error_set(err, "store_error", 0, "cannot set %s: the database is unavailable", key);
        free(canon);
        return -1;
    }
    e->local_changes++;
    if (store_config_set(e->store, key, canon, err) != 0) {
        free(canon);
        return -1;
    }
    char detail[600];
    snprintf(detail, sizeof detail, canon ? "%s=%.500s" : "%s removed", key, canon);
    nyx_error aerr;
    nyx_error_clear(&aerr);
    store_audit(e->store, "config_set", NULL, NULL, detail, &aerr);
    settings *s = e->settings;
    free(s->db[i]);
    s->db[i] = canon;
    apply(e);
    return 0;
}

int settings_list(nyx_engine *e, store_row_fn fn, void *ud, nyx_error *err)
{
    if (ensure_loaded(e, err) != 0)
        return -1;
    static const char *const names[] = {"key", "value", "source"};
    for (size_t i = 0; i < NKEYS; i++) {
        const char *row[] = {keys[i].key, value_of(e->settings, i), source_of(e->settings, i)};
        int number = keys[i].type == T_SECONDS || keys[i].type == T_USD || keys[i].type == T_RATE || keys[i].type == T_MS;
        const char types[] = {ROW_TEXT, number ? ROW_REAL : ROW_TEXT, ROW_TEXT};
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
                                    nyx_error *err)
{
    if (ensure_loaded(e, err) != 0)
        return -1;
    settings *s = e->settings;
    size_t w = 0;
    find("templates.writers", &w);
    if (!value_of(s, w))
        return 0;
    for (size_t i = 0; i < s->nwriters; i++)
        if (strcmp(s->writers[i], "*") == 0 || (agent && strcmp(s->writers[i], agent) == 0))
            return 0;
    if (agent)
        nyx_error_set(err, "permission_denied", 0,
                      "agent \"%.60s\" may not create or change template \"%.60s\" (templates.writers: %.200s)",
                      agent, template_name, value_of(s, w));
    else
        nyx_error_set(err, "permission_denied", 0,
                      "creating or changing template \"%.60s\" needs an agent named in templates.writers (%.200s)",
                      template_name, value_of(s, w));
    if (e->store) {
        char detail[200];
        snprintf(detail, sizeof detail, "template=%.120s", template_name);
        nyx_error aerr;
        nyx_error_clear(&aerr);
        store_audit(e->store, "template_write_refused", NULL, agent, detail, &aerr);
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

int nyx_config_get(nyx_engine *e, const char *key, char **value, const char **source)
{
    nyx_error err;
    nyx_error_clear(&err);
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

int nyx_config_set(nyx_engine *e, const char *key, const char *value)
{
    nyx_error err;
    nyx_error_clear(&err);
    if (!e)
        return NYX_EINVAL;
    if (settings_set(e, key, value, &err) != 0) {
        engine_set_error(e, "%s", err.message);
        return error_code(&err);
    }
    return NYX_OK;
}
