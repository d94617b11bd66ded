/* engine/store retention (store_prune, `nyx prune`): the interactions before a time go, with
 * the parts only they named and the expired cache entries; what stays reads back as it did,
 * byte for byte, and its statistics do not move; a dry run counts the same and changes
 * nothing; a batch stays whole until its results are all logged and settled; budgets, audit
 * events, settings and the stop stay; on each backend. */
#include "conformance.h"
#include "request_body.h"

static interaction_rec call(const char *id, double t, const char *prompt, double cost)
{
    interaction_rec it = make(id, t);
    it.prompt_text = prompt;
    it.response_text = "An answer of a few words.";
    it.session = "s";
    it.model_requested = "claude-haiku-5-5";
    it.usage.input_tokens = 100;
    it.usage.output_tokens = 10;
    it.has_cost = 1;
    it.cost_usd = cost;
    it.cost_without_cache_usd = cost;
    return it;
}

/* What every table but the pruned ones holds, as one number each. */
static void kept_tables(long long out[6])
{
    out[0] = raw_int("SELECT count(*) FROM budgets");
    out[1] = raw_int("SELECT count(*) FROM audit_events");
    out[2] = raw_int("SELECT count(*) FROM system_config");
    out[3] = raw_int("SELECT count(*) FROM control");
    out[4] = raw_int("SELECT count(*) FROM sessions");
    out[5] = raw_int("SELECT count(*) FROM thought_trees");
}

static void check_counts(const store_pruned *p, long long interactions, long long parts,
                         long long cache_rows, long long batches, int line)
{
    if (p->interactions != interactions || p->parts != parts || p->cache_rows != cache_rows ||
        p->batches != batches) {
        fprintf(stderr, "line %d: pruned %lld interactions, %lld parts, %lld cache rows, %lld batches;"
                        " want %lld, %lld, %lld, %lld\n",
                line, p->interactions, p->parts, p->cache_rows, p->batches, interactions, parts,
                cache_rows, batches);
        check_failures++;
    }
}

static void test_prune(store_db *s)
{
    error_info err = cleared_error();
    char *a = repeat("System prompt A, only the old calls had it. ", 10);
    char *b = repeat("System prompt B, old and new calls share it. ", 10);
    const char *q[] = {"q"};
    char *ba = body(a, q, 1, 0, NULL), *bb = body(b, q, 1, 0, NULL);
    interaction_rec o1 = call("old1", T0, ba, 0.5), o2 = call("old2", T0 + 10, bb, 0.25),
                    n1 = call("new1", T0 + 100, bb, 0.125), n2 = call("new2", T0 + 200, "plain", 0.0625);
    CHECK_INT(store_log_interaction(s, &o1, &err), 0);
    CHECK_INT(store_log_interaction(s, &o2, &err), 0);
    CHECK_INT(store_log_interaction(s, &n1, &err), 0);
    CHECK_INT(store_log_interaction(s, &n2, &err), 0);
    double now = clock_wall_s();
    CHECK_INT(store_cache_put(s, "expired", "m", "{\"x\":1}", now - 100, 10, &err), 0);
    CHECK_INT(store_cache_put(s, "fresh", "m", "{\"x\":2}", now, 3600, &err), 0);
    CHECK_INT(store_cache_put(s, "forever", "m", "{\"x\":3}", now - 100, 0, &err), 0);
    CHECK_INT(store_audit(s, "config", NULL, NULL, "an old event", &err), 0);
    CHECK_INT(raw_exec("INSERT INTO system_config (key, value, updated_at) VALUES ('k', 'v', 1)"), 0);
    store_scope scope[] = {{"day:2025-11-25", 5.0}};
    char r[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, scope, 1, 1.0, r, sizeof r, NULL, &err), 0);
    CHECK_INT(store_budget_settle(s, r, 0.875, &err), 0);
    long long kept_before[6], kept_after[6];
    kept_tables(kept_before);
    store_filter since = {.since = T0 + 50};
    char stats_kept[4096];
    snprintf(stats_kept, sizeof stats_kept, "%s",
             picked(s, store_query_stats, &since, "calls,input,output,cost_usd,errors"));
    CHECK_STR(stats_kept, "2|200|20|0.1875|0\n");

    /* A dry run counts what would go and changes nothing. */
    store_pruned p;
    CHECK_INT(store_prune(s, T0 + 50, 0, 1, &p, &err), 0);
    check_counts(&p, 2, 1, 1, 0, __LINE__);
    CHECK(p.part_bytes > (long long)strlen(a));
    CHECK(p.interaction_bytes > 0);
    CHECK_INT(p.cache_bytes, 7);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 4);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache"), 3);

    /* The prune does what the dry run said. */
    store_pruned d;
    CHECK_INT(store_prune(s, T0 + 50, 0, 0, &d, &err), 0);
    check_counts(&d, 2, 1, 1, 0, __LINE__);
    CHECK_INT(d.part_bytes, p.part_bytes);
    CHECK_INT(d.interaction_bytes, p.interaction_bytes);
    CHECK_INT(d.cache_bytes, p.cache_bytes);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id IN ('new1', 'new2')"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache WHERE key IN ('fresh', 'forever')"), 2);
    /* What stays reads back byte for byte, and counts as before. */
    check_request(s, "new1", bb, __LINE__);
    check_request(s, "new2", "plain", __LINE__);
    store_filter all = {0};
    CHECK_STR(picked(s, store_query_stats, &all, "calls,input,output,cost_usd,errors"), stats_kept);
    kept_tables(kept_after);
    for (int i = 0; i < 6; i++)
        CHECK_INT(kept_after[i], kept_before[i]);
    CHECK_NEAR(raw_real("SELECT spent_usd FROM budgets WHERE scope = 'day:2025-11-25'"), 0.875, 1e-9);

    /* Nothing more to do: a second prune removes nothing. */
    CHECK_INT(store_prune(s, T0 + 50, 0, 0, &d, &err), 0);
    check_counts(&d, 0, 0, 0, 0, __LINE__);
    /* A time before every row removes no row. */
    CHECK_INT(store_prune(s, T0, 0, 0, &d, &err), 0);
    check_counts(&d, 0, 0, 0, 0, __LINE__);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 2);
    free(a);
    free(b);
    free(ba);
    free(bb);
}

/* More rows than one write deletes: every one before the time goes, none after. */
static void test_pieces(store_db *s)
{
    error_info err = cleared_error();
    char *sys = repeat("A system prompt every call of the run shares. ", 10);
    const char *q[] = {"q"};
    char *bo = body(sys, q, 1, 0, NULL);
    CHECK_INT(store_batch_begin(s, &err), 0);
    char id[32];
    for (int i = 0; i < 2500; i++) {
        snprintf(id, sizeof id, "c%04d", i);
        interaction_rec it = call(id, T0 + i, i % 2 ? bo : "short", 0.001);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 2500);
    store_pruned p;
    CHECK_INT(store_prune(s, T0 + 2100, 0, 0, &p, &err), 0);
    check_counts(&p, 2100, 0, 0, 0, __LINE__);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 400);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM llm_interactions WHERE created_at < %.1f", T0 + 2100);
    CHECK_INT(raw_int(sql), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 1);
    check_request(s, "c2101", bo, __LINE__);
    /* The last rows named the part: it goes with them. */
    CHECK_INT(store_prune(s, T0 + 10000, 0, 0, &p, &err), 0);
    check_counts(&p, 400, 1, 0, 0, __LINE__);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 0);
    free(sys);
    free(bo);
}

/* A batch stays whole, its rows and its logged results, until every result is logged and its
 * reservations are settled: `nyx batch results` would log again a result it did not find. */
static void test_batches(store_db *s)
{
    error_info err = cleared_error();
    store_scope scope[] = {{"session:b", 1.0}};
    char r1[STORE_RESERVATION_ID_SIZE], r2[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, scope, 1, 0.25, r1, sizeof r1, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, scope, 1, 0.25, r2, sizeof r2, NULL, &err), 0);
    store_batch_request reqs[] = {
        {.custom_id = "a", .session = "b", .reservation_id = r1, .reserved_usd = 0.25},
        {.custom_id = "b", .session = "b", .reservation_id = r2, .reserved_usd = 0.25},
    };
    CHECK_INT(store_batch_create(s, "nb_1", NULL, clock_wall_s() + 86400, 1, reqs, 2, &err), 0);
    interaction_rec plain = make("plain", 0);
    CHECK_INT(store_log_interaction(s, &plain, &err), 0);
    interaction_rec ra = batch_result("ra", "a", 0.125), rb = batch_result("rb", "b", 0.125);
    CHECK_INT(store_log_interaction(s, &ra, &err), 0);
    double later = clock_wall_s() + 3600;
    store_pruned p;
    /* One result still to come: the batch and its result stay. */
    CHECK_INT(store_prune(s, later, 0, 1, &p, &err), 0);
    check_counts(&p, 1, 0, 0, 0, __LINE__);
    CHECK_INT(store_prune(s, later, 0, 0, &p, &err), 0);
    check_counts(&p, 1, 0, 0, 0, __LINE__);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'ra'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batch_requests"), 2);
    /* Every result logged, the reservations not settled yet: it stays. */
    CHECK_INT(store_log_interaction(s, &rb, &err), 0);
    CHECK_INT(store_prune(s, later, 0, 0, &p, &err), 0);
    check_counts(&p, 0, 0, 0, 0, __LINE__);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 2);
    /* Settled: the batch goes whole, and a time before its results keeps it. */
    int settled = 0;
    CHECK_INT(store_batch_settle(s, "nb_1", &settled, &err), 0);
    CHECK_INT(settled, 2);
    CHECK_INT(store_prune(s, clock_wall_s() - 3600, 0, 0, &p, &err), 0);
    check_counts(&p, 0, 0, 0, 0, __LINE__);
    CHECK_INT(store_prune(s, later, 0, 1, &p, &err), 0);
    check_counts(&p, 2, 0, 0, 1, __LINE__);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batches"), 1);
    CHECK_INT(store_prune(s, later, 0, 0, &p, &err), 0);
    check_counts(&p, 2, 0, 0, 1, __LINE__);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batches"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batch_requests"), 0);
    CHECK_NEAR(raw_real("SELECT spent_usd FROM budgets WHERE scope = 'session:b'"), 0.25, 1e-9);
}

static void test_invalid(store_db *s)
{
    error_info err = cleared_error();
    store_pruned p;
    CHECK_INT(store_prune(NULL, T0, 0, 0, &p, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_prune(s, NAN, 0, 0, &p, &err), -1);
    CHECK_INT(store_prune(s, T0, 0, 0, NULL, &err), -1);
}

CONFORMANCE_SUITE("store-prune",
    {"prune", .on_db = test_prune},
    {"pieces", .on_db = test_pieces},
    {"batches", .on_db = test_batches},
    {"invalid", .on_db = test_invalid})
