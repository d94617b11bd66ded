/* Operator settings that live with the data (system_config): cache TTLs per level, budget
 * limits and whether each is hard or soft, alert thresholds, template permissions.
 *
 * Precedence, highest first: the call's own argument (a session's budget_usd, a call's
 * cache = "1h"), the environment, the database, the default. Every key has a type and a
 * range; a malformed value is refused with the key and the reason, whether it comes from
 * `nyx config set`, nyx.config.set or the environment. Values from the database are applied
 * to the engine at start, when this process sets one, and when another process sharing the
 * database changes them (engine.c polls for changes). */
#ifndef NYX_SETTINGS_H
#define NYX_SETTINGS_H

#include "claude/types.h"
#include "store/store.h"

typedef struct nyx_engine nyx_engine;
typedef struct settings settings;

/* Reads and checks the environment variables of the database keys (LLM_DAILY_BUDGET_USD,
 * the TTLs, NYX_ALERT_*, ...; config_from_env reads the others) with the settings table's
 * parser and creates e->settings. Returns 0, or -1 with err naming the variable and the
 * problem. */
int settings_open(nyx_engine *e, error_info *err);
void settings_free(nyx_engine *e);

/* Reads system_config and applies it under the environment. Idempotent and cheap (one small
 * query); a failing store keeps the values in force. Returns 0 or -1 with err. */
int settings_load(nyx_engine *e, error_info *err);

/* settings_load in two steps, for a read answered in the loop: settings_rows_add is the
 * store_row_fn that gathers system_config's rows (ud: from settings_rows_new), and
 * settings_rows_apply applies them as settings_load does and frees them. */
typedef struct settings_rows settings_rows;
settings_rows *settings_rows_new(nyx_engine *e); /* NULL when out of memory */
int settings_rows_add(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types);
void settings_rows_apply(settings_rows *r);
void settings_rows_free(settings_rows *r); /* NULL does nothing */

/* The value in force of a key as text (a malloc'd copy, free() it; NULL when the key has no
 * value, e.g. no budget) and where it came from: "environment", "database" or "default"
 * (static strings). Returns 0, or -1 with err ("invalid_argument" for an unknown key). */
int settings_get(nyx_engine *e, const char *key, char **value, const char **source, error_info *err);

/* Checks value against the key's type and stores it in the database (value NULL removes the
 * key), records a "config_set" audit event, and applies it. Returns 0, or -1 with err:
 * "invalid_argument" names the key and the reason; "store_error" when the database fails. */
int settings_set(nyx_engine *e, const char *key, const char *value, error_info *err);

/* One row per known key, by key: key, value (NULL when none), source. */
int settings_list(nyx_engine *e, store_row_fn fn, void *ud, error_info *err);

/* The key's type: "seconds", "usd", "boolean", "rate", "milliseconds", "list" or "choice"; NULL for
 * an unknown key. Static. */
const char *settings_type(const char *key);

/* 1 when a budget scope ("day:...", "month:...", "session:...", "agent:...") refuses calls
 * over its limit (hard), 0 when it only warns and alerts (soft). */
int settings_budget_hard(const nyx_engine *e, const char *scope);

/* May this agent create or change templates? With templates.writers unset, anyone may;
 * with it set, only the agents it names ("*" names everyone; a write without an agent is
 * refused). A refusal fills err with type "permission_denied" and records a
 * "template_write_refused" audit event. Returns 0 (allowed) or -1. */
int settings_template_write_allowed(nyx_engine *e, const char *agent, const char *template_name,
                                    error_info *err);

/* ---- alert thresholds (alerts.c) ---- */

typedef struct alert_thresholds {
    double latency_ms;      /* alert.latency_ms; < 0: none */
    double error_rate;      /* alert.error_rate; < 0: none */
    double cache_hit_floor; /* alert.cache_hit_rate_floor; < 0: none */
} alert_thresholds;

/* The outcomes of the last calls, for the rate thresholds. */
#define ALERT_WINDOW 20     /* calls the rates are measured over */
#define ALERT_MIN_CALLS 10  /* calls needed before a rate can alert */

typedef struct alert_window {
    unsigned char outcome[ALERT_WINDOW]; /* ALERT_ERROR | ALERT_OK | ALERT_HIT */
    int n, next;
    int error_alerted, hit_alerted;      /* above the threshold now: re-armed once back */
} alert_window;

enum { ALERT_ERROR = 1, ALERT_OK = 2, ALERT_HIT = 4 };

/* The thresholds in force; NULL before settings_open. */
const alert_thresholds *settings_alerts(const nyx_engine *e);
/* The window of recent outcomes; NULL before settings_open. */
alert_window *settings_alert_window(nyx_engine *e);

/* nyx_config_get / nyx_config_set: the setting's error lands in the engine's errmsg. */
int settings_config_get(nyx_engine *e, const char *key, char **value, const char **source);
int settings_config_set(nyx_engine *e, const char *key, const char *value);

#endif
