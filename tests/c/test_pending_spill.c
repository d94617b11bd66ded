/* Records still waiting for the database when the engine closes (another process holds the
 * SQLite write lock) go to the spill file beside it, "<db>-pending", made with the database
 * file's permission bits, instead of being lost; the next engine to open the database writes
 * them in, settles their budget reservations and removes the file. A torn last line costs that
 * line only; an import is never done twice; a spill not yet imported keeps its dead writer's
 * reservations from being reaped; records that cannot even be spilled are still counted lost;
 * a call that waited for its record hears where it went. A PostgreSQL database's spill goes to
 * the spill directory under a name without the password (the server's side:
 * tests/pg/spill.sh). */
#define _DEFAULT_SOURCE /* flock */
#include "check.h"
#include "core/pending_spill.h"
#include "core/spill_record.h"
#include "nyx.h"
#include "sim_engine.h"
#include "store/store.h"

#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static char logged[16384];

/* flock as this program has it, pending_spill.c included (linked in statically): the
 * system's, after before_flock has run once when it is set. It puts another writer between a
 * writer's creating the spill file and its taking the lock, which no timing can promise. */
static void (*before_flock)(int fd);

int flock(int fd, int op)
{
    void (*hook)(int) = before_flock;
    before_flock = NULL;
    if (hook && (op & LOCK_EX))
        hook(fd);
    return (int)syscall(SYS_flock, fd, op);
}

static void capture(void *ud, int level, const char *msg)
{
    (void)ud;
    (void)level;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", msg);
}

static void capture_spill(void *ud, int level, const char *msg) { capture(ud, level, msg); }

static nyx_engine *open_on(const char *path)
{
    nyx_engine *e = open_engine();
    if (!e)
        return NULL;
    nyx_set_log(e, capture, NULL);
    CHECK_INT(nyx_set(e, "db", path), NYX_OK);
    CHECK_INT(nyx_set(e, "reload", "0"), NYX_OK);
    return e;
}

/* Declares path, dir/name (a database file), and spill, the file its records spill to. */
#define DB_IN(dir, name)                             \
    char path[256], spill[300];                      \
    snprintf(path, sizeof path, "%s/%s", dir, name); \
    snprintf(spill, sizeof spill, "%s-pending", path)

static double real(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    double v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    else
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static double query(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    double v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
        v = real(db, sql);
    sqlite3_close(db);
    return v;
}

/* Where the records of the SQLite file db spill (it must exist: its mode is the spill's). */
static const spill_place *place_of(const char *db)
{
    static spill_place place;
    if (pending_spill_place(db, NULL, &place) != 0) {
        fprintf(stderr, "no spill place for %s\n", db);
        check_failures++;
    }
    return &place;
}

/* An empty file at path: a SQLite database opened later. */
static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f || fclose(f) != 0)
        check_failures++;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Five calls at once, each a prompt and a session holding an e-mail address the storage mode
 * (redacted, the default) keeps out of the database. */
static const char *calls = "local nyx = require 'nyx'\n"
                           "local ts = {}\n"
                           "for i = 1, 5 do\n"
                           "  ts[i] = nyx.spawn(function()\n"
                           "    assert(nyx.call{prompt = 'spill bob@example.com ' .. i, max_tokens = 20, "
                           "session = 'alice@example.com'}.text)\n"
                           "  end)\n"
                           "end\n"
                           "for i = 1, 5 do ts[i]:wait() end\n";

/* The five calls made once with the database free, then again while another connection holds
 * its write lock from when their budget reservations are made. Returns what
 * nyx_finish_records says is lost. */
static long long calls_under_lock(const char *path, sqlite3 **lock)
{
    nyx_engine *e = open_on(path);
    REQUIRE_OR(e != NULL, -1);
    int rc = nyx_load_string(e, calls, "=free");
    CHECK(rc == NYX_OK || rc == NYX_AGAIN);
    CHECK_INT(run_to_done(e), NYX_OK);
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 5);

    rc = nyx_load_string(e, calls, "=locked");
    CHECK(rc == NYX_OK || rc == NYX_AGAIN);
    for (int turn = 0; turn < 500 && query(path, "SELECT count(*) FROM budget_holds") < 5; turn++)
        nyx_poll(e, 1);
    CHECK_INT(query(path, "SELECT count(*) FROM budget_holds"), 5);
    REQUIRE_OR(sqlite3_open(path, lock) == SQLITE_OK, -1);
    CHECK_INT(sqlite3_exec(*lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    long long lost = nyx_finish_records(e);
    nyx_close(e);
    return lost;
}

static void unlock(sqlite3 *lock)
{
    CHECK_INT(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(lock);
}

static void test_spilled_and_imported(const char *dir)
{
    DB_IN(dir, "a.db");
    logged[0] = '\0';
    sqlite3 *lock = NULL;
    CHECK_INT(calls_under_lock(path, &lock), 0);
    CHECK_CONTAINS(logged, "5 interaction records wait in");
    struct stat st, db_st;
    REQUIRE(stat(spill, &st) == 0 && stat(path, &db_st) == 0);
    CHECK_INT(st.st_mode & 0777, db_st.st_mode & 0777); /* the database's, 0644 under umask 022 */
    char *text = NULL;
    size_t len = 0;
    REQUIRE(file_read_path(spill, 1 << 20, &text, &len) == 0);
    CHECK(strstr(text, "spill [EMAIL] 3") != NULL);
    CHECK(strstr(text, "example.com") == NULL); /* neither the prompt's nor the session's */
    free(text);

    /* While the lock is held, an engine that opens the database leaves the spill for later. */
    nyx_engine *e = open_on(path);
    REQUIRE(e != NULL);
    CHECK_INT(nyx_load_string(e, "local nyx = require 'nyx'", "=open"), NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    nyx_close(e);
    CHECK(exists(spill));
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 5);

    unlock(lock);
    logged[0] = '\0';
    e = open_on(path);
    REQUIRE(e != NULL);
    CHECK_INT(nyx_load_string(e, "local nyx = require 'nyx'", "=open"), NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    CHECK_INT(nyx_finish_records(e), 0);
    nyx_close(e);
    CHECK_CONTAINS(logged, "5 interaction records spilled by an earlier run written");
    CHECK(!exists(spill));
    /* Every record twice, once written at once and once through the spill, the same texts and
     * numbers as the database keeps them. */
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 10);
    CHECK_INT(query(path, "SELECT count(*) FROM (SELECT 1 FROM llm_interactions GROUP BY prompt_text,"
                          " response_text, session, status, input_tokens, output_tokens, cost_usd"
                          " HAVING count(*) = 2)"),
              5);
    CHECK_INT(query(path,
                    "SELECT count(*) FROM llm_interactions WHERE instr(prompt_text, 'spill [EMAIL] ') > 0"
                    " AND instr(session, 'example.com') = 0"),
              10);
    /* The budget: every reservation settled at what its call cost. */
    CHECK_INT(query(path, "SELECT count(*) FROM budget_holds"), 0);
    double spent = query(path, "SELECT sum(spent_usd) FROM budgets WHERE scope LIKE 'day:%'");
    double cost = query(path, "SELECT sum(cost_usd) FROM llm_interactions");
    CHECK(cost > 0);
    CHECK_NEAR(spent, cost, 1e-12);
    CHECK_NEAR(query(path, "SELECT sum(reserved_usd) FROM budgets"), 0, 1e-12);
}

/* A spill file that cannot be written (its name is taken by a directory): the records are
 * lost and counted, as before there was a spill. */
static void test_unspillable(const char *dir)
{
    DB_IN(dir, "b.db");
    REQUIRE(mkdir(spill, 0700) == 0);
    logged[0] = '\0';
    sqlite3 *lock = NULL;
    CHECK_INT(calls_under_lock(path, &lock), 5);
    CHECK_CONTAINS(logged, "5 interaction records could not be written and are lost");
    unlock(lock);
    CHECK(rmdir(spill) == 0);
}

static interaction_rec record(const char *id, const char *prompt)
{
    interaction_rec it;
    memset(&it, 0, sizeof it);
    it.id = id;
    it.status = "ok";
    it.created_at = 1.8e9;
    it.prompt_text = prompt;
    it.response_text = "line one\nline \"two\"\t\xc3\xa9";
    it.usage.input_tokens = 12;
    it.has_cost = 1;
    it.cost_usd = 0.1;
    it.ttfb_ms = -1;
    it.latency_ms = 12.5;
    return it;
}

/* A store on path with a reservation of 1 USD in scope "s", and the records i1 (with status1)
 * and i2 spilled, i1 settling it at 0.25. */
static store_db *store_with_spill(const char *path, const char *i1, const char *status1, const char *i2)
{
    error_info err = cleared_error();
    store_db *db = store_open_opts(path, NULL, &err);
    REQUIRE_OR(db != NULL, NULL);
    store_scope scope = {"s", -1};
    char reservation[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(db, &scope, 1, 1.0, reservation, sizeof reservation, NULL, &err), 0);
    interaction_rec a = record(i1, "first"), b = record(i2, "second");
    a.status = status1;
    spill_item items[] = {{&a, reservation, 0.25}, {&b, NULL, 0}};
    CHECK_INT(pending_spill_write(place_of(path), items, 2, NULL, NULL, &err), 0);
    return db;
}

/* Scope "s" of store_with_spill settled: no hold left, 0.25 spent, nothing reserved. */
static void check_s_settled(const char *path)
{
    CHECK_INT(query(path, "SELECT count(*) FROM budget_holds"), 0);
    CHECK_NEAR(query(path, "SELECT spent_usd FROM budgets WHERE scope = 's'"), 0.25, 1e-12);
    CHECK_NEAR(query(path, "SELECT reserved_usd FROM budgets WHERE scope = 's'"), 0, 1e-12);
}

static void test_torn_line(const char *dir)
{
    DB_IN(dir, "c.db");
    store_db *db = store_with_spill(path, "t1", "ok", "t2");
    REQUIRE(db != NULL);
    FILE *f = fopen(spill, "a"); /* a crash while a third record was being written */
    REQUIRE(f != NULL);
    fputs("{\"id\":\"t3\",\"status\":\"o", f);
    fclose(f);
    logged[0] = '\0';
    error_info err = cleared_error();
    CHECK_INT(pending_spill_import(db, place_of(path), capture_spill, NULL, &err), 2);
    CHECK_CONTAINS(logged, "line 3 of the spill file");
    CHECK_CONTAINS(logged, "torn");
    store_close(db);
    CHECK(!exists(spill));
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 2);
    CHECK_INT(query(path,
                    "SELECT count(*) FROM llm_interactions WHERE id = 't1' AND prompt_text = 'first'"
                    " AND response_text = 'line one' || char(10) || 'line \"two\"' || char(9) || 'é'"
                    " AND input_tokens = 12 AND cost_usd = 0.1 AND ttfb_ms IS NULL AND latency_ms = 12.5"
                    " AND created_at = 1.8e9"),
              1);
    check_s_settled(path);
    CHECK_INT(query(path, "SELECT count(*) FROM audit_events WHERE kind = 'records_lost'"
                          " AND detail LIKE '1 interaction records%'"),
              1);
}

/* A writer that died inside its line left it torn: the records the next writer appends start
 * a line of their own, so the torn one alone is lost, not the first of them with it. */
static void test_torn_then_appended(const char *dir)
{
    DB_IN(dir, "c2.db");
    touch(path);
    FILE *f = fopen(spill, "w");
    REQUIRE(f != NULL);
    fputs("{\"id\":\"u0\",\"status\":\"o", f);
    fclose(f);
    interaction_rec a = record("u1", "first"), b = record("u2", "second");
    spill_item items[] = {{&a, NULL, 0}, {&b, NULL, 0}};
    error_info err = cleared_error();
    CHECK_INT(pending_spill_write(place_of(path), items, 2, NULL, NULL, &err), 0);
    store_db *db = store_open_opts(path, NULL, &err);
    REQUIRE(db != NULL);
    logged[0] = '\0';
    CHECK_INT(pending_spill_import(db, place_of(path), capture_spill, NULL, &err), 2);
    CHECK_CONTAINS(logged, "line 1 of the spill file");
    CHECK(strstr(logged, "line 2 of") == NULL);
    store_close(db);
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions WHERE id IN ('u1', 'u2')"), 2);
}

/* A blank line holds no record and costs none; a record followed on its line by more than
 * spaces (a second record run into it) is no line the writer wrote: counted lost and said,
 * where the second record was dropped unsaid. The lines around it are read all the same. */
static void test_blank_and_run_together(const char *dir)
{
    DB_IN(dir, "c3.db");
    touch(path);
    FILE *f = fopen(spill, "w");
    REQUIRE(f != NULL);
    fputs("\n{\"id\":\"v1\",\"status\":\"ok\",\"created_at\":1.8e9}\n\n"
          "{\"id\":\"v2\",\"status\":\"ok\"}{\"id\":\"v3\",\"status\":\"ok\"}\n"
          " \r\n{\"id\":\"v4\",\"status\":\"ok\",\"created_at\":1.8e9} \r\n",
          f);
    fclose(f);
    error_info err = cleared_error();
    store_db *db = store_open_opts(path, NULL, &err);
    REQUIRE(db != NULL);
    logged[0] = '\0';
    CHECK_INT(pending_spill_import(db, place_of(path), capture_spill, NULL, &err), 2);
    CHECK_CONTAINS(logged, "line 4 of the spill file");
    CHECK_CONTAINS(logged, "not a JSON record");
    CHECK(strstr(logged, "line 1 of") == NULL && strstr(logged, "line 3 of") == NULL &&
          strstr(logged, "line 5 of") == NULL);
    store_close(db);
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions WHERE id IN ('v1', 'v4')"), 2);
    CHECK_INT(query(path, "SELECT count(*) FROM audit_events WHERE kind = 'records_lost'"
                          " AND detail LIKE '1 interaction records%'"),
              1);
}

static void test_not_twice(const char *dir)
{
    DB_IN(dir, "d.db");
    store_db *db = store_with_spill(path, "d1", "ok", "d2");
    REQUIRE(db != NULL);
    char *copy = NULL;
    size_t len = 0;
    REQUIRE(file_read_path(spill, 1 << 20, &copy, &len) == 0);

    /* Another process holds it (importing it, or appending): this open leaves it. */
    int held = open(spill, O_RDONLY);
    REQUIRE(held >= 0);
    CHECK_INT(flock(held, LOCK_EX), 0);
    error_info err = cleared_error();
    CHECK_INT(pending_spill_import(db, place_of(path), NULL, NULL, &err), 0);
    CHECK(exists(spill));
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 0);
    close(held);

    CHECK_INT(pending_spill_import(db, place_of(path), NULL, NULL, &err), 2);
    CHECK(!exists(spill));
    /* An import that stopped after its commit, before removing the file: the next one finds
     * every record stored and its reservation settled, and changes nothing. */
    FILE *f = fopen(spill, "w");
    REQUIRE(f != NULL);
    CHECK_INT(fwrite(copy, 1, len, f), len);
    fclose(f);
    free(copy);
    CHECK_INT(pending_spill_import(db, place_of(path), NULL, NULL, &err), 0);
    CHECK(!exists(spill));
    CHECK_INT(pending_spill_import(db, place_of(path), NULL, NULL, &err), 0); /* nothing left */
    store_close(db);
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 2);
    CHECK_NEAR(query(path, "SELECT spent_usd FROM budgets WHERE scope = 's'"), 0.25, 1e-12);
}

/* A spilled record the database refuses for its own values (here a status this version does
 * not know, as a spill written by another version might hold) is lost, but its call's money
 * was spent all the same: its reservation is settled at what the call cost, as the queue does
 * for a record refused while the process runs (pending_log.c, drop_refused), not left to be
 * reaped later at nothing. */
static void test_refused_record_settles(const char *dir)
{
    DB_IN(dir, "f.db");
    store_db *db = store_with_spill(path, "f1", "thinking", "f2");
    REQUIRE(db != NULL);
    error_info err = cleared_error();
    logged[0] = '\0';
    CHECK_INT(pending_spill_import(db, place_of(path), capture_spill, NULL, &err), 1);
    CHECK_CONTAINS(logged, "refuses the spilled record f1");
    store_close(db);
    CHECK(!exists(spill));
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 1);
    check_s_settled(path);
}

/* A spilled record whose id the database holds already for another record: the spilled one is
 * left out (ids are unique), and its reservation is still settled at what its call cost.
 * Settling one settled already (by an earlier import that stopped before removing the file)
 * settles nothing, test_not_twice. */
static void test_taken_id_settles(const char *dir)
{
    DB_IN(dir, "g.db");
    error_info err = cleared_error();
    store_db *db = store_open_opts(path, NULL, &err);
    REQUIRE(db != NULL);
    interaction_rec other = record("g1", "another call");
    CHECK_INT(store_log_interaction(db, &other, &err), 0);
    store_close(db);
    db = store_with_spill(path, "g1", "ok", "g2");
    REQUIRE(db != NULL);
    CHECK_INT(pending_spill_import(db, place_of(path), NULL, NULL, &err), 1);
    store_close(db);
    CHECK(!exists(spill));
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions WHERE id = 'g1' AND prompt_text = 'another call'"),
              1);
    check_s_settled(path);
}

/* Another writer that took the lock first and appended its record, durably, as
 * pending_spill_write does. */
static const char *other_path;
static const char other_line[] = "{\"id\":\"o1\",\"status\":\"ok\"}\n";

static void another_writer(int fd)
{
    (void)fd;
    int other = open(other_path, O_WRONLY | O_APPEND);
    if (other < 0 || flock(other, LOCK_EX) != 0 ||
        write(other, other_line, sizeof other_line - 1) != (ssize_t)(sizeof other_line - 1) || fsync(other) != 0)
        _exit(3);
    close(other);
}

/* A writer that created the spill file and whose write then fails (here past the file size
 * limit; a full disk alike) cuts the file back to what it held when it took the lock: the
 * record another writer appended between this one's creating the file and its flock stays. */
static void test_failed_writer_keeps_others(const char *dir)
{
    DB_IN(dir, "h.db");
    touch(path);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(2);
        static char big[8000];
        memset(big, 'x', sizeof big - 1);
        interaction_rec it = record("h1", big);
        spill_item item = {&it, NULL, 0};
        error_info err = cleared_error();
        other_path = spill;
        before_flock = another_writer;
        int rc = pending_spill_write(place_of(path), &item, 1, NULL, NULL, &err);
        _exit(rc == -1 && strstr(err.message, "cannot write the spill file") ? 0 : 1);
    }
    int status = -1;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = NULL;
    size_t len = 0;
    CHECK(exists(spill));
    REQUIRE(file_read_path(spill, 1 << 20, &text, &len) == 0);
    CHECK_STR(text, other_line);
    free(text);
}

/* What is planted where the spill file goes is neither followed nor waited on: a symbolic link
 * (to a file of the user's that it would append to) and a FIFO (whose open for writing would
 * wait for a reader for ever, and the engine's close with it) are refused at once, naming the
 * file, and an import leaves both alone. */
static void test_planted(const char *dir)
{
    DB_IN(dir, "i.db");
    char target[300];
    snprintf(target, sizeof target, "%s/i.target", dir);
    touch(path);
    FILE *f = fopen(target, "w");
    REQUIRE(f != NULL);
    fclose(f);
    interaction_rec it = record("i1", "planted");
    spill_item item = {&it, NULL, 0};
    for (int fifo = 0; fifo <= 1; fifo++) {
        REQUIRE(fifo ? mkfifo(spill, 0600) == 0 : symlink(target, spill) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            alarm(10); /* a write that waits is killed, and fails the test */
            error_info err = cleared_error();
            int rc = pending_spill_write(place_of(path), &item, 1, NULL, NULL, &err);
            _exit(rc == -1 && strstr(err.message, "the spill file") ? 0 : 1);
        }
        int status = -1;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        error_info err = cleared_error();
        store_db *db = store_open_opts(path, NULL, &err);
        REQUIRE(db != NULL);
        CHECK(pending_spill_import(db, place_of(path), NULL, NULL, &err) <= 0);
        store_close(db);
        struct stat st;
        CHECK(lstat(spill, &st) == 0 && (fifo ? S_ISFIFO(st.st_mode) : S_ISLNK(st.st_mode)));
        CHECK(unlink(spill) == 0);
    }
    struct stat st;
    CHECK(stat(target, &st) == 0 && st.st_size == 0); /* the link's target was not written */
}

/* A line whose numbers no record could hold (a spill file damaged, or edited by hand) is read
 * without undefined behaviour: a count beyond what its field holds reads as 0, as a number
 * written as null does, instead of a double converted out of its integer's range. */
static void test_numbers_out_of_range(const char *dir)
{
    DB_IN(dir, "j.db");
    FILE *f = fopen(spill, "w");
    REQUIRE(f != NULL);
    fputs("{\"id\":\"j1\",\"status\":\"ok\",\"created_at\":1.8e9,\"attempts\":1e300,\"tool_calls\":-3e9,"
          "\"input_tokens\":-1e300,\"output_tokens\":1e19,\"thought_id\":9.3e18}\n",
          f);
    fclose(f);
    error_info err = cleared_error();
    store_db *db = store_open_opts(path, NULL, &err);
    REQUIRE(db != NULL);
    CHECK_INT(pending_spill_import(db, place_of(path), NULL, NULL, &err), 1);
    store_close(db);
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions WHERE id = 'j1' AND attempts = 0 AND tool_calls = 0"
                          " AND input_tokens = 0 AND output_tokens = 0 AND thought_id IS NULL"),
              1);
}

/* A number past a double's range (1e999, which the writer never writes: it writes null for an
 * infinity) reads as null does, so that the record written again reads back the same. */
static void test_numbers_past_double(void)
{
    static const char line[] = "{\"id\":\"k1\",\"status\":\"ok\",\"latency_ms\":1e999,\"attempts\":-1e999,"
                               "\"reservation\":\"r\",\"actual_usd\":1e999}";
    spill_record a;
    REQUIRE(spill_record_parse(line, sizeof line - 1, &a) == 0);
    CHECK(isnan(a.it.latency_ms));
    CHECK_INT(a.it.attempts, 0);
    CHECK(a.actual_usd == 0);
    char *again = spill_record_line(&a.it, a.reservation, a.actual_usd);
    REQUIRE(again != NULL);
    spill_record b;
    REQUIRE(spill_record_parse(again, strlen(again), &b) == 0);
    CHECK(isnan(b.it.latency_ms));
    CHECK(b.actual_usd == 0);
    CHECK_STR(b.reservation, "r");
    spill_record_free(&b);
    free(again);
    spill_record_free(&a);
}

/* A process that reserved, spilled its call's record and died: an engine that opens the
 * database while another process holds the spill (so it cannot import it) leaves that
 * reservation alone instead of giving it back as a dead process's, and the import that follows
 * still settles it at what the call cost. */
static void test_reap_waits(const char *dir)
{
    DB_IN(dir, "e.db");
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        error_info err = cleared_error();
        store_db *db = store_open_opts(path, NULL, &err);
        store_scope scope = {"r", -1};
        char reservation[STORE_RESERVATION_ID_SIZE];
        if (!db || store_budget_reserve(db, &scope, 1, 1.0, reservation, sizeof reservation, NULL, &err) != 0)
            _exit(1);
        interaction_rec it = record("r1", "paid for");
        spill_item item = {&it, reservation, 0.5};
        int rc = pending_spill_write(place_of(path), &item, 1, NULL, NULL, &err);
        store_close(db);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = -1;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_NEAR(query(path, "SELECT reserved_usd FROM budgets WHERE scope = 'r'"), 1.0, 1e-12);

    int held = open(spill, O_RDONLY);
    REQUIRE(held >= 0);
    CHECK_INT(flock(held, LOCK_EX), 0);
    nyx_engine *e = open_on(path);
    REQUIRE(e != NULL);
    CHECK_INT(nyx_load_string(e, "local nyx = require 'nyx'", "=open"), NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    nyx_close(e);
    close(held);
    CHECK(exists(spill));
    CHECK_NEAR(query(path, "SELECT reserved_usd FROM budgets WHERE scope = 'r'"), 1.0, 1e-12);

    e = open_on(path);
    REQUIRE(e != NULL);
    CHECK_INT(nyx_load_string(e, "local nyx = require 'nyx'", "=open"), NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    nyx_close(e);
    CHECK(!exists(spill));
    CHECK_NEAR(query(path, "SELECT spent_usd FROM budgets WHERE scope = 'r'"), 0.5, 1e-12);
    CHECK_NEAR(query(path, "SELECT reserved_usd FROM budgets WHERE scope = 'r'"), 0, 1e-12);
}

static const char *spill_to_blind;

/* At the importer's lock: its descriptor now names the same file opened for writing only, so
 * its read fails (EBADF) as a disk's I/O error would. */
static void blind_the_reader(int fd)
{
    int w = open(spill_to_blind, O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
        dup2(w, fd);
        close(w);
    }
}

/* A read of the spill file that fails leaves the file for the next open: before, the failure
 * passed for a torn end, the records were counted lost and the file removed. */
static void test_read_error_keeps_file(const char *dir)
{
    DB_IN(dir, "r.db");
    store_db *db = store_with_spill(path, "r1", "ok", "r2");
    REQUIRE(db != NULL);
    error_info err = cleared_error();
    spill_to_blind = spill;
    before_flock = blind_the_reader;
    CHECK_INT(pending_spill_import(db, place_of(path), capture_spill, NULL, &err), -1);
    before_flock = NULL;
    CHECK_CONTAINS(err.message, "cannot read the spill file");
    CHECK(exists(spill));
    CHECK_INT(query(path, "SELECT count(*) FROM llm_interactions"), 0);
    error_clear(&err);
    CHECK_INT(pending_spill_import(db, place_of(path), capture_spill, NULL, &err), 2); /* the next open */
    CHECK(!exists(spill));
    store_close(db);
}

/* A spill file is made with the database file's read and write bits, whatever the umask of the
 * process that spills: another user who shares the database (a group that may write it) may
 * write its records in. Appending to a file made already leaves its bits alone. */
static void test_mode_of_database(const char *dir)
{
    static const unsigned modes[] = {0640, 0660};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char path[256], spill[300];
        snprintf(path, sizeof path, "%s/mode%zu.db", dir, m);
        snprintf(spill, sizeof spill, "%s-pending", path);
        touch(path);
        REQUIRE(chmod(path, (mode_t)modes[m]) == 0);
        mode_t old = umask(077);
        interaction_rec it = record("m1", "shared");
        spill_item item = {&it, NULL, 0};
        error_info err = cleared_error();
        CHECK_INT(pending_spill_write(place_of(path), &item, 1, NULL, NULL, &err), 0);
        REQUIRE(chmod(path, 0600) == 0);
        CHECK_INT(pending_spill_write(place_of(path), &item, 1, NULL, NULL, &err), 0);
        umask(old);
        struct stat st;
        REQUIRE(stat(spill, &st) == 0);
        CHECK_INT(st.st_mode & 0777, modes[m]);
        CHECK_INT(st.st_size > 0, 1);
    }
}

#ifdef NYX_HAVE_PG
/* A PostgreSQL database's records spill in the spill directory (made 0700 with the directories
 * above it), 0600 whatever the umask, under a name that holds neither the URI nor its
 * password: the same for the URIs that lead to the same database (another password, a
 * parameter of how to connect, postgres:// for postgresql://), another for another database. */
static void test_pg_place(const char *dir)
{
    char spill_dir[300];
    snprintf(spill_dir, sizeof spill_dir, "%s/state/nyx", dir);
    spill_place a, b;
    const char *uri = "postgresql://nyx:Secret%2Fpw@127.0.0.1:5433/ledger";
    REQUIRE(pending_spill_place(uri, spill_dir, &a) == 0);
    CHECK(strncmp(a.path, spill_dir, strlen(spill_dir)) == 0);
    CHECK(strstr(a.path, "/postgresql-") != NULL);
    CHECK(strstr(a.path, "Secret") == NULL && strstr(a.path, "ledger") == NULL && strstr(a.path, "5433") == NULL);
    CHECK_INT(a.mode, 0600);
    const char *same[] = {"postgres://nyx:other@127.0.0.1:5433/ledger?sslmode=disable&connect_timeout=3",
                          "postgresql://nyx@127.0.0.1:5433/ledger?password=x",
                          "postgresql://127.0.0.1:5433/ledger?user=nyx"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        REQUIRE(pending_spill_place(same[i], spill_dir, &b) == 0);
        CHECK_STR(b.path, a.path);
    }
    const char *other[] = {"postgresql://nyx@127.0.0.1:5434/ledger", "postgresql://nyx@127.0.0.1:5433/books",
                           "postgresql://eve@127.0.0.1:5433/ledger", "postgresql://nyx@127.0.0.2:5433/ledger"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        REQUIRE(pending_spill_place(other[i], spill_dir, &b) == 0);
        CHECK(strcmp(b.path, a.path) != 0);
    }
    CHECK_INT(pending_spill_place(uri, NULL, &b), -1); /* no directory: none */
    CHECK_INT(pending_spill_place(":memory:", spill_dir, &b), -1);

    mode_t old = umask(0);
    interaction_rec it = record("p1", "for the server");
    spill_item item = {&it, NULL, 0};
    error_info err = cleared_error();
    CHECK_INT(pending_spill_write(&a, &item, 1, NULL, NULL, &err), 0);
    umask(old);
    struct stat st;
    REQUIRE(stat(a.path, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    REQUIRE(stat(spill_dir, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    char parent[320];
    snprintf(parent, sizeof parent, "%s/state", dir);
    REQUIRE(stat(parent, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    CHECK(pending_spill_exists(&a));
}
#endif

/* Strict durability: a call whose record still waits when the host finishes the records hears
 * what became of it, that it waits in the spill file (named), not that it "waits in memory to
 * be written later", which was no longer true once the engine closed. */
static void test_strict_hears_spill(const char *dir)
{
    DB_IN(dir, "k.db");
    char out[300];
    snprintf(out, sizeof out, "%s/k.out", dir);
    setenv("NYX_DURABILITY", "strict", 1);
    nyx_engine *e = open_on(path);
    setenv("NYX_DURABILITY", "degrade", 1);
    REQUIRE(e != NULL);
    CHECK_INT(nyx_set(e, "var.out", out), NYX_OK);
    CHECK_INT(nyx_load_string(e, "local nyx = require 'nyx'\nnyx.call{prompt = 'first', max_tokens = 8}", "=first"),
              NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    int rc = nyx_load_string(e,
                             "local nyx = require 'nyx'\n"
                             "local ok, err = pcall(nyx.call, {prompt = 'strict', max_tokens = 8})\n"
                             "local f = assert(io.open(nyx.vars.out, 'w'))\n"
                             "f:write(tostring(ok), ' ', type(err) == 'table' and err.message or tostring(err))\n"
                             "f:close()\n",
                             "=strict");
    CHECK(rc == NYX_OK || rc == NYX_AGAIN);
    for (int turn = 0; turn < 500 && query(path, "SELECT count(*) FROM budget_holds") < 1; turn++)
        nyx_poll(e, 1);
    sqlite3 *lock = NULL;
    REQUIRE(sqlite3_open(path, &lock) == SQLITE_OK);
    CHECK_INT(sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    logged[0] = '\0';
    for (int turn = 0; turn < 2000 && !strstr(logged, "storage failed"); turn++)
        nyx_poll(e, 1);
    CHECK_CONTAINS(logged, "storage failed");
    CHECK_INT(nyx_finish_records(e), 0);
    CHECK_INT(run_to_done(e), NYX_OK);
    nyx_close(e);
    unlock(lock);
    char *text = NULL;
    size_t len = 0;
    REQUIRE(file_read_path(out, 1 << 16, &text, &len) == 0);
    char expect[400];
    snprintf(expect, sizeof expect, "it waits in %s for the next engine that opens the database", spill);
    CHECK_CONTAINS(text, "false the record of this call could not be committed");
    CHECK_CONTAINS(text, expect);
    CHECK(strstr(text, "in memory") == NULL);
    free(text);
    CHECK(exists(spill));
}

int main(void)
{
    char dir[] = "/tmp/nyx_spill_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    setenv("NYX_PROVIDER", "sim", 1);
    setenv("NYX_SIM_TTFT_MS", "50", 1);
    setenv("NYX_DURABILITY", "degrade", 1);
    setenv("LLM_DAILY_BUDGET_USD", "100", 1);
    unsetenv("NYX_STORAGE_MODE");
    test_spilled_and_imported(dir);
    test_unspillable(dir);
    test_torn_line(dir);
    test_torn_then_appended(dir);
    test_blank_and_run_together(dir);
    test_numbers_past_double();
    test_not_twice(dir);
    test_reap_waits(dir);
    test_refused_record_settles(dir);
    test_taken_id_settles(dir);
    test_failed_writer_keeps_others(dir);
    test_planted(dir);
    test_numbers_out_of_range(dir);
    test_read_error_keeps_file(dir);
    test_mode_of_database(dir);
    test_strict_hears_spill(dir);
#ifdef NYX_HAVE_PG
    test_pg_place(dir);
#endif
    CHECK_INT(remove_tree(dir), 0);
    return check_failures;
}
