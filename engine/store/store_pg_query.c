/* The PostgreSQL backend's queries for the command line: stats, log, thought trees, the audit
 * trail and one stored exchange; the same SQL as store_sqlite_query.c in PostgreSQL's dialect,
 * with the same columns, so the callers print either backend's rows alike.
 *
 * Two things make the rows read the same as SQLite's, not only hold the same values:
 * - times: PG_ISO rounds to the millisecond as SQLite's strftime does (to_char truncates);
 * - real numbers: PostgreSQL writes the shortest exact text ("3", "0.30000000000000004"),
 *   SQLite "%!.15g" ("3.0", "0.3"); the CLI table shows a number with a '.' as money and
 *   one without as a count, so pg_rows() rewrites double precision columns.
 * Text is ordered bytewise (COLLATE "C") and NULL first, as SQLite orders it. */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"
#include "store_query_sql.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the filter ---- */

/* The parameters of one query: their values and the text of the numbers. */
typedef struct params {
    const char *v[4];
    char num[4][32];
    int n;
} params;

/* Adds value as the next parameter; returns its number ($1 ...). */
static int param(params *ps, const char *value)
{
    ps->v[ps->n] = value;
    return ++ps->n;
}

static int param_num(params *ps, double value)
{
    return param(ps, pg_num(ps->num[ps->n], value));
}

static int param_int(params *ps, int64_t value)
{
    return param(ps, pg_int(ps->num[ps->n], value));
}

/* " AND session = $n AND created_at >= $m" for the filter's conditions. */
static void filter_where(const store_filter *f, params *ps, char *out, size_t n)
{
    char *at = out;
    *at = '\0';
    if (f && f->session)
        at += snprintf(at, n - (size_t)(at - out), " AND session = $%d::text",
                       param(ps, f->session));
    if (f && f->since > 0)
        snprintf(at, n - (size_t)(at - out), " AND created_at >= $%d::double precision",
                 param_num(ps, f->since));
}

/* The rows a filter selects, as "FROM ..." with alias i and a stable order key i.rid (the
 * commit order, seq). With f->last the newest N are taken first, so stats over --last N
 * agree with the log. */
static void filter_from(const store_filter *f, params *ps, char *out, size_t n)
{
    char where[128];
    filter_where(f, ps, where, sizeof where);
    if (f && f->last > 0) {
        int k = param_int(ps, f->last);
        snprintf(out, n,
                 "FROM (SELECT *, seq AS rid FROM llm_interactions WHERE true%s"
                 " ORDER BY seq DESC LIMIT $%d::bigint) AS i",
                 where, k);
    } else {
        snprintf(out, n, "FROM (SELECT *, seq AS rid FROM llm_interactions WHERE true%s) AS i",
                 where);
    }
}

/* ---- the queries ---- */

int store_pg_query_stats(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                         error_info *err)
{
    const char *g = f ? f->group_by : NULL;
    const char *group = NULL;
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
        group = "to_char(to_timestamp(i.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"; /* the UTC day */

    params ps = {.n = 0};
    char from[512];
    filter_from(f, &ps, from, sizeof from);
    char group_col[256];
    if (group)
        snprintf(group_col, sizeof group_col, "(%s) COLLATE \"C\"", group);
    else
        snprintf(group_col, sizeof group_col, "text 'total'");
    char sql[3072];
    snprintf(sql, sizeof sql,
             "SELECT %s AS \"group\", COUNT(*) AS calls,"
             " COALESCE(SUM(i.cache_hit), 0)::bigint AS cache_hits,"
             " CASE WHEN COUNT(*) > 0"
             " THEN COALESCE(SUM(i.cache_hit), 0)::double precision / COUNT(*)"
             " ELSE 0.0::double precision END AS hit_rate,"
             " COALESCE(SUM(i.input_tokens), 0)::bigint AS input,"
             " COALESCE(SUM(i.output_tokens), 0)::bigint AS output,"
             " COALESCE(SUM(i.cache_read_input_tokens), 0)::bigint AS cache_read,"
             " COALESCE(SUM(i.cache_creation_input_tokens), 0)::bigint AS cache_write,"
             " COALESCE(SUM(i.cost_usd), 0)::double precision AS cost_usd,"
             " COALESCE(SUM(i.cost_without_cache_usd), 0)::double precision"
             " AS cost_without_cache_usd,"
             " COALESCE(SUM(i.saved_usd), 0)::double precision AS saved_usd,"
             " COALESCE(SUM(CASE WHEN i.cost_usd IS NULL THEN 1 ELSE 0 END), 0)::bigint"
             " AS unknown_cost_calls,"
             " COALESCE(SUM(CASE WHEN i.status <> 'ok' THEN 1 ELSE 0 END), 0)::bigint AS errors,"
             " COALESCE(SUM(CASE WHEN i.service_tier = 'batch' THEN 1 ELSE 0 END), 0)::bigint AS batch_calls,"
             " COALESCE(SUM(CASE WHEN i.service_tier = 'batch' THEN i.cache_read_input_tokens END), 0)::bigint"
             " AS batch_cache_read,"
             " COALESCE(SUM(CASE WHEN i.service_tier = 'batch' THEN i.standard_cost_usd - i.cost_usd END), 0)"
             "::double precision AS batch_saved_usd,"
             " COALESCE(SUM(i.tool_calls), 0)::bigint AS tool_calls,"
             " COUNT(i.iteration)::bigint AS iterations"
             " %s%s",
             group_col, from, group ? " GROUP BY 1 ORDER BY 1 NULLS FIRST" : "");
    return pg_rows(pg_of(s), "query stats", sql, ps.n, ps.v, fn, ud, err);
}

int store_pg_query_log(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                       error_info *err)
{
    params ps = {.n = 0};
    char from[512];
    filter_from(f, &ps, from, sizeof from);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT i.id AS id, " PG_ISO("i.created_at") " AS created_at,"
             " i.session AS session, i.agent AS agent,"
             " COALESCE(i.model_served, i.model_requested) AS model, i.status AS status,"
             " " TOKENS_EXPR " AS tokens, i.cache_read_input_tokens AS cache_read,"
             " i.cost_usd AS cost, i.latency_ms AS latency_ms, i.error_type AS error_type"
             " %s ORDER BY i.created_at, i.rid",
             from);
    return pg_rows(pg_of(s), "query the log", sql, ps.n, ps.v, fn, ud, err);
}

int store_pg_query_usage(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                         error_info *err)
{
    params ps = {.n = 0};
    char from[512];
    filter_from(f, &ps, from, sizeof from);
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
    return pg_rows(pg_of(s), "query usage", sql, ps.n, ps.v, fn, ud, err);
}

int store_pg_query_iterations(store_db *s, const char *session, store_row_fn fn, void *ud,
                              error_info *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, ITERATIONS_SQL,
             session ? " AND i.session = $1::text" : "");
    const char *v[] = {session};
    return pg_rows(pg_of(s), "query iterations", sql, session ? 1 : 0, v, fn, ud, err);
}

int store_pg_query_thoughts(store_db *s, const char *session, store_row_fn fn, void *ud,
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
             " COUNT(i.id) AS calls, COALESCE(SUM(" TOKENS_EXPR "), 0)::bigint AS tokens,"
             " COALESCE(SUM(i.cost_usd), 0)::double precision AS cost"
             " FROM sub JOIN thought_trees AS n ON n.id = sub.root"
             " LEFT JOIN llm_interactions AS i ON i.thought_id = sub.id"
             " GROUP BY n.id ORDER BY n.id",
             session ? " WHERE session = $1::text" : "");
    const char *v[] = {session};
    return pg_rows(pg_of(s), "query thoughts", sql, session ? 1 : 0, v, fn, ud,
                             err);
}

int store_pg_query_exchange(store_db *s, const char *id, store_row_fn fn, void *ud,
                            error_info *err)
{
    char what[128];
    snprintf(what, sizeof what, "read the exchange %.64s", id);
    const char *v[] = {id};
    return pg_rows(
        pg_of(s), what,
        "SELECT id, " PG_ISO("created_at") " AS created_at, session, agent,"
        " COALESCE(model_served, model_requested) AS model, status, error_type,"
        " error_message, request_id, attempts, attempts_json,"
        " prompt_text AS request, response_text AS response, request_parts"
        " FROM llm_interactions WHERE id = $1::text",
        1, v, fn, ud, err);
}
