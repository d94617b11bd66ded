/* The backend interface of engine/store. Callers never include this; they use store.h.
 *
 * Two layers. The query layer holds each query once, for every backend: store.c (logging,
 * sessions, thought nodes), store_queries.c (stats, log, usage, thoughts, iterations),
 * store_templates.c, store_control.c (control, configuration, audit), store_cache.c,
 * store_extras.c (exchanges, shared parts, budget limits and resets), store_budget.c (its
 * status) and store_batch.c. Each statement is a store_sql with ?N placeholders and the few
 * words a dialect spells its own way (store_driver.h); it runs through the backend's thin
 * driver, the first members of store_backend_ops: run, submit (PostgreSQL's pipeline,
 * answered from store_pump()), write (not waited for in the background mode), and
 * begin/commit/rollback (SQLite's BEGIN IMMEDIATE or savepoint).
 *
 * What each backend still does its own way is the rest of the ops table: opening and
 * migrating (store_schema.c, store_pg_schema.c), logging an interaction and batches of
 * writes, budget reservations and settles (SQLite: several statements under BEGIN
 * IMMEDIATE, store_sqlite_budget.c; PostgreSQL: one statement calling a function of the
 * schema that locks the scopes' rows, store_pg_budget.c), recording a Message Batch with its
 * requests in one transaction, store_changed(), and the loop (poll_fd, pump).
 *
 * Adding a backend: write store_<name>.c with one `const store_backend_ops` (its driver and
 * those ops), declare it below, and select it by URI in store.c's store_open_opts().
 * Arguments reaching an op have already been checked by the public layer. Every op fills err
 * on failure with type "store_error" (or "invalid_argument").
 */
#ifndef NYX_STORE_BACKEND_H
#define NYX_STORE_BACKEND_H

#include "store.h"
#include "store_content.h"
#include "store_driver.h"

#include "base/text.h"

/* The head of every backend's insert of an interaction: its 36 columns, in the order the
 * backends bind their values ($1/?1 is id ... $32/?32 is provider, $35/?35 custom_id,
 * $36/?36 the recipe of a request stored in parts, prompt_text then NULL; $37/?37
 * standard_cost_usd; $38/?38 tool_calls, $39/?39 iteration). */
#define SQL_INSERT_INTERACTION                                                               \
    "INSERT INTO llm_interactions (id, created_at, session, agent, thought_id, template,"     \
    " template_version, request_id, model_requested, model_served, input_tokens,"            \
    " output_tokens, cache_creation_input_tokens, cache_read_input_tokens,"                  \
    " cache_creation_5m, cache_creation_1h, cost_usd, cost_without_cache_usd, saved_usd,"    \
    " ttfb_ms, latency_ms, attempts, attempts_json, status, error_type, error_message,"      \
    " stop_reason, cache_hit, from_response_cache, prompt_text, response_text, provider,"  \
    " service_tier, batch_id, custom_id, request_parts, standard_cost_usd, tool_calls, iteration)"

/* A reservation as store_budget_reserve() hands it to a backend: the id it generated and
 * who holds it, so store_budget_reap() can tell a dead holder. */
/* The values of SQL_INSERT_INTERACTION's columns, in its order (STORE_INTERACTION_VALS of
 * them, borrowing its strings): the one place an interaction becomes a row. Returns the
 * count. */
#define STORE_INTERACTION_VALS 39
int store_interaction_vals(const interaction_rec *it, store_val *v);

typedef struct store_reservation {
    const char *id;     /* unique, < STORE_RESERVATION_ID_SIZE bytes */
    double amount_usd;  /* >= 0, reserved in every scope */
    double created_at;  /* wall clock, epoch seconds */
    int64_t pid;        /* the reserving process */
    const char *host;   /* its host name */
} store_reservation;

/* One store_template_usage() call, checked. */
typedef struct store_template_use {
    const char *name;
    int version;   /* >= 1 */
    int uses;      /* added to uses: 1, or 0 for a judgement of a use already counted */
    int successes, failures; /* added to those counts (-1 takes an outcome back) */
    int64_t input_tokens, output_tokens; /* >= 0 */
    double cost_usd, latency_ms;         /* >= 0 */
    int cache_hit; /* 0 or 1 */
} store_template_use;

typedef struct store_backend_ops {
    const char *name;
    int dialect; /* STORE_DIALECT_* */
    /* The driver (store_driver.h). */
    int (*run)(store_db *s, const store_stmt *st, store_row_fn fn, void *ud, long long *changes,
               error_info *err);
    int (*submit)(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                  store_done_fn done, void *done_ud, error_info *err);
    int (*write)(store_db *s, const store_stmt *st, error_info *err);
    int (*begin)(store_db *s, const char *what, error_info *err);
    int (*commit)(store_db *s, const char *what, error_info *err);
    void (*rollback)(store_db *s, int db_failed, error_info *err);
    /* Connects, migrates the schema (opts->read_only: see store_options), sets s->impl. On
     * failure s->impl stays NULL. */
    int (*open)(store_db *s, const char *uri, const store_options *opts, error_info *err);
    void (*close)(store_db *s);
    int (*schema_version)(const store_db *s);
    const char *(*readonly_why)(const store_db *s); /* store_readonly_why */
    int (*log_interaction)(store_db *s, const interaction_rec *it, error_info *err);
    int (*batch_begin)(store_db *s, error_info *err);
    int (*batch_commit)(store_db *s, error_info *err);
    int (*batch_rollback)(store_db *s, error_info *err);
    /* Each has the contract of the public function of the same name in store.h, with its
     * arguments checked and defaulted (now > 0, ids generated) by the public layer. A
     * backend that lacks one leaves it NULL and the public function reports "store_error:
     * ... not supported by the <name> backend". */

    /* Budgets: every op is one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: one
     * transaction with the budget rows locked, or one statement), so processes sharing
     * the database cannot jointly overspend. n >= 1. */
    int (*budget_reserve)(store_db *s, const store_scope *scopes, size_t n,
                          const store_reservation *r, int *refused, error_info *err);
    int (*budget_settle)(store_db *s, const char *reservation_id, double actual_usd,
                         double now, error_info *err);
    /* reservation_id NULL: log only (still one transaction). */
    int (*log_interaction_settle)(store_db *s, const interaction_rec *it,
                                  const char *reservation_id, double actual_usd,
                                  error_info *err);

    /* store_changed(): whether another process changed control or configuration. */
    int (*changed)(store_db *s, int *changed, error_info *err);

    /* A backend that talks to a server over a socket answers in the loop (store.h, "In a
     * loop"). One that leaves these NULL is synchronous: the _async functions run the
     * operation at once and call done before returning. */
    int (*poll_fd)(store_db *s, int *want_write);
    void (*pump)(store_db *s);
    int (*busy)(const store_db *s);
    void (*set_background)(store_db *s, int on);
    void (*set_pump_limit)(store_db *s, int (*enough)(void *ud), void *ud);
    int (*take_write_error)(store_db *s, char *buf, size_t size);
    int (*log_interaction_settle_async)(store_db *s, const interaction_rec *it,
                                        const char *reservation_id, double actual_usd,
                                        store_done_fn done, void *ud, error_info *err);
    int (*budget_reserve_async)(store_db *s, const store_scope *scopes, size_t n,
                                const store_reservation *r, store_done_fn done, void *ud,
                                error_info *err);
} store_backend_ops;

struct store_db {
    const store_backend_ops *ops;
    void *impl; /* the backend's own state */
    store_text_filter filter; /* store_set_text_filter(); NULL: text is stored as given */
    void *filter_ud;
    store_content_memo memo;  /* hashes of the parts of requests stored lately */
};

/* ---- the text filter (store_scrub.c) ----
 * The copies a write made of its strings (store_scrubbed, store.h), freed after the backend
 * has them (it copies what it keeps, even when answering later). */

/* text as the filter has it: text itself (no filter, nothing found, NULL) or a copy owned by
 * sc. name: 1 for a name that is a key (session, agent, budget scope). */
const char *store_scrub(const store_db *s, store_scrubbed *sc, const char *text, int name);
/* 0, or -1 with err (and sc freed) when a copy could not be made. */
int store_scrub_failed(store_scrubbed *sc, error_info *err);
/* A record's free text and names: store_interaction_filtered (store.h) with s->filter. */
/* out = in with the session filtered, so a query finds what was stored; in may be NULL. */
int store_scrub_filter(const store_db *s, store_scrubbed *sc, const store_filter *in,
                       store_filter *out, error_info *err);

extern const store_backend_ops store_sqlite_ops;
#ifdef NYX_HAVE_PG
extern const store_backend_ops store_pg_ops;
/* store_target_id for a PostgreSQL URI (store_pg_target.c). */
int store_pg_target_id(const char *uri, char out[STORE_TARGET_ID_SIZE]);
#endif

/* The queries for the command line (store_queries.c): the public functions' contracts,
 * arguments checked and filtered. */
int store_read_stats(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                     error_info *err);
int store_read_log(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                   error_info *err);
int store_read_usage(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                     error_info *err);
int store_read_thoughts(store_db *s, const char *session, store_row_fn fn, void *ud,
                        error_info *err);
int store_read_iterations(store_db *s, const char *session, store_row_fn fn, void *ud,
                          error_info *err);

/* Fills err (if not NULL) with type "store_error"; printf-style. */
void store_fail(error_info *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills err (if not NULL) with type "invalid_argument" and "store: <message>"; returns -1. */
int store_invalid(error_info *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills err with type "store_error" saying the backend lacks what; returns -1. */
int store_unsupported(const store_db *s, const char *what, error_info *err);

/* Fills err with type type (e.g. "not_found"), not retryable; printf-style; returns -1. */
int store_fail_as(error_info *err, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err with type "budget_exceeded" naming the scope, its limit, what it has spent and
 * reserved, and what the call needs; returns -1. */
int store_budget_refused(error_info *err, const store_scope *scope, double spent,
                         double reserved, double amount);

#endif
