#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "net.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { K_STRING, K_NUMBER, K_COUNT, K_BOOL, K_BUDGET };

typedef struct setting {
    const char *name;
    enum kind kind;
    size_t offset;
    double min, max;
} setting;

#define AT(f) offsetof(nyx_config, f)

/* Each variable once, with its type and range: the table is the documentation. */
static const setting settings[] = {
    {"ANTHROPIC_BASE_URL", K_STRING, AT(base_url), 0, 0},
    {"NYX_PROVIDER", K_STRING, AT(provider), 0, 0},
    {"CLAUDE_DEFAULT_MODEL", K_STRING, AT(default_model), 0, 0},
    {"CLAUDE_MAX_TOKENS", K_COUNT, AT(max_tokens), 1, 1000000},
    {"CLAUDE_TIMEOUT_SECONDS", K_NUMBER, AT(timeout_s), 0.001, 86400},
    {"NYX_CONNECT_TIMEOUT_SECONDS", K_NUMBER, AT(connect_timeout_s), 0.001, 3600},
    {"LLM_MAX_RETRIES", K_COUNT, AT(max_retries), 0, 100},
    {"LLM_RETRY_BACKOFF_FACTOR", K_NUMBER, AT(backoff_factor), 1, 100},
    {"NYX_RETRY_BASE_SECONDS", K_NUMBER, AT(backoff_base_s), 0, 3600},
    {"NYX_RETRY_MAX_SECONDS", K_NUMBER, AT(backoff_max_s), 0, 86400},
    {"LLM_ENABLE_CIRCUIT_BREAKER", K_BOOL, AT(circuit_breaker), 0, 0},
    {"NYX_BREAKER_FAILURES", K_COUNT, AT(breaker_failures), 0, 1000000},
    {"NYX_BREAKER_FAILURE_RATE", K_NUMBER, AT(breaker_failure_rate), 0, 1},
    {"NYX_BREAKER_MIN_CALLS", K_COUNT, AT(breaker_min_calls), 1, 1000000},
    {"NYX_BREAKER_WINDOW_SECONDS", K_NUMBER, AT(breaker_window_s), 0.001, 86400},
    {"NYX_BREAKER_COOLDOWN_SECONDS", K_NUMBER, AT(breaker_cooldown_s), 0, 86400},
    {"LLM_CACHE_ENABLED", K_BOOL, AT(response_cache), 0, 0},
    {"LLM_EPHEMERAL_CACHE_TTL", K_NUMBER, AT(ephemeral_ttl_s), 0, 1e9},
    {"LLM_PERSISTENT_CACHE_TTL", K_NUMBER, AT(persistent_ttl_s), 0, 1e9},
    {"LLM_SHARED_CONTEXT_TTL", K_NUMBER, AT(shared_context_ttl_s), 0, 1e9},
    {"LLM_MAX_EPHEMERAL_SIZE", K_COUNT, AT(max_ephemeral_size), 0, 1e9},
    {"LLM_DAILY_BUDGET_USD", K_BUDGET, AT(daily_budget_usd), 0, 1e12},
    {"LLM_MONTHLY_BUDGET_USD", K_BUDGET, AT(monthly_budget_usd), 0, 1e12},
    {"LLM_SESSION_BUDGET_USD", K_BUDGET, AT(session_budget_usd), 0, 1e12},
    {"LLM_ENABLE_COST_ALERTS", K_BOOL, AT(cost_alerts), 0, 0},
    {"NYX_BUDGET_FAIL_OPEN", K_BOOL, AT(budget_fail_open), 0, 0},
    {"NYX_DB", K_STRING, AT(db), 0, 0},
    {"NYX_MODELS", K_STRING, AT(models_file), 0, 0},
    {"NYX_TEMPLATE_PATH", K_STRING, AT(template_path), 0, 0},
    {"NYX_DEBUG", K_BOOL, AT(debug), 0, 0},
    {"NYX_SIM_TTFT_MS", K_NUMBER, AT(sim_ttft_ms), 0, 600000},
    {"NYX_SIM_TOKEN_MS", K_NUMBER, AT(sim_token_ms), 0, 60000},
    {"NYX_SIM_BATCH_MS", K_NUMBER, AT(sim_batch_ms), 0, 86400000},
    {"NYX_SIM_BATCH_EXPIRY_MS", K_NUMBER, AT(sim_batch_expiry_ms), 0, 86400000},
    {"NYX_STORAGE_MODE", K_STRING, AT(storage_mode), 0, 0},
    {"NYX_MAX_PROMPT_BYTES", K_COUNT, AT(max_prompt_bytes), 1, 1e12},
    {"NYX_MAX_PROMPT_TOKENS", K_COUNT, AT(max_prompt_tokens), 1, 1e12},
    {"NYX_MAX_OUTPUT_TOKENS", K_COUNT, AT(max_output_tokens), 1, 1e9},
    {"NYX_PENDING_MAX", K_COUNT, AT(pending_max), 1, 1e7},
    {"NYX_CA_FILE", K_STRING, AT(ca_file), 0, 0},
    {"NYX_CLIENT_CERT", K_STRING, AT(client_cert), 0, 0},
    {"NYX_CLIENT_KEY", K_STRING, AT(client_key), 0, 0},
    {"NYX_TLS_INSECURE", K_BOOL, AT(tls_insecure), 0, 0},
    {"NYX_EXTRA_HEADERS", K_STRING, AT(extra_headers), 0, 0},
    {"NYX_HTTP_VERSION", K_STRING, AT(http_version), 0, 0},
    {"OTEL_EXPORTER_OTLP_ENDPOINT", K_STRING, AT(otel_endpoint), 0, 0},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", K_STRING, AT(otel_traces_endpoint), 0, 0},
    {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", K_STRING, AT(otel_metrics_endpoint), 0, 0},
    {"OTEL_EXPORTER_OTLP_HEADERS", K_STRING, AT(otel_headers), 0, 0},
    {"OTEL_SERVICE_NAME", K_STRING, AT(otel_service_name), 0, 0},
    {"OTEL_RESOURCE_ATTRIBUTES", K_STRING, AT(otel_resource_attributes), 0, 0},
    {"OTEL_SDK_DISABLED", K_BOOL, AT(otel_disabled), 0, 0},
    {"OTEL_TRACES_EXPORTER", K_STRING, AT(otel_traces_exporter), 0, 0},
    {"OTEL_METRICS_EXPORTER", K_STRING, AT(otel_metrics_exporter), 0, 0},
    {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", K_STRING, AT(otel_capture_content), 0, 0},
};

static void defaults(nyx_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_tokens = 1024;
    c->timeout_s = 600;
    c->connect_timeout_s = 10;
    c->max_retries = 3;
    c->backoff_factor = 2;
    c->backoff_base_s = 0.5;
    c->backoff_max_s = 8;
    c->circuit_breaker = 1;
    c->breaker_failures = 5; /* the breaker's own defaults (breaker_config_default) */
    c->breaker_failure_rate = 0.5;
    c->breaker_min_calls = 10;
    c->breaker_window_s = 60;
    c->breaker_cooldown_s = 30;
    c->ephemeral_ttl_s = 300;
    c->persistent_ttl_s = 86400;
    c->shared_context_ttl_s = 300;
    c->max_ephemeral_size = 1000;
    c->daily_budget_usd = -1;
    c->monthly_budget_usd = -1;
    c->session_budget_usd = -1;
    c->sim_ttft_ms = 40;
    c->sim_token_ms = 0.2;
    c->sim_batch_ms = 2000;
    c->max_prompt_bytes = 32L << 20; /* the API's own request limit */
    c->max_prompt_tokens = 1000000;
    c->max_output_tokens = 128000;
    c->pending_max = 100000; /* about 100 MB at most of prompts and responses */
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

static int parse_one(nyx_config *c, const setting *s, const char *v, nyx_error *err)
{
    char *field = (char *)c + s->offset;
    if (s->kind == K_STRING) {
        if (config_set_string((char **)field, v) != 0) {
            nyx_error_set(err, "out_of_memory", 0, "out of memory reading %s", s->name);
            return -1;
        }
        return 0;
    }
    if (s->kind == K_BOOL) {
        if (parse_bool(v, (int *)field) != 0) {
            nyx_error_set(err, "invalid_argument", 0,
                          "%s must be true or false (1/0, yes/no, on/off), got \"%.40s\"",
                          s->name, v);
            return -1;
        }
        return 0;
    }
    errno = 0;
    char *end = NULL;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !isfinite(d)) {
        nyx_error_set(err, "invalid_argument", 0, "%s must be a number, got \"%.40s\"", s->name, v);
        return -1;
    }
    if (s->kind == K_COUNT && d != floor(d)) {
        nyx_error_set(err, "invalid_argument", 0, "%s must be a whole number, got \"%.40s\"",
                      s->name, v);
        return -1;
    }
    if (d < s->min || d > s->max) {
        nyx_error_set(err, "invalid_argument", 0, "%s must be between %g and %g, got %g", s->name,
                      s->min, s->max, d);
        return -1;
    }
    if (s->kind == K_COUNT)
        *(long *)field = (long)d;
    else
        *(double *)field = d;
    return 0;
}

int config_from_env(nyx_config *c, nyx_error *err)
{
    defaults(c);
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const char *v = getenv(settings[i].name);
        if (v && *v && parse_one(c, &settings[i], v, err) != 0) {
            config_free(c);
            return -1;
        }
    }
    const char *key = getenv("ANTHROPIC_API_KEY");
    if (!key || !*key)
        key = getenv("CLAUDE_API_KEY");
    if (key && *key && config_set_string(&c->api_key, key) != 0) {
        nyx_error_set(err, "out_of_memory", 0, "out of memory reading the API key");
        config_free(c);
        return -1;
    }
    if (c->provider && strcmp(c->provider, "sim") != 0 && strcmp(c->provider, "anthropic") != 0) {
        nyx_error_set(err, "invalid_argument", 0,
                      "NYX_PROVIDER must be \"sim\" or \"anthropic\", got \"%.40s\"", c->provider);
        config_free(c);
        return -1;
    }
    if (c->storage_mode && strcmp(c->storage_mode, "full") != 0 && strcmp(c->storage_mode, "redacted") != 0 &&
        strcmp(c->storage_mode, "none") != 0) {
        nyx_error_set(err, "invalid_argument", 0,
                      "NYX_STORAGE_MODE must be \"full\", \"redacted\" or \"none\", got \"%.40s\"", c->storage_mode);
        config_free(c);
        return -1;
    }
    /* trust, client certificates, gateway headers: their files and syntax (net.c) */
    if (net_check_config(c, err) != 0) {
        config_free(c);
        return -1;
    }
    if ((!c->storage_mode && config_set_string(&c->storage_mode, "redacted") != 0) ||
        (!c->default_model && config_set_string(&c->default_model, "claude-haiku-5-5") != 0)) {
        nyx_error_set(err, "out_of_memory", 0, "out of memory");
        config_free(c);
        return -1;
    }
    return 0;
}

void config_free(nyx_config *c)
{
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (settings[i].kind == K_STRING)
            free(*(char **)((char *)c + settings[i].offset));
    free(c->api_key);
    memset(c, 0, sizeof *c);
}

int config_lookup(const nyx_config *c, const char *name, config_value *out)
{
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const setting *s = &settings[i];
        if (strcmp(s->name, name) != 0)
            continue;
        const char *field = (const char *)c + s->offset;
        memset(out, 0, sizeof *out);
        switch (s->kind) {
        case K_STRING:
            out->string = *(char *const *)field;
            out->kind = out->string ? CONFIG_STRING : CONFIG_UNSET;
            break;
        case K_BOOL:
            out->kind = CONFIG_BOOL;
            out->boolean = *(const int *)field;
            break;
        case K_COUNT:
            out->kind = CONFIG_NUMBER;
            out->number = (double)*(const long *)field;
            break;
        case K_NUMBER:
        case K_BUDGET:
            out->number = *(const double *)field;
            out->kind = s->kind == K_BUDGET && out->number < 0 ? CONFIG_UNSET : CONFIG_NUMBER;
            break;
        }
        return 0;
    }
    return -1;
}
