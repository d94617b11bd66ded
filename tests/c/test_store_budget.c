/* engine/store budgets: exact numbers through reserve, settle and release; a refusal names
 * the scope and reserves nothing; processes reserving at once never pass the limit; the
 * reservations of a dead process are reaped; logging with settle is all or nothing. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store_fixture.h"
#include "base/clock.h"
#include "store/store.h"
#include "store/store_sqlite.h"



/* ---- rows as text: "v1|v2|...\n" per row, skipping the columns named in skip ---- */

typedef struct text {
    char s[4096];
    size_t n;
    const char *skip; /* ",updated_at,created_at," */
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
        put(t, values[c] ? values[c] : "NULL");
        first = 0;
    }
    put(t, "\n");
    return 0;
}

static const char *status(nyx_store *s, text *t)
{
    memset(t, 0, sizeof *t);
    t->skip = ",updated_at,";
    nyx_error err;
    nyx_error_clear(&err);
    if (store_budget_status(s, to_text, t, &err) != 0)
        snprintf(t->s, sizeof t->s, "error: %s", err.message);
    return t->s;
}


static int exec(nyx_store *s, const char *sql)
{
    return sqlite3_exec(store_sqlite_db(s), sql, NULL, NULL, NULL);
}

static nyx_store *open_at(const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    if (!s)
        fprintf(stderr, "open %s: %s\n", path, err.message);
    CHECK(s != NULL);
    return s;
}

static nyx_interaction make(const char *id)
{
    nyx_interaction it;
    memset(&it, 0, sizeof it);
    it.id = id;
    it.created_at = 1764064800.0;
    it.session = "l";
    it.status = "ok";
    it.ttfb_ms = -1;
    it.latency_ms = -1;
    it.has_cost = 1;
    it.cost_usd = 0.25;
    return it;
}

/* ---- reserve, settle, release: exact numbers ---- */

static void test_reserve_settle(void)
{
    nyx_store *s = open_at("exact.db");
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    text t;
    store_scope sc[] = {{"session:s1", 1.0}, {"day:2026-11-25", 10.0}, {"month:2026-11", -1}};
    char r1[STORE_RESERVATION_ID_SIZE], r2[STORE_RESERVATION_ID_SIZE];
    int refused = 99;

    CHECK_INT(store_budget_reserve(s, sc, 3, 0.25, r1, sizeof r1, &refused, &err), 0);
    CHECK_INT(refused, -1);
    CHECK(strlen(r1) > 0 && strlen(r1) < STORE_RESERVATION_ID_SIZE);
    CHECK_STR(status(s, &t), "day:2026-11-25|10.0|0.0|0.25|9.75\n"
                             "month:2026-11|NULL|0.0|0.25|NULL\n"
                             "session:s1|1.0|0.0|0.25|0.75\n");
    /* One row holds the reservation in all its scopes (schema migration 2). */
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 1);
    CHECK_INT(count_rows(s, "SELECT scopes = 'session:s1' || char(10) || 'day:2026-11-25' ||"
                            " char(10) || 'month:2026-11' AND amount = 0.25 AND pid > 0 AND"
                            " host IS NOT NULL FROM budget_holds"),
              1);

    CHECK_INT(store_budget_reserve(s, sc, 3, 0.5, r2, sizeof r2, NULL, &err), 0);
    CHECK(strcmp(r1, r2) != 0);
    CHECK_STR(status(s, &t), "day:2026-11-25|10.0|0.0|0.75|9.25\n"
                             "month:2026-11|NULL|0.0|0.75|NULL\n"
                             "session:s1|1.0|0.0|0.75|0.25\n");

    /* Settle to less than reserved: the whole reservation leaves, the actual is spent. */
    CHECK_INT(store_budget_settle(s, r1, 0.125, &err), 0);
    CHECK_STR(status(s, &t), "day:2026-11-25|10.0|0.125|0.5|9.375\n"
                             "month:2026-11|NULL|0.125|0.5|NULL\n"
                             "session:s1|1.0|0.125|0.5|0.375\n");
    /* Release (actual 0). */
    CHECK_INT(store_budget_settle(s, r2, 0, &err), 0);
    CHECK_STR(status(s, &t), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                             "month:2026-11|NULL|0.125|0.0|NULL\n"
                             "session:s1|1.0|0.125|0.0|0.875\n");
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 0);

    /* Settling again, or an id never issued, does nothing. */
    CHECK_INT(store_budget_settle(s, r1, 0.5, &err), 0);
    CHECK_INT(store_budget_settle(s, "r-unknown", 0.5, &err), 0);
    CHECK_STR(status(s, &t), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                             "month:2026-11|NULL|0.125|0.0|NULL\n"
                             "session:s1|1.0|0.125|0.0|0.875\n");

    /* A new limit from the configuration replaces the stored one; a scope the call does
     * not name keeps its own. */
    store_scope raised[] = {{"session:s1", 2.0}};
    CHECK_INT(store_budget_reserve(s, raised, 1, 1.5, r1, sizeof r1, NULL, &err), 0);
    CHECK_STR(status(s, &t), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                             "month:2026-11|NULL|0.125|0.0|NULL\n"
                             "session:s1|2.0|0.125|1.5|0.375\n");
    /* Spending more than reserved is recorded as spent (it was). */
    CHECK_INT(store_budget_settle(s, r1, 2.0, &err), 0);
    CHECK_STR(status(s, &t), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                             "month:2026-11|NULL|0.125|0.0|NULL\n"
                             "session:s1|2.0|2.125|0.0|-0.125\n");

    /* No scope: an id, nothing stored, settling it does nothing. */
    char r0[STORE_RESERVATION_ID_SIZE] = "";
    CHECK_INT(store_budget_reserve(s, NULL, 0, 0.5, r0, sizeof r0, NULL, &err), 0);
    CHECK(r0[0] != '\0');
    CHECK_INT(store_budget_settle(s, r0, 0.5, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budgets"), 3);
    store_close(s);
}

/* ---- refusal ---- */

static void test_refusal(void)
{
    nyx_store *s = open_at("refuse.db");
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    text t;
    char id[STORE_RESERVATION_ID_SIZE];
    int refused = 99;
    store_scope sc[] = {{"session:x", 1.0}, {"day:d", 0.5}};

    CHECK_INT(store_budget_reserve(s, sc, 2, 0.4, id, sizeof id, &refused, &err), 0);
    CHECK_INT(store_budget_reserve(s, sc, 2, 0.2, id, sizeof id, &refused, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");
    CHECK_STR(err.message, "store: budget exceeded in scope day:d: limit $0.50, spent $0.00, "
                           "reserved $0.40, this call needs $0.20");
    CHECK_INT(err.retryable, 1); /* it fits once the $0.40 pending settles */
    CHECK_INT(refused, 1);
    /* The session scope, reserved first in the same call, was rolled back. */
    CHECK_STR(status(s, &t), "day:d|0.5|0.0|0.4|0.1\n"
                             "session:x|1.0|0.0|0.4|0.6\n");
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 1);

    /* A scope seen for the first time that the amount alone exceeds: no row is created. */
    store_scope fresh[] = {{"session:x", 1.0}, {"agent:new", 0.1}};
    nyx_error_clear(&err);
    CHECK_INT(store_budget_reserve(s, fresh, 2, 0.2, id, sizeof id, &refused, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");
    CHECK_STR(err.message, "store: budget exceeded in scope agent:new: limit $0.10, spent $0.00, "
                           "reserved $0.00, this call needs $0.20");
    CHECK_INT(err.retryable, 0); /* nothing pending could make room */
    CHECK_INT(refused, 1);
    CHECK_STR(status(s, &t), "day:d|0.5|0.0|0.4|0.1\n"
                             "session:x|1.0|0.0|0.4|0.6\n");

    /* An exact fit is not refused over binary rounding (0.1 + 0.2 > 0.3 in doubles); a
     * millionth of a dollar more is. */
    store_scope tight[] = {{"agent:tight", 0.3}};
    CHECK_INT(store_budget_reserve(s, tight, 1, 0.1, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, tight, 1, 0.2, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, tight, 1, 0.000001, id, sizeof id, &refused, &err), -1);
    CHECK_INT(refused, 0);
    CHECK_CONTAINS(err.message, "scope agent:tight: limit $0.30, spent $0.00, reserved $0.30,"
                                " this call needs $0.000001");

    /* A zero limit refuses every call that costs anything, and no call that costs nothing. */
    store_scope zero[] = {{"agent:zero", 0}};
    CHECK_INT(store_budget_reserve(s, zero, 1, 0.01, id, sizeof id, NULL, &err), -1);
    CHECK_INT(store_budget_reserve(s, zero, 1, 0, id, sizeof id, NULL, &err), 0);

    /* Bad arguments: invalid_argument, nothing reserved, refused -1. */
    long long before = count_rows(s, "SELECT count(*) FROM budget_holds");
    store_scope twice[] = {{"session:x", 1.0}, {"session:x", 1.0}};
    store_scope noname[] = {{"", 1.0}};
    store_scope nan_limit[] = {{"session:x", NAN}};
    store_scope newline[] = {{"session:a\nb", 1.0}};
    struct {
        const store_scope *sc;
        size_t n;
        double amount;
        size_t idsz;
        const char *msg;
    } bad[] = {
        {sc, 2, -0.1, sizeof id, "amount -0.1 is not a finite amount >= 0"},
        {sc, 2, NAN, sizeof id, "is not a finite amount >= 0"},
        {sc, 2, INFINITY, sizeof id, "is not a finite amount >= 0"},
        {twice, 2, 0.1, sizeof id, "scope session:x is given twice"},
        {noname, 1, 0.1, sizeof id, "scope 0 has no name"},
        {nan_limit, 1, 0.1, sizeof id, "scope session:x has limit nan"},
        {newline, 1, 0.1, sizeof id, "holds a newline"},
        {sc, 2, 0.1, 8, "the reservation id needs 40 bytes, the buffer has 8"},
        {NULL, 1, 0.1, sizeof id, "no scopes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nyx_error_clear(&err);
        refused = 99;
        CHECK_INT(store_budget_reserve(s, bad[i].sc, bad[i].n, bad[i].amount, id, bad[i].idsz,
                                       &refused, &err),
                  -1);
        CHECK_STR(err.type, "invalid_argument");
        CHECK_CONTAINS(err.message, bad[i].msg);
        CHECK_INT(refused, -1);
    }
    CHECK_INT(store_budget_reserve(NULL, sc, 2, 0.1, id, sizeof id, NULL, &err), -1);
    CHECK_INT(store_budget_settle(s, id, -1, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_budget_settle(s, "", 0, &err), -1);
    CHECK_INT(store_budget_reap(s, NAN, &err), -1);
    CHECK_INT(store_budget_status(s, NULL, NULL, &err), -1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), before);

    /* Inside a batch a refusal undoes only itself: the batch goes on and commits. */
    store_scope b1[] = {{"session:batch", 1.0}};
    nyx_error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), 0);
    CHECK_INT(store_budget_reserve(s, b1, 1, 0.75, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, b1, 1, 0.5, id, sizeof id, &refused, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");
    nyx_interaction it = make("in-batch");
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'in-batch'"), 1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds WHERE scopes = 'session:batch'"),
              1);
    CHECK_INT(count_rows(s, "SELECT reserved_usd = 0.75 FROM budgets WHERE scope ="
                            " 'session:batch'"),
              1);
    store_close(s);
}

/* ---- processes reserving at once ---- */

#define NCHILD 3
#define CHILD_ITERS 400
#define SHARED_LIMIT 2.0
#define AMOUNT 0.01

typedef struct child_report {
    int ok, refused, errors, violations;
    double spent;
} child_report;

static int sum_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ncols;
    (void)names;
    double *over = ud;
    if (strcmp(values[0], "day:shared") == 0 && values[2] && values[3])
        *over = strtod(values[2], NULL) + strtod(values[3], NULL);
    return 0;
}

static child_report child_loop(const char *path, int ready_fd, int go_fd, unsigned seed)
{
    child_report r = {0};
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1 || !s) {
        r.errors++;
        store_close(s);
        return r;
    }
    store_scope sc[] = {{"day:shared", SHARED_LIMIT}, {"session:mine", 100.0}};
    char id[STORE_RESERVATION_ID_SIZE];
    for (int i = 0; i < CHILD_ITERS; i++) {
        if (store_budget_reserve(s, sc, 2, AMOUNT, id, sizeof id, NULL, &err) != 0) {
            if (strcmp(err.type, "budget_exceeded") == 0) {
                r.refused++;
            } else {
                r.errors++;
                fprintf(stderr, "child %d: %s\n", (int)getpid(), err.message);
            }
            continue;
        }
        r.ok++;
        /* Committed state never holds more than the limit, seen from any process. */
        double held = 0;
        if (store_budget_status(s, sum_row, &held, &err) != 0)
            r.errors++;
        if (held > SHARED_LIMIT + 1e-9)
            r.violations++;
        /* The call is in flight: the other processes reserve meanwhile. (Without this
         * pause one process would take the lock again at once after each commit while
         * the others sleep in SQLite's busy handler: correct, but not concurrent.) */
        struct timespec in_flight = {0, 100000 + (long)(rand_r(&seed) % 400000)};
        nanosleep(&in_flight, NULL);
        double actual = AMOUNT * (0.5 + 0.5 * (double)rand_r(&seed) / RAND_MAX);
        if (store_budget_settle(s, id, actual, &err) != 0)
            r.errors++;
        else
            r.spent += actual;
    }
    store_close(s);
    return r;
}

static void test_processes(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/shared.db", tmpdir);
    /* Create the file first, then close it: no connection may cross fork(). */
    nyx_error err;
    nyx_error_clear(&err);
    store_close(store_open(path, &err));

    /* Every child opens its store and says so; then all start at one signal. */
    int ready[2], go[2], out[2];
    CHECK_INT(pipe(ready), 0);
    CHECK_INT(pipe(go), 0);
    CHECK_INT(pipe(out), 0);
    pid_t kids[NCHILD];
    for (int k = 0; k < NCHILD; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            close(ready[0]);
            close(go[1]);
            close(out[0]);
            child_report r = child_loop(path, ready[1], go[0], (unsigned)getpid());
            _exit(write(out[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
        }
        CHECK(kids[k] > 0);
    }
    close(ready[1]);
    close(go[0]);
    close(out[1]);
    char start[NCHILD];
    for (int k = 0; k < NCHILD; k++)
        CHECK_INT(read(ready[0], start, 1), 1);
    close(ready[0]);
    memset(start, 'g', sizeof start);
    CHECK_INT(write(go[1], start, sizeof start), NCHILD);
    close(go[1]);

    child_report total = {0};
    for (int k = 0; k < NCHILD; k++) {
        child_report r;
        CHECK_INT(read(out[0], &r, sizeof r), sizeof r);
        CHECK(r.ok > 0); /* every process got some of the budget */
        total.ok += r.ok;
        total.refused += r.refused;
        total.errors += r.errors;
        total.violations += r.violations;
        total.spent += r.spent;
    }
    close(out[0]);
    for (int k = 0; k < NCHILD; k++) {
        int st = -1;
        CHECK_INT(waitpid(kids[k], &st, 0), kids[k]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_INT(total.errors, 0);
    CHECK_INT(total.violations, 0);
    CHECK_INT(total.ok + total.refused, NCHILD * CHILD_ITERS);
    CHECK(total.refused > 0); /* the limit was reached, so it was tested */

    nyx_store *s = store_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(store_sqlite_db(s),
                                 "SELECT spent_usd, reserved_usd FROM budgets WHERE scope ="
                                 " 'day:shared'",
                                 -1, &st, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    double spent = sqlite3_column_double(st, 0), reserved = sqlite3_column_double(st, 1);
    sqlite3_finalize(st);
    CHECK(spent <= SHARED_LIMIT + 1e-9);
    CHECK(spent > SHARED_LIMIT - 2 * NCHILD * AMOUNT); /* filled up to the last few calls */
    CHECK_NEAR(spent, total.spent, 1e-9);
    CHECK_NEAR(reserved, 0, 1e-12);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budgets WHERE scope = 'session:mine'"), 1);
    store_close(s);
}

/* ---- reaping ---- */

static void test_reap(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/reap.db", tmpdir);
    store_scope sc[] = {{"session:r", 1.0}};

    /* A process reserves and dies without settling. */
    pid_t kid = fork();
    if (kid == 0) {
        nyx_error e;
        char id[STORE_RESERVATION_ID_SIZE];
        nyx_store *c = store_open(path, &e);
        int rc = c ? store_budget_reserve(c, sc, 1, 0.25, id, sizeof id, NULL, &e) : -1;
        store_close(c);
        _exit(rc == 0 ? 0 : 1);
    }
    int st = -1;
    CHECK_INT(waitpid(kid, &st, 0), kid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    nyx_store *s = open_at("reap.db");
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    text t;
    char mine[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.125, mine, sizeof mine, NULL, &err), 0);
    /* One held by a process on another host: its pid means nothing here. */
    CHECK_INT(exec(s, "INSERT INTO budget_holds VALUES ('elsewhere', 'session:r', 0.5,"
                      " strftime('%s','now'), 1, 'other-host.example');"
                      " UPDATE budgets SET reserved_usd = reserved_usd + 0.5"),
              SQLITE_OK);
    CHECK_STR(status(s, &t), "session:r|1.0|0.0|0.875|0.125\n");

    CHECK_INT(store_budget_reap(s, 3600, &err), 1); /* the dead child's */
    CHECK_STR(status(s, &t), "session:r|1.0|0.0|0.625|0.375\n");
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 2);
    CHECK_INT(store_budget_reap(s, 3600, &err), 0);
    CHECK_INT(store_budget_reap(s, 0, &err), 0); /* age off: only the dead */

    /* Too old, whatever host: released. */
    CHECK_INT(exec(s, "UPDATE budget_holds SET created_at = created_at - 7200"
                      " WHERE id = 'elsewhere'"),
              SQLITE_OK);
    CHECK_INT(store_budget_reap(s, 0, &err), 0);
    CHECK_INT(store_budget_reap(s, 3600, &err), 1);
    CHECK_STR(status(s, &t), "session:r|1.0|0.0|0.125|0.875\n");

    /* The live process's own reservation survives until it settles it. */
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 1);
    CHECK_INT(store_budget_settle(s, mine, 0.0625, &err), 0);
    CHECK_STR(status(s, &t), "session:r|1.0|0.0625|0.0|0.9375\n");
    store_close(s);
}

/* ---- logging and settling in one transaction ---- */

static void test_log_settle(void)
{
    nyx_store *s = open_at("logsettle.db");
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    text t;
    store_scope sc[] = {{"session:l", 1.0}};
    char id[STORE_RESERVATION_ID_SIZE];

    CHECK_INT(store_budget_reserve(s, sc, 1, 0.5, id, sizeof id, NULL, &err), 0);
    nyx_interaction it = make("l1");
    CHECK_INT(store_log_interaction_settle(s, &it, id, 0.25, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'l1'"), 1);
    CHECK_STR(status(s, &t), "session:l|1.0|0.25|0.0|0.75\n");

    /* The insert fails (the id exists) after the settle ran: both are undone. */
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.5, id, sizeof id, NULL, &err), 0);
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction_settle(s, &it, id, 0.25, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK_CONTAINS(err.message, "cannot log interaction l1 to");
    CHECK_CONTAINS(err.message, "UNIQUE constraint failed");
    CHECK_STR(status(s, &t), "session:l|1.0|0.25|0.5|0.25\n");
    CHECK_INT(count_rows(s, "SELECT count(*) FROM budget_holds"), 1);

    /* The settle fails (a trigger refuses the budget update): the row is not logged. */
    CHECK_INT(exec(s, "CREATE TEMP TRIGGER no_settle BEFORE UPDATE ON main.budgets"
                      " BEGIN SELECT RAISE(ABORT, 'settle refused by test'); END"),
              SQLITE_OK);
    nyx_interaction it2 = make("l2");
    nyx_error_clear(&err);
    CHECK_INT(store_log_interaction_settle(s, &it2, id, 0.25, &err), -1);
    CHECK_CONTAINS(err.message, "settle refused by test");
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'l2'"), 0);
    CHECK_STR(status(s, &t), "session:l|1.0|0.25|0.5|0.25\n");
    CHECK_INT(exec(s, "DROP TRIGGER no_settle"), SQLITE_OK);

    /* Retried once the cause is gone, both happen. */
    CHECK_INT(store_log_interaction_settle(s, &it2, id, 0.25, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'l2'"), 1);
    CHECK_STR(status(s, &t), "session:l|1.0|0.5|0.0|0.5\n");

    /* No reservation: logs only. Bad actual: invalid_argument, nothing logged. */
    nyx_interaction it3 = make("l3");
    CHECK_INT(store_log_interaction_settle(s, &it3, NULL, 0, &err), 0);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'l3'"), 1);
    nyx_interaction it4 = make("l4");
    CHECK_INT(store_log_interaction_settle(s, &it4, id, NAN, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    it4.status = "maybe";
    CHECK_INT(store_log_interaction_settle(s, &it4, id, 0, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'l4'"), 0);

    /* In a batch: joins it; a failure rolls the whole batch back. */
    char id5[STORE_RESERVATION_ID_SIZE], id6[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.125, id5, sizeof id5, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.125, id6, sizeof id6, NULL, &err), 0);
    CHECK_INT(store_batch_begin(s, &err), 0);
    nyx_interaction it5 = make("l5");
    CHECK_INT(store_log_interaction_settle(s, &it5, id5, 0.0625, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_STR(status(s, &t), "session:l|1.0|0.5625|0.125|0.3125\n");

    CHECK_INT(store_batch_begin(s, &err), 0);
    nyx_interaction it6 = make("l6");
    CHECK_INT(store_log_interaction_settle(s, &it6, id6, 0.0625, &err), 0);
    CHECK_INT(store_log_interaction_settle(s, &it5, NULL, 0, &err), -1); /* duplicate */
    CHECK_CONTAINS(err.message, "the batch (1 earlier writes) was rolled back");
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_INT(count_rows(s, "SELECT count(*) FROM llm_interactions WHERE id = 'l6'"), 0);
    CHECK_STR(status(s, &t), "session:l|1.0|0.5625|0.125|0.3125\n");
    CHECK_INT(store_budget_settle(s, id6, 0, &err), 0);
    CHECK_STR(status(s, &t), "session:l|1.0|0.5625|0.0|0.4375\n");
    store_close(s);
}

/* ---- upgrading a version-1 database ---- */

/* Migration 2 moves a reservation from budget_reservations (one row per scope) into
 * budget_holds (one row), and it settles there. */
static void test_migration_2(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/v1.db", tmpdir);
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
                           " ALTER TABLE llm_interactions DROP COLUMN custom_id; PRAGMA user_version = 1;"
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
    text t;
    CHECK_STR(status(s, &t), "day:v1|5.0|0.25|0.0|4.75\n"
                             "session:v1|1.0|0.25|0.0|0.75\n");
    store_close(s);
}

int main(void)
{
    if (fixture_begin("store-budget") != 0)
        return 1;
    test_reserve_settle();
    test_refusal();
    test_processes();
    test_reap();
    test_log_settle();
    test_migration_2();

    fixture_end();
    CHECK_DONE();
}
