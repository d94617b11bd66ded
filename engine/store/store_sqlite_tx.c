/* The SQLite backend's operations of several statements (budgets, batches, and the query
 * layer's begin/commit): statements prepared on first use, and atomic operations that also
 * work inside a batch. */
#include "store_sqlite.h"

sqlite3_stmt *store_sqlite_stmt(sq *q, int id, const char *sql, error_info *err)
{
    if (q->lazy[id])
        return q->lazy[id];
    int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->lazy[id], NULL);
    if (rc != SQLITE_OK) {
        store_sqlite_fail(q, err, rc, "prepare statement %d on", id);
        sqlite3_finalize(q->lazy[id]);
        q->lazy[id] = NULL;
    }
    return q->lazy[id];
}

/* ---- operations of several statements ---- */

/* Inside a batch an operation is a savepoint: its own writes can be undone (a refused
 * reservation) without losing the batch's. Operations never nest, so one name serves. */
static const char SQL_SAVEPOINT[] = "SAVEPOINT store_op";
static const char SQL_RELEASE[] = "RELEASE store_op";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO store_op";

int store_sqlite_tx_begin(sq *q, const char *what, error_info *err)
{
    if (store_sqlite_refuse_in_aborted_batch(q, err) != 0)
        return -1;
    sqlite3_stmt *st = q->in_batch ? store_sqlite_stmt(q, SL_SAVEPOINT, SQL_SAVEPOINT, err)
                                   : q->st[ST_BEGIN];
    if (!st)
        return -1;
    int rc = store_sqlite_step_done(st);
    if (rc != SQLITE_DONE) {
        store_sqlite_fail(q, err, rc, "%s", what);
        store_sqlite_abort_batch(q, err);
        return -1;
    }
    q->in_op = 1; /* its statements are the operation's, not writes of the batch */
    return 0;
}

int store_sqlite_tx_commit(sq *q, const char *what, error_info *err)
{
    q->in_op = 0;
    if (q->in_batch) {
        sqlite3_stmt *st = store_sqlite_stmt(q, SL_RELEASE, SQL_RELEASE, err);
        int rc = st ? store_sqlite_step_done(st) : SQLITE_ERROR;
        if (rc != SQLITE_DONE) {
            if (st)
                store_sqlite_fail(q, err, rc, "%s", what);
            store_sqlite_abort_batch(q, err);
            return -1;
        }
        q->batch_writes++;
        return 0;
    }
    int rc = store_sqlite_step_done(q->st[ST_COMMIT]);
    if (rc != SQLITE_DONE) {
        store_sqlite_fail(q, err, rc, "%s", what);
        if (!sqlite3_get_autocommit(q->db))
            store_sqlite_step_done(q->st[ST_ROLLBACK]);
        return -1;
    }
    return 0;
}

void store_sqlite_tx_rollback(sq *q, int db_failed, error_info *err)
{
    q->in_op = 0;
    store_sqlite_forget_parts(q);
    if (q->in_batch) {
        if (db_failed) {
            store_sqlite_abort_batch(q, err);
            return;
        }
        /* Refused: undo this operation only. Should that fail, the batch would hold half
         * an operation, so it goes as a whole. */
        sqlite3_stmt *to = store_sqlite_stmt(q, SL_ROLLBACK_TO, SQL_ROLLBACK_TO, NULL);
        sqlite3_stmt *rel = store_sqlite_stmt(q, SL_RELEASE, SQL_RELEASE, NULL);
        if (!to || !rel || store_sqlite_step_done(to) != SQLITE_DONE ||
            store_sqlite_step_done(rel) != SQLITE_DONE)
            store_sqlite_abort_batch(q, NULL);
        return;
    }
    /* SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR). */
    if (!sqlite3_get_autocommit(q->db))
        store_sqlite_step_done(q->st[ST_ROLLBACK]);
}

char store_sqlite_row_type(int column_type)
{
    switch (column_type) {
    case SQLITE_INTEGER: return ROW_INT;
    case SQLITE_FLOAT: return ROW_REAL;
    case SQLITE_NULL: return ROW_NULL;
    default: return ROW_TEXT; /* text, and a blob read as text */
    }
}
