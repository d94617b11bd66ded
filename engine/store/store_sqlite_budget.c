/* Budgets in SQLite: reserve, settle, and logging an interaction together
 * with its settle.
 *
 * Why this cannot overspend. Every operation runs between BEGIN IMMEDIATE and COMMIT, so
 * it holds the database's single write lock from its first read to its commit: another
 * process's reservation waits (busy timeout) and then sees this one's. Within the
 * transaction the check and the increment are one statement ("add the amount to each
 * scope where spent + reserved + amount <= limit"), and a refusal in any scope rolls back
 * the scopes already reserved by the same call.
 *
 * Cost. A commit's price is mostly its pages (one write() for all of them, plus the WAL
 * locks). A reservation writes two: the budgets rows (a few scopes share a page) and its
 * budget_holds row (one b-tree, migration 2); a settle the same two. Statements are
 * prepared once, and each costs about a microsecond: a reservation in up to RESERVE_ROWS
 * scopes reserves them all in one statement (measured 2 us less than one per scope, of
 * ~20), and only when a scope refuses does it go back over them one by one, to say which.
 * No SELECT runs on the reserve path unless a scope refuses, and a settle reads its hold
 * row once and updates each scope by primary key (measured faster than one UPDATE ...
 * FROM joining the scopes, than WHERE scope IN (...), and than json_each).
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* Runs one statement of the open operation (SQLite's driver: kept prepared, typed values).
 * Returns 0, or -1 with err filled; *changes (may be NULL) the rows it changed. */
static int op(store_db *s, const store_sql *sql, const char *what, int n, const store_val *v,
              store_row_fn fn, void *ud, long long *changes, error_info *err)
{
    store_stmt st = {sql, what, n, v, NULL};
    return store_sqlite_run(s, &st, fn, ud, changes, err) < 0 ? -1 : 0;
}

/* Copies the first row's values as text into ud (a char *[2], malloc'd). */
static int take_row(void *ud, int ncols, const char *const *names, const char *const *values,
                    const char *types)
{
    (void)names;
    (void)types;
    char **out = ud;
    for (int i = 0; i < ncols && i < 2; i++)
        out[i] = values[i] ? text_dup(values[i]) : text_dup("");
    return 1;
}

/* Creates the scope's row reserved with the amount, or adds the amount to its row, in
 * both cases only where the limit allows it, and sets the limit in force. No row changes
 * when the scope refuses. ?2 NULL: no limit. The 1e-9 lets an exact fit pass despite
 * binary rounding (0.1 + 0.2 > 0.3). */
static const store_sql SQL_RESERVE = {{"INSERT INTO budgets (scope, limit_usd, reserved_usd, updated_at)"
    " SELECT ?1, ?2, ?3, ?4 WHERE ?2 IS NULL OR ?3 <= ?2 + 1e-9"
    " ON CONFLICT (scope) DO UPDATE SET limit_usd = excluded.limit_usd,"
    " reserved_usd = budgets.reserved_usd + excluded.reserved_usd,"
    " updated_at = excluded.updated_at"
    " WHERE excluded.limit_usd IS NULL OR budgets.spent_usd + budgets.reserved_usd"
    " + excluded.reserved_usd <= excluded.limit_usd + 1e-9", NULL}};

/* SQL_RESERVE for up to RESERVE_ROWS scopes at once, row by row the same check; slots
 * past the last scope are NULL. ?1 the amount, ?2 the time, then (scope, limit) pairs.
 * Every scope accepted: as many rows changed as scopes. */
#define RESERVE_ROWS 4
static const store_sql SQL_RESERVE_ALL = {{"INSERT INTO budgets (scope, limit_usd, reserved_usd, updated_at)"
    " SELECT column1, column2, ?1, ?2 FROM (VALUES (?3, ?4), (?5, ?6), (?7, ?8), (?9, ?10))"
    " WHERE column1 IS NOT NULL AND (column2 IS NULL OR ?1 <= column2 + 1e-9)"
    " ON CONFLICT (scope) DO UPDATE SET limit_usd = excluded.limit_usd,"
    " reserved_usd = budgets.reserved_usd + excluded.reserved_usd,"
    " updated_at = excluded.updated_at"
    " WHERE excluded.limit_usd IS NULL OR budgets.spent_usd + budgets.reserved_usd"
    " + excluded.reserved_usd <= excluded.limit_usd + 1e-9", NULL}};

static const store_sql SQL_HOLD = {{"INSERT INTO budget_holds (id, scopes, amount, created_at, pid, host)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", NULL}};

static const store_sql SQL_SHOW = {{"SELECT spent_usd, reserved_usd FROM budgets WHERE scope = ?1", NULL}};

static const store_sql SQL_FIND = {{"SELECT scopes, amount FROM budget_holds WHERE id = ?1", NULL}};

/* Residues of float subtraction (1e-17) are not left behind as reservations. */
static const store_sql SQL_SETTLE = {{"UPDATE budgets SET spent_usd = spent_usd + ?2,"
    " reserved_usd = CASE WHEN reserved_usd - ?3 > 1e-12 THEN reserved_usd - ?3 ELSE 0.0 END,"
    " updated_at = ?4 WHERE scope = ?1", NULL}};

static const store_sql SQL_FORGET = {{"DELETE FROM budget_holds WHERE id = ?1", NULL}};

/* The scope refused: say why with its numbers, read inside the transaction. */
static void refuse(store_db *s, const store_scope *sc, double amount, error_info *err)
{
    char *row[2] = {NULL, NULL};
    op(s, &SQL_SHOW, "read a budget", 1, (store_val[]){sv_text(sc->scope)}, take_row, row, NULL,
       NULL);
    store_budget_refused(err, sc, row[0] ? strtod(row[0], NULL) : 0,
                         row[1] ? strtod(row[1], NULL) : 0, amount);
    free(row[0]);
    free(row[1]);
}

/* The scopes joined by newlines, in buf when it fits, else malloc'd (*heap set). */
static char *join_scopes(const store_scope *scopes, size_t n, char *buf, size_t size,
                         char **heap)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(scopes[i].scope) + 1;
    *heap = NULL;
    char *out = buf;
    if (len > size) {
        out = *heap = malloc(len);
        if (!out)
            return NULL;
    }
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(scopes[i].scope);
        memcpy(p, scopes[i].scope, k);
        p += k;
        *p++ = i + 1 < n ? '\n' : '\0';
    }
    return out;
}

/* Reserves in every scope with one statement, inside the open operation. Returns 1 when
 * every scope accepted, 0 when some refused (the operation must be undone), -1 when the
 * database failed (err filled). */
static int reserve_all(store_db *s, const store_scope *scopes, size_t n,
                       const store_reservation *r, error_info *err)
{
    store_val v[2 + 2 * RESERVE_ROWS];
    v[0] = sv_real(r->amount_usd);
    v[1] = sv_real(r->created_at);
    for (size_t i = 0; i < RESERVE_ROWS; i++) {
        v[2 + 2 * i] = sv_text(i < n ? scopes[i].scope : NULL);
        v[3 + 2 * i] = sv_real_or_null(i < n && scopes[i].limit_usd >= 0,
                                       i < n ? scopes[i].limit_usd : 0);
    }
    long long changed = 0;
    if (op(s, &SQL_RESERVE_ALL, "reserve budget", 2 + 2 * RESERVE_ROWS, v, NULL, NULL, &changed,
           err) != 0)
        return -1;
    return changed == (long long)n;
}

/* Reserves scope by scope inside the open operation, stopping at the first that refuses.
 * Returns 1 when every scope accepted; 0 when scope *refused refused (err says why, the
 * operation must be undone); -1 when the database failed (err filled). */
static int reserve_each(store_db *s, const store_scope *scopes, size_t n,
                        const store_reservation *r, int *refused, error_info *err)
{
    char what[160];
    for (size_t i = 0; i < n; i++) {
        const store_scope *sc = &scopes[i];
        store_val v[] = {sv_text(sc->scope), sv_real_or_null(sc->limit_usd >= 0, sc->limit_usd),
                         sv_real(r->amount_usd), sv_real(r->created_at)};
        snprintf(what, sizeof what, "reserve budget in scope %.64s", sc->scope);
        long long changed = 0;
        if (op(s, &SQL_RESERVE, what, 4, v, NULL, NULL, &changed, err) != 0)
            return -1;
        if (changed == 0) {
            refuse(s, sc, r->amount_usd, err);
            *refused = (int)i;
            return 0;
        }
    }
    return 1;
}

int store_sqlite_budget_reserve(store_db *s, const store_scope *scopes, size_t n,
                                const store_reservation *r, int *refused, error_info *err)
{
    sq *q = sq_of(s);
    char buf[512], *heap = NULL;
    const char *joined = join_scopes(scopes, n, buf, sizeof buf, &heap);
    if (!joined) {
        store_fail(err, "store: cannot reserve budget in %s: out of memory", q->path);
        return -1;
    }
    if (store_sqlite_tx_begin(q, "reserve budget in", err) != 0) {
        free(heap);
        return -1;
    }
    int ok = n <= RESERVE_ROWS ? reserve_all(s, scopes, n, r, err) : 0;
    if (ok == 0 && n <= RESERVE_ROWS) {
        /* A scope refused: undo, and go over the scopes one by one in a new operation to
         * find which (by then another process may have settled enough for all to pass). */
        store_sqlite_tx_rollback(q, 0, err);
        if (store_sqlite_tx_begin(q, "reserve budget in", err) != 0) {
            free(heap);
            return -1;
        }
    }
    int which = -1;
    if (ok == 0)
        ok = reserve_each(s, scopes, n, r, &which, err);
    int result = -1;
    if (ok < 0) {
        store_sqlite_tx_rollback(q, 1, err);
    } else if (ok == 0) {
        store_sqlite_tx_rollback(q, 0, err);
        if (refused)
            *refused = which;
    } else {
        store_val v[] = {sv_text(r->id),         sv_text(joined), sv_real(r->amount_usd),
                         sv_real(r->created_at), sv_int(r->pid),  sv_text(r->host)};
        if (op(s, &SQL_HOLD, "record a budget reservation", 6, v, NULL, NULL, NULL, err) != 0)
            store_sqlite_tx_rollback(q, 1, err);
        else
            result = store_sqlite_tx_commit(q, "reserve budget in", err);
    }
    free(heap);
    return result;
}

/* Settles inside an open operation: reads the hold, moves its amount out of reserved and
 * actual_usd into spent in each of its scopes, forgets it. An unknown id does nothing.
 * Returns 0, or -1 with err filled. */
static int settle(store_db *s, const char *id, double actual_usd, double now, error_info *err)
{
    char what[160];
    snprintf(what, sizeof what, "settle budget reservation %.64s", id);
    /* The scopes are copied out so the read is finished before the updates. */
    char *row[2] = {NULL, NULL};
    int rc = op(s, &SQL_FIND, what, 1, (store_val[]){sv_text(id)}, take_row, row, NULL, err);
    if (rc == 0 && row[0] && !row[1]) {
        store_fail(err, "store: cannot %s in %s: out of memory", what, sq_of(s)->path);
        rc = -1;
    }
    double amount = row[1] ? strtod(row[1], NULL) : 0;
    for (char *scope = row[0]; rc == 0 && scope;) {
        char *nl = strchr(scope, '\n');
        if (nl)
            *nl = '\0';
        store_val v[] = {sv_text(scope), sv_real(actual_usd), sv_real(amount), sv_real(now)};
        rc = op(s, &SQL_SETTLE, what, 4, v, NULL, NULL, NULL, err);
        scope = nl ? nl + 1 : NULL;
    }
    if (rc == 0 && row[0])
        rc = op(s, &SQL_FORGET, what, 1, (store_val[]){sv_text(id)}, NULL, NULL, NULL, err);
    free(row[0]);
    free(row[1]);
    return rc;
}

int store_sqlite_budget_settle(store_db *s, const char *reservation_id, double actual_usd,
                               double now, error_info *err)
{
    sq *q = sq_of(s);
    if (store_sqlite_tx_begin(q, "settle a budget reservation in", err) != 0)
        return -1;
    if (settle(s, reservation_id, actual_usd, now, err) != 0) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    return store_sqlite_tx_commit(q, "settle a budget reservation in", err);
}

int store_sqlite_log_interaction_settle(store_db *s, const interaction_rec *it,
                                        const char *reservation_id, double actual_usd,
                                        error_info *err)
{
    sq *q = sq_of(s);
    if (q->in_batch) {
        /* A failure inside a batch rolls the whole batch back, so the operation needs no
         * savepoint of its own (a group commit writes many of these in one batch). */
        if (store_sqlite_refuse_in_aborted_batch(q, err) != 0)
            return -1;
        q->in_op = 1; /* the statements are the operation's, not writes of the batch */
        int rc = reservation_id && settle(s, reservation_id, actual_usd, clock_wall_s(), err) != 0
                     ? SQLITE_ERROR
                     : SQLITE_DONE;
        q->in_op = 0;
        if (rc == SQLITE_DONE)
            rc = store_sqlite_insert_interaction(q, it, err);
        if (rc != SQLITE_DONE) {
            store_sqlite_abort_batch(q, err);
            return -1;
        }
        q->batch_writes++;
        return 0;
    }
    if (store_sqlite_tx_begin(q, "log an interaction in", err) != 0)
        return -1;
    /* Settle first: a failing insert (a duplicate id) then shows the rollback undoing it. */
    int rc = reservation_id && settle(s, reservation_id, actual_usd, clock_wall_s(), err) != 0
                 ? SQLITE_ERROR
                 : SQLITE_DONE;
    if (rc == SQLITE_DONE)
        rc = store_sqlite_insert_interaction(q, it, err);
    if (rc != SQLITE_DONE) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    return store_sqlite_tx_commit(q, "log an interaction in", err);
}
