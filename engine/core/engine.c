#define _POSIX_C_SOURCE 200809L
#include "engine.h"
#include "net.h"

#include "cache/policy.h"
#include "cache/response_cache.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/text.h"
#include "budget.h"
#include "conn_limit.h"
#include "pending_log.h"
#include "pending_spill.h"
#include "call.h"
#include "cost/models.h"
#include "debug.h"
#include "guard/memo.h"
#include "claude/json_text.h"
#include "claude/schema.h"
#include "host_tools.h"
#include "news.h"
#include "otel.h"
#include "settings.h"
#include "resilience/breaker.h"
#include "resilience/ratelimit.h"
#include "store/store.h"
#include "template/library.h"
#include "watch.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const code_text[] = {
    [NYX_OK] = "ok",
    [NYX_AGAIN] = "work remains",
    [NYX_EINVAL] = "invalid argument",
    [NYX_ENOMEM] = "out of memory",
    [NYX_ECONFIG] = "malformed configuration",
    [NYX_ESCRIPT] = "script error",
    [NYX_EIO] = "input/output error",
    [NYX_EDEADLOCK] = "scripts wait on something that cannot happen",
    [NYX_CHANGED] = "a watched file changed",
};

const char *engine_strerror(int code)
{
    if (code < 0 || code >= NYX_CODE_LAST)
        return "unknown result code";
    return code_text[code];
}

void engine_set_error(nyx_engine *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->errmsg, sizeof e->errmsg, fmt, ap);
    va_end(ap);
}

void engine_set_log(nyx_engine *e, void (*fn)(void *, int, const char *), void *ud)
{
    e->log_fn = fn;
    e->log_ud = ud;
}

static void log_v(nyx_engine *e, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void log_v(nyx_engine *e, int level, const char *fmt, va_list ap)
{
    if (!e->log_fn)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    engine_host_fn_enter(e);
    e->log_fn(e->log_ud, level, msg);
    engine_host_fn_leave(e);
}

void engine_host_fn_enter(nyx_engine *e) { e->in_host_fn++; }

void engine_host_fn_leave(nyx_engine *e) { e->in_host_fn--; }

int engine_in_host_fn(const nyx_engine *e) { return e->in_host_fn > 0; }

void engine_log(nyx_engine *e, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(e, level, fmt, ap);
    va_end(ap);
}

void engine_warn_once(nyx_engine *e, const char *key, const char *fmt, ...)
{
    for (size_t i = 0; i < e->nwarned; i++)
        if (strcmp(e->warned[i], key) == 0)
            return;
    char **w = realloc(e->warned, (e->nwarned + 1) * sizeof *w);
    if (!w)
        return;
    e->warned = w;
    if (!(w[e->nwarned] = strdup(key)))
        return;
    e->nwarned++;
    va_list ap;
    va_start(ap, fmt);
    log_v(e, NYX_LOG_WARN, fmt, ap);
    va_end(ap);
}

void engine_new_id(nyx_engine *e, char *out, size_t size)
{
    char id[ENGINE_ID_LEN + 1] = "ix_";
    text_hex(id + 3, e->id_nonce, 16);
    text_hex(id + 19, ++e->id_seq & 0xffffff, 6);
    id[ENGINE_ID_LEN] = '\0';
    if (size > 0) {
        size_t n = size - 1 < ENGINE_ID_LEN ? size - 1 : ENGINE_ID_LEN;
        memcpy(out, id, n);
        out[n] = '\0';
    }
}

static void breaker_changed(void *ud, const char *key, breaker_state from, breaker_state to)
{
    nyx_engine *e = ud;
    if (to == BREAKER_OPEN) {
        e->gov.breaker_opens++;
        error_info err;
        error_clear(&err);
        if (e->storage.db)
            store_audit(e->storage.db, "breaker_open", NULL, NULL, key, &err);
    }
    engine_log(e, to == BREAKER_OPEN ? NYX_LOG_WARN : NYX_LOG_INFO, "nyx: circuit breaker for %s: %s -> %s",
               key, breaker_state_name(from), breaker_state_name(to));
}

double engine_timeout_profile(const nyx_engine *e, const char *name)
{
    for (size_t i = 0; i < e->ntimeouts; i++)
        if (strcmp(e->timeouts[i].name, name) == 0)
            return e->timeouts[i].seconds;
    return -1;
}

int engine_set_timeout_profile(nyx_engine *e, const char *name, double seconds)
{
    for (size_t i = 0; i < e->ntimeouts; i++)
        if (strcmp(e->timeouts[i].name, name) == 0) {
            e->timeouts[i].seconds = seconds;
            return 0;
        }
    timeout_profile *t = realloc(e->timeouts, (e->ntimeouts + 1) * sizeof *t);
    if (!t)
        return -1;
    e->timeouts = t;
    if (!(t[e->ntimeouts].name = strdup(name)))
        return -1;
    t[e->ntimeouts++].seconds = seconds;
    return 0;
}

/* NYX_TIMEOUT_PROFILES="council=120,quick=15": named timeouts a call can choose. */
static int parse_timeout_profiles(nyx_engine *e, error_info *err)
{
    const char *spec = e->cfg.timeout_profiles;
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec);
    if (!copy)
        return error_fail(err, "out_of_memory", 0, "out of memory reading NYX_TIMEOUT_PROFILES");
    int rc = 0;
    /* Split by hand, not strtok: strtok skips empty items, and "a=1,,b=2" is a typo to name. */
    for (char *item = copy, *next; item && rc == 0; item = next) {
        char *comma = strchr(item, ',');
        next = comma ? comma + 1 : NULL;
        if (comma)
            *comma = '\0';
        char *eq = strchr(item, '='), *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : 0;
        /* strtod also reads hexadecimal, which the settings refuse as a slip (core/config.c) */
        if (!eq || eq == item || !end || *end || strpbrk(eq + 1, "xX") || !call_timeout_valid(v)) {
            error_set(err, "invalid_argument", 0,
                          "NYX_TIMEOUT_PROFILES must be name=seconds[,name=seconds...] with seconds from 0 "
                          "to %g or inf (no timeout), got \"%.40s\"", NYX_TIMEOUT_MAX_S, item);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (engine_set_timeout_profile(e, item, v) != 0)
            rc = error_fail(err, "out_of_memory", 0, "out of memory reading NYX_TIMEOUT_PROFILES");
    }
    free(copy);
    return rc;
}

void engine_emit(nyx_engine *e, const char *event, const engine_field *f, size_t n)
{
    if (e->script.emit)
        e->script.emit(e, event, f, n);
}

/* Stops this process, and with broadcast every process on the database: 0, or -1 with err
 * filled when the stop could not be written there (this process is stopped all the same). */
static int stop_here(nyx_engine *e, const char *reason, int broadcast, error_info *err)
{
    int was = governance_stop(&e->gov, reason), rc = 0;
    if (broadcast)
        e->local_changes++;
    /* A stop given before the first call still reaches the database: otherwise the engine's
     * first news read ("no stop") would undo it. */
    if (broadcast && !e->storage.db && engine_open_store(e) != 0) {
        error_set(err, "store_error", 0, "%s", e->errmsg);
        rc = -1;
    }
    if (broadcast && e->storage.db && store_control_set(e->storage.db, "stop", e->gov.stop_reason, err) != 0)
        rc = -1;
    /* One stop, one audit row: the process that gives it writes it, those that hear of it
     * from the database do not. */
    error_info ignored;
    error_clear(&ignored);
    if (!was && broadcast && e->storage.db)
        store_audit(e->storage.db, "emergency_stop", NULL, NULL, e->gov.stop_reason, &ignored);
    if (!was) {
        engine_field f[] = {{"reason", e->gov.stop_reason, 0}};
        engine_emit(e, "stopped", f, 1);
    }
    calls_cancel_all(e, e->gov.stop_reason);
    return rc;
}

void engine_stop(nyx_engine *e, const char *reason, int broadcast)
{
    error_info err;
    error_clear(&err);
    if (stop_here(e, reason, broadcast, &err) != 0)
        engine_warn_once(e, "stop-broadcast", "nyx: the stop could not reach other processes: %s", err.message);
}

/* A database answering over a socket (PostgreSQL) is part of the loop: its answers resume
 * the calls that wait on them, and nothing else waits. */
static int store_fd(void *ud, int *want_write)
{
    nyx_engine *e = ud;
    return e->storage.db ? store_poll_fd(e->storage.db, want_write) : -1;
}

/* A frame's turn (nyx_poll(e, 0)) takes the database's answers within its budget. */
static int turn_over(void *ud) { return loop_turn_over(ud); }

static void store_ready(void *ud)
{
    nyx_engine *e = ud;
    store_pump(e->storage.db);
}

static int store_pending(void *ud)
{
    nyx_engine *e = ud;
    return store_busy(e->storage.db);
}

/* Other processes sharing the database may stop everyone: look every quarter second, at
 * the cost of one PRAGMA when nothing changed (SQLite), or of nothing (PostgreSQL, where a
 * stop arrives as a notification, read here along with a reconnection when one is due). */
static void watch_stop(void *ud)
{
    nyx_engine *e = ud;
    e->gov.stop_watch = NULL;
    int changed = 0;
    error_info err;
    error_clear(&err);
    store_pump(e->storage.db);
    char failed[sizeof err.message];
    if (store_take_write_error(e->storage.db, failed, sizeof failed))
        engine_log(e, NYX_LOG_WARN, "nyx: a write queued for the database failed: %s", failed);
    /* While a read is under way the news waits, so none is lost. */
    if (e->storage.db && !e->news) {
        if (store_changed(e->storage.db, &changed, &err) == 0 && changed)
            e->news_again = 1;
        if (e->news_again)
            news_read(e);
    }
    engine_check_db_file(e);
    e->gov.stop_watch = loop_timer_add_background(e->loop, 0.25, watch_stop, e);
}

int engine_emergency_stop(nyx_engine *e, const char *reason)
{
    char why[160];
    if (governance_reason_check(reason, why, sizeof why) != 0) {
        engine_set_error(e, "%s", why);
        return NYX_EINVAL;
    }
    /* The stop holds here whatever the database says: a kill switch that waited for storage
     * would let this process go on spending while storage is down. Only the other processes
     * must hear of it through the database, which may be unreachable or refuse it (a role that
     * may not write, a read-only file). */
    error_info err;
    error_clear(&err);
    if (stop_here(e, reason, 1, &err) != 0) {
        engine_set_error(e, "stopped in this process only: the stop could not reach the database: %s",
                         err.message);
        return NYX_EIO;
    }
    return NYX_OK;
}

int engine_resume(nyx_engine *e)
{
    /* Without the database the stop stays: other processes may still hold it there. */
    if (engine_open_store(e) != 0) {
        char why[sizeof e->errmsg];
        snprintf(why, sizeof why, "%s", e->errmsg);
        engine_set_error(e, "the stop stays: the database cannot be reached to clear it: %s", why);
        return NYX_EIO;
    }
    error_info err;
    error_clear(&err);
    e->gov.stopped = 0;
    e->local_changes++;
    if (store_control_set(e->storage.db, "stop", NULL, &err) != 0) {
        engine_set_error(e, "%s", err.message);
        return NYX_EIO;
    }
    store_audit(e->storage.db, "emergency_stop_cleared", NULL, NULL, "", &err);
    return NYX_OK;
}

/* What storage asks of the engine (storage_owner): the database opened again, the log. */
static int storage_reopen(void *ud, error_info *err)
{
    nyx_engine *e = ud;
    if (engine_open_store(e) == 0)
        return 0;
    error_set(err, "store_error", 0, "%s", e->errmsg);
    return -1;
}

static void storage_log(void *ud, int level, const char *once_key, const char *msg)
{
    nyx_engine *e = ud;
    if (once_key)
        engine_warn_once(e, once_key, "%s", msg);
    else
        engine_log(e, level, "%s", msg);
}

nyx_engine *engine_open(char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        if (errmsg)
            *errmsg = strdup("libcurl failed to initialise");
        return NULL;
    }
    nyx_engine *e = calloc(1, sizeof *e);
    error_info err;
    error_clear(&err);
    if (!e) {
        if (errmsg)
            *errmsg = strdup("out of memory");
        return NULL;
    }
    if (config_from_env(&e->cfg, &err) != 0) {
        if (errmsg)
            *errmsg = strdup(err.message);
        free(e);
        return NULL;
    }
    e->progress.budget_remaining = -1;
    e->loop = loop_new();
    e->storage.loop = e->loop;
    e->storage.cfg = &e->cfg;
    e->storage.owner = (storage_owner){e, storage_reopen, storage_log, engine_store_text_filter};
    e->provider.models = models_new_default(&err);
    if (e->provider.models && e->cfg.models_file && models_merge_file(e->provider.models, e->cfg.models_file, &err) != 0) {
        models_free(e->provider.models);
        e->provider.models = NULL;
    }
    e->cache = e->provider.models ? cache_policy_new(e->provider.models) : NULL;
    e->gov.limiter = ratelimit_new();
    e->responses = response_cache_new((size_t)e->cfg.max_ephemeral_size, e->cfg.ephemeral_ttl_s);
    breaker_config bc;
    breaker_config_default(&bc);
    bc.failures_to_open = (int)e->cfg.breaker_failures;
    bc.failure_rate = e->cfg.breaker_failure_rate;
    bc.min_calls = (int)e->cfg.breaker_min_calls;
    bc.window_s = e->cfg.breaker_window_s;
    bc.cooldown_s = e->cfg.breaker_cooldown_s;
    e->gov.breakers = breakers_new(&bc);
    if (e->gov.breakers)
        breakers_on_change(e->gov.breakers, breaker_changed, e);
    if (e->loop)
        loop_set_after_perform(e->loop, calls_cancel_deferred, e);
    loop_source db = {store_fd, store_ready, store_pending, e};
    if (!e->loop || !e->provider.models || !e->cache || !e->gov.limiter || !e->gov.breakers || !e->responses ||
        loop_add_source(e->loop, &db) != 0 || parse_timeout_profiles(e, &err) != 0 || otel_open(e, &err) != 0 ||
        settings_open(e, &err) != 0) {
        if (errmsg)
            *errmsg = strdup(err.message[0] ? err.message : "out of memory");
        engine_close(e);
        return NULL;
    }
    e->id_nonce = random_u64();
    if (engine_open_templates(e, &err) != 0) {
        if (errmsg)
            *errmsg = strdup(err.message);
        engine_close(e);
        return NULL;
    }
    return e;
}

int engine_set(nyx_engine *e, const char *key, const char *value)
{
    if (!e || !key || !value) {
        if (e)
            engine_set_error(e, "nyx_set: key and value are required");
        return NYX_EINVAL;
    }
    if (e->started && strncmp(key, "var.", 4) != 0) {
        engine_set_error(e,
                         "nyx_set: \"%s\" must be set before the engine starts (at the first nyx_load_file, "
                         "nyx_load_string, nyx_poll, nyx_run or nyx_provider)",
                         key);
        return NYX_EINVAL;
    }
    /* Refused here, where the host sees it, rather than when the engine starts: an empty
     * database names no database, an empty key would be sent (and every call refused, 401) where
     * an empty ANTHROPIC_API_KEY counts as none, and the endpoint must be a URL net_open can read. */
    if ((strcmp(key, "db") == 0 || strcmp(key, "base_url") == 0 || strcmp(key, "api_key") == 0) && !*value) {
        engine_set_error(e, "nyx_set: %s must not be empty", key);
        return NYX_EINVAL;
    }
    if (strcmp(key, "api_key") == 0) {
        error_info err;
        error_clear(&err);
        if (config_check_api_key(value, "api_key", &err) != 0) {
            engine_set_error(e, "nyx_set: %s", err.message);
            return NYX_EINVAL;
        }
        return config_set_string(&e->cfg.api_key, value) == 0 ? NYX_OK : NYX_ENOMEM;
    }
    if (strcmp(key, "lua_path") == 0)
        return config_set_string(&e->script.lua_path, value) == 0 ? NYX_OK : NYX_ENOMEM;
    if (strcmp(key, "read_only") == 0) {
        int on;
        if (config_parse_bool(value, &on) != 0) {
            engine_set_error(e, "nyx_set: read_only must be true or false (1/0, yes/no, on/off), got \"%s\"",
                             value);
            return NYX_EINVAL;
        }
        e->storage.read_only = on;
        return NYX_OK;
    }
    if (strcmp(key, "reload") == 0) {
        int on;
        if (config_parse_bool(value, &on) != 0) {
            engine_set_error(e, "nyx_set: reload must be true or false (1/0, yes/no, on/off), got \"%s\"", value);
            return NYX_EINVAL;
        }
        e->script.watch_off = !on;
        return NYX_OK;
    }
    if (strncmp(key, "var.", 4) == 0 && key[4]) {
        return script_host_add_var(&e->script, key + 4, value) == 0 ? NYX_OK : NYX_ENOMEM;
    }
    if (strcmp(key, "base_url") == 0) {
        error_info err;
        error_clear(&err);
        if (net_check_endpoint(value, "base_url", &err) != 0) {
            engine_set_error(e, "nyx_set: %s", err.message);
            return error_code(&err);
        }
    }
    /* db, provider, base_url, debug: the settings table's, checked by its parser */
    error_info err;
    error_clear(&err);
    if (config_set_option(&e->cfg, key, value, &err) != 0) {
        engine_set_error(e, "nyx_set: %s", err.message);
        return error_code(&err);
    }
    return NYX_OK;
}

/* ---- start-up ---- */

static int start_provider(nyx_engine *e)
{
    char notice[400];
    error_info err;
    error_clear(&err);
    int rc = provider_start(&e->provider, &e->cfg, notice, sizeof notice, &err);
    if (notice[0])
        engine_log(e, NYX_LOG_INFO, "%s", notice);
    if (rc != 0 && err.message[0])
        engine_set_error(e, "%s", err.message);
    return rc;
}

/* Trust, proxy and gateway settings for the endpoint; NYX_TLS_INSECURE is announced at every
 * start, since it must never be forgotten in place. */
static int start_net(nyx_engine *e)
{
    error_info err;
    error_clear(&err);
    const char *warning = NULL;
    if (provider_open_net(&e->provider, &e->cfg, &warning, &err) != 0) {
        engine_set_error(e, "%s", err.message);
        return -1;
    }
    if (warning)
        engine_log(e, NYX_LOG_WARN, "%s", warning);
    if (loop_set_host_connections(e->loop, net_host_connections(e->provider.net)) != 0) {
        engine_set_error(e, "cannot limit the connections to the API host");
        return -1;
    }
    /* Calls past what the open-files limit leaves wait for a connection rather than fail. */
    if (loop_set_total_connections(e->loop, conn_limit_now(net_descriptors_per_connection(e->provider.net))) != 0) {
        engine_set_error(e, "cannot limit the connections open at once");
        return -1;
    }
    return 0;
}

static void spill_log(void *ud, int level, const char *msg) { engine_log(ud, level, "%s", msg); }

/* Records an earlier run on this machine spilled when it closed with the database unavailable
 * (pending_spill.h: beside a database file, or in NYX_SPILL_DIR for PostgreSQL) are written now,
 * before anything else (the reap at start would give back the budget reservations they
 * settle). A failure leaves them for the next open; the open goes on. */
static void import_spill(nyx_engine *e, const char *db)
{
    spill_place place;
    if (!storage_spills(&e->storage, db) || store_is_readonly(e->storage.db) ||
        pending_spill_place(db, e->cfg.spill_dir, &place) != 0)
        return;
    error_info err;
    error_clear(&err);
    if (pending_spill_import(e->storage.db, &place, spill_log, e, &err) < 0)
        engine_log(e, NYX_LOG_WARN, "nyx: records spilled by an earlier run stay in their file for the next "
                                    "open: %s", err.message);
}

int engine_open_store(nyx_engine *e)
{
    if (e->storage.db)
        return 0;
    const char *db = config_db(&e->cfg);
    error_info err;
    error_clear(&err);
    /* Opening waits this long for a lock held elsewhere; in the loop, 10 ms (store_set_background). */
    store_options opts = {250, 0, e->storage.read_only};
    e->storage.db = store_open_opts(db, &opts, &err);
    if (!e->storage.db) {
        engine_set_error(e, "%s", err.message);
        return -1;
    }
    engine_filter_store_text(e);
    storage_note_file(&e->storage, db);
    import_spill(e, db);
    /* Audit events, settles and the like need no answer: the loop never waits for them. */
    store_set_background(e->storage.db, 1);
    store_set_pump_limit(e->storage.db, turn_over, e->loop);
    return 0;
}

/* A database file deleted (or replaced) under a running process would swallow every later
 * record: notice it, and let the records wait for a new file. */
void engine_check_db_file(nyx_engine *e)
{
    const char *db = config_db(&e->cfg);
    if (!storage_file_replaced(&e->storage, db))
        return;
    engine_log(e, NYX_LOG_WARN, "nyx: the database file %s was deleted or replaced; records wait in "
                                "memory and go to a new file", db);
    storage_lose(&e->storage);
}

static int start_store(nyx_engine *e)
{
    if (engine_open_store(e) != 0) {
        /* Calls go on without a log rather than stop: say so once, loudly. */
        engine_warn_once(e, "store", "nyx: storage unavailable, interactions are not logged: %s",
                         e->errmsg);
        return 0;
    }
    /* Found at open: a call would be paid for and its record refused (call.c's admit). */
    const char *why = store_readonly_why(e->storage.db);
    if (why)
        engine_warn_once(e, "store-readonly", "nyx: %s; %s", why,
                         e->cfg.durability == DURABILITY_STRICT
                             ? "no call is sent (NYX_DURABILITY=degrade sends them without their records)"
                             : "calls go on without their records (NYX_DURABILITY=degrade)");
    return 0;
}

/* The configuration a run started with, for the audit trail: never the key itself. */
static void audit_config(nyx_engine *e)
{
    char detail[800], tls[200];
    const engine_config *c = &e->cfg;
    net_summary(e->provider.net, tls, sizeof tls);
    snprintf(detail, sizeof detail,
             "provider=%s endpoint=%s api_key=%s model=%s max_retries=%ld breaker=%d storage=%s "
             "daily_budget=%g monthly_budget=%g session_budget=%g response_cache=%d %s pid=%ld",
             e->provider.name, e->provider.endpoint, c->api_key ? "set" : "unset", c->default_model, c->max_retries,
             c->circuit_breaker, c->storage_mode, c->daily_budget_usd, c->monthly_budget_usd,
             c->session_budget_usd, c->response_cache, tls, (long)getpid());
    error_info err;
    error_clear(&err);
    store_audit(e->storage.db, "config", NULL, NULL, detail, &err);
}

/* A stop set before this process started holds from its first call. The loop's news read
 * would learn of it too, but on PostgreSQL its answer comes a round trip later, after the
 * first calls were admitted and sent: they were paid for, then cancelled. */
static void read_stop(nyx_engine *e)
{
    char *reason = NULL;
    error_info err;
    error_clear(&err);
    /* A failed read leaves it to the news read, which tries again. */
    if (store_control_get(e->storage.db, "stop", &reason, &err) == 0 && reason && !e->gov.stopped)
        engine_stop(e, reason, 0);
    free(reason);
}

static void say_env_slip(void *ud, const char *variable, const char *meant)
{
    engine_log(ud, NYX_LOG_WARN, "nyx: %s is set, but nyx reads no variable of that name; did you mean %s?", variable,
               meant);
}

int engine_start(nyx_engine *e)
{
    if (e->started)
        return 0;
    if (e->starting) { /* from the log function, told of the provider while it starts */
        engine_set_error(e, "the engine is starting: called from a function it runs while it starts (its log "
                            "function); ask again once the call that started it has returned");
        return -1;
    }
    e->starting = 1;
    config_env_slips(say_env_slip, e);
    if (start_provider(e) != 0 || start_net(e) != 0 || provider_build_headers(&e->provider, &e->cfg) != 0 || start_store(e) != 0) {
        if (!e->errmsg[0])
            engine_set_error(e, "out of memory starting the engine");
        provider_unstart(&e->provider);
        e->starting = 0;
        return -1;
    }
    e->started = 1;
    e->starting = 0;
    if (e->storage.db) {
        error_info err;
        error_clear(&err);
        settings_load(e, &err); /* system_config, under the environment */
        read_stop(e);
        if (!store_is_readonly(e->storage.db)) /* its refusal would only repeat start_store's notice */
            audit_config(e);
        /* Reservations of processes that died can never settle: give the money back. Not
         * while a spill file the open could not take waits for the database (beside it, or in
         * NYX_SPILL_DIR): its records settle reservations of a process that died, at what
         * their calls cost. */
        spill_place place;
        const char *db = config_db(&e->cfg);
        if (!store_is_readonly(e->storage.db) &&
            (!storage_spills(&e->storage, db) || pending_spill_place(db, e->cfg.spill_dir, &place) != 0 ||
             !pending_spill_exists(&place)))
            store_budget_reap(e->storage.db, 3600, &err);
        /* The redaction memo is made here rather than by the first record, whose cost it was
         * most of (its table's pages touched for the first time): in a host's frame that
         * record's commit took a millisecond. */
        if (!e->pii_memo && e->cfg.storage_mode && strcmp(e->cfg.storage_mode, "redacted") == 0)
            e->pii_memo = guard_memo_new();
    }
    watch_stop(e);
    return 0;
}

const char *engine_provider(nyx_engine *e)
{
    if (!e->started && engine_start(e) != 0)
        return "none";
    return e->provider.name;
}

call_session *engine_session(nyx_engine *e, const char *name, int create)
{
    for (call_session *s = e->sessions; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    if (!create)
        return NULL;
    call_session *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return NULL;
    }
    s->budget_usd = -1;
    s->next = e->sessions;
    e->sessions = s;
    return s;
}

call_session *engine_session_open(nyx_engine *e, const char *name, double budget)
{
    call_session *s = engine_session(e, name, 1);
    if (!s)
        return NULL;
    s->open = 1;
    if (budget >= 0)
        s->budget_usd = budget;
    if (e->storage.db) {
        error_info err;
        error_clear(&err);
        if (store_session_upsert(e->storage.db, name, s->budget_usd, &err) != 0)
            engine_warn_once(e, "store-session", "nyx: cannot record session %s: %s", name, err.message);
    }
    return s;
}

void engine_session_end(nyx_engine *e, call_session *s)
{
    if (!s->open)
        return;
    s->open = 0;
    if (e->storage.db) {
        error_info err;
        error_clear(&err);
        if (store_session_end(e->storage.db, s->name, &err) != 0)
            engine_warn_once(e, "store-session-end", "nyx: cannot record the end of session %s: %s", s->name,
                             err.message);
    }
}

/* ---- running ---- */

/* The work a nyx_poll(e, 0) starts, in microseconds: a frame's poll stays under a millisecond
 * (the last piece of work started may run past the budget). */
#define NYX_FRAME_BUDGET_US 400

int engine_poll(nyx_engine *e, int timeout_ms)
{
    if (!e->started && engine_start(e) != 0)
        return NYX_ECONFIG;
    /* A host's frame (timeout 0) gets a bounded turn: what is left goes on at the next. Lua's
     * collector runs in the time frames leave, by itself in other turns (core/collector.c). */
    collector_turn(&e->script.gc, timeout_ms == 0);
    if (loop_poll_budget(e->loop, engine_poll_wait(e, timeout_ms), timeout_ms == 0 ? NYX_FRAME_BUDGET_US : 0) != 0) {
        engine_set_error(e, "the network layer failed");
        return NYX_EIO;
    }
    if (script_host_take_failure(&e->script))
        return NYX_ESCRIPT;
    if (script_host_take_change(&e->script))
        return NYX_CHANGED;
    if (loop_pending(e->loop) > 0 || host_tools_pending(e) > 0)
        return NYX_AGAIN;
    if (e->script.tasks_alive > 0) {
        engine_set_error(e, "%d task(s) wait on something that can never happen", e->script.tasks_alive);
        return NYX_EDEADLOCK;
    }
    return NYX_OK;
}

/* Waits for the database's answers to the writes on their way, 10 s at most. From the host's
 * own code the loop turns meanwhile, as every wait of the engine does. From inside a function
 * the engine runs (nyx_finish_records from the log or output function, a tool's) it may not:
 * a timer, a task or a tool would run under that function and under the work that called it.
 * There only the database's socket is read, its answers handed out (what they wake waits for
 * the loop's next turn), which is what SQLite, whose writes are answered before they return,
 * does in the same place: both backends end the same way. */
static void wait_for_writes(nyx_engine *e)
{
    for (double until = clock_now_s() + 10; store_busy(e->storage.db) > 0 && clock_now_s() < until;) {
        if (!engine_in_host_fn(e)) {
            loop_poll(e->loop, 50);
            continue;
        }
        int want_write = 0;
        int fd = store_poll_fd(e->storage.db, &want_write);
        if (fd >= 0) {
            struct pollfd p = {fd, (short)(POLLIN | (want_write ? POLLOUT : 0)), 0};
            if (poll(&p, 1, 50) < 0 && errno != EINTR)
                break;
        } else { /* reconnecting: store_pump tries again when it is due */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        store_pump(e->storage.db);
    }
}

long long engine_finish_records(nyx_engine *e)
{
    if (!e)
        return 0;
    wait_for_writes(e);
    call_log_flush(e);
    pending_log_close(&e->storage);
    int64_t unreported = e->storage.lost_interactions - e->storage.lost_audited;
    if (unreported > 0 && e->storage.db) {
        char detail[160];
        snprintf(detail, sizeof detail, "%lld interaction records could not be written and are lost",
                 (long long)unreported);
        error_info err;
        error_clear(&err);
        if (store_audit(e->storage.db, "records_lost", NULL, NULL, detail, &err) == 0)
            e->storage.lost_audited = e->storage.lost_interactions;
    }
    return (long long)e->storage.lost_interactions;
}

int engine_budget_reset(nyx_engine *e, const char *scope)
{
    if (!e || !scope || !*scope)
        return NYX_EINVAL;
    if (engine_open_store(e) != 0)
        return NYX_EIO;
    error_info err;
    error_clear(&err);
    int found = 0;
    if (store_budget_reset(e->storage.db, scope, &found, &err) != 0) {
        engine_set_error(e, "%s", err.message);
        return NYX_EIO;
    }
    if (!found) {
        engine_set_error(e, "no budget scope \"%s\" in the database (nyx budget lists them)", scope);
        return NYX_EINVAL;
    }
    store_audit(e->storage.db, "budget_reset", NULL, NULL, scope, &err);
    return NYX_OK;
}

int engine_timeout_ms(nyx_engine *e)
{
    if (!e)
        return -1;
    /* Not started yet: the first turn starts it, so it is due now. */
    if (!e->started)
        return 0;
    return loop_timeout_ms(e->loop);
}

struct text_pool *engine_text_pool(nyx_engine *e)
{
    if (!e->texts)
        e->texts = text_pool_new();
    return e->texts;
}

struct claude_schema_memo *engine_schema_memo(nyx_engine *e)
{
    if (!e->schemas)
        e->schemas = claude_schema_memo_new();
    return e->schemas;
}

void engine_close(nyx_engine *e)
{
    if (!e)
        return;
    if (e->script.host_close) {
        /* Scripts still run: cancel their calls and let them see it, a few rounds at most
         * (a script may start new calls while it unwinds). */
        for (int round = 0; round < 8 && loop_pending(e->loop) + (e->calls != NULL) > 0; round++) {
            calls_cancel_all(e, "engine closed");
            loop_poll(e->loop, 0);
        }
        e->script.host_close(e);
    }
    /* No Lua may run from here on: what is left is cancelled without callbacks. */
    calls_abandon_all(e, "engine closed");
    news_abandon(e);
    loop_timer_cancel(e->loop, e->gov.stop_watch);
    e->gov.stop_watch = NULL;
    /* Records on their way to the database arrive, or wait in memory for what follows. */
    wait_for_writes(e);
    otel_close(e); /* the last spans, a bounded wait */
    call_log_close(e);
    guard_memo_free(e->pii_memo);
    claude_json_texts_free(e->json_texts);
    text_pool_free(e->texts);
    claude_schema_memo_free(e->schemas);
    pending_log_close(&e->storage);
    budget_free(e);
    settings_free(e);
    debug_free(e);
    store_close(e->storage.db);
    script_host_free(&e->script); /* its watch, before the loop it watches through */
    templates_free(e->templates);
    loop_free(e->loop);
    host_tools_free(e); /* after the loop: its last turns may still run the host's tools */
    cache_policy_free(e->cache);
    ratelimit_free(e->gov.limiter);
    response_cache_free(e->responses);
    breakers_free(e->gov.breakers);
    for (size_t i = 0; i < e->ntimeouts; i++)
        free(e->timeouts[i].name);
    free(e->timeouts);
    stats_group_free(&e->by_model);
    stats_group_free(&e->by_agent);
    stats_group_free(&e->by_template);
    provider_free(&e->provider); /* after the cache policy, which reads its model table */
    for (call_session *s = e->sessions, *n; s; s = n) {
        n = s->next;
        free(s->name);
        free(s);
    }
    for (size_t i = 0; i < e->nwarned; i++)
        free(e->warned[i]);
    free(e->warned);
    /* Last: what goes before may let calls and their buffers go. */
    call_idle_free(e);
    textbuf_pool_clear(&e->buffers);
    config_free(&e->cfg);
    free(e);
    curl_global_cleanup();
}
