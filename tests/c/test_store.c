/* engine/store: schema and migrations, logging, queries with exact numbers, sessions,
 * thought trees, batches, durability across SIGKILL, and every failing-disk case
 * (read-only, locked, full) as a clear "store_error". */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "store_fixture.h"
#include "base/clock.h"
#include "store/store.h"
#include "store/store_sqlite.h"

#define T0 1764064800.0 /* 2025-11-25T10:00:00Z */


static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}


/* ---- collecting query rows ---- */

#define MAX_ROWS 64
#define MAX_COLS 16

typedef struct rows {
    int n, ncols;
    char *names[MAX_COLS];
    char *v[MAX_ROWS][MAX_COLS];
    int stop_after; /* > 0: ask the query to stop after this many rows */
} rows;

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

static int collect(void *ud, int ncols, const char *const *names, const char *const *values)
{
    rows *r = ud;
    if (r->n >= MAX_ROWS || ncols > MAX_COLS)
        return -1;
    if (r->n == 0) {
        r->ncols = ncols;
        for (int c = 0; c < ncols; c++)
            r->names[c] = dup_or_null(names[c]);
    }
    for (int c = 0; c < ncols; c++)
        r->v[r->n][c] = dup_or_null(values[c]);
    r->n++;
    return r->stop_after > 0 && r->n >= r->stop_after;
}

static void rows_free(rows *r)
{
    for (int c = 0; c < r->ncols; c++)
        free(r->names[c]);
    for (int i = 0; i < r->n; i++)
        for (int c = 0; c < r->ncols; c++)
            free(r->v[i][c]);
    memset(r, 0, sizeof *r);
}

/* The value in row i of column name; "(no such cell)" when absent, so checks fail loudly. */
static const char *cell(const rows *r, int i, const char *name)
{
    if (i >= r->n)
        return "(no such row)";
    for (int c = 0; c < r->ncols; c++)
        if (strcmp(r->names[c], name) == 0)
            return r->v[i][c];
    return "(no such column)";
}

static double num(const rows *r, int i, const char *name)
{
    const char *v = cell(r, i, name);
    return v ? strtod(v, NULL) : -999.0;
}

/* The row whose first column equals key, or -1. */
static int find_row(const rows *r, const char *key)
{
    for (int i = 0; i < r->n; i++)
        if (r->v[i][0] && key && strcmp(r->v[i][0], key) == 0)
            return i;
    return -1;
}

/* ---- reading the file behind the store's back ---- */

static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "raw_int(%s): %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static double raw_real(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    double v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_double(st, 0);
    else
        fprintf(stderr, "raw_real(%s): %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}


static nyx_interaction make(const char *id, double t)
{
    nyx_interaction it;
    memset(&it, 0, sizeof it);
    it.id = id;
    it.created_at = t;
    it.status = "ok";
    it.provider = "sim";
    it.attempts = 1;
    it.ttfb_ms = -1;
    it.latency_ms = -1;
    return it;
}

/* ---- schema and migrations ---- */

static void test_migrations(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "migrate.db");
    nyx_error err;
    nyx_error_clear(&err);

    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err.message);
        return;
    }
    CHECK_STR(store_backend_name(s), "sqlite");
    CHECK_INT(store_schema_version(s), store_schema_latest());
    CHECK_INT(store_schema_latest(), 6);
    CHECK_INT(store_sqlite_migrations_applied(s), store_schema_latest());
    CHECK_INT(store_is_readonly(s), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                            " ('llm_interactions','sessions','thought_trees','prompt_templates',"
                            " 'template_usage','budgets','budget_reservations','llm_cache',"
                            " 'audit_events','system_config','control')"),
              11);
    /* Only the indexes queries need: every other one costs each call a page (migration 4). */
    CHECK_INT(count_rows(s, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                            " ('llm_interactions_created_at','llm_interactions_session')"),
              1);
    nyx_interaction it = make("m1", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    int64_t node = 0;
    CHECK_INT(store_thought_add(s, "x", 0, "root", &node, &err), 0);
    store_close(s);

    CHECK_INT(raw_int(path, "PRAGMA user_version"), store_schema_latest());
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        CHECK_INT(sqlite3_step(st), SQLITE_ROW);
        CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
    }

    /* Reopen: nothing to migrate, the data is there, the schema untouched. */
    s = store_open(path, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(store_sqlite_migrations_applied(s), 0);
        CHECK_INT(store_schema_version(s), store_schema_latest());
        CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'm1'"), 1);
        CHECK_INT(count_rows(s, "SELECT count(*) FROM thought_trees"), 1);
        store_close(s);
    }
    CHECK_INT(raw_int(path, "PRAGMA user_version"), store_schema_latest());

    /* A database from a newer nyx is refused, not downgraded. */
    {
        sqlite3 *db = NULL;
        CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
        CHECK_INT(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    nyx_error_clear(&err);
    s = store_open(path, &err);
    CHECK(s == NULL);
    store_close(s);
    CHECK_STR(err.type, "store_error");
    char newer[80];
    snprintf(newer, sizeof newer, "schema version 99, newer than this nyx knows (%d)", store_schema_latest());
    CHECK_CONTAINS(err.message, newer);
    CHECK_CONTAINS(err.message, path);
}

/* Migration 2 moves a reservation from budget_reservations (one row per scope) into
 * budget_holds (one row), and it settles there. */
static void test_migration_2(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "v1.db");
    nyx_error err;
    nyx_error_clear(&err);
    store_close(store_open(path, &err));
    /* Back to version 1, holding a reservation made the version-1 way. */
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db,
                           "DROP TABLE budget_holds; DROP TABLE llm_batches; DROP TABLE llm_batch_requests;"
                           " DROP INDEX llm_interactions_batch; ALTER TABLE llm_interactions DROP COLUMN service_tier;"
                           " ALTER TABLE llm_interactions DROP COLUMN batch_id;"
                           " ALTER TABLE llm_interactions DROP COLUMN custom_id;"
                           " DROP TABLE llm_content; ALTER TABLE llm_interactions DROP COLUMN request_parts;"
                           " PRAGMA user_version = 1;"
                           " INSERT INTO budgets VALUES ('session:v1', 1.0, 0, 0.5, 0),"
                           " ('day:v1', 5.0, 0, 0.5, 0);"
                           " INSERT INTO budget_reservations VALUES"
                           " ('old', 'session:v1', 0.5, 100, 1, 'h'),"
                           " ('old', 'day:v1', 0.5, 100, 1, 'h')",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);

    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(store_schema_version(s), store_schema_latest());
    CHECK_INT(store_sqlite_migrations_applied(s), store_schema_latest() - 1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_reservations"), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds WHERE id = 'old' AND amount = 0.5"
                            " AND created_at = 100 AND pid = 1 AND host = 'h' AND"
                            " instr(scopes, 'session:v1') > 0 AND instr(scopes, 'day:v1') > 0"
                            " AND length(scopes) = length('session:v1') + 1 + length('day:v1')"),
              1);
    CHECK_INT(store_budget_settle(s, "old", 0.25, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budgets WHERE spent_usd = 0.25 AND"
                            " reserved_usd = 0 AND ((scope = 'day:v1' AND limit_usd = 5) OR"
                            " (scope = 'session:v1' AND limit_usd = 1))"),
              2);
    store_close(s);
}

/* Two processes opening one new file at once migrate it once: the second, having read
 * version 0, waits for the first's write lock, then sees version 1 and applies nothing. */
static void test_concurrent_migration(void)
{
    char ref[300], path[300];
    path_in_tmp(ref, sizeof ref, "ref.db");
    path_in_tmp(path, sizeof path, "race.db");
    int go[2];
    CHECK_INT(pipe(go), 0);
    /* Fork before any connection exists: SQLite's lock bookkeeping must not cross fork(). */
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        char byte;
        close(go[1]);
        if (read(go[0], &byte, 1) != 1) /* the parent holds the write lock now */
            _exit(12);
        nyx_error e;
        nyx_store *c = store_open(path, &e); /* reads version 0, then waits for the lock */
        if (!c) {
            fprintf(stderr, "concurrent open: %s\n", e.message);
            _exit(10);
        }
        int applied = store_sqlite_migrations_applied(c);
        int version = store_schema_version(c);
        store_close(c);
        _exit(applied == 0 && version == store_schema_latest() ? 0 : 11);
    }
    close(go[0]);
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(ref, &err); /* the schema, to copy */
    CHECK(s != NULL);
    sqlite3 *other = NULL;
    CHECK_INT(sqlite3_open(path, &other), SQLITE_OK);
    CHECK_INT(sqlite3_exec(other, "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE", NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(write(go[1], "g", 1), 1);
    close(go[1]);
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    /* Meanwhile "another process" migrates: the reference schema, then the version. */
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(store_sqlite_db(s),
                                 "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND"
                                 " name <> 'sqlite_sequence' ORDER BY rowid",
                                 -1, &st, NULL),
              SQLITE_OK);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        CHECK_INT(sqlite3_exec(other, (const char *)sqlite3_column_text(st, 0), NULL, NULL, NULL),
                  SQLITE_OK);
        n++;
    }
    sqlite3_finalize(st);
    CHECK(n >= 11);
    char version[64];
    snprintf(version, sizeof version, "PRAGMA user_version = %d; COMMIT", store_schema_latest());
    CHECK_INT(sqlite3_exec(other, version, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    store_close(s);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}

/* ---- log and query with exact numbers ---- */

typedef struct fixture {
    int64_t root, a, g, b, other;
} fixture;

static void log_fixture(nyx_store *s, fixture *fx)
{
    nyx_error err;
    nyx_error_clear(&err);
    /* root -> a -> g, root -> b (session s1); other is a root in s2 */
    CHECK_INT(store_thought_add(s, "s1", 0, "plan", &fx->root, &err), 0);
    CHECK_INT(store_thought_add(s, "s1", fx->root, "research", &fx->a, &err), 0);
    CHECK_INT(store_thought_add(s, "s1", fx->a, "deep dive", &fx->g, &err), 0);
    CHECK_INT(store_thought_add(s, "s1", fx->root, "critique", &fx->b, &err), 0);
    CHECK_INT(store_thought_add(s, "s2", 0, "other", &fx->other, &err), 0);
    CHECK(fx->root > 0 && fx->a > fx->root && fx->g > fx->a && fx->b > fx->g);

    nyx_interaction i1 = make("i1", T0);
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
    i1.has_cost = 1;
    i1.cost_usd = 0.00135;
    i1.cost_without_cache_usd = 0.0011;
    i1.saved_usd = -0.00025;
    i1.ttfb_ms = 120.5;
    i1.latency_ms = 800.25;
    i1.stop_reason = "end_turn";
    i1.prompt_text = "hello";
    i1.response_text = "world";
    i1.request_id = "req_1";
    i1.attempts_json = "[{\"status\":200}]";

    nyx_interaction i2 = make("i2", T0 + 1.5);
    i2.session = "s1";
    i2.agent = "eng";
    i2.thought_id = fx->g;
    i2.model_requested = "claude-haiku-4-5";
    i2.model_served = "claude-haiku-4-5-20251001";
    i2.usage.input_tokens = 10;
    i2.usage.output_tokens = 40;
    i2.usage.cache_read_input_tokens = 1000;
    i2.has_cost = 1;
    i2.cost_usd = 0.0003;
    i2.cost_without_cache_usd = 0.0012;
    i2.saved_usd = 0.0009;
    i2.cache_hit = 1;
    i2.latency_ms = 300;

    /* Unknown price: cost stays NULL and is counted apart. */
    nyx_interaction i3 = make("i3", T0 + 3.25);
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

    nyx_interaction i4 = make("i4", T0 + 4);
    i4.session = "s2";
    i4.agent = "eng";
    i4.template_name = "summarize";
    i4.template_version = 2;
    i4.model_requested = "claude-haiku-4-5";
    i4.model_served = "claude-haiku-4-5-20251001";
    i4.usage.input_tokens = 5;
    i4.usage.output_tokens = 5;
    i4.has_cost = 1;
    i4.cost_usd = 0.00003;
    i4.cost_without_cache_usd = 0.00003;
    i4.saved_usd = 0;
    i4.latency_ms = 10;

    const nyx_interaction *all[] = {&i1, &i2, &i3, &i4};
    for (int k = 0; k < 4; k++) {
        int rc = store_log_interaction(s, all[k], &err);
        CHECK_INT(rc, 0);
        if (rc != 0)
            fprintf(stderr, "log %s: %s\n", all[k]->id, err.message);
    }
}

static void test_log_and_query(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "query.db");
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    fixture fx;
    log_fixture(s, &fx);

    /* Stored as given: NULLs where unknown, detail columns only with detail. */
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'i3' AND"
                            " cost_usd IS NULL AND cost_without_cache_usd IS NULL AND"
                            " saved_usd IS NULL AND model_served IS NULL AND ttfb_ms IS NULL AND"
                            " cache_creation_5m IS NULL AND attempts = 3 AND"
                            " template IS NULL AND template_version IS NULL"),
              1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'i1' AND"
                            " cache_creation_5m = 1000 AND cache_creation_1h = 0 AND"
                            " ttfb_ms = 120.5 AND prompt_text = 'hello' AND"
                            " response_text = 'world' AND request_id = 'req_1' AND"
                            " provider = 'sim' AND stop_reason = 'end_turn' AND"
                            " attempts_json = '[{\"status\":200}]'"),
              1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'i4' AND"
                            " template = 'summarize' AND template_version = 2 AND"
                            " thought_id IS NULL"),
              1);

    /* Stats, not grouped. */
    rows r = {0};
    CHECK_INT(store_query_stats(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.ncols, 13);
    CHECK_STR(r.names[0], "group");
    CHECK_STR(cell(&r, 0, "group"), "total");
    CHECK_STR(cell(&r, 0, "calls"), "4");
    CHECK_STR(cell(&r, 0, "cache_hits"), "1");
    CHECK_STR(cell(&r, 0, "hit_rate"), "0.25");
    CHECK_STR(cell(&r, 0, "input"), "315");
    CHECK_STR(cell(&r, 0, "output"), "195");
    CHECK_STR(cell(&r, 0, "cache_read"), "1000");
    CHECK_STR(cell(&r, 0, "cache_write"), "1000");
    CHECK_STR(cell(&r, 0, "cost_usd"), "0.00168");
    CHECK_NEAR(num(&r, 0, "cost_usd"), 0.00168, 1e-15);
    CHECK_NEAR(num(&r, 0, "cost_without_cache_usd"), 0.00233, 1e-15);
    CHECK_NEAR(num(&r, 0, "saved_usd"), 0.00065, 1e-15);
    CHECK_STR(cell(&r, 0, "unknown_cost_calls"), "1");
    CHECK_STR(cell(&r, 0, "errors"), "1");
    rows_free(&r);

    /* By model: the served model, else the requested one. */
    store_filter f = {.group_by = "model"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    int h = find_row(&r, "claude-haiku-4-5-20251001");
    int m = find_row(&r, "claude-mystery-9");
    CHECK(h >= 0 && m >= 0);
    CHECK_STR(cell(&r, h, "calls"), "3");
    CHECK_STR(cell(&r, h, "unknown_cost_calls"), "0");
    CHECK_NEAR(num(&r, h, "cost_usd"), 0.00168, 1e-15);
    CHECK_NEAR(num(&r, h, "hit_rate"), 1.0 / 3.0, 1e-12);
    CHECK_STR(cell(&r, m, "calls"), "1");
    CHECK_STR(cell(&r, m, "unknown_cost_calls"), "1");
    CHECK_STR(cell(&r, m, "cost_usd"), "0.0");
    CHECK_STR(cell(&r, m, "input"), "200");
    rows_free(&r);

    /* By session, with a session filter, by agent, by template. */
    f = (store_filter){.group_by = "session"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK_STR(cell(&r, 0, "group"), "s1"); /* ordered by group */
    CHECK_STR(cell(&r, 0, "calls"), "3");
    CHECK_STR(cell(&r, 1, "group"), "s2");
    CHECK_STR(cell(&r, 1, "calls"), "1");
    rows_free(&r);

    f = (store_filter){.session = "s1", .group_by = "agent"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK_STR(cell(&r, 0, "group"), "critic");
    CHECK_STR(cell(&r, 0, "errors"), "1");
    CHECK_STR(cell(&r, 1, "group"), "eng");
    CHECK_STR(cell(&r, 1, "calls"), "2");
    CHECK_STR(cell(&r, 1, "output"), "90");
    rows_free(&r);

    f = (store_filter){.group_by = "template"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK(cell(&r, 0, "group") == NULL); /* no template: NULL sorts first */
    CHECK_STR(cell(&r, 0, "calls"), "3");
    CHECK_STR(cell(&r, 1, "group"), "summarize@2");
    CHECK_STR(cell(&r, 1, "calls"), "1");
    rows_free(&r);

    /* since and last select the newest rows. */
    f = (store_filter){.since = T0 + 3.0};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_STR(cell(&r, 0, "calls"), "2");
    CHECK_STR(cell(&r, 0, "input"), "205");
    rows_free(&r);
    f = (store_filter){.last = 3};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_STR(cell(&r, 0, "calls"), "3");
    CHECK_STR(cell(&r, 0, "input"), "215");
    rows_free(&r);

    /* A filter matching nothing still gives one total row of zeros. */
    f = (store_filter){.session = "nobody"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 1);
    CHECK_STR(cell(&r, 0, "calls"), "0");
    CHECK_STR(cell(&r, 0, "hit_rate"), "0.0");
    CHECK_STR(cell(&r, 0, "input"), "0");
    rows_free(&r);

    /* Log: newest last, ISO times, tokens of every kind, NULL cost when unknown. */
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 4);
    CHECK_INT(r.ncols, 11);
    CHECK_STR(r.names[0], "id");
    CHECK_STR(cell(&r, 0, "id"), "i1");
    CHECK_STR(cell(&r, 0, "created_at"), "2025-11-25T10:00:00.000Z");
    CHECK_STR(cell(&r, 0, "session"), "s1");
    CHECK_STR(cell(&r, 0, "agent"), "eng");
    CHECK_STR(cell(&r, 0, "model"), "claude-haiku-4-5-20251001");
    CHECK_STR(cell(&r, 0, "status"), "ok");
    CHECK_STR(cell(&r, 0, "tokens"), "1150");
    CHECK_STR(cell(&r, 0, "cache_read"), "0");
    CHECK_STR(cell(&r, 0, "cost"), "0.00135");
    CHECK_STR(cell(&r, 0, "latency_ms"), "800.25");
    CHECK(cell(&r, 0, "error_type") == NULL);
    CHECK_STR(cell(&r, 1, "id"), "i2");
    CHECK_STR(cell(&r, 1, "created_at"), "2025-11-25T10:00:01.500Z");
    CHECK_STR(cell(&r, 1, "tokens"), "1050");
    CHECK_STR(cell(&r, 1, "cache_read"), "1000");
    CHECK_STR(cell(&r, 2, "id"), "i3");
    CHECK_STR(cell(&r, 2, "created_at"), "2025-11-25T10:00:03.250Z");
    CHECK_STR(cell(&r, 2, "model"), "claude-mystery-9");
    CHECK_STR(cell(&r, 2, "status"), "error");
    CHECK(cell(&r, 2, "cost") == NULL);
    CHECK_STR(cell(&r, 2, "error_type"), "overloaded_error");
    CHECK_STR(cell(&r, 3, "id"), "i4");
    rows_free(&r);

    /* Usage for repricing: every token kind, the 5m/1h breakdown (NULL without one), the
     * time as seconds. */
    CHECK_INT(store_query_usage(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 4);
    CHECK_STR(cell(&r, 0, "id"), "i1");
    CHECK_STR(cell(&r, 0, "model"), "claude-haiku-4-5-20251001");
    CHECK(strtod(cell(&r, 0, "created_at"), NULL) == T0);
    CHECK_STR(cell(&r, 0, "input"), "100");
    CHECK_STR(cell(&r, 0, "output"), "50");
    CHECK_STR(cell(&r, 0, "cache_write"), "1000");
    CHECK_STR(cell(&r, 0, "cache_write_5m"), "1000");
    CHECK_STR(cell(&r, 0, "cache_write_1h"), "0");
    CHECK_STR(cell(&r, 0, "cache_read"), "0");
    CHECK_STR(cell(&r, 0, "cost"), "0.00135");
    CHECK(cell(&r, 1, "cache_write_5m") == NULL && cell(&r, 1, "cache_write_1h") == NULL);
    CHECK_STR(cell(&r, 1, "cache_read"), "1000");
    CHECK(cell(&r, 2, "cost") == NULL);
    rows_free(&r);
    f = (store_filter){.session = "s1"};
    CHECK_INT(store_query_usage(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 3);
    rows_free(&r);
    CHECK_INT(store_query_usage(s, NULL, NULL, NULL, &err), -1);

    f = (store_filter){.last = 2};
    CHECK_INT(store_query_log(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK_STR(cell(&r, 0, "id"), "i3");
    CHECK_STR(cell(&r, 1, "id"), "i4");
    rows_free(&r);
    f = (store_filter){.session = "s1", .last = 2};
    CHECK_INT(store_query_log(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK_STR(cell(&r, 0, "id"), "i2");
    CHECK_STR(cell(&r, 1, "id"), "i3");
    rows_free(&r);

    /* A callback can stop the query. */
    r.stop_after = 1;
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 1);
    CHECK_INT(r.n, 1);
    rows_free(&r);

    /* Thoughts: rolled up over each subtree. */
    CHECK_INT(store_query_thoughts(s, "s1", collect, &r, &err), 0);
    CHECK_INT(r.n, 4);
    CHECK_INT(r.ncols, 6);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)fx.root);
    int i = find_row(&r, id);
    CHECK_INT(i, 0);
    CHECK(cell(&r, i, "parent_id") == NULL);
    CHECK_STR(cell(&r, i, "label"), "plan");
    CHECK_STR(cell(&r, i, "calls"), "3");
    CHECK_STR(cell(&r, i, "tokens"), "2500");
    CHECK_NEAR(num(&r, i, "cost"), 0.00165, 1e-15);
    snprintf(id, sizeof id, "%lld", (long long)fx.a);
    i = find_row(&r, id);
    CHECK_INT(i, 1);
    CHECK_STR(cell(&r, i, "label"), "research");
    CHECK_STR(cell(&r, i, "calls"), "1");
    CHECK_STR(cell(&r, i, "tokens"), "1050");
    CHECK_NEAR(num(&r, i, "cost"), 0.0003, 1e-15);
    char parent[32];
    snprintf(parent, sizeof parent, "%lld", (long long)fx.root);
    CHECK_STR(cell(&r, i, "parent_id"), parent);
    snprintf(id, sizeof id, "%lld", (long long)fx.g);
    i = find_row(&r, id);
    CHECK_INT(i, 2);
    CHECK_STR(cell(&r, i, "calls"), "1");
    CHECK_STR(cell(&r, i, "tokens"), "1050");
    snprintf(id, sizeof id, "%lld", (long long)fx.b);
    i = find_row(&r, id);
    CHECK_INT(i, 3);
    CHECK_STR(cell(&r, i, "calls"), "1");
    CHECK_STR(cell(&r, i, "tokens"), "300");
    CHECK_STR(cell(&r, i, "cost"), "0.0"); /* its one call had no known price */
    rows_free(&r);

    CHECK_INT(store_query_thoughts(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 5);
    snprintf(id, sizeof id, "%lld", (long long)fx.other);
    i = find_row(&r, id);
    CHECK_INT(i, 4);
    CHECK_STR(cell(&r, i, "calls"), "0");
    CHECK_STR(cell(&r, i, "tokens"), "0");
    rows_free(&r);

    /* An unknown parent is the caller's error; the store is unchanged. */
    int64_t bad = 0;
    nyx_error_clear(&err);
    CHECK_INT(store_thought_add(s, "s1", 9999, "orphan", &bad, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_CONTAINS(err.message, "parent node 9999 does not exist");
    CHECK_INT(count_rows(s, "SELECT count(*) FROM thought_trees"), 5);

    store_close(s);
}

static void test_unknown_cost(void)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(":memory:", &err);
    CHECK(s != NULL);
    if (!s)
        return;
    /* Three calls with no known price and one with: the sums are the known one only. */
    const char *ids[] = {"u1", "u2", "u3", "k1"};
    for (int k = 0; k < 4; k++) {
        nyx_interaction it = make(ids[k], T0 + k);
        it.model_requested = k < 3 ? "claude-new" : "claude-haiku-4-5";
        it.usage.input_tokens = 1000;
        it.usage.output_tokens = 1;
        if (k == 3) {
            it.has_cost = 1;
            it.cost_usd = 0.001005;
            it.cost_without_cache_usd = 0.001005;
            it.saved_usd = 0;
        }
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    rows r = {0};
    CHECK_INT(store_query_stats(s, NULL, collect, &r, &err), 0);
    CHECK_STR(cell(&r, 0, "calls"), "4");
    CHECK_STR(cell(&r, 0, "unknown_cost_calls"), "3");
    CHECK_STR(cell(&r, 0, "cost_usd"), "0.001005");
    CHECK_STR(cell(&r, 0, "input"), "4000");
    rows_free(&r);
    store_filter f = {.group_by = "model"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK_STR(cell(&r, 0, "group"), "claude-haiku-4-5");
    CHECK_STR(cell(&r, 0, "unknown_cost_calls"), "0");
    CHECK_STR(cell(&r, 1, "group"), "claude-new");
    CHECK_STR(cell(&r, 1, "unknown_cost_calls"), "3");
    CHECK_STR(cell(&r, 1, "cost_usd"), "0.0");
    rows_free(&r);
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 4);
    CHECK(cell(&r, 0, "cost") == NULL);
    CHECK_STR(cell(&r, 3, "cost"), "0.001005");
    rows_free(&r);
    store_close(s);
}

/* ---- sessions ---- */

static void test_sessions(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "sessions.db");
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    double before = nyx_wall_s();
    CHECK_INT(store_session_upsert(s, "s1", 1.0, &err), 0);
    CHECK_INT(store_session_upsert(s, "s1", -1, &err), 0); /* keeps the budget */
    fixture fx;
    log_fixture(s, &fx);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM sessions WHERE name = 's1' AND"
                            " ended_at IS NULL AND budget_usd = 1.0 AND calls = 0"),
              1);
    CHECK_INT(store_session_end(s, "s1", &err), 0);
    CHECK_INT(raw_int(path, "SELECT calls FROM sessions WHERE name = 's1'"), 3);
    CHECK_INT(raw_int(path, "SELECT input_tokens FROM sessions WHERE name = 's1'"), 310);
    CHECK_INT(raw_int(path, "SELECT output_tokens FROM sessions WHERE name = 's1'"), 190);
    CHECK_INT(raw_int(path, "SELECT cache_read_tokens FROM sessions WHERE name = 's1'"), 1000);
    CHECK_INT(raw_int(path, "SELECT cache_write_tokens FROM sessions WHERE name = 's1'"), 1000);
    CHECK_NEAR(raw_real(path, "SELECT cost_usd FROM sessions WHERE name = 's1'"), 0.00165, 1e-15);
    CHECK_NEAR(raw_real(path, "SELECT saved_usd FROM sessions WHERE name = 's1'"), 0.00065, 1e-15);
    CHECK_NEAR(raw_real(path, "SELECT budget_usd FROM sessions WHERE name = 's1'"), 1.0, 0);
    double ended = raw_real(path, "SELECT ended_at FROM sessions WHERE name = 's1'");
    CHECK(ended >= before && ended <= nyx_wall_s() + 1);
    double started = raw_real(path, "SELECT started_at FROM sessions WHERE name = 's1'");
    CHECK(started >= before && started <= ended);

    /* Reopening clears ended_at; a new budget replaces the old. */
    CHECK_INT(store_session_upsert(s, "s1", 2.5, &err), 0);
    CHECK_NEAR(raw_real(path, "SELECT ended_at FROM sessions WHERE name = 's1'"), -2, 0);
    CHECK_NEAR(raw_real(path, "SELECT budget_usd FROM sessions WHERE name = 's1'"), 2.5, 0);

    /* Ending a session never upserted creates it from its interactions. */
    CHECK_INT(store_session_end(s, "s2", &err), 0);
    CHECK_INT(raw_int(path, "SELECT calls FROM sessions WHERE name = 's2'"), 1);
    CHECK_NEAR(raw_real(path, "SELECT started_at FROM sessions WHERE name = 's2'"), T0 + 4, 0);
    CHECK_NEAR(raw_real(path, "SELECT budget_usd FROM sessions WHERE name = 's2'"), -2, 0);

    nyx_error_clear(&err);
    CHECK_INT(store_session_upsert(s, "", 1, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    store_close(s);
}

/* ---- batches ---- */

static void test_batch(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "batch.db");
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    char ids[3][8];
    CHECK_INT(store_batch_begin(s, &err), 0);
    for (int k = 0; k < 3; k++) {
        snprintf(ids[k], sizeof ids[k], "b%d", k);
        nyx_interaction it = make(ids[k], T0 + k);
        it.session = "bs";
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(store_session_upsert(s, "bs", -1, &err), 0);
    /* Another connection does not see the batch before the commit... */
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions"), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), -1); /* no nesting */
    CHECK_CONTAINS(err.message, "a batch is already open");
    CHECK_INT(store_batch_commit(s, &err), 0);
    /* ...and sees all of it after. */
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions"), 3);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM sessions WHERE name = 'bs'"), 1);

    nyx_error_clear(&err);
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "no batch is open");

    /* Rollback keeps nothing. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    nyx_interaction it = make("gone", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_rollback(s, &err), 0);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions WHERE id = 'gone'"), 0);

    /* A failing write (duplicate id) rolls the whole batch back, refuses the rest, and the
     * commit says so; afterwards writes work again. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("ok1", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    it = make("b0", T0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "cannot log interaction b0 to");
    CHECK_CONTAINS(err.message, "UNIQUE constraint failed");
    CHECK_CONTAINS(err.message, "the batch (1 earlier writes) was rolled back");
    it = make("ok2", T0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_CONTAINS(err.message, "batch was rolled back");
    nyx_error_clear(&err);
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_CONTAINS(err.message, "batch not committed");
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions WHERE id IN ('ok1','ok2')"), 0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions WHERE id = 'ok2'"), 1);

    /* store_close commits an open batch. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("at_close", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    store_close(s);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions WHERE id = 'at_close'"), 1);
}

/* ---- argument checks ---- */

static void test_invalid(void)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(":memory:", &err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_STR(store_backend_name(s), "sqlite");
    CHECK_INT(store_schema_version(s), store_schema_latest());
    nyx_interaction it = make("x", T0);
    it.status = "maybe";
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_CONTAINS(err.message, "status \"maybe\" is not ok, error or cancelled");
    it = make(NULL, T0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_CONTAINS(err.message, "it has no id");
    it = make("c", T0);
    it.status = "cancelled";
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    it = make("now", 0); /* created_at 0: stamped now */
    double before = nyx_wall_s();
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'now' AND"
                        " created_at > 1.7e9") == 1);
    (void)before;

    rows r = {0};
    store_filter f = {.group_by = "colour"};
    nyx_error_clear(&err);
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_CONTAINS(err.message, "cannot group by \"colour\"");
    CHECK_INT(r.n, 0);
    CHECK_INT(store_query_log(s, NULL, NULL, NULL, &err), -1);
    CHECK_INT(store_log_interaction(NULL, &it, &err), -1);
    CHECK_INT(store_log_interaction(s, &it, NULL), -1); /* duplicate id, err NULL: no crash */
    store_close(s);
    store_close(NULL);
    CHECK(store_backend_name(NULL) == NULL);

    nyx_error_clear(&err);
    CHECK(store_open(NULL, &err) == NULL);
    CHECK_STR(err.type, "invalid_argument");
    CHECK(store_open("", NULL) == NULL);
}

/* ---- open failures ---- */

static void test_open_failures(void)
{
    nyx_error err;

    /* A PostgreSQL URI selects that backend (here, with nobody listening); the URI and its
     * password are not echoed. */
    const char *pg[] = {"postgresql://nyx:s3cret@127.0.0.1:1/nyx", "postgres://nyx:s3cret@127.0.0.1:1/nyx"};
    for (int k = 0; k < 2; k++) {
        nyx_error_clear(&err);
        CHECK(store_open(pg[k], &err) == NULL);
        CHECK_STR(err.type, "store_error");
#ifdef NYX_HAVE_PG
        CHECK_CONTAINS(err.message, "cannot connect to the PostgreSQL database");
#else
        CHECK_CONTAINS(err.message, "PostgreSQL backend not built");
#endif
        CHECK(!contains(err.message, "s3cret"));
    }

    /* A directory that does not exist. */
    nyx_error_clear(&err);
    CHECK(store_open("/nonexistent-nyx-dir/sub/nyx.db", &err) == NULL);
    CHECK_STR(err.type, "store_error");
    CHECK_STR(err.message,
              "store: cannot open /nonexistent-nyx-dir/sub/nyx.db: unable to open database file");

    /* A file that is not a database. */
    char path[300];
    path_in_tmp(path, sizeof path, "not-a-db.txt");
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        for (int k = 0; k < 200; k++)
            fputs("this is a text file, not a database\n", fp);
        fclose(fp);
    }
    nyx_error_clear(&err);
    CHECK(store_open(path, &err) == NULL);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, "file is not a database");

    /* ":memory:" works and forgets. */
    nyx_store *s = store_open(":memory:", &err);
    CHECK(s != NULL);
    if (s) {
        nyx_interaction it = make("mem", T0);
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        rows r = {0};
        CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
        CHECK_INT(r.n, 1);
        CHECK_STR(cell(&r, 0, "id"), "mem");
        rows_free(&r);
        store_close(s);
    }
}

/* ---- failing disk: read-only ---- */

/* Opens a read-only database, expects queries to work and writes to fail clearly. Returns
 * the number of failed checks (run in a child process when privileges are dropped). */
static int readonly_checks(const char *uri, const char *shown)
{
    int before = check_failures;
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(uri, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "read-only open: %s\n", err.message);
        return check_failures - before;
    }
    CHECK_INT(store_is_readonly(s), 1);
    rows r = {0};
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 1);
    rows_free(&r);

    nyx_interaction it = make("ro2", T0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    char want[512];
    snprintf(want, sizeof want,
             "store: cannot log interaction ro2 to %s: attempt to write a readonly database",
             shown);
    CHECK_STR(err.message, want);
    CHECK_INT(err.retryable, 0);

    int64_t id = 0;
    nyx_error_clear(&err);
    CHECK_INT(store_thought_add(s, NULL, 0, "t", &id, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "readonly");
    nyx_error_clear(&err);
    CHECK_INT(store_session_end(s, "x", &err), -1);
    CHECK_CONTAINS(err.message, "readonly");
    nyx_error_clear(&err);
    if (store_batch_begin(s, &err) == 0) { /* BEGIN may succeed; the first write fails */
        CHECK_INT(store_log_interaction(s, &it, &err), -1);
        CHECK_CONTAINS(err.message, "readonly");
        CHECK_INT(store_batch_commit(s, &err), -1);
    } else {
        CHECK_CONTAINS(err.message, "readonly");
    }
    /* Configuration reads; its writes, control flags and audit events fail clearly;
     * hearing of changes still works. */
    char *v = NULL;
    CHECK_INT(store_config_get(s, "k", &v, &err), 0);
    CHECK_STR(v, "v");
    free(v);
    nyx_error_clear(&err);
    CHECK_INT(store_config_set(s, "k", "w", &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "cannot set configuration key k in");
    CHECK_CONTAINS(err.message, "readonly");
    CHECK_INT(store_control_set(s, "stop", "x", &err), -1);
    CHECK_CONTAINS(err.message, "cannot set control flag stop in");
    CHECK_INT(store_audit(s, "stop", NULL, NULL, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "cannot record audit event stop in");
    int c = -1;
    CHECK_INT(store_changed(s, &c, &err), 0);
    CHECK_INT(c, 1);
    store_close(s);
    return check_failures - before;
}

static void test_readonly(void)
{
    char dir[300], path[400];
    path_in_tmp(dir, sizeof dir, "ro");
    CHECK_INT(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/ro.db", dir);
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    nyx_interaction it = make("ro1", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_config_set(s, "k", "v", &err), 0);
    store_close(s);

    /* 1. A "mode=ro" URI. */
    char uri[500];
    snprintf(uri, sizeof uri, "file:%s?mode=ro", path);
    readonly_checks(uri, uri);

    /* 2. A file without write permission, in a directory the user cannot write either.
     * root ignores permissions, so as root the check runs in a child that drops to nobody. */
    CHECK_INT(chmod(path, 0444), 0);
    if (geteuid() != 0) {
        CHECK_INT(chmod(dir, 0555), 0);
        readonly_checks(path, path);
        CHECK_INT(chmod(dir, 0755), 0);
        return;
    }
    CHECK_INT(chmod(tmpdir, 0711), 0); /* let nobody reach the file */
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) {
            fprintf(stderr, "cannot drop privileges: %s\n", strerror(errno));
            _exit(100);
        }
        _exit(readonly_checks(path, path) ? 1 : 0);
    }
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    CHECK_INT(chmod(tmpdir, 0700), 0);
}

/* ---- failing disk: locked ---- */

static void test_locked(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "locked.db");
    nyx_error err;
    nyx_error_clear(&err);
    store_options opts = {.busy_timeout_ms = 50};
    nyx_store *s = store_open_opts(path, &opts, &err);
    CHECK(s != NULL);
    if (!s)
        return;

    /* Another connection (as another process would) holds the write lock. */
    sqlite3 *other = NULL;
    CHECK_INT(sqlite3_open(path, &other), SQLITE_OK);
    CHECK_INT(sqlite3_exec(other, "BEGIN IMMEDIATE; INSERT INTO control VALUES ('stop', '1', 0)",
                           NULL, NULL, NULL),
              SQLITE_OK);

    nyx_interaction it = make("L1", T0);
    nyx_error_clear(&err);
    int64_t t0 = nyx_now_us();
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    int64_t waited_us = nyx_now_us() - t0;
    CHECK(waited_us >= 40000);     /* it waited for the busy timeout... */
    CHECK(waited_us < 2000000);    /* ...and not much longer */
    CHECK_STR(err.type, "store_error");
    char want[512];
    snprintf(want, sizeof want, "store: cannot log interaction L1 to %s: database is locked", path);
    CHECK_STR(err.message, want);
    CHECK_INT(err.retryable, 1);

    nyx_error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), -1);
    CHECK_CONTAINS(err.message, "cannot begin a batch on");
    CHECK_CONTAINS(err.message, "database is locked");
    int64_t id = 0;
    nyx_error_clear(&err);
    CHECK_INT(store_thought_add(s, NULL, 0, "t", &id, &err), -1);
    CHECK_CONTAINS(err.message, "database is locked");

    /* Readers are not blocked by a writer in WAL mode. */
    rows r = {0};
    CHECK_INT(store_query_stats(s, NULL, collect, &r, &err), 0);
    CHECK_STR(cell(&r, 0, "calls"), "0");
    rows_free(&r);

    /* Once the lock is gone the same call succeeds. */
    CHECK_INT(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    store_close(s);

    /* An exclusive lock held through an open: the open fails clearly. */
    CHECK_INT(sqlite3_exec(other, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;"
                                  " INSERT INTO control VALUES ('x', '1', 0)",
                           NULL, NULL, NULL),
              SQLITE_OK);
    nyx_error_clear(&err);
    s = store_open_opts(path, &opts, &err);
    CHECK(s == NULL);
    store_close(s);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, "database is locked");
    CHECK_INT(err.retryable, 1);
    CHECK_INT(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);

    s = store_open_opts(path, &opts, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions"), 1);
        store_close(s);
    }
}

/* ---- failing disk: full ---- */

static void test_full(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "full.db");
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    sqlite3 *db = store_sqlite_db(s);
    CHECK(db != NULL);
    long long pages = count_rows(s, "PRAGMA page_count");
    CHECK(pages > 0);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages);
    CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

    static char big[64 * 1024];
    memset(big, 'x', sizeof big - 1);
    nyx_interaction it = make("F1", T0);
    it.prompt_text = big;
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    char want[512];
    snprintf(want, sizeof want, "store: cannot log interaction F1 to %s: database or disk is full",
             path);
    CHECK_STR(err.message, want);

    /* Full inside a batch: the batch is rolled back as a whole. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    nyx_interaction small = make("F-small", T0);
    CHECK_INT(store_log_interaction(s, &small, &err), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_CONTAINS(err.message, "database or disk is full");
    CHECK_CONTAINS(err.message, "the batch (1 earlier writes) was rolled back");
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions"), 0);

    /* Space again: the same store goes on working. */
    CHECK_INT(sqlite3_exec(db, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_log_interaction(s, &small, &err), 0);
    store_close(s);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions"), 2);
    CHECK_INT(raw_int(path, "SELECT length(prompt_text) FROM llm_interactions WHERE id = 'F1'"),
              (long long)sizeof big - 1);
}

/* ---- checkpoints run beside the writer and keep the WAL small ---- */

static void test_checkpoints(void)
{
    char path[300], wal[310];
    path_in_tmp(path, sizeof path, "ckpt.db");
    snprintf(wal, sizeof wal, "%s-wal", path);
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(store_sqlite_checkpoints(s), 0); /* the thread exists and has had no work */
    static char text[3000];
    memset(text, 't', sizeof text - 1);
    /* ~7 pages per commit: 4000 commits would make a 110 MB WAL without checkpoints. */
    for (int n = 0; n < 4000; n++) {
        char id[32];
        snprintf(id, sizeof id, "c%d", n);
        nyx_interaction it = make(id, T0 + n);
        it.session = "ck";
        it.thought_id = 1;
        it.prompt_text = text;
        if (store_log_interaction(s, &it, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            break;
        }
    }
    for (int k = 0; k < 200 && store_sqlite_checkpoints(s) < 1; k++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    CHECK(store_sqlite_checkpoints(s) >= 1);
    struct stat st;
    CHECK_INT(stat(wal, &st), 0);
    /* Without checkpoints it would reach ~110 MB; how far below depends on machine load. */
    CHECK(st.st_size < 100L * 1024 * 1024);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions"), 4000);
    store_close(s);
    CHECK(stat(wal, &st) != 0); /* the last close checkpoints and removes the WAL */
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions"), 4000);

    s = store_open(":memory:", &err);
    CHECK(s != NULL);
    CHECK_INT(store_sqlite_checkpoints(s), -1); /* no WAL, no thread */
    store_close(s);
}

/* ---- durability: SIGKILL right after a commit loses nothing ---- */

static void test_sigkill(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "kill.db");
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        /* Log forever; report each id only after store_log_interaction returned 0, as the
         * engine hands a result to a script only after the row is committed. */
        close(fds[0]);
        nyx_error err;
        nyx_store *s = store_open(path, &err);
        if (!s)
            _exit(2);
        char prompt[2048];
        memset(prompt, 'p', sizeof prompt - 1);
        prompt[sizeof prompt - 1] = '\0';
        for (int n = 0;; n++) {
            char id[32];
            snprintf(id, sizeof id, "k%d", n);
            nyx_interaction it = make(id, T0 + n);
            it.prompt_text = prompt;
            it.response_text = prompt;
            if (store_log_interaction(s, &it, &err) != 0)
                _exit(3);
            if (write(fds[1], &n, sizeof n) != (ssize_t)sizeof n)
                _exit(4);
        }
    }
    close(fds[1]);
    int last = -1, n;
    while (last < 300 && read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
        last = n;
    CHECK_INT(kill(pid, SIGKILL), 0);
    /* Ids reported before the kill landed are as binding as the rest. */
    while (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
        last = n;
    close(fds[0]);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(last >= 300);

    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM llm_interactions WHERE CAST(substr(id, 2) AS INTEGER) <= %d",
             last);
    CHECK_INT(count_rows(s, sql), last + 1);
    store_close(s);
}

/* Commits go to the WAL in one write each (store_sqlite_vfs.c): a reader on its own
 * connection, kept open as a second process would keep it, sees every commit as soon as
 * store_log_interaction returns, small or larger than the gathering buffer. */
static void test_reader_sees_commits(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "reader.db");
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    sqlite3 *reader = NULL;
    CHECK(s != NULL);
    CHECK_INT(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (!s || !reader) {
        store_close(s);
        sqlite3_close(reader);
        return;
    }
    sqlite3_stmt *count = NULL;
    CHECK_INT(sqlite3_prepare_v2(reader, "SELECT count(*) FROM llm_interactions", -1, &count, NULL),
              SQLITE_OK);
    char text[4096];
    memset(text, 't', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    int seen_all = 1;
    for (int n = 0; n < 200; n++) {
        char id[32];
        snprintf(id, sizeof id, "r%d", n);
        nyx_interaction it = make(id, T0 + n);
        it.prompt_text = text;
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        seen_all &= sqlite3_step(count) == SQLITE_ROW && sqlite3_column_int(count, 0) == n + 1;
        sqlite3_reset(count);
    }
    CHECK(seen_all);
    /* One transaction of ~400 KB of pages: more than the buffer holds. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    for (int n = 0; n < 100; n++) {
        char id[32];
        snprintf(id, sizeof id, "big%d", n);
        nyx_interaction it = make(id, T0 + n);
        it.prompt_text = text;
        it.response_text = text;
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(sqlite3_step(count), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(count, 0), 300);
    sqlite3_finalize(count);
    sqlite3_close(reader);
    store_close(s);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM llm_interactions"), 300);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
}

int main(void)
{
    if (fixture_begin("store") != 0)
        return 1;
    test_migrations();
    test_migration_2();
    test_concurrent_migration();
    test_log_and_query();
    test_unknown_cost();
    test_sessions();
    test_batch();
    test_invalid();
    test_open_failures();
    test_readonly();
    test_locked();
    test_full();
    test_checkpoints();
    test_sigkill();
    test_reader_sees_commits();

    fixture_end();
    CHECK_DONE();
}
