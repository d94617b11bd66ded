/* The PostgreSQL schema: the SQLite schema's tables in PostgreSQL's dialect, and the
 * functions that make a budget operation one statement.
 *
 * Versions live in nyx_schema (one row). Migration N runs in one transaction holding an
 * advisory lock, so processes opening a new database at once migrate it exactly once.
 * Never edit a migration that has shipped: add the next one. */
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- migration 1: every table, as SQLite has them after its migration 4 ---- */
static const char *const migration_1[] = {
    "CREATE TABLE llm_interactions ("
    " id text PRIMARY KEY,"
    " seq bigint GENERATED ALWAYS AS IDENTITY," /* commit order, for `nyx log --last` */
    " created_at double precision NOT NULL,"
    " session text, agent text, thought_id bigint,"
    " template text, template_version integer,"
    " request_id text, model_requested text, model_served text,"
    " input_tokens bigint NOT NULL DEFAULT 0,"
    " output_tokens bigint NOT NULL DEFAULT 0,"
    " cache_creation_input_tokens bigint NOT NULL DEFAULT 0,"
    " cache_read_input_tokens bigint NOT NULL DEFAULT 0,"
    " cache_creation_5m bigint, cache_creation_1h bigint,"
    " cost_usd double precision, cost_without_cache_usd double precision,"
    " saved_usd double precision,"
    " ttfb_ms double precision, latency_ms double precision,"
    " attempts integer NOT NULL DEFAULT 1, attempts_json text,"
    " status text NOT NULL CHECK (status IN ('ok','error','cancelled')),"
    " error_type text, error_message text, stop_reason text,"
    " cache_hit integer NOT NULL DEFAULT 0,"
    " from_response_cache integer NOT NULL DEFAULT 0,"
    " prompt_text text, response_text text, provider text)",
    "CREATE INDEX llm_interactions_seq ON llm_interactions(seq)",
    "CREATE INDEX llm_interactions_session ON llm_interactions(session, created_at)",
    "CREATE INDEX llm_interactions_thought ON llm_interactions(thought_id)"
    " WHERE thought_id IS NOT NULL",

    "CREATE TABLE sessions ("
    " name text PRIMARY KEY,"
    " started_at double precision NOT NULL, ended_at double precision,"
    " budget_usd double precision,"
    " calls bigint NOT NULL DEFAULT 0,"
    " cost_usd double precision NOT NULL DEFAULT 0,"
    " saved_usd double precision NOT NULL DEFAULT 0,"
    " input_tokens bigint NOT NULL DEFAULT 0, output_tokens bigint NOT NULL DEFAULT 0,"
    " cache_read_tokens bigint NOT NULL DEFAULT 0,"
    " cache_write_tokens bigint NOT NULL DEFAULT 0)",

    "CREATE TABLE thought_trees ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " session text, parent_id bigint REFERENCES thought_trees(id),"
    " label text, created_at double precision NOT NULL)",
    "CREATE INDEX thought_trees_session ON thought_trees(session)",
    "CREATE INDEX thought_trees_parent ON thought_trees(parent_id)",

    "CREATE TABLE prompt_templates ("
    " name text NOT NULL, version integer NOT NULL,"
    " content text NOT NULL, variables text, hash text,"
    " created_at double precision NOT NULL,"
    " PRIMARY KEY (name, version))",

    "CREATE TABLE template_usage ("
    " name text NOT NULL, version integer NOT NULL,"
    " uses bigint NOT NULL DEFAULT 0, successes bigint NOT NULL DEFAULT 0,"
    " failures bigint NOT NULL DEFAULT 0,"
    " input_tokens bigint NOT NULL DEFAULT 0, output_tokens bigint NOT NULL DEFAULT 0,"
    " cost_usd double precision NOT NULL DEFAULT 0,"
    " latency_ms_total double precision NOT NULL DEFAULT 0,"
    " cache_hits bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY (name, version))",

    "CREATE TABLE budgets ("
    " scope text PRIMARY KEY,"
    " limit_usd double precision, spent_usd double precision NOT NULL DEFAULT 0,"
    " reserved_usd double precision NOT NULL DEFAULT 0,"
    " updated_at double precision NOT NULL)",
    "CREATE TABLE budget_holds ("
    " id text PRIMARY KEY, scopes text[] NOT NULL, amount double precision NOT NULL,"
    " created_at double precision NOT NULL, pid bigint, host text)",

    "CREATE TABLE llm_cache ("
    " key text PRIMARY KEY, model text, response_json text NOT NULL,"
    " created_at double precision NOT NULL, expires_at double precision,"
    " hits bigint NOT NULL DEFAULT 0)",
    "CREATE INDEX llm_cache_expires_at ON llm_cache(expires_at)",

    "CREATE TABLE audit_events ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " created_at double precision NOT NULL,"
    " kind text NOT NULL, session text, agent text, detail text)",
    "CREATE INDEX audit_events_created_at ON audit_events(created_at)",

    "CREATE TABLE system_config ("
    " key text PRIMARY KEY, value text, updated_at double precision NOT NULL)",

    "CREATE TABLE control ("
    " key text PRIMARY KEY, value text, updated_at double precision NOT NULL)",

    /* Reserves amount in every scope, or in none: refused is the index (from 0) of the
     * first scope over its limit, with what it had spent and reserved. Rows are locked in
     * scope order, so reservations over overlapping scopes queue instead of deadlocking;
     * a reservation whose id is already held (a retry after a lost answer) succeeds. */
    "CREATE FUNCTION nyx_reserve(p_id text, p_scopes text[], p_limits double precision[],"
    " p_amount double precision, p_now double precision, p_pid bigint, p_host text,"
    " OUT refused integer, OUT spent double precision, OUT reserved double precision)"
    " LANGUAGE plpgsql AS $$"
    " DECLARE b record;"
    " BEGIN"
    "  refused := -1; spent := 0; reserved := 0;"
    "  IF EXISTS (SELECT 1 FROM budget_holds WHERE id = p_id) THEN RETURN; END IF;"
    "  BEGIN"
    "   INSERT INTO budgets (scope, updated_at)"
    "    SELECT s, p_now FROM unnest(p_scopes) AS s ORDER BY s ON CONFLICT (scope) DO NOTHING;"
    "   PERFORM 1 FROM budgets WHERE scope = ANY (p_scopes) ORDER BY scope FOR UPDATE;"
    "   FOR i IN 1 .. array_length(p_scopes, 1) LOOP"
    "    SELECT spent_usd, reserved_usd INTO b FROM budgets WHERE scope = p_scopes[i];"
    "    IF p_limits[i] IS NOT NULL AND"
    "       b.spent_usd + b.reserved_usd + p_amount > p_limits[i] + 1e-9 THEN"
    "     refused := i - 1; spent := b.spent_usd; reserved := b.reserved_usd;"
    "     RAISE EXCEPTION USING ERRCODE = 'NX001';" /* undoes the rows made above */
    "    END IF;"
    "   END LOOP;"
    "   UPDATE budgets SET reserved_usd = budgets.reserved_usd + p_amount,"
    "    limit_usd = l.lim, updated_at = p_now"
    "    FROM unnest(p_scopes, p_limits) AS l(scope, lim) WHERE budgets.scope = l.scope;"
    "   INSERT INTO budget_holds VALUES (p_id, p_scopes, p_amount, p_now, p_pid, p_host);"
    "  EXCEPTION WHEN SQLSTATE 'NX001' THEN RETURN;"
    "  END;"
    " END $$",

    /* Moves a reservation's amount out of reserved and actual into spent in each of its
     * scopes, and forgets it. An unknown id (settled already) does nothing. */
    "CREATE FUNCTION nyx_settle(p_id text, p_actual double precision, p_now double precision)"
    " RETURNS integer LANGUAGE plpgsql AS $$"
    " DECLARE h record;"
    " BEGIN"
    "  IF p_id IS NULL THEN RETURN 0; END IF;"
    "  DELETE FROM budget_holds WHERE id = p_id RETURNING scopes, amount INTO h;"
    "  IF NOT FOUND THEN RETURN 0; END IF;"
    "  PERFORM 1 FROM budgets WHERE scope = ANY (h.scopes) ORDER BY scope FOR UPDATE;"
    "  UPDATE budgets SET spent_usd = spent_usd + p_actual,"
    "   reserved_usd = CASE WHEN reserved_usd - h.amount > 1e-12"
    "                  THEN reserved_usd - h.amount ELSE 0 END,"
    "   updated_at = p_now WHERE scope = ANY (h.scopes);"
    "  RETURN 1;"
    " END $$",
    NULL,
};

/* ---- migration 2: Message Batches, as SQLite's migration 5 ---- */
static const char *const migration_2[] = {
    "ALTER TABLE llm_interactions ADD COLUMN service_tier text,"
    " ADD COLUMN batch_id text, ADD COLUMN custom_id text",
    "CREATE UNIQUE INDEX llm_interactions_batch ON llm_interactions(batch_id, custom_id)"
    " WHERE batch_id IS NOT NULL",
    "CREATE TABLE llm_batches ("
    " id text PRIMARY KEY, name text, created_at double precision NOT NULL,"
    " expires_at double precision NOT NULL, requests integer NOT NULL, parts integer NOT NULL)",
    "CREATE TABLE llm_batch_requests ("
    " batch_id text NOT NULL, custom_id text NOT NULL, part integer NOT NULL,"
    " provider_id text, session text, agent text, template text, template_version integer,"
    " model text, reservation_id text, reserved_usd double precision NOT NULL DEFAULT 0,"
    " write_1h integer NOT NULL DEFAULT 0,"
    " PRIMARY KEY (batch_id, custom_id))",
    "CREATE INDEX llm_batch_requests_provider ON llm_batch_requests(provider_id)"
    " WHERE provider_id IS NOT NULL",
    NULL,
};

/* ---- migration 3: requests stored in parts (store_content.h), as SQLite's migration 6 ----
 * Rows logged before are cut by convert_parts(); their old text becomes dead tuples that
 * VACUUM (autovacuum) reclaims. */
static const char *const migration_3[] = {
    "CREATE TABLE llm_content (hash text PRIMARY KEY, body text NOT NULL)",
    "ALTER TABLE llm_interactions ADD COLUMN request_parts text",
    /* The parts no recipe names. The lock waits for every transaction that is adding parts
     * (an insert holds ROW EXCLUSIVE to its commit) and holds new ones off, so the recipes
     * read here include every one that will name a part: none is deleted from under a
     * request being logged. */
    "CREATE FUNCTION nyx_content_purge() RETURNS bigint LANGUAGE plpgsql AS $$"
    " DECLARE n bigint;"
    " BEGIN"
    "  LOCK TABLE llm_content IN SHARE ROW EXCLUSIVE MODE;"
    "  DELETE FROM llm_content WHERE hash NOT IN"
    "   (SELECT e ->> 'ref' FROM llm_interactions AS i,"
    "    jsonb_array_elements(i.request_parts::jsonb) AS e"
    "    WHERE i.request_parts IS NOT NULL AND jsonb_typeof(e) = 'object');"
    "  GET DIAGNOSTICS n = ROW_COUNT;"
    "  RETURN n;"
    " END $$",
    NULL,
};

/* ---- migration 4: as SQLite's migration 7 ---- */
static const char *const migration_4[] = {
    "ALTER TABLE llm_interactions ADD COLUMN standard_cost_usd double precision",
    NULL,
};

/* ---- migration 5: as SQLite's migration 8 ---- */
static const char *const migration_5[] = {
    "ALTER TABLE llm_interactions ADD COLUMN tool_calls integer NOT NULL DEFAULT 0,"
    " ADD COLUMN iteration integer",
    NULL,
};

/* ---- migration 6: as SQLite's migration 10, the session index only for calls of a session ---- */
static const char *const migration_6[] = {
    "DROP INDEX IF EXISTS llm_interactions_session",
    "CREATE INDEX llm_interactions_session ON llm_interactions(session, created_at)"
    " WHERE session IS NOT NULL",
    NULL,
};

static const char *const *const migrations[] = {migration_1, migration_2, migration_3, migration_4, migration_5,
                                                migration_6};

/* Cuts the requests logged before migration 3 into parts, a few hundred rows per round trip. */
static int convert_parts(pg *p, error_info *err)
{
    store_content_memo memo = {0};
    char *last = text_dup("");
    int rc = last ? 0 : -1;
    if (!last)
        store_fail(err, "store: cannot migrate %s to schema version 3: out of memory", p->label);
    while (rc == 0) {
        const char *v[] = {last};
        PGresult *res = pg_exec(p, "read the requests to store in parts",
                                "SELECT id, prompt_text FROM llm_interactions"
                                " WHERE prompt_text IS NOT NULL AND id > $1::text ORDER BY id LIMIT 256",
                                1, v, err);
        if (!res) {
            rc = -1;
            break;
        }
        int n = PQntuples(res);
        for (int r = 0; rc == 0 && r < n; r++) {
            const char *id = PQgetvalue(res, r, 0);
            store_parts parts;
            if (store_content_split(&memo, PQgetvalue(res, r, 1), &parts) != 0) {
                store_fail(err, "store: cannot migrate %s to schema version 3: out of memory", p->label);
                rc = -1;
                break;
            }
            for (size_t i = 0; rc == 0 && i < parts.n; i++) {
                char *body = malloc(parts.pieces[i].len + 1);
                if (!body) {
                    store_fail(err, "store: cannot migrate %s to schema version 3: out of memory", p->label);
                    rc = -1;
                    break;
                }
                memcpy(body, parts.pieces[i].text, parts.pieces[i].len);
                body[parts.pieces[i].len] = '\0';
                const char *pv[] = {parts.pieces[i].hash, body};
                PGresult *ins = pg_exec(p, "migrate to schema version 3",
                                        "INSERT INTO llm_content (hash, body) VALUES ($1, $2)"
                                        " ON CONFLICT (hash) DO NOTHING",
                                        2, pv, err);
                free(body);
                rc = ins ? 0 : -1;
                PQclear(ins);
            }
            if (rc == 0 && parts.recipe) {
                const char *uv[] = {id, parts.recipe};
                PGresult *up = pg_exec(p, "migrate to schema version 3",
                                       "UPDATE llm_interactions SET request_parts = $2, prompt_text = NULL"
                                       " WHERE id = $1::text",
                                       2, uv, err);
                rc = up ? 0 : -1;
                PQclear(up);
            }
            store_parts_free(&parts);
        }
        if (rc == 0 && n > 0) {
            free(last);
            if (!(last = text_dup(PQgetvalue(res, n - 1, 0)))) {
                store_fail(err, "store: cannot migrate %s to schema version 3: out of memory", p->label);
                rc = -1;
            }
        }
        PQclear(res);
        if (n == 0)
            break;
    }
    free(last);
    store_content_memo_free(&memo);
    return rc;
}

/* What a migration does beyond its SQL, in its transaction (NULL: nothing). */
static int (*const converts[])(pg *p, error_info *err) = {NULL, NULL, convert_parts, NULL, NULL, NULL};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int exec(pg *p, const char *what, const char *sql, error_info *err)
{
    PGresult *res = pg_exec(p, what, sql, 0, NULL, err);
    PQclear(res);
    return res ? 0 : -1;
}

/* The rights a run's writes need, by table, INSERT first: a call's record (its parts, its
 * budget's settle, its session's row, its template's counts), the reservation before it, the
 * thought nodes, the run's audit event at start, and what those statements read. A role
 * without one of them had its call sent, and paid for, and then its record refused. What
 * only a command asks for (the response cache, templates, settings, the stop, batches) is
 * left out: it fails when asked, before anything is paid (a batch is written before it is
 * sent). */
#define RIGHTS                                                                                               \
    "(1, 'llm_interactions', 'INSERT'), (2, 'llm_content', 'INSERT'), (3, 'budgets', 'INSERT'),"             \
    " (4, 'budget_holds', 'INSERT'), (5, 'sessions', 'INSERT'), (6, 'thought_trees', 'INSERT'),"             \
    " (7, 'template_usage', 'INSERT'), (8, 'audit_events', 'INSERT'), (9, 'budgets', 'UPDATE'),"             \
    " (10, 'sessions', 'UPDATE'), (11, 'template_usage', 'UPDATE'), (12, 'budget_holds', 'DELETE'),"         \
    " (13, 'llm_interactions', 'SELECT'), (14, 'budgets', 'SELECT'), (15, 'budget_holds', 'SELECT'),"        \
    " (16, 'sessions', 'SELECT'), (17, 'thought_trees', 'SELECT'), (18, 'template_usage', 'SELECT')"

/* Whether the version table is there, the role, and the rights of RIGHTS it lacks on the
 * tables that are there, grouped by right ("INSERT on a, b; DELETE on c"; NULL: none). */
static const char SQL_STATE[] =
    "SELECT to_regclass('nyx_schema') IS NOT NULL, current_user,"
    " (SELECT string_agg(p || ' on ' || ts, '; ' ORDER BY first) FROM"
    "  (SELECT p, string_agg(t, ', ' ORDER BY n) AS ts, min(n) AS first"
    "   FROM (VALUES " RIGHTS ") AS w(n, t, p)"
    "   WHERE to_regclass(t) IS NOT NULL AND NOT has_table_privilege(to_regclass(t), p)"
    "   GROUP BY p) AS r)";

static int read_version(pg *p, int *version, error_info *err)
{
    PGresult *res = pg_exec(p, "read the schema version", "SELECT version FROM nyx_schema",
                            0, NULL, err);
    if (!res)
        return -1;
    *version = PQntuples(res) > 0 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return 0;
}

static int migrate_once(pg *p, int to, error_info *err)
{
    char what[64];
    snprintf(what, sizeof what, "migrate to schema version %d", to);
    for (const char *const *sql = migrations[to - 1]; *sql; sql++)
        if (exec(p, what, *sql, err) != 0)
            return -1;
    if (converts[to - 1] && converts[to - 1](p, err) != 0)
        return -1;
    char set[96];
    snprintf(set, sizeof set, "UPDATE nyx_schema SET version = %d", to);
    return exec(p, what, set, err);
}

/* What the open learns in one round trip (with the LISTEN the connection queued): whether
 * the version table is there (*exists), the version of a database migrated already, and
 * which rights to write the role lacks (p->readonly_why). Read without the lock or any
 * CREATE: a role that may only read (SELECT, no CREATE in the schema) opens it too, where
 * CREATE TABLE IF NOT EXISTS is refused even when the table is there. Without the version
 * table its read fails and the other statement is sent again: a round trip more, once, before
 * the migration makes the tables. Versions only go up, so a read at NMIGRATIONS stays true. */
static int read_state(pg *p, int *exists, int *version, error_info *err)
{
    const pg_call calls[] = {{"read the schema and the rights to write", SQL_STATE, 0, NULL, NULL, 0},
                             {"read the schema version", "SELECT version FROM nyx_schema", 0, NULL, NULL, 0}};
    PGresult *res[2];
    error_info errs[2];
    error_clear(&errs[0]);
    error_clear(&errs[1]);
    pg_exec_calls(p, calls, 2, res, errs);
    int rc = 0;
    *exists = *version = 0;
    if (!res[0]) {
        if (err)
            *err = errs[0];
        rc = -1;
    } else if (PQntuples(res[0]) != 1) { /* always one row: a server that says otherwise is no help */
        store_fail(err, "store: cannot read the schema of %s: %d rows where one was due", p->label,
                   PQntuples(res[0]));
        rc = -1;
    } else {
        *exists = strcmp(PQgetvalue(res[0], 0, 0), "t") == 0;
        p->readonly_why[0] = '\0';
        if (!PQgetisnull(res[0], 0, 2))
            snprintf(p->readonly_why, sizeof p->readonly_why,
                     "store: role %.63s may not write to %s: it lacks %s (GRANT them to it, or use a role "
                     "that has them)",
                     PQgetvalue(res[0], 0, 1), p->label, PQgetvalue(res[0], 0, 2));
        if (*exists && !res[1]) {
            if (err)
                *err = errs[1];
            rc = -1;
        } else if (res[1]) {
            *version = PQntuples(res[1]) > 0 ? atoi(PQgetvalue(res[1], 0, 0)) : 0;
        }
    }
    PQclear(res[0]);
    PQclear(res[1]);
    return rc;
}

int pg_migrate(pg *p, int read_only, error_info *err)
{
    int exists = 0, version = 0;
    if (read_state(p, &exists, &version, err) != 0)
        return -1;
    if (!exists && read_only) {
        store_fail(err,
                   "store: no database at %s: it holds none of nyx's tables (an open that only reads "
                   "makes none: check the URI)",
                   p->label);
        return -1;
    }
    if (version == NMIGRATIONS) {
        p->version = version;
        return 0;
    }
    /* The lock is held to the end of the transaction: the second process to get it finds
     * the version the first one wrote. */
    if (exec(p, "begin the schema migration", "BEGIN", err) != 0)
        return -1;
    int rc = exec(p, "lock the schema", "SELECT pg_advisory_xact_lock(7306832769)", err);
    if (rc == 0)
        rc = exec(p, "create the schema version table",
                  "CREATE TABLE IF NOT EXISTS nyx_schema (version integer NOT NULL)", err);
    if (rc == 0)
        rc = exec(p, "create the schema version row",
                  "INSERT INTO nyx_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM nyx_schema)",
                  err);
    if (rc == 0)
        rc = read_version(p, &version, err);
    if (rc == 0 && version > NMIGRATIONS) {
        store_fail(err, "store: %s has schema version %d, newer than this nyx knows (%d): use a "
                        "newer nyx", p->label, version, NMIGRATIONS);
        rc = -1;
    }
    while (rc == 0 && version < NMIGRATIONS)
        if ((rc = migrate_once(p, version + 1, err)) == 0)
            version++;
    if (rc == 0 && exec(p, "commit the schema migration", "COMMIT", err) == 0) {
        p->version = version;
        return 0;
    }
    error_info ignored;
    exec(p, "roll back the schema migration", "ROLLBACK", &ignored);
    return -1;
}
