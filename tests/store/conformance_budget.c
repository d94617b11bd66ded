/* engine/store budgets: exact numbers through reserve, settle and release; a refusal names
 * the scope and reserves nothing; processes reserving at once never pass the limit; the
 * reservations of a dead process are reaped; logging with settle is all or nothing; on
 * each backend. */
#include "conformance.h"

/* The budget ledger without updated_at, as the store writes it ("10.0", "0.25"); the text
 * lives until the next call. */
static const char *status(store_db *s)
{
    static rowtext t;
    memset(&t, 0, sizeof t);
    t.skip = ",updated_at,";
    error_info err = cleared_error();
    if (store_budget_status(s, to_text, &t, &err) != 0)
        snprintf(t.s, sizeof t.s, "error: %s", err.message);
    return t.s;
}

/* Where the backends differ by design: a hold's scopes are one newline-separated text in
 * SQLite and an array in PostgreSQL. The SQL for the list of the two names given. */
static const char *scopes_sql(char *buf, size_t n, const char *a, const char *b)
{
    if (is_pg)
        snprintf(buf, n, b ? "ARRAY['%s','%s']" : "ARRAY['%s']", a, b);
    else
        snprintf(buf, n, b ? "'%s' || char(10) || '%s'" : "'%s'", a, b);
    return buf;
}

/* ---- reserve, settle, release: exact numbers ---- */

static void test_reserve_settle(store_db *s)
{
    error_info err = cleared_error();
    store_scope sc[] = {{"session:s1", 1.0}, {"day:2026-11-25", 10.0}, {"month:2026-11", -1}};
    char r1[STORE_RESERVATION_ID_SIZE], r2[STORE_RESERVATION_ID_SIZE];
    int refused = 99;

    CHECK_INT(store_budget_reserve(s, sc, 3, 0.25, r1, sizeof r1, &refused, &err), 0);
    CHECK_INT(refused, -1);
    CHECK(strlen(r1) > 0 && strlen(r1) < STORE_RESERVATION_ID_SIZE);
    /* Reals as SQLite writes them, on both: the CLI shows a number with a '.' as money
     * (cli/table.c), so "10" would read as a count (pg_each_row in store_pg_conn.c says why). */
    CHECK_STR(status(s), "day:2026-11-25|10.0|0.0|0.25|9.75\n"
                         "month:2026-11|NULL|0.0|0.25|NULL\n"
                         "session:s1|1.0|0.0|0.25|0.75\n");
    rows r = {0};
    CHECK_INT(store_budget_status(s, collect, &r, &err), 0);
    CHECK_STR(colnames(&r), "scope,limit_usd,spent_usd,reserved_usd,remaining_usd,updated_at");
    const char *upd = cell(&r, 0, "updated_at");
    CHECK(upd && strlen(upd) == 24 && upd[10] == 'T' && upd[23] == 'Z');
    rows_free(&r);

    /* One row holds the reservation in all its scopes, with its holder. */
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 1);
    char sql[400], list[128];
    snprintf(list, sizeof list, "%s",
             dialect("'session:s1' || char(10) || 'day:2026-11-25' || char(10) ||"
                     " 'month:2026-11'",
                     "ARRAY['session:s1','day:2026-11-25','month:2026-11']"));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM budget_holds WHERE id = '%s' AND scopes = %s AND"
             " amount = 0.25 AND pid = %d AND host IS NOT NULL AND abs(created_at - %s) < 60",
             r1, list, (int)getpid(), SQL_NOW);
    CHECK_INT(raw_int(sql), 1);

    CHECK_INT(store_budget_reserve(s, sc, 3, 0.5, r2, sizeof r2, NULL, &err), 0);
    CHECK(strcmp(r1, r2) != 0);
    CHECK_STR(status(s), "day:2026-11-25|10.0|0.0|0.75|9.25\n"
                         "month:2026-11|NULL|0.0|0.75|NULL\n"
                         "session:s1|1.0|0.0|0.75|0.25\n");

    /* Settle to less than reserved: the whole reservation leaves, the actual is spent. */
    CHECK_INT(store_budget_settle(s, r1, 0.125, &err), 0);
    CHECK_STR(status(s), "day:2026-11-25|10.0|0.125|0.5|9.375\n"
                         "month:2026-11|NULL|0.125|0.5|NULL\n"
                         "session:s1|1.0|0.125|0.5|0.375\n");
    /* Release (actual 0). */
    CHECK_INT(store_budget_settle(s, r2, 0, &err), 0);
    CHECK_STR(status(s), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                         "month:2026-11|NULL|0.125|0.0|NULL\n"
                         "session:s1|1.0|0.125|0.0|0.875\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 0);

    /* Settling again, or an id never issued, does nothing. */
    CHECK_INT(store_budget_settle(s, r1, 0.5, &err), 0);
    CHECK_INT(store_budget_settle(s, "r-unknown", 0.5, &err), 0);
    CHECK_STR(status(s), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                         "month:2026-11|NULL|0.125|0.0|NULL\n"
                         "session:s1|1.0|0.125|0.0|0.875\n");

    /* A new limit from the configuration replaces the stored one; a scope the call does
     * not name keeps its own. */
    store_scope raised[] = {{"session:s1", 2.0}};
    CHECK_INT(store_budget_reserve(s, raised, 1, 1.5, r1, sizeof r1, NULL, &err), 0);
    CHECK_STR(status(s), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                         "month:2026-11|NULL|0.125|0.0|NULL\n"
                         "session:s1|2.0|0.125|1.5|0.375\n");
    /* Spending more than reserved is recorded as spent (it was). */
    CHECK_INT(store_budget_settle(s, r1, 2.0, &err), 0);
    CHECK_STR(status(s), "day:2026-11-25|10.0|0.125|0.0|9.875\n"
                         "month:2026-11|NULL|0.125|0.0|NULL\n"
                         "session:s1|2.0|2.125|0.0|-0.125\n");

    /* No scope: an id, nothing stored, settling it does nothing. */
    char r0[STORE_RESERVATION_ID_SIZE] = "";
    CHECK_INT(store_budget_reserve(s, NULL, 0, 0.5, r0, sizeof r0, NULL, &err), 0);
    CHECK(r0[0] != '\0');
    CHECK_INT(store_budget_settle(s, r0, 0.5, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets"), 3);

    /* Scope names PostgreSQL's array syntax would misread arrive intact. */
    store_scope odd[] = {{"agent:\"quoted\", {braced} back\\slash", 1.0}, {"agent:NULL", 1.0}};
    CHECK_INT(store_budget_reserve(s, odd, 2, 0.25, r1, sizeof r1, NULL, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope IN"
                      " ('agent:\"quoted\", {braced} back\\slash', 'agent:NULL')"
                      " AND reserved_usd = 0.25"),
              2);
    CHECK_INT(store_budget_settle(s, r1, 0.25, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope LIKE 'agent:%' AND"
                      " spent_usd = 0.25 AND reserved_usd = 0"),
              2);
}

/* ---- refusal, soft limits, set_limit ---- */

static void test_refusal(store_db *s)
{
    error_info err = cleared_error();
    char id[STORE_RESERVATION_ID_SIZE];
    int refused = 99;
    store_scope sc[] = {{"session:x", 1.0}, {"day:d", 0.5}};

    CHECK_INT(store_budget_reserve(s, sc, 2, 0.4, id, sizeof id, &refused, &err), 0);
    error_clear(&err);
    CHECK_INT(store_budget_reserve(s, sc, 2, 0.2, id, sizeof id, &refused, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");
    CHECK_STR(err.message, "budget exceeded in scope day:d: limit $0.50, spent $0.00, "
                           "reserved $0.40, this call needs up to $0.20");
    CHECK_INT(err.retryable, 1); /* it fits once the $0.40 pending settles */
    CHECK_INT(refused, 1);
    /* The session scope, checked first in the same call, was left as it was. */
    CHECK_STR(status(s), "day:d|0.5|0.0|0.4|0.1\n"
                         "session:x|1.0|0.0|0.4|0.6\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 1);

    /* A scope seen for the first time that the amount alone exceeds: no row is created. */
    store_scope fresh[] = {{"session:x", 1.0}, {"agent:new", 0.1}};
    error_clear(&err);
    CHECK_INT(store_budget_reserve(s, fresh, 2, 0.2, id, sizeof id, &refused, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");
    CHECK_STR(err.message, "budget exceeded in scope agent:new: limit $0.10, spent $0.00, "
                           "reserved $0.00, this call needs up to $0.20");
    CHECK_INT(err.retryable, 0); /* nothing pending could make room */
    CHECK_INT(refused, 1);
    CHECK_STR(status(s), "day:d|0.5|0.0|0.4|0.1\n"
                         "session:x|1.0|0.0|0.4|0.6\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'agent:new'"), 0);
    /* The first scope refusing, with a new scope after it: nothing there either. */
    store_scope first[] = {{"day:d", 0.5}, {"agent:later", 5.0}};
    CHECK_INT(store_budget_reserve(s, first, 2, 0.2, id, sizeof id, &refused, &err), -1);
    CHECK_INT(refused, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'agent:later'"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 1);

    /* Spent counts as much as reserved; the message gives both. */
    store_scope spent[] = {{"agent:sp", 1.0}};
    CHECK_INT(store_budget_reserve(s, spent, 1, 0.5, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_settle(s, id, 0.625, &err), 0);
    CHECK_INT(store_budget_reserve(s, spent, 1, 0.25, id, sizeof id, NULL, &err), 0);
    error_clear(&err);
    CHECK_INT(store_budget_reserve(s, spent, 1, 0.25, id, sizeof id, &refused, &err), -1);
    CHECK_STR(err.message, "budget exceeded in scope agent:sp: limit $1.00, spent $0.625, "
                           "reserved $0.25, this call needs up to $0.25");

    /* An exact fit is not refused over binary rounding (0.1 + 0.2 > 0.3 in doubles); a
     * millionth of a dollar more is. */
    store_scope tight[] = {{"agent:tight", 0.3}};
    CHECK_INT(store_budget_reserve(s, tight, 1, 0.1, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, tight, 1, 0.2, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, tight, 1, 0.000001, id, sizeof id, &refused, &err), -1);
    CHECK_INT(refused, 0);
    CHECK_CONTAINS(err.message, "scope agent:tight: limit $0.30, spent $0.00, reserved $0.30,"
                                " this call needs up to $0.000001");

    /* A zero limit refuses every call that costs anything, and no call that costs nothing. */
    store_scope zero[] = {{"agent:zero", 0}};
    CHECK_INT(store_budget_reserve(s, zero, 1, 0.01, id, sizeof id, NULL, &err), -1);
    CHECK_INT(store_budget_reserve(s, zero, 1, 0, id, sizeof id, NULL, &err), 0);

    /* A limit < 0: tracked, never refused; remaining NULL. A later limit from a successful
     * reservation is stored, and < 0 again clears it. */
    store_scope soft[] = {{"month:soft", -1}};
    CHECK_INT(store_budget_reserve(s, soft, 1, 1000, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, soft, 1, 1e6, id, sizeof id, NULL, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'month:soft' AND"
                      " limit_usd IS NULL AND reserved_usd = 1001000"),
              1);
    rows r = {0};
    CHECK_INT(store_budget_status(s, collect, &r, &err), 0);
    int k = find_row(&r, "month:soft");
    CHECK(k >= 0);
    CHECK(cell(&r, k, "limit_usd") == NULL);
    CHECK(cell(&r, k, "remaining_usd") == NULL);
    rows_free(&r);

    /* store_budget_set_limit: shows (and enforces) a limit without reserving. */
    CHECK_INT(store_budget_set_limit(s, "month:soft", 5.0, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'month:soft' AND"
                      " limit_usd = 5 AND reserved_usd = 1001000"),
              1);
    CHECK_INT(store_budget_set_limit(s, "day:d", 0.75, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'day:d' AND limit_usd = 0.75"
                      " AND reserved_usd = 0.4"),
              1);
    CHECK_INT(store_budget_set_limit(s, "day:d", -1, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'day:d' AND limit_usd IS NULL"),
              1);
    /* A scope without a row is left alone (store.h). */
    CHECK_INT(store_budget_set_limit(s, "agent:none", 1.0, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'agent:none'"), 0);
    error_clear(&err);
    CHECK_INT(store_budget_set_limit(s, "day:d", NAN, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_budget_set_limit(s, "", 1, &err), -1);

    /* Bad arguments: invalid_argument, nothing reserved, refused -1. */
    long long before = raw_int("SELECT count(*) FROM budget_holds");
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
        error_clear(&err);
        refused = 99;
        CHECK_INT(store_budget_reserve(s, bad[i].sc, bad[i].n, bad[i].amount, id, bad[i].idsz,
                                       &refused, &err),
                  -1);
        CHECK_ERROR(err, "invalid_argument", bad[i].msg);
        CHECK_INT(refused, -1);
    }
    CHECK_INT(store_budget_reserve(NULL, sc, 2, 0.1, id, sizeof id, NULL, &err), -1);
    CHECK_INT(store_budget_settle(s, id, -1, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_budget_settle(s, "", 0, &err), -1);
    CHECK_INT(store_budget_reap(s, NAN, &err), -1);
    CHECK_INT(store_budget_status(s, NULL, NULL, &err), -1);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), before);

    /* Inside a batch a refusal undoes only itself: the batch goes on and commits. */
    store_scope b1[] = {{"session:batch", 1.0}};
    error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), 0);
    CHECK_INT(store_budget_reserve(s, b1, 1, 0.75, id, sizeof id, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, b1, 1, 0.5, id, sizeof id, &refused, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");
    interaction_rec it = make("in-batch", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'in-batch'"), 1);
    char sql[200], list[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM budget_holds WHERE scopes = %s",
             scopes_sql(list, sizeof list, "session:batch", NULL));
    CHECK_INT(raw_int(sql), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'session:batch' AND"
                      " reserved_usd = 0.75"),
              1);
}

/* ---- processes reserving against one limit ---- */

typedef struct child_report {
    int ok, refused, errors, violations, held;
    double used;
} child_report;

/* Runs loop(k, ...) in n processes that open their stores, say so, and start together;
 * adds up their reports in *total and returns how many got any reservation. */
static int run_children(int n, child_report (*loop)(int k, store_db *s), child_report *total)
{
    store_close(open_db()); /* the schema first, so the children only race on reservations */
    raw_close();            /* and no connection crosses fork() */
    int ready[2], go[2], out[2];
    CHECK_INT(pipe(ready), 0);
    CHECK_INT(pipe(go), 0);
    CHECK_INT(pipe(out), 0);
    fflush(NULL);
    pid_t kids[16];
    for (int k = 0; k < n; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            close(ready[0]);
            close(go[1]);
            close(out[0]);
            child_report r;
            memset(&r, 0, sizeof r); /* padding too: the report crosses a pipe */
            error_info err;
            store_db *s = store_open_opts(db_uri, NULL, &err);
            if (!s)
                fprintf(stderr, "child %d: %s\n", k, err.message);
            char c = 'r';
            if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1 || !s)
                r.errors++;
            else
                r = loop(k, s);
            store_close(s);
            _exit(write(out[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
        }
        CHECK(kids[k] > 0);
    }
    close(ready[1]);
    close(go[0]);
    close(out[1]);
    char start[16];
    for (int k = 0; k < n; k++)
        CHECK_INT(read(ready[0], start, 1), 1);
    close(ready[0]);
    memset(start, 'g', sizeof start);
    CHECK_INT(write(go[1], start, (size_t)n), n);
    close(go[1]);

    memset(total, 0, sizeof *total);
    int busy = 0;
    for (int k = 0; k < n; k++) {
        child_report r;
        CHECK_INT(read(out[0], &r, sizeof r), sizeof r);
        total->ok += r.ok;
        total->refused += r.refused;
        total->errors += r.errors;
        total->violations += r.violations;
        total->held += r.held;
        total->used += r.used;
        busy += r.ok > 0;
    }
    close(out[0]);
    for (int k = 0; k < n; k++) {
        int st = -1;
        CHECK_INT(waitpid(kids[k], &st, 0), kids[k]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_INT(total->errors, 0);
    CHECK_INT(total->violations, 0);
    return busy;
}

/* What day:shared holds (spent + reserved), summed into *ud by store_budget_status. */
static int shared_row(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types)
{
    (void)types;
    (void)ncols;
    (void)names;
    double *held = ud;
    if (strcmp(values[0], "day:shared") == 0 && values[2] && values[3])
        *held = strtod(values[2], NULL) + strtod(values[3], NULL);
    return 0;
}

/* Committed state never holds more than limit, seen from any process: 1 if it does. */
static int over_limit(store_db *s, double limit, child_report *r)
{
    error_info err;
    double held = 0;
    if (store_budget_status(s, shared_row, &held, &err) != 0)
        r->errors++;
    return held > limit + 1e-9;
}

/* Exact: 8 processes x 20 reservations of 1/16 against room for 60; half are settled at
 * their full amount, half stay reserved, so each success holds its amount for good. */
#define NCHILD 8
#define CHILD_ITERS 20
#define AMOUNT 0.0625             /* exact in binary: the sums below are exact */
#define SHARED_LIMIT (60 * AMOUNT) /* room for 60 of the 8 x 20 attempts */

static child_report exact_loop(int k, store_db *s)
{
    child_report r;
    memset(&r, 0, sizeof r);
    error_info err;
    char mine[32];
    snprintf(mine, sizeof mine, "session:kid%d", k);
    /* Two scopes every process shares, named in opposite orders by odd and even processes:
     * the rows are locked in one order whatever the call's, so none waits on another
     * forever. Only day:shared can refuse. */
    store_scope even[] = {{"day:shared", SHARED_LIMIT}, {"month:shared", 1000.0}, {mine, 100.0}};
    store_scope odd[] = {{mine, 100.0}, {"month:shared", 1000.0}, {"day:shared", SHARED_LIMIT}};
    const store_scope *sc = k % 2 ? odd : even;
    int shared_at = k % 2 ? 2 : 0;
    char id[STORE_RESERVATION_ID_SIZE];
    unsigned seed = (unsigned)getpid();
    for (int i = 0; i < CHILD_ITERS; i++) {
        int refused = 99;
        error_clear(&err);
        if (store_budget_reserve(s, sc, 3, AMOUNT, id, sizeof id, &refused, &err) != 0) {
            if (strcmp(err.type, "budget_exceeded") == 0 && refused == shared_at &&
                strstr(err.message, "in scope day:shared: limit $3.75")) {
                r.refused++;
            } else {
                r.errors++;
                fprintf(stderr, "child %d: %s (refused %d)\n", k, err.message, refused);
            }
            continue;
        }
        r.ok++;
        r.used += AMOUNT;
        r.violations += over_limit(s, SHARED_LIMIT, &r);
        sleep_ms(rand_r(&seed) % 3);
        if (rand_r(&seed) % 2) {
            if (store_budget_settle(s, id, AMOUNT, &err) != 0)
                r.errors++;
        } else {
            r.held++;
        }
    }
    return r;
}

static void test_processes_exact(void)
{
    child_report total;
    int busy = run_children(NCHILD, exact_loop, &total);
    CHECK_INT(total.ok + total.refused, NCHILD * CHILD_ITERS);
    /* Exactly as many as fit: none lost to a race, none let through. */
    CHECK_INT(total.ok, (int)floor(SHARED_LIMIT / AMOUNT));
    CHECK(busy >= 2); /* they did run side by side */
    CHECK_NEAR(raw_real("SELECT spent_usd + reserved_usd FROM budgets WHERE scope = 'day:shared'"),
               SHARED_LIMIT, 1e-9);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'day:shared'"),
               total.held * AMOUNT, 1e-9);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), total.held);
    CHECK_NEAR(raw_real("SELECT sum(spent_usd + reserved_usd) FROM budgets WHERE scope LIKE"
                        " 'session:kid%'"),
               total.used, 1e-9);
    CHECK_NEAR(raw_real("SELECT spent_usd + reserved_usd FROM budgets WHERE scope ="
                        " 'month:shared'"),
               SHARED_LIMIT, 1e-9);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets"), 2 + busy);
}

/* Settling: 3 processes x 400 calls in flight for a moment, each settled at a random part
 * of what it reserved, fill a $2 limit to its last few calls and leave nothing reserved. */
#define SETTLE_CHILDREN 3
#define SETTLE_ITERS 400
#define SETTLE_LIMIT 2.0
#define SETTLE_AMOUNT 0.01

static child_report settle_loop(int k, store_db *s)
{
    (void)k;
    child_report r;
    memset(&r, 0, sizeof r);
    error_info err;
    store_scope sc[] = {{"day:shared", SETTLE_LIMIT}, {"session:mine", 100.0}};
    char id[STORE_RESERVATION_ID_SIZE];
    unsigned seed = (unsigned)getpid();
    for (int i = 0; i < SETTLE_ITERS; i++) {
        if (store_budget_reserve(s, sc, 2, SETTLE_AMOUNT, id, sizeof id, NULL, &err) != 0) {
            if (strcmp(err.type, "budget_exceeded") == 0) {
                r.refused++;
            } else {
                r.errors++;
                fprintf(stderr, "child %d: %s\n", (int)getpid(), err.message);
            }
            continue;
        }
        r.ok++;
        r.violations += over_limit(s, SETTLE_LIMIT, &r);
        /* The call is in flight: the other processes reserve meanwhile. (Without this
         * pause one process would take SQLite's lock again at once after each commit while
         * the others sleep in its busy handler: correct, but not concurrent.) */
        struct timespec in_flight = {0, 100000 + (long)(rand_r(&seed) % 400000)};
        nanosleep(&in_flight, NULL);
        double actual = SETTLE_AMOUNT * (0.5 + 0.5 * (double)rand_r(&seed) / RAND_MAX);
        if (store_budget_settle(s, id, actual, &err) != 0)
            r.errors++;
        else
            r.used += actual;
    }
    return r;
}

static void test_processes_settle(void)
{
    child_report total;
    int busy = run_children(SETTLE_CHILDREN, settle_loop, &total);
    CHECK_INT(busy, SETTLE_CHILDREN); /* every process got some of the budget */
    CHECK_INT(total.ok + total.refused, SETTLE_CHILDREN * SETTLE_ITERS);
    CHECK(total.refused > 0); /* the limit was reached, so it was tested */
    double spent = raw_real("SELECT spent_usd FROM budgets WHERE scope = 'day:shared'");
    CHECK(spent <= SETTLE_LIMIT + 1e-9);
    /* filled up to the last few calls */
    CHECK(spent > SETTLE_LIMIT - 2 * SETTLE_CHILDREN * SETTLE_AMOUNT);
    CHECK_NEAR(spent, total.used, 1e-9);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'day:shared'"), 0, 1e-12);
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM budgets WHERE scope = 'session:mine'"), 1);
}

/* ---- reaping ---- */

static void test_reap(void)
{
    store_scope sc[] = {{"session:r", 1.0}};
    raw_close();
    fflush(NULL);
    /* A process reserves and dies without settling. */
    pid_t kid = fork();
    if (kid == 0) {
        error_info e;
        char id[STORE_RESERVATION_ID_SIZE];
        store_db *c = store_open_opts(db_uri, NULL, &e);
        int rc = c ? store_budget_reserve(c, sc, 1, 0.25, id, sizeof id, NULL, &e) : -1;
        store_close(c);
        _exit(rc == 0 ? 0 : 1);
    }
    int st = -1;
    CHECK_INT(waitpid(kid, &st, 0), kid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char sql[300], list[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM budget_holds WHERE pid = %d", (int)kid);
    CHECK_INT(raw_int(sql), 1);

    store_db *s = open_db();
    if (!s)
        return;
    error_info err = cleared_error();
    char mine[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.125, mine, sizeof mine, NULL, &err), 0);
    /* One held by a process on another host: its pid means nothing here. */
    char ins[300];
    snprintf(ins, sizeof ins,
             "INSERT INTO budget_holds VALUES ('elsewhere', %s, 0.5, %s, 1,"
             " 'other-host.example'); UPDATE budgets SET reserved_usd = reserved_usd + 0.5",
             scopes_sql(list, sizeof list, "session:r", NULL), SQL_NOW);
    CHECK_INT(raw_exec(ins), 0);
    CHECK_STR(status(s), "session:r|1.0|0.0|0.875|0.125\n");

    CHECK_INT(store_budget_reap(s, 3600, &err), 1); /* the dead child's */
    CHECK_STR(status(s), "session:r|1.0|0.0|0.625|0.375\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 2);
    CHECK_INT(raw_int(sql), 0);
    CHECK_INT(store_budget_reap(s, 3600, &err), 0);
    CHECK_INT(store_budget_reap(s, 0, &err), 0); /* age off: only the dead */

    /* Too old, whatever host: released. */
    CHECK_INT(raw_exec("UPDATE budget_holds SET created_at = created_at - 7200"
                       " WHERE id = 'elsewhere'"),
              0);
    CHECK_INT(store_budget_reap(s, 0, &err), 0);
    CHECK_INT(store_budget_reap(s, 3600, &err), 1);
    CHECK_STR(status(s), "session:r|1.0|0.0|0.125|0.875\n");

    /* The live process's own reservation survives until it settles it. */
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 1);
    CHECK_INT(store_budget_settle(s, mine, 0.0625, &err), 0);
    CHECK_STR(status(s), "session:r|1.0|0.0625|0.0|0.9375\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 0);
    store_close(s);
}

/* ---- logging and settling in one transaction ---- */

static void test_log_settle(store_db *s)
{
    error_info err = cleared_error();
    store_scope sc[] = {{"session:l", 1.0}};
    char id[STORE_RESERVATION_ID_SIZE];

    CHECK_INT(store_budget_reserve(s, sc, 1, 0.5, id, sizeof id, NULL, &err), 0);
    interaction_rec it = make("l1", T0);
    it.session = "l";
    it.has_cost = 1;
    it.cost_usd = 0.25;
    CHECK_INT(store_log_interaction_settle(s, &it, id, 0.25, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l1' AND cost_usd = 0.25"),
              1);
    CHECK_STR(status(s), "session:l|1.0|0.25|0.0|0.75\n");

    /* Where the backends differ by design: the same id again. PostgreSQL takes it for a
     * write sent again after its answer was lost with the connection, and changes nothing;
     * SQLite (no connection to lose) refuses it, and the settle is undone with it. */
    if (is_pg) {
        CHECK_INT(store_log_interaction_settle(s, &it, id, 0.25, &err), 0);
        CHECK_STR(status(s), "session:l|1.0|0.25|0.0|0.75\n");
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 1);
    }
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.5, id, sizeof id, NULL, &err), 0);
    if (!is_pg) {
        error_clear(&err);
        CHECK_INT(store_log_interaction_settle(s, &it, id, 0.25, &err), -1);
        CHECK_ERROR(err, "store_error", "cannot log interaction l1 to");
        CHECK_CONTAINS(err.message, "UNIQUE constraint failed");
        CHECK_STR(status(s), "session:l|1.0|0.25|0.5|0.25\n");
        CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 1);
    }

    /* The insert fails after the settle ran: both are undone. */
    CHECK_INT(raw_exec(dialect("CREATE TRIGGER test_no_l2 BEFORE INSERT ON llm_interactions"
                               " WHEN NEW.id = 'l2' BEGIN SELECT RAISE(ABORT, 'test_no_l2'); END",
                               "ALTER TABLE llm_interactions ADD CONSTRAINT test_no_l2"
                               " CHECK (id <> 'l2')")),
              0);
    interaction_rec it2 = make("l2", T0);
    error_clear(&err);
    CHECK_INT(store_log_interaction_settle(s, &it2, id, 0.25, &err), -1);
    CHECK_ERROR(err, "store_error", "cannot log interaction l2");
    CHECK_CONTAINS(err.message, "test_no_l2");
    CHECK_STR(status(s), "session:l|1.0|0.25|0.5|0.25\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 1);
    CHECK_INT(raw_exec(dialect("DROP TRIGGER test_no_l2",
                               "ALTER TABLE llm_interactions DROP CONSTRAINT test_no_l2")),
              0);

    /* The settle fails (a trigger refuses the budget update): the row is not logged. */
    CHECK_INT(raw_exec(dialect("CREATE TRIGGER test_no_settle BEFORE UPDATE ON budgets"
                               " BEGIN SELECT RAISE(ABORT, 'settle refused by test'); END",
                               "CREATE FUNCTION test_no_settle() RETURNS trigger LANGUAGE"
                               " plpgsql AS $$BEGIN RAISE EXCEPTION 'settle refused by test';"
                               " END$$; CREATE TRIGGER test_no_settle BEFORE UPDATE ON budgets"
                               " FOR EACH ROW EXECUTE FUNCTION test_no_settle()")),
              0);
    error_clear(&err);
    CHECK_INT(store_log_interaction_settle(s, &it2, id, 0.25, &err), -1);
    CHECK_CONTAINS(err.message, "settle refused by test");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l2'"), 0);
    CHECK_STR(status(s), "session:l|1.0|0.25|0.5|0.25\n");
    CHECK_INT(raw_exec(dialect("DROP TRIGGER test_no_settle",
                               "DROP TRIGGER test_no_settle ON budgets")),
              0);

    /* Retried once the cause is gone, both happen. */
    CHECK_INT(store_log_interaction_settle(s, &it2, id, 0.25, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l2'"), 1);
    CHECK_STR(status(s), "session:l|1.0|0.5|0.0|0.5\n");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 0);

    /* No reservation: logs only. Bad actual or status: invalid_argument, nothing logged. */
    interaction_rec it3 = make("l3", T0);
    CHECK_INT(store_log_interaction_settle(s, &it3, NULL, 0, &err), 0);
    if (is_pg) /* the same id again: nothing changes (above) */
        CHECK_INT(store_log_interaction_settle(s, &it3, "", 0, &err), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l3'"), 1);
    interaction_rec it4 = make("l4", T0);
    error_clear(&err);
    CHECK_INT(store_log_interaction_settle(s, &it4, id, NAN, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_log_interaction_settle(s, &it4, id, -1, &err), -1);
    it4.status = "maybe";
    CHECK_INT(store_log_interaction_settle(s, &it4, id, 0, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l4'"), 0);
    CHECK_STR(status(s), "session:l|1.0|0.5|0.0|0.5\n");

    /* In a batch: joins it, durable at the commit. */
    char id5[STORE_RESERVATION_ID_SIZE], id6[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.125, id5, sizeof id5, NULL, &err), 0);
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.125, id6, sizeof id6, NULL, &err), 0);
    CHECK_INT(store_batch_begin(s, &err), 0);
    interaction_rec it5 = make("l5", T0);
    CHECK_INT(store_log_interaction_settle(s, &it5, id5, 0.0625, &err), 0);
    CHECK_INT(store_batch_commit(s, &err), 0);
    CHECK_STR(status(s), "session:l|1.0|0.5625|0.125|0.3125\n");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l5'"), 1);

    /* A failing write in a batch. Where the backends differ by design: a SQLite batch is one
     * transaction, so the failure rolls all of it back; a PostgreSQL batch is pipelined, so
     * the failing write fails alone (neither its row nor its settle) and the others are
     * committed; either way the commit reports it. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    interaction_rec it6 = make("l6", T0);
    if (is_pg) {
        it6.prompt_text = "\xff\xfe not utf-8"; /* the server refuses it */
        CHECK_INT(store_log_interaction_settle(s, &it6, id6, 0.0625, &err), 0);
        interaction_rec it7 = make("l7", T0);
        CHECK_INT(store_log_interaction_settle(s, &it7, NULL, 0, &err), 0);
        error_clear(&err);
        CHECK_INT(store_batch_commit(s, &err), -1);
        CHECK_CONTAINS(err.message, "cannot log interaction l6 in");
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l7'"), 1);
    } else {
        CHECK_INT(store_log_interaction_settle(s, &it6, id6, 0.0625, &err), 0);
        CHECK_INT(store_log_interaction_settle(s, &it5, NULL, 0, &err), -1); /* duplicate */
        CHECK_CONTAINS(err.message, "the batch (1 earlier writes) was rolled back");
        CHECK_INT(store_batch_commit(s, &err), -1);
    }
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'l6'"), 0);
    CHECK_STR(status(s), "session:l|1.0|0.5625|0.125|0.3125\n");
    CHECK_INT(store_budget_settle(s, id6, 0, &err), 0);
    CHECK_STR(status(s), "session:l|1.0|0.5625|0.0|0.4375\n");
}

/* The two operations on a call's path, asynchronously: what cannot start returns -1 and never
 * calls done; once started, every outcome reaches done exactly once (at once with SQLite, from
 * the pump with PostgreSQL), a refusal with the scope it names. */
static void on_thought(void *ud, int rc, int64_t id, const error_info *err)
{
    (void)id;
    on_done(ud, rc, -1, err);
}

static int no_row(void *ud, int ncols, const char *const *names, const char *const *values,
                  const char *types)
{
    (void)ud, (void)ncols, (void)names, (void)values, (void)types;
    return 0;
}

static void test_async_outcomes(store_db *s)
{
    error_info err = cleared_error();
    char id[STORE_RESERVATION_ID_SIZE];
    store_scope sc[] = {{"session:a", 1.0}, {"day:a", 0.5}};

    done_rec never = {0};
    interaction_rec bad = make("bad-status", T0);
    bad.status = "maybe";
    CHECK_INT(store_log_interaction_settle_async(s, &bad, NULL, 0, on_done, &never, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    error_clear(&err);
    CHECK_INT(store_budget_reserve_async(s, sc, 2, NAN, id, sizeof id, on_done, &never, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(never.calls, 0);

    done_rec none = {0}; /* no scope: nothing to ask, done before returning */
    CHECK_INT(store_budget_reserve_async(s, NULL, 0, 0.5, id, sizeof id, on_done, &none, &err), 0);
    CHECK_INT(none.calls, 1);
    CHECK_INT(none.rc, 0);

    done_rec fits = {0}, refused = {0}, logged = {0};
    CHECK_INT(store_budget_reserve_async(s, sc, 2, 0.4, id, sizeof id, on_done, &fits, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(fits.calls, 1);
    CHECK_INT(fits.rc, 0);
    char id2[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve_async(s, sc, 2, 0.2, id2, sizeof id2, on_done, &refused, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(refused.calls, 1);
    CHECK_INT(refused.rc, -1);
    CHECK_INT(refused.refused, 1);
    CHECK_STR(refused.type, "budget_exceeded");
    interaction_rec it = make("async-logged", T0);
    CHECK_INT(store_log_interaction_settle_async(s, &it, id, 0.25, on_done, &logged, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(logged.calls, 1);
    CHECK_INT(logged.rc, 0);
    /* Logged again under its id: SQLite refuses it, PostgreSQL takes it as sent again (its
     * answer may have been lost); either way done says so, once. */
    done_rec again = {0};
    CHECK_INT(store_log_interaction_settle_async(s, &it, NULL, 0, on_done, &again, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(again.calls, 1);
    CHECK_INT(again.rc, is_pg ? 0 : -1);
    if (!is_pg)
        CHECK_STR(again.type, "store_error");
    CHECK_STR(status(s), "day:a|0.5|0.25|0.0|0.25\n"
                         "session:a|1.0|0.25|0.0|0.75\n");

    /* The others alike: a thought under a parent that does not exist, the ledger read from a
     * table that is gone; each reaches done, where SQLite returned -1. */
    done_rec orphan = {0}, gone = {0};
    CHECK_INT(store_thought_add_async(s, "a", 1000, "orphan", on_thought, &orphan, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(orphan.calls, 1);
    CHECK_INT(orphan.rc, -1);
    CHECK_STR(orphan.type, "invalid_argument");
    CHECK_INT(raw_exec("DROP TABLE budgets"), 0);
    CHECK_INT(store_budget_status_async(s, no_row, NULL, on_done, &gone, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(gone.calls, 1);
    CHECK_INT(gone.rc, -1);
    CHECK_STR(gone.type, "store_error");
}

CONFORMANCE_SUITE("store-budget",
    {"reserve_settle", .on_db = test_reserve_settle},
    {"refusal", .on_db = test_refusal},
    {"processes_exact", .fn = test_processes_exact},
    {"processes_settle", .fn = test_processes_settle},
    {"reap", .fn = test_reap},
    {"log_settle", .on_db = test_log_settle},
    {"async_outcomes", .on_db = test_async_outcomes})
