/* SQLite for the later additions of store_extras.c: one interaction's stored exchange (`nyx
 * log --raw ID`: what was sent and what came back, as the storage mode kept them, with its
 * attempts and outcome) and a budget scope's displayed limit. Both run rarely, so their
 * statements are prepared lazily (the limit) or for the query alone (the exchange). */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"

int store_sqlite_query_exchange(store_db *s, const char *id, store_row_fn fn, void *ud,
                                error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db,
                                "SELECT id, " SQ_ISO("created_at") " AS created_at, session, agent,"
                                " COALESCE(model_served, model_requested) AS model, status, error_type,"
                                " error_message, request_id, attempts, attempts_json,"
                                " prompt_text AS request, response_text AS response,"
                                " request_parts FROM llm_interactions WHERE id = ?1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_sqlite_fail(q, err, rc, "read the exchange %.64s in", id);
    }
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, id);
    return store_sqlite_rows(q, "an exchange", &b, 1, fn, ud, err);
}

int store_sqlite_budget_reset(store_db *s, const char *scope, int *found, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BUDGET_RESET,
                                         "UPDATE budgets SET spent_usd = 0, updated_at = ?2 WHERE scope = ?1", err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, scope);
    sqb_real(&b, 2, clock_wall_s());
    char what[160];
    snprintf(what, sizeof what, "reset budget scope %.64s in", scope);
    if (store_sqlite_write(q, &b, what, err) != 0)
        return -1;
    *found = sqlite3_changes(q->db) > 0;
    return 0;
}

int store_sqlite_budget_set_limit(store_db *s, const char *scope, double limit_usd, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BUDGET_LIMIT,
                                         "UPDATE budgets SET limit_usd = ?2, updated_at = ?3 WHERE scope = ?1",
                                         err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, scope);
    sqb_real_or_null(&b, 2, limit_usd >= 0, limit_usd);
    sqb_real(&b, 3, clock_wall_s());
    char what[160];
    snprintf(what, sizeof what, "set the limit of budget scope %.64s in", scope);
    return store_sqlite_write(q, &b, what, err);
}

int store_sqlite_content_get(store_db *s, const char *hash, char **body, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_CONTENT_GET,
                                         "SELECT body FROM llm_content WHERE hash = ?1", err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, hash);
    int rc = store_sqlite_read_text(q, &b, "read a part of a stored request in", body, err);
    if (rc == 1 && *body)
        return 0;
    if (rc >= 0)
        store_fail_as(err, "not_found", "store: a part of a stored request (%.16s...) is missing from %s",
                      hash, q->path);
    free(*body);
    *body = NULL;
    return -1;
}

/* The parts no recipe names. One statement: SQLite's single writer keeps a part from being
 * deleted between a recipe's insert and the check. */
int store_sqlite_content_purge(store_db *s, long long *removed, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db,
                                "DELETE FROM llm_content WHERE hash NOT IN"
                                " (SELECT json_extract(j.value, '$.ref') FROM llm_interactions AS i,"
                                " json_each(i.request_parts) AS j"
                                " WHERE i.request_parts IS NOT NULL AND j.type = 'object')",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_sqlite_fail(q, err, rc, "purge the parts of stored requests in");
    }
    sq_binder b = {st, SQLITE_OK};
    rc = store_sqlite_write(q, &b, "purge the parts of stored requests in", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -1;
    *removed = sqlite3_changes(q->db);
    return 0;
}
