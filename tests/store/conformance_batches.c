/* engine/store Message Batches: a batch and its requests are committed in one transaction,
 * found again by nyx's id or by the API's id of a part; the reservations they hold pass to the
 * batch (no dead process releases them); a result logged by two stores (two processes) is
 * logged once and settles its reservation once; a batch result needs both ids; on each
 * backend. */
#include "conformance.h"

/* The requests of batch id (nyx's, or the API's id of a part), their columns as pick()
 * gives them. */
static const char *requests(store_db *s, const char *id)
{
    static char out[4096];
    rows r = {0};
    error_info err = cleared_error();
    if (store_batch_requests(s, id, collect, &r, &err) != 0)
        snprintf(out, sizeof out, "error: %s", err.message);
    else
        snprintf(out, sizeof out, "%s",
                 pick(&r, "custom_id,part,provider_id,session,reservation_id,logged,interaction_id"));
    rows_free(&r);
    return out;
}

static void test_batches(store_db *s)
{
    error_info err = cleared_error();
    store_db *t = open_db();
    if (!t)
        return;
    store_scope scope[] = {{"session:b", 1.0}};
    char r1[STORE_RESERVATION_ID_SIZE], r2[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, scope, 1, 0.25, r1, sizeof r1, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, scope, 1, 0.25, r2, sizeof r2, NULL, &err), 0);
    double expires = clock_wall_s() + 86400;
    store_batch_request reqs[] = {
        {.custom_id = "a", .part = 0, .session = "b", .model = "m", .reservation_id = r1,
         .reserved_usd = 0.25},
        {.custom_id = "b", .part = 0, .session = "b", .model = "m", .reservation_id = r2,
         .reserved_usd = 0.25},
        {.custom_id = "c\"q", .part = 1, .template_name = "t", .template_version = 2, .write_1h = 1},
    };
    CHECK_INT(store_batch_create(s, "nb_1", "nightly", expires, 2, reqs, 3, &err), 0);
    /* Committed: another connection reads it at once, found by nyx's id. */
    char want[1024];
    snprintf(want, sizeof want, "a|0|NULL|b|%s|0|NULL\nb|0|NULL|b|%s|0|NULL\nc\"q|1|NULL|NULL|NULL|0|NULL\n", r1,
             r2);
    CHECK_STR(requests(t, "nb_1"), want);
    /* The batch holds the reservations: no process, and their age counts from its expiry. */
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM budget_holds WHERE pid IS NULL AND host IS NULL AND"
             " created_at > %s + 80000", SQL_NOW);
    CHECK_INT(raw_int(sql), 2);
    CHECK_INT(store_budget_reap(s, 3600, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batch_requests WHERE template_version = 2 AND"
                      " write_1h = 1"),
              1);
    /* A batch id is unique. */
    CHECK_INT(store_batch_create(t, "nb_1", NULL, expires, 1, reqs, 1, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batch_requests"), 3);
    error_clear(&err);
    /* A request out of the batch's parts is refused before anything is written. */
    store_batch_request bad = {.custom_id = "x", .part = 3};
    CHECK_INT(store_batch_create(s, "nb_2", NULL, expires, 2, &bad, 1, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batches"), 1);

    /* The API's ids, as each part's submission is answered; either finds the batch. */
    CHECK_INT(store_batch_submitted(s, "nb_1", 0, "msgbatch_p0", &err), 0);
    CHECK_INT(store_batch_submitted(s, "nb_1", 1, "msgbatch_p1", &err), 0);
    snprintf(want, sizeof want,
             "a|0|msgbatch_p0|b|%s|0|NULL\nb|0|msgbatch_p0|b|%s|0|NULL\nc\"q|1|msgbatch_p1|NULL|NULL|0|NULL\n", r1,
             r2);
    CHECK_STR(requests(t, "msgbatch_p1"), want);
    CHECK_STR(requests(t, "msgbatch_nope"), ""); /* no row */

    /* Two processes log the same result: one row (the first's id, which the requests name),
     * one settlement. */
    interaction_rec first = batch_result("ix_1", "a", 0.125), again = batch_result("ix_2", "a", 0.125);
    CHECK_INT(store_log_interaction_settle(s, &first, r1, 0.125, &err), 0);
    CHECK_INT(store_log_interaction_settle(t, &again, r1, 0.125, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE batch_id = 'nb_1' AND custom_id = 'a'"
                            " AND service_tier = 'batch'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'ix_2'"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'session:b' AND"
                      " spent_usd = 0.125 AND abs(reserved_usd - 0.25) < 1e-12"), 1);
    snprintf(want, sizeof want,
             "a|0|msgbatch_p0|b|%s|1|ix_1\nb|0|msgbatch_p0|b|%s|0|NULL\nc\"q|1|msgbatch_p1|NULL|NULL|0|NULL\n", r1,
             r2);
    CHECK_STR(requests(s, "nb_1"), want);
    /* An ordinary id logged twice is still refused by SQLite; PostgreSQL takes it for a write
     * sent again after its answer was lost, and keeps the first (conformance_budget's
     * log_settle says the same). */
    interaction_rec plain = batch_result("ix_1", NULL, 0);
    plain.batch_id = NULL;
    CHECK_INT(store_log_interaction(s, &plain, &err), is_pg ? 0 : -1);
    if (!is_pg)
        CHECK_STR(err.type, "store_error");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'ix_1' AND"
                      " batch_id = 'nb_1'"),
              1);
    /* Statistics: batch calls, their cache reads, and the saving against standard prices. */
    interaction_rec cached = batch_result("ix_4", "b", 0.5);
    cached.usage.cache_read_input_tokens = 700;
    cached.has_standard_cost = 1;
    cached.standard_cost_usd = 1.0;
    CHECK_INT(store_log_interaction(s, &cached, &err), 0);
    interaction_rec standard = batch_result("ix_5", NULL, 2.0);
    standard.batch_id = NULL;
    standard.service_tier = "standard";
    standard.usage.cache_read_input_tokens = 50;
    CHECK_INT(store_log_interaction(s, &standard, &err), 0);
    CHECK_STR(picked(s, store_query_stats, NULL, "calls,batch_calls,batch_cache_read,batch_saved_usd"),
              "3|2|700|0.5\n");
    /* A batch result names both its batch and its custom id. */
    interaction_rec half = batch_result("ix_3", NULL, 0);
    CHECK_INT(store_log_interaction(s, &half, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    store_close(t);
}

/* One reservation for a whole batch: settled once every request it covers is logged, at what
 * they cost, by whichever store gets there; settling again does nothing. */
static void test_batch_settle(store_db *s)
{
    error_info err = cleared_error();
    store_db *t = open_db();
    if (!t)
        return;
    store_scope scope[] = {{"session:one", 1.0}};
    char r1[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, scope, 1, 0.5, r1, sizeof r1, NULL, &err), 0);
    store_batch_request reqs[] = {
        {.custom_id = "a", .session = "one", .reservation_id = r1, .reserved_usd = 0.25},
        {.custom_id = "b", .session = "one", .reservation_id = r1, .reserved_usd = 0.25},
    };
    CHECK_INT(store_batch_create(s, "nb_1", NULL, clock_wall_s() + 86400, 1, reqs, 2, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 1);
    interaction_rec a = batch_result("ix_a", "a", 0.125), b = batch_result("ix_b", "b", 0.0625);
    CHECK_INT(store_log_interaction(s, &a, &err), 0);
    int settled = -1;
    CHECK_INT(store_batch_settle(t, "nb_1", &settled, &err), 0);
    CHECK_INT(settled, 0); /* b has no result yet: the reservation still holds */
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'session:one' AND reserved_usd = 0.5"
                      " AND spent_usd = 0"), 1);
    CHECK_INT(store_log_interaction(t, &b, &err), 0);
    CHECK_INT(store_batch_settle(t, "nb_1", &settled, &err), 0);
    CHECK_INT(settled, 1);
    CHECK_INT(store_batch_settle(s, "nb_1", &settled, &err), 0);
    CHECK_INT(settled, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'session:one' AND reserved_usd = 0"
                      " AND abs(spent_usd - 0.1875) < 1e-12"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 0);
    store_close(t);
}

CONFORMANCE_SUITE("store-batches",
    {"batches", .on_db = test_batches},
    {"batch_settle", .on_db = test_batch_settle})
