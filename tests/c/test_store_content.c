/* engine/store, requests in parts (store_content.h), what is SQLite's or no backend's: the cut
 * and the join give back every byte, and a SQLite database of schema 5 is converted without
 * losing or changing a row. Through the store on both backends: tests/store/conformance_content.c. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "request_body.h"
#include "../store/conformance.h"
#include "store/store.h"
#include "store/store_content.h"
#include "store/store_sqlite.h"


/* ---- the cut and the join, alone ---- */

typedef struct pieces_at {
    const store_parts *p;
    int fetched;
} pieces_at;

static int fetch_piece(void *ud, const char *hash, char **out, error_info *err)
{
    pieces_at *a = ud;
    for (size_t i = 0; i < a->p->n; i++)
        if (strcmp(a->p->pieces[i].hash, hash) == 0) {
            *out = malloc(a->p->pieces[i].len + 1);
            memcpy(*out, a->p->pieces[i].text, a->p->pieces[i].len);
            (*out)[a->p->pieces[i].len] = '\0';
            a->fetched++;
            return 0;
        }
    error_set(err, "not_found", 0, "no piece %s", hash);
    return -1;
}

/* Splits text with memo and joins it again: the same bytes. Returns the number of distinct
 * parts. */
static int round_trip_with(store_content_memo *m, const char *text, int line)
{
    store_parts p;
    if (store_content_split(m, text, &p) != 0) {
        check_fail_at(__FILE__, line);
        fprintf(stderr, "split failed\n");
        return -1;
    }
    int n = (int)p.n;
    if (p.recipe) {
        pieces_at at = {&p, 0};
        char *joined = NULL;
        error_info err = cleared_error();
        CHECK_INT(store_content_join(p.recipe, fetch_piece, &at, &joined, &err), 0);
        if (!joined || strcmp(joined, text) != 0) {
            check_fail_at(__FILE__, line);
            fprintf(stderr, "the join differs from the text\n");
        }
        free(joined);
    }
    store_parts_free(&p);
    return n;
}

/* The same with a memo of its own. */
static int round_trip(const char *text, int line)
{
    store_content_memo memo = {0};
    int n = round_trip_with(&memo, text, line);
    store_content_memo_free(&memo);
    return n;
}

/* One memo for request after request (a store's): the head before the first part, escaped once
 * and kept, is used again only for the very same bytes; heads as long but different, heads
 * with escapes and a head too long to keep each come back as they were. */
static void test_heads(void)
{
    char *sys = repeat("You are the support desk of a large library. ", 40);
    char *ones = repeat("1,", 200); /* a head of over STORE_CONTENT_MIN bytes, not kept */
    const char *heads[] = {
        "{\"model\":\"claude-a\",\"system\":", "{\"model\":\"claude-b\",\"system\":",
        "{\"model\":\"claude-a\",\"system\":", "{\"model\":\"c\\\"a\\n\",\"system\":",
        NULL, "{\"model\":\"claude-b\",\"system\":", "{\"model\":\"claude-a\",\"system\":",
    };
    store_content_memo memo = {0};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        size_t n = strlen(ones) + strlen(sys) + 128;
        char *text = malloc(n);
        REQUIRE(text != NULL);
        if (heads[i])
            snprintf(text, n, "%s\"%s\",\"messages\":[\"question %zu\"]}", heads[i], sys, i);
        else
            snprintf(text, n, "{\"x\":[%s0],\"system\":\"%s\",\"messages\":[\"q\"]}", ones, sys);
        CHECK_INT(round_trip_with(&memo, text, __LINE__), 1);
        free(text);
    }
    store_content_memo_free(&memo);
    free(ones);
    free(sys);
}

static void test_cut_and_join(void)
{
    char *sys = repeat("You are the support desk of a large library. ", 60);
    char *ctx = repeat("Chapter one, in which nothing happens at length. ", 20);
    const char *one[] = {"What time is it?"};
    char *b = body(sys, one, 1, 0, NULL);
    CHECK_INT(round_trip(b, __LINE__), 1); /* the system prompt; the question stays inline */
    free(b);

    /* The same context twice in one request: one part, named twice. */
    const char *twice[] = {ctx, "ok", ctx};
    b = body(sys, twice, 3, 1, "[{\"name\":\"search\",\"description\":\"finds\","
                               "\"input_schema\":{\"type\":\"object\",\"properties\":{\"q\":"
                               "{\"type\":\"string\",\"description\":\"the words to look for, in "
                               "any order, as the reader typed them; quotes keep a phrase together;"
                               " a minus sign before a word leaves it out; an asterisk ends a "
                               "prefix; case does not matter; accents do; up to 40 words; a longer "
                               "query is cut at the 40th word\"}}}}]");
    CHECK_INT(round_trip(b, __LINE__), 3); /* system, the context, the tool list */
    free(b);

    /* More cuts than the cutter and the recipe's nodes have room for on the stack (8 cuts), and
     * more of the request's own bytes than its strings' room there (1 KB): the same round trip. */
    const char *many[25];
    for (int i = 0; i < 25; i++)
        many[i] = i % 2 ? "a short answer that stays inline, as most turns of a chat do" : ctx;
    b = body(sys, many, 25, 0, NULL);
    CHECK_INT(round_trip(b, __LINE__), 2); /* the system prompt, the context named 13 times */
    free(b);

    /* Text nyx did not write: spaces, escapes cJSON would write otherwise, not JSON at all,
     * too short to share. Every byte comes back, cut or not. */
    char *odd = malloc(strlen(sys) + 200);
    sprintf(odd, "{ \"system\" : \"caf\\u00e9 \\/ %s\", \"messages\": [ ] }", sys);
    round_trip(odd, __LINE__);
    sprintf(odd, "{\"system\":\"%s\", \"x\": \"\\u00e9\\t\\u0001\"}", sys);
    CHECK_INT(round_trip(odd, __LINE__), 1);
    free(odd);
    CHECK_INT(round_trip(sys, __LINE__), 0);
    CHECK_INT(round_trip("{\"system\":\"short\"}", __LINE__), 0);
    CHECK_INT(round_trip("not json \xff\xfe at all, but long enough to be considered", __LINE__), 0);

    /* A recipe that is not one nyx wrote is refused, not read as something else. */
    error_info err = cleared_error();
    char *out = NULL;
    pieces_at none = {NULL, 0};
    CHECK_INT(store_content_join("{\"ref\":1}", fetch_piece, &none, &out, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK(out == NULL);
    free(sys);
    free(ctx);
}

static void test_hash(void)
{
    store_content_memo memo = {0};
    char h[STORE_HASH_HEX];
    store_content_hash(NULL, "abc", 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    store_content_hash(&memo, "abc", 3, h); /* computed, then remembered */
    store_content_hash(&memo, "abc", 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    store_content_hash(&memo, "abd", 3, h);
    CHECK_STR(h, "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9");
    store_content_memo_free(&memo);
}

/* Content addresses are stored in databases: whatever library computes them, they must stay
 * SHA-256's. FIPS 180-2's examples (empty, one block, two blocks, a million 'a', many blocks)
 * and the lengths around the padding's edge (55 bytes pad into one block, 56 and 64 into two). */
static void test_hash_vectors(void)
{
    static const struct {
        size_t len;
        const char *text; /* NULL: len times 'a' */
        const char *sha256;
    } v[] = {
        {0, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {3, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {56, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {55, NULL, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, NULL, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {64, NULL, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {1000000, NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    char *as = malloc(1000000);
    CHECK(as != NULL);
    if (!as)
        return;
    memset(as, 'a', 1000000);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char h[STORE_HASH_HEX];
        store_content_hash(NULL, v[i].text ? v[i].text : as, v[i].len, h);
        CHECK_STR(h, v[i].sha256);
    }
    free(as);
}

/* The quick hashes a caller passes along with a text (the redaction memo's spans): with true
 * spans, the parts and the recipe are those of the cut that hashes everything itself; and a
 * cut that is exactly a span takes the span's hash instead of hashing (shown by a span that
 * names another text's hash, remembered before: the part is filed under that text's address,
 * which can only happen when the span is used). */
static void test_known_spans(void)
{
    char *sys = repeat("You are the support desk of a large library. ", 40);
    char *ctx = repeat("In chapter one nothing happens, at length... ", 40); /* as long */
    CHECK_INT(strlen(sys), strlen(ctx));
    size_t n = strlen(sys) + strlen(ctx) + 100;
    char *text = malloc(n);
    snprintf(text, n, "{\"system\":\"%s\",\"messages\":[\"%s\",\"short\"]}", sys, ctx);
    size_t len = strlen(sys) + 2, s_at = 10, c_at = (size_t)(strstr(text, ctx) - 1 - text);
    CHECK(text[s_at] == '"' && text[c_at] == '"');
    hashed_span span[2] = {{s_at, len, quick_hash_of(text + s_at, len)}, {c_at, len, quick_hash_of(text + c_at, len)}};
    store_content_memo memo = {0}, plain_memo = {0};
    store_parts known, plain;
    CHECK_INT(store_content_split_known(&memo, text, strlen(text), span, 2, &known), 0);
    CHECK_INT(store_content_split(&plain_memo, text, &plain), 0);
    CHECK(known.recipe && plain.recipe && strcmp(known.recipe, plain.recipe) == 0);
    CHECK_INT(known.n, 2);
    CHECK_INT(plain.n, 2);
    for (size_t i = 0; i < known.n && i < plain.n; i++)
        CHECK_STR(known.pieces[i].hash, plain.pieces[i].hash);
    store_parts_free(&known);
    /* The span of the context with the system prompt's hash: taken as it is. */
    span[1].h = span[0].h;
    CHECK_INT(store_content_split_known(&memo, text, strlen(text), span, 2, &known), 0);
    CHECK_INT(known.n, 1);
    /* A span that is not exactly a cut is not used. */
    span[1].len--;
    store_parts_free(&known);
    CHECK_INT(store_content_split_known(&memo, text, strlen(text), span, 2, &known), 0);
    CHECK_INT(known.n, 2);
    if (known.n == 2 && plain.n == 2)
        CHECK_STR(known.pieces[1].hash, plain.pieces[1].hash);
    store_parts_free(&known);
    /* A known span that opens and closes with a quote is one whole string, not read for its
     * end: a quote inside it (which its maker would have escaped) does not end it. Without the
     * span, the string read ends at that quote, and the part is shorter. */
    char *two = malloc(2 * n);
    snprintf(two, 2 * n, "{\"s\":\"%s\"%s\",\"q\":\"x\"}", sys, ctx);
    hashed_span whole = {5, strlen(sys) + strlen(ctx) + 3, {0, 0}};
    whole.h = quick_hash_of(two + 5, whole.len);
    CHECK(two[5] == '"' && two[5 + whole.len - 1] == '"');
    CHECK_INT(store_content_split_known(&memo, two, strlen(two), &whole, 1, &known), 0);
    CHECK_INT(known.n, 1);
    CHECK_INT(known.n ? known.pieces[0].len : 0, whole.len);
    store_parts_free(&known);
    CHECK_INT(store_content_split_known(&memo, two, strlen(two), NULL, 0, &known), 0);
    CHECK(known.n >= 1 && known.pieces[0].len == strlen(sys) + 2);
    store_parts_free(&known);
    free(two);
    store_parts_free(&plain);
    store_content_memo_free(&memo);
    store_content_memo_free(&plain_memo);
    free(text);
    free(sys);
    free(ctx);
}

typedef struct lines {
    char *text;
} lines;

static int take_lines(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types)
{
    (void)types;
    (void)names;
    lines *l = ud;
    size_t cap = 1 << 20, n = 0;
    l->text = calloc(1, cap);
    for (int c = 0; c < ncols; c++)
        n += (size_t)snprintf(l->text + n, cap - n, "%s\n", values[c] ? values[c] : "(null)");
    return 0;
}

/* ---- parts written in a batch ---- */

/* In a batch a part is written once, later records of the batch finding it remembered; what the
 * batch remembers is forgotten at any other write: a part deleted by a script's own SQL in the
 * batch is written again by the next record that needs it, and that record reads back whole. */
static void test_batch_parts(store_db *s)
{
    error_info err = cleared_error();
    char *sys = repeat("You are the support desk of a large library. ", 40);
    size_t n = strlen(sys) + 100;
    char *text = malloc(n);
    snprintf(text, n, "{\"system\":\"%s\",\"messages\":[\"short\"]}", sys);
    interaction_rec it = make("bp-1", 0);
    it.prompt_text = text;
    CHECK_INT(store_batch_begin(s, &err), 0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    it.id = "bp-2";
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_content"), 1);
    store_stmt del = {NULL, "delete the parts", 0, NULL, "DELETE FROM llm_content"};
    CHECK_INT(store_exec_write(s, &del, NULL, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_content"), 0);
    it.id = "bp-3";
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_content"), 1);
    check_request(s, "bp-3", text, __LINE__);
    /* The next batch looks again: the part is there, not written twice. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it.id = "bp-4";
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_content"), 1);
    free(text);
    free(sys);
}

/* ---- a database of schema 5 (nyx before requests were stored in parts), converted ---- */

/* Every row as the exchange query of schema 5 showed it, one line per column. */
static char *old_exchange(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, " SQ_ISO("created_at") ", session, agent,"
                           " COALESCE(model_served, model_requested), status, error_type,"
                           " error_message, request_id, attempts, attempts_json, prompt_text,"
                           " response_text FROM llm_interactions WHERE id = ?1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        size_t cap = 1 << 20, n = 0;
        out = calloc(1, cap);
        for (int c = 0; c < 13; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            n += (size_t)snprintf(out + n, cap - n, "%s\n", v ? v : "(null)");
        }
    }
    sqlite3_finalize(st);
    return out;
}

static void test_migrate_v5(void)
{
    char fixture[600];
    snprintf(fixture, sizeof fixture, "%s/tests/data/store_v5.sql", NYX_SOURCE_DIR);
    char *sql = read_file(fixture, NULL);
    REQUIRE(sql != NULL);
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(db_uri, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    /* What schema 5 showed of every row, and how many rows each table held. */
    enum { MAXR = 64 };
    char *ids[MAXR], *before[MAXR];
    int n = 0;
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, "SELECT id FROM llm_interactions ORDER BY id", -1, &st, NULL), SQLITE_OK);
    while (n < MAXR && sqlite3_step(st) == SQLITE_ROW) {
        ids[n] = strdup((const char *)sqlite3_column_text(st, 0));
        before[n] = old_exchange(db, ids[n]);
        n++;
    }
    sqlite3_finalize(st);
    CHECK(n >= 9);
    const char *count_all =
        "SELECT (SELECT count(*) FROM llm_interactions) || ' ' || (SELECT count(*) FROM sessions)"
        " || ' ' || (SELECT count(*) FROM budgets) || ' ' || (SELECT count(*) FROM audit_events)"
        " || ' ' || (SELECT count(*) FROM thought_trees) || ' ' || (SELECT count(*) FROM prompt_templates)"
        " || ' ' || (SELECT total(input_tokens + output_tokens + cost_usd) FROM llm_interactions)";
    CHECK_INT(sqlite3_prepare_v2(db, count_all, -1, &st, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    char *counts = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    long long old_text = 0;
    CHECK_INT(sqlite3_prepare_v2(db, "SELECT total(length(prompt_text)) FROM llm_interactions", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        old_text = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);

    error_info err = cleared_error();
    store_db *s = open_db();
    if (!s)
        return;
    CHECK_INT(store_sqlite_migrations_applied(s), store_schema_latest() - 5);
    for (int i = 0; i < n; i++) {
        lines l = {NULL};
        CHECK_INT(store_query_exchange(s, ids[i], take_lines, &l, &err), 0);
        if (!l.text || strcmp(l.text, before[i]) != 0) {
            fprintf(stderr, "%s reads back otherwise after the migration:\n%s---\n%s\n", ids[i],
                    l.text ? l.text : "(none)", before[i]);
            check_failures++;
        }
        free(l.text);
        free(ids[i]);
        free(before[i]);
    }
    sqlite3_stmt *again = NULL;
    CHECK_INT(sqlite3_prepare_v2(store_sqlite_db(s), count_all, -1, &again, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(again), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(again, 0), counts);
    sqlite3_finalize(again);
    free(counts);
    /* The repeated prompts are parts now; the old column holds only what could not be cut,
     * and the pages the rest took are free for new rows. */
    CHECK(count_rows(s, "SELECT count(*) FROM llm_content") >= 3);
    CHECK(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE request_parts IS NOT NULL") >= 6);
    long long left = count_rows(s, "SELECT total(length(prompt_text)) FROM llm_interactions");
    fprintf(stderr, "request text held whole: %lld bytes before, %lld after\n", old_text, left);
    CHECK(left * 4 < old_text);
    CHECK(count_rows(s, "SELECT freelist_count FROM pragma_freelist_count") > 0);
    store_close(s);
}

BACKEND_SUITE("sqlite", "test_store_content",
    {"hash", .fn = test_hash},
    {"hash_vectors", .fn = test_hash_vectors},
    {"known_spans", .fn = test_known_spans},
    {"cut_and_join", .fn = test_cut_and_join},
    {"heads", .fn = test_heads},
    {"batch_parts", .on_db = test_batch_parts},
    {"migrate_v5", .fn = test_migrate_v5})
