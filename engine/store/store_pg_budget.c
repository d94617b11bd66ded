/* Budgets in PostgreSQL: each operation is one statement calling a function of the schema
 * (nyx_reserve, nyx_settle; store_pg_schema.c), so it is atomic on its own and processes
 * on any number of hosts cannot jointly overspend: a reservation locks its scopes' rows,
 * in scope order, from its check to its commit. */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_RESERVE[] =
    "SELECT refused, spent, reserved FROM nyx_reserve($1, $2::text[], $3::double precision[],"
    " $4, $5, $6, $7)";

/* The settle and the insert are one statement, so one transaction. Both are idempotent: an
 * id (or a batch result: batch id and custom id) logged already is left as it is, a reservation settled already is not settled again,
 * so a write whose answer was lost with the connection can simply be sent again. */
static const char SQL_LOG_SETTLE[] =
    SQL_INSERT_INTERACTION
    " SELECT $1, $2::double precision, $3, $4, $5::bigint, $6, $7::integer, $8, $9, $10,"
    " $11::bigint, $12::bigint, $13::bigint, $14::bigint, $15::bigint, $16::bigint,"
    " $17::double precision, $18::double precision, $19::double precision,"
    " $20::double precision, $21::double precision, $22::integer, $23, $24, $25, $26, $27,"
    " $28::integer, $29::integer, $30, $31, $32, $33, $34, $35, $36, $37::double precision,"
    " $38::integer, $39::integer"
    " FROM nyx_settle($40, $41, $2::double precision) ON CONFLICT DO NOTHING";

/* A PostgreSQL array literal of the scopes: {"a","b"}, each quoted and escaped. */
static char *text_array(const store_scope *scopes, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(scopes[i].scope) + 3;
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        *p++ = '"';
        for (const char *c = scopes[i].scope; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
        if (i + 1 < n)
            *p++ = ',';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static char *limit_array(const store_scope *scopes, size_t n)
{
    char *out = malloc(n * 32 + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (scopes[i].limit_usd >= 0)
            p += snprintf(p, 32, "%.17g", scopes[i].limit_usd);
        else
            p += snprintf(p, 32, "NULL");
        if (i + 1 < n)
            *p++ = ',';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* Reads nyx_reserve's answer: 0 reserved, or -1 with err saying which scope refused. */
static int reserve_outcome(PGresult *res, const store_scope *scopes, size_t n, double amount,
                           int *refused, error_info *err)
{
    int k = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : -2;
    if (k == -1)
        return 0;
    if (k < 0 || (size_t)k >= n) {
        store_fail(err, "store: cannot reserve budget: unexpected answer from the database");
        return -1;
    }
    store_budget_refused(err, &scopes[k], atof(PQgetvalue(res, 0, 1)),
                         atof(PQgetvalue(res, 0, 2)), amount);
    if (refused)
        *refused = k;
    return -1;
}

/* The parameters of SQL_RESERVE; the two arrays are malloc'd into scopes_out and limits_out. */
static int reserve_params(const store_scope *scopes, size_t n, const store_reservation *r,
                          char bufs[4][32], const char *v[7], char **scopes_out,
                          char **limits_out)
{
    *scopes_out = text_array(scopes, n);
    *limits_out = limit_array(scopes, n);
    if (!*scopes_out || !*limits_out) {
        free(*scopes_out);
        free(*limits_out);
        return -1;
    }
    v[0] = r->id;
    v[1] = *scopes_out;
    v[2] = *limits_out;
    v[3] = pg_num(bufs[0], r->amount_usd);
    v[4] = pg_num(bufs[1], r->created_at);
    v[5] = pg_int(bufs[2], r->pid);
    v[6] = r->host;
    return 0;
}

int store_pg_budget_reserve(store_db *s, const store_scope *scopes, size_t n,
                            const store_reservation *r, int *refused, error_info *err)
{
    char bufs[4][32], *sa, *la;
    const char *v[7];
    if (reserve_params(scopes, n, r, bufs, v, &sa, &la) != 0) {
        store_fail(err, "store: cannot reserve budget: out of memory");
        return -1;
    }
    PGresult *res = pg_exec(pg_of(s), "reserve budget", SQL_RESERVE, 7, v, err);
    free(sa);
    free(la);
    if (!res)
        return -1;
    int rc = reserve_outcome(res, scopes, n, r->amount_usd, refused, err);
    PQclear(res);
    return rc;
}

/* ---- asynchronous reservation: the scopes are kept for the refusal's message ---- */

typedef struct reserve_wait {
    store_done_fn done;
    void *ud;
    size_t n;
    double amount;
    store_scope scopes[]; /* names point into the allocation, after the array */
} reserve_wait;

static void reserve_answered(void *ud, PGresult *res, const error_info *err)
{
    reserve_wait *w = ud;
    error_info e;
    error_clear(&e);
    int refused = -1, rc = -1;
    if (res)
        rc = reserve_outcome(res, w->scopes, w->n, w->amount, &refused, &e);
    else
        e = *err;
    w->done(w->ud, rc, refused, rc == 0 ? NULL : &e);
    free(w);
}

int store_pg_budget_reserve_async(store_db *s, const store_scope *scopes, size_t n,
                                  const store_reservation *r, store_done_fn done, void *ud,
                                  error_info *err)
{
    size_t names = 0;
    for (size_t i = 0; i < n; i++)
        names += strlen(scopes[i].scope) + 1;
    reserve_wait *w = malloc(sizeof *w + n * sizeof w->scopes[0] + names);
    char bufs[4][32], *sa = NULL, *la = NULL;
    const char *v[7];
    if (!w || reserve_params(scopes, n, r, bufs, v, &sa, &la) != 0) {
        free(w);
        store_fail(err, "store: cannot reserve budget: out of memory");
        return -1;
    }
    char *name = (char *)&w->scopes[n];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(scopes[i].scope) + 1;
        memcpy(name, scopes[i].scope, len);
        w->scopes[i] = (store_scope){name, scopes[i].limit_usd};
        name += len;
    }
    w->done = done;
    w->ud = ud;
    w->n = n;
    w->amount = r->amount_usd;
    int rc = pg_submit(pg_of(s), "reserve budget", SQL_RESERVE, 7, v, reserve_answered, w, err);
    free(sa);
    free(la);
    if (rc != 0)
        free(w);
    return rc;
}

/* ---- settling and logging ---- */

int store_pg_budget_settle(store_db *s, const char *reservation_id, double actual_usd,
                           double now, error_info *err)
{
    char a[32], t[32];
    const char *v[] = {reservation_id, pg_num(a, actual_usd), pg_num(t, now)};
    return pg_write(pg_of(s), "settle a budget reservation", "SELECT nyx_settle($1, $2, $3)", 3,
                    v, err);
}

/* A log statement with its parameters: SQL_LOG_SETTLE's 35, then each shared part's hash and
 * body. The parts are inserted by the same statement (one transaction): a recipe never names
 * a part the database lacks. */
typedef struct log_call {
    const char *sql;
    int n;
    const char **v;
    char bufs[STORE_INTERACTION_VALS + 2][32];
    char **bodies; /* the parts' bodies, NUL-terminated */
    size_t nbodies;
} log_call;

static void log_call_free(log_call *c)
{
    for (size_t i = 0; i < c->nbodies; i++)
        free(c->bodies[i]);
    free(c->bodies);
    free(c->v);
}

/* The statement for n parts, made once per n and kept for the store's life. */
static const char *log_sql(pg *p, size_t n)
{
    if (n == 0)
        return SQL_LOG_SETTLE;
    if (!p->log_sql[n]) {
        size_t cap = sizeof SQL_LOG_SETTLE + 128 + n * 32;
        char *sql = malloc(cap);
        if (!sql)
            return NULL;
        size_t k = (size_t)snprintf(sql, cap, "WITH parts AS (INSERT INTO llm_content (hash, body) VALUES ");
        for (size_t i = 0; i < n; i++) {
            int first = STORE_INTERACTION_VALS + 3 + 2 * (int)i;
            k += (size_t)snprintf(sql + k, cap - k, "%s($%d, $%d)", i ? ", " : "", first, first + 1);
        }
        snprintf(sql + k, cap - k, " ON CONFLICT (hash) DO NOTHING) %s", SQL_LOG_SETTLE);
        p->log_sql[n] = sql;
    }
    return p->log_sql[n];
}

static int log_call_make(pg *p, const interaction_rec *in, const char *reservation_id,
                         double actual_usd, log_call *c, error_info *err)
{
    memset(c, 0, sizeof *c);
    interaction_rec it = *in;
    if (it.parts && it.parts->n > PG_MAX_PARTS)
        it.parts = NULL; /* stored whole */
    size_t n = it.parts ? it.parts->n : 0;
    c->n = STORE_INTERACTION_VALS + 2 + 2 * (int)n;
    c->v = calloc((size_t)c->n, sizeof *c->v);
    c->bodies = n ? calloc(n, sizeof *c->bodies) : NULL;
    c->sql = log_sql(p, n);
    int ok = c->v && (n == 0 || c->bodies) && c->sql;
    for (size_t i = 0; ok && i < n; i++) {
        const store_piece *pc = &it.parts->pieces[i];
        ok = (c->bodies[i] = malloc(pc->len + 1)) != NULL;
        if (ok) {
            c->nbodies = i + 1;
            memcpy(c->bodies[i], pc->text, pc->len);
            c->bodies[i][pc->len] = '\0';
            c->v[STORE_INTERACTION_VALS + 2 + 2 * i] = pc->hash;
            c->v[STORE_INTERACTION_VALS + 3 + 2 * i] = c->bodies[i];
        }
    }
    if (!ok) {
        log_call_free(c);
        store_fail(err, "store: cannot log interaction %s: out of memory", in->id);
        return -1;
    }
    /* The interaction as the text parameters $1..$39 (numbers formatted into bufs). */
    store_val vals[STORE_INTERACTION_VALS];
    int k = store_interaction_vals(&it, vals);
    pg_val_texts(vals, k, c->v, c->bufs);
    c->v[k] = reservation_id;
    c->v[k + 1] = pg_num(c->bufs[k + 1], actual_usd);
    return 0;
}

int store_pg_log_interaction_settle(store_db *s, const interaction_rec *it,
                                    const char *reservation_id, double actual_usd,
                                    error_info *err)
{
    pg *p = pg_of(s);
    log_call c;
    if (log_call_make(p, it, reservation_id, actual_usd, &c, err) != 0)
        return -1;
    char what[128];
    snprintf(what, sizeof what, "log interaction %.64s", it->id);
    int rc;
    if (p->in_batch) {
        rc = pg_submit(p, what, c.sql, c.n, c.v, NULL, NULL, err);
    } else {
        PGresult *res = pg_exec(p, what, c.sql, c.n, c.v, err);
        PQclear(res);
        rc = res ? 0 : -1;
    }
    log_call_free(&c);
    return rc;
}

typedef struct log_wait {
    store_done_fn done;
    void *ud;
} log_wait;

static void log_answered(void *ud, PGresult *res, const error_info *err)
{
    log_wait w = *(log_wait *)ud;
    free(ud);
    w.done(w.ud, res ? 0 : -1, -1, res ? NULL : err);
}

int store_pg_log_interaction_settle_async(store_db *s, const interaction_rec *it,
                                          const char *reservation_id, double actual_usd,
                                          store_done_fn done, void *ud, error_info *err)
{
    log_wait *w = malloc(sizeof *w);
    if (!w) {
        store_fail(err, "store: cannot log interaction %s: out of memory", it->id);
        return -1;
    }
    *w = (log_wait){done, ud};
    pg *p = pg_of(s);
    log_call c;
    if (log_call_make(p, it, reservation_id, actual_usd, &c, err) != 0) {
        free(w);
        return -1;
    }
    char what[128];
    snprintf(what, sizeof what, "log interaction %.64s", it->id);
    int rc = pg_submit(p, what, c.sql, c.n, c.v, log_answered, w, err);
    log_call_free(&c);
    if (rc != 0) {
        free(w);
        return -1;
    }
    return 0;
}
