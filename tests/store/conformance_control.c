/* engine/store control flags (the emergency stop), hearing of changes made by other
 * connections and processes, the audit trail, and configuration in the database, on each
 * backend. */
#include "conformance.h"

static int changed(store_db *s)
{
    int c = -1;
    error_info err = cleared_error();
    if (store_changed(s, &c, &err) != 0) {
        fprintf(stderr, "store_changed: %s\n", err.message);
        return -1;
    }
    return c;
}

/* Pumps s for up to ms milliseconds, until store_changed says 1; returns what it said last.
 * (A notification reaches a PostgreSQL store through its connection; SQLite's answer is at
 * once.) */
static int changed_within(store_db *s, int ms)
{
    double end = clock_now_s() + ms / 1000.0;
    do {
        store_pump(s);
        int c = changed(s);
        if (c != 0)
            return c;
        sleep_ms(10);
    } while (clock_now_s() < end);
    return 0;
}

static void test_control(void)
{
    /* Another process (as `nyx stop` would) sets the flag while this one polls: forked
     * first, so no store of this process is copied into it (SQLite's locks must not cross
     * fork(), store.h), and started at a signal. */
    int go[2];
    CHECK_INT(pipe(go), 0);
    raw_close();
    fflush(NULL);
    pid_t kid = fork();
    if (kid == 0) {
        char byte;
        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(2);
        error_info e;
        store_db *c = store_open_opts(db_uri, NULL, &e);
        int rc = c ? store_control_set(c, "stop", "from another process", &e) : -1;
        store_close(c);
        _exit(rc == 0 ? 0 : 1);
    }
    close(go[0]);
    store_db *s = open_db();
    if (!s) {
        close(go[1]);
        waitpid(kid, NULL, 0);
        return;
    }
    error_info err = cleared_error();
    char *v = (char *)"untouched";

    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK(v == NULL);
    CHECK_INT(store_control_set(s, "stop", "budget runaway", &err), 0);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "budget runaway");
    free(v);
    CHECK_INT(raw_int("SELECT count(*) FROM control WHERE key = 'stop' AND"
                      " value = 'budget runaway'"),
              1);
    CHECK_INT(store_control_set(s, "stop", "", &err), 0); /* empty is a value, not absence */
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "");
    free(v);
    CHECK_INT(store_control_set(s, "stop", NULL, &err), 0);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK(v == NULL);
    CHECK_INT(raw_int("SELECT count(*) FROM control"), 0);
    CHECK_INT(store_control_set(s, "never-set", NULL, &err), 0); /* deleting nothing is fine */

    /* Bad arguments. */
    CHECK_INT(store_control_set(s, "", "x", &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_control_set(NULL, "stop", "x", &err), -1);
    v = (char *)"untouched";
    CHECK_INT(store_control_get(s, NULL, &v, &err), -1);
    CHECK(v == NULL);
    CHECK_INT(store_control_get(s, "stop", NULL, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_changed(s, NULL, &err), -1);

    /* store_changed: 1 on the first call, then 0 until another connection writes. */
    store_db *other = open_db();
    if (!other) {
        store_close(s);
        close(go[1]);
        waitpid(kid, NULL, 0);
        return;
    }
    CHECK_INT(changed(s), 1);
    CHECK_INT(changed(s), 0);
    /* Where the backends differ by design: SQLite's store hears of every commit of another
     * connection, to any table, and never of its own (the file's data version); PostgreSQL's
     * hears the notifications that control and configuration writes send, its own included
     * (store_pg_changed), and no other table's writes. Either way a flag set anywhere is
     * heard. */
    CHECK_INT(store_control_set(s, "mine", "1", &err), 0);
    if (is_pg)
        CHECK_INT(changed_within(s, 1000), 1);
    CHECK_INT(changed(s), 0);
    CHECK_INT(changed(other), 1);
    CHECK_INT(changed(other), 0);

    CHECK_INT(store_control_set(other, "stop", "operator", &err), 0);
    CHECK_INT(changed_within(s, 1000), 1);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "operator");
    free(v);
    CHECK_INT(changed(s), 0);
    CHECK_INT(changed(s), 0);

    /* Configuration is news too; deleting a flag is. */
    CHECK_INT(store_config_set(other, "budget.daily_usd", "5", &err), 0);
    CHECK_INT(changed_within(s, 1000), 1);
    CHECK_INT(store_control_set(other, "stop", NULL, &err), 0);
    CHECK_INT(changed_within(s, 1000), 1);
    if (is_pg) {
        /* Writes to other tables are not (the engine looks at the flags only on news). */
        CHECK_INT(store_audit(other, "stop", NULL, NULL, "operator", &err), 0);
        interaction_rec it = make("quiet", T0);
        CHECK_INT(store_log_interaction(other, &it, &err), 0);
        CHECK_INT(changed_within(s, 300), 0);
    } else {
        /* Any committed write counts; a rolled-back one does not. (A PostgreSQL batch is
         * pipelined, not one transaction: it has no rollback.) */
        CHECK_INT(store_batch_begin(other, &err), 0);
        CHECK_INT(store_control_set(other, "x", "1", &err), 0);
        CHECK_INT(store_batch_rollback(other, &err), 0);
        CHECK_INT(changed(s), 0);
        CHECK_INT(store_audit(other, "stop", NULL, NULL, "operator", &err), 0);
        CHECK_INT(changed(s), 1);
    }
    store_close(other);

    /* Polling with nothing written: never a change (bench_budget measures its cost). */
    int spurious = 0;
    for (int i = 0; i < 200; i++) {
        store_pump(s);
        spurious += changed(s) != 0;
    }
    CHECK_INT(spurious, 0);

    /* Now the other process. */
    CHECK_INT(write(go[1], "g", 1), 1);
    close(go[1]);
    int st = -1;
    CHECK_INT(waitpid(kid, &st, 0), kid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_INT(changed_within(s, 1000), 1);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "from another process");
    free(v);
    CHECK_INT(changed(s), 0);
    store_close(s);
}

/* ---- audit trail ---- */

static void test_audit(store_db *s)
{
    error_info err = cleared_error();
    CHECK_INT(store_audit(s, "config", NULL, NULL, "{\"db\":\"nyx.db\"}", &err), 0);
    CHECK_INT(store_audit(s, "budget_refused", "s1", "analyst", "session:s1 limit $1.00", &err),
              0);
    CHECK_INT(store_audit(s, "prompt_blocked", "s2", "writer", NULL, &err), 0);
    CHECK_INT(store_audit(s, "stop", "s1", NULL, "operator", &err), 0);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_events WHERE abs(created_at - %s) < 60", SQL_NOW);
    CHECK_INT(raw_int(sql), 4);
    /* Pin the times: two events one hour earlier, so since and the order are exact. */
    CHECK_INT(raw_exec("UPDATE audit_events SET created_at = 1764064800.5 WHERE id <= 2;"
                       " UPDATE audit_events SET created_at = 1764068400.25 WHERE id > 2"),
              0);

    rowtext t = {0};
    CHECK_INT(store_query_audit(s, NULL, to_text, &t, &err), 0);
    CHECK_STR(t.s, "1|2025-11-25T10:00:00.500Z|config|NULL|NULL|{\"db\":\"nyx.db\"}\n"
                   "2|2025-11-25T10:00:00.500Z|budget_refused|s1|analyst|session:s1 limit $1.00\n"
                   "3|2025-11-25T11:00:00.250Z|prompt_blocked|s2|writer|NULL\n"
                   "4|2025-11-25T11:00:00.250Z|stop|s1|NULL|operator\n");
    rows r = {0};
    CHECK_INT(store_query_audit(s, NULL, collect, &r, &err), 0);
    CHECK_STR(colnames(&r), "id,created_at,kind,session,agent,detail");
    rows_free(&r);

    /* The newest N, shown oldest first. */
    memset(&t, 0, sizeof t);
    t.skip = ",created_at,";
    store_filter f = {.last = 3};
    CHECK_INT(store_query_audit(s, &f, to_text, &t, &err), 0);
    CHECK_STR(t.s, "2|budget_refused|s1|analyst|session:s1 limit $1.00\n"
                   "3|prompt_blocked|s2|writer|NULL\n"
                   "4|stop|s1|NULL|operator\n");
    memset(&t, 0, sizeof t);
    t.skip = ",created_at,";
    f = (store_filter){.session = "s1"};
    CHECK_INT(store_query_audit(s, &f, to_text, &t, &err), 0);
    CHECK_STR(t.s, "2|budget_refused|s1|analyst|session:s1 limit $1.00\n"
                   "4|stop|s1|NULL|operator\n");
    memset(&t, 0, sizeof t);
    t.skip = ",created_at,";
    f = (store_filter){.since = 1764068400.0, .last = 1};
    CHECK_INT(store_query_audit(s, &f, to_text, &t, &err), 0);
    CHECK_STR(t.s, "4|stop|s1|NULL|operator\n");
    /* The callback can stop it. */
    memset(&t, 0, sizeof t);
    t.skip = ",created_at,detail,";
    t.stop_after = 1;
    CHECK_INT(store_query_audit(s, NULL, to_text, &t, &err), 1);
    CHECK_STR(t.s, "1|config|NULL|NULL\n");

    CHECK_INT(store_audit(s, "", NULL, NULL, NULL, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_audit(s, NULL, NULL, NULL, NULL, &err), -1);
    f = (store_filter){.last = -1};
    CHECK_INT(store_query_audit(s, &f, to_text, &t, &err), -1);
    CHECK_INT(store_query_audit(s, NULL, NULL, NULL, &err), -1);
    CHECK_INT(raw_int("SELECT count(*) FROM audit_events"), 4);
}

/* ---- configuration ---- */

static void test_config(store_db *s)
{
    error_info err = cleared_error();
    char *v = NULL;
    CHECK_INT(stored_config(s, "cache.persistent_ttl_s", &v, &err), 0);
    CHECK(v == NULL);
    CHECK_INT(store_config_set(s, "cache.persistent_ttl_s", "86400", &err), 0);
    CHECK_INT(store_config_set(s, "budget.daily_usd", "25", &err), 0);
    CHECK_INT(store_config_set(s, "alerts.latency_ms", "5000", &err), 0);
    CHECK_INT(store_config_set(s, "budget.daily_usd", "30", &err), 0); /* replaced */
    CHECK_INT(stored_config(s, "budget.daily_usd", &v, &err), 0);
    CHECK_STR(v, "30");
    free(v);
    CHECK_INT(raw_int("SELECT count(*) FROM system_config"), 3);

    rowtext t = {.skip = ",updated_at,"};
    CHECK_INT(store_config_list(s, to_text, &t, &err), 0);
    CHECK_STR(t.s, "alerts.latency_ms|5000\n"
                   "budget.daily_usd|30\n"
                   "cache.persistent_ttl_s|86400\n");
    /* Bytewise order: upper case before lower. */
    CHECK_INT(store_config_set(s, "Zeta", "z", &err), 0);
    memset(&t, 0, sizeof t);
    t.skip = ",value,updated_at,";
    CHECK_INT(store_config_list(s, to_text, &t, &err), 0);
    CHECK_STR(t.s, "Zeta\nalerts.latency_ms\nbudget.daily_usd\ncache.persistent_ttl_s\n");
    CHECK_INT(store_config_set(s, "Zeta", NULL, &err), 0);
    /* updated_at is an ISO time. */
    memset(&t, 0, sizeof t);
    t.skip = ",key,value,";
    t.stop_after = 1;
    CHECK_INT(store_config_list(s, to_text, &t, &err), 1);
    CHECK(strlen(t.s) == strlen("2026-11-25T10:00:00.000Z\n") && t.s[10] == 'T' &&
          t.s[23] == 'Z');

    CHECK_INT(store_config_set(s, "alerts.latency_ms", NULL, &err), 0);
    CHECK_INT(stored_config(s, "alerts.latency_ms", &v, &err), 0);
    CHECK(v == NULL);
    /* Control flags and configuration are separate. */
    CHECK_INT(store_control_get(s, "budget.daily_usd", &v, &err), 0);
    CHECK(v == NULL);
    /* Values round-trip as given. */
    const char *odd = "it's \"x\" \\ h\xc3\xa9 {\"json\": [1, 2]}";
    CHECK_INT(store_config_set(s, "odd", odd, &err), 0);
    CHECK_INT(stored_config(s, "odd", &v, &err), 0);
    CHECK_STR(v, odd);
    free(v);

    CHECK_INT(store_config_set(s, "", "1", &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_config_list(s, NULL, NULL, &err), -1);
}

CONFORMANCE_SUITE("store-control",
    {"control", .fn = test_control},
    {"audit", .on_db = test_audit},
    {"config", .on_db = test_config})
