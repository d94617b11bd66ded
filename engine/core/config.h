/* Engine configuration from the environment: every variable the design names, parsed once at
 * start; a malformed value is an error naming the variable and the problem. */
#ifndef NYX_CONFIG_H
#define NYX_CONFIG_H

#include "claude/types.h"

/* storage.durability: whether a result may reach a script before its record is committed. */
enum { DURABILITY_STRICT = 0, DURABILITY_DEGRADE = 1 };

typedef struct engine_config {
    char *api_key;          /* ANTHROPIC_API_KEY or CLAUDE_API_KEY; never logged */
    char *base_url;         /* ANTHROPIC_BASE_URL */
    char *provider;         /* NYX_PROVIDER: "sim" | "anthropic" | NULL (decide by key) */
    char *default_model;    /* CLAUDE_DEFAULT_MODEL */
    long max_tokens;        /* CLAUDE_MAX_TOKENS */
    double timeout_s;       /* CLAUDE_TIMEOUT_SECONDS: total per attempt */
    double connect_timeout_s; /* NYX_CONNECT_TIMEOUT_SECONDS */
    long max_retries;       /* LLM_MAX_RETRIES */
    double backoff_factor;  /* LLM_RETRY_BACKOFF_FACTOR */
    double backoff_base_s;  /* NYX_RETRY_BASE_SECONDS */
    double backoff_max_s;   /* NYX_RETRY_MAX_SECONDS */
    int circuit_breaker;    /* LLM_ENABLE_CIRCUIT_BREAKER */
    long breaker_failures;  /* NYX_BREAKER_FAILURES: consecutive failures that open it; 0 = rule off */
    double breaker_failure_rate; /* NYX_BREAKER_FAILURE_RATE: share over the window that opens it */
    long breaker_min_calls; /* NYX_BREAKER_MIN_CALLS: calls in the window before the share counts */
    double breaker_window_s;   /* NYX_BREAKER_WINDOW_SECONDS */
    double breaker_cooldown_s; /* NYX_BREAKER_COOLDOWN_SECONDS: open -> half-open after this */
    int response_cache;     /* LLM_CACHE_ENABLED */
    double ephemeral_ttl_s; /* LLM_EPHEMERAL_CACHE_TTL */
    double persistent_ttl_s;/* LLM_PERSISTENT_CACHE_TTL */
    double shared_context_ttl_s; /* LLM_SHARED_CONTEXT_TTL */
    long max_ephemeral_size;/* LLM_MAX_EPHEMERAL_SIZE (entries) */
    double daily_budget_usd;   /* LLM_DAILY_BUDGET_USD, < 0 none */
    double monthly_budget_usd; /* LLM_MONTHLY_BUDGET_USD */
    double session_budget_usd; /* LLM_SESSION_BUDGET_USD */
    int cost_alerts;        /* LLM_ENABLE_COST_ALERTS */
    int budget_fail_open;   /* NYX_BUDGET_FAIL_OPEN: without a database, budgets let calls go */
    char *db;               /* NYX_DB */
    char *models_file;      /* NYX_MODELS: user's price table */
    char *template_path;    /* NYX_TEMPLATE_PATH */
    int debug;              /* NYX_DEBUG */
    char *debug_file;       /* NYX_DEBUG_FILE: where the debug view goes instead of the host */
    char *timeout_profiles; /* NYX_TIMEOUT_PROFILES: "name=seconds,..." (engine.c parses it) */
    double sim_ttft_ms;     /* NYX_SIM_TTFT_MS: in-process simulator */
    double sim_batch_ms;    /* NYX_SIM_BATCH_MS: its message batches' processing time */
    double sim_batch_expiry_ms; /* NYX_SIM_BATCH_EXPIRY_MS: and their expiry (0: 24 h) */
    double sim_token_ms;    /* NYX_SIM_TOKEN_MS */
    char *storage_mode;     /* NYX_STORAGE_MODE: "full" | "redacted" | "none" */
    double durability;      /* storage.durability / NYX_DURABILITY (settings.c): DURABILITY_* */
    long max_prompt_bytes;  /* NYX_MAX_PROMPT_BYTES */
    long max_prompt_tokens; /* NYX_MAX_PROMPT_TOKENS (estimated) */
    long max_output_tokens; /* NYX_MAX_OUTPUT_TOKENS: the largest max_tokens a call may ask */
    long pending_max;       /* NYX_PENDING_MAX: records kept in memory while the database is down */
    char *spill_dir;        /* NYX_SPILL_DIR: where records waiting for PostgreSQL at close go
                               (pending_spill.h); NULL: none (no HOME) */
    char *ca_file;          /* NYX_CA_FILE: CA bundle (PEM); else SSL_CERT_FILE, CURL_CA_BUNDLE (net.c) */
    char *client_cert;      /* NYX_CLIENT_CERT: client certificate (PEM) for mutual TLS */
    char *client_key;       /* NYX_CLIENT_KEY: its private key */
    int tls_insecure;       /* NYX_TLS_INSECURE: no verification; loopback hosts only */
    char *extra_headers;    /* NYX_EXTRA_HEADERS: JSON object of headers every request carries */
    char *http_version;     /* NYX_HTTP_VERSION: "2" (default, over TLS) or "1.1" */
    /* OpenTelemetry export (otel.c): the standard variables */
    char *otel_endpoint;    /* OTEL_EXPORTER_OTLP_ENDPOINT: base URL, /v1/traces and /v1/metrics added */
    char *otel_traces_endpoint;  /* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: used as given */
    char *otel_metrics_endpoint; /* OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: used as given */
    char *otel_headers;     /* OTEL_EXPORTER_OTLP_HEADERS: k=v,k2=v2 sent with each export */
    char *otel_service_name;/* OTEL_SERVICE_NAME: resource service.name, default "nyx" */
    char *otel_resource_attributes; /* OTEL_RESOURCE_ATTRIBUTES: k=v,k2=v2 */
    int otel_disabled;      /* OTEL_SDK_DISABLED: no export whatever the endpoint */
    char *otel_traces_exporter;  /* OTEL_TRACES_EXPORTER: "otlp" (default) or "none" */
    char *otel_metrics_exporter; /* OTEL_METRICS_EXPORTER: "otlp" (default) or "none" */
    char *otel_capture_content;  /* OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: messages
                                    on the spans when true (otel_content.h), redacted as stored */
} engine_config;

/* The database the engine opens: NYX_DB (or nyx_set's "db"), else nyx.db in the working
 * directory. */
static inline const char *config_db(const engine_config *c) { return c->db ? c->db : "nyx.db"; }

/* ---- the settings registry (config.c): every setting once ---- */

typedef enum setting_kind {
    SET_TEXT,   /* a string (limited to choices when it has them) */
    SET_COUNT,  /* a whole number, in a long */
    SET_NUMBER, /* a number, in a double; -1 when it has no value and no default */
    SET_BOOL,   /* true or false (1/0, yes/no, on/off), in an int */
    SET_LIST,   /* comma-separated agent names (or *) */
    SET_CHOICE  /* one of choices, its index in a double */
} setting_kind;

typedef struct setting_def {
    const char *key;     /* in the database (`nyx config`, nyx.config); NULL: not there */
    const char *env;     /* the environment variable; NULL: none */
    const char *option;  /* the nyx_set name; NULL: none */
    setting_kind kind;
    const char *unit;    /* numbers: "seconds", "usd", "rate", "milliseconds"; or NULL */
    double min, max;     /* numbers and counts */
    int min_open;        /* the minimum itself is refused */
    const char *def;     /* the default as text; NULL: none */
    size_t field;        /* offset of its engine_config field, or (size_t)-1 */
    const char *choices; /* "a|b|c", or NULL */
} setting_def;

/* The table (n entries); the keyed entries first, sorted by key. */
const setting_def *setting_defs(size_t *n);
/* The entry of a database key, or NULL. */
const setting_def *setting_by_key(const char *key);
/* What `nyx config` and nyx.config call its type: the unit, "boolean", "list", "choice", ... */
const char *setting_type_name(const setting_def *d);
/* The name an error gives: "VARIABLE (key)", the key, or the variable. */
void setting_label(const setting_def *d, char *out, size_t n);
/* The one parser: checks text against d and returns its canonical text (malloc'd; "300",
 * "true", "strict", "a,b"), or NULL with err ("invalid_argument" naming label and the
 * reason, or "out_of_memory"). */
char *setting_check(const setting_def *d, const char *label, const char *text, error_info *err);
/* Puts a canonical value (NULL: none) into d's field of c. 0, or -1 out of memory. */
int setting_store(engine_config *c, const setting_def *d, const char *canonical);
/* nyx_set of an option the table names ("db", "provider", "base_url", "debug"): checked by
 * the same parser; above the environment. 0, or -1 with err ("invalid_argument" for an
 * unknown option or a bad value). */
int config_set_option(engine_config *c, const char *option, const char *value, error_info *err);

/* Reads the environment. Returns 0, or -1 with err naming the variable. */
int config_from_env(engine_config *c, error_info *err);
/* Each variable of the environment named like nyx's own (NYX_, LLM_, CLAUDE_, ANTHROPIC_) that
 * nyx does not read but is a slip of one it does (closest_name), given to say with that one:
 * LLM_DAILY_BUDGET_UDS would otherwise leave the day without a budget, unsaid. */
void config_env_slips(void (*say)(void *ud, const char *variable, const char *meant), void *ud);
/* The variables of those prefixes that nyx reads outside the table (n of them): every other is
 * a row of it. */
const char *const *config_env_elsewhere(size_t *n);
void config_free(engine_config *c);
/* One setting's current value, looked up by its variable name. */
typedef struct config_value {
    enum { CONFIG_STRING, CONFIG_NUMBER, CONFIG_COUNT, CONFIG_BOOL, CONFIG_UNSET } kind;
    const char *string;
    double number; /* CONFIG_NUMBER */
    long count;    /* CONFIG_COUNT: a whole number (max_tokens, retries) */
    int boolean;
} config_value;

/* Returns 0 with the value of the named setting, or -1 for an unknown name. The API key is
 * not a setting that can be read. */
int config_lookup(const engine_config *c, const char *name, config_value *out);

/* Replaces one string field. */
int config_set_string(char **field, const char *value);

/* An API key goes into a request header as it is: a control character in it (the newline a
 * line read from a file keeps) would end the header block there, and the API would answer for
 * a request cut short. Returns 0, or -1 with err (invalid_argument) naming label and the byte,
 * never the key. */
int config_check_api_key(const char *key, const char *label, error_info *err);

/* A boolean as every setting reads one: 1/0, true/false, yes/no, on/off (any case). Returns 0
 * with *out set, or -1 when v is none of them. */
int config_parse_bool(const char *v, int *out);

#endif
