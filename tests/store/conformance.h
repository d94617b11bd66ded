/* The store conformance suite: every behaviour of engine/store that a caller sees through
 * store.h, written once and run against each backend. A suite program takes the backend as
 * its argument (or NYX_TEST_STORE): "sqlite" runs every case on a new file in a scratch
 * directory, "pg" on a new database of the server whose URI is in the file NYX_TEST_PG names
 * (ctest's pg/start fixture writes it; or tests/pg/cluster.sh start DIR).
 *
 * Checks that read the database behind the store's back (raw_int, raw_text, raw_exec) go
 * through a connection of the test's own, so they see what is committed, as another process
 * would. Where the backends differ by design, a case asks is_pg and says why, there. */
#ifndef NYX_TEST_CONFORMANCE_H
#define NYX_TEST_CONFORMANCE_H
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef NYX_HAVE_PG
#include <libpq-fe.h>
#endif

#include "check.h"
#include "base/clock.h"
#include "base/text.h"
#include "store/store.h"
#include "store/store_sqlite.h"

#define T0 1764064800.0   /* 2025-11-25T10:00:00Z */
#define TEST_TIMEOUT_S 120 /* a case that hangs is killed by SIGALRM: a failure, not a stall */

static int is_pg;          /* 1: the cases run against PostgreSQL */
static char scratch[256];  /* SQLite: the scratch directory, removed when every check passed */
static char base_uri[512]; /* PostgreSQL: the server, as NYX_TEST_PG's file gives it */
static char db_name[64];   /* the current case's database (PostgreSQL) or file name */
static char db_uri[700];   /* what store_open_opts() takes for the current case */
static sqlite3 *raw_lite;  /* the case's own connection, opened on first use */
#ifdef NYX_HAVE_PG
static PGconn *raw_pg;
#endif

/* The one place a check's SQL differs between the dialects: sqlite's text or pg's. */
static inline const char *dialect(const char *sqlite, const char *pg)
{
    return is_pg ? pg : sqlite;
}

/* The wall clock in seconds since the epoch, as an SQL expression. */
#define SQL_NOW dialect("CAST(strftime('%s','now') AS REAL)", "extract(epoch FROM now())")

static inline int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the case's own connection ---- */

static inline void raw_close(void)
{
    sqlite3_close(raw_lite);
    raw_lite = NULL;
#ifdef NYX_HAVE_PG
    PQfinish(raw_pg);
    raw_pg = NULL;
#endif
}

#ifdef NYX_HAVE_PG
static inline int admin_exec(const char *sql)
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

/* out = uri with the database (the path) replaced by db, any "?query" kept. */
static inline int uri_with_db(char *out, size_t n, const char *uri, const char *db)
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

/* Runs sql on the case's connection; the result (PQclear it) or NULL after saying why. */
static inline PGresult *raw_pg_query(const char *sql)
{
    if (!raw_pg || PQstatus(raw_pg) != CONNECTION_OK) {
        PQfinish(raw_pg);
        raw_pg = PQconnectdb(db_uri);
        if (PQstatus(raw_pg) != CONNECTION_OK) {
            fprintf(stderr, "raw connection: %s", PQerrorMessage(raw_pg));
            PQfinish(raw_pg);
            raw_pg = NULL;
            return NULL;
        }
    }
    PGresult *r = PQexec(raw_pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "raw(%s): %s", sql, PQerrorMessage(raw_pg));
        PQclear(r);
        return NULL;
    }
    return r;
}
#endif

static inline sqlite3 *raw_lite_db(void)
{
    if (!raw_lite) {
        if (sqlite3_open_v2(db_uri, &raw_lite, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
            fprintf(stderr, "raw connection %s: %s\n", db_uri, sqlite3_errmsg(raw_lite));
            sqlite3_close(raw_lite);
            raw_lite = NULL;
            return NULL;
        }
        sqlite3_busy_timeout(raw_lite, 10000);
    }
    return raw_lite;
}

/* Runs a statement that returns no rows; 0, or -1 after saying why. */
static inline int raw_exec(const char *sql)
{
#ifdef NYX_HAVE_PG
    if (is_pg) {
        PGresult *r = raw_pg_query(sql);
        PQclear(r);
        return r ? 0 : -1;
    }
#endif
    sqlite3 *db = raw_lite_db();
    char *msg = NULL;
    if (!db || sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "raw(%s): %s\n", sql, msg ? msg : "no connection");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* SQLite: sql prepared and stepped on the case's connection; SQLITE_ROW, SQLITE_DONE, or an
 * error said on stderr. The caller finalizes *st. */
static inline int raw_lite_step(const char *sql, sqlite3_stmt **st)
{
    sqlite3 *db = raw_lite_db();
    *st = NULL;
    int rc = db ? sqlite3_prepare_v2(db, sql, -1, st, NULL) : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(*st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        fprintf(stderr, "raw(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "no connection");
    return rc;
}

/* The first cell of sql's first row as text in buf: "(NULL)", or "(error)" / "(no row)". */
static inline const char *raw_text(const char *sql, char *buf, size_t n)
{
    snprintf(buf, n, "(error)");
#ifdef NYX_HAVE_PG
    if (is_pg) {
        PGresult *r = raw_pg_query(sql);
        if (r && PQntuples(r) == 0)
            snprintf(buf, n, "(no row)");
        else if (r && PQgetisnull(r, 0, 0))
            snprintf(buf, n, "(NULL)");
        else if (r)
            snprintf(buf, n, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        return buf;
    }
#endif
    sqlite3_stmt *st;
    int rc = raw_lite_step(sql, &st);
    if (rc == SQLITE_DONE)
        snprintf(buf, n, "(no row)");
    else if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL)
        snprintf(buf, n, "(NULL)");
    else if (rc == SQLITE_ROW)
        snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return buf;
}

/* The first cell as a number, read as the database holds it (SQLite's text of a real has
 * only 15 digits): -1 on error or no row, -2 for NULL. */
static inline double raw_real(const char *sql)
{
    if (is_pg) {
        char b[64];
        raw_text(sql, b, sizeof b);
        if (strcmp(b, "(NULL)") == 0)
            return -2;
        return b[0] == '(' ? -1 : strtod(b, NULL);
    }
    sqlite3_stmt *st;
    double v = -1;
    if (raw_lite_step(sql, &st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static inline long long raw_int(const char *sql)
{
    return (long long)raw_real(sql);
}

/* SQLite only: the first cell of sql on the store's own connection (it sees the store's open
 * transaction, and an in-memory database), or -1. */
static inline long long count_rows(store_db *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(store_sqlite_db(s), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---- opening the case's store ---- */

static inline store_db *open_db(void)
{
    error_info err = cleared_error();
    store_db *s = store_open_opts(db_uri, NULL, &err);
    if (!s)
        fprintf(stderr, "open %s: %s\n", db_name, err.message);
    CHECK(s != NULL);
    return s;
}

/* What an asynchronous operation's done was given, and how often it was called. */
typedef struct done_rec {
    int calls, rc, refused, visible;
    char type[40], message[512];
    char check_sql[300]; /* run inside done on the test's own connection, when set */
} done_rec;

static inline void on_done(void *ud, int rc, int refused, const error_info *err)
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

/* Pumps s in a poll() loop until nothing is pending; 0, or -1 after timeout_s. */
static inline int drive(store_db *s, double timeout_s)
{
    double end = clock_now_s() + timeout_s;
    while (store_busy(s) > 0) {
        if (clock_now_s() > end)
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

/* An interaction with the required fields, the rest unknown. */
static inline interaction_rec make(const char *id, double t)
{
    interaction_rec it;
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

/* A result of batch nb_1 (its request custom_id) at a known cost, as a batch pickup logs it. */
static inline interaction_rec batch_result(const char *id, const char *custom_id, double cost)
{
    interaction_rec it = make(id, 0);
    it.provider = NULL;
    it.has_cost = 1;
    it.cost_usd = cost;
    it.service_tier = "batch";
    it.batch_id = "nb_1";
    it.custom_id = custom_id;
    return it;
}

/* ---- collecting query rows ---- */

#define MAX_ROWS 64
#define MAX_COLS 24

typedef struct rows {
    int n, ncols;
    char *names[MAX_COLS];
    char *v[MAX_ROWS][MAX_COLS];
    int stop_after; /* > 0: ask the query to stop after this many rows */
} rows;

static inline int collect(void *ud, int ncols, const char *const *names,
                          const char *const *values,
                          const char *types)
{
    (void)types;
    rows *r = ud;
    if (r->n >= MAX_ROWS || ncols > MAX_COLS)
        return -1;
    if (r->n == 0) {
        r->ncols = ncols;
        for (int c = 0; c < ncols; c++)
            r->names[c] = text_dup(names[c]);
    }
    for (int c = 0; c < ncols; c++)
        r->v[r->n][c] = text_dup(values[c]);
    r->n++;
    return r->stop_after > 0 && r->n >= r->stop_after;
}

static inline void rows_free(rows *r)
{
    for (int c = 0; c < r->ncols; c++)
        free(r->names[c]);
    for (int i = 0; i < r->n; i++)
        for (int c = 0; c < r->ncols; c++)
            free(r->v[i][c]);
    memset(r, 0, sizeof *r);
}

/* The value in row i of column name; "(no such cell)" when absent, so checks fail loudly. */
static inline const char *cell(const rows *r, int i, const char *name)
{
    if (i >= r->n)
        return "(no such row)";
    for (int c = 0; c < r->ncols; c++)
        if (strcmp(r->names[c], name) == 0)
            return r->v[i][c];
    return "(no such column)";
}

static inline double num(const rows *r, int i, const char *name)
{
    const char *v = cell(r, i, name);
    return v ? strtod(v, NULL) : -999.0;
}

/* The named columns ("a,b") of every row as text, "v|v\n" a row, NULL as "NULL"; a
 * column the rows lack as "?". The text lives until the next call. */
static inline const char *pick(const rows *r, const char *cols)
{
    static char out[4096];
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < r->n; i++) {
        const char *c = cols;
        while (*c) {
            size_t len = strcspn(c, ",");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)len, c);
            const char *v = cell(r, i, name);
            if (v && strncmp(v, "(no such", 8) == 0)
                v = "?";
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", c == cols ? "" : "|",
                                  v ? v : "NULL");
            c += len + (c[len] == ',');
            if (n >= sizeof out)
                return out;
        }
        n += (size_t)snprintf(out + n, sizeof out - n, "\n");
    }
    return out;
}

/* A query of store.h's shape (store_query_stats, _log, _usage). */
typedef int (*store_query_fn)(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                              error_info *err);

/* What query gives for filter f, its columns cols as pick() writes them, or "error: ...".
 * The text lives until the next call. */
static inline const char *picked(store_db *s, store_query_fn query, const store_filter *f,
                                 const char *cols)
{
    static char out[4096];
    rows r = {0};
    error_info err = cleared_error();
    if (query(s, f, collect, &r, &err) != 0)
        snprintf(out, sizeof out, "error: %s", err.message);
    else
        snprintf(out, sizeof out, "%s", pick(&r, cols));
    rows_free(&r);
    return out;
}

/* The column names, "a,b,c". */
static inline const char *colnames(const rows *r)
{
    static char out[1024];
    size_t n = 0;
    out[0] = '\0';
    for (int c = 0; c < r->ncols && n < sizeof out; c++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", c ? "," : "", r->names[c]);
    return out;
}

/* The row whose first column equals key, or -1. */
static inline int find_row(const rows *r, const char *key)
{
    for (int i = 0; i < r->n; i++)
        if (r->v[i][0] && key && strcmp(r->v[i][0], key) == 0)
            return i;
    return -1;
}

/* The request the exchange query (`nyx log --raw`) reads back for id is want, in the 13
 * columns store.h names (nothing of how it is stored); line says which check failed. */
static inline void check_request(store_db *s, const char *id, const char *want, int line)
{
    rows r = {0};
    error_info err = cleared_error();
    int rc = store_query_exchange(s, id, collect, &r, &err);
    const char *got = r.n == 1 ? cell(&r, 0, "request") : NULL;
    if (rc != 0 || r.n != 1 || !got || strcmp(got, want) != 0 || r.ncols != 13) {
        fprintf(stderr, "line %d: %s reads back %s in %d columns (%s)\n", line, id,
                got ? "other text" : "no request", r.ncols, rc ? err.message : "");
        check_failures++;
    }
    rows_free(&r);
}

/* ---- rows as text: "v1|v2|...\n" per row, skipping the columns named in skip ---- */

typedef struct rowtext {
    char s[8192];
    size_t n;
    const char *skip; /* ",updated_at,created_at," */
    int numbers;      /* 1: a number is written "%.15g", whatever text the backend gave */
    int stop_after;
    int rows;
} rowtext;

static inline void put(rowtext *t, const char *v)
{
    size_t k = strlen(v);
    if (t->n + k < sizeof t->s) {
        memcpy(t->s + t->n, v, k + 1);
        t->n += k;
    }
}

static inline int to_text(void *ud, int ncols, const char *const *names,
                          const char *const *values,
                          const char *types)
{
    (void)types;
    rowtext *t = ud;
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
    t->rows++;
    return t->stop_after > 0 && t->rows >= t->stop_after;
}

/* to_text for a host's rows (nyx_query's nyx_row_fn, text only). */
static inline int host_text(void *ud, int ncols, const char *const *names, const char *const *values)
{
    return to_text(ud, ncols, names, values, NULL);
}

/* ---- a configuration key, read as the engine reads them all (store_config_list) ---- */

typedef struct config_pick {
    const char *key;
    char *value;
    int oom;
} config_pick;

static inline int pick_config(void *ud, int ncols, const char *const *names, const char *const *values,
                              const char *types)
{
    (void)types;
    config_pick *p = ud;
    const char *key = NULL, *value = NULL;
    for (int c = 0; c < ncols; c++) {
        if (strcmp(names[c], "key") == 0)
            key = values[c];
        else if (strcmp(names[c], "value") == 0)
            value = values[c];
    }
    if (key && value && strcmp(key, p->key) == 0 && !p->value && !(p->value = strdup(value)))
        p->oom = 1;
    return 0;
}

/* 0 with *value malloc'd, or NULL when key is absent; -1 with err. */
static inline int stored_config(store_db *s, const char *key, char **value, error_info *err)
{
    config_pick p = {key, NULL, 0};
    *value = NULL;
    if (store_config_list(s, pick_config, &p, err) != 0 || p.oom) {
        free(p.value);
        return -1;
    }
    *value = p.value;
    return 0;
}

/* ---- running the cases ---- */

/* A case is either on_db, given the store of its new database (opened before it, closed
 * after it), or fn, which opens what it needs itself: twice, after a fork, or around a close
 * it checks. Each is named: {"name", .on_db = test_x} or {"name", .fn = test_y}. */
typedef struct conformance_case {
    const char *name;
    void (*fn)(void);
    void (*on_db)(store_db *s);
} conformance_case;

static inline int read_base_uri(void)
{
    const char *file = getenv("NYX_TEST_PG");
    if (!file || !*file) {
        fprintf(stderr, "NYX_TEST_PG must name a file holding the server's URI (ctest's"
                        " pg/start writes one; or tests/pg/cluster.sh start DIR)\n");
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

/* A new database for the next case: a file in the scratch directory, or a PostgreSQL
 * database of its own. */
static inline int db_begin(void)
{
    static int n;
    snprintf(db_name, sizeof db_name, "nyx_t_%d_%d", (int)getpid(), ++n);
    if (!is_pg)
        return snprintf(db_uri, sizeof db_uri, "%s/%s.db", scratch, db_name) <
                       (int)sizeof db_uri
                   ? 0
                   : -1;
#ifdef NYX_HAVE_PG
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
    if (admin_exec(sql) != 0 || uri_with_db(db_uri, sizeof db_uri, base_uri, db_name) != 0)
        return -1;
#endif
    return 0;
}

static inline void db_end(void)
{
    raw_close();
#ifdef NYX_HAVE_PG
    if (is_pg) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
        if (admin_exec(sql) != 0)
            fprintf(stderr, "could not drop %s\n", db_name);
    }
#endif
}

/* Runs every case on the backend named by argv[1] or NYX_TEST_STORE; the exit status is the
 * number of failed checks. */
static inline int conformance_main(int argc, char **argv, const char *suite,
                                   const conformance_case *cases)
{
    const char *backend = argc > 1 ? argv[1] : getenv("NYX_TEST_STORE");
    if (!backend || (strcmp(backend, "sqlite") != 0 && strcmp(backend, "pg") != 0)) {
        fprintf(stderr, "usage: %s sqlite|pg (or NYX_TEST_STORE)\n", argv[0]);
        return 2;
    }
    is_pg = strcmp(backend, "pg") == 0;
    if (is_pg) {
#ifndef NYX_HAVE_PG
        fprintf(stderr, "%s: this build has no PostgreSQL backend\n", suite);
        return 2;
#endif
        if (read_base_uri() != 0)
            return 2;
    } else {
        snprintf(scratch, sizeof scratch, "/tmp/nyx-%s-XXXXXX", suite);
        if (!mkdtemp(scratch)) {
            perror("mkdtemp");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN); /* a dropped server connection is an error, not a death */
    for (const conformance_case *c = cases; c->name; c++) {
        int before = check_failures;
        if (db_begin() != 0) {
            fprintf(stderr, "%s: cannot create its database\n", c->name);
            check_failures++;
            continue;
        }
        alarm(TEST_TIMEOUT_S);
        if (c->fn) {
            c->fn();
        } else {
            store_db *s = open_db();
            if (s)
                c->on_db(s);
            store_close(s);
        }
        alarm(0);
        db_end();
        fprintf(stderr, "%s %s (%s)\n", check_failures == before ? "ok  " : "FAIL", c->name,
                backend);
    }
    if (!is_pg && check_failures == 0)
        remove_tree(scratch);
    CHECK_DONE();
}

/* A suite's main(): its cases, {"name", .on_db = test_x} or {"name", .fn = test_y}, run on the
 * backend that argv[1] or NYX_TEST_STORE names; suite names its scratch directory. */
#define CONFORMANCE_SUITE(suite, ...)                                   \
    int main(int argc, char **argv)                                     \
    {                                                                   \
        static const conformance_case cases_[] = {__VA_ARGS__, {0}};    \
        return conformance_main(argc, argv, suite, cases_);             \
    }

/* The main() of cases that are one backend's own ("sqlite": tests/c/test_store*.c; "pg":
 * tests/pg), on the suite's fixture. */
#define BACKEND_SUITE(backend, suite, ...)                              \
    int main(void)                                                      \
    {                                                                   \
        static const conformance_case cases_[] = {__VA_ARGS__, {0}};    \
        char *argv_[] = {(char *)(suite), (char *)(backend), NULL};     \
        return conformance_main(2, argv_, suite, cases_);               \
    }

#endif
