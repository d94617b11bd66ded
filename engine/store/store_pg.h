/* Internal to engine/store: the PostgreSQL backend's pieces shared between its files
 * (store_pg_conn.c: the connection and its queue of statements; store_pg_schema.c:
 * migrations; store_pg.c: writes and the ops table; store_pg_driver.c: the driver under the
 * query layer; store_pg_budget.c). Callers use store.h.
 *
 * Every statement goes through one queue on one connection in libpq's pipeline mode. The
 * statements waiting when the connection is free are sent together and closed by one sync
 * point: they run as one transaction (one commit, one WAL flush for many calls), and their
 * results are handed out only once that transaction has committed. A statement that fails
 * fails alone: the others of its group are sent again.
 */
#ifndef NYX_STORE_PG_H
#define NYX_STORE_PG_H

#include <libpq-fe.h>

#include "store_backend.h"

typedef struct pg_job pg_job;

/* A statement's outcome: res on success (the callee must not PQclear it), NULL with err
 * filled on failure. Runs from store_pump(), never inside another store call. */
typedef void (*pg_done_fn)(void *ud, PGresult *res, const error_info *err);

enum { PG_DOWN, PG_CONNECTING, PG_UP };

/* A request with more shared parts than this is stored whole (one statement per count). */
#define PG_MAX_PARTS 256

typedef struct pg {
    PGconn *conn;
    char *conninfo;   /* never printed: it may hold a password */
    char *label;      /* "PostgreSQL database NAME on HOST:PORT", for messages */
    int state;
    double retry_at;  /* PG_DOWN: when to connect again (monotonic seconds) */
    double backoff_s;
    int version;
    char readonly_why[400];         /* store_readonly_why: "" while the role may write */
    pg_job *queued, *queued_tail;   /* not sent yet */
    pg_job *sent, *sent_tail;       /* the group in flight, in order */
    pg_job *reading;                /* the job of sent whose result comes next */
    pg_job *done, *done_tail;       /* finished, waiting for store_pump to hand them out */
    int busy;                       /* jobs not handed out yet */
    int (*pump_enough)(void *ud);   /* store_set_pump_limit: 1 stops handing out (one at least) */
    void *pump_ud;
    int want_write;
    int notified;      /* a NOTIFY on nyx_control arrived since store_changed() last looked */
    int background;    /* writes without an answer are queued, not waited for */
    int in_batch;      /* store_batch_begin(): writes are pipelined until the commit */
    char batch_error[sizeof ((error_info *)0)->message];  /* the first failure of a write in the open batch */
    int batch_refused;  /* that failure was the values' own (err->refused): no retry helps */
    char write_error[sizeof ((error_info *)0)->message];  /* the first failure of such a write not yet taken */
    char *log_sql[PG_MAX_PARTS + 1]; /* the log statement with n shared parts, made on first use */
    struct pg_sql {                  /* the driver's statements with $N, keyed by their ?N text */
        const char *key;
        char *sql;
    } sql_cache[128];
} pg;

static inline pg *pg_of(const store_db *s) { return (pg *)s->impl; }

/* Connects (blocking: used at open), enters pipeline mode, subscribes to nyx_control. */
int pg_connect(pg *p, error_info *err);
void pg_disconnect(pg *p);

/* Queues a statement with text parameters (NULL entries are SQL NULL; copied). done may be
 * NULL. Returns 0, or -1 with err filled when the database is unreachable right now (done
 * is then not called). */
int pg_submit(pg *p, const char *what, const char *sql, int nparams, const char *const *values,
              pg_done_fn done, void *ud, error_info *err);

/* A statement with typed parameters (types NULL: the server infers them); own_sql 1: sql is
 * copied (a text built for this call), else it must outlive the statement. */
typedef struct pg_call {
    const char *what, *sql;
    int nparams;
    const char *const *values;
    const Oid *types;
    int own_sql;
} pg_call;
int pg_submit_call(pg *p, const pg_call *c, pg_done_fn done, void *ud, error_info *err);
PGresult *pg_exec_call(pg *p, const pg_call *c, error_info *err);
/* Runs n statements (1 to 8) in one round trip and waits for them all: res[i] (PQclear it), or
 * NULL with errs[i] filled (err may not be NULL here). As in any group, one that fails rolls
 * back the others, which are sent again alone: it costs a round trip more. 0, or -1 when one
 * failed. */
int pg_exec_calls(pg *p, const pg_call *calls, int n, PGresult **res, error_info *errs);
int pg_write_call(pg *p, const pg_call *c, error_info *err);

/* Runs one statement and waits for it (the jobs queued before it finish first; their
 * callbacks wait for store_pump). Returns its result (PQclear it), or NULL with err filled. */
PGresult *pg_exec(pg *p, const char *what, const char *sql, int nparams,
                  const char *const *values, error_info *err);

/* pg_exec for a statement whose answer is nothing; with p->background set it is queued and
 * not waited for (a failure is remembered in write_error). */
int pg_write(pg *p, const char *what, const char *sql, int nparams, const char *const *values,
             error_info *err);

/* Hands every row of res to fn as text (NULL for SQL NULL; double precision as SQLite writes
 * a REAL). Returns 0, 1 when fn stopped early, -1 on failure. */
int pg_each_row(pg *p, const char *what, const PGresult *res, store_row_fn fn, void *ud,
                error_info *err);
/* Reads what arrived, sends what waits, reconnects when due, hands out finished jobs. */
void pg_pump(pg *p);

/* Migrates the schema to the newest version (store_pg_schema.c) and learns which rights to
 * write the role lacks (readonly_why); read_only: a database without nyx's tables is refused,
 * not given them (store_options). */
int pg_migrate(pg *p, int read_only, error_info *err);

/* "%.17g" of v into buf (size >= 32); returns buf. */
const char *pg_num(char *buf, double v);
const char *pg_int(char *buf, int64_t v);

/* ---- the driver (store_pg_driver.c): store_driver.h's run, submit, write ---- */
int store_pg_run(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                 long long *changes, error_info *err);
int store_pg_submit(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                    store_done_fn done, void *done_ud, error_info *err);
int store_pg_write(store_db *s, const store_stmt *st, error_info *err);
void store_pg_driver_free(pg *p);
/* Values as the text PostgreSQL reads (NULL for SQL NULL; numbers written into nums). */
void pg_val_texts(const store_val *v, int n, const char **out, char nums[][32]);

int store_pg_budget_reserve(store_db *s, const store_scope *scopes, size_t n,
                            const store_reservation *r, int *refused, error_info *err);
int store_pg_budget_settle(store_db *s, const char *reservation_id, double actual_usd,
                           double now, error_info *err);
int store_pg_log_interaction_settle(store_db *s, const interaction_rec *it,
                                    const char *reservation_id, double actual_usd,
                                    error_info *err);
int store_pg_log_interaction_settle_async(store_db *s, const interaction_rec *it,
                                          const char *reservation_id, double actual_usd,
                                          store_done_fn done, void *ud, error_info *err);
int store_pg_budget_reserve_async(store_db *s, const store_scope *scopes, size_t n,
                                  const store_reservation *r, store_done_fn done, void *ud,
                                  error_info *err);

int store_pg_changed(store_db *s, int *changed, error_info *err);

#endif
