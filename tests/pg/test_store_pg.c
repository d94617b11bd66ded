/* engine/store against PostgreSQL: the behaviours of tests/c/test_store*.c (schema, logging,
 * queries with exact numbers, sessions, thought trees, batches) through store.h, not
 * yet in the conformance suite (tests/store), plus what only a server has: the loop API
 * (store_poll_fd/store_pump/store_busy), and losing the connection.
 *
 * NYX_TEST_PG names a file holding the server's URI (ctest's pg/start fixture writes it).
 * Every test gets a database of its own, created here and dropped after it; raw checks go
 * through a libpq connection of the test's own, as raw_int() reads the file in the SQLite
 * suites.
 *
 * Where the backends differ by design, the PostgreSQL behaviour is what is checked, and said:
 * a batch is pipelined, not one transaction (no rollback; a failing write fails alone, at the
 * commit); logging an id already logged is a no-op (writes are retried after a lost answer);
 * store_changed() hears notifications of control and configuration writes, its own included. */
#define _POSIX_C_SOURCE 200809L
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "base/clock.h"
#include "request_body.h"
#include "store/store.h"

#define T0 1764064800.0 /* 2025-11-25T10:00:00Z */
#define TEST_TIMEOUT_S 120 /* a test that hangs is killed by SIGALRM: a failure, not a stall */

static int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- a database per test ---- */

static char base_uri[512]; /* the server, as NYX_TEST_PG's file gives it */
static char db_name[64];   /* the current test's database */
static char db_uri[700];   /* base_uri with its path replaced by db_name */
static PGconn *raw;        /* the test's own connection to db_name, opened on first use */

/* out = uri with the database (the path) replaced by db, any "?query" kept. */
static int uri_with_db(char *out, size_t n, const char *uri, const char *db)
{
    const char *scheme = strstr(uri, "://");
    if (!scheme)
        return -1;
    const char *auth = scheme + 3;
    size_t at = strcspn(auth, "/?");
    const char *rest = auth + at;
    const char *query = strchr(rest, '?');
    int w = snprintf(out, n, "%.*s/%s%s", (int)(auth + at - uri), uri, db, query ? query : "");
    return w > 0 && (size_t)w < n ? 0 : -1;
}

static int admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(base_uri);
    int rc = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "admin connection: %s", PQerrorMessage(c));
    } else {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            rc = 0;
        else
            fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

static void raw_close(void)
{
    PQfinish(raw);
    raw = NULL;
}

static int db_begin(void)
{
    static int n;
    snprintf(db_name, sizeof db_name, "nyx_t_%d_%d", (int)getpid(), ++n);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
    if (admin_exec(sql) != 0 || uri_with_db(db_uri, sizeof db_uri, base_uri, db_name) != 0)
        return -1;
    return 0;
}

static void db_end(void)
{
    raw_close();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
    if (admin_exec(sql) != 0)
        fprintf(stderr, "could not drop %s\n", db_name);
}

/* Runs sql on the test's own connection; the result (PQclear it) or NULL after saying why. */
static PGresult *raw_query(const char *sql)
{
    if (!raw || PQstatus(raw) != CONNECTION_OK) {
        raw_close();
        raw = PQconnectdb(db_uri);
        if (PQstatus(raw) != CONNECTION_OK) {
            fprintf(stderr, "raw connection: %s", PQerrorMessage(raw));
            raw_close();
            return NULL;
        }
    }
    PGresult *r = PQexec(raw, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "raw(%s): %s", sql, PQerrorMessage(raw));
        PQclear(r);
        return NULL;
    }
    return r;
}

static int raw_exec(const char *sql)
{
    PGresult *r = raw_query(sql);
    PQclear(r);
    return r ? 0 : -1;
}

/* The first column of the first row: -1 on error or no row, -2 for NULL. */
static long long raw_int(const char *sql)
{
    PGresult *r = raw_query(sql);
    long long v = -1;
    if (r && PQntuples(r) > 0)
        v = PQgetisnull(r, 0, 0) ? -2 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static double raw_real(const char *sql)
{
    PGresult *r = raw_query(sql);
    double v = -1;
    if (r && PQntuples(r) > 0)
        v = PQgetisnull(r, 0, 0) ? -2 : strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return v;
}

/* The first cell as text in buf: "(NULL)", or "(error)" / "(no row)". */
static const char *raw_text(const char *sql, char *buf, size_t n)
{
    PGresult *r = raw_query(sql);
    if (!r)
        snprintf(buf, n, "(error)");
    else if (PQntuples(r) == 0)
        snprintf(buf, n, "(no row)");
    else if (PQgetisnull(r, 0, 0))
        snprintf(buf, n, "(NULL)");
    else
        snprintf(buf, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return buf;
}

/* Kills the server process of every store (application_name nyx) on this test's database;
 * returns how many. */
static long long terminate_stores(void)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE application_name = 'nyx' AND datname = '%s'",
             db_name);
    return raw_int(sql);
}

static long long store_connections(void)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nyx' AND"
             " datname = '%s'",
             db_name);
    return raw_int(sql);
}

static nyx_store *open_db(void)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(db_uri, &err);
    if (!s)
        fprintf(stderr, "open %s: %s\n", db_name, err.message);
    CHECK(s != NULL);
    return s;
}

/* Pumps s in a poll() loop until nothing is pending; 0, or -1 after timeout_s. */
static int drive(nyx_store *s, double timeout_s)
{
    double end = nyx_now_s() + timeout_s;
    while (store_busy(s) > 0) {
        if (nyx_now_s() > end)
            return -1;
        int want_write = 0;
        int fd = store_poll_fd(s, &want_write);
        if (fd >= 0) {
            struct pollfd p = {fd, (short)(POLLIN | (want_write ? POLLOUT : 0)), 0};
            poll(&p, 1, 50);
        } else {
            sleep_ms(10);
        }
        store_pump(s);
    }
    return 0;
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

static int find_row(const rows *r, const char *key)
{
    for (int i = 0; i < r->n; i++)
        if (r->v[i][0] && key && strcmp(r->v[i][0], key) == 0)
            return i;
    return -1;
}

/* ---- rows as text: "v1|v2|...\n" per row, skipping the columns named in skip ---- */

typedef struct text {
    char s[4096];
    size_t n;
    const char *skip; /* ",updated_at,created_at," */
    int numbers;      /* 1: a number is written "%.15g", whatever text the backend gave */
    int stop_after;
    int rows;
} text;

static void put(text *t, const char *v)
{
    size_t k = strlen(v);
    if (t->n + k < sizeof t->s) {
        memcpy(t->s + t->n, v, k + 1);
        t->n += k;
    }
}

static int to_text(void *ud, int ncols, const char *const *names, const char *const *values)
{
    text *t = ud;
    int first = 1;
    for (int c = 0; c < ncols; c++) {
        char key[64];
        snprintf(key, sizeof key, ",%s,", names[c]);
        if (t->skip && strstr(t->skip, key))
            continue;
        if (!first)
            put(t, "|");
        const char *v = values[c] ? values[c] : "NULL";
        char numbuf[48];
        char *end = NULL;
        double d = values[c] ? strtod(values[c], &end) : 0;
        if (t->numbers && values[c] && *values[c] && end && *end == '\0') {
            snprintf(numbuf, sizeof numbuf, "%.15g", d);
            v = numbuf;
        }
        put(t, v);
        first = 0;
    }
    put(t, "\n");
    return t->stop_after > 0 && ++t->rows >= t->stop_after;
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

/* Text PostgreSQL refuses in a UTF8 database: a write carrying it fails on the server. */
static const char BAD_UTF8[] = "\xff\xfe not utf-8";

/* ---- open and migrate ---- */

static const char TABLES[] =
    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN"
    " ('llm_interactions','sessions','thought_trees','prompt_templates','template_usage',"
    " 'budgets','budget_holds','llm_cache','audit_events','system_config','control','llm_batches','llm_batch_requests',"
    " 'llm_content', 'nyx_schema')";

static void test_open_and_migrate(void)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = open_db();
    if (!s)
        return;
    CHECK_STR(store_backend_name(s), "postgresql");
    CHECK_INT(store_schema_version(s), 3);
    CHECK_INT(store_is_readonly(s), 0);
    CHECK_INT(raw_int("SELECT version FROM nyx_schema"), 3);
    CHECK_INT(raw_int("SELECT count(*) FROM nyx_schema"), 1);
    CHECK_INT(raw_int(TABLES), 15);
    CHECK_INT(raw_int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 15);
    CHECK_INT(raw_int("SELECT count(*) FROM pg_proc WHERE proname IN ('nyx_reserve',"
                      " 'nyx_settle')"),
              2);
    /* The store names itself, so an operator (and the loss test below) can find it. */
    CHECK_INT(store_connections(), 1);
    int fd_write = 0;
    CHECK(store_poll_fd(s, &fd_write) >= 0);

    nyx_interaction it = make("m1", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    int64_t node = 0;
    CHECK_INT(store_thought_add(s, "x", 0, "root", &node, &err), 0);
    CHECK(node > 0);
    store_close(s);
    /* Closing ends the connection (the server notices within moments). */
    long long left = -1;
    for (int k = 0; k < 100 && (left = store_connections()) != 0; k++)
        sleep_ms(20);
    CHECK_INT(left, 0);

    /* Reopen: nothing to migrate, the data is there, one version row. */
    s = open_db();
    if (s) {
        CHECK_INT(store_schema_version(s), 3);
        CHECK_INT(raw_int("SELECT count(*) FROM nyx_schema"), 1);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'm1'"), 1);
        CHECK_INT(raw_int("SELECT count(*) FROM thought_trees"), 1);
        /* A second store on the same database at the same time. */
        nyx_store *t = open_db();
        if (t) {
            CHECK_INT(store_schema_version(t), 3);
            CHECK_INT(store_connections(), 2);
            store_close(t);
        }
        store_close(s);
    }

    /* "postgres://" selects the backend too; a URI naming the application keeps its name. */
    if (strncmp(db_uri, "postgresql://", 13) == 0) {
        char alt[800];
        snprintf(alt, sizeof alt, "postgres://%s", db_uri + 13);
        nyx_error_clear(&err);
        s = store_open(alt, &err);
        CHECK(s != NULL);
        CHECK_STR(store_backend_name(s), "postgresql");
        store_close(s);
    }
    char named[800];
    snprintf(named, sizeof named, "%s%sapplication_name=nyx_test_app", db_uri,
             strchr(db_uri, '?') ? "&" : "?");
    s = store_open(named, &err);
    CHECK(s != NULL);
    if (s) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE"
                                  " datname = '%s' AND application_name = 'nyx_test_app'",
                 db_name);
        CHECK_INT(raw_int(sql), 1);
        store_close(s);
    }

    /* A database from a newer nyx is refused, not downgraded; the URI is not echoed. */
    CHECK_INT(raw_exec("UPDATE nyx_schema SET version = 99"), 0);
    nyx_error_clear(&err);
    s = store_open(db_uri, &err);
    CHECK(s == NULL);
    store_close(s);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "schema version 99, newer than this nyx knows (3)");
    CHECK_CONTAINS(err.message, db_name);
    CHECK(!contains(err.message, "postgresql://"));
    CHECK_INT(raw_int("SELECT version FROM nyx_schema"), 99);
    CHECK_INT(raw_exec("UPDATE nyx_schema SET version = 3"), 0);
    s = open_db();
    store_close(s);
}

/* Processes opening one new database at once migrate it once: the advisory lock makes the
 * others wait, then find version 1 (without it, the second CREATE TABLE fails). */
#define NMIGRATORS 6

static void test_concurrent_migration(void)
{
    raw_close(); /* no connection crosses fork() */
    int go[2];
    CHECK_INT(pipe(go), 0);
    fflush(NULL);
    pid_t kids[NMIGRATORS];
    for (int k = 0; k < NMIGRATORS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            char byte;
            close(go[1]);
            if (read(go[0], &byte, 1) != 1)
                _exit(12);
            nyx_error e;
            nyx_error_clear(&e);
            nyx_store *c = store_open(db_uri, &e);
            if (!c) {
                fprintf(stderr, "concurrent open: %s\n", e.message);
                _exit(10);
            }
            int version = store_schema_version(c);
            nyx_interaction it = make("race", T0);
            int logged = store_log_interaction(c, &it, &e);
            store_close(c);
            _exit(version == 3 && logged == 0 ? 0 : 11);
        }
        CHECK(kids[k] > 0);
    }
    close(go[0]);
    char start[NMIGRATORS];
    memset(start, 'g', sizeof start);
    CHECK_INT(write(go[1], start, sizeof start), NMIGRATORS);
    close(go[1]);
    for (int k = 0; k < NMIGRATORS; k++) {
        int st = -1;
        CHECK_INT(waitpid(kids[k], &st, 0), kids[k]);
        CHECK(WIFEXITED(st));
        CHECK_INT(WEXITSTATUS(st), 0);
    }
    CHECK_INT(raw_int("SELECT count(*) FROM nyx_schema"), 1);
    CHECK_INT(raw_int("SELECT version FROM nyx_schema"), 3);
    CHECK_INT(raw_int(TABLES), 15);
    /* Every process logged the same id: one row (an id is logged once). */
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 1);
}

/* ---- every field of an interaction, as stored ---- */

static const char *col(const char *id, const char *column, char *buf, size_t n)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s::text FROM llm_interactions WHERE id = '%s'", column,
             id);
    return raw_text(sql, buf, n);
}

static double col_real(const char *id, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM llm_interactions WHERE id = '%s'", column, id);
    return raw_real(sql);
}

static void test_log_fields(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    int64_t node = 0;
    CHECK_INT(store_thought_add(s, "sess", 0, "root", &node, &err), 0);
    char b[512], want[64];

    nyx_interaction it = make("full", T0 + 0.125);
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
    it.has_cost = 1;
    it.cost_usd = 0.00135;
    it.cost_without_cache_usd = 0.0011;
    it.saved_usd = -0.00025;
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
    CHECK_STR(col("full", "session", b, sizeof b), "sess");
    CHECK_STR(col("full", "agent", b, sizeof b), "agent-1");
    snprintf(want, sizeof want, "%lld", (long long)node);
    CHECK_STR(col("full", "thought_id", b, sizeof b), want);
    CHECK_STR(col("full", "template", b, sizeof b), "summarize");
    CHECK_STR(col("full", "template_version", b, sizeof b), "3");
    CHECK_STR(col("full", "request_id", b, sizeof b), "req_abc");
    CHECK_STR(col("full", "model_requested", b, sizeof b), "claude-haiku-4-5");
    CHECK_STR(col("full", "model_served", b, sizeof b), "claude-haiku-4-5-20251001");
    CHECK_STR(col("full", "provider", b, sizeof b), "anthropic");
    CHECK_STR(col("full", "input_tokens", b, sizeof b), "11");
    CHECK_STR(col("full", "output_tokens", b, sizeof b), "22");
    CHECK_STR(col("full", "cache_creation_input_tokens", b, sizeof b), "33");
    CHECK_STR(col("full", "cache_read_input_tokens", b, sizeof b), "44");
    CHECK_STR(col("full", "cache_creation_5m", b, sizeof b), "30");
    CHECK_STR(col("full", "cache_creation_1h", b, sizeof b), "3");
    CHECK_NEAR(col_real("full", "cost_usd"), 0.00135, 0);
    CHECK_NEAR(col_real("full", "cost_without_cache_usd"), 0.0011, 0);
    CHECK_NEAR(col_real("full", "saved_usd"), -0.00025, 0);
    CHECK_NEAR(col_real("full", "ttfb_ms"), 120.5, 0);
    CHECK_NEAR(col_real("full", "latency_ms"), 800.25, 0);
    CHECK_STR(col("full", "attempts", b, sizeof b), "2");
    CHECK_STR(col("full", "attempts_json", b, sizeof b), "[{\"status\":529},{\"status\":200}]");
    CHECK_STR(col("full", "status", b, sizeof b), "error");
    CHECK_STR(col("full", "error_type", b, sizeof b), "overloaded_error");
    CHECK_STR(col("full", "error_message", b, sizeof b), "Overloaded; it's \"busy\"");
    CHECK_STR(col("full", "stop_reason", b, sizeof b), "end_turn");
    CHECK_STR(col("full", "cache_hit", b, sizeof b), "1");
    CHECK_STR(col("full", "from_response_cache", b, sizeof b), "1");
    CHECK_STR(col("full", "prompt_text", b, sizeof b), it.prompt_text);
    CHECK_STR(col("full", "response_text", b, sizeof b), "line1\nline2\ttab");

    /* Unknown is NULL: the price (whatever cost_usd holds), the cache detail, a template
     * version without a name, times < 0, thought 0 and absent strings. */
    nyx_interaction bare = make("bare", T0);
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
    nyx_interaction now = make("now", 0);
    CHECK_INT(store_log_interaction(s, &now, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'now' AND"
                      " abs(created_at - extract(epoch FROM now())) < 60"),
              1);

    /* An id logged already: PostgreSQL's write is idempotent (a write whose answer was lost
     * with the connection is sent again), so this succeeds and the first row stays. */
    nyx_interaction again = make("full", T0 + 99);
    again.session = "other";
    CHECK_INT(store_log_interaction(s, &again, &err), 0);
    CHECK_STR(col("full", "session", b, sizeof b), "sess");
    CHECK_STR(col("full", "status", b, sizeof b), "error");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 3);

    /* A write the server refuses: a clear store_error naming the id and the database. */
    nyx_interaction bad = make("badutf", T0);
    bad.prompt_text = BAD_UTF8;
    nyx_error_clear(&err);
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
    nyx_interaction after = make("after", T0);
    CHECK_INT(store_log_interaction(s, &after, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'after'"), 1);

    /* Argument checks are the public layer's, as for SQLite. */
    nyx_interaction inv = make("x", T0);
    inv.status = "maybe";
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &inv, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_CONTAINS(err.message, "status \"maybe\" is not ok, error or cancelled");
    inv = make(NULL, T0);
    CHECK_INT(store_log_interaction(s, &inv, &err), -1);
    CHECK_CONTAINS(err.message, "it has no id");
    store_filter f = {.group_by = "colour"};
    nyx_error_clear(&err);
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_CONTAINS(err.message, "cannot group by \"colour\"");
    CHECK_INT(r.n, 0);
    CHECK_INT(store_query_log(s, NULL, NULL, NULL, &err), -1);
    int64_t id = 0;
    CHECK_INT(store_thought_add(s, NULL, -1, "neg", &id, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'x'"), 0);
    store_close(s);
}

/* ---- queries with exact numbers (the fixture of test_store.c) ---- */

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

static void test_queries(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    fixture fx;
    log_fixture(s, &fx);

    /* Stats, not grouped: the same text as SQLite's (reals with a '.'). */
    rows r = {0};
    CHECK_INT(store_query_stats(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.ncols, 13);
    const char *stat_cols[] = {"group", "calls", "cache_hits", "hit_rate", "input", "output",
                               "cache_read", "cache_write", "cost_usd",
                               "cost_without_cache_usd", "saved_usd", "unknown_cost_calls",
                               "errors"};
    for (int c = 0; c < 13 && c < r.ncols; c++)
        CHECK_STR(r.names[c], stat_cols[c]);
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

    f = (store_filter){.group_by = "session"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK_STR(cell(&r, 0, "group"), "s1");
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

    f = (store_filter){.group_by = "total"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 1);
    CHECK_STR(cell(&r, 0, "group"), "total");
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
    f = (store_filter){.session = "s1", .since = T0 + 1.0, .group_by = "model"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    CHECK_STR(cell(&r, 0, "group"), "claude-haiku-4-5-20251001");
    CHECK_STR(cell(&r, 0, "calls"), "1");
    CHECK_STR(cell(&r, 1, "group"), "claude-mystery-9");
    rows_free(&r);

    /* A filter matching nothing still gives one total row of zeros. */
    f = (store_filter){.session = "nobody"};
    CHECK_INT(store_query_stats(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 1);
    CHECK_STR(cell(&r, 0, "calls"), "0");
    CHECK_STR(cell(&r, 0, "hit_rate"), "0.0");
    CHECK_STR(cell(&r, 0, "input"), "0");
    CHECK_STR(cell(&r, 0, "cost_usd"), "0.0");
    rows_free(&r);

    /* Log: newest last, ISO times, tokens of every kind, NULL cost when unknown. */
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 4);
    CHECK_INT(r.ncols, 11);
    const char *log_cols[] = {"id", "created_at", "session", "agent", "model", "status",
                              "tokens", "cache_read", "cost", "latency_ms", "error_type"};
    for (int c = 0; c < 11 && c < r.ncols; c++)
        CHECK_STR(r.names[c], log_cols[c]);
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
    CHECK_STR(cell(&r, 1, "latency_ms"), "300.0");
    CHECK_STR(cell(&r, 2, "id"), "i3");
    CHECK_STR(cell(&r, 2, "created_at"), "2025-11-25T10:00:03.250Z");
    CHECK_STR(cell(&r, 2, "model"), "claude-mystery-9");
    CHECK_STR(cell(&r, 2, "status"), "error");
    CHECK(cell(&r, 2, "cost") == NULL);
    CHECK_STR(cell(&r, 2, "error_type"), "overloaded_error");
    CHECK_STR(cell(&r, 3, "id"), "i4");
    rows_free(&r);

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
    f = (store_filter){.since = T0 + 1.5};
    CHECK_INT(store_query_log(s, &f, collect, &r, &err), 0);
    CHECK_INT(r.n, 3);
    CHECK_STR(cell(&r, 0, "id"), "i2");
    rows_free(&r);

    /* A callback can stop the query. */
    r.stop_after = 1;
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 1);
    CHECK_INT(r.n, 1);
    rows_free(&r);

    /* The stored exchange of one call. */
    CHECK_INT(store_query_exchange(s, "i1", collect, &r, &err), 0);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.ncols, 13);
    const char *ex_cols[] = {"id", "created_at", "session", "agent", "model", "status",
                             "error_type", "error_message", "request_id", "attempts",
                             "attempts_json", "request", "response"};
    for (int c = 0; c < 13 && c < r.ncols; c++)
        CHECK_STR(r.names[c], ex_cols[c]);
    CHECK_STR(cell(&r, 0, "id"), "i1");
    CHECK_STR(cell(&r, 0, "created_at"), "2025-11-25T10:00:00.000Z");
    CHECK_STR(cell(&r, 0, "session"), "s1");
    CHECK_STR(cell(&r, 0, "agent"), "eng");
    CHECK_STR(cell(&r, 0, "model"), "claude-haiku-4-5-20251001");
    CHECK_STR(cell(&r, 0, "status"), "ok");
    CHECK(cell(&r, 0, "error_type") == NULL);
    CHECK(cell(&r, 0, "error_message") == NULL);
    CHECK_STR(cell(&r, 0, "request_id"), "req_1");
    CHECK_STR(cell(&r, 0, "attempts"), "1");
    CHECK_STR(cell(&r, 0, "attempts_json"), "[{\"status\":200}]");
    CHECK_STR(cell(&r, 0, "request"), "hello");
    CHECK_STR(cell(&r, 0, "response"), "world");
    rows_free(&r);
    CHECK_INT(store_query_exchange(s, "i3", collect, &r, &err), 0);
    CHECK_STR(cell(&r, 0, "model"), "claude-mystery-9");
    CHECK_STR(cell(&r, 0, "status"), "error");
    CHECK_STR(cell(&r, 0, "error_type"), "overloaded_error");
    CHECK_STR(cell(&r, 0, "error_message"), "Overloaded");
    CHECK_STR(cell(&r, 0, "attempts"), "3");
    CHECK(cell(&r, 0, "request") == NULL);
    rows_free(&r);
    CHECK_INT(store_query_exchange(s, "nope", collect, &r, &err), 0);
    CHECK_INT(r.n, 0);
    nyx_error_clear(&err);
    CHECK_INT(store_query_exchange(s, NULL, collect, &r, &err), -1);
    CHECK_STR(err.type, "invalid_argument");

    /* Thoughts: rolled up over each subtree. */
    CHECK_INT(store_query_thoughts(s, "s1", collect, &r, &err), 0);
    CHECK_INT(r.n, 4);
    CHECK_INT(r.ncols, 6);
    const char *th_cols[] = {"id", "parent_id", "label", "calls", "tokens", "cost"};
    for (int c = 0; c < 6 && c < r.ncols; c++)
        CHECK_STR(r.names[c], th_cols[c]);
    char id[32], parent[32];
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
    CHECK_STR(cell(&r, i, "cost"), "0.0");
    rows_free(&r);

    /* An unknown parent is the caller's error; the store is unchanged. */
    int64_t bad = 0;
    nyx_error_clear(&err);
    CHECK_INT(store_thought_add(s, "s1", 9999, "orphan", &bad, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_CONTAINS(err.message, "parent node 9999 does not exist");
    CHECK_INT(err.retryable, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM thought_trees"), 5);
    store_close(s);
}

static void test_unknown_cost(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
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
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE cost_usd IS NULL"), 3);
    store_close(s);
}

/* ---- sessions ---- */

static void test_sessions(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    double before = nyx_wall_s();
    CHECK_INT(store_session_upsert(s, "s1", 1.0, &err), 0);
    CHECK_INT(store_session_upsert(s, "s1", -1, &err), 0); /* keeps the budget */
    fixture fx;
    log_fixture(s, &fx);
    CHECK_INT(raw_int("SELECT count(*) FROM sessions WHERE name = 's1' AND"
                      " ended_at IS NULL AND budget_usd = 1.0 AND calls = 0"),
              1);
    CHECK_INT(store_session_end(s, "s1", &err), 0);
    CHECK_INT(raw_int("SELECT calls FROM sessions WHERE name = 's1'"), 3);
    CHECK_INT(raw_int("SELECT input_tokens FROM sessions WHERE name = 's1'"), 310);
    CHECK_INT(raw_int("SELECT output_tokens FROM sessions WHERE name = 's1'"), 190);
    CHECK_INT(raw_int("SELECT cache_read_tokens FROM sessions WHERE name = 's1'"), 1000);
    CHECK_INT(raw_int("SELECT cache_write_tokens FROM sessions WHERE name = 's1'"), 1000);
    CHECK_NEAR(raw_real("SELECT cost_usd FROM sessions WHERE name = 's1'"), 0.00165, 1e-15);
    CHECK_NEAR(raw_real("SELECT saved_usd FROM sessions WHERE name = 's1'"), 0.00065, 1e-15);
    CHECK_NEAR(raw_real("SELECT budget_usd FROM sessions WHERE name = 's1'"), 1.0, 0);
    double ended = raw_real("SELECT ended_at FROM sessions WHERE name = 's1'");
    CHECK(ended >= before && ended <= nyx_wall_s() + 1);
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

    nyx_error_clear(&err);
    CHECK_INT(store_session_upsert(s, "", 1, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_session_end(s, NULL, &err), -1);
    CHECK_INT(raw_int("SELECT count(*) FROM sessions"), 3);
    store_close(s);
}

/* ---- batches: pipelined, not one transaction ---- */

static void test_batch(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    char ids[3][8];
    CHECK_INT(store_batch_begin(s, &err), 0);
    for (int k = 0; k < 3; k++) {
        snprintf(ids[k], sizeof ids[k], "b%d", k);
        nyx_interaction it = make(ids[k], T0 + k);
        it.session = "bs";
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(store_session_upsert(s, "bs", -1, &err), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), -1); /* no nesting */
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "a batch is already open");
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 3);
    CHECK_INT(raw_int("SELECT count(*) FROM sessions WHERE name = 'bs'"), 1);
    /* Answered; handed out (and forgotten: no callback) by the next pump. */
    store_pump(s);
    CHECK_INT(store_busy(s), 0);

    nyx_error_clear(&err);
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "no batch is open");

    /* No rollback: the writes were sent as they were made. The batch is closed all the same. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    nyx_interaction it = make("kept", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_batch_rollback(s, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "cannot roll back a batch");
    CHECK(!contains(err.message, "postgresql://"));
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'kept'"), 1);
    CHECK_INT(store_batch_begin(s, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);

    /* A failing write fails alone and is reported at the commit; the batch's other writes
     * are committed; the next batch starts afresh. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("ok1", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    it = make("bad", T0);
    it.prompt_text = BAD_UTF8;
    CHECK_INT(store_log_interaction(s, &it, &err), 0); /* queued: the server answers later */
    it = make("ok2", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "cannot log interaction bad in");
    CHECK_CONTAINS(err.message, "invalid byte sequence");
    CHECK_CONTAINS(err.message, "its other writes are committed");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id IN ('ok1','ok2')"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'bad'"), 0);
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("ok3", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'ok3'"), 1);

    /* An id logged already is not a failure (idempotent writes), in a batch or not. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("b0", T0 + 50);
    it.session = "elsewhere";
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'b0' AND session = 'bs'"),
              1);

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
    /* In the order given (seq is the commit order, --last relies on it). */
    CHECK_INT(raw_int("SELECT count(*) FROM (SELECT id, seq, row_number() OVER (ORDER BY seq)"
                      " AS n FROM llm_interactions WHERE session = 'many') AS o"
                      " WHERE o.id = 'many' || (o.n - 1)"),
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

/* ---- the loop API: async reserve and log+settle ---- */

typedef struct done_rec {
    int calls, rc, refused, visible;
    char type[40], message[512];
    char check_sql[300]; /* run inside done on the test's own connection, when set */
} done_rec;

static void on_done(void *ud, int rc, int refused, const nyx_error *err)
{
    done_rec *d = ud;
    d->calls++;
    d->rc = rc;
    d->refused = refused;
    if (err) {
        snprintf(d->type, sizeof d->type, "%s", err->type);
        snprintf(d->message, sizeof d->message, "%s", err->message);
    }
    if (d->check_sql[0])
        d->visible = (int)raw_int(d->check_sql);
}

/* A done callback that calls back into the store: an audit event and a control read. */
typedef struct reentry {
    nyx_store *s;
    int calls, rc;
    char inner_value[32];
    int inner_rc;
} reentry;

static void on_done_reenter(void *ud, int rc, int refused, const nyx_error *err)
{
    (void)refused;
    reentry *r = ud;
    r->calls++;
    r->rc = rc;
    nyx_error e;
    nyx_error_clear(&e);
    int a = store_audit(r->s, "budget_refused", NULL, NULL, err ? err->message : "", &e);
    int b = store_control_set(r->s, "last", rc == 0 ? "reserved" : "refused", &e);
    char *v = NULL;
    int c = store_control_get(r->s, "last", &v, &e);
    snprintf(r->inner_value, sizeof r->inner_value, "%s", v ? v : "(null)");
    free(v);
    r->inner_rc = a | b | c;
}

typedef struct id_rec {
    int calls, rc;
    int64_t id;
    char type[40];
} id_rec;

static void on_id(void *ud, int rc, int64_t id, const nyx_error *err)
{
    id_rec *r = ud;
    r->calls++;
    r->rc = rc;
    r->id = id;
    snprintf(r->type, sizeof r->type, "%s", rc != 0 && err ? err->type : "");
}

static void test_async(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    store_scope sc[] = {{"day:a", 10.0}, {"session:a", 1.0}};

    /* One reservation: answered from store_pump, once, after the commit. */
    char id1[STORE_RESERVATION_ID_SIZE] = "";
    done_rec d1 = {0};
    CHECK_INT(store_budget_reserve_async(s, sc, 2, 0.25, id1, sizeof id1, on_done, &d1, &err), 0);
    CHECK(id1[0] != '\0'); /* written before the call returns */
    CHECK_INT(d1.calls, 0);
    CHECK(store_busy(s) >= 1);
    snprintf(d1.check_sql, sizeof d1.check_sql,
             "SELECT count(*) FROM budget_holds WHERE id = '%s'", id1);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(d1.calls, 1);
    CHECK_INT(d1.rc, 0);
    CHECK_INT(d1.refused, -1);
    CHECK_INT(d1.visible, 1); /* committed when done ran */
    CHECK_INT(store_busy(s), 0);

    /* Four at once: three fit, the fourth is refused in scope 1. */
    char ids[4][STORE_RESERVATION_ID_SIZE];
    done_rec d[4];
    memset(d, 0, sizeof d);
    for (int k = 0; k < 4; k++)
        CHECK_INT(store_budget_reserve_async(s, sc, 2, 0.25, ids[k], sizeof ids[k], on_done,
                                             &d[k], &err),
                  0);
    for (int k = 0; k < 4; k++)
        CHECK_INT(d[k].calls, 0);
    CHECK(store_busy(s) >= 4);
    CHECK_INT(drive(s, 10), 0);
    int ok = 0, no = -1, held = 0;
    for (int k = 0; k < 4; k++) {
        CHECK_INT(d[k].calls, 1);
        if (d[k].rc == 0)
            held = k, ok++;
        else
            no = k;
    }
    CHECK_INT(ok, 3);
    CHECK(no >= 0);
    if (no >= 0) {
        CHECK_INT(d[no].rc, -1);
        CHECK_INT(d[no].refused, 1);
        CHECK_STR(d[no].type, "budget_exceeded");
        CHECK_STR(d[no].message, "store: budget exceeded in scope session:a: limit $1.00, "
                                 "spent $0.00, reserved $1.00, this call needs $0.25");
    }
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 4);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:a'"), 1.0, 0);

    /* Log and settle: done after the commit, the row and the settle visible elsewhere. */
    nyx_interaction it = make("as1", T0);
    done_rec dl = {0};
    CHECK_INT(store_log_interaction_settle_async(s, &it, id1, 0.125, on_done, &dl, &err), 0);
    CHECK_INT(dl.calls, 0);
    snprintf(dl.check_sql, sizeof dl.check_sql,
             "SELECT count(*) FROM llm_interactions WHERE id = 'as1' AND NOT EXISTS"
             " (SELECT 1 FROM budget_holds WHERE id = '%s')",
             id1);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(dl.calls, 1);
    CHECK_INT(dl.rc, 0);
    CHECK_INT(dl.refused, -1);
    CHECK_INT(dl.visible, 1);
    CHECK_NEAR(raw_real("SELECT spent_usd FROM budgets WHERE scope = 'session:a'"), 0.125, 0);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:a'"), 0.75, 0);

    /* A write the server refuses: done once with rc -1 and the error; nothing settled. */
    nyx_interaction bad = make("as-bad", T0);
    bad.prompt_text = BAD_UTF8;
    done_rec db = {0};
    CHECK_INT(store_log_interaction_settle_async(s, &bad, ids[held], 0.125, on_done, &db, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(db.calls, 1);
    CHECK_INT(db.rc, -1);
    CHECK_STR(db.type, "store_error");
    CHECK_CONTAINS(db.message, "cannot log interaction as-bad in");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 3);

    /* Many of both kinds queued before any pump: each answered once. */
    done_rec dm[12];
    memset(dm, 0, sizeof dm);
    char mids[6][STORE_RESERVATION_ID_SIZE];
    store_scope loose[] = {{"day:a", 10.0}};
    for (int k = 0; k < 6; k++) {
        char id[16];
        snprintf(id, sizeof id, "many%d", k);
        nyx_interaction m = make(id, T0 + k);
        CHECK_INT(store_log_interaction_settle_async(s, &m, NULL, 0, on_done, &dm[k], &err), 0);
        CHECK_INT(store_budget_reserve_async(s, loose, 1, 0.5, mids[k], sizeof mids[k], on_done,
                                             &dm[6 + k], &err),
                  0);
    }
    CHECK_INT(drive(s, 10), 0);
    int answered = 0, succeeded = 0;
    for (int k = 0; k < 12; k++) {
        answered += dm[k].calls;
        succeeded += dm[k].calls == 1 && dm[k].rc == 0;
    }
    CHECK_INT(answered, 12);
    CHECK_INT(succeeded, 12);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id LIKE 'many%'"), 6);

    /* What cannot start returns -1 and never calls done. */
    done_rec dx = {0};
    nyx_interaction inv = make("inv", T0);
    inv.status = "maybe";
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction_settle_async(s, &inv, NULL, 0, on_done, &dx, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    char idx[STORE_RESERVATION_ID_SIZE];
    nyx_error_clear(&err);
    CHECK_INT(store_budget_reserve_async(s, sc, 2, NAN, idx, sizeof idx, on_done, &dx, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(dx.calls, 0);
    /* No scope: nothing to ask the server, done before returning. */
    CHECK_INT(store_budget_reserve_async(s, NULL, 0, 0.5, idx, sizeof idx, on_done, &dx, &err),
              0);
    CHECK_INT(dx.calls, 1);
    CHECK_INT(dx.rc, 0);

    /* A done callback may call the store (the engine audits a refusal from there), and a
     * waiting call made before the pump sees what was queued before it. */
    reentry re = {.s = s};
    char idr[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve_async(s, sc, 2, 0.5, idr, sizeof idr, on_done_reenter, &re,
                                         &err),
              0);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:a'"), 0.75, 0);
    text now_t = {.skip = ",updated_at,", .numbers = 1};
    CHECK_INT(store_budget_status(s, to_text, &now_t, &err), 0);
    CHECK_CONTAINS(now_t.s, "session:a|1|0.125|0.75|0.125\n"); /* refused: nothing changed */
    CHECK_INT(re.calls, 0); /* the answer is in; done waits for the pump */
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(re.calls, 1);
    CHECK_INT(re.rc, -1);
    CHECK_INT(re.inner_rc, 0);
    CHECK_STR(re.inner_value, "refused");
    CHECK_INT(raw_int("SELECT count(*) FROM audit_events WHERE kind = 'budget_refused'"), 1);

    /* The ledger, asynchronously: the rows just before done. */
    text st = {.skip = ",updated_at,", .numbers = 1};
    done_rec ds = {0};
    CHECK_INT(store_budget_status_async(s, to_text, &st, on_done, &ds, &err), 0);
    CHECK_INT(ds.calls, 0);
    CHECK_STR(st.s, "");
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(ds.calls, 1);
    CHECK_INT(ds.rc, 0);
    CHECK_STR(st.s, "day:a|10|0.125|3.75|6.125\n"
                    "session:a|1|0.125|0.75|0.125\n");
    nyx_error_clear(&err);
    CHECK_INT(store_budget_status_async(s, NULL, NULL, on_done, &ds, &err), -1);
    CHECK_STR(err.type, "invalid_argument");

    /* A thought node, asynchronously: its id in done; an unknown parent fails there. */
    id_rec n1 = {0}, n2 = {0};
    CHECK_INT(store_thought_add_async(s, "a", 0, "root", on_id, &n1, &err), 0);
    CHECK_INT(n1.calls, 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(n1.calls, 1);
    CHECK_INT(n1.rc, 0);
    CHECK(n1.id > 0);
    CHECK_INT(store_thought_add_async(s, "a", n1.id + 1000, "orphan", on_id, &n2, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(n2.calls, 1);
    CHECK_INT(n2.rc, -1);
    CHECK_STR(n2.type, "invalid_argument");
    CHECK_INT(raw_int("SELECT count(*) FROM thought_trees"), 1);

    /* Background writes are queued, not waited for; the loop sends them. */
    store_set_background(s, 1);
    CHECK_INT(store_audit(s, "bg1", NULL, NULL, NULL, &err), 0);
    CHECK_INT(store_audit(s, "bg2", NULL, NULL, NULL, &err), 0);
    CHECK_INT(store_budget_settle(s, ids[held], 0, &err), 0);
    CHECK(store_busy(s) >= 1);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM audit_events WHERE kind IN ('bg1','bg2')"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 2 + 6);
    /* One the server refuses fails alone: the writes around it arrive. */
    CHECK_INT(store_audit(s, "bg3", NULL, NULL, NULL, &err), 0);
    CHECK_INT(store_audit(s, "bg-bad", NULL, NULL, BAD_UTF8, &err), 0);
    CHECK_INT(store_audit(s, "bg4", NULL, NULL, NULL, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    store_set_background(s, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM audit_events WHERE kind IN ('bg3','bg4')"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM audit_events WHERE kind = 'bg-bad'"), 0);
    CHECK_INT(store_audit(s, "fg", NULL, NULL, NULL, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM audit_events WHERE kind = 'fg'"), 1);
    store_close(s);
}

/* ---- losing the connection ---- */

/* The next operation after the server dropped the connection: store_error, saying so. */
static int loss_message(const char *m)
{
    return contains(m, "connection lost") || contains(m, "unreachable");
}

/* Tries a write every 20 ms (pumping between) until one succeeds; the seconds it took,
 * or -1 after limit_s. */
static double until_written(nyx_store *s, const char *id, double limit_s, char *last, size_t n)
{
    double t0 = nyx_now_s();
    while (nyx_now_s() - t0 < limit_s) {
        nyx_interaction it = make(id, T0);
        nyx_error err;
        nyx_error_clear(&err);
        if (store_log_interaction(s, &it, &err) == 0)
            return nyx_now_s() - t0;
        snprintf(last, n, "%s", err.message);
        store_pump(s);
        sleep_ms(20);
    }
    return -1;
}

static void test_connection_loss(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    nyx_interaction it = make("before", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    int c = -1;
    CHECK_INT(store_changed(s, &c, &err), 0); /* clears the first call's 1 */

    CHECK_INT(terminate_stores(), 1);
    sleep_ms(100); /* the server's goodbye reaches the socket */
    double lost_at = nyx_now_s();
    it = make("during", T0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    if (!loss_message(err.message)) {
        fprintf(stderr, "after the loss: \"%s\"\n", err.message);
        check_failures++;
    }
    CHECK_CONTAINS(err.message, db_name);
    CHECK(!contains(err.message, "postgresql://"));
    store_pump(s);
    CHECK_INT(store_busy(s), 0); /* nothing left hanging */

    /* Reconnected in the background (backoff from 0.1 s): writes work again. */
    char last[512] = "";
    double took = until_written(s, "after", 5, last, sizeof last);
    if (took < 0)
        fprintf(stderr, "no reconnection within 5 s; last error: %s\n", last);
    CHECK(took >= 0);
    CHECK(nyx_now_s() - lost_at < 2.0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'after'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'during'"), 0);
    CHECK_INT(store_connections(), 1);
    /* A new connection may have missed a stop: store_changed says to look. */
    CHECK_INT(store_changed(s, &c, &err), 0);
    CHECK_INT(c, 1);
    /* The new connection listens again: another store's stop reaches this one. */
    nyx_store *o = open_db();
    if (o) {
        CHECK_INT(store_control_set(o, "stop", "after the loss", &err), 0);
        int seen = 0;
        for (int k = 0; k < 100 && !seen; k++) {
            store_pump(s);
            CHECK_INT(store_changed(s, &c, &err), 0);
            seen = c;
            sleep_ms(10);
        }
        CHECK_INT(seen, 1);
        store_close(o);
        /* Its server process leaves within moments; only this store's is killed below. */
        long long n = -1;
        for (int k = 0; k < 100 && (n = store_connections()) != 1; k++)
            sleep_ms(20);
        CHECK_INT(n, 1);
    }
    /* Queries, budgets and the control channel work on the new connection. */
    rows r = {0};
    CHECK_INT(store_query_log(s, NULL, collect, &r, &err), 0);
    CHECK_INT(r.n, 2);
    rows_free(&r);
    store_scope sc[] = {{"session:loss", 1.0}};
    char id[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.5, id, sizeof id, NULL, &err), 0);

    /* An operation in flight when the connection goes: done once, with the error. */
    nyx_interaction a = make("async-lost", T0);
    done_rec d = {0};
    CHECK_INT(terminate_stores(), 1);
    sleep_ms(100);
    int started = store_log_interaction_settle_async(s, &a, id, 0.25, on_done, &d, &err);
    if (started == 0) {
        CHECK_INT(drive(s, 10), 0);
        CHECK_INT(d.calls, 1);
        CHECK_INT(d.rc, -1);
        CHECK_STR(d.type, "store_error");
        if (!loss_message(d.message)) {
            fprintf(stderr, "in flight at the loss: \"%s\"\n", d.message);
            check_failures++;
        }
    } else {
        CHECK_STR(err.type, "store_error");
        CHECK(loss_message(err.message));
        CHECK_INT(d.calls, 0);
    }
    /* Sent again once connected, it is done: logged and settled once. */
    took = until_written(s, "after2", 5, last, sizeof last);
    CHECK(took >= 0);
    memset(&d, 0, sizeof d);
    CHECK_INT(store_log_interaction_settle_async(s, &a, id, 0.25, on_done, &d, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(d.calls, 1);
    CHECK_INT(d.rc, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'async-lost'"), 1);
    CHECK_NEAR(raw_real("SELECT spent_usd FROM budgets WHERE scope = 'session:loss'"), 0.25, 0);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:loss'"), 0, 0);

    /* Lost inside a batch: the commit says the batch did not all arrive. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("batch-before", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(terminate_stores(), 1);
    sleep_ms(100);
    it = make("batch-lost", T0);
    store_log_interaction(s, &it, &err); /* 0 (queued, failing later) or -1 (known down) */
    nyx_error_clear(&err);
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK(loss_message(err.message));
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'batch-before'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'batch-lost'"), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), 0); /* the failed commit closed the batch */
    CHECK_INT(store_batch_commit(s, &err) == 0 || loss_message(err.message), 1);
    took = until_written(s, "batch-lost", 5, last, sizeof last);
    CHECK(took >= 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'batch-lost'"), 1);
    store_close(s);
}

/* ---- a password never reaches a message ---- */

static void test_password_hidden(void)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open("postgresql://nyx:secretpw@127.0.0.1:1/x", &err);
    CHECK(s == NULL);
    store_close(s);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "cannot connect to the PostgreSQL database");
    CHECK(!contains(err.message, "secretpw"));
    nyx_error_clear(&err);
    s = store_open("postgres://nyx:secretpw@127.0.0.1:1/x?connect_timeout=2", &err);
    CHECK(s == NULL);
    CHECK(!contains(err.message, "secretpw"));

    /* The test server trusts every password: open with one, then fail in every way. */
    const char *at = strchr(db_uri, '@');
    const char *colon = strchr(strstr(db_uri, "://") + 3, ':');
    if (!at || (colon && colon < at)) {
        fprintf(stderr, "password checks on a server skipped: the URI has no plain user@\n");
        return;
    }
    char uri[800], missing[800];
    snprintf(uri, sizeof uri, "%.*s:secretpw%s", (int)(at - db_uri), db_uri, at);
    CHECK_INT(uri_with_db(missing, sizeof missing, uri, "nyx_no_such_db"), 0);
    nyx_error_clear(&err);
    s = store_open(missing, &err);
    CHECK(s == NULL);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "nyx_no_such_db");
    CHECK(!contains(err.message, "secretpw"));

    s = store_open(uri, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open with a password: %s\n", err.message);
        return;
    }
    nyx_interaction it = make("pw", T0);
    it.prompt_text = BAD_UTF8;
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK(!contains(err.message, "secretpw"));
    CHECK_INT(store_batch_begin(s, &err), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_batch_rollback(s, &err), -1);
    CHECK(!contains(err.message, "secretpw"));
    CHECK_INT(terminate_stores(), 1);
    sleep_ms(100);
    it = make("pw2", T0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK(!contains(err.message, "secretpw"));
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1); /* still down: "unreachable" */
    CHECK(!contains(err.message, "secretpw"));
    store_close(s);
}

/* ---- running ---- */

static int read_base_uri(void)
{
    const char *file = getenv("NYX_TEST_PG");
    if (!file || !*file) {
        fprintf(stderr, "NYX_TEST_PG must name a file holding the server's URI (ctest's pg/start"
                        " writes one; or tests/pg/cluster.sh start DIR)\n");
        return -1;
    }
    FILE *fp = fopen(file, "r");
    if (!fp || !fgets(base_uri, sizeof base_uri, fp)) {
        fprintf(stderr, "cannot read the server URI from %s\n", file);
        if (fp)
            fclose(fp);
        return -1;
    }
    fclose(fp);
    base_uri[strcspn(base_uri, "\r\n")] = '\0';
    return 0;
}

/* ---- requests stored in parts (store_content.h) ---- */

typedef struct request_row {
    char *request;
    int rows;
} request_row;

static int take_request(void *ud, int ncols, const char *const *names, const char *const *values)
{
    request_row *r = ud;
    r->rows++;
    for (int i = 0; i < ncols; i++)
        if (strcmp(names[i], "request") == 0 && values[i])
            r->request = strdup(values[i]);
    return 0;
}

/* The request the exchange query reads back for id is text. */
static void check_request(nyx_store *s, const char *id, const char *want, int line)
{
    request_row r = {NULL, 0};
    nyx_error err;
    nyx_error_clear(&err);
    if (store_query_exchange(s, id, take_request, &r, &err) != 0 || r.rows != 1 || !r.request ||
        strcmp(r.request, want) != 0) {
        fprintf(stderr, "line %d: %s reads back %s (%s)\n", line, id,
                r.request ? "other text" : "no request", err.message);
        check_failures++;
    }
    free(r.request);
}

/* One system prompt under many questions, by every way in (alone, settled, in the loop, in a
 * batch): one part, every request read back as given; parts no request names are purged. */
static void test_content(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    char *sys = repeat("You are the support desk of a large library. ", 340);
    enum { N = 40 };
    char *bodies[N];
    CHECK_INT(store_batch_begin(s, &err), 0);
    for (int i = 0; i < N; i++) {
        char q[64], id[32];
        snprintf(q, sizeof q, "Question %d?", i);
        const char *m[] = {q};
        bodies[i] = body(sys, m, 1, 0, NULL);
        snprintf(id, sizeof id, "c%d", i);
        nyx_interaction it = make(id, T0);
        it.prompt_text = bodies[i];
        if (i == N / 2)
            CHECK_INT(store_batch_commit(s, &err), 0);
        if (i < N / 2 || i % 3 == 0) {
            CHECK_INT(store_log_interaction(s, &it, &err), 0);
        } else if (i % 3 == 1) {
            CHECK_INT(store_log_interaction_settle(s, &it, NULL, 0, &err), 0);
        } else {
            done_rec d = {0};
            CHECK_INT(store_log_interaction_settle_async(s, &it, NULL, 0, on_done, &d, &err), 0);
            CHECK_INT(drive(s, 10), 0);
            CHECK_INT(d.rc, 0);
        }
    }
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE prompt_text IS NULL AND"
                      " request_parts IS NOT NULL"),
              N);
    for (int i = 0; i < N; i += 7) {
        char id[32];
        snprintf(id, sizeof id, "c%d", i);
        check_request(s, id, bodies[i], __LINE__);
    }
    /* A conversation: each long turn once, though sent again every turn with a moving mark. */
    char *turns[6];
    for (int t = 0; t < 6; t++) {
        char unit[64], id[32];
        snprintf(unit, sizeof unit, "Turn %d of the talk, said at some length. ", t);
        turns[t] = repeat(unit, 10);
        char *b = body(NULL, (const char *const *)turns, t + 1, 1, NULL);
        snprintf(id, sizeof id, "t%d", t);
        nyx_interaction it = make(id, T0);
        it.prompt_text = b;
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
        check_request(s, id, b, __LINE__);
        free(b);
    }
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 7);

    long long removed = -1;
    CHECK_INT(store_content_purge(s, &removed, &err), 0);
    CHECK_INT(removed, 0);
    CHECK_INT(raw_exec("DELETE FROM llm_interactions WHERE id LIKE 't%'"), 0);
    CHECK_INT(store_content_purge(s, &removed, &err), 0);
    CHECK_INT(removed, 6);
    check_request(s, "c0", bodies[0], __LINE__);
    CHECK_INT(raw_exec("DELETE FROM llm_interactions"), 0);
    CHECK_INT(store_content_purge(s, &removed, &err), 0);
    CHECK_INT(removed, 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 0);
    store_close(s);
    for (int i = 0; i < N; i++)
        free(bodies[i]);
    for (int t = 0; t < 6; t++)
        free(turns[t]);
    free(sys);
}

/* A database of schema 2 (requests stored whole) is converted at open: every row reads back
 * as before, the repeated text is one part, the old column holds nothing that was cut. */
static void test_content_migration(void)
{
    nyx_store *s = open_db();
    if (!s)
        return;
    store_close(s);
    CHECK_INT(raw_exec("DROP FUNCTION nyx_content_purge(); DROP TABLE llm_content;"
                       " ALTER TABLE llm_interactions DROP COLUMN request_parts;"
                       " UPDATE nyx_schema SET version = 2"),
              0);
    char *sys = repeat("You are the support desk of a large library. ", 80);
    enum { N = 300 }; /* more than one round of the conversion */
    static char *bodies[N + 1];
    size_t cap = 64 * 1024;
    char *sql = malloc(cap);
    for (int i = 0; i < N; i++) {
        char q[64];
        snprintf(q, sizeof q, "Question %d?", i);
        const char *m[] = {q};
        bodies[i] = body(sys, m, 1, 0, NULL);
        snprintf(sql, cap, "INSERT INTO llm_interactions (id, created_at, status, prompt_text,"
                           " response_text) VALUES ('old%03d', %d, 'ok', '%s', 'answer %d')",
                 i, 1000 + i, bodies[i], i);
        CHECK_INT(raw_exec(sql), 0);
    }
    bodies[N] = strdup("a request that is not JSON");
    snprintf(sql, cap, "INSERT INTO llm_interactions (id, created_at, status, prompt_text)"
                       " VALUES ('old%03d', 5000, 'ok', '%s')", N, bodies[N]);
    CHECK_INT(raw_exec(sql), 0);
    free(sql);
    s = open_db();
    if (s) {
        CHECK_INT(store_schema_version(s), 3);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), N + 1);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_content"), 1);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE prompt_text IS NOT NULL"), 1);
        for (int i = 0; i <= N; i++) {
            char id[32];
            snprintf(id, sizeof id, "old%03d", i);
            check_request(s, id, bodies[i], __LINE__);
        }
        store_close(s);
    }
    for (int i = 0; i <= N; i++)
        free(bodies[i]);
    free(sys);
}

static void run(const char *name, void (*test)(void))
{
    int before = check_failures;
    if (db_begin() != 0) {
        fprintf(stderr, "%s: cannot create its database\n", name);
        check_failures++;
        return;
    }
    alarm(TEST_TIMEOUT_S);
    test();
    alarm(0);
    db_end();
    fprintf(stderr, "%s %s\n", check_failures == before ? "ok  " : "FAIL", name);
}

/* Message Batches: a batch and its requests in one statement, found by either id; the
 * reservations pass to the batch; a result logged by two stores is logged and settled once. */
static int batch_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    char *out = ud;
    const char *want[] = {"custom_id", "part", "provider_id", "session", "logged"};
    size_t len = strlen(out);
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        for (int c = 0; c < ncols; c++)
            if (strcmp(names[c], want[k]) == 0)
                len += (size_t)snprintf(out + len, 1024 - len, "%s%s", k ? ":" : "", values[c] ? values[c] : "-");
    snprintf(out + len, 1024 - len, "\n");
    return 0;
}

static void test_batches(void)
{
    nyx_store *s = open_db(), *t = s ? open_db() : NULL;
    if (!s || !t) {
        store_close(s);
        return;
    }
    nyx_error err;
    nyx_error_clear(&err);
    store_scope scope[] = {{"session:b", 1.0}};
    char r1[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, scope, 1, 0.25, r1, sizeof r1, NULL, &err), 0);
    double expires = nyx_wall_s() + 86400;
    store_batch_request reqs[] = {
        {.custom_id = "a", .part = 0, .session = "b", .model = "m", .reservation_id = r1, .reserved_usd = 0.25},
        {.custom_id = "b\"q", .part = 1, .template_name = "t", .template_version = 2, .write_1h = 1},
    };
    CHECK_INT(store_batch_create(s, "nb_1", "nightly", expires, 2, reqs, 2, &err), 0);
    char out[1024] = "";
    CHECK_INT(store_batch_requests(t, "nb_1", batch_row, out, &err), 0);
    CHECK_STR(out, "a:0:-:b:0\nb\"q:1:-:-:0\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds WHERE pid IS NULL AND host IS NULL"
                      " AND created_at > extract(epoch from now()) + 80000"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batch_requests WHERE template_version = 2 AND write_1h = 1"), 1);
    CHECK_INT(store_batch_create(t, "nb_1", NULL, expires, 1, reqs, 1, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_batch_requests"), 2);
    CHECK_INT(store_batch_submitted(s, "nb_1", 1, "msgbatch_p1", &err), 0);
    out[0] = '\0';
    CHECK_INT(store_batch_requests(t, "msgbatch_p1", batch_row, out, &err), 0);
    CHECK_STR(out, "a:0:-:b:0\nb\"q:1:msgbatch_p1:-:0\n");

    nyx_interaction first = make("bx1", T0), again = make("bx2", T0);
    first.batch_id = again.batch_id = "nb_1";
    first.custom_id = again.custom_id = "a";
    first.service_tier = again.service_tier = "batch";
    first.has_cost = again.has_cost = 1;
    first.cost_usd = again.cost_usd = 0.125;
    CHECK_INT(store_log_interaction_settle(s, &first, r1, 0.125, &err), 0);
    CHECK_INT(store_log_interaction_settle(t, &again, r1, 0.125, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE batch_id = 'nb_1' AND service_tier = 'batch'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'session:b' AND spent_usd = 0.125"
                      " AND reserved_usd = 0"), 1);
    out[0] = '\0';
    CHECK_INT(store_batch_requests(s, "nb_1", batch_row, out, &err), 0);
    CHECK_STR(out, "a:0:-:b:1\nb\"q:1:msgbatch_p1:-:0\n");
    store_close(s);
    store_close(t);
}

int main(void)
{
    if (read_base_uri() != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN); /* a dropped server connection is an error, not a death */
    run("open_and_migrate", test_open_and_migrate);
    run("concurrent_migration", test_concurrent_migration);
    run("content", test_content);
    run("content_migration", test_content_migration);
    run("log_fields", test_log_fields);
    run("queries", test_queries);
    run("unknown_cost", test_unknown_cost);
    run("sessions", test_sessions);
    run("batch", test_batch);
    run("batches", test_batches);
    run("async", test_async);
    run("connection_loss", test_connection_loss);
    run("password_hidden", test_password_hidden);
    CHECK_DONE();
}
