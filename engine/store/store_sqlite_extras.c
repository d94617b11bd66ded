/* One interaction's stored exchange in SQLite (`nyx log --raw ID`): what was sent and what
 * came back, as the storage mode kept them, with its attempts and outcome. It runs rarely,
 * so the statement is prepared for the query and finalized, not kept. */
#include "store_sqlite.h"

int store_sqlite_query_exchange(nyx_store *s, const char *id, store_row_fn fn, void *ud,
                                nyx_error *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db,
                                "SELECT id, " SQ_ISO("created_at") " AS created_at, session, agent,"
                                " COALESCE(model_served, model_requested) AS model, status, error_type,"
                                " error_message, request_id, attempts, attempts_json,"
                                " prompt_text AS request, response_text AS response"
                                " FROM llm_interactions WHERE id = ?1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_sqlite_fail(q, err, rc, "read the exchange %.64s in", id);
    }
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, id);
    return store_sqlite_rows(q, "an exchange", &b, 1, fn, ud, err);
}
