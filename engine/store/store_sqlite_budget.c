/* Budgets in SQLite: reserve, settle, status, reap, and logging an interaction together
 * with its settle.
 *
 * Why this cannot overspend. Every operation runs between BEGIN IMMEDIATE and COMMIT, so
 * it holds the database's single write lock from its first read to its commit: another
 * process's reservation waits (busy timeout) and then sees this one's. Within the
 * transaction the check and the increment are one statement per scope ("add the amount
 * where spent + reserved + amount <= limit"), and a refusal in any scope rolls back the
 * scopes already reserved by the same call.
 *
 * Cost. Statements are prepared once; a reservation in k scopes is 2k + 2 statement steps
 * and one commit, a settle 4 steps and one commit (none with store_log_interaction_settle,
 * which shares the log's commit). No SELECT runs unless a scope refuses.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

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

static const char SQL_HOLD[] =
    "INSERT INTO budget_reservations (id, scope, amount, created_at, pid, host)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

static const char SQL_SHOW[] = "SELECT spent_usd, reserved_usd FROM budgets WHERE scope = ?1";

/* Residues of float subtraction (1e-17) are not left behind as reservations. */
static const char SQL_SETTLE[] =
    "UPDATE budgets SET spent_usd = budgets.spent_usd + ?2,"
    " reserved_usd = CASE WHEN budgets.reserved_usd - r.amount > 1e-12"
    " THEN budgets.reserved_usd - r.amount ELSE 0.0 END,"
    " updated_at = ?3"
    " FROM budget_reservations AS r WHERE r.id = ?1 AND budgets.scope = r.scope";

static const char SQL_FORGET[] = "DELETE FROM budget_reservations WHERE id = ?1";

static const char SQL_HOLDERS[] =
    "SELECT id, MIN(pid), MIN(host), MIN(created_at) FROM budget_reservations GROUP BY id";

static const char SQL_STATUS[] =
    "SELECT scope, limit_usd, spent_usd, reserved_usd,"
    " CASE WHEN limit_usd IS NULL THEN NULL ELSE limit_usd - spent_usd - reserved_usd END"
    " AS remaining_usd, " SQ_ISO("updated_at") " AS updated_at"
    " FROM budgets ORDER BY scope";

/* "$0.40", "$0.000123", "$12.50": at least cents, at most micro-dollars. */
static void usd(char *out, size_t n, double v)
{
    snprintf(out, n, "$%.6f", v);
    char *dot = strchr(out, '.');
    if (!dot)
        return;
    char *end = out + strlen(out) - 1;
    while (end > dot + 2 && *end == '0')
        *end-- = '\0';
}

/* The scope refused: say why with its numbers, read inside the transaction. */
static void refuse(sq *q, const store_scope *sc, double amount, nyx_error *err)
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
    char l[32], sp[32], re[32], am[32];
    usd(l, sizeof l, sc->limit_usd);
    usd(sp, sizeof sp, spent);
    usd(re, sizeof re, reserved);
    usd(am, sizeof am, amount);
    store_fail_as(err, "budget_exceeded",
                  "store: budget exceeded in scope %s: limit %s, spent %s, reserved %s, this "
                  "call needs %s",
                  sc->scope, l, sp, re, am);
}

int store_sqlite_budget_reserve(nyx_store *s, const store_scope *scopes, size_t n,
                                const store_reservation *r, int *refused, nyx_error *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *up = store_sqlite_stmt(q, SL_BUDGET_RESERVE, SQL_RESERVE, err);
    sqlite3_stmt *hold = up ? store_sqlite_stmt(q, SL_BUDGET_HOLD, SQL_HOLD, err) : NULL;
    if (!hold || store_sqlite_tx_begin(q, "reserve budget in", err) != 0)
        return -1;
    char what[160];
    for (size_t i = 0; i < n; i++) {
        const store_scope *sc = &scopes[i];
        sq_binder b = {up, SQLITE_OK};
        sqb_text(&b, 1, sc->scope);
        sqb_real_or_null(&b, 2, sc->limit_usd >= 0, sc->limit_usd);
        sqb_real(&b, 3, r->amount_usd);
        sqb_real(&b, 4, r->created_at);
        snprintf(what, sizeof what, "reserve budget in scope %s in", sc->scope);
        if (store_sqlite_exec(q, &b, what, err) != SQLITE_DONE) {
            store_sqlite_tx_rollback(q, 1, err);
            return -1;
        }
        if (sqlite3_changes(q->db) == 0) {
            refuse(q, sc, r->amount_usd, err);
            store_sqlite_tx_rollback(q, 0, err);
            if (refused)
                *refused = (int)i;
            return -1;
        }
        b = (sq_binder){hold, SQLITE_OK};
        sqb_text(&b, 1, r->id);
        sqb_text(&b, 2, sc->scope);
        sqb_real(&b, 3, r->amount_usd);
        sqb_real(&b, 4, r->created_at);
        sqb_int(&b, 5, r->pid);
        sqb_text(&b, 6, r->host);
        if (store_sqlite_exec(q, &b, what, err) != SQLITE_DONE) {
            store_sqlite_tx_rollback(q, 1, err);
            return -1;
        }
    }
    return store_sqlite_tx_commit(q, "reserve budget in", err);
}

/* Settles inside an open operation. Returns SQLITE_DONE or the failing code (err filled). */
static int settle(sq *q, const char *id, double actual_usd, double now, nyx_error *err)
{
    sqlite3_stmt *up = store_sqlite_stmt(q, SL_BUDGET_SETTLE, SQL_SETTLE, err);
    sqlite3_stmt *del = up ? store_sqlite_stmt(q, SL_BUDGET_FORGET, SQL_FORGET, err) : NULL;
    if (!del)
        return SQLITE_ERROR;
    char what[160];
    snprintf(what, sizeof what, "settle budget reservation %s in", id);
    sq_binder b = {up, SQLITE_OK};
    sqb_text(&b, 1, id);
    sqb_real(&b, 2, actual_usd);
    sqb_real(&b, 3, now);
    int rc = store_sqlite_exec(q, &b, what, err);
    if (rc != SQLITE_DONE)
        return rc;
    b = (sq_binder){del, SQLITE_OK};
    sqb_text(&b, 1, id);
    return store_sqlite_exec(q, &b, what, err);
}

int store_sqlite_budget_settle(nyx_store *s, const char *reservation_id, double actual_usd,
                               double now, nyx_error *err)
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

int store_sqlite_log_interaction_settle(nyx_store *s, const nyx_interaction *it,
                                        const char *reservation_id, double actual_usd,
                                        nyx_error *err)
{
    sq *q = sq_of(s);
    if (store_sqlite_tx_begin(q, "log an interaction in", err) != 0)
        return -1;
    /* Settle first: a failing insert (a duplicate id) then shows the rollback undoing it. */
    int rc = reservation_id ? settle(q, reservation_id, actual_usd, nyx_wall_s(), err)
                            : SQLITE_DONE;
    if (rc == SQLITE_DONE)
        rc = store_sqlite_insert_interaction(q, it, err);
    if (rc != SQLITE_DONE) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    return store_sqlite_tx_commit(q, "log an interaction in", err);
}

int store_sqlite_budget_status(nyx_store *s, store_row_fn fn, void *ud, nyx_error *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BUDGET_STATUS, SQL_STATUS, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    return store_sqlite_rows(q, "budgets", &b, 0, fn, ud, err);
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
                        nyx_error *err)
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

int store_sqlite_budget_reap(nyx_store *s, double now, double max_age_s, const char *host,
                             nyx_error *err)
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
