/* The SQLite driver under the query layer (store_driver.h): statements prepared on first
 * use and kept, keyed by their text; typed values bound; typed rows handed out; writes that
 * follow the batch rules (a failure inside a batch rolls it back); operations of several
 * statements as BEGIN IMMEDIATE or a savepoint (store_sqlite_tx.c). */
#include "store_sqlite.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CACHE_SLOTS (sizeof ((sq *)0)->cache / sizeof ((sq *)0)->cache[0])
#define MAX_COLS 32

/* The kept statement for sql (open addressing on the text's address), prepared on first
 * use; *once 1 for one prepared for this run alone (the cache is full, or a built text). */
static sqlite3_stmt *prepare(sq *q, const char *sql, int keep, int *once, error_info *err,
                             const char *what)
{
    size_t slot = ((uintptr_t)sql >> 3) % CACHE_SLOTS;
    for (size_t k = 0; keep && k < CACHE_SLOTS; k++, slot = (slot + 1) % CACHE_SLOTS) {
        if (q->cache[slot].sql == sql)
            return *once = 0, q->cache[slot].st;
        if (!q->cache[slot].sql)
            break;
    }
    int free_slot = keep && !q->cache[slot].sql;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, &st,
                                NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        store_sqlite_fail(q, err, rc, "%s in", what);
        return NULL;
    }
    if (free_slot) {
        q->cache[slot].sql = sql;
        q->cache[slot].st = st;
    }
    *once = !free_slot;
    return st;
}

/* Binds s's values to st (?1 ...); the SQLite code. */
static int store_sqlite_bind(sqlite3_stmt *st, const store_stmt *s)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < s->n && rc == SQLITE_OK; i++) {
        const store_val *v = &s->v[i];
        if (v->null)
            rc = sqlite3_bind_null(st, i + 1);
        else if (v->type == ROW_INT)
            rc = sqlite3_bind_int64(st, i + 1, v->i);
        else if (v->type == ROW_REAL)
            rc = sqlite3_bind_double(st, i + 1, v->r);
        else
            rc = sqlite3_bind_text(st, i + 1, v->text, -1, SQLITE_STATIC);
    }
    return rc;
}

/* Steps st to its end, each row to fn. Returns SQLITE_DONE (fn may have stopped it:
 * *stopped), or the failing code. */
static int step_rows(sqlite3_stmt *st, store_row_fn fn, void *ud, int *stopped)
{
    int ncols = sqlite3_column_count(st), rc;
    if (ncols > MAX_COLS)
        return SQLITE_TOOBIG; /* a programming error in the query */
    const char *names[MAX_COLS], *values[MAX_COLS];
    char types[MAX_COLS];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!fn)
            continue;
        for (int c = 0; c < ncols; c++) {
            /* Read after the step: a step that re-prepares the statement (the schema
             * changed) frees the names read before it. */
            names[c] = sqlite3_column_name(st, c);
            types[c] = store_sqlite_row_type(sqlite3_column_type(st, c)); /* before the text */
            values[c] = (const char *)sqlite3_column_text(st, c);
            if (!names[c] || (!values[c] && types[c] != ROW_NULL))
                return SQLITE_NOMEM;
        }
        if (fn(ud, ncols, names, values, types) != 0) {
            *stopped = 1;
            return SQLITE_DONE;
        }
    }
    return rc;
}

int store_sqlite_run(store_db *s, const store_stmt *stmt, store_row_fn fn, void *ud,
                     long long *changes, error_info *err)
{
    sq *q = sq_of(s);
    const char *sql = stmt->text ? stmt->text : stmt->sql->text[STORE_DIALECT_SQLITE];
    int once = 1;
    sqlite3_stmt *st = prepare(q, sql, stmt->text == NULL, &once, err, stmt->what);
    if (!st)
        return -1;
    /* A write outside an operation is the batch's: refused once the batch failed, and its
     * failure rolls the batch back. */
    int batch_write = !q->in_op && !sqlite3_stmt_readonly(st);
    if (batch_write)
        store_sqlite_forget_parts(q); /* it may delete a part the batch holds */
    if (batch_write && store_sqlite_refuse_in_aborted_batch(q, err) != 0) {
        if (once)
            sqlite3_finalize(st);
        return -1;
    }
    int stopped = 0;
    int rc = store_sqlite_bind(st, stmt);
    if (rc == SQLITE_OK)
        rc = step_rows(st, fn, ud, &stopped);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_TOOBIG)
            store_fail(err, "store: cannot %s: more than %d columns", stmt->what, MAX_COLS);
        else if (rc == SQLITE_NOMEM)
            store_fail(err, "store: cannot %s in %s: out of memory", stmt->what, q->path);
        else
            store_sqlite_fail(q, err, rc, "%s in", stmt->what);
    } else if (changes) {
        *changes = sqlite3_changes64(q->db);
    }
    if (once) {
        sqlite3_finalize(st);
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st); /* drop pointers to the caller's strings */
    }
    if (rc != SQLITE_DONE) {
        if (batch_write)
            store_sqlite_abort_batch(q, err);
        return -1;
    }
    if (batch_write && q->in_batch)
        q->batch_writes++;
    return stopped;
}

int store_sqlite_begin(store_db *s, const char *what, error_info *err)
{
    sq *q = sq_of(s);
    char w[192];
    snprintf(w, sizeof w, "%s in", what);
    return store_sqlite_tx_begin(q, w, err);
}

int store_sqlite_commit(store_db *s, const char *what, error_info *err)
{
    sq *q = sq_of(s);
    char w[192];
    snprintf(w, sizeof w, "%s in", what);
    return store_sqlite_tx_commit(q, w, err);
}

void store_sqlite_rollback(store_db *s, int db_failed, error_info *err)
{
    store_sqlite_tx_rollback(sq_of(s), db_failed, err);
}

/* store_changed(): PRAGMA data_version moves only when another connection commits, so
 * polling it costs no table read. */
int store_sqlite_changed(store_db *s, int *changed, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_DATA_VERSION, "PRAGMA data_version", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(q, err, rc, "check for changes in");
    *changed = !q->data_version_seen || v != q->data_version;
    q->data_version = v;
    q->data_version_seen = 1;
    return 0;
}

