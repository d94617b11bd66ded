/* The PostgreSQL driver under the query layer (store_driver.h): a statement's ?N
 * placeholders numbered $N (once per text, kept), its values sent as text with their types'
 * OIDs (so no statement needs casts), and its rows handed out typed (pg_each_row). run waits
 * (pg_exec); submit queues on the pipeline and answers from store_pump(); write does not
 * wait in the background mode. Every statement is its own transaction: the driver has no
 * begin/commit, and the query layer writes each operation to be correct statement by
 * statement (budgets are one call of a function of the schema, store_pg_budget.c). */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS (sizeof ((pg *)0)->sql_cache / sizeof ((pg *)0)->sql_cache[0])

enum { OID_INT8 = 20, OID_TEXT = 25, OID_FLOAT8 = 701 };

/* sql with ?N written $N (outside quotes); NULL when out of memory. */
static char *dollars(const char *sql)
{
    char *out = malloc(strlen(sql) + 1), *o = out;
    if (!out)
        return NULL;
    char quote = 0;
    for (const char *c = sql; *c; c++) {
        if (quote) {
            if (*c == quote)
                quote = 0;
        } else if (*c == '\'' || *c == '"') {
            quote = *c;
        } else if (*c == '?' && c[1] >= '0' && c[1] <= '9') {
            *o++ = '$';
            continue;
        }
        *o++ = *c;
    }
    *o = '\0';
    return out;
}

/* The $N text of a kept statement's ?N text, made on first use. */
static const char *kept_sql(pg *p, const char *key)
{
    size_t slot = ((uintptr_t)key >> 3) % CACHE_SLOTS;
    for (size_t k = 0; k < CACHE_SLOTS; k++, slot = (slot + 1) % CACHE_SLOTS) {
        if (p->sql_cache[slot].key == key)
            return p->sql_cache[slot].sql;
        if (!p->sql_cache[slot].key) {
            char *sql = dollars(key);
            if (sql) {
                p->sql_cache[slot].key = key;
                p->sql_cache[slot].sql = sql;
            }
            return sql;
        }
    }
    return NULL; /* full: the caller converts for this call alone */
}

void store_pg_driver_free(pg *p)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free(p->sql_cache[i].sql);
    memset(p->sql_cache, 0, sizeof p->sql_cache);
}

void pg_val_texts(const store_val *v, int n, const char **out, char nums[][32])
{
    for (int i = 0; i < n; i++) {
        if (v[i].null)
            out[i] = NULL;
        else if (v[i].type == ROW_INT)
            out[i] = pg_int(nums[i], v[i].i);
        else if (v[i].type == ROW_REAL)
            out[i] = pg_num(nums[i], v[i].r);
        else
            out[i] = v[i].text;
    }
}

/* A statement's call: its text, its values as text and their types. */
typedef struct call {
    pg_call c;
    const char *values[STORE_MAX_VALS];
    Oid types[STORE_MAX_VALS];
    char nums[STORE_MAX_VALS][32];
    char *own; /* a text converted for this call */
} call;

static int prepare(pg *p, const store_stmt *st, call *k, error_info *err)
{
    memset(&k->c, 0, sizeof k->c);
    k->own = NULL;
    if (st->n > STORE_MAX_VALS) {
        store_fail(err, "store: cannot %s: %d values, at most %d", st->what, st->n,
                   STORE_MAX_VALS);
        return -1;
    }
    const char *sql = st->text ? NULL : kept_sql(p, st->sql->text[STORE_DIALECT_PG]);
    if (!sql) {
        k->own = dollars(st->text ? st->text : st->sql->text[STORE_DIALECT_PG]);
        if (!k->own) {
            store_fail(err, "store: cannot %s in %s: out of memory", st->what, p->label);
            return -1;
        }
        sql = k->own;
    }
    pg_val_texts(st->v, st->n, k->values, k->nums);
    for (int i = 0; i < st->n; i++)
        k->types[i] = st->v[i].type == ROW_INT    ? OID_INT8
                      : st->v[i].type == ROW_REAL ? OID_FLOAT8
                                                  : OID_TEXT;
    k->c = (pg_call){st->what, sql, st->n, k->values, k->types, k->own != NULL};
    return 0;
}

int store_pg_run(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                 long long *changes, error_info *err)
{
    pg *p = pg_of(s);
    call k;
    if (prepare(p, st, &k, err) != 0)
        return -1;
    PGresult *res = pg_exec_call(p, &k.c, err);
    free(k.own);
    if (!res)
        return -1;
    int rc = fn ? pg_each_row(p, st->what, res, fn, ud, err) : 0;
    if (changes)
        *changes = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

int store_pg_write(store_db *s, const store_stmt *st, error_info *err)
{
    pg *p = pg_of(s);
    call k;
    if (prepare(p, st, &k, err) != 0)
        return -1;
    int rc = pg_write_call(p, &k.c, err);
    free(k.own);
    return rc;
}

typedef struct rows_wait {
    pg *p;
    char what[128];
    store_row_fn fn;
    void *ud;
    store_done_fn done;
    void *done_ud;
} rows_wait;

static void rows_answered(void *ud, PGresult *res, const error_info *err)
{
    rows_wait w = *(rows_wait *)ud;
    free(ud);
    error_info e;
    error_clear(&e);
    int rc = res && w.fn ? pg_each_row(w.p, w.what, res, w.fn, w.ud, &e) : res ? 0 : -1;
    w.done(w.done_ud, rc < 0 ? -1 : 0, -1, rc >= 0 ? NULL : res ? &e : err);
}

int store_pg_submit(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                    store_done_fn done, void *done_ud, error_info *err)
{
    pg *p = pg_of(s);
    rows_wait *w = malloc(sizeof *w);
    call k;
    if (!w || prepare(p, st, &k, err) != 0) {
        if (!w)
            store_fail(err, "store: cannot %s: out of memory", st->what);
        free(w);
        return -1;
    }
    *w = (rows_wait){.p = p, .fn = fn, .ud = ud, .done = done, .done_ud = done_ud};
    snprintf(w->what, sizeof w->what, "%s", st->what);
    int rc = pg_submit_call(p, &k.c, rows_answered, w, err);
    free(k.own);
    if (rc != 0)
        free(w);
    return rc;
}

/* No round trip: the notifications were read by store_pump() (or by any statement's wait),
 * and a new connection starts with notified set, since a stop may have come while it was
 * away, so the first call reports 1. Unlike SQLite's data_version, this store's own writes
 * to control and system_config count too (it hears its own notifications), and writes to
 * other tables do not. */
int store_pg_changed(store_db *s, int *changed, error_info *err)
{
    (void)err;
    pg *p = pg_of(s);
    *changed = p->notified != 0;
    p->notified = 0;
    return 0;
}

