/* Budgets in SQLite: reserve, settle, status, reap, and logging an interaction together
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

/* Creates the scope's row reserved with the amount, or adds the amount to its row, in
 * both cases only where the limit allows it, and sets the limit in force. No row changes
 * when the scope refuses. ?2 NULL: no limit. The 1e-9 lets an exact fit pass despite
 * binary rounding (0.1 + 0.2 > 0.3). */
static const char SQL_RESERVE[] =
    "INSERT INTO budgets (scope, limit_usd, reserved_usd, updated_at)"
    " SELECT ?1, ?2, ?3, ?4 WHERE ?2 IS NULL OR ?3 <= ?2 + 1e-9"
    " ON CONFLICT (scope) DO UPDATE SET limit_usd = excluded.limit_usd,"
    " reserved_usd = budgets.reserved_usd + excluded.reserved_usd,"
    " updated_at = excluded.updated_at"
    " WHERE excluded.limit_usd IS NULL OR budgets.spent_usd + budgets.reserved_usd"
    " + excluded.reserved_usd <= excluded.limit_usd + 1e-9";

/* SQL_RESERVE for up to RESERVE_ROWS scopes at once, row by row the same check; slots
 * past the last scope are NULL. ?1 the amount, ?2 the time, then (scope, limit) pairs.
 * Every scope accepted: as many rows changed as scopes. */
#define RESERVE_ROWS 4
static const char SQL_RESERVE_ALL[] =
    "INSERT INTO budgets (scope, limit_usd, reserved_usd, updated_at)"
    " SELECT column1, column2, ?1, ?2 FROM (VALUES (?3, ?4), (?5, ?6), (?7, ?8), (?9, ?10))"
    " WHERE column1 IS NOT NULL AND (column2 IS NULL OR ?1 <= column2 + 1e-9)"
    " ON CONFLICT (scope) DO UPDATE SET limit_usd = excluded.limit_usd,"
    " reserved_usd = budgets.reserved_usd + excluded.reserved_usd,"
    " updated_at = excluded.updated_at"
    " WHERE excluded.limit_usd IS NULL OR budgets.spent_usd + budgets.reserved_usd"
    " + excluded.reserved_usd <= excluded.limit_usd + 1e-9";

static const char SQL_HOLD[] =
    "INSERT INTO budget_holds (id, scopes, amount, created_at, pid, host)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

static const char SQL_SHOW[] = "SELECT spent_usd, reserved_usd FROM budgets WHERE scope = ?1";

static const char SQL_FIND[] = "SELECT scopes, amount FROM budget_holds WHERE id = ?1";

/* Residues of float subtraction (1e-17) are not left behind as reservations. */
static const char SQL_SETTLE[] =
    "UPDATE budgets SET spent_usd = spent_usd + ?2,"
    " reserved_usd = CASE WHEN reserved_usd - ?3 > 1e-12 THEN reserved_usd - ?3 ELSE 0.0 END,"
    " updated_at = ?4 WHERE scope = ?1";

static const char SQL_FORGET[] = "DELETE FROM budget_holds WHERE id = ?1";

static const char SQL_HOLDERS[] = "SELECT id, pid, host, created_at FROM budget_holds";

/* The scope refused: say why with its numbers, read inside the transaction. */
static void refuse(sq *q, const store_scope *sc, double amount, error_info *err)
{
    double spent = 0, reserved = 0;
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BUDGET_SHOW, SQL_SHOW, NULL);
    if (st && sqlite3_bind_text(st, 1, sc->scope, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        spent = sqlite3_column_double(st, 0);
        reserved = sqlite3_column_double(st, 1);
    }
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    store_budget_refused(err, sc, spent, reserved, amount);
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
static int reserve_all(sq *q, const store_scope *scopes, size_t n, const store_reservation *r,
                       error_info *err)
{
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BUDGET_RESERVE_ALL, SQL_RESERVE_ALL, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_real(&b, 1, r->amount_usd);
    sqb_real(&b, 2, r->created_at);
    for (size_t i = 0; i < n; i++) {
        sqb_text(&b, 3 + 2 * (int)i, scopes[i].scope);
        sqb_real_or_null(&b, 4 + 2 * (int)i, scopes[i].limit_usd >= 0, scopes[i].limit_usd);
    }
    if (store_sqlite_exec(q, &b, "reserve budget in", err) != SQLITE_DONE)
        return -1;
    return sqlite3_changes(q->db) == (int)n;
}

/* Reserves scope by scope inside the open operation, stopping at the first that refuses.
 * Returns 1 when every scope accepted; 0 when scope *refused refused (err says why, the
 * operation must be undone); -1 when the database failed (err filled). */
static int reserve_each(sq *q, const store_scope *scopes, size_t n, const store_reservation *r,
                        int *refused, error_info *err)
{
    sqlite3_stmt *up = store_sqlite_stmt(q, SL_BUDGET_RESERVE, SQL_RESERVE, err);
    if (!up)
        return -1;
    char what[160];
    for (size_t i = 0; i < n; i++) {
        const store_scope *sc = &scopes[i];
        sq_binder b = {up, SQLITE_OK};
        sqb_text(&b, 1, sc->scope);
        sqb_real_or_null(&b, 2, sc->limit_usd >= 0, sc->limit_usd);
        sqb_real(&b, 3, r->amount_usd);
        sqb_real(&b, 4, r->created_at);
        snprintf(what, sizeof what, "reserve budget in scope %.64s in", sc->scope);
        if (store_sqlite_exec(q, &b, what, err) != SQLITE_DONE)
            return -1;
        if (sqlite3_changes(q->db) == 0) {
            refuse(q, sc, r->amount_usd, err);
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
    sqlite3_stmt *hold = store_sqlite_stmt(q, SL_BUDGET_HOLD, SQL_HOLD, err);
    if (!hold)
        return -1;
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
    int ok = n <= RESERVE_ROWS ? reserve_all(q, scopes, n, r, err) : 0;
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
        ok = reserve_each(q, scopes, n, r, &which, err);
    int result = -1;
    if (ok < 0) {
        store_sqlite_tx_rollback(q, 1, err);
    } else if (ok == 0) {
        store_sqlite_tx_rollback(q, 0, err);
        if (refused)
            *refused = which;
    } else {
        sq_binder b = {hold, SQLITE_OK};
        sqb_text(&b, 1, r->id);
        sqb_text(&b, 2, joined);
        sqb_real(&b, 3, r->amount_usd);
        sqb_real(&b, 4, r->created_at);
        sqb_int(&b, 5, r->pid);
        sqb_text(&b, 6, r->host);
        if (store_sqlite_exec(q, &b, "record a budget reservation in", err) != SQLITE_DONE)
            store_sqlite_tx_rollback(q, 1, err);
        else
            result = store_sqlite_tx_commit(q, "reserve budget in", err);
    }
    free(heap);
    return result;
}

/* Settles inside an open operation: reads the hold, moves its amount out of reserved and
 * actual_usd into spent in each of its scopes, forgets it. An unknown id does nothing.
 * Returns SQLITE_DONE or the failing code (err filled). */
static int settle(sq *q, const char *id, double actual_usd, double now, error_info *err)
{
    sqlite3_stmt *find = store_sqlite_stmt(q, SL_BUDGET_FIND, SQL_FIND, err);
    sqlite3_stmt *up = find ? store_sqlite_stmt(q, SL_BUDGET_SETTLE, SQL_SETTLE, err) : NULL;
    sqlite3_stmt *del = up ? store_sqlite_stmt(q, SL_BUDGET_FORGET, SQL_FORGET, err) : NULL;
    if (!del)
        return SQLITE_ERROR;
    char what[160];
    snprintf(what, sizeof what, "settle budget reservation %.64s in", id);

    /* The scopes are copied out so the read is finished before the updates. */
    char buf[512], *scopes = NULL;
    double amount = 0;
    int rc = sqlite3_bind_text(find, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(find);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(find, 0);
        size_t len = text ? strlen(text) + 1 : 0;
        amount = sqlite3_column_double(find, 1);
        scopes = len <= sizeof buf ? buf : malloc(len);
        if (scopes && text)
            memcpy(scopes, text, len);
        rc = scopes && text ? SQLITE_DONE : SQLITE_NOMEM;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_NOTFOUND;
    }
    sqlite3_reset(find);
    sqlite3_clear_bindings(find);
    if (rc == SQLITE_NOTFOUND)
        return SQLITE_DONE;
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_NOMEM)
            store_fail(err, "store: cannot %s %s: out of memory", what, q->path);
        else
            store_sqlite_fail(q, err, rc, "%s", what);
        if (scopes != buf)
            free(scopes);
        return rc;
    }

    for (char *scope = scopes; rc == SQLITE_DONE && scope;) {
        char *nl = strchr(scope, '\n');
        if (nl)
            *nl = '\0';
        sq_binder b = {up, SQLITE_OK};
        sqb_text(&b, 1, scope);
        sqb_real(&b, 2, actual_usd);
        sqb_real(&b, 3, amount);
        sqb_real(&b, 4, now);
        rc = store_sqlite_exec(q, &b, what, err);
        scope = nl ? nl + 1 : NULL;
    }
    if (scopes != buf)
        free(scopes);
    if (rc != SQLITE_DONE)
        return rc;
    sq_binder b = {del, SQLITE_OK};
    sqb_text(&b, 1, id);
    return store_sqlite_exec(q, &b, what, err);
}

int store_sqlite_budget_settle(store_db *s, const char *reservation_id, double actual_usd,
                               double now, error_info *err)
{
    sq *q = sq_of(s);
    if (store_sqlite_tx_begin(q, "settle a budget reservation in", err) != 0)
        return -1;
    if (settle(q, reservation_id, actual_usd, now, err) != SQLITE_DONE) {
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
        int rc = reservation_id ? settle(q, reservation_id, actual_usd, clock_wall_s(), err) : SQLITE_DONE;
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
    int rc = reservation_id ? settle(q, reservation_id, actual_usd, clock_wall_s(), err)
                            : SQLITE_DONE;
    if (rc == SQLITE_DONE)
        rc = store_sqlite_insert_interaction(q, it, err);
    if (rc != SQLITE_DONE) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    return store_sqlite_tx_commit(q, "log an interaction in", err);
}

/* ---- reaping ---- */

typedef struct idlist {
    char **v;
    size_t n, cap;
} idlist;

static int idlist_add(idlist *l, const char *id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = store_strdup(id);
    if (!l->v[l->n])
        return -1;
    l->n++;
    return 0;
}

static void idlist_free(idlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Collects the ids of reservations whose holder is gone. Returns 0, or -1 (err filled). */
static int find_orphans(sq *q, double now, double max_age_s, const char *host, idlist *out,
                        error_info *err)
{
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BUDGET_HOLDERS, SQL_HOLDERS, err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        int has_pid = sqlite3_column_type(st, 1) != SQLITE_NULL;
        int64_t pid = sqlite3_column_int64(st, 1);
        const char *h = (const char *)sqlite3_column_text(st, 2);
        double created = sqlite3_column_double(st, 3);
        int old = max_age_s > 0 && created < now - max_age_s;
        int dead = has_pid && h && strcmp(h, host) == 0 && !store_pid_alive(pid);
        if (id && (old || dead) && idlist_add(out, id) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc == SQLITE_NOMEM) {
        store_fail(err, "store: cannot reap budget reservations in %s: out of memory", q->path);
        return -1;
    }
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(q, err, rc, "reap budget reservations in");
    return 0;
}

int store_sqlite_budget_reap(store_db *s, double now, double max_age_s, const char *host,
                             error_info *err)
{
    sq *q = sq_of(s);
    if (store_sqlite_tx_begin(q, "reap budget reservations in", err) != 0)
        return -1;
    idlist orphans = {0};
    int failed = find_orphans(q, now, max_age_s, host, &orphans, err) != 0;
    for (size_t i = 0; !failed && i < orphans.n; i++)
        failed = settle(q, orphans.v[i], 0, now, err) != SQLITE_DONE;
    size_t released = orphans.n;
    idlist_free(&orphans);
    if (failed) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    if (store_sqlite_tx_commit(q, "reap budget reservations in", err) != 0)
        return -1;
    return released > (size_t)0x7fffffff ? 0x7fffffff : (int)released;
}
