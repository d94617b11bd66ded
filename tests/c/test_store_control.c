/* engine/store control flags (the emergency stop), change polling across connections and
 * processes, the audit trail, and configuration in the database. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "store_fixture.h"
#include "store/store.h"
#include "store/store_sqlite.h"



/* ---- rows as text: "v1|v2|...\n" per row, skipping the columns named in skip ---- */

typedef struct text {
    char s[4096];
    size_t n;
    const char *skip; /* ",updated_at,created_at," */
    int stop_after;   /* > 0: stop the query after this many rows */
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
        put(t, values[c] ? values[c] : "NULL");
        first = 0;
    }
    put(t, "\n");
    return t->stop_after > 0 && ++t->rows >= t->stop_after;
}

static nyx_store *open_path(const char *path)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(path, &err);
    if (!s)
        fprintf(stderr, "open %s: %s\n", path, err.message);
    CHECK(s != NULL);
    return s;
}

static int changed(nyx_store *s)
{
    int c = -1;
    nyx_error err;
    nyx_error_clear(&err);
    if (store_changed(s, &c, &err) != 0) {
        fprintf(stderr, "store_changed: %s\n", err.message);
        return -1;
    }
    return c;
}

/* ---- control flags ---- */

static void test_control(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/control.db", tmpdir);
    nyx_store *s = open_path(path);
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    char *v = (char *)"untouched";

    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK(v == NULL);
    CHECK_INT(store_control_set(s, "stop", "budget runaway", &err), 0);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "budget runaway");
    free(v);
    CHECK_INT(store_control_set(s, "stop", "", &err), 0); /* empty is a value, not absence */
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "");
    free(v);
    CHECK_INT(store_control_set(s, "stop", NULL, &err), 0);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK(v == NULL);
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

    /* store_changed: 1 on the first call, then only for other connections' commits. */
    nyx_store *other = open_path(path);
    if (!other) {
        store_close(s);
        return;
    }
    CHECK_INT(changed(s), 1);
    CHECK_INT(changed(s), 0);
    CHECK_INT(store_control_set(s, "mine", "1", &err), 0); /* its own write */
    CHECK_INT(changed(s), 0);
    CHECK_INT(store_control_set(other, "stop", "operator", &err), 0);
    CHECK_INT(changed(s), 1);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "operator");
    free(v);
    CHECK_INT(changed(s), 0);
    CHECK_INT(changed(s), 0);
    /* Any committed write counts; a rolled-back one does not. */
    CHECK_INT(store_batch_begin(other, &err), 0);
    CHECK_INT(store_control_set(other, "x", "1", &err), 0);
    CHECK_INT(store_batch_rollback(other, &err), 0);
    CHECK_INT(changed(s), 0);
    CHECK_INT(store_audit(other, "stop", NULL, NULL, "operator", &err), 0);
    CHECK_INT(changed(s), 1);

    store_close(other);
    /* Polling with nothing written: never a change (bench_budget measures its cost). */
    int spurious = 0;
    for (int i = 0; i < 200; i++)
        spurious += changed(s) != 0;
    CHECK_INT(spurious, 0);
    store_close(s);
}

/* Another process (as `nyx stop` would) sets the flag while this one polls. The child is
 * forked before this process opens the file: SQLite's lock bookkeeping must not cross
 * fork() (store.h). */
static void test_changed_across_processes(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/stop.db", tmpdir);
    int go[2];
    CHECK_INT(pipe(go), 0);
    fflush(NULL);
    pid_t kid = fork();
    if (kid == 0) {
        char byte;
        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(2);
        nyx_error e;
        nyx_store *c = store_open(path, &e);
        int rc = c ? store_control_set(c, "stop", "from another process", &e) : -1;
        store_close(c);
        _exit(rc == 0 ? 0 : 1);
    }
    close(go[0]);
    nyx_store *s = open_path(path);
    if (s) {
        nyx_error err;
        nyx_error_clear(&err);
        char *v = NULL;
        CHECK_INT(changed(s), 1);
        CHECK_INT(changed(s), 0);
        CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
        CHECK(v == NULL);
    }
    CHECK_INT(write(go[1], "g", 1), 1);
    close(go[1]);
    int st = -1;
    CHECK_INT(waitpid(kid, &st, 0), kid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!s)
        return;
    nyx_error err;
    nyx_error_clear(&err);
    char *v = NULL;
    CHECK_INT(changed(s), 1);
    CHECK_INT(store_control_get(s, "stop", &v, &err), 0);
    CHECK_STR(v, "from another process");
    free(v);
    CHECK_INT(changed(s), 0);
    store_close(s);
}

/* ---- audit trail ---- */

static void test_audit(void)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(":memory:", &err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(store_audit(s, "config", NULL, NULL, "{\"db\":\"nyx.db\"}", &err), 0);
    CHECK_INT(store_audit(s, "budget_refused", "s1", "analyst", "session:s1 limit $1.00", &err),
              0);
    CHECK_INT(store_audit(s, "prompt_blocked", "s2", "writer", NULL, &err), 0);
    CHECK_INT(store_audit(s, "stop", "s1", NULL, "operator", &err), 0);
    /* Pin the times: two events one hour earlier, so since and the order are exact. */
    CHECK_INT(sqlite3_exec(store_sqlite_db(s),
                           "UPDATE audit_events SET created_at = 1764064800.5 WHERE id <= 2;"
                           " UPDATE audit_events SET created_at = 1764068400.25 WHERE id > 2",
                           NULL, NULL, NULL),
              SQLITE_OK);

    text t = {0};
    CHECK_INT(store_query_audit(s, NULL, to_text, &t, &err), 0);
    CHECK_STR(t.s, "1|2025-11-25T10:00:00.500Z|config|NULL|NULL|{\"db\":\"nyx.db\"}\n"
                   "2|2025-11-25T10:00:00.500Z|budget_refused|s1|analyst|session:s1 limit $1.00\n"
                   "3|2025-11-25T11:00:00.250Z|prompt_blocked|s2|writer|NULL\n"
                   "4|2025-11-25T11:00:00.250Z|stop|s1|NULL|operator\n");

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
    store_close(s);
}

/* ---- configuration ---- */

static void test_config(void)
{
    nyx_error err;
    nyx_error_clear(&err);
    nyx_store *s = store_open(":memory:", &err);
    CHECK(s != NULL);
    if (!s)
        return;
    char *v = NULL;
    CHECK_INT(store_config_get(s, "cache.persistent_ttl_s", &v, &err), 0);
    CHECK(v == NULL);
    CHECK_INT(store_config_set(s, "cache.persistent_ttl_s", "86400", &err), 0);
    CHECK_INT(store_config_set(s, "budget.daily_usd", "25", &err), 0);
    CHECK_INT(store_config_set(s, "alerts.latency_ms", "5000", &err), 0);
    CHECK_INT(store_config_set(s, "budget.daily_usd", "30", &err), 0); /* replaced */
    CHECK_INT(store_config_get(s, "budget.daily_usd", &v, &err), 0);
    CHECK_STR(v, "30");
    free(v);

    text t = {.skip = ",updated_at,"};
    CHECK_INT(store_config_list(s, to_text, &t, &err), 0);
    CHECK_STR(t.s, "alerts.latency_ms|5000\n"
                   "budget.daily_usd|30\n"
                   "cache.persistent_ttl_s|86400\n");
    /* updated_at is an ISO time. */
    memset(&t, 0, sizeof t);
    t.skip = ",key,value,";
    t.stop_after = 1;
    CHECK_INT(store_config_list(s, to_text, &t, &err), 1);
    CHECK(strlen(t.s) == strlen("2026-11-25T10:00:00.000Z\n") && t.s[10] == 'T' &&
          t.s[23] == 'Z');

    CHECK_INT(store_config_set(s, "alerts.latency_ms", NULL, &err), 0);
    CHECK_INT(store_config_get(s, "alerts.latency_ms", &v, &err), 0);
    CHECK(v == NULL);
    /* Control flags and configuration are separate. */
    CHECK_INT(store_control_get(s, "budget.daily_usd", &v, &err), 0);
    CHECK(v == NULL);

    CHECK_INT(store_config_set(s, "", "1", &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_config_get(s, "k", NULL, &err), -1);
    CHECK_INT(store_config_list(s, NULL, NULL, &err), -1);

    /* A read-only database: reads work, a write is a clear store_error. */
    store_close(s);
    char path[300];
    snprintf(path, sizeof path, "%s/ro.db", tmpdir);
    s = open_path(path);
    if (!s)
        return;
    CHECK_INT(store_config_set(s, "k", "v", &err), 0);
    store_close(s);
    char uri[400];
    snprintf(uri, sizeof uri, "file:%s?mode=ro", path);
    s = store_open(uri, &err);
    CHECK(s != NULL);
    if (!s)
        return;
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
}

int main(void)
{
    if (fixture_begin("store-control") != 0)
        return 1;
    test_control();
    test_changed_across_processes();
    test_audit();
    test_config();

    fixture_end();
    CHECK_DONE();
}
