/* engine/store on SQLite, what only a file has: its schema and migrations, the plans its
 * indexes give, an in-memory database, every failing-disk case
 * (missing, not a database, read-only, locked, full) as a clear "store_error", checkpoints,
 * the page cache, durability across SIGKILL and a reader's view of each commit. What every
 * backend does: tests/store/conformance_*.c. */
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
#include "../store/conformance.h"
#include "base/clock.h"
#include "store/store.h"
#include "store/store_sqlite.h"

static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", scratch, name);
}

/* ---- schema and migrations ---- */

static void test_migrations(void)
{
    store_db *s = open_db();
    if (!s)
        return;
    /* The first store of the process turned SQLite's memory statistics off: they cost a
     * global mutex on every allocation. */
    CHECK_INT(sqlite3_memory_used(), 0);
    CHECK_INT(store_schema_version(s), store_schema_latest());
    CHECK_INT(store_schema_latest(), 10);
    CHECK_INT(store_sqlite_migrations_applied(s), store_schema_latest());
    CHECK_INT(count_rows(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                            " ('llm_interactions','sessions','thought_trees','prompt_templates',"
                            " 'template_usage','budgets','budget_reservations','llm_cache',"
                            " 'audit_events','system_config','control')"),
              11);
    /* Only the indexes queries need: every other one costs each call a page (migration 4). */
    CHECK_INT(count_rows(s, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                            " ('llm_interactions_created_at','llm_interactions_session')"),
              1);
    store_close(s);

    /* The status CHECK is comparisons, not an IN list, which SQLite evaluates by building a
     * temporary index for every row inserted (migration 9); it still refuses a bad status. */
    CHECK_INT(raw_int("SELECT count(*) FROM sqlite_master WHERE name = 'llm_interactions'"
                      " AND sql LIKE '%status IN (%'"),
              0);
    CHECK_INT(raw_int("SELECT count(*) FROM sqlite_master WHERE name = 'llm_interactions'"
                      " AND sql LIKE '%CHECK (status = ''ok'' OR status = ''error'' OR status = ''cancelled'')%'"),
              1);
    sqlite3_stmt *st = NULL;
    int ephemeral = 0;
    CHECK_INT(raw_lite_step("EXPLAIN INSERT INTO llm_interactions (id, created_at, status)"
                            " VALUES ('x', 1, 'ok')", &st),
              SQLITE_ROW);
    do
        ephemeral += strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
    while (sqlite3_step(st) == SQLITE_ROW);
    sqlite3_finalize(st);
    CHECK_INT(ephemeral, 0);
    CHECK(sqlite3_exec(raw_lite, "INSERT INTO llm_interactions (id, created_at, status) VALUES ('bad', 1, 'maybe')",
                       NULL, NULL, NULL) == SQLITE_CONSTRAINT);
    char text[16];
    CHECK_STR(raw_text("PRAGMA integrity_check", text, sizeof text), "ok");
    CHECK_STR(raw_text("PRAGMA journal_mode", text, sizeof text), "wal");

    /* Reopen: nothing to migrate (the data kept: conformance_open.c). */
    s = open_db();
    if (s) {
        CHECK_INT(store_sqlite_migrations_applied(s), 0);
        CHECK_INT(store_schema_version(s), store_schema_latest());
        store_close(s);
    }
    CHECK_INT(raw_int("PRAGMA user_version"), store_schema_latest());
}

/* The file's schema as text: its version, then each entry of sqlite_master (type, name,
 * table, sql) in a fixed order; NULL when it cannot be read. rootpage and the order of the
 * entries depend on how the schema was made; nothing else may. */
static char *schema_dump(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    size_t len = 0, cap = 0;
    int ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db,
                                "SELECT 'version', (SELECT user_version FROM pragma_user_version), '', ''"
                                " UNION ALL SELECT * FROM (SELECT type, name, tbl_name, ifnull(sql, '')"
                                " FROM sqlite_master ORDER BY type, name)",
                                -1, &st, NULL) == SQLITE_OK;
    int rc = SQLITE_ROW;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        char line[4096];
        int n = snprintf(line, sizeof line, "%s|%s|%s|%s\n", sqlite3_column_text(st, 0),
                         sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), sqlite3_column_text(st, 3));
        if (n < 0 || (size_t)n >= sizeof line) {
            ok = 0;
            break;
        }
        if (len + (size_t)n + 1 > cap) {
            cap = (len + (size_t)n + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                ok = 0;
                break;
            }
            out = grown;
        }
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    if (ok && rc != SQLITE_DONE)
        ok = 0;
    if (!ok)
        fprintf(stderr, "schema_dump(%s): %s\n", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* A new database gets the newest schema in one transaction, not by the migrations; it must be
 * the very schema the migrations make, whatever version a database starts at: created
 * stepwise to version `from` (migration 1 alone for 1, every migration for the latest), then
 * brought up to date by an ordinary open. */
static void test_fresh_schema_is_migrated_schema(void)
{
    char fresh[300];
    path_in_tmp(fresh, sizeof fresh, "fresh.db");
    error_info err = cleared_error();
    store_db *s = store_open_opts(fresh, NULL, &err);
    REQUIRE(s != NULL);
    CHECK_INT(store_sqlite_migrations_applied(s), store_schema_latest());
    store_close(s);
    char *want = schema_dump(fresh);
    REQUIRE(want != NULL);
    CHECK_CONTAINS(want, "table|llm_interactions|llm_interactions|CREATE TABLE llm_interactions (");
    char version[32];
    snprintf(version, sizeof version, "version|%d||\n", store_schema_latest());
    CHECK(strncmp(want, version, strlen(version)) == 0);

    for (int from = 1; from <= store_schema_latest(); from++) {
        char path[300], name[32];
        snprintf(name, sizeof name, "from-%d.db", from);
        path_in_tmp(path, sizeof path, name);
        sqlite3 *db = NULL;
        int v = -1, applied = -1;
        CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
        CHECK_INT(store_schema_migrate_stepwise(db, path, from, &v, &applied, &err), 0);
        CHECK_INT(v, from);
        CHECK_INT(applied, from);
        sqlite3_close(db);

        s = store_open_opts(path, NULL, &err);
        REQUIRE(s != NULL);
        CHECK_INT(store_sqlite_migrations_applied(s), store_schema_latest() - from);
        store_close(s);
        char *got = schema_dump(path);
        if (!got || strcmp(got, want) != 0)
            fprintf(stderr, "migrated from version %d:\n%s\nnew:\n%s\n", from, got ? got : "(null)", want);
        CHECK(got && strcmp(got, want) == 0);
        free(got);
    }
    free(want);
}

/* Creating the schema of a new database is one transaction: when a statement of it fails
 * (here a table of that name is in the file already), nothing of it stays, and the version
 * stays 0, so the next open starts over. */
static void test_fresh_schema_all_or_nothing(void)
{
    char path[300];
    path_in_tmp(path, sizeof path, "half.db");
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "CREATE TABLE llm_content (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char *before = schema_dump(path);
    REQUIRE(before != NULL);

    error_info err = cleared_error();
    store_db *s = store_open_opts(path, NULL, &err);
    CHECK(s == NULL);
    store_close(s);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "llm_content");
    char *after = schema_dump(path);
    CHECK(after && strcmp(after, before) == 0);
    if (after && strcmp(after, before) != 0)
        fprintf(stderr, "left behind:\n%s\n", after);
    free(before);
    free(after);
}

/* Migration 2 moves a reservation from budget_reservations (one row per scope) into
 * budget_holds (one row), and it settles there. */
static void test_migration_2(void)
{
    error_info err = cleared_error();
    store_close(open_db());
    /* Back to version 1, holding a reservation made the version-1 way. */
    CHECK_INT(raw_exec("DROP TABLE budget_holds; DROP TABLE llm_batches; DROP TABLE llm_batch_requests;"
                       " DROP INDEX llm_interactions_batch; ALTER TABLE llm_interactions DROP COLUMN service_tier;"
                       " ALTER TABLE llm_interactions DROP COLUMN batch_id;"
                       " ALTER TABLE llm_interactions DROP COLUMN custom_id;"
                       " DROP TABLE llm_content; ALTER TABLE llm_interactions DROP COLUMN request_parts;"
                       " ALTER TABLE llm_interactions DROP COLUMN standard_cost_usd;"
                       " ALTER TABLE llm_interactions DROP COLUMN tool_calls;"
                       " ALTER TABLE llm_interactions DROP COLUMN iteration;"
                       " PRAGMA user_version = 1;"
                       " INSERT INTO budgets VALUES ('session:v1', 1.0, 0, 0.5, 0),"
                       " ('day:v1', 5.0, 0, 0.5, 0);"
                       " INSERT INTO budget_reservations VALUES"
                       " ('old', 'session:v1', 0.5, 100, 1, 'h'),"
                       " ('old', 'day:v1', 0.5, 100, 1, 'h')"),
              0);
    store_db *s = open_db();
    REQUIRE(s != NULL);
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
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char byte;
        close(go[1]);
        if (read(go[0], &byte, 1) != 1) /* the parent holds the write lock now */
            _exit(12);
        error_info e;
        store_db *c = store_open_opts(path, NULL, &e); /* reads version 0, then waits for the lock */
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
    error_info err = cleared_error();
    store_db *s = store_open_opts(ref, NULL, &err); /* the schema, to copy */
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

/* ---- an in-memory store ---- */

static void test_memory(void)
{
    error_info err = cleared_error();
    store_db *s = store_open_opts(":memory:", NULL, &err);
    REQUIRE(s != NULL);
    CHECK_STR(store_backend_name(s), "sqlite");
    CHECK_INT(store_schema_version(s), store_schema_latest());
    interaction_rec it = make("now", 0); /* created_at 0: stamped now */
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'now' AND"
                            " created_at > 1.7e9"),
              1);
    CHECK_STR(picked(s, store_query_log, NULL, "id"), "now\n");
    store_close(s);
}

/* ---- open failures ---- */

static void test_open_failures(void)
{
    error_info err;

    /* A directory that does not exist. */
    error_clear(&err);
    CHECK(store_open_opts("/nonexistent-nyx-dir/sub/nyx.db", NULL, &err) == NULL);
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
    error_clear(&err);
    CHECK(store_open_opts(path, NULL, &err) == NULL);
    CHECK_ERROR(err, "store_error", path);
    CHECK_CONTAINS(err.message, "file is not a database");
}

/* ---- failing disk: read-only ---- */

/* Opens a read-only database, expects queries to work and writes to fail clearly. Returns
 * the number of failed checks (run in a child process when privileges are dropped). */
static int readonly_checks(const char *uri, const char *shown)
{
    int before = check_failures;
    error_info err = cleared_error();
    store_db *s = store_open_opts(uri, NULL, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "read-only open: %s\n", err.message);
        return check_failures - before;
    }
    CHECK_INT(store_is_readonly(s), 1);
    CHECK_STR(picked(s, store_query_log, NULL, "id"), "ro1\n");

    interaction_rec it = make("ro2", T0);
    error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    char want[512];
    snprintf(want, sizeof want,
             "store: cannot log interaction ro2 to %s: attempt to write a readonly database",
             shown);
    CHECK_STR(err.message, want);
    CHECK_INT(err.retryable, 0);

    int64_t id = 0;
    error_clear(&err);
    CHECK_INT(store_thought_add(s, NULL, 0, "t", &id, &err), -1);
    CHECK_ERROR(err, "store_error", "readonly");
    error_clear(&err);
    CHECK_INT(store_session_end(s, "x", &err), -1);
    CHECK_CONTAINS(err.message, "readonly");
    error_clear(&err);
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
    CHECK_INT(stored_config(s, "k", &v, &err), 0);
    CHECK_STR(v, "v");
    free(v);
    error_clear(&err);
    CHECK_INT(store_config_set(s, "k", "w", &err), -1);
    CHECK_ERROR(err, "store_error", "cannot set configuration key k in");
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
    error_info err = cleared_error();
    store_db *s = store_open_opts(path, NULL, &err);
    REQUIRE(s != NULL);
    interaction_rec it = make("ro1", T0);
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
    CHECK_INT(chmod(scratch, 0711), 0); /* let nobody reach the file */
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
    CHECK_INT(chmod(scratch, 0700), 0);
}

/* ---- failing disk: locked ---- */

static void test_locked(void)
{
    error_info err = cleared_error();
    store_options opts = {.busy_timeout_ms = 50};
    store_db *s = store_open_opts(db_uri, &opts, &err);
    REQUIRE(s != NULL);

    /* Another connection (as another process would) holds the write lock. */
    CHECK_INT(raw_exec("BEGIN IMMEDIATE; INSERT INTO control VALUES ('stop', '1', 0)"), 0);

    interaction_rec it = make("L1", T0);
    error_clear(&err);
    int64_t t0 = clock_now_us();
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    int64_t waited_us = clock_now_us() - t0;
    CHECK(waited_us >= 40000);     /* it waited for the busy timeout... */
    CHECK(waited_us < 2000000);    /* ...and not much longer */
    CHECK_STR(err.type, "store_error");
    char want[800];
    snprintf(want, sizeof want, "store: cannot log interaction L1 to %s: database is locked", db_uri);
    CHECK_STR(err.message, want);
    CHECK_INT(err.retryable, 1);

    error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), -1);
    CHECK_CONTAINS(err.message, "cannot begin a batch on");
    CHECK_CONTAINS(err.message, "database is locked");
    int64_t id = 0;
    error_clear(&err);
    CHECK_INT(store_thought_add(s, NULL, 0, "t", &id, &err), -1);
    CHECK_CONTAINS(err.message, "database is locked");

    /* Readers are not blocked by a writer in WAL mode. */
    CHECK_STR(picked(s, store_query_stats, NULL, "calls"), "0\n");

    /* Once the lock is gone the same call succeeds. */
    CHECK_INT(raw_exec("COMMIT"), 0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    store_close(s);

    /* An exclusive lock held through an open: the open fails clearly. */
    CHECK_INT(raw_exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;"
                       " INSERT INTO control VALUES ('x', '1', 0)"),
              0);
    error_clear(&err);
    s = store_open_opts(db_uri, &opts, &err);
    CHECK(s == NULL);
    store_close(s);
    CHECK_ERROR(err, "store_error", db_uri);
    CHECK_CONTAINS(err.message, "database is locked");
    CHECK_INT(err.retryable, 1);
    CHECK_INT(raw_exec("COMMIT"), 0);
    raw_close(); /* an exclusive lock lasts as long as its connection */

    s = store_open_opts(db_uri, &opts, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions"), 1);
        store_close(s);
    }
}

/* ---- failing disk: full ---- */

static void test_full(store_db *s)
{
    error_info err = cleared_error();
    sqlite3 *db = store_sqlite_db(s);
    CHECK(db != NULL);
    long long pages = count_rows(s, "PRAGMA page_count");
    CHECK(pages > 0);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages);
    CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

    static char big[64 * 1024];
    memset(big, 'x', sizeof big - 1);
    interaction_rec it = make("F1", T0);
    it.prompt_text = big;
    error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    char want[800];
    snprintf(want, sizeof want, "store: cannot log interaction F1 to %s: database or disk is full",
             db_uri);
    CHECK_STR(err.message, want);

    /* Full inside a batch: the batch is rolled back as a whole. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    interaction_rec small = make("F-small", T0);
    CHECK_INT(store_log_interaction(s, &small, &err), 0);
    error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_CONTAINS(err.message, "database or disk is full");
    CHECK_CONTAINS(err.message, "the batch (1 earlier writes) was rolled back");
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions"), 0);

    /* Space again: the same store goes on working. */
    CHECK_INT(sqlite3_exec(db, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_log_interaction(s, &small, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 2);
    CHECK_INT(raw_int("SELECT length(prompt_text) FROM llm_interactions WHERE id = 'F1'"),
              (long long)sizeof big - 1);
}

/* ---- checkpoints run beside the writer and keep the WAL small ---- */


/* Logs n records id PREFIX0..n-1 with text as their prompt (session and thought set when
 * given); the count logged, a failure reported once. */
static int log_texts(store_db *s, const char *prefix, int n, const char *text, const char *session)
{
    error_info err = cleared_error();
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        interaction_rec it = make(id, T0 + i);
        it.session = session;
        it.thought_id = session ? 1 : 0;
        it.prompt_text = text;
        if (store_log_interaction(s, &it, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            return i;
        }
    }
    return n;
}

/* Waits up to 2 s for the checkpointing thread's first run; its run count. */
static int await_checkpoint(store_db *s)
{
    for (int k = 0; k < 200 && store_sqlite_checkpoints(s) < 1; k++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return store_sqlite_checkpoints(s);
}
/* Descriptors of this process open on the database file itself (not its -wal or -shm): one
 * per connection. */
static int file_fds(const char *path)
{
    struct stat db, fd;
    if (stat(path, &db) != 0)
        return -1;
    int n = 0;
    for (int i = 0; i < 1024; i++) {
        char link[32];
        snprintf(link, sizeof link, "/proc/self/fd/%d", i);
        if (stat(link, &fd) == 0 && fd.st_dev == db.st_dev && fd.st_ino == db.st_ino)
            n++;
    }
    return n;
}

static int db_file_fds(void) { return file_fds(db_uri); }

static void test_checkpoints(void)
{
    char wal[710];
    snprintf(wal, sizeof wal, "%s-wal", db_uri);
    error_info err = cleared_error();
    store_db *s = open_db();
    REQUIRE(s != NULL);
    CHECK_INT(store_sqlite_checkpoints(s), 0); /* the thread exists and has had no work */
    /* nor a connection yet: opening it reads the schema, which a short run never needs */
    CHECK_INT(db_file_fds(), 1);
    static char text[3000];
    memset(text, 't', sizeof text - 1);
    /* ~7 pages per commit: 4000 commits would make a 110 MB WAL without checkpoints. */
    log_texts(s, "c", 4000, text, "ck");
    CHECK(await_checkpoint(s) >= 1);
    CHECK_INT(db_file_fds(), 2); /* the writer's and the checkpointer's */
    struct stat st;
    CHECK_INT(stat(wal, &st), 0);
    /* Without checkpoints it would reach ~110 MB; how far below depends on machine load. */
    CHECK(st.st_size < 100L * 1024 * 1024);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions"), 4000);
    store_close(s);
    CHECK(stat(wal, &st) != 0); /* the last close checkpoints and removes the WAL */
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 4000);

    s = store_open_opts(":memory:", NULL, &err);
    CHECK(s != NULL);
    CHECK_INT(store_sqlite_checkpoints(s), -1); /* no WAL, no thread */
    store_close(s);
}

/* The thread opens its connection only when first woken, maybe long after the store opened:
 * a database named by a relative path (the default "nyx.db"), or by a "file:" URI with one
 * and a query, is still the one it checkpoints after the process has changed its working
 * directory. */
static void test_checkpoints_after_chdir(void)
{
    /* a name SQLite takes as it is, in a directory whose name a URI would have to escape */
    static const char *const forms[] = {"%s.db", "file:%s.db?psow=1", "odd ?#%%dir/%s.db",
                                        "file:%s.db?mode=rwc&psow=1"};
    char cwd[512];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    static char text[3000];
    memset(text, 't', sizeof text - 1);
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, forms[f], db_name);
        CHECK_ROW("%s", rel);
        REQUIRE(chdir(scratch) == 0);
        CHECK(mkdir("odd ?#%dir", 0700) == 0 || errno == EEXIST);
        char file[900];
        snprintf(file, sizeof file, "%s/%s", scratch, strchr(rel, '/') ? rel : db_uri + strlen(scratch) + 1);
        error_info err = cleared_error();
        store_db *s = store_open_opts(rel, NULL, &err);
        int moved = chdir("/") == 0;
        CHECK(moved);
        CHECK(s != NULL);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "d%zu-", f);
        if (s && moved)
            log_texts(s, prefix, 1000, text, NULL);
        CHECK(s && await_checkpoint(s) >= 1);
        CHECK_INT(file_fds(file), 2); /* the writer's and the checkpointer's */
        store_close(s);
        REQUIRE(chdir(cwd) == 0);
    }
    CHECK_ROW_END();
}

/* ---- memory: the page cache stays small however much is written ---- */

/* 3 MB of distinct records pass through the writer's connection; SQLite would keep up to
 * 2 MB of their pages cached by default, the store keeps its cache to 256 KiB. */
static void test_page_cache(store_db *s)
{
    error_info err = cleared_error();
    static char text[3000];
    for (int n = 0; n < 1000; n++) {
        char id[32];
        snprintf(id, sizeof id, "p%d", n);
        for (size_t i = 0; i + 1 < sizeof text; i++)
            text[i] = (char)('a' + (n * 7 + (int)i * 13) % 26);
        interaction_rec it = make(id, T0 + n);
        it.prompt_text = text;
        if (store_log_interaction(s, &it, &err) != 0) {
            CHECK(0);
            fprintf(stderr, "%s\n", err.message);
            break;
        }
    }
    int used = 0, highwater = 0;
    CHECK_INT(sqlite3_db_status(sq_of(s)->db, SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0), SQLITE_OK);
    CHECK(used > 0);
    CHECK(used <= 320 * 1024); /* 256 KiB of pages, and their headers */
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions"), 1000);
}

/* ---- durability: SIGKILL right after a commit loses nothing ---- */

static void test_sigkill(void)
{
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        /* Log forever; report each id only after store_log_interaction returned 0, as the
         * engine hands a result to a script only after the row is committed. */
        close(fds[0]);
        error_info err;
        store_db *s = store_open_opts(db_uri, NULL, &err);
        if (!s)
            _exit(2);
        char prompt[2048];
        memset(prompt, 'p', sizeof prompt - 1);
        prompt[sizeof prompt - 1] = '\0';
        for (int n = 0;; n++) {
            char id[32];
            snprintf(id, sizeof id, "k%d", n);
            interaction_rec it = make(id, T0 + n);
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

    store_db *s = open_db();
    REQUIRE(s != NULL);
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
static void test_reader_sees_commits(store_db *s)
{
    error_info err = cleared_error();
    sqlite3 *reader = NULL;
    CHECK_INT(sqlite3_open_v2(db_uri, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (!reader)
        return;
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
        interaction_rec it = make(id, T0 + n);
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
        interaction_rec it = make(id, T0 + n);
        it.prompt_text = text;
        it.response_text = text;
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(sqlite3_step(count), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(count, 0), 300);
    sqlite3_finalize(count);
    sqlite3_close(reader);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 300);
    CHECK_INT(raw_int("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
}

/* ---- the session index (migration 10) ---- */

/* What ran on llm_interactions while traced: how many statements, the last one's text, and
 * what running them cost: rows stepped through in full scans of a table (none when an index
 * served them), rows put in indexes SQLite built on the fly (an automatic index is made by
 * reading the whole table). */
typedef struct ran {
    int statements;
    char sql[2048];
    int full_scan_steps;
    int auto_index_rows;
} ran;

static int record_run(unsigned type, void *ud, void *p, void *x)
{
    (void)x;
    ran *r = ud;
    sqlite3_stmt *st = p;
    const char *sql = type == SQLITE_TRACE_PROFILE ? sqlite3_sql(st) : NULL;
    if (sql && strstr(sql, "llm_interactions")) {
        r->statements++;
        snprintf(r->sql, sizeof r->sql, "%s", sql);
        r->full_scan_steps += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
        r->auto_index_rows += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_AUTOINDEX, 1);
    }
    return 0;
}

static int ignore_row(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types)
{
    (void)ud, (void)ncols, (void)names, (void)values, (void)types;
    return 0;
}

/* A database of schema 9 (its session index holds every call) migrates to one whose session
 * index holds only the calls of a session, keeping every row; every query by session, and
 * the exchange by id, is still served by an index, not a scan of the table. */
static void test_session_index(void)
{
    error_info err = cleared_error();
    store_db *s = open_db();
    REQUIRE(s != NULL);
    int64_t node = 0;
    CHECK_INT(store_thought_add(s, "a", 0, "loop", &node, &err), 0);
    /* 4 calls of session a (2 of them a tool loop's iterations), 2 of b, 6 of none. */
    char ids[12][16];
    for (int i = 0; i < 12; i++) {
        snprintf(ids[i], sizeof ids[i], "v9-%02d", i);
        interaction_rec it = make(ids[i], T0 + i);
        it.session = i < 4 ? "a" : i < 6 ? "b" : NULL;
        if (i < 2) {
            it.thought_id = node;
            it.iteration = i + 1;
        }
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    store_close(s);
    /* Back to version 9: the index over every row. */
    CHECK_INT(raw_exec("DROP INDEX llm_interactions_session;"
                       " CREATE INDEX llm_interactions_session ON llm_interactions(session, created_at);"
                       " PRAGMA user_version = 9"),
              0);
    CHECK_INT(raw_int("SELECT sum(ncell) FROM dbstat WHERE name = 'llm_interactions_session'"), 12);

    s = store_open_opts(db_uri, NULL, &err);
    REQUIRE(s != NULL);
    CHECK_INT(store_sqlite_migrations_applied(s), 1);
    CHECK_INT(store_schema_version(s), 10);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM sqlite_master WHERE name = 'llm_interactions_session'"
                            " AND sql LIKE '%WHERE session IS NOT NULL'"),
              1);
    /* Every row kept; only the calls of a session in the index. */
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id LIKE 'v9-%'"), 12);
    CHECK_INT(count_rows(s, "SELECT sum(ncell) FROM dbstat WHERE name = 'llm_interactions_session'"), 6);
    interaction_rec it = make("v10-none", T0 + 20);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    it = make("v10-a", T0 + 21);
    it.session = "a";
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(count_rows(s, "SELECT sum(ncell) FROM dbstat WHERE name = 'llm_interactions_session'"), 7);

    ran c = {0};
    CHECK_INT(sqlite3_trace_v2(store_sqlite_db(s), SQLITE_TRACE_PROFILE, record_run, &c), SQLITE_OK);
    store_filter by_a = {.session = "a"}, since = {.session = "a", .since = T0 + 1},
                 last = {.session = "a", .last = 2}, grouped = {.session = "a", .group_by = "model"};
    CHECK_INT(store_query_log(s, &by_a, ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_log(s, &since, ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_log(s, &last, ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_usage(s, &by_a, ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_stats(s, &by_a, ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_stats(s, &grouped, ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_iterations(s, "a", ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_iterations(s, NULL, ignore_row, NULL, &err), 0);
    CHECK_INT(store_query_exchange(s, "v9-07", ignore_row, NULL, &err), 0);
    CHECK_INT(store_session_end(s, "a", &err), 0);
    CHECK_INT(c.statements, 10);
    CHECK_INT(c.full_scan_steps, 0);
    sqlite3_trace_v2(store_sqlite_db(s), 0, NULL, NULL);
    /* The session's totals come from its rows, through the index. */
    CHECK_INT(count_rows(s, "SELECT calls FROM sessions WHERE name = 'a'"), 5);
    CHECK_STR(picked(s, store_query_log, &by_a, "id"), "v9-00\nv9-01\nv9-02\nv9-03\nv10-a\n");
    store_close(s);
}

/* ---- the thought trees' query ---- */

/* SQLite's plan for sql, a line per step. */
static void plan_of(sqlite3 *db, const char *sql, char *out, size_t n)
{
    char explain[2100];
    snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
    out[0] = '\0';
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
    size_t used = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW && used < n) {
        int w = snprintf(out + used, n - used, "%s\n", (const char *)sqlite3_column_text(st, 3));
        used += w > 0 ? (size_t)w : 0;
    }
    sqlite3_finalize(st);
}

/* A tree's totals read the calls of its nodes through llm_interactions_thought: no automatic
 * index (which SQLite builds by reading every call, the many outside any thought included) and
 * no scan of the table, with or without a session. */
static void test_thought_index(store_db *s)
{
    error_info err = cleared_error();
    int64_t root = 0, child = 0, leaf = 0, other = 0;
    CHECK_INT(store_thought_add(s, "a", 0, "plan", &root, &err), 0);
    CHECK_INT(store_thought_add(s, "a", root, "step", &child, &err), 0);
    CHECK_INT(store_thought_add(s, "a", child, "detail", &leaf, &err), 0);
    CHECK_INT(store_thought_add(s, "b", 0, "elsewhere", &other, &err), 0);
    /* 2 calls on each node, 40 in no thought. */
    int64_t nodes[] = {root, child, leaf, other};
    for (int i = 0; i < 48; i++) {
        char id[16];
        snprintf(id, sizeof id, "th-%02d", i);
        interaction_rec it = make(id, T0 + i);
        it.session = i % 2 ? "a" : NULL;
        it.usage.input_tokens = 10;
        it.usage.output_tokens = 1;
        if (i < 8) {
            it.thought_id = nodes[i / 2];
            it.session = i < 6 ? "a" : "b";
        }
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }

    sqlite3 *db = store_sqlite_db(s);
    for (int by_session = 1; by_session >= 0; by_session--) {
        ran r = {0};
        CHECK_INT(sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, record_run, &r), SQLITE_OK);
        rows got = {0};
        CHECK_INT(store_query_thoughts(s, by_session ? "a" : NULL, collect, &got, &err), 0);
        sqlite3_trace_v2(db, 0, NULL, NULL);
        char want[256];
        snprintf(want, sizeof want, "%lld|6|66\n%lld|4|44\n%lld|2|22\n", (long long)root,
                 (long long)child, (long long)leaf);
        if (by_session) {
            CHECK_STR(pick(&got, "id,calls,tokens"), want);
        } else {
            CHECK_INT(got.n, 4);
            CHECK_STR(cell(&got, 3, "calls"), "2");
        }
        rows_free(&got);
        char plan[2048];
        plan_of(db, r.sql, plan, sizeof plan);
        if (!contains(plan, "SEARCH i USING INDEX llm_interactions_thought") || contains(plan, "AUTOMATIC"))
            fprintf(stderr, "plan of the thoughts query:\n%s", plan);
        CHECK(contains(plan, "SEARCH i USING INDEX llm_interactions_thought (thought_id=?)"));
        CHECK(!contains(plan, "AUTOMATIC"));
        CHECK(!contains(plan, "SCAN i"));
        CHECK_INT(r.auto_index_rows, 0);
        /* By session, the session's nodes come from their index too; over every session, only
         * the 4 nodes are read in full (a step past each but the first), never the 48 calls. */
        CHECK_INT(r.full_scan_steps, by_session ? 0 : 3);
    }
}

BACKEND_SUITE("sqlite", "test_store",
    {"migrations", .fn = test_migrations},
    {"migration_2", .fn = test_migration_2},
    {"fresh_schema_is_migrated_schema", .fn = test_fresh_schema_is_migrated_schema},
    {"fresh_schema_all_or_nothing", .fn = test_fresh_schema_all_or_nothing},
    {"concurrent_migration", .fn = test_concurrent_migration},
    {"session_index", .fn = test_session_index},
    {"thought_index", .on_db = test_thought_index},
    {"memory", .fn = test_memory},
    {"open_failures", .fn = test_open_failures},
    {"readonly", .fn = test_readonly},
    {"locked", .fn = test_locked},
    {"full", .on_db = test_full},
    {"checkpoints", .fn = test_checkpoints},
    {"checkpoints_after_chdir", .fn = test_checkpoints_after_chdir},
    {"page_cache", .on_db = test_page_cache},
    {"sigkill", .fn = test_sigkill},
    {"reader_sees_commits", .on_db = test_reader_sees_commits})
