/* Storage: the durable record of every interaction, session and thought node, and the
 * queries behind `nyx stats`, `nyx log` and `nyx thoughts`.
 *
 * This is the only header callers include. A nyx_store is an opaque handle over one backend
 * (SQLite now; PostgreSQL later, selected by the URI) so callers never change when a backend
 * is added. One nyx_store belongs to one thread at a time; open one per engine.
 *
 * A SQLite store on a file runs one helper thread of its own that checkpoints the WAL, so
 * no call pays for copying the log back into the database (store_checkpoint.c). Do not
 * fork() and use a store (or open a new one on the same file) in the child while the
 * parent has it open: SQLite's locks do not survive fork(); exec at once or close first.
 *
 * Every function that can fail returns 0 on success and -1 on failure, and then fills *err
 * (when err is not NULL) with a type and a message that names what failed, e.g.
 *   type "store_error", message "store: cannot log interaction i_1 to /x/nyx.db: database is locked"
 * Types: "store_error" (the database refused: locked, read-only, full, corrupt, I/O) and
 * "invalid_argument" (the caller passed something the store cannot record). A locked
 * database also sets err->retryable = 1. *err is left untouched on success.
 *
 * Strings passed in are only read during the call; the store keeps no pointer to them.
 */
#ifndef NYX_STORE_H
#define NYX_STORE_H

#include <stdint.h>

#include "claude/types.h"

typedef struct nyx_store nyx_store;

/* One row of llm_interactions: everything known about one call when it finished.
 * NULL strings and 0 ids are stored as SQL NULL. */
typedef struct nyx_interaction {
    const char *id;              /* required, unique: the engine's interaction id */
    double created_at;           /* wall clock, seconds since the epoch; <= 0: now */
    const char *session, *agent; /* optional */
    int64_t thought_id;          /* thought node (store_thought_add), 0 = none */
    const char *template_name;   /* optional */
    int template_version;        /* stored only with a template_name */
    const char *request_id, *model_requested, *model_served, *provider;
    nyx_usage usage;             /* cache_creation_5m/1h stored only with has_cache_creation_detail */
    int has_cost;                /* 0: price unknown, the three costs are stored as NULL */
    double cost_usd, cost_without_cache_usd, saved_usd;
    double ttfb_ms, latency_ms;  /* < 0: unknown (NULL) */
    int attempts;                /* HTTP attempts made, retries included */
    const char *attempts_json;   /* optional: JSON array describing each attempt */
    const char *status;          /* required: "ok", "error" or "cancelled" */
    const char *error_type, *error_message, *stop_reason;
    int cache_hit;               /* 1: the response read from the prompt cache */
    int from_response_cache;     /* 1: answered by the response cache, no API call */
    const char *prompt_text, *response_text; /* as the storage mode allows (full/redacted/NULL) */
} nyx_interaction;

/* Options for store_open_opts(); a zeroed struct (or NULL) gives the defaults. */
typedef struct store_options {
    int busy_timeout_ms; /* how long a write waits for another process's lock before failing
                            with "database is locked": 0 = default 5000, < 0 = do not wait */
    int sync_full;       /* 1: fsync every commit (survives power loss, costs milliseconds per
                            commit); 0: commits survive any crash of the process, see store_sqlite.c */
} store_options;

/* Opens (creating and migrating if needed) the store named by uri.
 * Returns the handle, to be closed with store_close(), or NULL with *err filled.
 *   uri: a SQLite file path, ":memory:", or a SQLite "file:" URI (e.g. "file:x.db?mode=ro");
 *        "postgresql://..." and "postgres://..." select PostgreSQL, which this build lacks:
 *        that fails with "PostgreSQL backend not built" (the URI is not echoed: it may hold
 *        a password).
 *   err: filled on failure, may be NULL */
nyx_store *store_open(const char *uri, nyx_error *err);

/* store_open() with options.
 *   opts: NULL for the defaults */
nyx_store *store_open_opts(const char *uri, const store_options *opts, nyx_error *err);

/* Closes the store. An open batch is committed first (best effort: a failure here is lost,
 * so commit batches explicitly). Closing NULL does nothing. */
void store_close(nyx_store *s);

/* The backend's name: "sqlite". The string is static. */
const char *store_backend_name(const nyx_store *s);

/* The schema version in force (PRAGMA user_version for SQLite). */
int store_schema_version(const nyx_store *s);

/* 1 when the database was opened read-only (a read-only file or a "mode=ro" URI): queries
 * work, every write fails with "store_error". Lets the engine refuse a run at start. */
int store_is_readonly(const nyx_store *s);

/* Records one interaction. Outside a batch the row is committed when this returns 0, so
 * it survives the process being killed (SIGKILL) right after; inside a batch it becomes
 * durable at store_batch_commit().
 *   it: the row; it->id and it->status are required */
int store_log_interaction(nyx_store *s, const nyx_interaction *it, nyx_error *err);

/* Groups every write until store_batch_commit() in one transaction: one commit for many
 * rows (use it to log all calls finished in one loop turn, then release their results).
 * The write lock is taken here, so other processes' writes wait until the commit: keep
 * batches short and never hold one across a network wait. Batches do not nest.
 * If any write inside the batch fails, the whole batch is rolled back at once, the failing
 * call says so, later writes in the batch fail without touching the database, and
 * store_batch_commit() returns -1; the next write after that starts afresh. */
int store_batch_begin(nyx_store *s, nyx_error *err);

/* Commits the batch: every row logged since store_batch_begin() is durable on return 0. */
int store_batch_commit(nyx_store *s, nyx_error *err);

/* Abandons the batch: nothing logged since store_batch_begin() is kept. */
int store_batch_rollback(nyx_store *s, nyx_error *err);

/* Creates the session, or reopens it (ended_at cleared, started_at kept).
 *   budget_usd: < 0 keeps the session's budget as it is (none for a new session) */
int store_session_upsert(nyx_store *s, const char *name, double budget_usd, nyx_error *err);

/* Ends the session: sets ended_at to now and its totals (calls, cost, saved, tokens) from
 * llm_interactions. Creates the session row if store_session_upsert() never did. */
int store_session_end(nyx_store *s, const char *name, nyx_error *err);

/* Adds a thought-tree node and returns its id in *id_out (ids are > 0).
 *   session: optional
 *   parent: an existing node's id, or 0 for a root; an unknown parent is "invalid_argument"
 *   label: optional */
int store_thought_add(nyx_store *s, const char *session, int64_t parent, const char *label,
                      int64_t *id_out, nyx_error *err);

/* ---- queries for the command line ----
 * Rows are delivered to a callback: column names and values as text (SQL NULL as a NULL
 * pointer), both valid only during the callback. Reals are printed with 15 significant
 * digits (0.1 + 0.2 reads "0.3"), integers as integers. A callback returning nonzero
 * stops the query, which then returns 1. Returns 0 after the last row, -1 on error. */
typedef int (*store_row_fn)(void *ud, int ncols, const char *const *names,
                            const char *const *values);

typedef struct store_filter {
    const char *session;  /* NULL = every session */
    double since;         /* created_at >= since (epoch seconds); 0 = all */
    int last;             /* only the newest N interactions; 0 = all */
    const char *group_by; /* stats only: NULL/"total", "model", "session", "agent", "template" */
} store_filter;

/* Statistics, one row per group (one "total" row when not grouped, ordered by group):
 * group, calls, cache_hits, hit_rate (cache_hits/calls), input, output, cache_read,
 * cache_write, cost_usd, cost_without_cache_usd, saved_usd (sums over calls with a known
 * price), unknown_cost_calls (calls whose price was unknown: their cost is not in the sums),
 * errors (calls whose status is not "ok").
 * "model" groups by the model that served (the requested one when none did); "template"
 * groups by "name@version".
 *   f: NULL = every interaction, not grouped */
int store_query_stats(nyx_store *s, const store_filter *f, store_row_fn fn, void *ud,
                      nyx_error *err);

/* One row per interaction, newest last: id, created_at (ISO 8601 UTC with milliseconds,
 * "2026-11-25T10:00:00.000Z"), session, agent, model (served, else requested), status,
 * tokens (input + cache_write + cache_read + output), cache_read, cost (NULL when the price
 * was unknown), latency_ms, error_type. f->group_by is ignored. */
int store_query_log(nyx_store *s, const store_filter *f, store_row_fn fn, void *ud,
                    nyx_error *err);

/* One row per thought node, parents before children (by id): id, parent_id (NULL for a
 * root), label, calls, tokens, cost, where calls, tokens (as in store_query_log) and cost
 * (known prices) are rolled up over the node and all its descendants.
 *   session: NULL = every session */
int store_query_thoughts(nyx_store *s, const char *session, store_row_fn fn, void *ud,
                         nyx_error *err);

#endif
