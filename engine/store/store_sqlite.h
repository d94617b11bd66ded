/* Internal to engine/store: the SQLite backend's pieces shared between its files
 * (store_sqlite.c: connection and writes; store_sqlite_query.c: the queries;
 * store_schema.c: migrations; store_checkpoint.c: background checkpoints) and its tests.
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
    ST_SESSION_UPSERT,
    ST_SESSION_END,
    ST_THOUGHT_ADD,
    ST_COUNT
};

typedef struct store_checkpointer store_checkpointer;

typedef struct sq {
    sqlite3 *db;
    char *path; /* as given to store_open, for messages */
    int version;
    int applied;
    int readonly;
    sqlite3_stmt *st[ST_COUNT];
    store_checkpointer *ckpt; /* NULL: SQLite's own automatic checkpoints (or no WAL) */
    int in_batch;             /* store_batch_begin() done, commit or rollback not yet */
    int batch_aborted;        /* a write failed: the batch was rolled back, later writes fail */
    long batch_writes;        /* writes in the open batch so far */
    char batch_error[sizeof ((nyx_error *)0)->message];
} sq;

static inline sq *sq_of(const nyx_store *s) { return (sq *)s->impl; }

/* Fills err with "store: cannot <what> <path>: <SQLite's message>" (type store_error,
 * retryable when the database is locked) and returns -1. */
int store_sqlite_fail(sq *q, nyx_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- queries (store_sqlite_query.c) ---- */

int store_sqlite_query_stats(nyx_store *s, const store_filter *f, store_row_fn fn, void *ud,
                             nyx_error *err);
int store_sqlite_query_log(nyx_store *s, const store_filter *f, store_row_fn fn, void *ud,
                           nyx_error *err);
int store_sqlite_query_thoughts(nyx_store *s, const char *session, store_row_fn fn, void *ud,
                                nyx_error *err);

/* ---- schema (store_schema.c) ---- */

/* The newest schema version this build knows (the number of migrations). */
int store_schema_latest(void);

/* Brings db to the newest schema, one migration per transaction, each setting PRAGMA
 * user_version in the same transaction so a crash leaves a consistent version. A database
 * already current is only read (no write lock taken). A database newer than this build is
 * an error. Safe against another process migrating the same file at the same time.
 *   path: for messages
 *   version_out: the version in force on return 0
 *   applied_out: how many migrations this call applied (0 on a reopen) */
int store_schema_migrate(sqlite3 *db, const char *path, int *version_out, int *applied_out,
                         nyx_error *err);

/* ---- background checkpoints (store_checkpoint.c) ---- */

/* Starts a thread with its own connection to uri that checkpoints the WAL when writer's
 * commits have grown it; replaces SQLite's automatic checkpoint on writer. Returns NULL
 * when it cannot (no thread support, no memory): writer then keeps the automatic one. */
store_checkpointer *store_checkpointer_start(sqlite3 *writer, const char *uri, int sync_full);

/* Stops and joins the thread, closes its connection. NULL does nothing. */
void store_checkpointer_stop(store_checkpointer *c);

/* Checkpoints the thread has run so far, or -1 for NULL. */
long store_checkpointer_runs(store_checkpointer *c);

/* ---- for tests ---- */

/* The connection under a SQLite store (tests use it to set pragmas such as max_page_count),
 * or NULL if s is not a SQLite store. It stays owned by the store. */
sqlite3 *store_sqlite_db(nyx_store *s);

/* How many migrations the open of s applied. */
int store_sqlite_migrations_applied(const nyx_store *s);

/* Background checkpoints run so far; -1 when the store has no checkpoint thread. */
long store_sqlite_checkpoints(nyx_store *s);

#endif
