/* The PostgreSQL backend: opening, the writes of every call (interactions, sessions,
 * thought nodes), batches, and the ops table. Selected by a postgresql:// or postgres://
 * URI, or any libpq connection string given as such (see store.c). */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int store_pg_log_interaction(store_db *s, const interaction_rec *it, error_info *err)
{
    return store_pg_log_interaction_settle(s, it, NULL, 0, err);
}

/* ---- open and close ---- */

static void pg_free(pg *p)
{
    if (!p)
        return;
    pg_disconnect(p);
    store_pg_driver_free(p);
    for (int i = 0; i <= PG_MAX_PARTS; i++)
        free(p->log_sql[i]);
    free(p->conninfo);
    free(p->label);
    free(p);
}

static int pg_open(store_db *s, const char *uri, const store_options *opts, error_info *err)
{
    /* busy timeouts and fsync policy are the server's business */
    pg *p = calloc(1, sizeof *p);
    if (!p || !(p->conninfo = text_dup(uri)) ||
        !(p->label = text_dup("the PostgreSQL database"))) {
        store_fail(err, "store: cannot open the PostgreSQL database: out of memory");
        pg_free(p);
        return -1;
    }
    if (pg_connect(p, err) != 0 || pg_migrate(p, opts && opts->read_only, err) != 0) {
        pg_free(p);
        return -1;
    }
    s->impl = p;
    return 0;
}

static void pg_close(store_db *s)
{
    pg *p = pg_of(s);
    /* What was queued without waiting is written before the connection goes. */
    error_info ignored;
    PQclear(pg_exec(p, "finish the queued writes", "SELECT 1", 0, NULL, &ignored));
    pg_pump(p);
    pg_free(p);
    s->impl = NULL;
}

static int pg_version(const store_db *s) { return pg_of(s)->version; }

static const char *pg_readonly_why(const store_db *s)
{
    return pg_of(s)->readonly_why[0] ? pg_of(s)->readonly_why : NULL;
}

/* ---- batches ----
 * A batch's writes are pipelined, not waited for one by one: the queue sends them in groups
 * of up to 128, each group one transaction. The commit waits for all of them and reports
 * the first that failed. Unlike SQLite's, a batch is not one transaction: it cannot be
 * rolled back once its writes are sent. */

static int pg_batch_begin(store_db *s, error_info *err)
{
    pg *p = pg_of(s);
    if (p->in_batch) {
        store_fail(err, "store: cannot begin a batch in %s: a batch is already open", p->label);
        return -1;
    }
    p->in_batch = 1;
    p->batch_error[0] = '\0';
    p->batch_refused = 0;
    return 0;
}

static int pg_batch_commit(store_db *s, error_info *err)
{
    pg *p = pg_of(s);
    if (!p->in_batch) {
        store_fail(err, "store: cannot commit a batch in %s: no batch is open", p->label);
        return -1;
    }
    p->in_batch = 0;
    PGresult *res = pg_exec(p, "commit a batch", "SELECT 1", 0, NULL, err);
    if (!res)
        return -1;
    PQclear(res);
    if (p->batch_error[0]) {
        store_fail(err, "%s (in a batch; its other writes are committed)", p->batch_error);
        if (err)
            err->refused = p->batch_refused;
        return -1;
    }
    return 0;
}

static int pg_batch_rollback(store_db *s, error_info *err)
{
    pg *p = pg_of(s);
    p->in_batch = 0;
    store_fail(err, "store: cannot roll back a batch in %s: its writes are committed as they "
                    "are sent", p->label);
    return -1;
}

/* ---- the loop's side ---- */

static int pg_poll_fd(store_db *s, int *want_write)
{
    pg *p = pg_of(s);
    *want_write = p->want_write;
    return p->conn && p->state != PG_DOWN ? PQsocket(p->conn) : -1;
}

static void pg_pump_op(store_db *s) { pg_pump(pg_of(s)); }

static int pg_busy(const store_db *s)
{
    const pg *p = pg_of(s);
    return p->busy + (p->done != NULL);
}

static void pg_set_background(store_db *s, int on) { pg_of(s)->background = on; }

static void pg_set_pump_limit(store_db *s, int (*enough)(void *ud), void *ud)
{
    pg_of(s)->pump_enough = enough;
    pg_of(s)->pump_ud = ud;
}

static int pg_take_write_error(store_db *s, char *buf, size_t size)
{
    pg *p = pg_of(s);
    if (!p->write_error[0])
        return 0;
    snprintf(buf, size, "%s", p->write_error);
    p->write_error[0] = '\0';
    return 1;
}

const store_backend_ops store_pg_ops = {
    .name = "postgresql",
    .dialect = STORE_DIALECT_PG,
    .run = store_pg_run,
    .submit = store_pg_submit,
    .write = store_pg_write,
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_version,
    .readonly_why = pg_readonly_why,
    .log_interaction = store_pg_log_interaction,
    .batch_begin = pg_batch_begin,
    .batch_commit = pg_batch_commit,
    .batch_rollback = pg_batch_rollback,
    .budget_reserve = store_pg_budget_reserve,
    .budget_settle = store_pg_budget_settle,
    .log_interaction_settle = store_pg_log_interaction_settle,
    .changed = store_pg_changed,
    .poll_fd = pg_poll_fd,
    .pump = pg_pump_op,
    .busy = pg_busy,
    .set_background = pg_set_background,
    .set_pump_limit = pg_set_pump_limit,
    .take_write_error = pg_take_write_error,
    .log_interaction_settle_async = store_pg_log_interaction_settle_async,
    .budget_reserve_async = store_pg_budget_reserve_async,
};
