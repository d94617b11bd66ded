/* The PostgreSQL backend's later features: control flags and configuration, the audit
 * trail, the response cache and prompt templates; the behaviour of store_sqlite_control.c,
 * store_sqlite_cache.c and store_sqlite_templates.c, each operation one statement.
 *
 * Emergency stop across hosts: a write to control or system_config notifies the channel
 * nyx_control in the same statement, so the notification leaves at its commit; every store
 * listens to it (store_pg_conn.c), and store_changed() reports what arrived. */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* Runs sql and copies column 0 of its first row into *value (NULL for SQL NULL). Returns 1
 * (a row), 0 (none: *value NULL) or -1 with err filled. */
static int read_text(pg *p, const char *what, const char *sql, int nparams,
                     const char *const *values, char **value, error_info *err)
{
    *value = NULL;
    PGresult *res = pg_exec(p, what, sql, nparams, values, err);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found && !PQgetisnull(res, 0, 0) && !(*value = store_strdup(PQgetvalue(res, 0, 0)))) {
        store_fail(err, "store: cannot %s in %s: out of memory", what, p->label);
        found = -1;
    }
    PQclear(res);
    return found;
}

typedef struct text_wait {
    store_text_fn done;
    void *ud;
    char what[96];
} text_wait;

static void text_answered(void *ud, PGresult *res, const error_info *err)
{
    text_wait w = *(text_wait *)ud;
    free(ud);
    if (!res) {
        w.done(w.ud, -1, NULL, err);
        return;
    }
    char *text = NULL;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) &&
        !(text = store_strdup(PQgetvalue(res, 0, 0)))) {
        error_info oom;
        error_clear(&oom);
        store_fail(&oom, "store: cannot %s: out of memory", w.what);
        w.done(w.ud, -1, NULL, &oom);
        return;
    }
    w.done(w.ud, 0, text, NULL);
}

/* read_text answered in the loop: done(ud, 0, text or NULL, NULL) or done(ud, -1, NULL, err). */
static int read_text_async(pg *p, const char *what, const char *sql, int nparams,
                           const char *const *values, store_text_fn done, void *ud,
                           error_info *err)
{
    text_wait *w = malloc(sizeof *w);
    if (!w) {
        store_fail(err, "store: cannot %s: out of memory", what);
        return -1;
    }
    *w = (text_wait){.done = done, .ud = ud};
    snprintf(w->what, sizeof w->what, "%s", what);
    if (pg_submit(p, what, sql, nparams, values, text_answered, w, err) != 0) {
        free(w);
        return -1;
    }
    return 0;
}

/* ---- control flags and configuration ---- */

/* The control and system_config tables are the same shape (key, value, updated_at). A
 * change to either is news to the other processes: a stop, or a setting to load again.
 * A set is waited for even in the background mode (store.h does not list it there): `nyx
 * stop`, `nyx resume` and `nyx config set` must learn that it failed. */
typedef struct kv_table {
    const char *noun; /* for messages */
    const char *set_sql, *del_sql, *get_sql;
} kv_table;

static const kv_table control = {
    "control flag",
    "WITH w AS (INSERT INTO control (key, value, updated_at)"
    " VALUES ($1::text, $2::text, $3::double precision)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    " RETURNING key)"
    " SELECT pg_notify('nyx_control', left(key, 1000)) FROM w",
    "WITH d AS (DELETE FROM control WHERE key = $1::text RETURNING key)"
    " SELECT pg_notify('nyx_control', left(key, 1000)) FROM d",
    "SELECT value FROM control WHERE key = $1::text",
};

static const kv_table config = {
    "configuration key",
    "WITH w AS (INSERT INTO system_config (key, value, updated_at)"
    " VALUES ($1::text, $2::text, $3::double precision)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    " RETURNING key)"
    " SELECT pg_notify('nyx_control', 'config:' || left(key, 1000)) FROM w",
    "WITH d AS (DELETE FROM system_config WHERE key = $1::text RETURNING key)"
    " SELECT pg_notify('nyx_control', 'config:' || left(key, 1000)) FROM d",
    "SELECT value FROM system_config WHERE key = $1::text",
};

static int kv_set(store_db *s, const kv_table *t, const char *key, const char *value,
                  error_info *err)
{
    char now[32];
    const char *v[] = {key, value, pg_num(now, clock_wall_s())};
    char what[160];
    snprintf(what, sizeof what, "%s %s %.64s", value ? "set" : "delete", t->noun, key);
    PGresult *res = pg_exec(pg_of(s), what, value ? t->set_sql : t->del_sql, value ? 3 : 1, v,
                            err);
    PQclear(res);
    return res ? 0 : -1;
}

static int kv_get(store_db *s, const kv_table *t, const char *key, char **value,
                  error_info *err)
{
    char what[160];
    snprintf(what, sizeof what, "read %s %.64s", t->noun, key);
    const char *v[] = {key};
    return read_text(pg_of(s), what, t->get_sql, 1, v, value, err) < 0 ? -1 : 0;
}

int store_pg_control_set(store_db *s, const char *key, const char *value, error_info *err)
{
    return kv_set(s, &control, key, value, err);
}

int store_pg_control_get(store_db *s, const char *key, char **value, error_info *err)
{
    return kv_get(s, &control, key, value, err);
}

int store_pg_control_get_async(store_db *s, const char *key, store_text_fn done, void *ud,
                               error_info *err)
{
    const char *v[] = {key};
    return read_text_async(pg_of(s), "read a control flag", control.get_sql, 1, v, done, ud, err);
}

int store_pg_config_set(store_db *s, const char *key, const char *value, error_info *err)
{
    return kv_set(s, &config, key, value, err);
}

int store_pg_config_get(store_db *s, const char *key, char **value, error_info *err)
{
    return kv_get(s, &config, key, value, err);
}

#define SQL_CONFIG_LIST                                                                      \
    "SELECT key, value, " PG_ISO("updated_at") " AS updated_at"                              \
    " FROM system_config ORDER BY key COLLATE \"C\""

int store_pg_config_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    return pg_rows(pg_of(s), "query the configuration", SQL_CONFIG_LIST, 0, NULL, fn, ud, err);
}

int store_pg_config_list_async(store_db *s, store_row_fn fn, void *ud, store_done_fn done,
                               void *done_ud, error_info *err)
{
    return pg_rows_async(pg_of(s), "query the configuration", SQL_CONFIG_LIST, 0, NULL, fn, ud,
                         done, done_ud, err);
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

/* ---- audit trail ---- */

int store_pg_audit(store_db *s, const char *kind, const char *session, const char *agent,
                   const char *detail, error_info *err)
{
    char now[32];
    const char *v[] = {pg_num(now, clock_wall_s()), kind, session, agent, detail};
    char what[160];
    snprintf(what, sizeof what, "record audit event %.64s", kind);
    return pg_write(pg_of(s), what,
                    "INSERT INTO audit_events (created_at, kind, session, agent, detail)"
                    " VALUES ($1::double precision, $2::text, $3::text, $4::text, $5::text)",
                    5, v, err);
}

/* ---- response cache ---- */

/* The lookup counts its hit in the same statement: a miss changes and locks nothing. */
static const char SQL_CACHE_GET[] =
    "UPDATE llm_cache SET hits = hits + 1"
    " WHERE key = $1::text AND (expires_at IS NULL OR expires_at > $2::double precision)"
    " RETURNING response_json";

/* A new response for a key is a new entry: its hits start again. */
static const char SQL_CACHE_PUT[] =
    "INSERT INTO llm_cache (key, model, response_json, created_at, expires_at, hits)"
    " VALUES ($1::text, $2::text, $3::text, $4::double precision, $5::double precision, 0)"
    " ON CONFLICT (key) DO UPDATE SET model = excluded.model,"
    " response_json = excluded.response_json, created_at = excluded.created_at,"
    " expires_at = excluded.expires_at, hits = 0";

/* NULL expires_at (no expiry) never compares true. */
static const char SQL_CACHE_PURGE[] =
    "DELETE FROM llm_cache WHERE expires_at <= $1::double precision";

int store_pg_cache_get(store_db *s, const char *key, double now, char **response_json,
                       error_info *err)
{
    char t[32];
    const char *v[] = {key, pg_num(t, now)};
    return read_text(pg_of(s), "read the response cache", SQL_CACHE_GET, 2, v, response_json,
                     err) < 0
               ? -1
               : 0;
}

int store_pg_cache_get_async(store_db *s, const char *key, double now, store_text_fn done,
                             void *ud, error_info *err)
{
    char t[32];
    const char *v[] = {key, pg_num(t, now)};
    return read_text_async(pg_of(s), "read the response cache", SQL_CACHE_GET, 2, v, done, ud, err);
}

int store_pg_cache_put(store_db *s, const char *key, const char *model,
                       const char *response_json, double now, double ttl_s, error_info *err)
{
    char t[32], e[32];
    const char *v[] = {key, model, response_json, pg_num(t, now),
                       ttl_s > 0 ? pg_num(e, now + ttl_s) : NULL};
    return pg_write(pg_of(s), "write the response cache", SQL_CACHE_PUT, 5, v, err);
}

int store_pg_cache_purge(store_db *s, double now, error_info *err)
{
    char t[32];
    const char *v[] = {pg_num(t, now)};
    PGresult *res = pg_exec(pg_of(s), "purge the response cache", SQL_CACHE_PURGE, 1, v, err);
    if (!res)
        return -1;
    int removed = atoi(PQcmdTuples(res));
    PQclear(res);
    return removed;
}

/* ---- prompt templates ---- */

/* One statement finds the content (matching the text as well as the hash: a hash collision
 * cannot merge two contents) or numbers it max + 1. Two writers that numbered the same
 * version at once meet on the primary key: the second waits for the first to commit, adds
 * nothing and gets no row, and its next attempt (a new snapshot) finds the content or
 * numbers after it. */
static const char SQL_TEMPLATE_PUT[] =
    "WITH found AS (SELECT version FROM prompt_templates"
    " WHERE name = $1::text AND hash = $4::text AND content = $2::text"
    " ORDER BY version DESC LIMIT 1),"
    " added AS (INSERT INTO prompt_templates (name, version, content, variables, hash,"
    " created_at)"
    " SELECT $1::text, m.next, $2::text, $3::text, $4::text, $5::double precision"
    " FROM (SELECT COALESCE(MAX(version), 0) + 1 AS next FROM prompt_templates"
    " WHERE name = $1::text) AS m"
    " WHERE NOT EXISTS (SELECT 1 FROM found)"
    " ON CONFLICT (name, version) DO NOTHING RETURNING version)"
    " SELECT version FROM found UNION ALL SELECT version FROM added";

#define TEMPLATE_PUT_TRIES 16

static const char SQL_TEMPLATE_GET[] =
    "SELECT content, version FROM prompt_templates"
    " WHERE name = $1::text AND ($2::integer = 0 OR version = $2::integer)"
    " ORDER BY version DESC LIMIT 1";

static const char SQL_TEMPLATE_LIST[] =
    "SELECT name, MAX(version) AS latest_version, COUNT(*) AS versions,"
    " " PG_ISO("MAX(created_at)") " AS updated_at"
    " FROM prompt_templates GROUP BY name ORDER BY name COLLATE \"C\"";

static const char SQL_TEMPLATE_HISTORY[] =
    "SELECT version, hash, " PG_ISO("created_at") " AS created_at,"
    " octet_length(content) AS size"
    " FROM prompt_templates WHERE name = $1::text ORDER BY version";

static const char SQL_TEMPLATE_USE[] =
    "INSERT INTO template_usage (name, version, uses, successes, failures, input_tokens,"
    " output_tokens, cost_usd, latency_ms_total, cache_hits)"
    " VALUES ($1::text, $2::integer, $10::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint,"
    " $7::double precision, $8::double precision, $9::bigint)"
    " ON CONFLICT (name, version) DO UPDATE SET uses = template_usage.uses + excluded.uses,"
    " successes = template_usage.successes + excluded.successes,"
    " failures = template_usage.failures + excluded.failures,"
    " input_tokens = template_usage.input_tokens + excluded.input_tokens,"
    " output_tokens = template_usage.output_tokens + excluded.output_tokens,"
    " cost_usd = template_usage.cost_usd + excluded.cost_usd,"
    " latency_ms_total = template_usage.latency_ms_total + excluded.latency_ms_total,"
    " cache_hits = template_usage.cache_hits + excluded.cache_hits";

/* Every version stored or used, with its totals (a stored version never used shows 0
 * uses and NULL averages). */
static const char SQL_TEMPLATE_STATS[] =
    "SELECT v.version AS version, COALESCE(u.uses, 0) AS uses,"
    " COALESCE(u.successes, 0) AS successes, COALESCE(u.failures, 0) AS failures,"
    " CASE WHEN u.successes + u.failures > 0"
    " THEN u.successes::double precision / (u.successes + u.failures) END AS success_rate,"
    " COALESCE(u.input_tokens + u.output_tokens, 0) AS tokens,"
    " COALESCE(u.cost_usd, 0.0) AS cost_usd,"
    " CASE WHEN u.uses > 0 THEN u.latency_ms_total / u.uses END AS avg_latency_ms,"
    " CASE WHEN u.uses > 0 THEN u.cache_hits::double precision / u.uses END"
    " AS cache_hit_rate"
    " FROM (SELECT version FROM prompt_templates WHERE name = $1::text"
    " UNION SELECT version FROM template_usage WHERE name = $1::text) AS v"
    " LEFT JOIN template_usage AS u ON u.name = $1::text AND u.version = v.version"
    " ORDER BY v.version";

int store_pg_template_put(store_db *s, const char *name, const char *content,
                          const char *variables_json, const char *hash_hex, int *version,
                          error_info *err)
{
    pg *p = pg_of(s);
    char what[160], now[32];
    snprintf(what, sizeof what, "store template %.64s", name);
    const char *v[] = {name, content, variables_json, hash_hex, pg_num(now, clock_wall_s())};
    for (int tries = 0; tries < TEMPLATE_PUT_TRIES; tries++) {
        PGresult *res = pg_exec(p, what, SQL_TEMPLATE_PUT, 5, v, err);
        if (!res)
            return -1;
        int found = PQntuples(res) > 0;
        if (found)
            *version = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (found)
            return 0;
    }
    store_fail(err, "store: cannot %s in %s: other writers kept taking the next version",
               what, p->label);
    err->retryable = 1;
    return -1;
}

int store_pg_template_get(store_db *s, const char *name, int version, char **content,
                          int *version_out, error_info *err)
{
    pg *p = pg_of(s);
    char what[160], ver[32];
    snprintf(what, sizeof what, "read template %.64s", name);
    const char *v[] = {name, pg_int(ver, version)};
    PGresult *res = pg_exec(p, what, SQL_TEMPLATE_GET, 2, v, err);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 0) {
        if (version > 0)
            store_fail_as(err, "not_found", "store: template %s@%d not found", name, version);
        else
            store_fail_as(err, "not_found", "store: template %s not found", name);
        rc = -1;
    } else if (!(*content = store_strdup(PQgetvalue(res, 0, 0)))) {
        store_fail(err, "store: cannot read template %s from %s: out of memory", name,
                   p->label);
        rc = -1;
    } else {
        *version_out = atoi(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

int store_pg_template_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    return pg_rows(pg_of(s), "query templates", SQL_TEMPLATE_LIST, 0, NULL, fn, ud, err);
}

int store_pg_template_history(store_db *s, const char *name, store_row_fn fn, void *ud,
                              error_info *err)
{
    const char *v[] = {name};
    return pg_rows(pg_of(s), "query template history", SQL_TEMPLATE_HISTORY, 1, v, fn, ud,
                   err);
}

int store_pg_template_usage(store_db *s, const store_template_use *u, error_info *err)
{
    char b[9][32];
    const char *v[] = {u->name,
                       pg_int(b[0], u->version),
                       pg_int(b[1], u->successes),
                       pg_int(b[2], u->failures),
                       pg_int(b[3], u->input_tokens),
                       pg_int(b[4], u->output_tokens),
                       pg_num(b[5], u->cost_usd),
                       pg_num(b[6], u->latency_ms),
                       pg_int(b[7], u->cache_hit != 0),
                       pg_int(b[8], u->uses)};
    char what[160];
    snprintf(what, sizeof what, "record a use of template %.64s@%d", u->name, u->version);
    return pg_write(pg_of(s), what, SQL_TEMPLATE_USE, 10, v, err);
}

int store_pg_template_stats(store_db *s, const char *name, store_row_fn fn, void *ud,
                            error_info *err)
{
    const char *v[] = {name};
    return pg_rows(pg_of(s), "query template statistics", SQL_TEMPLATE_STATS, 1, v,
                             fn, ud, err);
}

/* ---- the shared parts of stored requests ---- */

int store_pg_content_get(store_db *s, const char *hash, char **body, error_info *err)
{
    const char *v[] = {hash};
    int rc = read_text(pg_of(s), "read a part of a stored request",
                       "SELECT body FROM llm_content WHERE hash = $1::text", 1, v, body, err);
    if (rc == 1 && *body)
        return 0;
    if (rc >= 0)
        store_fail_as(err, "not_found", "store: a part of a stored request (%.16s...) is missing from %s",
                      hash, pg_of(s)->label);
    free(*body);
    *body = NULL;
    return -1;
}

int store_pg_content_purge(store_db *s, long long *removed, error_info *err)
{
    PGresult *res = pg_exec(pg_of(s), "purge the parts of stored requests",
                            "SELECT nyx_content_purge()", 0, NULL, err);
    if (!res)
        return -1;
    *removed = PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}
