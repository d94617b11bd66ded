/* Storage: the durable record of every interaction, session and thought node, and the
 * queries behind `nyx stats`, `nyx log` and `nyx thoughts`.
 *
 * This is the only header callers include. A store_db is an opaque handle over one backend
 * (SQLite now; PostgreSQL later, selected by the URI) so callers never change when a backend
 * is added. One store_db belongs to one thread at a time; open one per engine.
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
 * "invalid_argument" (the caller passed something the store cannot record); a few
 * functions add their own ("budget_exceeded", "not_found"), each documented there. A locked
 * database also sets err->retryable = 1. *err is left untouched on success.
 *
 * Strings passed in are only read during the call; the store keeps no pointer to them.
 */
#ifndef NYX_STORE_H
#define NYX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/rows.h"
#include "claude/types.h"

typedef struct store_db store_db;

/* One row of llm_interactions: everything known about one call when it finished.
 * NULL strings and 0 ids are stored as SQL NULL. */
typedef struct interaction_rec {
    const char *id;              /* required, unique: the engine's interaction id */
    double created_at;           /* wall clock, seconds since the epoch; <= 0: now */
    const char *session, *agent; /* optional */
    int64_t thought_id;          /* thought node (store_thought_add), 0 = none */
    const char *template_name;   /* optional */
    int template_version;        /* stored only with a template_name */
    const char *request_id, *model_requested, *model_served, *provider;
    claude_usage usage;             /* cache_creation_5m/1h stored only with has_cache_creation_detail */
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
    /* Optional: spans of prompt_text whose quick hash the caller knows, in order (the
     * redaction memo's, guard/memo.h), so the store's cut need not hash them again
     * (store_content.h). Valid for this call only: a copy of the record leaves them out. */
    const struct hashed_span *prompt_spans;
    size_t nprompt_spans;
    size_t prompt_len;           /* optional: strlen(prompt_text) when known; 0: measured */
    const char *service_tier;    /* usage.service_tier ("standard", "batch", ...); optional */
    /* A Message Batches result: the batch (nyx's id, store_batch_create) and the request's
     * custom id, both or neither. Unique together: a result logged already is left as it is
     * and the write succeeds (two processes picking up one batch log each result once). */
    const char *batch_id, *custom_id;
    /* Set by the store on its own copy (callers leave it NULL): prompt_text cut into the
     * parts it shares with other requests (store_content.h). */
    const struct store_parts *parts;
    int has_standard_cost;       /* a batch result with a known price: standard_cost_usd is what */
    double standard_cost_usd;    /* the same usage would have cost at standard prices */
    int tool_calls;              /* tool_use blocks in the reply */
    int iteration;               /* its place in a tool loop (1, 2, ...); 0: not in one */
} interaction_rec;

/* Options for store_open_opts(); a zeroed struct (or NULL) gives the defaults. */
typedef struct store_options {
    int busy_timeout_ms; /* how long a write waits for another process's lock before failing
                            with "database is locked": 0 = default 5000, < 0 = do not wait */
    int sync_full;       /* 1: fsync every commit (survives power loss, costs milliseconds per
                            commit); 0: commits survive any crash of the process, see store_sqlite.c */
    int read_only;       /* 1: the open is for reading: it makes no tables where there are none.
                            PostgreSQL: a database that does not hold nyx's tables is refused
                            ("no database at ..."). SQLite: the same open (nyx's commands that
                            only read do not open a file that does not exist, cli_db_missing) */
} store_options;

/* Opens (creating and migrating if needed, unless opts->read_only) the store named by uri.
 * Returns the handle, to be closed with store_close(), or NULL with *err filled.
 *   uri: a SQLite file path, ":memory:", or a SQLite "file:" URI (e.g. "file:x.db?mode=ro");
 *        "postgresql://..." and "postgres://..." select PostgreSQL, which this build lacks:
 *        that fails with "PostgreSQL backend not built" (the URI is not echoed: it may hold
 *        a password).
 *   opts: NULL for the defaults
 *   err: filled on failure, may be NULL */
store_db *store_open_opts(const char *uri, const store_options *opts, error_info *err);

/* 1 when uri selects the PostgreSQL backend ("postgresql://..." or "postgres://..."). */
int store_uri_is_pg(const char *uri);

/* 0 when name may be opened: a PostgreSQL URI, a file: URI, or anything else taken as a SQLite
 * file path; -1 with err (invalid_argument, naming the scheme at most, never the rest) for a
 * name meant for a server but not in a form nyx reads: another scheme followed by '/', a scheme
 * that reads as PostgreSQL's (pgsql:, Postgresql:, postgresql:/), libpq's keyword=value form. */
int store_name_check(const char *name, error_info *err);

/* A name for the PostgreSQL database uri leads to that holds no secret: the SHA-256, in hex, of
 * where libpq would connect (service, host, hostaddr, port, dbname, user, options; what uri
 * leaves out taken from the PG* variables and libpq's defaults), never of the password or of
 * how it connects (sslmode, timeouts). Every process on this machine that opens the same
 * database with the same environment gets the same name (core/pending_spill.c files the
 * records spilled at close under it). 0, or -1 when uri is no PostgreSQL URI libpq can read
 * or this build has no PostgreSQL. */
#define STORE_TARGET_ID_SIZE 65
int store_target_id(const char *uri, char out[STORE_TARGET_ID_SIZE]);

/* A filter for everything personal that could reach the database: the free text of records
 * (error messages, attempt logs, requested model names, thought labels, audit details,
 * template bodies, stop reasons) and the names they are filed under (sessions, agents,
 * budget scopes; name = 1: these must stay distinct). Queries by session pass the name
 * through it too, so they find what was stored. Returns 0 with *copy NULL to store text as
 * given, 0 with *copy a malloc'd replacement, or -1 when out of memory (nothing is stored
 * then). Prompt and response text are the caller's (interaction_rec says so). */
typedef int (*store_text_filter)(void *ud, const char *text, int name, char **copy);
void store_set_text_filter(store_db *s, store_text_filter fn, void *ud);
/* name (a session, agent or budget scope) as the database holds it, into out (truncated). */
void store_name_as_stored(const store_db *s, const char *name, char *out, size_t size);
/* The copies a filter made of a record's texts (store_interaction_filtered); free them with
 * store_scrub_free once the record is no longer used. */
#define STORE_SCRUB_MAX 8
typedef struct store_scrubbed {
    char *owned[STORE_SCRUB_MAX];
    int n, oom;
} store_scrubbed;
void store_scrub_free(store_scrubbed *sc);
/* out = in as a store with filter fn (NULL: none) would write it: the same free text and
 * names filtered, the other strings in's. For a copy kept outside the database (the records
 * spilled at close, core/pending_spill.c) that must hold no more than the database would.
 * 0, or -1 with err (and sc freed) when out of memory. */
int store_interaction_filtered(store_text_filter fn, void *ud, store_scrubbed *sc, const interaction_rec *in,
                               interaction_rec *out, error_info *err);

/* Closes the store. An open batch is committed first (best effort: a failure here is lost,
 * so commit batches explicitly). Closing NULL does nothing. */
void store_close(store_db *s);

/* The backend's name: "sqlite". The string is static. */
const char *store_backend_name(const store_db *s);

/* The schema version in force (PRAGMA user_version for SQLite). */
int store_schema_version(const store_db *s);

/* 1 when the database takes no writes: a SQLite file opened read-only (its permissions or a
 * "mode=ro" URI), or a PostgreSQL role found at open to lack a right that a call's record
 * needs (an open for writing looks, in the round trip that reads the schema version). Queries
 * work, every write fails with "store_error". */
int store_is_readonly(const store_db *s);
/* Why, naming the database and what it lacks ("store: role R may read but not write ...: it
 * lacks INSERT on llm_interactions, ..."), or NULL when it takes writes. Lets the engine send
 * no call whose record would be refused: the call was paid for, then its record lost. */
const char *store_readonly_why(const store_db *s);

/* Records one interaction. Outside a batch the row is committed when this returns 0, so
 * it survives the process being killed (SIGKILL) right after; inside a batch it becomes
 * durable at store_batch_commit().
 *   it: the row; it->id and it->status are required */
int store_log_interaction(store_db *s, const interaction_rec *it, error_info *err);

/* Groups every write until store_batch_commit() in one transaction: one commit for many
 * rows (use it to log all calls finished in one loop turn, then release their results).
 * The write lock is taken here, so other processes' writes wait until the commit: keep
 * batches short and never hold one across a network wait. Batches do not nest.
 * If any write inside the batch fails, the whole batch is rolled back at once, the failing
 * call says so, later writes in the batch fail without touching the database, and
 * store_batch_commit() returns -1; the next write after that starts afresh. */
int store_batch_begin(store_db *s, error_info *err);

/* Commits the batch: every row logged since store_batch_begin() is durable on return 0. */
int store_batch_commit(store_db *s, error_info *err);

/* Abandons the batch: nothing logged since store_batch_begin() is kept. */
int store_batch_rollback(store_db *s, error_info *err);

/* Creates the session, or reopens it (ended_at cleared, started_at kept).
 *   budget_usd: < 0 keeps the session's budget as it is (none for a new session) */
int store_session_upsert(store_db *s, const char *name, double budget_usd, error_info *err);

/* Ends the session: sets ended_at to now and its totals (calls, cost, saved, tokens) from
 * llm_interactions. Creates the session row if store_session_upsert() never did. */
int store_session_end(store_db *s, const char *name, error_info *err);

/* Adds a thought-tree node and returns its id in *id_out (ids are > 0).
 *   session: optional
 *   parent: an existing node's id, or 0 for a root; an unknown parent is "invalid_argument"
 *   label: optional */
int store_thought_add(store_db *s, const char *session, int64_t parent, const char *label,
                      int64_t *id_out, error_info *err);

/* ---- queries for the command line ----
 * Rows are delivered to a callback: column names and values as text (SQL NULL as a NULL
 * pointer) and each value's type as the database gave it, one letter per column in types
 * (base/rows.h: ROW_INT, ROW_REAL, ROW_TEXT, ROW_NULL), all valid only during the callback.
 * Reals are printed with 15 significant digits (0.1 + 0.2 reads "0.3"), integers as integers. A callback returning nonzero
 * stops the query, which then returns 1. Returns 0 after the last row, -1 on error. */
typedef int (*store_row_fn)(void *ud, int ncols, const char *const *names,
                            const char *const *values, const char *types);

typedef struct store_filter {
    const char *session;  /* NULL = every session */
    double since;         /* created_at >= since (epoch seconds); 0 = all */
    int last;             /* only the newest N interactions; 0 = all */
    const char *group_by; /* stats only: NULL/"total", "model", "session", "agent", "template" */
    const char *kind;     /* audit only: NULL = every kind of event */
} store_filter;

/* Statistics, one row per group (one "total" row when not grouped, ordered by group):
 * group, calls, cache_hits, hit_rate (cache_hits/calls), input, output, cache_read,
 * cache_write, cost_usd, cost_without_cache_usd, saved_usd (sums over calls with a known
 * price), unknown_cost_calls (calls whose price was unknown: their cost is not in the sums),
 * errors (calls whose status is not "ok"), batch_calls (Message Batches results), batch_cache_read
 * (their cache reads), batch_saved_usd (what they saved against standard prices).
 * "model" groups by the model that served (the requested one when none did); "template"
 * groups by "name@version".
 *   f: NULL = every interaction, not grouped */
int store_query_stats(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                      error_info *err);

/* One row per interaction, newest last: id, created_at (ISO 8601 UTC with milliseconds,
 * "2026-11-25T10:00:00.000Z"), session, agent, model (served, else requested), status,
 * tokens (input + cache_write + cache_read + output), cache_read, cost (NULL when the price
 * was unknown), latency_ms, error_type. f->group_by is ignored. */
int store_query_log(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                    error_info *err);

/* One row per interaction with a usage, for repricing (`nyx stats --reprice`), newest last:
 * id, created_at (seconds since the epoch, UTC), model (served, else requested), input,
 * output, cache_write, cache_write_5m, cache_write_1h (NULL when the API gave no
 * breakdown), cache_read, cost (NULL when the price was unknown). f->group_by is ignored. */
int store_query_usage(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                      error_info *err);

/* The stored exchange of one interaction (`nyx log --raw ID`), one row, or none (and 0) for
 * an unknown id: id, created_at (ISO 8601 UTC), session, agent, model (served, else
 * requested), status, error_type, error_message, request_id, attempts, attempts_json,
 * request (prompt_text: the request body as the storage mode kept it, NULL for "none";
 * joined again, byte for byte, from the parts it shares with other requests), response
 * (response_text, likewise).
 *   id: required */
int store_query_exchange(store_db *s, const char *id, store_row_fn fn, void *ud, error_info *err);
/* Whether an interaction with this id is stored: 0 with *found 1 or 0, or -1 with err. Lets
 * a second import of the same records (core/pending_spill.c) leave them as they are. */
int store_interaction_exists(store_db *s, const char *id, int *found, error_info *err);

/* What store_prune removed, or with dry_run would remove. */
typedef struct store_pruned {
    long long interactions, interaction_bytes; /* call records and the bytes of their texts */
    long long batches;                         /* finished batches, with their request rows */
    long long parts, part_bytes;               /* shared parts of requests no record names */
    long long cache_rows, cache_bytes;         /* response-cache entries expired at now */
    double longest_write_ms;                   /* the longest single write (SQLite: lock held) */
} store_pruned;

/* Keeps the log bounded: deletes the interactions created before `before` (epoch seconds),
 * the batches made before it whose every request was logged before it and whose
 * reservations are settled (with their request rows), the parts no remaining interaction
 * names (whatever deleted what named them), and the response-cache entries expired at now
 * (<= 0: the current time). Safe while other processes log: a part is never deleted under a
 * request being logged. Kept: the
 * interactions of a batch still waiting for results or holding a reservation (logged again
 * otherwise), budgets (their spending is kept in their own rows, never summed from
 * interactions), sessions, thought nodes, templates, audit events, settings and the stop.
 * Writes go in bounded pieces, each its own transaction, so a large prune never holds a
 * SQLite database's write lock for long against the processes logging to it. dry_run: only
 * counts. Returns 0 with *out filled (what was done so far on -1), or -1 with err filled. */
int store_prune(store_db *s, double before, double now, int dry_run, store_pruned *out,
                error_info *err);

/* One row per thought node, parents before children (by id): id, parent_id (NULL for a
 * root), label, calls, tokens, cost, where calls, tokens (as in store_query_log) and cost
 * (known prices) are rolled up over the node and all its descendants.
 *   session: NULL = every session */
int store_query_thoughts(store_db *s, const char *session, store_row_fn fn, void *ud,
                         error_info *err);

/* One row per call made as an iteration of a tool loop under a thought node, by node then
 * time: thought, iteration, tool_calls, stop_reason, tokens (as in store_query_log), cost.
 *   session: NULL = every session */
int store_query_iterations(store_db *s, const char *session, store_row_fn fn, void *ud,
                           error_info *err);

/* ---- budgets (issue 7) ----
 * A budget is a scope ("session:NAME", "agent:NAME", "day:2026-11-25", "month:2026-11")
 * with a limit, what has been spent and what is reserved by calls in flight. Before a
 * request the engine reserves its worst-case cost in every scope that applies; when the
 * call ends it settles the reservation to the actual cost (0 when nothing was spent).
 * Each function is one database transaction (BEGIN IMMEDIATE for SQLite), so processes
 * sharing the database can never jointly reserve past a limit. Inside a batch
 * (store_batch_begin) they join the batch and become durable at its commit.
 * Amounts are in USD; comparisons with a limit allow 1e-9 USD of rounding, so a call that
 * fits exactly (0.1 + 0.2 against 0.3) is not refused. */

/* The size of a buffer that holds any reservation id, its terminating NUL included. */
#define STORE_RESERVATION_ID_SIZE 40

typedef struct store_scope {
    const char *scope; /* e.g. "session:x", "day:2026-11-25", "month:2026-11", "agent:y";
                          any text without a newline */
    double limit_usd;  /* the limit that applies now (from config): the scope's row is created
                          with it, or its stored limit updated to it, by a reservation that
                          succeeds. < 0: no limit (the scope is tracked, never refuses) */
} store_scope;

/* Reserves amount_usd in every scope, all or nothing.
 * Returns 0 with the reservation id written; or -1 with err filled:
 *   type "budget_exceeded" when a scope would go over (spent + reserved + amount > limit):
 *   nothing is reserved anywhere, *refused is the index of that scope in scopes, and the
 *   message names it, e.g. "budget exceeded in scope session:x: limit $1.00, spent
 *   $0.40, reserved $0.50, this call needs up to $0.20";
 *   "invalid_argument" (bad amount, limit, empty or repeated scope, small buffer) or
 *   "store_error" (the database failed; *refused is -1 for both).
 * With n == 0 nothing is stored; the id is still written and settling it does nothing.
 *   scopes: n scopes, each named once
 *   amount_usd: >= 0, the call's worst-case cost
 *   reservation_id: receives the id, NUL-terminated: pass it to store_budget_settle()
 *   id_size: size of reservation_id, at least STORE_RESERVATION_ID_SIZE
 *   refused: receives the refusing scope's index, -1 otherwise; may be NULL */
int store_budget_reserve(store_db *s, const store_scope *scopes, size_t n, double amount_usd,
                         char *reservation_id, size_t id_size, int *refused, error_info *err);

/* Turns a reservation into spending in every scope it holds: reserved -= the amount
 * reserved, spent += actual_usd; then forgets it. Returns 0, or -1 with err filled.
 * An unknown id (already settled, reaped, or from n == 0) does nothing and returns 0, so
 * settling twice never spends twice. actual_usd may exceed the amount reserved (it is
 * what was spent; the scope then shows a negative remaining).
 *   reservation_id: from store_budget_reserve()
 *   actual_usd: >= 0; 0 releases the reservation */
int store_budget_settle(store_db *s, const char *reservation_id, double actual_usd,
                        error_info *err);

/* One row per scope, ordered by scope: scope, limit_usd (NULL: no limit), spent_usd,
 * reserved_usd, remaining_usd (limit - spent - reserved; NULL without a limit),
 * updated_at (ISO 8601 UTC). Rows as for the queries below. */
int store_budget_status(store_db *s, store_row_fn fn, void *ud, error_info *err);

/* Sets the limit a scope's row shows (and enforces from now on) without reserving: a soft
 * budget reserved past its limit (reserved with no limit) puts its limit back this way, so
 * the ledger still shows it. A scope without a row is left alone. Returns 0, or -1 with err.
 *   limit_usd: < 0 clears the limit */
int store_budget_set_limit(store_db *s, const char *scope, double limit_usd, error_info *err);
/* Starts a scope's spending again from 0 (`nyx budget reset SCOPE`): its reservations still
 * pending stay. Returns 0 with *found 1 when the scope has a row, 0 with *found 0 when it
 * has none (nothing changed), or -1 with err. */
int store_budget_reset(store_db *s, const char *scope, int *found, error_info *err);

/* Releases reservations whose holder can no longer settle them: those made on this host
 * by a process that no longer exists, and those older than max_age_s (from any host).
 * Returns the number of reservations released (>= 0), or -1 with err filled.
 * A process whose id was reused by a new process keeps its reservations until max_age_s.
 * A call still running when its reservation is reaped has its later settle ignored (its
 * cost is not counted): max_age_s must exceed the longest call, retries included.
 *   max_age_s: > 0; <= 0 releases only the reservations of dead processes */
int store_budget_reap(store_db *s, double max_age_s, error_info *err);

/* store_log_interaction() and store_budget_settle() in one transaction, one commit: either
 * the row is logged and the reservation settled, or (returning -1) neither. Inside a batch
 * both join the batch, and a failure rolls the batch back like any failed write.
 *   reservation_id: NULL logs only
 *   actual_usd: >= 0, as for store_budget_settle() */
int store_log_interaction_settle(store_db *s, const interaction_rec *it,
                                 const char *reservation_id, double actual_usd,
                                 error_info *err);

/* ---- control flags and the emergency stop (issue 7.5) ----
 * Cross-process flags in the control table; "stop" holds the emergency stop's reason. */

/* Sets key to value, or deletes it. Returns 0, or -1 with err filled.
 *   key: non-empty
 *   value: NULL deletes the key */
int store_control_set(store_db *s, const char *key, const char *value, error_info *err);

/* Reads key. Returns 0 with *value a malloc'd copy (free() it) or NULL when the key is
 * absent; -1 with err filled (and *value NULL) on failure. */
int store_control_get(store_db *s, const char *key, char **value, error_info *err);

/* Sets *changed to 1 when another connection (another process, or another store on the
 * same file) has committed a write since the previous call on this store, else 0; the
 * store's own writes do not count. The first call on a store reports 1 (nothing was seen
 * before it). Costs a few microseconds (SQLite's PRAGMA data_version: no table is read),
 * so a process can poll it every few hundred milliseconds and read the stop flag only
 * when it says 1. A change may be reported that touched other tables. */
int store_changed(store_db *s, int *changed, error_info *err);

/* ---- audit trail (issue 9.5) ---- */

/* Records a security-relevant event now (blocked or redacted prompt, budget refusal,
 * emergency stop, breaker opening, configuration at start). Never pass secrets in detail.
 *   kind: required, e.g. "budget_refused", "stop", "prompt_blocked"
 *   session, agent, detail: optional (detail is free text or JSON) */
int store_audit(store_db *s, const char *kind, const char *session, const char *agent,
                const char *detail, error_info *err);

/* One row per event, oldest first: id, created_at (ISO 8601 UTC with milliseconds), kind,
 * session, agent, detail. f->session and f->since filter; f->last keeps the newest N;
 * f->group_by is ignored. f: NULL = every event. */
int store_query_audit(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                      error_info *err);

/* ---- response cache, layer 2 (issue 6.5) ----
 * The llm_cache table: responses by exact key, shared by every process on the database.
 * now is wall-clock epoch seconds (<= 0: the current time), passed in so callers and
 * tests agree on expiry. */

/* Looks key up. Returns 0 with *response_json a malloc'd copy (free() it) and the entry's
 * hit count incremented; or 0 with *response_json NULL when the key is absent or expired
 * (expires_at <= now); -1 with err filled (and *response_json NULL) on failure. */
int store_cache_get(store_db *s, const char *key, double now, char **response_json,
                    error_info *err);

/* Stores (or replaces, hits back to 0) the entry for key.
 *   model: optional, for stats
 *   response_json: required
 *   ttl_s: seconds from now until it expires; <= 0: never expires */
int store_cache_put(store_db *s, const char *key, const char *model, const char *response_json,
                    double now, double ttl_s, error_info *err);

/* ---- prompt templates (issue 8.2-8.4) ---- */

/* Records a template's content. A content already stored under this name (the same hash
 * and the same text, in any version) keeps its version; a new content becomes version
 * max + 1 (1 for a new name). One transaction: two processes putting the same new content
 * at once get one version. Returns 0 with *version set, or -1 with err filled.
 *   name, content, hash_hex: required (hash_hex: the caller's hash of content, hex)
 *   variables_json: optional, stored with a new version
 *   version: receives the version */
int store_template_put(store_db *s, const char *name, const char *content,
                       const char *variables_json, const char *hash_hex, int *version,
                       error_info *err);

/* Reads a version. Returns 0 with *content malloc'd (free() it) and *version_out set; -1
 * with err type "not_found" (name or version absent: "store: template NAME@V not found")
 * or "store_error"; *content is NULL on failure.
 *   version: >= 1, or 0 for the latest (the highest version number)
 *   version_out: may be NULL */
int store_template_get(store_db *s, const char *name, int version, char **content,
                       int *version_out, error_info *err);

/* One row per template, by name: name, latest_version, versions, updated_at (ISO 8601,
 * when the latest version was created). */
int store_template_list(store_db *s, store_row_fn fn, void *ud, error_info *err);

/* One row per version of name, oldest first: version, hash, created_at (ISO 8601), size
 * (content bytes). No rows (and 0) for an unknown name. */
int store_template_history(store_db *s, const char *name, store_row_fn fn, void *ud,
                           error_info *err);

/* Counts one use of name@version with its outcome and costs (template_usage).
 *   version: >= 1 (not checked against prompt_templates: files may be used unstored)
 *   success: 1 success, 0 failure, -1 outcome unknown (counted as a use only; the success
 *            rate is over uses with a known outcome)
 *   input_tokens, output_tokens, cost_usd, latency_ms: >= 0, added to the totals
 *   cache_hit: nonzero when the call read the prompt cache */
int store_template_usage(store_db *s, const char *name, int version, int success,
                         int64_t input_tokens, int64_t output_tokens, double cost_usd,
                         double latency_ms, int cache_hit, error_info *err);

/* One row per version of name (stored or used), by version: version, uses, successes,
 * failures, success_rate (successes / (successes + failures); NULL when none was judged),
 * tokens (input + output), cost_usd, avg_latency_ms (latency total / uses), cache_hit_rate
 * (cache hits / uses); the averages are NULL for a version never used. */
int store_template_stats(store_db *s, const char *name, store_row_fn fn, void *ud,
                         error_info *err);

/* A script's judgement of a use already counted: its outcome goes from `from` to `to` (1, 0
 * or -1 as above); uses and totals are unchanged. */
int store_template_judge(store_db *s, const char *name, int version, int from, int to, error_info *err);

/* ---- configuration (issue 11.2) ----
 * Operator settings stored with the data (system_config). The store keeps text; the
 * engine validates values and applies precedence (call, environment, database, default). */

/* Sets key to value. value NULL deletes the key.
 *   key: non-empty */
int store_config_set(store_db *s, const char *key, const char *value, error_info *err);

/* One row per key, by key: key, value, updated_at (ISO 8601). */
int store_config_list(store_db *s, store_row_fn fn, void *ud, error_info *err);


/* ---- Message Batches (issue 18) ----
 * A batch and its requests are committed before anything is sent, so a process that dies
 * while waiting, or another process (`nyx batch status|results ID`), can pick the batch up:
 * read its requests, ask the API for the results and log each as an interaction exactly once
 * (interaction_rec.batch_id and custom_id are unique together). */

/* One request of a batch as store_batch_create() records it. */
typedef struct store_batch_request {
    const char *custom_id;       /* required, unique in the batch */
    int part;                    /* which submission of the batch carries it, from 0 */
    const char *session, *agent; /* optional: its interaction is filed under them */
    const char *template_name;   /* optional */
    int template_version;
    const char *model;           /* the model requested; optional */
    const char *reservation_id;  /* the budget reservation it holds, or NULL */
    double reserved_usd;         /* >= 0: what that reservation holds */
    int write_1h;                /* its cache marks ask for the 1-hour TTL (how unbroken-down
                                    cache writes are priced) */
} store_batch_request;

/* Records the batch id (nyx's own, unique) and its n requests in one transaction. The
 * reservations they hold pass to the batch: no process's death releases them (as
 * store_budget_reap() does for calls), they are settled when each result is logged, and lapse
 * like any other only an hour after expires_at (epoch seconds, when the API gives up on it).
 *   name: optional; parts: how many submissions carry the requests (>= 1) */
int store_batch_create(store_db *s, const char *id, const char *name, double expires_at, int parts,
                       const store_batch_request *reqs, size_t n, error_info *err);

/* Records the API's id of one part of the batch, as soon as its submission is answered. */
int store_batch_submitted(store_db *s, const char *id, int part, const char *provider_id,
                          error_info *err);

/* The requests of the batch whose id, or the API's id of one of its parts, is id: one row
 * each, by part then custom id: batch_id, name, part, provider_id (NULL: not submitted),
 * custom_id, session, agent, template, template_version, model, reservation_id,
 * reserved_usd, write_1h, logged (1 when its result is logged already), interaction_id (the
 * id its result is logged under, NULL when it is not). No rows (and 0) for
 * an id the database does not know. */
int store_batch_requests(store_db *s, const char *id, store_row_fn fn, void *ud, error_info *err);

/* Settles each reservation of batch id (nyx's) whose requests are all logged, at what their
 * interactions cost; the others wait for their results. Whichever process calls it first
 * settles, once (a settled reservation is not settled again). *settled: how many it settled
 * now (may be NULL). */
int store_batch_settle(store_db *s, const char *id, int *settled, error_info *err);

/* ---- In a loop ----
 * The PostgreSQL backend answers over a socket. A program with an event loop watches
 * store_poll_fd() (readable, and writable when *want_write) and calls store_pump() when it
 * is ready and from a timer (which also reconnects a lost connection); store_busy() counts
 * operations not answered yet. Then the two operations on a call's path never wait:
 * store_log_interaction_settle_async() and store_budget_reserve_async() return at once and
 * call done from store_pump(), after the database committed (rc 0) or failed (rc -1, err;
 * for a reservation, refused as store_budget_reserve sets it). With the SQLite backend they
 * do the work at once and call done before returning, its failure included (a refusal must
 * reach done with the scope it names), so a caller sees every outcome the same way on both;
 * so do the other _async functions below, which let a script's task wait on the database
 * without stopping the loop.
 * Each returns -1 with err filled, without calling done, only when the operation could not
 * start (bad arguments, database unreachable); every outcome of one that started reaches
 * done, once.
 * With PostgreSQL, logging an id that is logged already leaves the first record as it is (SQLite
 * refuses it), so a write whose answer was lost with the connection can be sent again; and a
 * batch is pipelined rather than one transaction: its writes commit in groups as they are
 * sent, the commit reports the first failure, and it cannot be rolled back.
 * store_set_background(s, 1): writes that answer nothing (audit events, settles, template
 * usage, the response cache, budget limits) are queued rather than waited for; with SQLite,
 * a write waits at most 10 ms for another process's lock, then fails with a retryable
 * store_error (the caller tries again later, from a timer). */
typedef void (*store_done_fn)(void *ud, int rc, int refused, const error_info *err);

int store_poll_fd(store_db *s, int *want_write); /* -1: nothing to watch */
void store_pump(store_db *s);
int store_busy(const store_db *s);
/* 1 when the _async writes answer from store_pump() (PostgreSQL), 0 when they answer at once
 * (SQLite): then a caller groups its writes itself (store_batch_begin) to share a commit. */
int store_answers_later(const store_db *s);
void store_set_background(store_db *s, int on);
/* store_pump() hands out answers until enough(ud) says 1 (one at least), the rest at the next
 * pump, store_busy() still counting them: a host's frame does not take every answer at once. */
void store_set_pump_limit(store_db *s, int (*enough)(void *ud), void *ud);
/* The first background write that failed since the last look: 1 with its message, else 0. */
int store_take_write_error(store_db *s, char *buf, size_t size);
int store_log_interaction_settle_async(store_db *s, const interaction_rec *it,
                                       const char *reservation_id, double actual_usd,
                                       store_done_fn done, void *ud, error_info *err);
/* store_cache_get, answered in done: rc 0 with text the cached response (malloc'd, the
 * callee's to free; NULL on a miss), or rc -1 with err. */
typedef void (*store_text_fn)(void *ud, int rc, char *text, const error_info *err);
int store_cache_get_async(store_db *s, const char *key, double now, store_text_fn done,
                          void *ud, error_info *err);
/* store_thought_add, answered in done: rc 0 with the new node's id, or rc -1 with err. */
typedef void (*store_id_fn)(void *ud, int rc, int64_t id, const error_info *err);
int store_thought_add_async(store_db *s, const char *session, int64_t parent, const char *label,
                            store_id_fn done, void *ud, error_info *err);
/* The rows of store_config_list, handed to fn just before done runs. */
int store_config_list_async(store_db *s, store_row_fn fn, void *ud, store_done_fn done,
                            void *done_ud, error_info *err);
/* store_control_get, answered in done: rc 0 with text the value (malloc'd, the callee's to
 * free; NULL when unset), or rc -1 with err. */
int store_control_get_async(store_db *s, const char *key, store_text_fn done, void *ud,
                            error_info *err);
/* The rows of store_budget_status, handed to fn just before done runs. */
int store_budget_status_async(store_db *s, store_row_fn fn, void *ud, store_done_fn done,
                              void *done_ud, error_info *err);
/* reservation_id must stay valid until done runs (it is written before this returns). */
int store_budget_reserve_async(store_db *s, const store_scope *scopes, size_t n,
                               double amount_usd, char *reservation_id, size_t id_size,
                               store_done_fn done, void *ud, error_info *err);
/* The same reservation sent again after an attempt whose answer was lost (a retryable
 * store_error): reservation_id as that attempt wrote it. The database may have committed
 * the attempt; under the same id it is not made twice (the id is idempotent). */
int store_budget_reserve_again_async(store_db *s, const store_scope *scopes, size_t n,
                                     double amount_usd, char *reservation_id, size_t id_size,
                                     store_done_fn done, void *ud, error_info *err);

#endif
