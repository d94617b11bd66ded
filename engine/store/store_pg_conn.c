/* The PostgreSQL connection and its statement queue (see store_pg.h for the why).
 *
 * Failure. When the connection breaks, every statement not yet answered fails with a
 * clear error (its caller decides: the engine keeps interaction records in memory and
 * writes them again later; they are idempotent by id) and new ones fail at once until a
 * reconnection, attempted in the background with backoff, succeeds. Nothing waits on a
 * database that is not there. */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

#define GROUP_MAX 128        /* statements sent under one sync point */
#define RETRIES_MAX 5        /* a statement chosen as a deadlock victim is sent again */
#define WAIT_LIMIT_S 60.0    /* pg_exec gives up on a server that answers nothing */
#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 1.0  /* a refused connection costs little; records and calls wait for it */

struct pg_job {
    pg_job *next;
    char what[128];
    const char *sql; /* static, or own_sql */
    char *own_sql;
    int nparams;
    char **values;
    Oid *types;      /* NULL: the server infers each parameter's type */
    pg_done_fn fn;
    void *ud;
    PGresult *res;
    error_info err;
    int failed, aborted, retry, retries;
    int sync, finished; /* pg_exec's own job: kept for it, not handed out */
    int batch;          /* written inside store_batch_begin/commit */
};

const char *pg_num(char *buf, double v)
{
    snprintf(buf, 32, "%.17g", v);
    /* A host's locale may write a decimal comma; the server reads a point. */
    for (char *c = buf; *c; c++)
        if (*c == ',')
            *c = '.';
    return buf;
}

const char *pg_int(char *buf, int64_t v)
{
    snprintf(buf, 32, "%lld", (long long)v);
    return buf;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* Fills err from a failed result or the connection's message, as "store: cannot WHAT in
 * LABEL: message". */
static void pg_fail(pg *p, error_info *err, const PGresult *res, const char *what)
{
    char msg[400];
    /* The primary message only: the full text adds LINE and caret lines of the statement. */
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m || !*m)
        m = p->conn ? PQerrorMessage(p->conn) : "not connected";
    snprintf(msg, sizeof msg, "%s", m && *m ? m : "unknown error");
    trim(msg);
    store_fail(err, "store: cannot %s in %s: %s", what, p->label, msg);
    /* A data exception (class 22: text not valid UTF-8, a number out of range) is about the
     * values this statement carried, not the database: no retry of them will succeed, and the
     * record's writer must not hold other records behind it (pending_log.c). */
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (err)
        err->refused = state && strncmp(state, "22", 2) == 0;
}

/* ---- jobs ---- */

static void job_free(pg_job *j)
{
    for (int i = 0; i < j->nparams; i++)
        free(j->values[i]);
    free(j->values);
    free(j->types);
    free(j->own_sql);
    PQclear(j->res);
    free(j);
}

static void append(pg_job **head, pg_job **tail, pg_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void finish_job(pg *p, pg_job *j)
{
    if (j->batch && j->failed && !p->batch_error[0]) {
        snprintf(p->batch_error, sizeof p->batch_error, "%s", j->err.message);
        p->batch_refused = j->err.refused;
    }
    if (j->sync) {
        j->finished = 1;
        return;
    }
    if (!j->fn) { /* nobody waits for it: done now, so the loop does not wait for it either */
        p->busy--;
        job_free(j);
        return;
    }
    append(&p->done, &p->done_tail, j);
}

static void fail_job(pg *p, pg_job *j, const char *why)
{
    PQclear(j->res);
    j->res = NULL;
    j->failed = 1;
    store_fail(&j->err, "store: cannot %s in %s: %s", j->what, p->label, why);
    j->err.retryable = 1; /* the connection failed, not the statement: worth sending again */
    finish_job(p, j);
}

/* ---- connection ---- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* library code never prints; warnings reach callers as errors or not at all */
}

static void set_label(pg *p)
{
    char label[200];
    const char *host = PQhost(p->conn);
    snprintf(label, sizeof label, "PostgreSQL database %s on %s:%s", PQdb(p->conn),
             host && *host ? host : "localhost", PQport(p->conn));
    char *copy = text_dup(label);
    if (copy) {
        free(p->label);
        p->label = copy;
    }
}

static int lost(pg *p, const char *why);

/* A connection just came up: pipeline mode, and the control channel listened to first. */
static int connected(pg *p)
{
    PQsetNoticeProcessor(p->conn, ignore_notice, NULL);
    set_label(p);
    if (PQsetnonblocking(p->conn, 1) != 0 || PQenterPipelineMode(p->conn) != 1)
        return lost(p, "cannot enter pipeline mode");
    p->state = PG_UP;
    p->backoff_s = BACKOFF_MIN_S;
    pg_job *j = calloc(1, sizeof *j);
    if (!j)
        return lost(p, "out of memory");
    snprintf(j->what, sizeof j->what, "listen for emergency stops");
    j->sql = "LISTEN nyx_control";
    p->busy++;
    j->next = p->queued;
    p->queued = j;
    if (!p->queued_tail)
        p->queued_tail = j;
    /* A stop sent while we were away is found by the next look at the control table. */
    p->notified = 1;
    return 0;
}

static int lost(pg *p, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof msg, "connection lost (%s); reconnecting", why);
    pg_job *lists[] = {p->sent, p->queued};
    p->sent = p->sent_tail = p->reading = NULL;
    p->queued = p->queued_tail = NULL;
    for (size_t l = 0; l < 2; l++)
        for (pg_job *j = lists[l], *next; j; j = next) {
            next = j->next;
            fail_job(p, j, msg);
        }
    if (p->conn)
        PQfinish(p->conn);
    p->conn = NULL;
    p->state = PG_DOWN;
    p->want_write = 0;
    p->retry_at = clock_now_s() + p->backoff_s;
    p->backoff_s = p->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : p->backoff_s * 2;
    return -1;
}

/* The URI as given, named "nyx" in pg_stat_activity unless it names itself. */
static const char *const conn_keys[] = {"fallback_application_name", "dbname", NULL};

int pg_connect(pg *p, error_info *err)
{
    p->backoff_s = BACKOFF_MIN_S;
    const char *values[] = {"nyx", p->conninfo, NULL};
    p->conn = PQconnectdbParams(conn_keys, values, 1);
    if (!p->conn) {
        store_fail(err, "store: cannot connect to the PostgreSQL database: out of memory");
        return -1;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(p->conn));
        trim(msg);
        store_fail(err, "store: cannot connect to the PostgreSQL database: %s", msg);
        PQfinish(p->conn);
        p->conn = NULL;
        return -1;
    }
    if (connected(p) != 0) {
        store_fail(err, "store: cannot use the PostgreSQL database: %s", "pipeline mode refused");
        return -1;
    }
    return 0;
}

void pg_disconnect(pg *p)
{
    /* Whatever is still unanswered is failed, so its owner learns it (and frees it). */
    if (p->state != PG_DOWN)
        lost(p, "the store was closed");
    for (pg_job *j = p->done, *next; j; j = next) {
        next = j->next;
        if (j->fn)
            j->fn(j->ud, NULL, &j->err);
        job_free(j);
    }
    p->done = p->done_tail = NULL;
}

static void start_connect(pg *p)
{
    const char *values[] = {"nyx", p->conninfo, NULL};
    p->conn = PQconnectStartParams(conn_keys, values, 1);
    if (!p->conn || PQstatus(p->conn) == CONNECTION_BAD) {
        lost(p, "cannot start a connection");
        return;
    }
    p->state = PG_CONNECTING;
    p->want_write = 1;
}

static void poll_connect(pg *p)
{
    switch (PQconnectPoll(p->conn)) {
    case PGRES_POLLING_OK: connected(p); break;
    case PGRES_POLLING_READING: p->want_write = 0; break;
    case PGRES_POLLING_WRITING: p->want_write = 1; break;
    default: lost(p, "the server refused the connection"); break;
    }
}

/* ---- sending and reading ---- */

static void send_group(pg *p)
{
    for (int n = 0; p->queued && n < GROUP_MAX; n++) {
        pg_job *j = p->queued;
        p->queued = j->next;
        if (!p->queued)
            p->queued_tail = NULL;
        append(&p->sent, &p->sent_tail, j);
        if (!PQsendQueryParams(p->conn, j->sql, j->nparams, j->types,
                               (const char *const *)j->values, NULL, NULL, 0)) {
            lost(p, "cannot send a statement");
            return;
        }
    }
    if (!PQpipelineSync(p->conn)) {
        lost(p, "cannot send a sync point");
        return;
    }
    p->reading = p->sent;
}

/* The group's transaction is over: committed when nothing in it failed. */
static void finish_group(pg *p)
{
    int trouble = 0;
    for (pg_job *j = p->sent; j; j = j->next)
        trouble |= j->failed || j->aborted;
    pg_job *again = NULL, *again_tail = NULL;
    for (pg_job *j = p->sent, *next; j; j = next) {
        next = j->next;
        if (trouble && (!j->failed || (j->retry && ++j->retries <= RETRIES_MAX))) {
            /* Rolled back with the group, through no fault of its own (or a deadlock victim). */
            PQclear(j->res);
            j->res = NULL;
            j->failed = j->aborted = j->retry = 0;
            error_clear(&j->err);
            append(&again, &again_tail, j);
        } else {
            finish_job(p, j);
        }
    }
    p->sent = p->sent_tail = p->reading = NULL;
    if (again) {
        again_tail->next = p->queued;
        if (!p->queued)
            p->queued_tail = again_tail;
        p->queued = again;
    }
}

static void take_result(pg *p, PGresult *r)
{
    pg_job *j = p->reading;
    if (!j || j->res || j->failed || j->aborted) {
        PQclear(r);
        return;
    }
    switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK: j->res = r; return;
    case PGRES_PIPELINE_ABORTED: j->aborted = 1; break;
    default: {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        j->failed = 1;
        j->retry = state && strncmp(state, "40", 2) == 0; /* serialization failure, deadlock */
        pg_fail(p, &j->err, r, j->what);
        break;
    }
    }
    PQclear(r);
}

static void read_results(pg *p)
{
    while (p->state == PG_UP && p->sent && !PQisBusy(p->conn)) {
        PGresult *r = PQgetResult(p->conn);
        if (!r) {
            pg_job *j = p->reading;
            if (j && (j->res || j->failed || j->aborted))
                p->reading = j->next;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            finish_group(p);
            continue;
        }
        take_result(p, r);
    }
}

/* Everything but handing out finished jobs, which only pg_pump does. */
static void pump_io(pg *p)
{
    if (p->state == PG_DOWN) {
        if (clock_now_s() >= p->retry_at)
            start_connect(p);
        return;
    }
    if (p->state == PG_CONNECTING) {
        poll_connect(p);
        if (p->state != PG_UP)
            return;
    }
    if (!PQconsumeInput(p->conn)) {
        lost(p, "the server closed the connection");
        return;
    }
    read_results(p);
    if (p->state != PG_UP)
        return;
    PGnotify *n;
    while ((n = PQnotifies(p->conn)) != NULL) {
        p->notified = 1;
        PQfreemem(n);
    }
    if (!p->sent && p->queued) {
        send_group(p);
        if (p->state != PG_UP)
            return;
    }
    int f = PQflush(p->conn);
    if (f < 0)
        lost(p, "cannot write to the server");
    else
        p->want_write = f == 1;
}

void pg_pump(pg *p)
{
    pump_io(p);
    while (p->done) {
        pg_job *j = p->done;
        p->done = j->next;
        if (!p->done)
            p->done_tail = NULL;
        p->busy--;
        if (j->fn)
            j->fn(j->ud, j->failed ? NULL : j->res, &j->err);
        job_free(j);
        if (p->pump_enough && p->done && p->pump_enough(p->pump_ud))
            return; /* the rest at the next pump (busy still counts them) */
    }
}

static pg_job *make_job(pg *p, const pg_call *c, error_info *err)
{
    const char *what = c->what, *sql = c->sql;
    int nparams = c->nparams;
    const char *const *values = c->values;
    if (p->state == PG_DOWN && clock_now_s() >= p->retry_at)
        start_connect(p);
    if (p->state == PG_DOWN) {
        store_fail(err, "store: cannot %s in %s: the database is unreachable; reconnecting in "
                        "the background", what, p->label);
        if (err)
            err->retryable = 1;
        return NULL;
    }
    pg_job *j = calloc(1, sizeof *j);
    if (j && nparams > 0)
        j->values = calloc((size_t)nparams, sizeof *j->values);
    if (j && nparams > 0 && c->types && (j->types = malloc((size_t)nparams * sizeof *j->types)))
        memcpy(j->types, c->types, (size_t)nparams * sizeof *j->types);
    if (j && c->own_sql)
        j->own_sql = text_dup(sql);
    int ok = j && (nparams == 0 || j->values) && (!c->types || nparams == 0 || j->types) &&
             (!c->own_sql || j->own_sql);
    for (int i = 0; ok && i < nparams; i++) {
        j->nparams = i + 1;
        ok = !values[i] || (j->values[i] = text_dup(values[i])) != NULL;
    }
    if (!ok) {
        if (j)
            job_free(j);
        store_fail(err, "store: cannot %s in %s: out of memory", what, p->label);
        return NULL;
    }
    j->nparams = nparams;
    snprintf(j->what, sizeof j->what, "%s", what);
    j->sql = j->own_sql ? j->own_sql : sql;
    error_clear(&j->err);
    return j;
}

int pg_submit(pg *p, const char *what, const char *sql, int nparams, const char *const *values,
              pg_done_fn done, void *ud, error_info *err)
{
    pg_call c = {what, sql, nparams, values, NULL, 0};
    return pg_submit_call(p, &c, done, ud, err);
}

int pg_submit_call(pg *p, const pg_call *c, pg_done_fn done, void *ud, error_info *err)
{
    pg_job *j = make_job(p, c, err);
    if (!j)
        return -1;
    j->fn = done;
    j->ud = ud;
    j->batch = p->in_batch;
    p->busy++;
    append(&p->queued, &p->queued_tail, j);
    pump_io(p);
    return 0;
}

static int wait_io(pg *p, double deadline)
{
    if (p->state == PG_DOWN) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return 0;
    }
    struct pollfd fd = {PQsocket(p->conn), (short)(POLLIN | (p->want_write ? POLLOUT : 0)), 0};
    int ms = (int)((deadline - clock_now_s()) * 1000);
    if (ms <= 0)
        return -1;
    int rc = poll(&fd, 1, ms > 1000 ? 1000 : ms);
    return rc < 0 && errno != EINTR ? -1 : 0;
}

PGresult *pg_exec(pg *p, const char *what, const char *sql, int nparams,
                  const char *const *values, error_info *err)
{
    pg_call c = {what, sql, nparams, values, NULL, 0};
    return pg_exec_call(p, &c, err);
}

PGresult *pg_exec_call(pg *p, const pg_call *c, error_info *err)
{
    PGresult *res = NULL;
    error_info e;
    error_clear(&e);
    if (pg_exec_calls(p, c, 1, &res, &e) != 0 && err)
        *err = e;
    return res;
}

int pg_exec_calls(pg *p, const pg_call *calls, int n, PGresult **res, error_info *errs)
{
    enum { MAX_CALLS = 8 };
    pg_job *jobs[MAX_CALLS];
    if (n < 1 || n > MAX_CALLS) { /* a programming error in the caller */
        for (int i = 0; i < n; i++)
            res[i] = NULL;
        store_fail(errs, "store: cannot run %d statements at once in %s: 1 to %d", n, p->label, MAX_CALLS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        res[i] = NULL;
        if (!(jobs[i] = make_job(p, &calls[i], &errs[i]))) {
            for (int k = 0; k < i; k++)
                job_free(jobs[k]);
            for (int k = 0; k < n; k++)
                if (k != i)
                    errs[k] = errs[i];
            return -1;
        }
    }
    /* All queued before the first pump: they leave in one group, under one sync point. */
    for (int i = 0; i < n; i++) {
        jobs[i]->sync = 1;
        append(&p->queued, &p->queued_tail, jobs[i]);
    }
    double deadline = clock_now_s() + WAIT_LIMIT_S;
    pump_io(p);
    for (int i = 0; i < n; i++)
        while (!jobs[i]->finished) {
            if (wait_io(p, deadline) != 0 || clock_now_s() > deadline) {
                lost(p, "the server did not answer within 60 s");
                break;
            }
            pump_io(p);
        }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (jobs[i]->failed) {
            errs[i] = jobs[i]->err;
            rc = -1;
        } else {
            res[i] = jobs[i]->res;
            jobs[i]->res = NULL;
        }
        job_free(jobs[i]);
    }
    return rc;
}

static void remember_write_failure(void *ud, PGresult *res, const error_info *err)
{
    pg *p = ud;
    if (!res && err && !p->write_error[0])
        snprintf(p->write_error, sizeof p->write_error, "%s", err->message);
}

int pg_write(pg *p, const char *what, const char *sql, int nparams, const char *const *values,
             error_info *err)
{
    pg_call c = {what, sql, nparams, values, NULL, 0};
    return pg_write_call(p, &c, err);
}

int pg_write_call(pg *p, const pg_call *c, error_info *err)
{
    if (p->background)
        return pg_submit_call(p, c, remember_write_failure, p, err);
    PGresult *res = pg_exec_call(p, c, err);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

#define PG_FLOAT8_OID 701 /* pg_type.oid of double precision */

/* ---- rows as SQLite writes them ---- */

/* SQLite's text of a REAL ("%!.15g": 15 significant digits, always a '.' or an exponent's
 * ".0"; infinities "Inf"; no NaN: SQLite stores it as NULL). Formatted in the "C" locale,
 * whatever locale the host set (the caller switches to it). Returns out, or NULL for NaN. */
static const char *sqlite_real(const char *text, char out[48])
{
    double d = strtod(text, NULL);
    if (isnan(d))
        return NULL;
    if (isinf(d))
        return d > 0 ? "Inf" : "-Inf";
    snprintf(out, 40, "%.15g", d);
    if (strchr(out, '.'))
        return out;
    char *e = strchr(out, 'e');
    size_t at = e ? (size_t)(e - out) : strlen(out);
    memmove(out + at + 2, out + at, strlen(out + at) + 1);
    memcpy(out + at, ".0", 2);
    return out;
}

/* A column's type by its OID (pg_type.h): the integers, the reals (numeric too: what SUM of
 * integers gives), and everything else as text. */
static char pg_row_type(Oid oid)
{
    switch (oid) {
    case 20: case 21: case 23: case 26: return ROW_INT;    /* int8, int2, int4, oid */
    case 700: case PG_FLOAT8_OID: case 1700: return ROW_REAL; /* float4, float8, numeric */
    default: return ROW_TEXT;
    }
}

/* Double precision columns are written as SQLite writes a REAL (store.h: "Reals are printed
 * with 15 significant digits"), so callers print either backend's rows alike. */
int pg_each_row(pg *p, const char *what, const PGresult *res, store_row_fn fn, void *ud,
                error_info *err)
{
    enum { MAX_COLS = 32 };
    int ncols = PQnfields(res);
    if (ncols > MAX_COLS) { /* a programming error in the caller */
        store_fail(err, "store: cannot %s: %d columns, at most %d", what, ncols, MAX_COLS);
        return -1;
    }
    const char *names[MAX_COLS], *vals[MAX_COLS];
    char reals[MAX_COLS][48];
    int real[MAX_COLS], any_real = 0;
    char declared[MAX_COLS], types[MAX_COLS];
    for (int c = 0; c < ncols; c++) {
        names[c] = PQfname(res, c);
        real[c] = PQftype(res, c) == PG_FLOAT8_OID;
        any_real |= real[c];
        declared[c] = pg_row_type(PQftype(res, c));
    }
    int nrows = PQntuples(res);
    /* strtod and snprintf follow LC_NUMERIC: use the "C" locale's '.' for this thread. */
    locale_t c_locale = (locale_t)0, before = (locale_t)0;
    if (any_real && nrows > 0) {
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (!c_locale) {
            store_fail(err, "store: cannot %s in %s: out of memory", what, p->label);
            return -1;
        }
        before = uselocale(c_locale);
    }
    int result = 0;
    for (int r = 0; r < nrows && result == 0; r++) {
        for (int c = 0; c < ncols; c++) {
            types[c] = PQgetisnull(res, r, c) ? ROW_NULL : declared[c];
            if (PQgetisnull(res, r, c))
                vals[c] = NULL;
            else if (real[c])
                vals[c] = sqlite_real(PQgetvalue(res, r, c), reals[c]);
            else
                vals[c] = PQgetvalue(res, r, c);
        }
        if (fn(ud, ncols, names, vals, types) != 0)
            result = 1;
    }
    if (c_locale) {
        uselocale(before);
        freelocale(c_locale);
    }
    return result;
}
