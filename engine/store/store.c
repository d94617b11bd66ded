/* The store's public functions: check arguments once for every backend, then run the query
 * written once (through the backend's driver) or dispatch through the backend's ops table.
 * The backend is chosen by the URI at open. */
#include "store_backend.h"

#include "base/clock.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* err (if not NULL) of type with the message prefix + fmt, not retryable; refused 0 or 1, or
 * -1 to leave it as it is. Returns -1. */
static int vfail(error_info *err, const char *type, const char *prefix, int refused, const char *fmt,
                 va_list ap)
{
    if (!err)
        return -1;
    char msg[sizeof err->message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    error_set(err, type, 0, "%s%s", prefix, msg);
    err->retryable = 0;
    if (refused >= 0)
        err->refused = refused;
    return -1;
}

void store_fail(error_info *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, "store_error", "", 0, fmt, ap);
    va_end(ap);
}

/* The values given are refused, not the database. */
int store_invalid(error_info *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, "invalid_argument", "store: ", 1, fmt, ap);
    va_end(ap);
    return -1;
}

static int invalid(error_info *err, const char *what) { return store_invalid(err, "%s", what); }

int store_fail_as(error_info *err, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, type, "", -1, fmt, ap);
    va_end(ap);
    return -1;
}

int store_unsupported(const store_db *s, const char *what, error_info *err)
{
    store_fail(err, "store: cannot %s: not supported by the %s backend", what, s->ops->name);
    return -1;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int store_uri_is_pg(const char *uri)
{
    return uri && (has_prefix(uri, "postgresql://") || has_prefix(uri, "postgres://"));
}

int store_target_id(const char *uri, char out[STORE_TARGET_ID_SIZE])
{
#ifdef NYX_HAVE_PG
    if (store_uri_is_pg(uri))
        return store_pg_target_id(uri, out);
#else
    (void)out;
#endif
    return -1;
}

store_db *store_open_opts(const char *uri, const store_options *opts, error_info *err)
{
    if (!uri || !*uri) {
        invalid(err, "cannot open: no database path given");
        return NULL;
    }
    if (store_name_check(uri, err) != 0)
        return NULL;
    const store_backend_ops *ops = &store_sqlite_ops;
    if (store_uri_is_pg(uri)) {
#ifdef NYX_HAVE_PG
        ops = &store_pg_ops;
#else
        /* The URI is not echoed: it may carry a password. */
        store_fail(err, "store: cannot open the PostgreSQL database: PostgreSQL backend not "
                        "built (this nyx has the SQLite backend only; give a file path)");
        return NULL;
#endif
    }

    store_db *s = calloc(1, sizeof *s);
    if (!s) {
        store_fail(err, "store: cannot open the database: out of memory");
        return NULL;
    }
    s->ops = ops;
    if (ops->open(s, uri, opts, err) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void store_close(store_db *s)
{
    if (!s)
        return;
    s->ops->close(s);
    store_content_memo_free(&s->memo);
    free(s);
}

const char *store_backend_name(const store_db *s) { return s ? s->ops->name : NULL; }

int store_schema_version(const store_db *s) { return s ? s->ops->schema_version(s) : 0; }

int store_is_readonly(const store_db *s) { return store_readonly_why(s) != NULL; }

const char *store_readonly_why(const store_db *s) { return s ? s->ops->readonly_why(s) : NULL; }

static int check_interaction(const store_db *s, const interaction_rec *it, error_info *err)
{
    if (!s || !it)
        return invalid(err, "cannot log interaction: no store or no interaction");
    if (!it->id || !*it->id)
        return invalid(err, "cannot log interaction: it has no id");
    if (!it->status)
        return invalid(err, "cannot log interaction: it has no status");
    if (!it->batch_id != !it->custom_id || (it->batch_id && (!*it->batch_id || !*it->custom_id)))
        return invalid(err, "cannot log interaction: a batch result needs both batch_id and custom_id");
    if (strcmp(it->status, "ok") != 0 && strcmp(it->status, "error") != 0 &&
        strcmp(it->status, "cancelled") != 0) {
        if (err) {
            error_set(err, "invalid_argument", 0,
                          "store: cannot log interaction %s: status \"%s\" is not ok, error or "
                          "cancelled",
                          it->id, it->status);
            err->retryable = 0;
            err->refused = 1;
        }
        return -1;
    }
    return 0;
}

/* out = in through the text filter (store_interaction_filtered), and its prompt_text cut into parts held by
 * parts (out->parts): free both with store_record_free() after the backend has them. */
static int store_record_prepare(store_db *s, store_scrubbed *sc, store_parts *parts,
                                const interaction_rec *in, interaction_rec *out, error_info *err)
{
    memset(parts, 0, sizeof *parts);
    if (store_interaction_filtered(s->filter, s->filter_ud, sc, in, out, err) != 0)
        return -1;
    /* Cut after the text is final: the parts hold exactly what is stored. */
    const char *prompt = out->prompt_text;
    size_t len = !prompt ? 0 : out->prompt_len ? out->prompt_len : strlen(prompt);
    if (store_content_split_known(&s->memo, prompt, len, out->prompt_spans, out->nprompt_spans, parts) != 0) {
        store_scrub_free(sc);
        store_fail(err, "store: cannot log interaction %s: out of memory", in->id);
        return -1;
    }
    out->parts = parts->recipe ? parts : NULL;
    return 0;
}

static void store_record_free(store_scrubbed *sc, store_parts *parts)
{
    store_scrub_free(sc);
    store_parts_free(parts);
}

int store_log_interaction(store_db *s, const interaction_rec *it, error_info *err)
{
    if (check_interaction(s, it, err) != 0)
        return -1;
    store_scrubbed sc = {0};
    store_parts parts;
    interaction_rec clean;
    if (store_record_prepare(s, &sc, &parts, it, &clean, err) != 0)
        return -1;
    int rc = s->ops->log_interaction(s, &clean, err);
    store_record_free(&sc, &parts);
    return rc;
}

static int check_settled_interaction(const store_db *s, const interaction_rec *it,
                                     double actual_usd, error_info *err)
{
    if (check_interaction(s, it, err) != 0)
        return -1;
    if (!(actual_usd >= 0) || isinf(actual_usd))
        return store_invalid(err, "cannot log interaction %s: actual cost %g is not a finite "
                                  "amount >= 0",
                             it->id, actual_usd);
    return 0;
}

/* it checked, stored in parts and handed to the backend: with done, to its asynchronous
 * operation, or, on a store that answers at once (SQLite), done called before returning, a
 * failure included; without done, written now. */
static int log_settle(store_db *s, const interaction_rec *it, const char *reservation_id,
                      double actual_usd, store_done_fn done, void *ud, error_info *err)
{
    if (check_settled_interaction(s, it, actual_usd, err) != 0)
        return -1;
    int async = done && s->ops->log_interaction_settle_async;
    if (!async && !s->ops->log_interaction_settle)
        return store_unsupported(s, "log an interaction and settle its reservation", err);
    if (reservation_id && !*reservation_id)
        reservation_id = NULL;
    store_scrubbed sc = {0};
    store_parts parts;
    interaction_rec clean;
    if (store_record_prepare(s, &sc, &parts, it, &clean, err) != 0)
        return -1;
    int rc;
    if (async) {
        rc = s->ops->log_interaction_settle_async(s, &clean, reservation_id, actual_usd, done, ud, err);
    } else {
        rc = s->ops->log_interaction_settle(s, &clean, reservation_id, actual_usd, err);
        if (done) {
            done(ud, rc, -1, rc ? err : NULL);
            rc = 0;
        }
    }
    store_record_free(&sc, &parts);
    return rc;
}

int store_log_interaction_settle(store_db *s, const interaction_rec *it,
                                 const char *reservation_id, double actual_usd, error_info *err)
{
    return log_settle(s, it, reservation_id, actual_usd, NULL, NULL, err);
}

int store_batch_begin(store_db *s, error_info *err)
{
    if (!s)
        return invalid(err, "cannot begin a batch: no store");
    return s->ops->batch_begin(s, err);
}

int store_batch_commit(store_db *s, error_info *err)
{
    if (!s)
        return invalid(err, "cannot commit a batch: no store");
    return s->ops->batch_commit(s, err);
}

int store_batch_rollback(store_db *s, error_info *err)
{
    if (!s)
        return invalid(err, "cannot roll back a batch: no store");
    return s->ops->batch_rollback(s, err);
}

/* ---- sessions and thought nodes, written once ---- */

static const store_sql SQL_SESSION_UPSERT = STORE_SQL_SAME(
    "INSERT INTO sessions (name, started_at, budget_usd) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO UPDATE SET ended_at = NULL,"
    " budget_usd = COALESCE(excluded.budget_usd, sessions.budget_usd)");

/* One statement: the totals and the row are written atomically, with or without a batch.
 * The aggregate always yields one row, so a session never upserted gets one. */
static const store_sql SQL_SESSION_END = STORE_SQL_SAME(
    "INSERT INTO sessions (name, started_at, ended_at, calls, cost_usd, saved_usd,"
    " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)"
    " SELECT ?1, COALESCE(MIN(created_at), ?2), ?2, COUNT(*),"
    " CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION),"
    " CAST(COALESCE(SUM(saved_usd), 0) AS DOUBLE PRECISION),"
    " COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),"
    " COALESCE(SUM(cache_read_input_tokens), 0), COALESCE(SUM(cache_creation_input_tokens), 0)"
    " FROM llm_interactions WHERE session = ?1"
    " ON CONFLICT (name) DO UPDATE SET ended_at = excluded.ended_at,"
    " calls = excluded.calls, cost_usd = excluded.cost_usd, saved_usd = excluded.saved_usd,"
    " input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,"
    " cache_read_tokens = excluded.cache_read_tokens,"
    " cache_write_tokens = excluded.cache_write_tokens");

/* The parent check and the insert are one statement: no row when the parent is unknown,
 * and ids only grow, so the tree can never hold a cycle. */
static const store_sql SQL_THOUGHT_ADD = STORE_SQL_SAME(
    "INSERT INTO thought_trees (session, parent_id, label, created_at)"
    " SELECT ?1, ?2, ?3, ?4"
    " WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM thought_trees WHERE id = ?2) RETURNING id");

/* The new node's id (no row: the parent is unknown, the caller's mistake, not the
 * database's: a batch stays usable). */
typedef struct thought_wait {
    int64_t parent, id;
    int found;
    store_id_fn done;
    void *ud;
} thought_wait;

static int take_thought(void *ud, int ncols, const char *const *names, const char *const *values,
                        const char *types)
{
    (void)names;
    (void)types;
    thought_wait *w = ud;
    w->found = ncols > 0 && values[0];
    w->id = w->found ? strtoll(values[0], NULL, 10) : 0;
    return 1;
}

static int thought_outcome(const thought_wait *w, error_info *err)
{
    if (w->found)
        return 0;
    if (err) {
        error_set(err, "invalid_argument", 0,
                  "store: cannot add a thought node: parent node %lld does not exist",
                  (long long)w->parent);
        err->retryable = 0;
    }
    return -1;
}

static void thought_answered(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused;
    thought_wait w = *(thought_wait *)ud;
    free(ud);
    error_info e;
    error_clear(&e);
    if (rc == 0 && thought_outcome(&w, &e) != 0) {
        rc = -1;
        err = &e;
    }
    w.done(w.ud, rc, rc == 0 ? w.id : 0, rc == 0 ? NULL : err);
}

/* A session created (its budget set again) or ended (verb), by its stored (scrubbed) name: the
 * statement takes the name, the time and (n 3) the budget. */
static int session_write(store_db *s, const char *name, const char *verb, const store_sql *sql, int n,
                         double budget_usd, error_info *err)
{
    if (!s || !name || !*name)
        return store_invalid(err, "cannot %s a session: no store or no session name", verb);
    store_scrubbed sc = {0};
    name = store_scrub(s, &sc, name, 1);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    char what[160];
    snprintf(what, sizeof what, "%s session %.100s", verb, name);
    store_val v[] = {sv_text(name), sv_real(clock_wall_s()), sv_real_or_null(budget_usd >= 0, budget_usd)};
    store_stmt st = {sql, what, n, v, NULL};
    int rc = store_exec_quiet(s, &st, err);
    store_scrub_free(&sc);
    return rc;
}

int store_session_upsert(store_db *s, const char *name, double budget_usd, error_info *err)
{
    return session_write(s, name, "create", &SQL_SESSION_UPSERT, 3, budget_usd, err);
}

int store_session_end(store_db *s, const char *name, error_info *err)
{
    return session_write(s, name, "end", &SQL_SESSION_END, 2, -1, err);
}

/* A thought node checked and scrubbed once, then added: with done, by the backend's
 * asynchronous submit, or, on a store that answers at once (SQLite), now with done called
 * before returning, a failure included (an unknown parent); without done, now into *id_out. */
static int thought_add(store_db *s, const char *session, int64_t parent, const char *label,
                       store_id_fn done, void *ud, int64_t *id_out, error_info *err)
{
    if (!s || (!done && !id_out))
        return invalid(err, "cannot add a thought: no store or no place for the id");
    if (parent < 0)
        return invalid(err, "cannot add a thought: parent id is negative");
    store_scrubbed sc = {0};
    session = store_scrub(s, &sc, session, 1);
    label = store_scrub(s, &sc, label, 0);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    store_val v[] = {sv_text(session), sv_int_or_null(parent != 0, parent), sv_text(label),
                     sv_real(clock_wall_s())};
    store_stmt st = {&SQL_THOUGHT_ADD, "add a thought node", 4, v, NULL};
    int rc;
    if (done && s->ops->submit) {
        thought_wait *w = malloc(sizeof *w);
        if (!w) {
            rc = -1;
            store_fail(err, "store: cannot add a thought node: out of memory");
        } else {
            *w = (thought_wait){.parent = parent, .done = done, .ud = ud};
            rc = store_exec_async(s, &st, take_thought, w, thought_answered, w, err);
            if (rc != 0)
                free(w);
        }
    } else {
        thought_wait w = {.parent = parent};
        rc = store_exec(s, &st, take_thought, &w, err) < 0 ? -1 : thought_outcome(&w, err);
        if (done) {
            done(ud, rc, rc ? 0 : w.id, rc ? err : NULL);
            rc = 0;
        } else if (rc == 0) {
            *id_out = w.id;
        }
    }
    store_scrub_free(&sc);
    return rc;
}

int store_thought_add(store_db *s, const char *session, int64_t parent, const char *label,
                      int64_t *id_out, error_info *err)
{
    return thought_add(s, session, parent, label, NULL, NULL, id_out, err);
}

int store_thought_add_async(store_db *s, const char *session, int64_t parent, const char *label,
                            store_id_fn done, void *ud, error_info *err)
{
    if (!done)
        return invalid(err, "cannot add a thought: no function to call with the id");
    return thought_add(s, session, parent, label, done, ud, NULL, err);
}

static int check_filter(const store_filter *f, error_info *err)
{
    if (!f)
        return 0;
    if (f->last < 0)
        return invalid(err, "cannot query: last must be 0 (all) or a positive count");
    if (f->group_by && strcmp(f->group_by, "total") != 0 && strcmp(f->group_by, "model") != 0 &&
        strcmp(f->group_by, "session") != 0 && strcmp(f->group_by, "agent") != 0 &&
        strcmp(f->group_by, "template") != 0 && strcmp(f->group_by, "day") != 0) {
        if (err) {
            error_set(err, "invalid_argument", 0,
                          "store: cannot group by \"%s\" (use total, model, session, agent, "
                          "template or day)",
                          f->group_by);
            err->retryable = 0;
        }
        return -1;
    }
    return 0;
}

typedef int (*filter_read_fn)(store_db *, const store_filter *, store_row_fn, void *,
                              error_info *);
typedef int (*session_read_fn)(store_db *, const char *, store_row_fn, void *, error_info *);

/* Stats, the log and the usage match stored (scrubbed) names, so the filter's names are
   scrubbed the same way before the backend reads. */
static int query_scrubbed(store_db *s, const store_filter *f, filter_read_fn read,
                          const char *no_store, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn)
        return invalid(err, no_store);
    if (check_filter(f, err) != 0)
        return -1;
    store_scrubbed sc = {0};
    store_filter clean;
    if (store_scrub_filter(s, &sc, f, &clean, err) != 0)
        return -1;
    int rc = read(s, f ? &clean : NULL, fn, ud, err);
    store_scrub_free(&sc);
    return rc;
}

/* Thoughts and iterations are read by one session's stored (scrubbed) name. */
static int query_session(store_db *s, const char *session, session_read_fn read,
                         const char *no_store, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn)
        return invalid(err, no_store);
    store_scrubbed sc = {0};
    session = store_scrub(s, &sc, session, 1);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    int rc = read(s, session, fn, ud, err);
    store_scrub_free(&sc);
    return rc;
}

int store_query_stats(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                      error_info *err)
{
    return query_scrubbed(s, f, store_read_stats,
                          "cannot query stats: no store or no row callback", fn, ud, err);
}

int store_query_log(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                    error_info *err)
{
    return query_scrubbed(s, f, store_read_log,
                          "cannot query the log: no store or no row callback", fn, ud, err);
}

int store_query_usage(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                      error_info *err)
{
    return query_scrubbed(s, f, store_read_usage,
                          "cannot query usage: no store or no row callback", fn, ud, err);
}

int store_query_thoughts(store_db *s, const char *session, store_row_fn fn, void *ud,
                         error_info *err)
{
    return query_session(s, session, store_read_thoughts,
                         "cannot query thoughts: no store or no row callback", fn, ud, err);
}

int store_query_iterations(store_db *s, const char *session, store_row_fn fn, void *ud,
                           error_info *err)
{
    return query_session(s, session, store_read_iterations,
                         "cannot query iterations: no store or no row callback", fn, ud, err);
}

/* ---- in a loop ---- */

int store_poll_fd(store_db *s, int *want_write)
{
    *want_write = 0;
    return s && s->ops->poll_fd ? s->ops->poll_fd(s, want_write) : -1;
}

void store_pump(store_db *s)
{
    if (s && s->ops->pump)
        s->ops->pump(s);
}

int store_busy(const store_db *s) { return s && s->ops->busy ? s->ops->busy(s) : 0; }

int store_answers_later(const store_db *s) { return s && s->ops->log_interaction_settle_async != NULL; }

void store_set_pump_limit(store_db *s, int (*enough)(void *ud), void *ud)
{
    if (s && s->ops->set_pump_limit)
        s->ops->set_pump_limit(s, enough, ud);
}

void store_set_background(store_db *s, int on)
{
    if (s && s->ops->set_background)
        s->ops->set_background(s, on);
}

int store_take_write_error(store_db *s, char *buf, size_t size)
{
    return s && s->ops->take_write_error ? s->ops->take_write_error(s, buf, size) : 0;
}

int store_log_interaction_settle_async(store_db *s, const interaction_rec *it,
                                       const char *reservation_id, double actual_usd,
                                       store_done_fn done, void *ud, error_info *err)
{
    if (!done)
        return invalid(err, "cannot log interaction: no done callback");
    return log_settle(s, it, reservation_id, actual_usd, done, ud, err);
}
