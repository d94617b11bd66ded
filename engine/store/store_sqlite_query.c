/* The SQLite backend's queries for the command line: stats, log and thought trees.
 * Each is built for its filter (only the conditions given, so the session and created_at
 * indexes serve them), prepared, and stepped once; they run rarely, so they are not cached. */
#include "store_sqlite.h"
#include "store_query_sql.h"

#include <stdio.h>
#include <string.h>

#define MAX_QUERY_COLS 24

/* The rows a filter selects, as "FROM ..." with alias i and a stable order key i.rid.
 * With f->last the newest N are taken first, so stats over --last N agree with the log; newest
 * is last committed (rowid order), which reads N rows where an order by time would read all. */
static void filter_from(const store_filter *f, char *out, size_t n)
{
    char where[128] = "1";
    if (f && f->session)
        strcat(where, " AND session = :session");
    if (f && f->since > 0)
        strcat(where, " AND created_at >= :since");
    if (f && f->last > 0)
        snprintf(out, n,
                 "FROM (SELECT *, rowid AS rid FROM llm_interactions WHERE %s"
                 " ORDER BY rowid DESC LIMIT :last) AS i",
                 where);
    else
        snprintf(out, n, "FROM (SELECT *, rowid AS rid FROM llm_interactions WHERE %s) AS i",
                 where);
}

static int bind_named(sqlite3_stmt *st, const char *name, int kind, const void *v)
{
    int idx = sqlite3_bind_parameter_index(st, name);
    if (idx == 0)
        return SQLITE_OK;
    switch (kind) {
    case 's': return sqlite3_bind_text(st, idx, (const char *)v, -1, SQLITE_STATIC);
    case 'd': return sqlite3_bind_double(st, idx, *(const double *)v);
    default: return sqlite3_bind_int(st, idx, *(const int *)v);
    }
}

/* Prepares sql, binds the filter's values, and hands every row to fn. */
static int run_query(sq *q, const char *what, const char *sql, const store_filter *f,
                     const char *session, store_row_fn fn, void *ud, error_info *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_sqlite_fail(q, err, rc, "query %s in", what);
        sqlite3_finalize(st);
        return -1;
    }
    if (f && f->session)
        session = f->session;
    if (session)
        rc = bind_named(st, ":session", 's', session);
    if (rc == SQLITE_OK && f && f->since > 0)
        rc = bind_named(st, ":since", 'd', &f->since);
    if (rc == SQLITE_OK && f && f->last > 0)
        rc = bind_named(st, ":last", 'i', &f->last);
    if (rc != SQLITE_OK) {
        store_sqlite_fail(q, err, rc, "query %s in", what);
        sqlite3_finalize(st);
        return -1;
    }

    int ncols = sqlite3_column_count(st);
    if (ncols > MAX_QUERY_COLS) { /* a programming error in this file */
        store_fail(err, "store: cannot query %s: %d columns, at most %d", what, ncols,
                   MAX_QUERY_COLS);
        sqlite3_finalize(st);
        return -1;
    }
    const char *names[MAX_QUERY_COLS];
    const char *values[MAX_QUERY_COLS];
    for (int c = 0; c < ncols; c++) {
        names[c] = sqlite3_column_name(st, c);
        if (!names[c]) {
            store_fail(err, "store: cannot query %s in %s: out of memory", what, q->path);
            sqlite3_finalize(st);
            return -1;
        }
    }
    int result = 0;
    char types[MAX_QUERY_COLS];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < ncols; c++) {
            types[c] = store_sqlite_row_type(sqlite3_column_type(st, c)); /* before the text */
            values[c] = (const char *)sqlite3_column_text(st, c);
            if (!values[c] && types[c] != ROW_NULL) {
                store_fail(err, "store: cannot query %s in %s: out of memory", what, q->path);
                sqlite3_finalize(st);
                return -1;
            }
        }
        if (fn(ud, ncols, names, values, types) != 0) {
            result = 1;
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        store_sqlite_fail(q, err, rc, "query %s in", what);
        result = -1;
    }
    sqlite3_finalize(st);
    return result;
}

int store_sqlite_query_stats(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                          error_info *err)
{
    const char *g = f ? f->group_by : NULL;
    const char *group = "'total'";
    if (g && strcmp(g, "model") == 0)
        group = "COALESCE(i.model_served, i.model_requested)";
    else if (g && strcmp(g, "session") == 0)
        group = "i.session";
    else if (g && strcmp(g, "agent") == 0)
        group = "i.agent";
    else if (g && strcmp(g, "template") == 0)
        group = "CASE WHEN i.template IS NULL THEN NULL WHEN i.template_version IS NULL"
                " THEN i.template ELSE i.template || '@' || i.template_version END";
    else if (g && strcmp(g, "day") == 0)
        group = "strftime('%Y-%m-%d', i.created_at, 'unixepoch')"; /* the UTC day */
    int grouped = strcmp(group, "'total'") != 0;

    char from[512];
    filter_from(f, from, sizeof from);
    char sql[3072];
    snprintf(sql, sizeof sql,
             "SELECT %s AS \"group\", COUNT(*) AS calls,"
             " COALESCE(SUM(i.cache_hit), 0) AS cache_hits,"
             " CASE WHEN COUNT(*) > 0 THEN 1.0 * COALESCE(SUM(i.cache_hit), 0) / COUNT(*)"
             " ELSE 0.0 END AS hit_rate,"
             " COALESCE(SUM(i.input_tokens), 0) AS input,"
             " COALESCE(SUM(i.output_tokens), 0) AS output,"
             " COALESCE(SUM(i.cache_read_input_tokens), 0) AS cache_read,"
             " COALESCE(SUM(i.cache_creation_input_tokens), 0) AS cache_write,"
             " TOTAL(i.cost_usd) AS cost_usd,"
             " TOTAL(i.cost_without_cache_usd) AS cost_without_cache_usd,"
             " TOTAL(i.saved_usd) AS saved_usd,"
             " COALESCE(SUM(i.cost_usd IS NULL), 0) AS unknown_cost_calls,"
             " COALESCE(SUM(i.status <> 'ok'), 0) AS errors,"
             /* Message Batches: calls, their cache reads, and the saving against standard prices */
             " COALESCE(SUM(i.service_tier = 'batch'), 0) AS batch_calls,"
             " COALESCE(SUM(CASE WHEN i.service_tier = 'batch' THEN i.cache_read_input_tokens END), 0)"
             " AS batch_cache_read,"
             " TOTAL(CASE WHEN i.service_tier = 'batch' THEN i.standard_cost_usd - i.cost_usd END)"
             " AS batch_saved_usd,"
             /* Tool loops: the tool_use blocks received, and the calls made as a loop's iterations */
             " COALESCE(SUM(i.tool_calls), 0) AS tool_calls,"
             " COUNT(i.iteration) AS iterations"
             " %s%s",
             group, from, grouped ? " GROUP BY 1 ORDER BY 1" : "");
    return run_query(sq_of(s), "stats", sql, f, NULL, fn, ud, err);
}

int store_sqlite_query_log(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                        error_info *err)
{
    char from[512];
    filter_from(f, from, sizeof from);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT i.id AS id,"
             " strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', i.created_at, 'unixepoch') AS created_at,"
             " i.session AS session, i.agent AS agent,"
             " COALESCE(i.model_served, i.model_requested) AS model, i.status AS status,"
             " " TOKENS_EXPR " AS tokens, i.cache_read_input_tokens AS cache_read,"
             " i.cost_usd AS cost, i.latency_ms AS latency_ms, i.error_type AS error_type"
             " %s ORDER BY i.created_at, i.rid",
             from);
    return run_query(sq_of(s), "the log", sql, f, NULL, fn, ud, err);
}

int store_sqlite_query_usage(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                             error_info *err)
{
    char from[512];
    filter_from(f, from, sizeof from);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT i.id AS id, i.created_at AS created_at,"
             " COALESCE(i.model_served, i.model_requested) AS model,"
             " i.input_tokens AS input, i.output_tokens AS output,"
             " i.cache_creation_input_tokens AS cache_write, i.cache_creation_5m AS cache_write_5m,"
             " i.cache_creation_1h AS cache_write_1h, i.cache_read_input_tokens AS cache_read,"
             " i.cost_usd AS cost"
             " %s ORDER BY i.created_at, i.rid",
             from);
    return run_query(sq_of(s), "usage", sql, f, NULL, fn, ud, err);
}

int store_sqlite_query_iterations(store_db *s, const char *session, store_row_fn fn, void *ud,
                                  error_info *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, ITERATIONS_SQL,
             session ? " AND i.session = :session" : "");
    return run_query(sq_of(s), "iterations", sql, NULL, session, fn, ud, err);
}

int store_sqlite_query_thoughts(store_db *s, const char *session, store_row_fn fn, void *ud,
                             error_info *err)
{
    /* sub(root, id): every node paired with itself and each of its descendants. */
    char sql[2048];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE sub(root, id) AS ("
             " SELECT id, id FROM thought_trees%s"
             " UNION ALL"
             " SELECT sub.root, t.id FROM thought_trees AS t JOIN sub ON t.parent_id = sub.id)"
             " SELECT n.id AS id, n.parent_id AS parent_id, n.label AS label,"
             " COUNT(i.id) AS calls, COALESCE(SUM(" TOKENS_EXPR "), 0) AS tokens,"
             " TOTAL(i.cost_usd) AS cost"
             " FROM sub JOIN thought_trees AS n ON n.id = sub.root"
             " LEFT JOIN llm_interactions AS i ON i.thought_id = sub.id"
             " GROUP BY n.id ORDER BY n.id",
             session ? " WHERE session = :session" : "");
    return run_query(sq_of(s), "thoughts", sql, NULL, session, fn, ud, err);
}
