/* The queries for the command line, written once for every backend: stats, log, usage,
 * thought trees and tool-loop iterations (store.h). Each is built for its filter (only the
 * conditions given, so the session and created_at indexes serve them); they run rarely, so
 * they are not kept prepared.
 *
 * Both backends' rows read the same, not only hold the same values: times are rounded to the
 * millisecond (D##_ISO), sums that SQLite keeps as integers are cast to BIGINT and money to
 * DOUBLE PRECISION (written by either driver as SQLite writes a REAL), text is ordered
 * bytewise and NULL first. */
#include "store_backend.h"

#include <stdio.h>
#include <string.h>

/* Tokens of one row, every kind counted once. */
#define TOKENS_EXPR                                                                        \
    "(i.input_tokens + i.cache_creation_input_tokens + i.cache_read_input_tokens +"        \
    " i.output_tokens)"

/* A sum of money: 0.0 over no rows. */
#define MONEY(x) "CAST(COALESCE(SUM(" x "), 0) AS DOUBLE PRECISION)"
#define COUNT_IF(cond) "CAST(COALESCE(SUM(CASE WHEN " cond " THEN 1 ELSE 0 END), 0) AS BIGINT)"
#define INT_SUM(x) "CAST(COALESCE(SUM(" x "), 0) AS BIGINT)"

/* The UTC day of a time (D##_ROWID, the commit order of a row: store_driver.h). */
#define SQ_DAY(col) "strftime('%Y-%m-%d', " col ", 'unixepoch')"
#define PG_DAY(col) "to_char(to_timestamp(" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

/* The rows a filter selects, as "FROM ..." with alias i and a stable order key i.rid; %s:
 * the conditions. With f->last the newest N are taken first (%s: " ORDER BY ... LIMIT ?n"),
 * so stats over --last N agree with the log; newest is last committed, which reads N rows
 * where an order by time would read all. */
#define FROM(D) "FROM (SELECT *, " D##_ROWID " AS rid FROM llm_interactions WHERE 1 = 1%s%s) AS i"
#define NEWEST(D) " ORDER BY " D##_ROWID " DESC LIMIT ?%d"

/* %s: the group's expression, FROM, the grouping. */
#define STATS(D)                                                                           \
    "SELECT %s AS \"group\", COUNT(*) AS calls,"                                            \
    " " INT_SUM("i.cache_hit") " AS cache_hits,"                                            \
    " CASE WHEN COUNT(*) > 0"                                                               \
    " THEN CAST(COALESCE(SUM(i.cache_hit), 0) AS DOUBLE PRECISION) / COUNT(*)"              \
    " ELSE CAST(0 AS DOUBLE PRECISION) END AS hit_rate,"                                    \
    " " INT_SUM("i.input_tokens") " AS input,"                                              \
    " " INT_SUM("i.output_tokens") " AS output,"                                            \
    " " INT_SUM("i.cache_read_input_tokens") " AS cache_read,"                              \
    " " INT_SUM("i.cache_creation_input_tokens") " AS cache_write,"                         \
    " " MONEY("i.cost_usd") " AS cost_usd,"                                                 \
    " " MONEY("i.cost_without_cache_usd") " AS cost_without_cache_usd,"                     \
    " " MONEY("i.saved_usd") " AS saved_usd,"                                               \
    " " COUNT_IF("i.cost_usd IS NULL") " AS unknown_cost_calls,"                            \
    " " COUNT_IF("i.status <> 'ok'") " AS errors,"                                          \
    /* Message Batches: calls, their cache reads, the saving against standard prices */    \
    " " COUNT_IF("i.service_tier = 'batch'") " AS batch_calls,"                             \
    " " INT_SUM("CASE WHEN i.service_tier = 'batch' THEN i.cache_read_input_tokens END")    \
    " AS batch_cache_read,"                                                                 \
    " " MONEY("CASE WHEN i.service_tier = 'batch' THEN i.standard_cost_usd - i.cost_usd END") \
    " AS batch_saved_usd,"                                                                  \
    /* Tool loops: the tool_use blocks received, the calls made as a loop's iterations */  \
    " " INT_SUM("i.tool_calls") " AS tool_calls,"                                           \
    " COUNT(i.iteration) AS iterations"                                                     \
    " %s%s"

#define LOG(D)                                                                             \
    "SELECT i.id AS id, " D##_ISO("i.created_at") " AS created_at,"                         \
    " i.session AS session, i.agent AS agent,"                                              \
    " COALESCE(i.model_served, i.model_requested) AS model, i.status AS status,"            \
    " " TOKENS_EXPR " AS tokens, i.cache_read_input_tokens AS cache_read,"                  \
    " i.cost_usd AS cost, i.latency_ms AS latency_ms, i.error_type AS error_type"           \
    " %s ORDER BY i.created_at, i.rid"

#define USAGE(D)                                                                           \
    "SELECT i.id AS id, i.created_at AS created_at,"                                        \
    " COALESCE(i.model_served, i.model_requested) AS model,"                                \
    " i.input_tokens AS input, i.output_tokens AS output,"                                  \
    " i.cache_creation_input_tokens AS cache_write, i.cache_creation_5m AS cache_write_5m," \
    " i.cache_creation_1h AS cache_write_1h, i.cache_read_input_tokens AS cache_read,"      \
    " i.cost_usd AS cost"                                                                   \
    " %s ORDER BY i.created_at, i.rid"

/* Texts filled for each query (store_sql_format), in each dialect. */
#define GROUP_DAY(D) D##_DAY("i.created_at")
static const store_sql T_FROM = STORE_SQL(FROM), T_NEWEST = STORE_SQL(NEWEST),
                       T_STATS = STORE_SQL(STATS), T_LOG = STORE_SQL(LOG),
                       T_USAGE = STORE_SQL(USAGE), T_DAY = STORE_SQL(GROUP_DAY);

/* One row per iteration of every tool loop; %s: the session condition, or "". */
static const char ITERATIONS[] =
    "SELECT i.thought_id AS thought, i.iteration AS iteration, i.tool_calls AS tool_calls,"
    " i.stop_reason AS stop_reason, " TOKENS_EXPR " AS tokens, i.cost_usd AS cost"
    " FROM llm_interactions AS i"
    " WHERE i.thought_id IS NOT NULL AND i.iteration IS NOT NULL%s"
    " ORDER BY i.thought_id, i.created_at";

/* sub(root, parent_id, label, id): every node (root, with its parent and label) paired with
 * itself and each of its descendants (id); %s: the session condition, or "". The root's columns
 * ride along the recursion rather than be joined back from thought_trees: with that join,
 * SQLite without statistics ordered a scan of every node first and, for the calls, built a
 * temporary index by reading the whole of llm_interactions on every run; with sub alone in
 * front, each node's calls are found through llm_interactions_thought (test_store's
 * thought_index). Grouped by all three, which the root alone determines. */
static const char THOUGHTS[] =
    "WITH RECURSIVE sub(root, parent_id, label, id) AS ("
    " SELECT id, parent_id, label, id FROM thought_trees%s"
    " UNION ALL"
    " SELECT sub.root, sub.parent_id, sub.label, t.id"
    " FROM thought_trees AS t JOIN sub ON t.parent_id = sub.id)"
    " SELECT sub.root AS id, sub.parent_id AS parent_id, sub.label AS label,"
    " COUNT(i.id) AS calls, " INT_SUM(TOKENS_EXPR) " AS tokens, " MONEY("i.cost_usd") " AS cost"
    " FROM sub LEFT JOIN llm_interactions AS i ON i.thought_id = sub.id"
    " GROUP BY sub.root, sub.parent_id, sub.label ORDER BY sub.root, sub.parent_id, sub.label";

/* Runs tmpl with its %s filled by the filter's FROM and the rest of args. */
typedef struct built {
    store_where w;
    char from[768];
} built;

static int build_from(store_db *s, const store_filter *f, built *b)
{
    int d = store_dialect(s);
    memset(&b->w, 0, sizeof b->w);
    if (f && f->session)
        store_where_add(&b->w, "session = ?", sv_text(f->session));
    if (f && f->since > 0)
        store_where_add(&b->w, "created_at >= ?", sv_real(f->since));
    char newest[64] = "";
    if (f && f->last > 0) {
        b->w.v[b->w.n++] = sv_int(f->last);
        char fmt[64];
        snprintf(fmt, sizeof fmt, "%s", T_NEWEST.text[d]);
        snprintf(newest, sizeof newest, fmt, b->w.n);
    }
    return store_sql_format(b->from, sizeof b->from, T_FROM.text[d], b->w.sql, newest);
}

static int run_built(store_db *s, const char *what, const char *sql, int ok, const built *b,
                     store_row_fn fn, void *ud, error_info *err)
{
    if (ok != 0)
        return store_invalid(err, "cannot %s: the filter is too long", what);
    store_stmt st = {NULL, what, b->w.n, b->w.v, sql};
    return store_exec(s, &st, fn, ud, err);
}

int store_read_stats(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                     error_info *err)
{
    int d = store_dialect(s);
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
        group = T_DAY.text[d];
    char group_col[400];
    if (group)
        snprintf(group_col, sizeof group_col, "(%s)%s", group,
                 d == STORE_DIALECT_PG ? PG_COLLATE_C : SQ_COLLATE_C);
    else
        snprintf(group_col, sizeof group_col, "CAST('total' AS TEXT)");
    built b;
    char sql[4096];
    int ok = build_from(s, f, &b);
    if (ok == 0)
        ok = store_sql_format(sql, sizeof sql, T_STATS.text[d], group_col, b.from,
                              group ? " GROUP BY 1 ORDER BY 1 NULLS FIRST" : "");
    return run_built(s, "query stats", sql, ok, &b, fn, ud, err);
}

static int read_rows(store_db *s, const store_sql *t, const char *what, const store_filter *f,
                     store_row_fn fn, void *ud, error_info *err)
{
    built b;
    char sql[2048];
    int ok = build_from(s, f, &b);
    if (ok == 0)
        ok = store_sql_format(sql, sizeof sql, t->text[store_dialect(s)], b.from);
    return run_built(s, what, sql, ok, &b, fn, ud, err);
}

int store_read_log(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                   error_info *err)
{
    return read_rows(s, &T_LOG, "query the log", f, fn, ud, err);
}

int store_read_usage(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                     error_info *err)
{
    return read_rows(s, &T_USAGE, "query usage", f, fn, ud, err);
}

static int by_session(store_db *s, const char *tmpl, const char *cond, const char *what,
                      const char *session, store_row_fn fn, void *ud, error_info *err)
{
    char sql[2048];
    if (store_sql_format(sql, sizeof sql, tmpl, session ? cond : "") != 0)
        return store_invalid(err, "cannot %s: the query is too long", what);
    store_val v[] = {sv_text(session)};
    store_stmt st = {NULL, what, session ? 1 : 0, v, sql};
    return store_exec(s, &st, fn, ud, err);
}

int store_read_thoughts(store_db *s, const char *session, store_row_fn fn, void *ud,
                        error_info *err)
{
    return by_session(s, THOUGHTS, " WHERE session = ?1", "query thoughts", session, fn, ud,
                      err);
}

int store_read_iterations(store_db *s, const char *session, store_row_fn fn, void *ud,
                          error_info *err)
{
    return by_session(s, ITERATIONS, " AND i.session = ?1", "query iterations", session, fn,
                      ud, err);
}
