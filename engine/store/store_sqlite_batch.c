/* SQLite for Message Batches (store.h): a batch and its requests in one transaction. */
#include "store_sqlite.h"

#include <stdio.h>

static const store_sql SQL_ADD = {{"INSERT INTO llm_batches (id, name, created_at, expires_at,"
                                   " requests, parts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                   NULL}};

static const store_sql SQL_REQUEST = {
    {"INSERT INTO llm_batch_requests (batch_id, custom_id, part, session, agent, template,"
     " template_version, model, reservation_id, reserved_usd, write_1h)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
     NULL}};

/* The batch holds the reservation now: no holder process whose death releases it, and its
 * age counts from when the API gives up on the batch. */
static const store_sql SQL_HOLD = {
    {"UPDATE budget_holds SET pid = NULL, host = NULL, created_at = ?2 WHERE id = ?1", NULL}};

int store_sqlite_batch_create(store_db *s, const char *id, const char *name, double created_at,
                              double expires_at, int parts, const store_batch_request *reqs, size_t n,
                              error_info *err)
{
    sq *q = sq_of(s);
    char what[128];
    snprintf(what, sizeof what, "record batch %.64s", id);
    char in[160];
    snprintf(in, sizeof in, "%s in", what);
    if (store_sqlite_tx_begin(q, in, err) != 0)
        return -1;
    store_val add[] = {sv_text(id),         sv_text(name),       sv_real(created_at),
                       sv_real(expires_at), sv_int((int64_t)n), sv_int(parts)};
    store_stmt st = {&SQL_ADD, what, 6, add, NULL};
    int rc = store_sqlite_run(s, &st, NULL, NULL, NULL, err);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        const store_batch_request *r = &reqs[i];
        store_val v[] = {sv_text(id),
                         sv_text(r->custom_id),
                         sv_int(r->part),
                         sv_text(r->session),
                         sv_text(r->agent),
                         sv_text(r->template_name),
                         sv_int_or_null(r->template_name != NULL, r->template_version),
                         sv_text(r->model),
                         sv_text(r->reservation_id),
                         sv_real(r->reserved_usd),
                         sv_int(r->write_1h != 0)};
        st = (store_stmt){&SQL_REQUEST, what, 11, v, NULL};
        rc = store_sqlite_run(s, &st, NULL, NULL, NULL, err);
        if (rc >= 0 && r->reservation_id) {
            store_val h[] = {sv_text(r->reservation_id), sv_real(expires_at)};
            st = (store_stmt){&SQL_HOLD, what, 2, h, NULL};
            rc = store_sqlite_run(s, &st, NULL, NULL, NULL, err);
        }
    }
    if (rc < 0) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    return store_sqlite_tx_commit(q, in, err);
}
