/* Internal to engine/store: the SQLite backend's pieces shared between its files
 * (store_sqlite.c: connection and writes; store_sqlite_driver.c: the driver under the query
 * layer; store_sqlite_tx.c: operations of several statements; store_sqlite_budget.c;
 * store_schema.c: migrations; store_checkpoint.c: background
 * checkpoints; store_sqlite_vfs.c: WAL writes gathered per commit) and its tests.
 * Callers use store.h. */
#ifndef NYX_STORE_SQLITE_H
#define NYX_STORE_SQLITE_H

#include <sqlite3.h>

#include "store_backend.h"

/* ---- the handle ---- */

/* Statements prepared once at open and reused by every write. */
enum {
    ST_INSERT,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_CONTENT_ADD,
    ST_COUNT
};

/* Statements of operations, prepared on first use by store_sqlite_stmt(). */
enum {
    SL_SAVEPOINT,
    SL_RELEASE,
    SL_ROLLBACK_TO,
    SL_DATA_VERSION,
    SL_COUNT
};

typedef struct store_checkpointer store_checkpointer;

#define SQ_BATCH_PARTS 8 /* parts of requests remembered in an open batch */
#define SQ_KEPT_TEXT 32  /* a text of the insert shorter than this is copied, bound again only when it changes */

typedef struct sq {
    sqlite3 *db;
    char *path; /* as given to store_open_opts, for messages */
    int version;
    int applied;
    int readonly;
    char readonly_why[300]; /* when readonly: the message store_readonly_why gives */
    sqlite3_stmt *st[ST_COUNT];
    store_checkpointer *ckpt; /* NULL: SQLite's own automatic checkpoints (or no WAL) */
    int in_batch;             /* store_batch_begin() done, commit or rollback not yet */
    int batch_aborted;        /* a write failed: the batch was rolled back, later writes fail */
    long batch_writes;        /* writes in the open batch so far */
    char batch_error[sizeof ((error_info *)0)->message];
    sqlite3_stmt *lazy[SL_COUNT]; /* store_sqlite_stmt(); NULL until first used */
    int64_t data_version;         /* PRAGMA data_version at the last store_changed() */
    int data_version_seen;        /* store_changed() has run once */
    int busy_ms;                  /* the busy timeout given at open */
    int in_op;                    /* between the driver's begin and commit or rollback */
    /* The parts of requests written (or found stored) in the open batch, by hash: a part every
     * record shares (a system prompt) is looked up once a batch, not once a record. True while
     * the batch holds the write lock and only the store's own operations write, none of which
     * deletes a part: emptied when a batch begins, ends or fails, when an operation is rolled
     * back, and at any other write (a purge, a script's own SQL) by store_sqlite_forget_parts. */
    char batch_parts[SQ_BATCH_PARTS][STORE_HASH_HEX];
    int nbatch_parts;             /* slots filled */
    int next_part;                /* the slot written over next once all are filled */
    /* What ST_INSERT's parameters hold since the last interaction (insert_known): a NULL or a
     * number the next one shares is left bound, and so is a short text bound as SQLite's own
     * copy (insert_text_owned[i]). insert_text[i] is the short text parameter i was last given
     * (insert_text_len[i] its length; -1: none), to compare the next one with. */
    store_val insert_was[STORE_INTERACTION_VALS];
    char insert_text[STORE_INTERACTION_VALS][SQ_KEPT_TEXT];
    signed char insert_text_len[STORE_INTERACTION_VALS];
    char insert_text_owned[STORE_INTERACTION_VALS];
    int insert_known;
    struct sq_cached {            /* the driver's statements, keyed by their SQL text */
        const char *sql;
        sqlite3_stmt *st;
    } cache[128];
} sq;

static inline sq *sq_of(const store_db *s) { return (sq *)s->impl; }

/* Fills err with "store: cannot <what> <path>: <SQLite's message>" (type store_error,
 * retryable when the database is locked) and returns -1. */
int store_sqlite_fail(sq *q, error_info *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- writes and batches (store_sqlite.c), used by the feature files ---- */

/* Steps a cached write statement to completion, resets it and clears its bindings.
 * Returns the SQLite code: SQLITE_DONE on success (rows, if any, are drained). */
int store_sqlite_step_done(sqlite3_stmt *st);

/* Inserts one llm_interactions row, and first the shared parts of its request it->parts
 * holds (which makes two writes: callers run it in a transaction, store_sqlite_tx_begin,
 * when it->parts is set): binds, steps, resets. Returns SQLITE_DONE, or the SQLite code with
 * err filled. No batch bookkeeping: callers do it. */
int store_sqlite_insert_interaction(sq *q, const interaction_rec *it, error_info *err);

/* Empties q->batch_parts: what they say may no longer be true. */
static inline void store_sqlite_forget_parts(sq *q) { q->nbatch_parts = 0; }

/* A write inside a batch failed: rolls the whole batch back, says so in err, and makes
 * later writes of the batch (and its commit) fail. Does nothing outside a batch. */
void store_sqlite_abort_batch(sq *q, error_info *err);

/* -1 with err filled when the open batch was already rolled back by a failure, else 0. */
int store_sqlite_refuse_in_aborted_batch(sq *q, error_info *err);

/* ---- shared by the feature files (store_sqlite_tx.c) ---- */

/* The lazily prepared statement id (an SL_ value) for sql, prepared on the first call.
 * NULL with err filled when SQLite cannot prepare it. */
sqlite3_stmt *store_sqlite_stmt(sq *q, int id, const char *sql, error_info *err);

/* One operation of several statements, atomic: BEGIN IMMEDIATE outside a batch (so the
 * write lock is taken before anything is read: no lock upgrade can fail halfway), a
 * SAVEPOINT inside one (the batch holds the lock; the operation is durable at the batch's
 * commit). what names the operation for messages ("reserve budget in").
 * Returns 0, or -1 with err filled (the batch is left as it was). */
int store_sqlite_tx_begin(sq *q, const char *what, error_info *err);

/* Makes the operation's writes durable (outside a batch) or part of the batch. On failure
 * the operation is undone (and an open batch with it) and -1 returned with err filled. */
int store_sqlite_tx_commit(sq *q, const char *what, error_info *err);

/* Undoes the operation. db_failed 1: the database failed (err already filled); inside a
 * batch the whole batch is rolled back, as for any failed write. db_failed 0: the
 * operation was refused (a budget, a missing row): only its own writes are undone and the
 * batch goes on. */
void store_sqlite_tx_rollback(sq *q, int db_failed, error_info *err);

/* The row type letter (base/rows.h) of a sqlite3_column_type. */
char store_sqlite_row_type(int column_type);

/* ---- the driver (store_sqlite_driver.c): store_driver.h's run, begin, commit, rollback ---- */
int store_sqlite_run(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                     long long *changes, error_info *err);
int store_sqlite_begin(store_db *s, const char *what, error_info *err);
int store_sqlite_commit(store_db *s, const char *what, error_info *err);
void store_sqlite_rollback(store_db *s, int db_failed, error_info *err);

/* ---- budgets (store_sqlite_budget.c): the store_backend_ops members of the same names ---- */

int store_sqlite_budget_reserve(store_db *s, const store_scope *scopes, size_t n,
                                const store_reservation *r, int *refused, error_info *err);
int store_sqlite_budget_settle(store_db *s, const char *reservation_id, double actual_usd,
                               double now, error_info *err);
int store_sqlite_log_interaction_settle(store_db *s, const interaction_rec *it,
                                        const char *reservation_id, double actual_usd,
                                        error_info *err);

/* store_sqlite_driver.c */
int store_sqlite_changed(store_db *s, int *changed, error_info *err);

/* ---- schema (store_schema.c) ---- */

/* The SQL that adds a shared part unless it is there already: ?1 hash, ?2 body. */
#define SQL_CONTENT_ADD "INSERT INTO llm_content (hash, body) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING"

/* The newest schema version this build knows (the number of migrations). */
int store_schema_latest(void);

/* Brings db to the newest schema, one migration per transaction, each setting PRAGMA
 * user_version in the same transaction so a crash leaves a consistent version. A new database
 * (version 0) gets the newest schema directly, in one transaction: a crash leaves it empty or
 * complete. A database already current is only read (no write lock taken). A database newer
 * than this build is an error. Safe against another process migrating the same file at the
 * same time.
 *   path: for messages
 *   version_out: the version in force on return 0
 *   applied_out: how many versions this call moved db forward (0 on a reopen) */
int store_schema_migrate(sqlite3 *db, const char *path, int *version_out, int *applied_out,
                         error_info *err);

/* As store_schema_migrate, to version target (0 to store_schema_latest()), applying every
 * migration one at a time even to a new database: tests build old versions with it, and
 * compare what the migrations make with the schema a new database gets. */
int store_schema_migrate_stepwise(sqlite3 *db, const char *path, int target, int *version_out,
                                  int *applied_out, error_info *err);

/* ---- background checkpoints (store_checkpoint.c) ---- */

/* Starts a thread that checkpoints the WAL through its own connection to the file writer has
 * open, with uri's parameters (opened when writer's commits have first grown the WAL enough,
 * by its absolute name, whatever the working directory is then) and replaces SQLite's automatic
 * checkpoint on writer. Returns NULL when it cannot (no thread support, no memory): writer
 * then keeps the automatic one. */
store_checkpointer *store_checkpointer_start(sqlite3 *writer, const char *uri, int sync_full);

/* Stops and joins the thread, closes its connection. NULL does nothing. */
void store_checkpointer_stop(store_checkpointer *c);

/* Checkpoints the thread has run so far, or -1 for NULL. */
long store_checkpointer_runs(store_checkpointer *c);

/* ---- WAL writes gathered per commit (store_sqlite_vfs.c) ---- */

/* The name of the VFS a store's connection opens with, registered on the first call
 * (thread-safe): the default VFS, except that each commit's WAL frames reach the file in one
 * write instead of two per page. NULL when it cannot be registered: the default VFS then. */
const char *store_sqlite_vfs(void);

/* ---- for tests ---- */

/* The connection under a SQLite store (tests use it to set pragmas such as max_page_count),
 * or NULL if s is not a SQLite store. It stays owned by the store. */
sqlite3 *store_sqlite_db(store_db *s);

/* How many migrations the open of s applied. */
int store_sqlite_migrations_applied(const store_db *s);

/* Background checkpoints run so far; -1 when the store has no checkpoint thread. */
long store_sqlite_checkpoints(store_db *s);

#endif
