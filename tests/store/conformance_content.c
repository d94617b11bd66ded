/* engine/store, requests in parts (store_content.h) through the store: a text repeated from
 * call to call is one row whatever way the call is logged, `nyx log --raw` (the exchange
 * query) reads requests back as given, and parts no request names are purged; on each
 * backend. */
#include "conformance.h"
#include "request_body.h"

/* ---- through the store ---- */

static interaction_rec request(const char *id, const char *prompt)
{
    interaction_rec it = make(id, T0);
    it.provider = NULL;
    it.prompt_text = prompt;
    it.response_text = "An answer of a few words.";
    return it;
}

/* The bytes the SQLite file holds in its used pages. */
static long long file_bytes(void)
{
    return raw_int("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size") -
           raw_int("SELECT freelist_count * page_size FROM pragma_freelist_count,"
                   " pragma_page_size");
}

/* The workload of issue 19: one 15 KB system prompt, a different question each call. */
static void test_workload(store_db *s)
{
    error_info err = cleared_error();
    char *sys = repeat("You are the support desk of a large library. ", 340); /* 15.3 KB */
    enum { N = 300 };
    char *bodies[N];
    long long before = is_pg ? 0 : file_bytes();
    for (int i = 0; i < N; i++) {
        char q[96], id[32];
        snprintf(q, sizeof q, "Question %d: where are the books about the number %d?", i, i * 7);
        const char *msgs[] = {q};
        bodies[i] = body(sys, msgs, 1, 0, NULL);
        snprintf(id, sizeof id, "w%d", i);
        interaction_rec it = request(id, bodies[i]);
        /* Every way in: many in one batch, alone, with a settle, in a batch of its own, in
         * the loop. */
        int rc;
        if (i < 20) {
            rc = i == 0 ? store_batch_begin(s, &err) : 0;
            if (rc == 0)
                rc = store_log_interaction(s, &it, &err);
            if (rc == 0 && i == 19)
                rc = store_batch_commit(s, &err);
        } else if (i % 4 == 0) {
            rc = store_log_interaction(s, &it, &err);
        } else if (i % 4 == 1) {
            rc = store_log_interaction_settle(s, &it, NULL, 0, &err);
        } else if (i % 4 == 3) {
            done_rec done = {.rc = 99};
            rc = store_log_interaction_settle_async(s, &it, NULL, 0, on_done, &done, &err);
            if (rc == 0)
                rc = drive(s, 10);
            if (rc == 0)
                rc = done.rc;
        } else {
            rc = store_batch_begin(s, &err);
            if (rc == 0)
                rc = store_log_interaction(s, &it, &err);
            if (rc == 0)
                rc = store_batch_commit(s, &err);
        }
        CHECK_INT(rc, 0);
    }
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE prompt_text IS NULL"
                      " AND request_parts IS NOT NULL"),
              N);
    if (!is_pg) { /* what a call costs the file (a server's pages are its own) */
        long long per_call = (file_bytes() - before) / N;
        fprintf(stderr, "database bytes per call: %lld (request %zu bytes)\n", per_call,
                strlen(bodies[0]));
        CHECK(per_call <= 2048);
    }
    for (int i = 0; i < N; i += 37) {
        char id[32];
        snprintf(id, sizeof id, "w%d", i);
        check_request(s, id, bodies[i], __LINE__);
    }
    /* A request stored whole (not JSON) still reads back; an unknown id gives no row. */
    interaction_rec plain = request("plain", "a request that is not JSON");
    CHECK_INT(store_log_interaction(s, &plain, &err), 0);
    check_request(s, "plain", "a request that is not JSON", __LINE__);
    rows x = {0};
    CHECK_INT(store_query_exchange(s, "nope", collect, &x, &err), 0);
    CHECK_INT(x.n, 0);
    /* A part missing from under a recipe is an error that says so, never another text. */
    CHECK_INT(raw_exec("DELETE FROM llm_content"), 0);
    CHECK_INT(store_query_exchange(s, "w0", collect, &x, &err), -1);
    CHECK_STR(err.type, "not_found");
    CHECK_INT(x.n, 0);
    rows_free(&x);
    for (int i = 0; i < N; i++)
        free(bodies[i]);
    free(sys);
}

/* A conversation resends its messages every turn, its cache mark moving to the newest one;
 * a council sends one context under several personas. Each long text is stored once. */
static void test_conversation_and_council(store_db *s)
{
    error_info err = cleared_error();
    enum { TURNS = 12 };
    char *msgs[TURNS];
    char *bodies[TURNS];
    for (int t = 0; t < TURNS; t++) {
        char unit[64];
        snprintf(unit, sizeof unit, "Turn %d of the talk, said at some length. ", t);
        msgs[t] = repeat(unit, 10);
        bodies[t] = body(NULL, (const char *const *)msgs, t + 1, 1, NULL);
        char id[32];
        snprintf(id, sizeof id, "t%d", t);
        interaction_rec it = request(id, bodies[t]);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), TURNS);
    check_request(s, "t0", bodies[0], __LINE__);
    check_request(s, "t11", bodies[11], __LINE__);

    char *ctx = repeat("The shared context of the council, read by everyone. ", 50);
    const char *personas[] = {"You are the engineer.", "You are the economist.", "You are the critic."};
    for (int i = 0; i < 3; i++) {
        const char *m[] = {ctx};
        char *b = body(personas[i], m, 1, 0, NULL);
        char id[32];
        snprintf(id, sizeof id, "c%d", i);
        interaction_rec it = request(id, b);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        check_request(s, id, b, __LINE__);
        free(b);
    }
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), TURNS + 1);
    for (int t = 0; t < TURNS; t++) {
        free(msgs[t]);
        free(bodies[t]);
    }
    free(ctx);
}

/* Parts no request names any more go; those still named stay and read. */
static void test_purge(store_db *s)
{
    error_info err = cleared_error();
    char *a = repeat("System prompt A, long enough to be shared. ", 10);
    char *b = repeat("System prompt B, long enough to be shared. ", 10);
    const char *q[] = {"q"};
    char *ba = body(a, q, 1, 0, NULL), *bb = body(b, q, 1, 0, NULL);
    interaction_rec i1 = request("a1", ba), i2 = request("a2", ba), i3 = request("b1", bb);
    CHECK_INT(store_log_interaction(s, &i1, &err), 0);
    CHECK_INT(store_log_interaction(s, &i2, &err), 0);
    CHECK_INT(store_log_interaction(s, &i3, &err), 0);
    /* Parts left unnamed by rows deleted by hand go with the next prune, even one that deletes
     * no row itself (the rows are from T0). */
    store_pruned p;
    CHECK_INT(store_prune(s, T0, 0, 0, &p, &err), 0);
    CHECK_INT(p.parts, 0);
    CHECK_INT(raw_exec("DELETE FROM llm_interactions WHERE id IN ('a1', 'b1')"), 0);
    CHECK_INT(store_prune(s, T0, 0, 1, &p, &err), 0);
    CHECK_INT(p.parts, 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 2);
    CHECK_INT(store_prune(s, T0, 0, 0, &p, &err), 0);
    CHECK_INT(p.parts, 1);
    CHECK_INT(p.interactions, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 1);
    check_request(s, "a2", ba, __LINE__);
    CHECK_INT(raw_exec("DELETE FROM llm_interactions"), 0);
    CHECK_INT(store_prune(s, T0, 0, 0, &p, &err), 0);
    CHECK_INT(p.parts, 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 0);
    free(a);
    free(b);
    free(ba);
    free(bb);
}

/* A part and the request naming it are one write: when the part cannot be stored, neither is
 * the request (logged alone or with a settle), so no recipe names a part the database lacks. */
static void test_atomic(store_db *s)
{
    error_info err = cleared_error();
    CHECK_INT(raw_exec(dialect("CREATE TRIGGER refuse BEFORE INSERT ON llm_content"
                               " BEGIN SELECT RAISE(ABORT, 'parts refused'); END",
                               "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                               " $$ BEGIN RAISE EXCEPTION 'parts refused'; END $$;"
                               " CREATE TRIGGER refuse BEFORE INSERT ON llm_content"
                               " FOR EACH ROW EXECUTE FUNCTION refuse()")),
              0);
    char *sys = repeat("A system prompt that cannot be stored today. ", 10);
    const char *q[] = {"q"};
    char *b = body(sys, q, 1, 0, NULL);
    interaction_rec it = request("x1", b);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_CONTAINS(err.message, "parts refused");
    CHECK_INT(store_log_interaction_settle(s, &it, NULL, 0, &err), -1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 0);
    CHECK_INT(raw_exec(dialect("DROP TRIGGER refuse", "DROP TRIGGER refuse ON llm_content")), 0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 1);
    check_request(s, "x1", b, __LINE__);
    free(sys);
    free(b);
}

CONFORMANCE_SUITE("store-content",
    {"workload", .on_db = test_workload},
    {"conversation_and_council", .on_db = test_conversation_and_council},
    {"purge", .on_db = test_purge},
    {"atomic", .on_db = test_atomic})
