/* SQLite for Message Batches (store.h): a batch and its requests in one transaction, the API's
 * id of each part, and the requests as a process picking the batch up reads them. */
#include "store_sqlite.h"

#include <stdio.h>

int store_sqlite_batch_create(store_db *s, const char *id, const char *name, double created_at,
                              double expires_at, int parts, const store_batch_request *reqs, size_t n,
                              error_info *err)
{
    sq *q = sq_of(s);
    char what[128];
    snprintf(what, sizeof what, "record batch %.64s in", id);
    sqlite3_stmt *add = store_sqlite_stmt(q, SL_BATCH_ADD,
        "INSERT INTO llm_batches (id, name, created_at, expires_at, requests, parts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", err);
    sqlite3_stmt *req = add ? store_sqlite_stmt(q, SL_BATCH_REQUEST,
        "INSERT INTO llm_batch_requests (batch_id, custom_id, part, session, agent, template,"
        " template_version, model, reservation_id, reserved_usd, write_1h)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", err) : NULL;
    /* The batch holds the reservation now: no holder process whose death releases it, and its
     * age counts from when the API gives up on the batch. */
    sqlite3_stmt *hold = req ? store_sqlite_stmt(q, SL_BATCH_HOLD,
        "UPDATE budget_holds SET pid = NULL, host = NULL, created_at = ?2 WHERE id = ?1", err) : NULL;
    if (!hold || store_sqlite_tx_begin(q, what, err) != 0)
        return -1;
    sq_binder b = {add, SQLITE_OK};
    sqb_text(&b, 1, id);
    sqb_text(&b, 2, name);
    sqb_real(&b, 3, created_at);
    sqb_real(&b, 4, expires_at);
    sqb_int(&b, 5, (int64_t)n);
    sqb_int(&b, 6, parts);
    int rc = store_sqlite_exec(q, &b, what, err);
    for (size_t i = 0; rc == SQLITE_DONE && i < n; i++) {
        const store_batch_request *r = &reqs[i];
        b = (sq_binder){req, SQLITE_OK};
        sqb_text(&b, 1, id);
        sqb_text(&b, 2, r->custom_id);
        sqb_int(&b, 3, r->part);
        sqb_text(&b, 4, r->session);
        sqb_text(&b, 5, r->agent);
        sqb_text(&b, 6, r->template_name);
        if (r->template_name)
            sqb_int(&b, 7, r->template_version);
        sqb_text(&b, 8, r->model);
        sqb_text(&b, 9, r->reservation_id);
        sqb_real(&b, 10, r->reserved_usd);
        sqb_int(&b, 11, r->write_1h != 0);
        rc = store_sqlite_exec(q, &b, what, err);
        if (rc == SQLITE_DONE && r->reservation_id) {
            b = (sq_binder){hold, SQLITE_OK};
            sqb_text(&b, 1, r->reservation_id);
            sqb_real(&b, 2, expires_at);
            rc = store_sqlite_exec(q, &b, what, err);
        }
    }
    if (rc != SQLITE_DONE) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    return store_sqlite_tx_commit(q, what, err);
}

int store_sqlite_batch_submitted(store_db *s, const char *id, int part, const char *provider_id,
                                 error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BATCH_SUBMITTED,
        "UPDATE llm_batch_requests SET provider_id = ?3 WHERE batch_id = ?1 AND part = ?2", err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, id);
    sqb_int(&b, 2, part);
    sqb_text(&b, 3, provider_id);
    char what[160];
    snprintf(what, sizeof what, "record the submission of batch %.64s in", id);
    return store_sqlite_write(q, &b, what, err);
}

int store_sqlite_batch_ready(store_db *s, const char *id, store_row_fn fn, void *ud, error_info *err)
{
    sq *q = sq_of(s);
    char sql[512];
    snprintf(sql, sizeof sql, SQL_BATCH_READY, "?1");
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BATCH_READY, sql, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, id);
    return store_sqlite_rows(q, "a batch's settled requests", &b, 0, fn, ud, err);
}

int store_sqlite_batch_requests(store_db *s, const char *id, store_row_fn fn, void *ud, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_BATCH_REQUESTS,
        SQL_BATCH_REQUEST_COLUMNS ", EXISTS (SELECT 1 FROM llm_interactions i"
        " WHERE i.batch_id = r.batch_id AND i.custom_id = r.custom_id) AS logged"
        " FROM llm_batch_requests r JOIN llm_batches b ON b.id = r.batch_id"
        " WHERE r.batch_id = COALESCE((SELECT id FROM llm_batches WHERE id = ?1),"
        " (SELECT r2.batch_id FROM llm_batch_requests r2 JOIN llm_batches b2 ON b2.id = r2.batch_id"
        " WHERE r2.provider_id = ?1 ORDER BY b2.created_at DESC LIMIT 1))"
        " ORDER BY r.part, r.custom_id", err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, id);
    return store_sqlite_rows(q, "a batch's requests", &b, 0, fn, ud, err);
}
