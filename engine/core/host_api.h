/* What the Lua bindings (engine/lua/) may ask of the engine: functions over an opaque
 * nyx_engine, each a line or two (host_api.c) or a function of the engine's own. The bindings
 * include this header, never core/engine.h, so no binding reads or writes a field of the
 * engine (tests/bindings.sh, the ctest check/bindings, holds them to it). */
#ifndef NYX_HOST_API_H
#define NYX_HOST_API_H

#include "nyx.h"

#include "base/error.h"
#include "cache/stats.h"
#include "collector.h"
#include "config.h"
#include "loop.h"

#include <stddef.h>
#include <stdint.h>

struct model_table;
struct cache_policy;
struct ratelimiter;
struct tpl_library;
struct store_db;
struct otel;
struct text_pool;
struct claude_schema_memo;

/* A field of an event for scripts: a string, or a number when str is NULL. */
typedef struct engine_field {
    const char *key;
    const char *str;
    double num;
} engine_field;

typedef void (*engine_emit_fn)(nyx_engine *e, const char *event, const engine_field *f, size_t n);

/* A named session (nyx.session): owned by the engine, so it outlives scripts and reloads. */
typedef struct call_session call_session;
struct call_session {
    char *name;
    double budget_usd; /* < 0: none */
    int open;
    cache_stats stats;
    call_session *next;
};

/* ---- the engine's own functions (engine.c and its neighbours) ---- */

/* Starts the provider, the model table and storage; idempotent. 0 or -1 with engine_errmsg. */
int engine_start(nyx_engine *e);
void engine_log(nyx_engine *e, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Around every call of a host's function (log, output, debug writer, tool, query row): the
 * engine is in the middle of something there, and a nyx_poll or nyx_run inside it would turn
 * the loop again under it (api.c refuses them while engine_in_host_fn). */
void engine_host_fn_enter(nyx_engine *e);
void engine_host_fn_leave(nyx_engine *e);
int engine_in_host_fn(const nyx_engine *e);
/* Logs a notice only the first time this key is seen. */
void engine_warn_once(nyx_engine *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void engine_set_error(nyx_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The pool the calls' long prompt texts are shared through, made on first use; NULL when out
 * of memory (texts are then copied). */
struct text_pool *engine_text_pool(nyx_engine *e);
/* The memo of the schemas found good (claude/schema.h), made on first use; NULL when out of
 * memory (every schema is then checked). */
struct claude_schema_memo *engine_schema_memo(nyx_engine *e);
call_session *engine_session(nyx_engine *e, const char *name, int create);
/* Opens (or reopens) session name, with budget when it is >= 0, and records it in the
 * database when there is one (a failure there is logged once, not fatal). NULL when out of
 * memory. */
call_session *engine_session_open(nyx_engine *e, const char *name, double budget);
/* Ends an open session and records the end; a closed one is left as it is. */
void engine_session_end(nyx_engine *e, call_session *s);
/* Seconds of a named timeout profile, or -1 when there is none. */
double engine_timeout_profile(const nyx_engine *e, const char *name);
int engine_set_timeout_profile(nyx_engine *e, const char *name, double seconds);
/* Emergency stop: new calls fail with "stopped", calls in flight are cancelled and logged.
 * broadcast: also write it to the database, so every process sharing it stops. */
void engine_stop(nyx_engine *e, const char *reason, int broadcast);
/* Records a script's own audit event; its detail is stored as the storage mode stores text
 * (redacted by default, nothing under "none"). Returns 0, or -1 with err. (audit.c) */
int engine_audit(nyx_engine *e, const char *kind, const char *session, const char *agent,
                 const char *detail, error_info *err);
/* One part of the progress line (nyx.progress), under key ("script" for the script's own, a
 * council's own, ...); NULL or "" removes it. Past eight parts a new key is dropped: the line
 * has no room for more anyway. (progress.c) */
void engine_set_progress_text(nyx_engine *e, const char *key, const char *text);
/* Hands one printed line to the host's output function; 0, or -1 when the host set none. */
int engine_output(nyx_engine *e, const char *text, size_t len);
/* Hands an event to the host's handlers, if any. */
void engine_emit(nyx_engine *e, const char *event, const engine_field *f, size_t n);

/* ---- the engine's parts, read (host_api.c) ---- */

/* The last error's message (engine_set_error). */
const char *engine_errmsg(const nyx_engine *e);
/* 1 once engine_start succeeded. */
int engine_started(const nyx_engine *e);
/* engine_start is under way (a load from the log function it runs meanwhile is refused). */
int engine_starting(const nyx_engine *e);
const engine_config *engine_cfg(const nyx_engine *e);
event_loop *engine_loop(nyx_engine *e);
/* The database, or NULL when there is none (not started, unavailable, or lost). */
struct store_db *engine_store(nyx_engine *e);
struct model_table *engine_models(nyx_engine *e);
struct cache_policy *engine_cache(nyx_engine *e);
struct ratelimiter *engine_limiter(nyx_engine *e);
struct tpl_library *engine_templates(nyx_engine *e);
/* The OpenTelemetry exporter, NULL when export is off. */
struct otel *engine_otel(nyx_engine *e);
/* The next number of the engine's own sequence (generated names). */
uint64_t engine_next_seq(nyx_engine *e);

/* The engine's counters as nyx.stats() reports them; pointers into the engine, valid until
 * its next turn. */
typedef struct engine_counters {
    const cache_stats *stats;
    const stats_group *by_model, *by_agent, *by_template;
    int degraded; /* the store failed: records wait in memory */
    int64_t records_lost, breaker_opens, connections, tls_handshakes;
    const int64_t *miss_reasons; /* four, by enum cache_miss */
} engine_counters;
void engine_counters_read(nyx_engine *e, engine_counters *out);

/* ---- the script host (core/script_host.h) ---- */

/* The Lua state that owns the scripts, or NULL; attach sets it with the function that closes
 * it when the engine closes; detach forgets it and the event hook. */
void *engine_host(nyx_engine *e);
void engine_host_attach(nyx_engine *e, void *state, void (*close)(nyx_engine *e));
void engine_host_detach(nyx_engine *e);
/* What stops the host's running thread at its next instruction (nyx_interrupt). */
void engine_host_on_interrupt(nyx_engine *e, void (*stop)(void *thread));
/* The host's thread that runs from now (NULL: none); returns the one that ran before, for the
 * caller to set back when its run ends (a run may start another inside it). */
void *engine_host_running(nyx_engine *e, void *thread);
/* nyx_interrupt: async-signal-safe (no lock, no allocation): stops what runs now, if anything. */
void engine_interrupt(nyx_engine *e);
/* The host's collector, reached through fn over state: the engine paces it (core/collector.h)
 * from here until engine_host_detach. */
void engine_host_collector(nyx_engine *e, collector_fn fn, void *state);
const char *engine_lua_path(const nyx_engine *e);
/* The i-th variable given with nyx_set "var.NAME" (NULL past the last), and its value. */
const char *engine_var_at(const nyx_engine *e, size_t i, const char **value);
/* A task began or ended; a main task failed (the next nyx_poll returns NYX_ESCRIPT). */
void engine_task_started(nyx_engine *e);
void engine_task_ended(nyx_engine *e);
void engine_script_failed(nyx_engine *e);
/* Takes the failure flag: 1 when a main task failed since, and clears it. */
int engine_take_script_failure(nyx_engine *e);
/* A Lua callback runs inside a network callback, where nothing may wait: enter returns what
 * leave restores. */
int engine_enter_callback(nyx_engine *e);
void engine_leave_callback(nyx_engine *e, int was);
int engine_in_callback(const nyx_engine *e);
/* A watched file changed (ORed in: 0 changes nothing); 1 when nyx_watch_script asked for
 * NYX_CHANGED. */
void engine_mark_changed(nyx_engine *e, int changed);
int engine_watching_script(const nyx_engine *e);
/* The host's event hook (nyx.on handlers), and the pointer it was given. */
void engine_set_emit(nyx_engine *e, engine_emit_fn fn, void *ud);
void *engine_emit_ud(const nyx_engine *e);

#endif
