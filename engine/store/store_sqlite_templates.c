/* Prompt templates in SQLite: versions (prompt_templates) and usage totals per version
 * (template_usage).
 *
 * A put looks for the content first without a lock (versions are never changed or
 * deleted, so a version found stays right); only new content takes the write lock, looks
 * again inside the transaction (another process may have added it meanwhile) and numbers
 * the new version max + 1 in the same statement. */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"

/* Matching the text as well as the hash: a hash collision cannot merge two contents. */
static const char SQL_FIND[] = "SELECT version FROM prompt_templates"
                               " WHERE name = ?1 AND hash = ?2 AND content = ?3"
                               " ORDER BY version DESC LIMIT 1";

static const char SQL_ADD[] =
    "INSERT INTO prompt_templates (name, version, content, variables, hash, created_at)"
    " SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4, ?5"
    " FROM prompt_templates WHERE name = ?1 RETURNING version";

static const char SQL_GET[] = "SELECT content, version FROM prompt_templates"
                              " WHERE name = ?1 AND (?2 = 0 OR version = ?2)"
                              " ORDER BY version DESC LIMIT 1";

static const char SQL_LIST[] =
    "SELECT name, MAX(version) AS latest_version, COUNT(*) AS versions,"
    " " SQ_ISO("MAX(created_at)") " AS updated_at"
    " FROM prompt_templates GROUP BY name ORDER BY name";

static const char SQL_HISTORY[] =
    "SELECT version, hash, " SQ_ISO("created_at") " AS created_at,"
    " length(CAST(content AS BLOB)) AS size"
    " FROM prompt_templates WHERE name = ?1 ORDER BY version";

static const char SQL_USE[] =
    "INSERT INTO template_usage (name, version, uses, successes, failures, input_tokens,"
    " output_tokens, cost_usd, latency_ms_total, cache_hits)"
    " VALUES (?1, ?2, ?10, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (name, version) DO UPDATE SET uses = uses + excluded.uses,"
    " successes = successes + excluded.successes, failures = failures + excluded.failures,"
    " input_tokens = input_tokens + excluded.input_tokens,"
    " output_tokens = output_tokens + excluded.output_tokens,"
    " cost_usd = cost_usd + excluded.cost_usd,"
    " latency_ms_total = latency_ms_total + excluded.latency_ms_total,"
    " cache_hits = cache_hits + excluded.cache_hits";

/* Every version stored or used, with its totals (a stored version never used shows 0
 * uses and NULL averages). */
static const char SQL_STATS[] =
    "SELECT v.version AS version, COALESCE(u.uses, 0) AS uses,"
    " COALESCE(u.successes, 0) AS successes, COALESCE(u.failures, 0) AS failures,"
    " CASE WHEN u.successes + u.failures > 0"
    " THEN 1.0 * u.successes / (u.successes + u.failures) END AS success_rate,"
    " COALESCE(u.input_tokens + u.output_tokens, 0) AS tokens,"
    " COALESCE(u.cost_usd, 0.0) AS cost_usd,"
    " CASE WHEN u.uses > 0 THEN u.latency_ms_total / u.uses END AS avg_latency_ms,"
    " CASE WHEN u.uses > 0 THEN 1.0 * u.cache_hits / u.uses END AS cache_hit_rate"
    " FROM (SELECT version FROM prompt_templates WHERE name = ?1"
    " UNION SELECT version FROM template_usage WHERE name = ?1) AS v"
    " LEFT JOIN template_usage AS u ON u.name = ?1 AND u.version = v.version"
    " ORDER BY v.version";

/* Steps b's statement to the end; the first row's column 0 goes to *out. Returns 1 (a row),
 * 0 (none) or -1 with err filled. The statement is reset. */
static int step_int(sq *q, sq_binder *b, const char *what, int *out, error_info *err)
{
    if (b->rc != SQLITE_OK) {
        store_sqlite_exec(q, b, what, err); /* reports the bind failure and resets */
        return -1;
    }
    int found = 0, rc;
    while ((rc = sqlite3_step(b->st)) == SQLITE_ROW) {
        if (!found)
            *out = sqlite3_column_int(b->st, 0);
        found = 1;
    }
    if (rc != SQLITE_DONE)
        store_sqlite_fail(q, err, rc, "%s", what);
    sqlite3_reset(b->st);
    sqlite3_clear_bindings(b->st);
    return rc == SQLITE_DONE ? found : -1;
}

static int find(sq *q, const char *name, const char *content, const char *hash, int *version,
                const char *what, error_info *err)
{
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_TEMPLATE_FIND, SQL_FIND, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, name);
    sqb_text(&b, 2, hash);
    sqb_text(&b, 3, content);
    return step_int(q, &b, what, version, err);
}

int store_sqlite_template_put(store_db *s, const char *name, const char *content,
                              const char *variables_json, const char *hash_hex, int *version,
                              error_info *err)
{
    sq *q = sq_of(s);
    char what[160];
    snprintf(what, sizeof what, "store template %.64s in", name);
    int found = find(q, name, content, hash_hex, version, what, err);
    if (found != 0)
        return found < 0 ? -1 : 0;

    sqlite3_stmt *add = store_sqlite_stmt(q, SL_TEMPLATE_ADD, SQL_ADD, err);
    if (!add || store_sqlite_tx_begin(q, what, err) != 0)
        return -1;
    found = find(q, name, content, hash_hex, version, what, err);
    if (found == 0) {
        sq_binder b = {add, SQLITE_OK};
        sqb_text(&b, 1, name);
        sqb_text(&b, 2, content);
        sqb_text(&b, 3, variables_json);
        sqb_text(&b, 4, hash_hex);
        sqb_real(&b, 5, clock_wall_s());
        found = step_int(q, &b, what, version, err);
        if (found == 0) { /* INSERT ... SELECT with an aggregate always yields its row */
            store_fail(err, "store: cannot %s %s: no version was assigned", what, q->path);
            found = -1;
        }
    }
    if (found < 0) {
        store_sqlite_tx_rollback(q, 1, err);
        return -1;
    }
    return store_sqlite_tx_commit(q, what, err);
}

int store_sqlite_template_get(store_db *s, const char *name, int version, char **content,
                              int *version_out, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_TEMPLATE_GET, SQL_GET, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, name);
    sqb_int(&b, 2, version);
    if (b.rc != SQLITE_OK) {
        store_sqlite_exec(q, &b, "read a template in", err);
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        *version_out = sqlite3_column_int(st, 1);
        *content = text ? store_strdup(text) : NULL;
        rc = *content ? SQLITE_DONE : SQLITE_NOMEM;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_NOTFOUND;
    }
    if (rc == SQLITE_NOTFOUND) {
        if (version > 0)
            store_fail_as(err, "not_found", "store: template %s@%d not found", name, version);
        else
            store_fail_as(err, "not_found", "store: template %s not found", name);
    } else if (rc == SQLITE_NOMEM) {
        store_fail(err, "store: cannot read template %s from %s: out of memory", name, q->path);
    } else if (rc != SQLITE_DONE) {
        store_sqlite_fail(q, err, rc, "read template %.64s from", name);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_sqlite_template_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_TEMPLATE_LIST, SQL_LIST, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    return store_sqlite_rows(q, "templates", &b, 0, fn, ud, err);
}

int store_sqlite_template_history(store_db *s, const char *name, store_row_fn fn, void *ud,
                                  error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_TEMPLATE_HISTORY, SQL_HISTORY, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, name);
    return store_sqlite_rows(q, "template history", &b, 0, fn, ud, err);
}

int store_sqlite_template_usage(store_db *s, const store_template_use *u, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_TEMPLATE_USE, SQL_USE, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, u->name);
    sqb_int(&b, 2, u->version);
    sqb_int(&b, 3, u->successes);
    sqb_int(&b, 4, u->failures);
    sqb_int(&b, 5, u->input_tokens);
    sqb_int(&b, 6, u->output_tokens);
    sqb_real(&b, 7, u->cost_usd);
    sqb_real(&b, 8, u->latency_ms);
    sqb_int(&b, 9, u->cache_hit != 0);
    sqb_int(&b, 10, u->uses);
    char what[160];
    snprintf(what, sizeof what, "record a use of template %.64s@%d in", u->name, u->version);
    return store_sqlite_write(q, &b, what, err);
}

int store_sqlite_template_stats(store_db *s, const char *name, store_row_fn fn, void *ud,
                                error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_TEMPLATE_STATS, SQL_STATS, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, name);
    return store_sqlite_rows(q, "template statistics", &b, 0, fn, ud, err);
}
