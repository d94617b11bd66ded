/* SQLite for Message Batches (store.h): a batch and its requests in one transaction. */
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
