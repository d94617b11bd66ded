/* Prompt template versions (prompt_templates) and their usage totals per version
 * (template_usage): argument checks and the queries, written once for every backend.
 * Rendering and hashing are engine/template's.
 *
 * A put looks for the content first without a lock (versions are never changed or
 * deleted, so a version found stays right); only new content opens an operation (SQLite:
 * the write lock), looks again inside it (another process may have added it meanwhile) and
 * numbers the new version max + 1 in the same statement. Two writers that numbered the same
 * version at once (PostgreSQL, where statements are their own transactions) meet on the
 * primary key: the second adds nothing and gets no row, and its next attempt finds the
 * content or numbers after it. */
#include "store_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"

/* Matching the text as well as the hash: a hash collision cannot merge two contents. */
static const store_sql SQL_FIND = STORE_SQL_SAME(
    "SELECT version FROM prompt_templates WHERE name = ?1 AND hash = ?2 AND content = ?3"
    " ORDER BY version DESC LIMIT 1");

/* Looks again in the same statement: on PostgreSQL the find before it saw an older
 * snapshot. */
static const store_sql SQL_ADD = STORE_SQL_SAME(
    "INSERT INTO prompt_templates (name, version, content, variables, hash, created_at)"
    " SELECT ?1, m.next, ?2, ?3, ?4, ?5 FROM (SELECT COALESCE(MAX(version), 0) + 1 AS next"
    " FROM prompt_templates WHERE name = ?1) AS m"
    " WHERE NOT EXISTS (SELECT 1 FROM prompt_templates"
    " WHERE name = ?1 AND hash = ?4 AND content = ?2)"
    " ON CONFLICT (name, version) DO NOTHING RETURNING version");

static const store_sql SQL_GET = STORE_SQL_SAME(
    "SELECT content, version FROM prompt_templates WHERE name = ?1 AND (?2 = 0 OR version = ?2)"
    " ORDER BY version DESC LIMIT 1");

#define LIST(D)                                                                            \
    "SELECT name, MAX(version) AS latest_version, COUNT(*) AS versions,"                   \
    " " D##_ISO("MAX(created_at)") " AS updated_at"                                         \
    " FROM prompt_templates GROUP BY name ORDER BY name" D##_COLLATE_C
static const store_sql SQL_LIST = STORE_SQL(LIST);

#define HISTORY(D)                                                                         \
    "SELECT version, hash, " D##_ISO("created_at") " AS created_at,"                        \
    " " D##_OCTETS("content") " AS size"                                                    \
    " FROM prompt_templates WHERE name = ?1 ORDER BY version"
static const store_sql SQL_HISTORY = STORE_SQL(HISTORY);

static const store_sql SQL_USE = STORE_SQL_SAME(
    "INSERT INTO template_usage (name, version, uses, successes, failures, input_tokens,"
    " output_tokens, cost_usd, latency_ms_total, cache_hits)"
    " VALUES (?1, ?2, ?10, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (name, version) DO UPDATE SET uses = template_usage.uses + excluded.uses,"
    " successes = template_usage.successes + excluded.successes,"
    " failures = template_usage.failures + excluded.failures,"
    " input_tokens = template_usage.input_tokens + excluded.input_tokens,"
    " output_tokens = template_usage.output_tokens + excluded.output_tokens,"
    " cost_usd = template_usage.cost_usd + excluded.cost_usd,"
    " latency_ms_total = template_usage.latency_ms_total + excluded.latency_ms_total,"
    " cache_hits = template_usage.cache_hits + excluded.cache_hits");

/* Every version stored or used, with its totals (a stored version never used shows 0
 * uses and NULL averages). */
static const store_sql SQL_STATS = STORE_SQL_SAME(
    "SELECT v.version AS version, COALESCE(u.uses, 0) AS uses,"
    " COALESCE(u.successes, 0) AS successes, COALESCE(u.failures, 0) AS failures,"
    " CASE WHEN u.successes + u.failures > 0"
    " THEN CAST(u.successes AS DOUBLE PRECISION) / (u.successes + u.failures) END"
    " AS success_rate,"
    " COALESCE(u.input_tokens + u.output_tokens, 0) AS tokens,"
    " COALESCE(u.cost_usd, 0.0) AS cost_usd,"
    " CASE WHEN u.uses > 0 THEN u.latency_ms_total / u.uses END AS avg_latency_ms,"
    " CASE WHEN u.uses > 0 THEN CAST(u.cache_hits AS DOUBLE PRECISION) / u.uses END"
    " AS cache_hit_rate"
    " FROM (SELECT version FROM prompt_templates WHERE name = ?1"
    " UNION SELECT version FROM template_usage WHERE name = ?1) AS v"
    " LEFT JOIN template_usage AS u ON u.name = ?1 AND u.version = v.version"
    " ORDER BY v.version");

#define PUT_TRIES 16

static int check_name(const store_db *s, const char *name, const char *what, error_info *err)
{
    if (!s || !name || !*name)
        return store_invalid(err, "cannot %s: no store or no template name", what);
    return 0;
}

/* The version of content stored under name: 1 (found or added), 0 (another writer took the
 * number: try again), -1 with err. */
static int put_once(store_db *s, const char *what, const store_val *v, int *version,
                    error_info *err)
{
    store_stmt find = {&SQL_FIND, what, 3, (store_val[]){v[0], v[3], v[1]}, NULL};
    int64_t found_v = 0;
    int found = store_exec_int(s, &find, &found_v, err);
    if (found == 0) {
        if (store_tx_begin(s, what, err) != 0)
            return -1;
        found = store_exec_int(s, &find, &found_v, err);
        if (found == 0) {
            store_stmt add = {&SQL_ADD, what, 5, v, NULL};
            found = store_exec_int(s, &add, &found_v, err);
        }
        if (found < 0) {
            store_tx_rollback(s, 1, err);
            return -1;
        }
        if (store_tx_commit(s, what, err) != 0)
            return -1;
    }
    if (found == 1)
        *version = (int)found_v;
    return found;
}

static int template_put(store_db *s, const char *name, const char *content,
                        const char *variables_json, const char *hash_hex, int *version,
                        error_info *err)
{
    char what[160];
    snprintf(what, sizeof what, "store template %.64s", name);
    store_val v[] = {sv_text(name), sv_text(content), sv_text(variables_json), sv_text(hash_hex),
                     sv_real(clock_wall_s())};
    for (int tries = 0; tries < PUT_TRIES; tries++) {
        int rc = put_once(s, what, v, version, err);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    store_fail(err, "store: cannot %s: other writers kept taking the next version", what);
    err->retryable = 1;
    return -1;
}

int store_template_put(store_db *s, const char *name, const char *content,
                       const char *variables_json, const char *hash_hex, int *version,
                       error_info *err)
{
    if (check_name(s, name, "store a template", err) != 0)
        return -1;
    if (!content || !hash_hex || !*hash_hex || !version)
        return store_invalid(err, "cannot store template %s: no content, no hash or no place "
                                  "for the version",
                             name);
    /* The hash stays the original's: the same body is recognised as the same version. */
    store_scrubbed sc = {0};
    content = store_scrub(s, &sc, content, 0);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    int rc = template_put(s, name, content, variables_json, hash_hex, version, err);
    store_scrub_free(&sc);
    return rc;
}

/* The first row of SQL_GET: its content (copied) and version. */
typedef struct got {
    char *content;
    int version, oom;
} got;

static int take_got(void *ud, int ncols, const char *const *names, const char *const *values,
                    const char *types)
{
    (void)names;
    (void)types;
    got *g = ud;
    if (ncols >= 2 && values[0] && values[1]) {
        g->oom = (g->content = text_dup(values[0])) == NULL;
        g->version = atoi(values[1]);
    }
    return 1;
}

int store_template_get(store_db *s, const char *name, int version, char **content,
                       int *version_out, error_info *err)
{
    if (content)
        *content = NULL;
    if (check_name(s, name, "read a template", err) != 0)
        return -1;
    if (!content)
        return store_invalid(err, "cannot read template %s: no place for the content", name);
    if (version < 0)
        return store_invalid(err, "cannot read template %s: version %d (give 0 for the latest)",
                             name, version);
    char what[160];
    snprintf(what, sizeof what, "read template %.64s", name);
    store_stmt st = {&SQL_GET, what, 2, (store_val[]){sv_text(name), sv_int(version)}, NULL};
    got g = {0};
    if (store_exec(s, &st, take_got, &g, err) < 0)
        return -1;
    if (g.oom) {
        store_fail(err, "store: cannot %s: out of memory", what);
        return -1;
    }
    if (!g.content) {
        if (version > 0)
            return store_fail_as(err, "not_found",
                                 "template %s has no version %d (nyx templates history %s lists its versions)",
                                 name, version, name);
        return store_fail_as(err, "not_found", "store: template %s not found", name);
    }
    *content = g.content;
    if (version_out)
        *version_out = g.version;
    return 0;
}

int store_template_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn)
        return store_invalid(err, "cannot list templates: no store or no row callback");
    store_stmt st = {&SQL_LIST, "query templates", 0, NULL, NULL};
    return store_exec(s, &st, fn, ud, err);
}

int store_template_history(store_db *s, const char *name, store_row_fn fn, void *ud,
                           error_info *err)
{
    if (check_name(s, name, "read a template's history", err) != 0)
        return -1;
    if (!fn)
        return store_invalid(err, "cannot read the history of template %s: no row callback",
                             name);
    store_stmt st = {&SQL_HISTORY, "query template history", 1, (store_val[]){sv_text(name)},
                     NULL};
    return store_exec(s, &st, fn, ud, err);
}

static int template_usage(store_db *s, const store_template_use *u, error_info *err)
{
    char what[160];
    snprintf(what, sizeof what, "record a use of template %.64s@%d", u->name, u->version);
    store_val v[] = {sv_text(u->name),       sv_int(u->version),     sv_int(u->successes),
                     sv_int(u->failures),    sv_int(u->input_tokens), sv_int(u->output_tokens),
                     sv_real(u->cost_usd),   sv_real(u->latency_ms),  sv_int(u->cache_hit != 0),
                     sv_int(u->uses)};
    store_stmt st = {&SQL_USE, what, 10, v, NULL};
    return store_exec_quiet(s, &st, err);
}

int store_template_usage(store_db *s, const char *name, int version, int success,
                         int64_t input_tokens, int64_t output_tokens, double cost_usd,
                         double latency_ms, int cache_hit, error_info *err)
{
    if (check_name(s, name, "record a template's use", err) != 0)
        return -1;
    if (version < 1)
        return store_invalid(err, "cannot record a use of template %s: version %d (>= 1)",
                             name, version);
    if (success < -1 || success > 1)
        return store_invalid(err, "cannot record a use of template %s@%d: success %d (give 1, "
                                  "0 or -1 for unknown)",
                             name, version, success);
    if (input_tokens < 0 || output_tokens < 0)
        return store_invalid(err, "cannot record a use of template %s@%d: negative tokens",
                             name, version);
    if (!(cost_usd >= 0) || isinf(cost_usd) || !(latency_ms >= 0) || isinf(latency_ms))
        return store_invalid(err, "cannot record a use of template %s@%d: cost %g and latency "
                                  "%g must be finite and >= 0",
                             name, version, cost_usd, latency_ms);
    store_template_use u = {name,         version,       1,        success == 1, success == 0,
                            input_tokens, output_tokens, cost_usd, latency_ms,   cache_hit != 0};
    return template_usage(s, &u, err);
}

int store_template_judge(store_db *s, const char *name, int version, int from, int to, error_info *err)
{
    if (check_name(s, name, "judge a template's use", err) != 0)
        return -1;
    if (version < 1 || from < -1 || from > 1 || to < -1 || to > 1)
        return store_invalid(err, "cannot judge a use of template %s@%d: outcomes %d -> %d (give 1, 0 or -1)",
                             name, version, from, to);
    store_template_use u = {name, version, 0, (to == 1) - (from == 1), (to == 0) - (from == 0), 0, 0, 0, 0, 0};
    return template_usage(s, &u, err);
}

int store_template_stats(store_db *s, const char *name, store_row_fn fn, void *ud,
                         error_info *err)
{
    if (check_name(s, name, "read a template's statistics", err) != 0)
        return -1;
    if (!fn)
        return store_invalid(err, "cannot read the statistics of template %s: no row callback",
                             name);
    store_stmt st = {&SQL_STATS, "query template statistics", 1, (store_val[]){sv_text(name)},
                     NULL};
    return store_exec(s, &st, fn, ud, err);
}
