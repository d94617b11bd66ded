#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "net.h"
#include "base/closest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AT(f) offsetof(engine_config, f)
#define NONE ((size_t)-1)

/* Every setting once: its key in the database (`nyx config`), its environment variable, its
 * nyx_set name, its type and range, its default, and the field of engine_config it fills.
 * Precedence, highest first: nyx_set, the environment, the database, the default (a call's
 * own argument, such as a session's budget_usd, is above them all). The table is the
 * documentation; README's configuration table follows it. */
static const setting_def table[] = {
    /* key, environment, nyx_set, kind, unit, min, max, min_open, default, field, choices */
    {"alert.cache_hit_rate_floor", "NYX_ALERT_CACHE_HIT_RATE_FLOOR", NULL, SET_NUMBER, "rate", 0, 1, 0, NULL, NONE, NULL},
    {"alert.error_rate", "NYX_ALERT_ERROR_RATE", NULL, SET_NUMBER, "rate", 0, 1, 0, NULL, NONE, NULL},
    {"alert.latency_ms", "NYX_ALERT_LATENCY_MS", NULL, SET_NUMBER, "milliseconds", 0, 1e9, 1, NULL, NONE, NULL},
    {"budget.agent_hard", NULL, NULL, SET_BOOL, NULL, 0, 0, 0, NULL, NONE, NULL},
    {"budget.daily_hard", NULL, NULL, SET_BOOL, NULL, 0, 0, 0, NULL, NONE, NULL},
    {"budget.daily_usd", "LLM_DAILY_BUDGET_USD", NULL, SET_NUMBER, "usd", 0, 1e12, 0, NULL, AT(daily_budget_usd), NULL},
    {"budget.hard", "NYX_BUDGET_HARD", NULL, SET_BOOL, NULL, 0, 0, 0, "true", NONE, NULL},
    {"budget.monthly_hard", NULL, NULL, SET_BOOL, NULL, 0, 0, 0, NULL, NONE, NULL},
    {"budget.monthly_usd", "LLM_MONTHLY_BUDGET_USD", NULL, SET_NUMBER, "usd", 0, 1e12, 0, NULL, AT(monthly_budget_usd), NULL},
    {"budget.session_hard", NULL, NULL, SET_BOOL, NULL, 0, 0, 0, NULL, NONE, NULL},
    {"budget.session_usd", "LLM_SESSION_BUDGET_USD", NULL, SET_NUMBER, "usd", 0, 1e12, 0, NULL, AT(session_budget_usd), NULL},
    {"cache.ttl.ephemeral", "LLM_EPHEMERAL_CACHE_TTL", NULL, SET_NUMBER, "seconds", 0, 1e9, 0, "300", AT(ephemeral_ttl_s), NULL},
    {"cache.ttl.persistent", "LLM_PERSISTENT_CACHE_TTL", NULL, SET_NUMBER, "seconds", 0, 1e9, 0, "86400", AT(persistent_ttl_s), NULL},
    {"cache.ttl.shared_context", "LLM_SHARED_CONTEXT_TTL", NULL, SET_NUMBER, "seconds", 0, 1e9, 0, "300", AT(shared_context_ttl_s), NULL},
    /* strict: a call fails with store_error unless its record is committed (it waits, within
     * its timeout, for a database that is locked or reconnecting); degrade: results go on and
     * records wait in memory, bounded, and what is lost makes `nyx run` exit 1. */
    {"storage.durability", "NYX_DURABILITY", NULL, SET_CHOICE, NULL, 0, 0, 0, "strict", AT(durability), "strict|degrade"},
    {"templates.writers", "NYX_TEMPLATE_WRITERS", NULL, SET_LIST, NULL, 0, 0, 0, NULL, NONE, NULL},
    /* the environment (and nyx_set) only */
    {NULL, "ANTHROPIC_BASE_URL", "base_url", SET_TEXT, NULL, 0, 0, 0, NULL, AT(base_url), NULL},
    {NULL, "NYX_PROVIDER", "provider", SET_TEXT, NULL, 0, 0, 0, NULL, AT(provider), "sim|anthropic"},
    {NULL, "CLAUDE_DEFAULT_MODEL", NULL, SET_TEXT, NULL, 0, 0, 0, "claude-haiku-5-5", AT(default_model), NULL},
    {NULL, "CLAUDE_MAX_TOKENS", NULL, SET_COUNT, NULL, 1, 1000000, 0, "1024", AT(max_tokens), NULL},
    {NULL, "CLAUDE_TIMEOUT_SECONDS", NULL, SET_NUMBER, "seconds", 0.001, 86400, 0, "600", AT(timeout_s), NULL},
    {NULL, "NYX_CONNECT_TIMEOUT_SECONDS", NULL, SET_NUMBER, "seconds", 0.001, 3600, 0, "10", AT(connect_timeout_s), NULL},
    {NULL, "LLM_MAX_RETRIES", NULL, SET_COUNT, NULL, 0, 100, 0, "3", AT(max_retries), NULL},
    {NULL, "LLM_RETRY_BACKOFF_FACTOR", NULL, SET_NUMBER, NULL, 1, 100, 0, "2", AT(backoff_factor), NULL},
    {NULL, "NYX_RETRY_BASE_SECONDS", NULL, SET_NUMBER, "seconds", 0, 3600, 0, "0.5", AT(backoff_base_s), NULL},
    {NULL, "NYX_RETRY_MAX_SECONDS", NULL, SET_NUMBER, "seconds", 0, 86400, 0, "8", AT(backoff_max_s), NULL},
    {NULL, "LLM_ENABLE_CIRCUIT_BREAKER", NULL, SET_BOOL, NULL, 0, 0, 0, "true", AT(circuit_breaker), NULL},
    /* the breaker's own defaults (breaker_config_default) */
    {NULL, "NYX_BREAKER_FAILURES", NULL, SET_COUNT, NULL, 0, 1000000, 0, "5", AT(breaker_failures), NULL},
    {NULL, "NYX_BREAKER_FAILURE_RATE", NULL, SET_NUMBER, "rate", 0, 1, 0, "0.5", AT(breaker_failure_rate), NULL},
    {NULL, "NYX_BREAKER_MIN_CALLS", NULL, SET_COUNT, NULL, 1, 1000000, 0, "10", AT(breaker_min_calls), NULL},
    {NULL, "NYX_BREAKER_WINDOW_SECONDS", NULL, SET_NUMBER, "seconds", 0.001, 86400, 0, "60", AT(breaker_window_s), NULL},
    {NULL, "NYX_BREAKER_COOLDOWN_SECONDS", NULL, SET_NUMBER, "seconds", 0, 86400, 0, "30", AT(breaker_cooldown_s), NULL},
    {NULL, "LLM_CACHE_ENABLED", NULL, SET_BOOL, NULL, 0, 0, 0, NULL, AT(response_cache), NULL},
    {NULL, "LLM_MAX_EPHEMERAL_SIZE", NULL, SET_COUNT, NULL, 0, 1e9, 0, "1000", AT(max_ephemeral_size), NULL},
    {NULL, "LLM_ENABLE_COST_ALERTS", NULL, SET_BOOL, NULL, 0, 0, 0, NULL, AT(cost_alerts), NULL},
    {NULL, "NYX_BUDGET_FAIL_OPEN", NULL, SET_BOOL, NULL, 0, 0, 0, NULL, AT(budget_fail_open), NULL},
    {NULL, "NYX_DB", "db", SET_TEXT, NULL, 0, 0, 0, NULL, AT(db), NULL},
    {NULL, "NYX_MODELS", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(models_file), NULL},
    {NULL, "NYX_TEMPLATE_PATH", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(template_path), NULL},
    {NULL, "NYX_DEBUG", "debug", SET_BOOL, NULL, 0, 0, 0, NULL, AT(debug), NULL},
    {NULL, "NYX_DEBUG_FILE", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(debug_file), NULL},
    /* named timeouts, name=seconds[,...]: checked item by item when the engine opens (engine.c) */
    {NULL, "NYX_TIMEOUT_PROFILES", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(timeout_profiles), NULL},
    {NULL, "NYX_SIM_TTFT_MS", NULL, SET_NUMBER, "milliseconds", 0, 600000, 0, "40", AT(sim_ttft_ms), NULL},
    {NULL, "NYX_SIM_TOKEN_MS", NULL, SET_NUMBER, "milliseconds", 0, 60000, 0, "0.2", AT(sim_token_ms), NULL},
    {NULL, "NYX_SIM_BATCH_MS", NULL, SET_NUMBER, "milliseconds", 0, 86400000, 0, "2000", AT(sim_batch_ms), NULL},
    {NULL, "NYX_SIM_BATCH_EXPIRY_MS", NULL, SET_NUMBER, "milliseconds", 0, 86400000, 0, "0", AT(sim_batch_expiry_ms), NULL},
    {NULL, "NYX_STORAGE_MODE", NULL, SET_TEXT, NULL, 0, 0, 0, "redacted", AT(storage_mode), "full|redacted|none"},
    {NULL, "NYX_MAX_PROMPT_BYTES", NULL, SET_COUNT, NULL, 1, 1e12, 0, "33554432", AT(max_prompt_bytes), NULL}, /* the API's own limit */
    {NULL, "NYX_MAX_PROMPT_TOKENS", NULL, SET_COUNT, NULL, 1, 1e12, 0, "1000000", AT(max_prompt_tokens), NULL},
    {NULL, "NYX_MAX_OUTPUT_TOKENS", NULL, SET_COUNT, NULL, 1, 1e9, 0, "128000", AT(max_output_tokens), NULL},
    /* about 100 MB at most of prompts and responses */
    {NULL, "NYX_PENDING_MAX", NULL, SET_COUNT, NULL, 1, 1e7, 0, "100000", AT(pending_max), NULL},
    /* where records still waiting for a PostgreSQL database at close are spilled (a SQLite
     * file's go beside it); unset: $XDG_STATE_HOME/nyx, else ~/.local/state/nyx (config_from_env) */
    {NULL, "NYX_SPILL_DIR", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(spill_dir), NULL},
    {NULL, "NYX_CA_FILE", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(ca_file), NULL},
    {NULL, "NYX_CLIENT_CERT", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(client_cert), NULL},
    {NULL, "NYX_CLIENT_KEY", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(client_key), NULL},
    {NULL, "NYX_TLS_INSECURE", NULL, SET_BOOL, NULL, 0, 0, 0, NULL, AT(tls_insecure), NULL},
    {NULL, "NYX_EXTRA_HEADERS", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(extra_headers), NULL},
    {NULL, "NYX_HTTP_VERSION", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(http_version), NULL},
    {NULL, "OTEL_EXPORTER_OTLP_ENDPOINT", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_endpoint), NULL},
    {NULL, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_traces_endpoint), NULL},
    {NULL, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_metrics_endpoint), NULL},
    {NULL, "OTEL_EXPORTER_OTLP_HEADERS", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_headers), NULL},
    {NULL, "OTEL_SERVICE_NAME", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_service_name), NULL},
    {NULL, "OTEL_RESOURCE_ATTRIBUTES", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_resource_attributes), NULL},
    {NULL, "OTEL_SDK_DISABLED", NULL, SET_BOOL, NULL, 0, 0, 0, NULL, AT(otel_disabled), NULL},
    {NULL, "OTEL_TRACES_EXPORTER", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_traces_exporter), NULL},
    {NULL, "OTEL_METRICS_EXPORTER", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_metrics_exporter), NULL},
    {NULL, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", NULL, SET_TEXT, NULL, 0, 0, 0, NULL, AT(otel_capture_content), NULL},
};

#define NTABLE (sizeof table / sizeof table[0])

const setting_def *setting_defs(size_t *n)
{
    *n = NTABLE;
    return table;
}

const setting_def *setting_by_key(const char *key)
{
    for (size_t i = 0; key && i < NTABLE; i++)
        if (table[i].key && strcmp(table[i].key, key) == 0)
            return &table[i];
    return NULL;
}

static const setting_def *by_env(const char *env)
{
    for (size_t i = 0; env && i < NTABLE; i++)
        if (table[i].env && strcmp(table[i].env, env) == 0)
            return &table[i];
    return NULL;
}

const char *setting_type_name(const setting_def *d)
{
    static const char *const names[] = {[SET_TEXT] = "text", [SET_COUNT] = "count", [SET_NUMBER] = "number",
                                        [SET_BOOL] = "boolean", [SET_LIST] = "list", [SET_CHOICE] = "choice"};
    return d->unit ? d->unit : d->choices && d->kind == SET_TEXT ? "choice" : names[d->kind];
}

void setting_label(const setting_def *d, char *out, size_t n)
{
    if (d->key && d->env)
        snprintf(out, n, "%s (%s)", d->env, d->key);
    else /* every row has a key or a variable; the "?" only keeps gcc's -O2 analysis quiet */
        snprintf(out, n, "%s", d->key ? d->key : d->env ? d->env : "?");
}

int config_set_string(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

int config_parse_bool(const char *v, int *out)
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

/* The index of word among d's choices, or -1. */
static int setting_choice(const setting_def *d, const char *word)
{
    size_t n = strlen(word);
    int i = 0;
    for (const char *c = d->choices; c && *c; i++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncasecmp(c, word, n) == 0)
            return i;
        c += len + (bar != NULL);
    }
    return -1;
}

static int is_name_char(int c) { return isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c == '@'; }

/* "a, b ,c" -> "a,b,c": names of agents, or "*". */
static char *check_list(const char *label, const char *text, error_info *err)
{
    size_t len = strlen(text);
    char *out = malloc(len + 1);
    if (!out) {
        error_set(err, "out_of_memory", 0, "out of memory");
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
            error_set(err, "invalid_argument", 0,
                          "%s: must be a comma-separated list of agent names (or *), but item %d is empty", label,
                          item);
            free(out);
            return NULL;
        }
        int star = end - start == 1 && *start == '*';
        for (const char *c = start; c < end && !star; c++)
            if (!is_name_char((unsigned char)*c)) {
                error_set(err, "invalid_argument", 0,
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

static char *copy_or_oom(const char *text, error_info *err)
{
    char *copy = strdup(text);
    if (!copy)
        error_set(err, "out_of_memory", 0, "out of memory");
    return copy;
}

char *setting_check(const setting_def *d, const char *label, const char *text, error_info *err)
{
    char buf[64];
    if (d->kind == SET_LIST)
        return check_list(label, text, err);
    if (d->choices) {
        int i = setting_choice(d, text);
        if (i < 0) {
            error_set(err, "invalid_argument", 0, "%s: must be one of %s, got \"%.40s\"", label, d->choices, text);
            return NULL;
        }
        snprintf(buf, sizeof buf, "%.*s", (int)strcspn(text, " \t"), text);
        for (char *c = buf; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        return copy_or_oom(buf, err);
    }
    if (d->kind == SET_TEXT)
        return copy_or_oom(text, err);
    if (d->kind == SET_BOOL) {
        int b;
        if (config_parse_bool(text, &b) != 0) {
            error_set(err, "invalid_argument", 0, "%s: must be true or false (1/0, yes/no, on/off), got \"%.40s\"",
                          label, text);
            return NULL;
        }
        return copy_or_oom(b ? "true" : "false", err);
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    while (end && end != text && (*end == ' ' || *end == '\t'))
        end++;
    /* strtod also reads hexadecimal ("0x10" as 16), which no one writes for dollars or
     * seconds and which is more likely a slip than a wish. */
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || strpbrk(text, "xX")) {
        static const struct {
            const char *unit, *what;
        } units[] = {{"seconds", "a number of seconds"}, {"usd", "a number of USD"},
                     {"rate", "a share (a number from 0 to 1)"}, {"milliseconds", "a number of milliseconds"}};
        const char *what = d->kind == SET_COUNT ? "a whole number" : "a number";
        for (size_t i = 0; d->unit && i < sizeof units / sizeof units[0]; i++)
            if (strcmp(units[i].unit, d->unit) == 0)
                what = units[i].what;
        error_set(err, "invalid_argument", 0, "%s: must be %s, got \"%.40s\"", label, what, text);
        return NULL;
    }
    if (d->kind == SET_COUNT && v != floor(v)) {
        error_set(err, "invalid_argument", 0, "%s: must be a whole number, got \"%.40s\"", label, text);
        return NULL;
    }
    if (v < d->min || (d->min_open && v <= d->min) || v > d->max) {
        error_set(err, "invalid_argument", 0, "%s: must be %s %g and at most %g, got %g", label,
                      d->min_open ? "above" : "at least", d->min, d->max, v);
        return NULL;
    }
    /* "-0" is 0: its canonical text, what `nyx config list` shows, is "0", not "-0". */
    snprintf(buf, sizeof buf, "%.15g", v == 0 ? 0.0 : v);
    return copy_or_oom(buf, err);
}

int setting_store(engine_config *c, const setting_def *d, const char *canonical)
{
    if (d->field == NONE)
        return 0;
    char *field = (char *)c + d->field;
    switch (d->kind) {
    case SET_TEXT: return config_set_string((char **)field, canonical);
    case SET_BOOL: *(int *)field = canonical && strcmp(canonical, "true") == 0; return 0;
    case SET_COUNT: *(long *)field = canonical ? strtol(canonical, NULL, 10) : 0; return 0;
    case SET_CHOICE: *(double *)field = canonical ? setting_choice(d, canonical) : 0; return 0;
    case SET_NUMBER: *(double *)field = canonical ? strtod(canonical, NULL) : -1; return 0; /* -1: none */
    case SET_LIST: return 0;
    }
    return 0;
}

/* Parses text for d into c. Returns 0, or -1 with err naming label. */
static int set_from_text(engine_config *c, const setting_def *d, const char *label, const char *text, error_info *err)
{
    char *canon = text ? setting_check(d, label, text, err) : NULL;
    if (text && !canon)
        return -1;
    int rc = setting_store(c, d, canon);
    free(canon);
    if (rc != 0)
        error_set(err, "out_of_memory", 0, "out of memory reading %s", label);
    return rc;
}

int config_set_option(engine_config *c, const char *option, const char *value, error_info *err)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].option && strcmp(table[i].option, option) == 0)
            return set_from_text(c, &table[i], option, value, err);
    const char *names[NTABLE];
    size_t n = 0;
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].option)
            names[n++] = table[i].option;
    const char *meant = closest_name(option, names, n);
    error_set(err, "invalid_argument", 0, "unknown option \"%.60s\"%s%s%s", option, meant ? "; did you mean \"" : "",
              meant ? meant : "", meant ? "\"?" : "");
    return -1;
}

/* Variables of nyx's prefixes read outside the table, by the parts that use them: the API key
 * (read below, and listed nowhere), where the Lua library's files are (lua/host.c), and the nyx
 * command's own (cmd_report.c, which sees nyx.h only). */
static const char *const read_elsewhere[] = {"ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "NYX_LUA_DIR", "NYX_CHARTJS"};
#define NELSEWHERE (sizeof read_elsewhere / sizeof *read_elsewhere)

const char *const *config_env_elsewhere(size_t *n)
{
    *n = NELSEWHERE;
    return read_elsewhere;
}

void config_env_slips(void (*say)(void *ud, const char *variable, const char *meant), void *ud)
{
    extern char **environ;
    static const char *const prefixes[] = {"NYX_", "LLM_", "CLAUDE_", "ANTHROPIC_"};
    const char *names[NTABLE + NELSEWHERE];
    size_t n = 0;
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].env)
            names[n++] = table[i].env;
    for (size_t i = 0; i < NELSEWHERE; i++)
        names[n++] = read_elsewhere[i];
    for (char **v = environ; v && *v; v++) {
        const char *eq = strchr(*v, '=');
        char name[80];
        if (!eq || (size_t)(eq - *v) >= sizeof name)
            continue;
        memcpy(name, *v, (size_t)(eq - *v));
        name[eq - *v] = '\0';
        int ours = 0, known = 0;
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
            ours |= strncmp(name, prefixes[i], strlen(prefixes[i])) == 0;
        for (size_t i = 0; ours && i < n && !known; i++)
            known = strcmp(name, names[i]) == 0;
        const char *meant = ours && !known ? closest_name(name, names, n) : NULL;
        if (meant)
            say(ud, name, meant);
    }
}

/* NYX_SPILL_DIR's default, as the XDG base directories have it: $XDG_STATE_HOME/nyx (an
 * absolute path only; the specification says to ignore a relative one), else
 * $HOME/.local/state/nyx. Neither set: none, and records waiting for PostgreSQL at close are
 * lost, as before. 0, or -1 out of memory. */
static int default_spill_dir(engine_config *c)
{
    if (c->spill_dir)
        return 0;
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4096];
    int n;
    if (state && state[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/nyx", state);
    else if (home && home[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/.local/state/nyx", home);
    else
        return 0;
    return n > 0 && (size_t)n < sizeof dir ? config_set_string(&c->spill_dir, dir) : 0;
}

int config_from_env(engine_config *c, error_info *err)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NTABLE; i++) {
        const setting_def *d = &table[i];
        /* A database key's variable is read once, by settings_open, which keeps its source. */
        const char *v = d->env && !d->key ? getenv(d->env) : NULL;
        char label[120];
        setting_label(d, label, sizeof label);
        if (set_from_text(c, d, label, v && *v ? v : d->def, err) != 0) {
            config_free(c);
            return -1;
        }
    }
    if (default_spill_dir(c) != 0) {
        error_set(err, "out_of_memory", 0, "out of memory reading NYX_SPILL_DIR");
        config_free(c);
        return -1;
    }
    const char *key = getenv("ANTHROPIC_API_KEY"), *key_var = "ANTHROPIC_API_KEY";
    if (!key || !*key) {
        key = getenv("CLAUDE_API_KEY");
        key_var = "CLAUDE_API_KEY";
    }
    if (key && *key && config_check_api_key(key, key_var, err) != 0) {
        config_free(c);
        return -1;
    }
    if (key && *key && config_set_string(&c->api_key, key) != 0) {
        error_set(err, "out_of_memory", 0, "out of memory reading the API key");
        config_free(c);
        return -1;
    }
    /* trust, client certificates, gateway headers: their files and syntax (net.c) */
    if (net_check_config(c, err) != 0) {
        config_free(c);
        return -1;
    }
    return 0;
}

int config_check_api_key(const char *key, const char *label, error_info *err)
{
    for (size_t i = 0; key[i]; i++) {
        unsigned char b = (unsigned char)key[i];
        if (b < 0x20 || b == 0x7f)
            return error_fail(
                err, "invalid_argument", 0,
                "%s holds a control character (its byte %zu is 0x%02X); a key is one line of text", label,
                i + 1, b);
    }
    return 0;
}

void config_free(engine_config *c)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].kind == SET_TEXT && table[i].field != NONE)
            free(*(char **)((char *)c + table[i].field));
    free(c->api_key);
    memset(c, 0, sizeof *c);
}

int config_lookup(const engine_config *c, const char *name, config_value *out)
{
    const setting_def *d = by_env(name);
    if (!d || d->field == NONE)
        return -1;
    const char *field = (const char *)c + d->field;
    memset(out, 0, sizeof *out);
    switch (d->kind) {
    case SET_TEXT:
        out->string = *(char *const *)field;
        out->kind = out->string ? CONFIG_STRING : CONFIG_UNSET;
        break;
    case SET_BOOL:
        out->kind = CONFIG_BOOL;
        out->boolean = *(const int *)field;
        break;
    case SET_COUNT:
        out->kind = CONFIG_COUNT;
        out->count = *(const long *)field;
        break;
    case SET_NUMBER:
        out->number = *(const double *)field;
        out->kind = !d->def && out->number < 0 ? CONFIG_UNSET : CONFIG_NUMBER;
        break;
    case SET_CHOICE: /* read by its key (settings_get), as a word */
    case SET_LIST:
        return -1;
    }
    return 0;
}
