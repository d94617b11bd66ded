/* engine/store's record of calls: every field of an interaction as stored, each record's own
 * values whatever came before it, queries with exact numbers (stats, log, usage, exchange,
 * thought trees), unknown prices, sessions, batches and whether an id is stored, on each
 * backend. */
#include "conformance.h"

/* Text PostgreSQL refuses in a UTF8 database (SQLite stores any bytes). */
static const char BAD_UTF8[] = "\xff\xfe not utf-8";

/* it has a known price: its cost, what it would have cost without the cache, the saving. */
static void price(interaction_rec *it, double cost, double without_cache, double saved)
{
    it->has_cost = 1;
    it->cost_usd = cost;
    it->cost_without_cache_usd = without_cache;
    it->saved_usd = saved;
}

/* ---- every field of an interaction, as stored ---- */

static const char *col(const char *id, const char *column, char *buf, size_t n)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT CAST(%s AS TEXT) FROM llm_interactions WHERE id = '%s'", column,
             id);
    return raw_text(sql, buf, n);
}

static double col_real(const char *id, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM llm_interactions WHERE id = '%s'", column, id);
    return raw_real(sql);
}

static void test_log_fields(store_db *s)
{
    error_info err = cleared_error();
    int64_t node = 0;
    CHECK_INT(store_thought_add(s, "sess", 0, "root", &node, &err), 0);
    char b[512], want[64];

    interaction_rec it = make("full", T0 + 0.125);
    it.session = "sess";
    it.agent = "agent-1";
    it.thought_id = node;
    it.template_name = "summarize";
    it.template_version = 3;
    it.request_id = "req_abc";
    it.model_requested = "claude-haiku-4-5";
    it.model_served = "claude-haiku-4-5-20251001";
    it.provider = "anthropic";
    it.usage.input_tokens = 11;
    it.usage.output_tokens = 22;
    it.usage.cache_creation_input_tokens = 33;
    it.usage.cache_read_input_tokens = 44;
    it.usage.has_cache_creation_detail = 1;
    it.usage.cache_creation_5m = 30;
    it.usage.cache_creation_1h = 3;
    price(&it, 0.00135, 0.0011, -0.00025);
    it.ttfb_ms = 120.5;
    it.latency_ms = 800.25;
    it.attempts = 2;
    it.attempts_json = "[{\"status\":529},{\"status\":200}]";
    it.status = "error";
    it.error_type = "overloaded_error";
    it.error_message = "Overloaded; it's \"busy\"";
    it.stop_reason = "end_turn";
    it.cache_hit = 1;
    it.from_response_cache = 1;
    it.prompt_text = "it's \"quoted\" \\ back, h\xc3\xa9llo, \xe6\x97\xa5\xe6\x9c\xac";
    it.response_text = "line1\nline2\ttab";
    CHECK_INT(store_log_interaction(s, &it, &err), 0);

    CHECK_NEAR(col_real("full", "created_at"), T0 + 0.125, 0);
    snprintf(want, sizeof want, "%lld", (long long)node);
    const struct {
        const char *column, *want;
    } stored[] = {
        {"session", "sess"}, {"agent", "agent-1"}, {"thought_id", want},
        {"template", "summarize"}, {"template_version", "3"}, {"request_id", "req_abc"},
        {"model_requested", "claude-haiku-4-5"}, {"model_served", "claude-haiku-4-5-20251001"},
        {"provider", "anthropic"}, {"input_tokens", "11"}, {"output_tokens", "22"},
        {"cache_creation_input_tokens", "33"}, {"cache_read_input_tokens", "44"},
        {"cache_creation_5m", "30"}, {"cache_creation_1h", "3"}, {"attempts", "2"},
        {"attempts_json", "[{\"status\":529},{\"status\":200}]"}, {"status", "error"},
        {"error_type", "overloaded_error"}, {"error_message", "Overloaded; it's \"busy\""},
        {"stop_reason", "end_turn"}, {"cache_hit", "1"}, {"from_response_cache", "1"},
        {"prompt_text", it.prompt_text}, {"response_text", "line1\nline2\ttab"},
    };
    for (size_t k = 0; k < sizeof stored / sizeof stored[0]; k++) {
        CHECK_ROW("column %s", stored[k].column);
        CHECK_STR(col("full", stored[k].column, b, sizeof b), stored[k].want);
    }
    CHECK_ROW_END();
    CHECK_NEAR(col_real("full", "cost_usd"), 0.00135, 0);
    CHECK_NEAR(col_real("full", "cost_without_cache_usd"), 0.0011, 0);
    CHECK_NEAR(col_real("full", "saved_usd"), -0.00025, 0);
    CHECK_NEAR(col_real("full", "ttfb_ms"), 120.5, 0);
    CHECK_NEAR(col_real("full", "latency_ms"), 800.25, 0);

    /* Unknown is NULL: the price (whatever cost_usd holds), the cache detail, a template
     * version without a name, times < 0, thought 0 and absent strings. */
    interaction_rec bare = make("bare", T0);
    bare.provider = NULL;
    bare.has_cost = 0;
    bare.cost_usd = 123;
    bare.cost_without_cache_usd = 124;
    bare.saved_usd = 1;
    bare.template_version = 7;
    bare.usage.cache_creation_5m = 5;
    bare.usage.cache_creation_1h = 6;
    CHECK_INT(store_log_interaction(s, &bare, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'bare' AND"
                      " cost_usd IS NULL AND cost_without_cache_usd IS NULL AND"
                      " saved_usd IS NULL AND ttfb_ms IS NULL AND latency_ms IS NULL AND"
                      " cache_creation_5m IS NULL AND cache_creation_1h IS NULL AND"
                      " template IS NULL AND template_version IS NULL AND thought_id IS NULL"
                      " AND session IS NULL AND agent IS NULL AND request_id IS NULL AND"
                      " model_requested IS NULL AND model_served IS NULL AND provider IS NULL"
                      " AND attempts_json IS NULL AND error_type IS NULL AND"
                      " error_message IS NULL AND stop_reason IS NULL AND prompt_text IS NULL"
                      " AND response_text IS NULL AND input_tokens = 0 AND output_tokens = 0"
                      " AND cache_hit = 0 AND from_response_cache = 0 AND attempts = 1 AND"
                      " status = 'ok'"),
              1);
    /* The cost stays NULL in the queries too (not 0). */
    rows r = {0};
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
    int i = find_row(&r, "bare");
    CHECK(i >= 0);
    CHECK(cell(&r, i, "cost") == NULL);
    CHECK(cell(&r, i, "latency_ms") == NULL);
    rows_free(&r);
    /* The usage for repricing: the same row, counts as stored, no breakdown, no cost. */
    CHECK_INT(store_query_usage(s, NULL, collect, &r, &err), 0);
    i = find_row(&r, "bare");
    CHECK(i >= 0);
    if (i >= 0) {
        CHECK_STR(cell(&r, i, "input"), "0");
        CHECK_STR(cell(&r, i, "output"), "0");
        CHECK(cell(&r, i, "cache_write_5m") == NULL && cell(&r, i, "cache_write_1h") == NULL);
        CHECK(cell(&r, i, "cost") == NULL);
        CHECK(strtod(cell(&r, i, "created_at"), NULL) > 0);
    }
    rows_free(&r);

    /* created_at <= 0: stamped now. */
    interaction_rec now = make("now", 0);
    CHECK_INT(store_log_interaction(s, &now, &err), 0);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM llm_interactions WHERE id = 'now' AND"
             " abs(created_at - %s) < 60", SQL_NOW);
    CHECK_INT(raw_int(sql), 1);
    interaction_rec cancelled = make("c", T0);
    cancelled.status = "cancelled";
    CHECK_INT(store_log_interaction(s, &cancelled, &err), 0);

    /* Where the backends differ by design: an id logged already. PostgreSQL's write is
     * idempotent (a write whose answer was lost with the connection is sent again), so this
     * succeeds; SQLite refuses it (a UNIQUE id, err NULL: no crash). Either way the first row
     * stays. */
    interaction_rec again = make("full", T0 + 99);
    again.session = "other";
    CHECK_INT(store_log_interaction(s, &again, NULL), is_pg ? 0 : -1);
    CHECK_STR(col("full", "session", b, sizeof b), "sess");
    CHECK_STR(col("full", "status", b, sizeof b), "error");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 4);

    if (is_pg) {
        /* A write the server refuses (SQLite takes any bytes): a clear store_error naming
         * the id and the database, never the URI. */
        interaction_rec bad = make("badutf", T0);
        bad.prompt_text = BAD_UTF8;
        error_clear(&err);
        CHECK_INT(store_log_interaction(s, &bad, &err), -1);
        CHECK_STR(err.type, "store_error");
        char prefix[200];
        snprintf(prefix, sizeof prefix,
                 "store: cannot log interaction badutf in PostgreSQL database %s on ", db_name);
        CHECK_CONTAINS(err.message, prefix);
        CHECK_CONTAINS(err.message, "invalid byte sequence");
        CHECK_INT(err.retryable, 0);
        CHECK(!contains(err.message, "postgresql://"));
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'badutf'"), 0);
        /* ...and the store goes on. */
        interaction_rec after = make("after", T0);
        CHECK_INT(store_log_interaction(s, &after, &err), 0);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'after'"), 1);
    }

    /* Argument checks are the public layer's. */
    interaction_rec inv = make("x", T0);
    inv.status = "maybe";
    error_clear(&err);
    CHECK_INT(store_log_interaction(s, &inv, &err), -1);
    CHECK_ERROR(err, "invalid_argument", "status \"maybe\" is not ok, error or cancelled");
    inv = make(NULL, T0);
    CHECK_INT(store_log_interaction(s, &inv, &err), -1);
    CHECK_CONTAINS(err.message, "it has no id");
    store_filter f = {.group_by = "colour"};
    error_clear(&err);
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), -1);
    CHECK_ERROR(err, "invalid_argument", "cannot group by \"colour\"");
    CHECK_INT(r.n, 0);
    CHECK_INT(store_query_log(s, NULL, NULL, NULL, &err), -1);
    int64_t id = 0;
    CHECK_INT(store_thought_add(s, NULL, -1, "neg", &id, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'x'"), 0);
    CHECK_INT(store_log_interaction(NULL, &inv, &err), -1);
    store_close(NULL);
    CHECK(store_backend_name(NULL) == NULL);
    error_clear(&err);
    CHECK(store_open_opts(NULL, NULL, &err) == NULL);
    CHECK_STR(err.type, "invalid_argument");
    CHECK(store_open_opts("", NULL, NULL) == NULL);
}

/* ---- each record its own values ---- */

/* The rows of llm_interactions whose id is LIKE like, in id order, each as fields (an SQL
 * expression giving text), joined by ' '. */
static const char *joined(const char *fields, const char *like, char *buf, size_t n)
{
    char sql[1024];
    if (is_pg)
        snprintf(sql, sizeof sql,
                 "SELECT string_agg(%s, ' ' ORDER BY id) FROM llm_interactions WHERE id LIKE '%s'",
                 fields, like);
    else
        snprintf(sql, sizeof sql,
                 "SELECT group_concat(%s, ' ') FROM (SELECT * FROM llm_interactions"
                 " WHERE id LIKE '%s' ORDER BY id)",
                 fields, like);
    return raw_text(sql, buf, n);
}

/* Each row reads back with its own values, whatever record came before it: a NULL after a
 * number, the number again, a text after a NULL, a record refused in between. (SQLite's
 * insert leaves a parameter bound when the next record holds the same NULL or number, and a
 * short text bound as the copy SQLite took.) */
static void test_values_per_record(store_db *s)
{
    error_info err = cleared_error();
    char got[512];
    struct { const char *id; int64_t thought; int has_cost; double cost; const char *etype; } recs[] = {
        {"v1", 7, 1, 0.25, NULL}, {"v2", 0, 0, 0, "overloaded_error"}, {"v3", 7, 1, 0.25, NULL},
        {"v1", 9, 1, 0.5, "api_error"}, /* a duplicate id: refused (PostgreSQL: taken as sent again) */
        {"v4", 9, 1, 0.5, NULL},  {"v5", 9, 0, 0, NULL},
    };
    for (size_t k = 0; k < sizeof recs / sizeof recs[0]; k++) {
        interaction_rec it = make(recs[k].id, T0 + (double)k);
        it.thought_id = recs[k].thought;
        it.has_cost = recs[k].has_cost;
        it.cost_usd = it.cost_without_cache_usd = recs[k].cost;
        it.error_type = recs[k].etype;
        it.status = recs[k].etype ? "error" : "ok";
        error_clear(&err);
        CHECK_INT(store_log_interaction(s, &it, &err), k == 3 && !is_pg ? -1 : 0);
    }
    CHECK_STR(joined("id || ':' || coalesce(CAST(thought_id AS TEXT), '-') || ':' ||"
                     " coalesce(CAST(cost_usd AS TEXT), '-') || ':' || coalesce(error_type, '-') || ':' || status",
                     "v%", got, sizeof got),
              "v1:7:0.25:-:ok v2:-:-:overloaded_error:error v3:7:0.25:-:ok v4:9:0.5:-:ok v5:9:-:-:ok");

    /* A short text records repeat (SQLite keeps it bound as the copy it took): the rows hold it
     * though the bytes of the records that gave it are gone; so do they a text that changes,
     * goes NULL and comes back, or outgrows the copies. */
    char model[8][64], stop[8][64]; /* each record's own */
    const char *models[] = {"claude-a", "claude-a", "claude-a", "claude-b", NULL, "claude-b",
                            "claude-a-model-with-a-name-longer-than-the-copies", "claude-a"};
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        char id[16];
        snprintf(id, sizeof id, "t%zu", k);
        interaction_rec it = make(id, T0 + 10 + (double)k);
        snprintf(model[k], sizeof model[k], "%s", models[k] ? models[k] : "");
        snprintf(stop[k], sizeof stop[k], "%s", k == 3 ? "max_tokens" : "end_turn");
        it.model_requested = models[k] ? model[k] : NULL;
        it.stop_reason = stop[k];
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        memset(model[k], 'X', sizeof model[k] - 1); /* the record's bytes are gone */
        memset(stop[k], 'X', sizeof stop[k] - 1);
    }
    CHECK_STR(joined("id || ':' || coalesce(model_requested, '-') || ':' || stop_reason", "t%", got,
                     sizeof got),
              "t0:claude-a:end_turn t1:claude-a:end_turn t2:claude-a:end_turn t3:claude-b:max_tokens"
              " t4:-:end_turn t5:claude-b:end_turn"
              " t6:claude-a-model-with-a-name-longer-than-the-copies:end_turn t7:claude-a:end_turn");
}

/* ---- queries with exact numbers (the fixture of test_store.c) ---- */

typedef struct fixture {
    int64_t root, a, g, b, other;
} fixture;

static void log_fixture(store_db *s, fixture *fx)
{
    error_info err = cleared_error();
    /* root -> a -> g, root -> b (session s1); other is a root in s2 */
    CHECK_INT(store_thought_add(s, "s1", 0, "plan", &fx->root, &err), 0);
    CHECK_INT(store_thought_add(s, "s1", fx->root, "research", &fx->a, &err), 0);
    CHECK_INT(store_thought_add(s, "s1", fx->a, "deep dive", &fx->g, &err), 0);
    CHECK_INT(store_thought_add(s, "s1", fx->root, "critique", &fx->b, &err), 0);
    CHECK_INT(store_thought_add(s, "s2", 0, "other", &fx->other, &err), 0);
    CHECK(fx->root > 0 && fx->a > fx->root && fx->g > fx->a && fx->b > fx->g);

    interaction_rec i1 = make("i1", T0);
    i1.session = "s1";
    i1.agent = "eng";
    i1.thought_id = fx->root;
    i1.model_requested = "claude-haiku-4-5";
    i1.model_served = "claude-haiku-4-5-20251001";
    i1.usage.input_tokens = 100;
    i1.usage.output_tokens = 50;
    i1.usage.cache_creation_input_tokens = 1000;
    i1.usage.cache_creation_5m = 1000;
    i1.usage.has_cache_creation_detail = 1;
    price(&i1, 0.00135, 0.0011, -0.00025);
    i1.ttfb_ms = 120.5;
    i1.latency_ms = 800.25;
    i1.stop_reason = "end_turn";
    i1.prompt_text = "hello";
    i1.response_text = "world";
    i1.request_id = "req_1";
    i1.attempts_json = "[{\"status\":200}]";
    i1.tool_calls = 2; /* the first iteration of a tool loop asked for two tools */
    i1.iteration = 1;

    interaction_rec i2 = make("i2", T0 + 1.5);
    i2.session = "s1";
    i2.agent = "eng";
    i2.thought_id = fx->g;
    i2.iteration = 2;
    i2.model_requested = "claude-haiku-4-5";
    i2.model_served = "claude-haiku-4-5-20251001";
    i2.usage.input_tokens = 10;
    i2.usage.output_tokens = 40;
    i2.usage.cache_read_input_tokens = 1000;
    price(&i2, 0.0003, 0.0012, 0.0009);
    i2.cache_hit = 1;
    i2.latency_ms = 300;

    interaction_rec i3 = make("i3", T0 + 3.25);
    i3.session = "s1";
    i3.agent = "critic";
    i3.thought_id = fx->b;
    i3.model_requested = "claude-mystery-9";
    i3.usage.input_tokens = 200;
    i3.usage.output_tokens = 100;
    i3.has_cost = 0;
    i3.cost_usd = 123; /* ignored: has_cost = 0 */
    i3.status = "error";
    i3.error_type = "overloaded_error";
    i3.error_message = "Overloaded";
    i3.attempts = 3;
    i3.latency_ms = 50;

    interaction_rec i4 = make("i4", T0 + 4);
    i4.session = "s2";
    i4.agent = "eng";
    i4.template_name = "summarize";
    i4.template_version = 2;
    i4.model_requested = "claude-haiku-4-5";
    i4.model_served = "claude-haiku-4-5-20251001";
    i4.usage.input_tokens = 5;
    i4.usage.output_tokens = 5;
    price(&i4, 0.00003, 0.00003, 0);
    i4.latency_ms = 10;

    const interaction_rec *all[] = {&i1, &i2, &i3, &i4};
    for (int k = 0; k < 4; k++) {
        int rc = store_log_interaction(s, all[k], &err);
        CHECK_INT(rc, 0);
        if (rc != 0)
            fprintf(stderr, "log %s: %s\n", all[k]->id, err.message);
    }
}

static void test_queries(store_db *s)
{
    error_info err = cleared_error();
    fixture fx;
    log_fixture(s, &fx);

    /* Stored as given: NULLs where unknown, detail columns only with detail. */
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'i3' AND"
                      " cost_usd IS NULL AND cost_without_cache_usd IS NULL AND"
                      " saved_usd IS NULL AND model_served IS NULL AND ttfb_ms IS NULL AND"
                      " cache_creation_5m IS NULL AND attempts = 3 AND"
                      " template IS NULL AND template_version IS NULL"),
              1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'i1' AND"
                      " cache_creation_5m = 1000 AND cache_creation_1h = 0 AND"
                      " ttfb_ms = 120.5 AND prompt_text = 'hello' AND"
                      " response_text = 'world' AND request_id = 'req_1' AND"
                      " provider = 'sim' AND stop_reason = 'end_turn' AND"
                      " attempts_json = '[{\"status\":200}]'"),
              1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'i4' AND"
                      " template = 'summarize' AND template_version = 2 AND"
                      " thought_id IS NULL"),
              1);
    /* A tool loop's calls: their tool calls and place in the loop; other calls none. */
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE (id = 'i1' AND tool_calls = 2 AND"
                      " iteration = 1) OR (id = 'i2' AND tool_calls = 0 AND iteration = 2) OR"
                      " (id = 'i4' AND tool_calls = 0 AND iteration IS NULL)"),
              3);

    /* Stats, not grouped: reals with a '.' on both backends. */
    rows r = {0};
    CHECK_INT(store_query_stats(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.ncols, 18);
    CHECK_STR(pick(&r, "tool_calls,iterations"), "2|2\n");
    CHECK_CONTAINS(colnames(&r), "group,calls,cache_hits,hit_rate,input,output,cache_read,"
                                 "cache_write,cost_usd,cost_without_cache_usd,saved_usd,"
                                 "unknown_cost_calls,errors");
    CHECK_STR(pick(&r, "group,calls,cache_hits,hit_rate,input,output,cache_read,cache_write,"
                       "cost_usd,cost_without_cache_usd,saved_usd,unknown_cost_calls,errors"),
              "total|4|1|0.25|315|195|1000|1000|0.00168|0.00233|0.00065|1|1\n");
    rows_free(&r);

    /* By model (the served model, else the requested one), session, agent, template; the log
     * and the usage by filter. */
    struct {
        store_query_fn query;
        store_filter f;
        const char *cols, *want;
    } queries[] = {
        {store_query_stats, {.group_by = "model"},
         "group,calls,unknown_cost_calls,cost_usd,hit_rate,input",
         "claude-haiku-4-5-20251001|3|0|0.00168|0.333333333333333|115\n"
         "claude-mystery-9|1|1|0.0|0.0|200\n"},
        {store_query_stats, {.group_by = "session"}, "group,calls", "s1|3\ns2|1\n"},
        {store_query_stats, {.session = "s1", .group_by = "agent"}, "group,calls,errors,output",
         "critic|1|1|100\neng|2|0|90\n"},
        /* no template: NULL sorts first */
        {store_query_stats, {.group_by = "template"}, "group,calls", "NULL|3\nsummarize@2|1\n"},
        {store_query_stats, {.group_by = "total"}, "group", "total\n"},
        /* since and last select the newest rows. */
        {store_query_stats, {.since = T0 + 3.0}, "calls,input", "2|205\n"},
        {store_query_stats, {.last = 3}, "calls,input", "3|215\n"},
        {store_query_stats, {.session = "s1", .since = T0 + 1.0, .group_by = "model"},
         "group,calls", "claude-haiku-4-5-20251001|1\nclaude-mystery-9|1\n"},
        /* A filter matching nothing still gives one total row of zeros. */
        {store_query_stats, {.session = "nobody"}, "calls,hit_rate,input,cost_usd",
         "0|0.0|0|0.0\n"},
        {store_query_log, {.last = 2}, "id", "i3\ni4\n"},
        {store_query_log, {.session = "s1", .last = 2}, "id", "i2\ni3\n"},
        {store_query_log, {.since = T0 + 1.5}, "id", "i2\ni3\ni4\n"},
        {store_query_usage, {.session = "s1"}, "id", "i1\ni2\ni3\n"},
    };
    for (size_t k = 0; k < sizeof queries / sizeof queries[0]; k++) {
        CHECK_ROW("query %zu, %s", k, queries[k].cols);
        CHECK_STR(picked(s, queries[k].query, &queries[k].f, queries[k].cols), queries[k].want);
    }
    CHECK_ROW_END();

    /* Log: newest last, ISO times, tokens of every kind, NULL cost when unknown. */
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
    CHECK_STR(colnames(&r), "id,created_at,session,agent,model,status,tokens,cache_read,cost,"
                            "latency_ms,error_type");
    CHECK_STR(pick(&r, colnames(&r)),
              "i1|2025-11-25T10:00:00.000Z|s1|eng|claude-haiku-4-5-20251001|ok|1150|0|0.00135|"
              "800.25|NULL\n"
              "i2|2025-11-25T10:00:01.500Z|s1|eng|claude-haiku-4-5-20251001|ok|1050|1000|0.0003|"
              "300.0|NULL\n"
              "i3|2025-11-25T10:00:03.250Z|s1|critic|claude-mystery-9|error|300|0|NULL|50.0|"
              "overloaded_error\n"
              "i4|2025-11-25T10:00:04.000Z|s2|eng|claude-haiku-4-5-20251001|ok|10|0|3.0e-05|"
              "10.0|NULL\n");
    rows_free(&r);
    /* A callback can stop the query. */
    r.stop_after = 1;
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 1);
    CHECK_INT(r.n, 1);
    rows_free(&r);

    /* Usage for repricing: every token kind, the 5m/1h breakdown (NULL without one), the
     * time as seconds. */
    CHECK_INT(store_query_usage(s, NULL, collect, &r, &err), 0);
    CHECK_STR(pick(&r, "id,model,input,output,cache_write,cache_write_5m,cache_write_1h,"
                       "cache_read,cost"),
              "i1|claude-haiku-4-5-20251001|100|50|1000|1000|0|0|0.00135\n"
              "i2|claude-haiku-4-5-20251001|10|40|0|NULL|NULL|1000|0.0003\n"
              "i3|claude-mystery-9|200|100|0|NULL|NULL|0|NULL\n"
              "i4|claude-haiku-4-5-20251001|5|5|0|NULL|NULL|0|3.0e-05\n");
    CHECK(strtod(cell(&r, 0, "created_at"), NULL) == T0);
    rows_free(&r);
    CHECK_INT(store_query_usage(s, NULL, NULL, NULL, &err), -1);

    /* The stored exchange of one call. */
    CHECK_INT(store_query_exchange(s, "i1", collect, &r, &err), 0);
    CHECK_STR(colnames(&r), "id,created_at,session,agent,model,status,error_type,"
                            "error_message,request_id,attempts,attempts_json,request,response");
    CHECK_STR(pick(&r, colnames(&r)),
              "i1|2025-11-25T10:00:00.000Z|s1|eng|claude-haiku-4-5-20251001|ok|NULL|NULL|req_1|"
              "1|[{\"status\":200}]|hello|world\n");
    rows_free(&r);
    CHECK_INT(store_query_exchange(s, "i3", collect, &r, &err), 0);
    CHECK_STR(pick(&r, "model,status,error_type,error_message,attempts,request"),
              "claude-mystery-9|error|overloaded_error|Overloaded|3|NULL\n");
    rows_free(&r);
    CHECK_INT(store_query_exchange(s, "nope", collect, &r, &err), 0);
    CHECK_INT(r.n, 0);
    error_clear(&err);
    CHECK_INT(store_query_exchange(s, NULL, collect, &r, &err), -1);
    CHECK_STR(err.type, "invalid_argument");

    /* Thoughts: parents before children, rolled up over each subtree. */
    CHECK_INT(store_query_thoughts(s, "s1", collect, &r, &err), 0);
    CHECK_STR(colnames(&r), "id,parent_id,label,calls,tokens,cost");
    char want[512];
    snprintf(want, sizeof want,
             "%lld|NULL|plan|3|2500|0.00165\n%lld|%lld|research|1|1050|0.0003\n"
             "%lld|%lld|deep dive|1|1050|0.0003\n"
             "%lld|%lld|critique|1|300|0.0\n", /* its one call had no known price */
             (long long)fx.root, (long long)fx.a, (long long)fx.root, (long long)fx.g,
             (long long)fx.a, (long long)fx.b, (long long)fx.root);
    CHECK_STR(pick(&r, colnames(&r)), want);
    rows_free(&r);
    CHECK_INT(store_query_thoughts(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 5);
    snprintf(want, sizeof want, "%lld", (long long)fx.other);
    CHECK_INT(find_row(&r, want), 4);
    CHECK_STR(cell(&r, 4, "calls"), "0");
    CHECK_STR(cell(&r, 4, "tokens"), "0");
    CHECK_STR(cell(&r, 4, "cost"), "0.0");
    rows_free(&r);

    /* An unknown parent is the caller's error; the store is unchanged. */
    int64_t bad = 0;
    error_clear(&err);
    CHECK_INT(store_thought_add(s, "s1", 9999, "orphan", &bad, &err), -1);
    CHECK_ERROR(err, "invalid_argument", "parent node 9999 does not exist");
    CHECK_INT(err.retryable, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM thought_trees"), 5);
}

/* Whether an id is stored (the import of spilled records leaves one stored already). */
static void test_exists(store_db *s)
{
    error_info err = cleared_error();
    int found = -1;
    CHECK_INT(store_interaction_exists(s, "there", &found, &err), 0);
    CHECK_INT(found, 0);
    interaction_rec it = make("there", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_interaction_exists(s, "there", &found, &err), 0);
    CHECK_INT(found, 1);
    CHECK_INT(store_interaction_exists(s, "the", &found, &err), 0);
    CHECK_INT(found, 0);
    CHECK_INT(store_interaction_exists(s, "", &found, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
}

static void test_unknown_cost(store_db *s)
{
    error_info err = cleared_error();
    const char *ids[] = {"u1", "u2", "u3", "k1"};
    for (int k = 0; k < 4; k++) {
        interaction_rec it = make(ids[k], T0 + k);
        it.model_requested = k < 3 ? "claude-new" : "claude-haiku-4-5";
        it.usage.input_tokens = 1000;
        it.usage.output_tokens = 1;
        if (k == 3)
            price(&it, 0.001005, 0.001005, 0);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_STR(picked(s, store_query_stats, NULL, "calls,unknown_cost_calls,cost_usd,input"),
              "4|3|0.001005|4000\n");
    store_filter f = {.group_by = "model"};
    CHECK_STR(picked(s, store_query_stats, &f, "group,unknown_cost_calls,cost_usd"),
              "claude-haiku-4-5|0|0.001005\nclaude-new|3|0.0\n");
    CHECK_STR(picked(s, store_query_log, NULL, "cost"), "NULL\nNULL\nNULL\n0.001005\n");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE cost_usd IS NULL"), 3);
}

/* ---- sessions ---- */

static void test_sessions(store_db *s)
{
    error_info err = cleared_error();
    double before = clock_wall_s();
    CHECK_INT(store_session_upsert(s, "s1", 1.0, &err), 0);
    CHECK_INT(store_session_upsert(s, "s1", -1, &err), 0); /* keeps the budget */
    fixture fx;
    log_fixture(s, &fx);
    CHECK_INT(raw_int("SELECT count(*) FROM sessions WHERE name = 's1' AND"
                      " ended_at IS NULL AND budget_usd = 1.0 AND calls = 0"),
              1);
    CHECK_INT(store_session_end(s, "s1", &err), 0);
    char b[64];
    CHECK_STR(raw_text("SELECT calls || ' ' || input_tokens || ' ' || output_tokens || ' ' ||"
                       " cache_read_tokens || ' ' || cache_write_tokens FROM sessions"
                       " WHERE name = 's1'", b, sizeof b),
              "3 310 190 1000 1000");
    CHECK_NEAR(raw_real("SELECT cost_usd FROM sessions WHERE name = 's1'"), 0.00165, 1e-15);
    CHECK_NEAR(raw_real("SELECT saved_usd FROM sessions WHERE name = 's1'"), 0.00065, 1e-15);
    CHECK_NEAR(raw_real("SELECT budget_usd FROM sessions WHERE name = 's1'"), 1.0, 0);
    double ended = raw_real("SELECT ended_at FROM sessions WHERE name = 's1'");
    CHECK(ended >= before && ended <= clock_wall_s() + 1);
    double started = raw_real("SELECT started_at FROM sessions WHERE name = 's1'");
    CHECK(started >= before && started <= ended);

    /* Reopening clears ended_at; a new budget replaces the old. */
    CHECK_INT(store_session_upsert(s, "s1", 2.5, &err), 0);
    CHECK_NEAR(raw_real("SELECT ended_at FROM sessions WHERE name = 's1'"), -2, 0);
    CHECK_NEAR(raw_real("SELECT budget_usd FROM sessions WHERE name = 's1'"), 2.5, 0);
    CHECK_NEAR(raw_real("SELECT started_at FROM sessions WHERE name = 's1'"), started, 0);

    /* Ending a session never upserted creates it from its interactions. */
    CHECK_INT(store_session_end(s, "s2", &err), 0);
    CHECK_INT(raw_int("SELECT calls FROM sessions WHERE name = 's2'"), 1);
    CHECK_NEAR(raw_real("SELECT started_at FROM sessions WHERE name = 's2'"), T0 + 4, 0);
    CHECK_NEAR(raw_real("SELECT budget_usd FROM sessions WHERE name = 's2'"), -2, 0);
    /* ...and one without any call, with zeros. */
    CHECK_INT(store_session_end(s, "empty", &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM sessions WHERE name = 'empty' AND calls = 0 AND"
                      " cost_usd = 0 AND input_tokens = 0 AND ended_at IS NOT NULL"),
              1);

    error_clear(&err);
    CHECK_INT(store_session_upsert(s, "", 1, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_session_end(s, NULL, &err), -1);
    CHECK_INT(raw_int("SELECT count(*) FROM sessions"), 3);
}

/* ---- batches ---- */

static void test_batch(void)
{
    store_db *s = open_db();
    if (!s)
        return;
    error_info err = cleared_error();
    char ids[3][8];
    CHECK_INT(store_batch_begin(s, &err), 0);
    for (int k = 0; k < 3; k++) {
        snprintf(ids[k], sizeof ids[k], "b%d", k);
        interaction_rec it = make(ids[k], T0 + k);
        it.session = "bs";
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(store_session_upsert(s, "bs", -1, &err), 0);
    /* Another connection does not see a SQLite batch before the commit. (A PostgreSQL
     * batch is pipelined: its writes go out as they are made.) */
    if (!is_pg)
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 0);
    error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), -1); /* no nesting */
    CHECK_ERROR(err, "store_error", "a batch is already open");
    CHECK_INT(store_batch_commit(s, &err), 0);
    /* ...and sees all of it after. */
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 3);
    CHECK_INT(raw_int("SELECT count(*) FROM sessions WHERE name = 'bs'"), 1);
    /* Answered; handed out (and forgotten: no callback) by the next pump. */
    store_pump(s);
    CHECK_INT(store_busy(s), 0);

    error_clear(&err);
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_ERROR(err, "store_error", "no batch is open");

    /* Where the backends differ by design: a SQLite batch is one transaction; a PostgreSQL
     * batch is pipelined, its writes sent as they are made. So SQLite rolls back, and a
     * failing write rolls the whole batch back and refuses the rest; PostgreSQL cannot roll
     * back, and a failing write fails alone, reported at the commit, the others committed. */
    interaction_rec it = make("gone", T0);
    CHECK_INT(store_batch_begin(s, &err), 0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    error_clear(&err);
    if (is_pg) {
        CHECK_INT(store_batch_rollback(s, &err), -1);
        CHECK_ERROR(err, "store_error", "cannot roll back a batch");
        CHECK(!contains(err.message, "postgresql://"));
        CHECK_INT(drive(s, 10), 0);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'gone'"), 1);
        CHECK_INT(store_batch_begin(s, &err), 0); /* the batch was closed all the same */
        CHECK_INT(store_batch_commit(s, &err), 0);

        CHECK_INT(store_batch_begin(s, &err), 0);
        it = make("ok1", T0);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        it = make("bad", T0);
        it.prompt_text = BAD_UTF8;
        CHECK_INT(store_log_interaction(s, &it, &err), 0); /* queued: the server answers later */
        it = make("ok2", T0);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        error_clear(&err);
        CHECK_INT(store_batch_commit(s, &err), -1);
        CHECK_ERROR(err, "store_error", "cannot log interaction bad in");
        CHECK_CONTAINS(err.message, "invalid byte sequence");
        CHECK_CONTAINS(err.message, "its other writes are committed");
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id IN ('ok1','ok2')"), 2);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'bad'"), 0);

        /* An id logged already is not a failure (idempotent writes), in a batch or not. */
        CHECK_INT(store_batch_begin(s, &err), 0);
        it = make("b0", T0 + 50);
        it.session = "elsewhere";
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        CHECK_INT(store_batch_commit(s, &err), 0);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'b0' AND"
                          " session = 'bs'"),
                  1);
    } else {
        CHECK_INT(store_batch_rollback(s, &err), 0);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'gone'"), 0);

        CHECK_INT(store_batch_begin(s, &err), 0);
        it = make("ok1", T0);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        it = make("b0", T0);
        error_clear(&err);
        CHECK_INT(store_log_interaction(s, &it, &err), -1);
        CHECK_ERROR(err, "store_error", "cannot log interaction b0 to");
        CHECK_CONTAINS(err.message, "UNIQUE constraint failed");
        CHECK_CONTAINS(err.message, "the batch (1 earlier writes) was rolled back");
        it = make("ok2", T0);
        error_clear(&err);
        CHECK_INT(store_log_interaction(s, &it, &err), -1);
        CHECK_CONTAINS(err.message, "batch was rolled back");
        error_clear(&err);
        CHECK_INT(store_batch_commit(s, &err), -1);
        CHECK_CONTAINS(err.message, "batch not committed");
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id IN ('ok1','ok2')"), 0);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'ok2'"), 1);
    }
    /* The next batch starts afresh. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("ok3", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'ok3'"), 1);

    /* More writes than one pipelined group (128): all of them, one commit call. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    int failed = 0;
    for (int k = 0; k < 300; k++) {
        char id[16];
        snprintf(id, sizeof id, "many%d", k);
        it = make(id, T0 + k);
        it.session = "many";
        failed += store_log_interaction(s, &it, &err) != 0;
    }
    CHECK_INT(failed, 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE session = 'many'"), 300);
    /* In the order given (the commit order, which --last relies on). */
    CHECK_INT(raw_int(dialect("SELECT count(*) FROM (SELECT id, row_number() OVER (ORDER BY"
                              " rowid) AS n FROM llm_interactions WHERE session = 'many') AS o"
                              " WHERE o.id = 'many' || (o.n - 1)",
                              "SELECT count(*) FROM (SELECT id, row_number() OVER (ORDER BY"
                              " seq) AS n FROM llm_interactions WHERE session = 'many') AS o"
                              " WHERE o.id = 'many' || (o.n - 1)")),
              300);

    /* A statement waited for inside a batch runs after the batch's earlier writes. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    for (int k = 0; k < 3; k++) {
        char id[16];
        snprintf(id, sizeof id, "end%d", k);
        it = make(id, T0 + k);
        it.session = "ending";
        it.usage.input_tokens = 10;
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(store_session_end(s, "ending", &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT calls * 100 + input_tokens FROM sessions WHERE name = 'ending'"),
              330);

    /* store_close commits an open batch. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("at_close", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    store_close(s);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'at_close'"), 1);
}

CONFORMANCE_SUITE("store-log",
    {"log_fields", .on_db = test_log_fields},
    {"values_per_record", .on_db = test_values_per_record},
    {"queries", .on_db = test_queries},
    {"unknown_cost", .on_db = test_unknown_cost},
    {"exists", .on_db = test_exists},
    {"sessions", .on_db = test_sessions},
    {"batch", .fn = test_batch})
