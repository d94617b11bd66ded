/* engine/store on PostgreSQL: what only a server has. The behaviours both backends share are
 * the conformance suite's (tests/store, run here as pg/store/...); this file keeps the schema
 * in nyx_schema and its migration under an advisory lock, the loop API over a pipelined
 * connection (store_poll_fd/store_pump/store_busy), losing the connection, and a password
 * never reaching a message. It runs on the suite's fixture (a database per case). */
#include "conformance.h"
#include "request_body.h"

/* Kills the server process of every store (application_name nyx) on this test's database and
 * waits for the server's goodbye to reach the socket; returns how many. */
static long long terminate_stores(void)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE application_name = 'nyx' AND datname = '%s'",
             db_name);
    long long n = raw_int(sql);
    sleep_ms(100);
    return n;
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

/* store_connections() once it is want, or what it is after 2 s (a closed connection's server
 * process leaves within moments). */
static long long connections_become(long long want)
{
    long long n = -1;
    for (int k = 0; k < 100 && (n = store_connections()) != want; k++)
        sleep_ms(20);
    return n;
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
    error_info err = cleared_error();
    store_db *s = open_db();
    if (!s)
        return;
    CHECK_INT(store_schema_version(s), 6);
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

    store_close(s);
    /* Closing ends the connection (the server notices within moments). */
    CHECK_INT(connections_become(0), 0);

    /* Reopen: one version row (the data kept: conformance_open.c). */
    s = open_db();
    if (s) {
        CHECK_INT(raw_int("SELECT count(*) FROM nyx_schema"), 1);
        /* A second store on the same database at the same time. */
        store_db *t = open_db();
        if (t) {
            CHECK_INT(store_schema_version(t), 6);
            CHECK_INT(store_connections(), 2);
            store_close(t);
        }
        store_close(s);
    }

    /* "postgres://" selects the backend too; a URI naming the application keeps its name. */
    if (strncmp(db_uri, "postgresql://", 13) == 0) {
        char alt[800];
        snprintf(alt, sizeof alt, "postgres://%s", db_uri + 13);
        error_clear(&err);
        s = store_open_opts(alt, NULL, &err);
        CHECK(s != NULL);
        CHECK_STR(store_backend_name(s), "postgresql");
        store_close(s);
    }
    char named[800];
    snprintf(named, sizeof named, "%s%sapplication_name=nyx_test_app", db_uri,
             strchr(db_uri, '?') ? "&" : "?");
    s = store_open_opts(named, NULL, &err);
    CHECK(s != NULL);
    if (s) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE"
                                  " datname = '%s' AND application_name = 'nyx_test_app'",
                 db_name);
        CHECK_INT(raw_int(sql), 1);
        store_close(s);
    }
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
            error_info e = cleared_error();
            store_db *c = store_open_opts(db_uri, NULL, &e);
            if (!c) {
                fprintf(stderr, "concurrent open: %s\n", e.message);
                _exit(10);
            }
            int version = store_schema_version(c);
            interaction_rec it = make("race", T0);
            int logged = store_log_interaction(c, &it, &e);
            store_close(c);
            _exit(version == 6 && logged == 0 ? 0 : 11);
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
    CHECK_INT(raw_int("SELECT version FROM nyx_schema"), 6);
    CHECK_INT(raw_int(TABLES), 15);
    /* Every process logged the same id: one row (an id is logged once). */
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions"), 1);
}

/* ---- the loop API: async reserve and log+settle ---- */

/* Pumps s until nothing is pending, then done (any record with calls and rc) has run once,
 * with rc. */
#define ANSWERED_ONCE(done, rc_)    \
    do {                            \
        CHECK_INT(drive(s, 10), 0); \
        CHECK_INT((done).calls, 1); \
        CHECK_INT((done).rc, rc_);  \
    } while (0)

/* A done callback that calls back into the store: an audit event and a control read. */
typedef struct reentry {
    store_db *s;
    int calls, rc;
    char inner_value[32];
    int inner_rc;
} reentry;

static void on_done_reenter(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused;
    reentry *r = ud;
    r->calls++;
    r->rc = rc;
    error_info e = cleared_error();
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

static void on_id(void *ud, int rc, int64_t id, const error_info *err)
{
    id_rec *r = ud;
    r->calls++;
    r->rc = rc;
    r->id = id;
    snprintf(r->type, sizeof r->type, "%s", rc != 0 && err ? err->type : "");
}

/* store_set_pump_limit: a pump hands out one answer at least and stops once the limit says
 * enough, the rest at later pumps, store_busy counting them meanwhile. */
static int always_enough(void *ud)
{
    (*(int *)ud)++;
    return 1;
}

static void test_pump_limit(store_db *s)
{
    int asked = 0;
    error_info err = cleared_error();
    store_set_pump_limit(s, always_enough, &asked);
    done_rec d[5];
    memset(d, 0, sizeof d);
    for (int k = 0; k < 5; k++) {
        char id[16];
        snprintf(id, sizeof id, "limit%d", k);
        interaction_rec m = make(id, T0 + k);
        CHECK_INT(store_log_interaction_settle_async(s, &m, NULL, 0, on_done, &d[k], &err), 0);
    }
    int answered = 0, most = 0;
    double end = clock_now_s() + 10;
    while (answered < 5 && clock_now_s() < end) {
        int want_write = 0, fd = store_poll_fd(s, &want_write);
        if (fd >= 0) {
            struct pollfd p = {fd, (short)(POLLIN | (want_write ? POLLOUT : 0)), 0};
            poll(&p, 1, 50);
        }
        int before = answered;
        store_pump(s);
        answered = 0;
        for (int k = 0; k < 5; k++)
            answered += d[k].calls;
        most = answered - before > most ? answered - before : most;
        CHECK(store_busy(s) >= 5 - answered); /* the rest still counted */
    }
    CHECK_INT(answered, 5);
    CHECK_INT(most, 1); /* one answer per pump */
    CHECK(asked > 0);
    store_set_pump_limit(s, NULL, NULL);
}

static void test_async(store_db *s)
{
    error_info err = cleared_error();
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
    ANSWERED_ONCE(d1, 0);
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
        CHECK_STR(d[no].message, "budget exceeded in scope session:a: limit $1.00, "
                                 "spent $0.00, reserved $1.00, this call needs up to $0.25");
    }
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 4);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:a'"), 1.0, 0);

    /* Log and settle: done after the commit, the row and the settle visible elsewhere. */
    interaction_rec it = make("as1", T0);
    done_rec dl = {0};
    CHECK_INT(store_log_interaction_settle_async(s, &it, id1, 0.125, on_done, &dl, &err), 0);
    CHECK_INT(dl.calls, 0);
    snprintf(dl.check_sql, sizeof dl.check_sql,
             "SELECT count(*) FROM llm_interactions WHERE id = 'as1' AND NOT EXISTS"
             " (SELECT 1 FROM budget_holds WHERE id = '%s')",
             id1);
    ANSWERED_ONCE(dl, 0);
    CHECK_INT(dl.refused, -1);
    CHECK_INT(dl.visible, 1);
    CHECK_NEAR(raw_real("SELECT spent_usd FROM budgets WHERE scope = 'session:a'"), 0.125, 0);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:a'"), 0.75, 0);

    /* A write the server refuses: done once with rc -1 and the error; nothing settled. */
    interaction_rec bad = make("as-bad", T0);
    bad.prompt_text = BAD_UTF8;
    done_rec db = {0};
    CHECK_INT(store_log_interaction_settle_async(s, &bad, ids[held], 0.125, on_done, &db, &err), 0);
    ANSWERED_ONCE(db, -1);
    CHECK_ERROR(db, "store_error", "cannot log interaction as-bad in");
    CHECK_INT(raw_int("SELECT count(*) FROM budget_holds"), 3);

    /* Many of both kinds queued before any pump: each answered once. */
    done_rec dm[12];
    memset(dm, 0, sizeof dm);
    char mids[6][STORE_RESERVATION_ID_SIZE];
    store_scope loose[] = {{"day:a", 10.0}};
    for (int k = 0; k < 6; k++) {
        char id[16];
        snprintf(id, sizeof id, "many%d", k);
        interaction_rec m = make(id, T0 + k);
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

    /* A done callback may call the store (the engine audits a refusal from there), and a
     * waiting call made before the pump sees what was queued before it. */
    reentry re = {.s = s};
    char idr[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve_async(s, sc, 2, 0.5, idr, sizeof idr, on_done_reenter, &re,
                                         &err),
              0);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:a'"), 0.75, 0);
    rowtext now_t = {.skip = ",updated_at,", .numbers = 1};
    CHECK_INT(store_budget_status(s, to_text, &now_t, &err), 0);
    CHECK_CONTAINS(now_t.s, "session:a|1|0.125|0.75|0.125\n"); /* refused: nothing changed */
    CHECK_INT(re.calls, 0); /* the answer is in; done waits for the pump */
    ANSWERED_ONCE(re, -1);
    CHECK_INT(re.inner_rc, 0);
    CHECK_STR(re.inner_value, "refused");
    CHECK_INT(raw_int("SELECT count(*) FROM audit_events WHERE kind = 'budget_refused'"), 1);

    /* The ledger, asynchronously: the rows just before done. */
    rowtext st = {.skip = ",updated_at,", .numbers = 1};
    done_rec ds = {0};
    CHECK_INT(store_budget_status_async(s, to_text, &st, on_done, &ds, &err), 0);
    CHECK_INT(ds.calls, 0);
    CHECK_STR(st.s, "");
    ANSWERED_ONCE(ds, 0);
    CHECK_STR(st.s, "day:a|10|0.125|3.75|6.125\n"
                    "session:a|1|0.125|0.75|0.125\n");
    error_clear(&err);
    CHECK_INT(store_budget_status_async(s, NULL, NULL, on_done, &ds, &err), -1);
    CHECK_STR(err.type, "invalid_argument");

    /* A thought node, asynchronously: its id in done, not before the pump (an unknown parent
     * failing in done is the conformance suite's). */
    id_rec n1 = {0};
    CHECK_INT(store_thought_add_async(s, "a", 0, "root", on_id, &n1, &err), 0);
    CHECK_INT(n1.calls, 0);
    ANSWERED_ONCE(n1, 0);
    CHECK(n1.id > 0);
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
}

/* ---- losing the connection ---- */

/* The next operation after the server dropped the connection: store_error, saying so. */
static int loss_message(const char *m)
{
    return contains(m, "connection lost") || contains(m, "unreachable");
}

/* Tries a write every 20 ms (pumping between) until one succeeds; the seconds it took,
 * or -1 after limit_s. */
static double until_written(store_db *s, const char *id, double limit_s, char *last, size_t n)
{
    double t0 = clock_now_s();
    while (clock_now_s() - t0 < limit_s) {
        interaction_rec it = make(id, T0);
        error_info err = cleared_error();
        if (store_log_interaction(s, &it, &err) == 0)
            return clock_now_s() - t0;
        snprintf(last, n, "%s", err.message);
        store_pump(s);
        sleep_ms(20);
    }
    return -1;
}

static void test_connection_loss(store_db *s)
{
    error_info err = cleared_error();
    interaction_rec it = make("before", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    int c = -1;
    CHECK_INT(store_changed(s, &c, &err), 0); /* clears the first call's 1 */

    CHECK_INT(terminate_stores(), 1);
    double lost_at = clock_now_s();
    it = make("during", T0);
    error_clear(&err);
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
    CHECK(clock_now_s() - lost_at < 2.0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'after'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'during'"), 0);
    CHECK_INT(store_connections(), 1);
    /* A new connection may have missed a stop: store_changed says to look. */
    CHECK_INT(store_changed(s, &c, &err), 0);
    CHECK_INT(c, 1);
    /* The new connection listens again: another store's stop reaches this one. */
    store_db *o = open_db();
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
        CHECK_INT(connections_become(1), 1);
    }
    /* Queries, budgets and the control channel work on the new connection. */
    CHECK_STR(picked(s, store_query_log, NULL, "id"), "before\nafter\n");
    store_scope sc[] = {{"session:loss", 1.0}};
    char id[STORE_RESERVATION_ID_SIZE];
    CHECK_INT(store_budget_reserve(s, sc, 1, 0.5, id, sizeof id, NULL, &err), 0);

    /* An operation in flight when the connection goes: done once, with the error. */
    interaction_rec a = make("async-lost", T0);
    done_rec d = {0};
    CHECK_INT(terminate_stores(), 1);
    int started = store_log_interaction_settle_async(s, &a, id, 0.25, on_done, &d, &err);
    if (started == 0) {
        ANSWERED_ONCE(d, -1);
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
    ANSWERED_ONCE(d, 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'async-lost'"), 1);
    CHECK_NEAR(raw_real("SELECT spent_usd FROM budgets WHERE scope = 'session:loss'"), 0.25, 0);
    CHECK_NEAR(raw_real("SELECT reserved_usd FROM budgets WHERE scope = 'session:loss'"), 0, 0);

    /* Lost inside a batch: the commit says the batch did not all arrive. */
    CHECK_INT(store_batch_begin(s, &err), 0);
    it = make("batch-before", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    CHECK_INT(drive(s, 10), 0);
    CHECK_INT(terminate_stores(), 1);
    it = make("batch-lost", T0);
    store_log_interaction(s, &it, &err); /* 0 (queued, failing later) or -1 (known down) */
    error_clear(&err);
    CHECK_INT(store_batch_commit(s, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK(loss_message(err.message));
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'batch-before'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'batch-lost'"), 0);
    error_clear(&err);
    CHECK_INT(store_batch_begin(s, &err), 0); /* the failed commit closed the batch */
    CHECK_INT(store_batch_commit(s, &err) == 0 || loss_message(err.message), 1);
    took = until_written(s, "batch-lost", 5, last, sizeof last);
    CHECK(took >= 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'batch-lost'"), 1);
}

/* ---- a password never reaches a message ---- */

static void test_password_hidden(void)
{
    /* A server that is not there: conformance_open.c. The test server trusts every password:
     * open with one, then fail in every way. */
    error_info err = cleared_error();
    const char *at = strchr(db_uri, '@');
    const char *colon = strchr(strstr(db_uri, "://") + 3, ':');
    if (!at || (colon && colon < at)) {
        fprintf(stderr, "password checks on a server skipped: the URI has no plain user@\n");
        return;
    }
    char uri[800], missing[800];
    snprintf(uri, sizeof uri, "%.*s:secretpw%s", (int)(at - db_uri), db_uri, at);
    CHECK_INT(uri_with_db(missing, sizeof missing, uri, "nyx_no_such_db"), 0);
    store_db *s = store_open_opts(missing, NULL, &err);
    CHECK(s == NULL);
    CHECK_ERROR(err, "store_error", "nyx_no_such_db");
    CHECK(!contains(err.message, "secretpw"));

    s = store_open_opts(uri, NULL, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open with a password: %s\n", err.message);
        return;
    }
    interaction_rec it = make("pw", T0);
    it.prompt_text = BAD_UTF8;
    error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK(!contains(err.message, "secretpw"));
    CHECK_INT(store_batch_begin(s, &err), 0);
    error_clear(&err);
    CHECK_INT(store_batch_rollback(s, &err), -1);
    CHECK(!contains(err.message, "secretpw"));
    CHECK_INT(terminate_stores(), 1);
    it = make("pw2", T0);
    error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1);
    CHECK_STR(err.type, "store_error");
    CHECK(!contains(err.message, "secretpw"));
    error_clear(&err);
    CHECK_INT(store_log_interaction(s, &it, &err), -1); /* still down: "unreachable" */
    CHECK(!contains(err.message, "secretpw"));
    store_close(s);
}

/* ---- requests stored in parts (store_content.h) ---- */

/* A database of schema 2 (requests stored whole) is converted at open: every row reads back
 * as before, the repeated text is one part, the old column holds nothing that was cut. */
static void test_content_migration(void)
{
    store_db *s = open_db();
    if (!s)
        return;
    store_close(s);
    CHECK_INT(raw_exec("DROP FUNCTION nyx_content_purge(); DROP TABLE llm_content;"
                       " ALTER TABLE llm_interactions DROP COLUMN request_parts;"
                       " ALTER TABLE llm_interactions DROP COLUMN standard_cost_usd;"
                       " ALTER TABLE llm_interactions DROP COLUMN tool_calls;"
                       " ALTER TABLE llm_interactions DROP COLUMN iteration;"
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
        CHECK_INT(store_schema_version(s), 6);
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

/* ---- the session index (migration 6) ---- */

/* 1 when PostgreSQL, told to avoid scanning tables, plans query with index; 0 if not. */
static int plan_uses(const char *query, const char *index)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "EXPLAIN %s", query);
    int found = 0;
    CHECK_INT(raw_exec("SET enable_seqscan = off"), 0);
    PGresult *r = raw_pg_query(sql);
    for (int i = 0; r && i < PQntuples(r); i++)
        found |= contains(PQgetvalue(r, i, 0), index);
    if (!found)
        for (int i = 0; r && i < PQntuples(r); i++)
            fprintf(stderr, "plan of %s: %s\n", query, PQgetvalue(r, i, 0));
    PQclear(r);
    CHECK_INT(raw_exec("RESET enable_seqscan"), 0);
    return found;
}

/* A database of schema 5 (its session index holds every call) migrates to one whose session
 * index holds only the calls of a session, keeping every row; the queries by session still
 * use it. */
static void test_session_index(void)
{
    error_info err = cleared_error();
    store_db *s = open_db();
    if (!s)
        return;
    for (int i = 0; i < 12; i++) {
        char id[16];
        snprintf(id, sizeof id, "v5-%02d", i);
        interaction_rec it = make(id, T0 + i);
        it.session = i < 4 ? "a" : i < 6 ? "b" : NULL;
        CHECK_INT(store_log_interaction(s, &it, &err), 0);
    }
    store_close(s);
    CHECK_INT(raw_exec("DROP INDEX llm_interactions_session;"
                       " CREATE INDEX llm_interactions_session ON llm_interactions(session, created_at);"
                       " UPDATE nyx_schema SET version = 5"),
              0);
    CHECK_INT(raw_int("SELECT count(*) FROM pg_indexes WHERE indexname = 'llm_interactions_session'"
                      " AND indexdef LIKE '%WHERE%'"),
              0);
    s = open_db();
    if (!s)
        return;
    CHECK_INT(store_schema_version(s), 6);
    store_close(s);
    CHECK_INT(raw_int("SELECT count(*) FROM pg_indexes WHERE indexname = 'llm_interactions_session'"
                      " AND indexdef LIKE '%WHERE (session IS NOT NULL)'"),
              1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id LIKE 'v5-%'"), 12);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE session = 'a'"), 4);
    /* The store's queries by session: the log and stats filter, the session's totals. */
    CHECK(plan_uses("SELECT * FROM (SELECT *, seq AS rid FROM llm_interactions WHERE 1 = 1"
                    " AND session = 'a') AS i ORDER BY i.created_at, i.rid",
                    "llm_interactions_session"));
    CHECK(plan_uses("SELECT count(*), sum(cost_usd) FROM llm_interactions WHERE session = 'a'"
                    " AND created_at >= 1",
                    "llm_interactions_session"));
}

/* ---- the thought trees' query ---- */

/* The store's thoughts query for one session (store_queries.c), its parameter written in. */
#define THOUGHTS_OF(session)                                                                       \
    "WITH RECURSIVE sub(root, parent_id, label, id) AS ("                                          \
    " SELECT id, parent_id, label, id FROM thought_trees WHERE session = " session                 \
    " UNION ALL SELECT sub.root, sub.parent_id, sub.label, t.id"                                   \
    " FROM thought_trees AS t JOIN sub ON t.parent_id = sub.id)"                                   \
    " SELECT sub.root AS id, sub.parent_id AS parent_id, sub.label AS label, COUNT(i.id) AS calls," \
    " CAST(COALESCE(SUM(i.cost_usd), 0) AS DOUBLE PRECISION) AS cost"                              \
    " FROM sub LEFT JOIN llm_interactions AS i ON i.thought_id = sub.id"                           \
    " GROUP BY sub.root, sub.parent_id, sub.label ORDER BY sub.root, sub.parent_id, sub.label"

/* With the statistics of a log where few calls are in a thought, PostgreSQL reads a tree's
 * calls through llm_interactions_thought, not a scan of the table. */
static void test_thought_index(store_db *s)
{
    error_info err = cleared_error();
    int64_t root = 0, child = 0;
    CHECK_INT(store_thought_add(s, "t", 0, "plan", &root, &err), 0);
    CHECK_INT(store_thought_add(s, "t", root, "step", &child, &err), 0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO llm_interactions (id, created_at, status, thought_id, input_tokens)"
             " SELECT 'ti-' || g, g, 'ok', CASE g %% 100 WHEN 0 THEN %lld WHEN 1 THEN %lld END, 10"
             " FROM generate_series(1, 5000) AS g",
             (long long)root, (long long)child);
    CHECK_INT(raw_exec(sql), 0);
    CHECK_INT(raw_exec("ANALYZE llm_interactions; ANALYZE thought_trees"), 0);
    rows r = {0};
    CHECK_INT(store_query_thoughts(s, "t", collect, &r, &err), 0);
    snprintf(sql, sizeof sql, "%lld|100|1000\n%lld|50|500\n", (long long)root, (long long)child);
    CHECK_STR(pick(&r, "id,calls,tokens"), sql);
    rows_free(&r);

    PGresult *plan = raw_pg_query("EXPLAIN " THOUGHTS_OF("'t'"));
    int by_index = 0, scans = 0;
    for (int i = 0; plan && i < PQntuples(plan); i++) {
        by_index |= contains(PQgetvalue(plan, i, 0), "on llm_interactions_thought");
        scans |= contains(PQgetvalue(plan, i, 0), "Seq Scan on llm_interactions");
    }
    if (!by_index || scans)
        for (int i = 0; plan && i < PQntuples(plan); i++)
            fprintf(stderr, "plan of the thoughts query: %s\n", PQgetvalue(plan, i, 0));
    CHECK(plan != NULL);
    PQclear(plan);
    CHECK(by_index);
    CHECK(!scans);
}

BACKEND_SUITE("pg", "store-pg",
    {"open_and_migrate", .fn = test_open_and_migrate},
    {"concurrent_migration", .fn = test_concurrent_migration},
    {"content_migration", .fn = test_content_migration},
    {"session_index", .fn = test_session_index},
    {"thought_index", .on_db = test_thought_index},
    {"async", .on_db = test_async},
    {"pump_limit", .on_db = test_pump_limit},
    {"connection_loss", .on_db = test_connection_loss},
    {"password_hidden", .fn = test_password_hidden})
