/* The SQLite schema as a list of migrations, the schema they end at, and the code that
 * applies them.
 *
 * Migration N takes a database from user_version N-1 to N. Never edit a migration that has
 * shipped: add the next one. Each is a list of statements run in one transaction together
 * with `PRAGMA user_version = N` (the version lives in the database header, which is part
 * of the transaction), so a crash mid-migration leaves the previous version intact.
 * A new database (version 0) gets schema_current instead, in one transaction: replaying the
 * migrations cost most of a short run (see schema_current).
 * The PostgreSQL backend will keep its own list in its own dialect (a version table instead
 * of user_version), table for table the same.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- migration 1: every table, including those later issues fill ---- */
static const char *const migration_1[] = {
    /* One row per call. Costs are NULL when the model's price is unknown. */
    "CREATE TABLE llm_interactions ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " created_at REAL NOT NULL,"
    " session TEXT, agent TEXT, thought_id INTEGER,"
    " template TEXT, template_version INTEGER,"
    " request_id TEXT, model_requested TEXT, model_served TEXT,"
    " input_tokens INTEGER NOT NULL DEFAULT 0,"
    " output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_creation_5m INTEGER, cache_creation_1h INTEGER,"
    " cost_usd REAL, cost_without_cache_usd REAL, saved_usd REAL,"
    " ttfb_ms REAL, latency_ms REAL,"
    " attempts INTEGER NOT NULL DEFAULT 1, attempts_json TEXT,"
    " status TEXT NOT NULL CHECK (status IN ('ok','error','cancelled')),"
    " error_type TEXT, error_message TEXT, stop_reason TEXT,"
    " cache_hit INTEGER NOT NULL DEFAULT 0,"
    " from_response_cache INTEGER NOT NULL DEFAULT 0,"
    " prompt_text TEXT, response_text TEXT, provider TEXT)",
    "CREATE INDEX llm_interactions_created_at ON llm_interactions(created_at)",
    "CREATE INDEX llm_interactions_session ON llm_interactions(session, created_at)",
    "CREATE INDEX llm_interactions_thought ON llm_interactions(thought_id)"
    " WHERE thought_id IS NOT NULL",

    /* Totals are written by store_session_end(); budget_usd is informational, the
     * budgets table ("session:NAME") is what enforces. */
    "CREATE TABLE sessions ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " started_at REAL NOT NULL, ended_at REAL, budget_usd REAL,"
    " calls INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL NOT NULL DEFAULT 0, saved_usd REAL NOT NULL DEFAULT 0,"
    " input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_read_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_write_tokens INTEGER NOT NULL DEFAULT 0)",

    /* AUTOINCREMENT: a node id is never reused, so an old log row never points at a new node. */
    "CREATE TABLE thought_trees ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " session TEXT, parent_id INTEGER REFERENCES thought_trees(id),"
    " label TEXT, created_at REAL NOT NULL)",
    "CREATE INDEX thought_trees_session ON thought_trees(session)",
    "CREATE INDEX thought_trees_parent ON thought_trees(parent_id)",

    "CREATE TABLE prompt_templates ("
    " name TEXT NOT NULL, version INTEGER NOT NULL,"
    " content TEXT NOT NULL, variables TEXT, hash TEXT, created_at REAL NOT NULL,"
    " PRIMARY KEY (name, version))",

    "CREATE TABLE template_usage ("
    " name TEXT NOT NULL, version INTEGER NOT NULL,"
    " uses INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL NOT NULL DEFAULT 0, latency_ms_total REAL NOT NULL DEFAULT 0,"
    " cache_hits INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (name, version))",

    /* scope: "session:NAME", "agent:NAME", "day:2026-11-25", "month:2026-11".
     * limit_usd NULL: tracked, not limited. */
    "CREATE TABLE budgets ("
    " scope TEXT PRIMARY KEY NOT NULL,"
    " limit_usd REAL, spent_usd REAL NOT NULL DEFAULT 0,"
    " reserved_usd REAL NOT NULL DEFAULT 0, updated_at REAL NOT NULL)",
    /* One row per scope a reservation holds; host+pid let a later process release the
     * reservations of a process that died. */
    "CREATE TABLE budget_reservations ("
    " id TEXT NOT NULL, scope TEXT NOT NULL, amount REAL NOT NULL,"
    " created_at REAL NOT NULL, pid INTEGER, host TEXT,"
    " PRIMARY KEY (id, scope))",
    "CREATE INDEX budget_reservations_scope ON budget_reservations(scope)",

    "CREATE TABLE llm_cache ("
    " key TEXT PRIMARY KEY NOT NULL, model TEXT, response_json TEXT NOT NULL,"
    " created_at REAL NOT NULL, expires_at REAL, hits INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX llm_cache_expires_at ON llm_cache(expires_at)",

    "CREATE TABLE audit_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL,"
    " kind TEXT NOT NULL, session TEXT, agent TEXT, detail TEXT)",
    "CREATE INDEX audit_events_created_at ON audit_events(created_at)",

    "CREATE TABLE system_config ("
    " key TEXT PRIMARY KEY NOT NULL, value TEXT, updated_at REAL NOT NULL)",

    /* The emergency stop flag (key "stop") and other cross-process controls. */
    "CREATE TABLE control ("
    " key TEXT PRIMARY KEY NOT NULL, value TEXT, updated_at REAL NOT NULL)",
    NULL,
};

/* ---- migration 2: budget reservations one row each ----
 * A reservation in budget_reservations is one row per scope: with its two indexes, three
 * b-trees (three pages) written at every reserve and again at every settle, and a commit's
 * cost is mostly its pages (measured: a reserve in three scopes took 55 us, 21 us with
 * this table). A budget_holds row is one b-tree: the reservation's scopes joined by
 * newlines (a scope name cannot hold one), the amount held in each, and the holder.
 * budget_reservations stays (migration 1 made it), empty. */
static const char *const migration_2[] = {
    "CREATE TABLE budget_holds ("
    " id TEXT PRIMARY KEY NOT NULL, scopes TEXT NOT NULL, amount REAL NOT NULL,"
    " created_at REAL NOT NULL, pid INTEGER, host TEXT) WITHOUT ROWID",
    "INSERT INTO budget_holds (id, scopes, amount, created_at, pid, host)"
    " SELECT id, group_concat(scope, char(10)), MAX(amount), MIN(created_at), MIN(pid),"
    " MIN(host) FROM budget_reservations GROUP BY id",
    "DELETE FROM budget_reservations",
    NULL,
};

/* ---- migration 3: most calls belong to no thought node; indexing only those that do saves a
 * page write on every other call ---- */
static const char *const migration_3[] = {
    "DROP INDEX IF EXISTS llm_interactions_thought",
    "CREATE INDEX llm_interactions_thought ON llm_interactions(thought_id) WHERE thought_id IS NOT NULL",
    NULL,
};

/* ---- migration 4: every call pays for each index it writes; the created_at index served only
 * `nyx log --last` and `--since`, which read the table in a scan instead (milliseconds for tens
 * of thousands of calls) ---- */
static const char *const migration_4[] = {
    "DROP INDEX IF EXISTS llm_interactions_created_at",
    NULL,
};

/* ---- migration 5: Message Batches (issue 18) ----
 * A batch and its requests are rows before anything is sent, so any process can pick the batch
 * up again: llm_batches one row per batch (id is nyx's own; the API's ids, one per part when
 * the batch was split, are on its requests), llm_batch_requests one row per request with what
 * its interaction is logged under and the budget reservation it holds. An interaction that is a
 * batch result names its batch and custom id: unique, so two processes logging the same result
 * log it once. service_tier is usage.service_tier ("batch" for batch results). */
static const char *const migration_5[] = {
    "ALTER TABLE llm_interactions ADD COLUMN service_tier TEXT",
    "ALTER TABLE llm_interactions ADD COLUMN batch_id TEXT",
    "ALTER TABLE llm_interactions ADD COLUMN custom_id TEXT",
    "CREATE UNIQUE INDEX llm_interactions_batch ON llm_interactions(batch_id, custom_id)"
    " WHERE batch_id IS NOT NULL",
    "CREATE TABLE llm_batches ("
    " id TEXT PRIMARY KEY NOT NULL, name TEXT, created_at REAL NOT NULL,"
    " expires_at REAL NOT NULL, requests INTEGER NOT NULL, parts INTEGER NOT NULL)",
    "CREATE TABLE llm_batch_requests ("
    " batch_id TEXT NOT NULL, custom_id TEXT NOT NULL, part INTEGER NOT NULL,"
    " provider_id TEXT, session TEXT, agent TEXT, template TEXT, template_version INTEGER,"
    " model TEXT, reservation_id TEXT, reserved_usd REAL NOT NULL DEFAULT 0,"
    " write_1h INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (batch_id, custom_id)) WITHOUT ROWID",
    "CREATE INDEX llm_batch_requests_provider ON llm_batch_requests(provider_id)"
    " WHERE provider_id IS NOT NULL",
    NULL,
};


/* ---- migration 6: requests stored in parts (store_content.h) ----
 * The text a request shares with others (a system prompt, a context, a tool list) is one row
 * of llm_content by its SHA-256; an interaction holds a recipe in request_parts and NULL in
 * prompt_text. Rows logged before are cut the same way by convert_parts(); the pages their
 * text freed are reused by new rows (VACUUM returns them to the file system). */
static const char *const migration_6[] = {
    "CREATE TABLE llm_content (hash TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL)",
    "ALTER TABLE llm_interactions ADD COLUMN request_parts TEXT",
    NULL,
};

/* ---- migration 7: what a batch result would have cost at standard prices (the same usage, the
 * standard tier), so `nyx stats` shows what batches saved by the model table's own prices ---- */
static const char *const migration_7[] = {
    "ALTER TABLE llm_interactions ADD COLUMN standard_cost_usd REAL",
    NULL,
};

/* ---- migration 8: the tool loop per call: the tool_use blocks of its reply, and its place in
 * the loop (NULL outside one), kept under every storage mode, so `nyx stats` counts tool calls
 * and iterations ---- */
static const char *const migration_8[] = {
    "ALTER TABLE llm_interactions ADD COLUMN tool_calls INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE llm_interactions ADD COLUMN iteration INTEGER",
    NULL,
};

/* ---- migration 9: the status CHECK without an IN list ----
 * SQLite evaluates `status IN ('ok','error','cancelled')` by building a temporary index of the
 * three values for every row inserted (a b-tree opened, filled and dropped: about 3 us a call).
 * The same constraint as three comparisons costs nothing. A CHECK changes no stored byte, so
 * the table's definition is rewritten in place (SQLite's documented procedure for changing
 * constraints: writable_schema and a new schema_version, in the migration's transaction) rather
 * than the table copied. rewrite_status_check() does it. */
static const char *const migration_9[] = {NULL};

/* ---- migration 10: the session index holds only the calls of a session ----
 * A call without a session (most scripts' calls) wrote an entry there all the same, a leaf page
 * more in every commit (about a sixth of the WAL's bytes for calls logged without a session:
 * 2.2 of 13.7 pages a commit). Every query that reads it names one session (`session = ?`,
 * which implies `session IS NOT NULL`, so SQLite and PostgreSQL both still use the partial
 * index); the one query it only ordered, stats grouped by session over every row, reads every
 * row either way and sorts them instead. */
static const char *const migration_10[] = {
    "DROP INDEX IF EXISTS llm_interactions_session",
    "CREATE INDEX llm_interactions_session ON llm_interactions(session, created_at)"
    " WHERE session IS NOT NULL",
    NULL,
};

static const char *const *const migrations[] = {migration_1, migration_2, migration_3, migration_4,
                                                migration_5, migration_6, migration_7, migration_8,
                                                migration_9, migration_10};

/* ---- the schema the migrations end at, for a new database ----
 * Replaying the migrations on a new file cost 14 million instructions, a third of a whole
 * `nyx run` of one call: every ALTER TABLE and the rewrite of migration 9 make SQLite parse the
 * whole schema again. These statements make the same schema in one transaction, each entry of
 * sqlite_master byte for byte what the migrations leave there (a later migration may edit that
 * text, as migration 9 did). Adding a migration means changing these statements and
 * SCHEMA_CURRENT_VERSION: the assertion below fails the build otherwise, and test_store's
 * test_fresh_schema_is_migrated_schema compares a new database with one migrated from
 * version 1, entry by entry. The comments on each table are on its migrations above. */
#define SCHEMA_CURRENT_VERSION 10
static const char *const schema_current[] = {
    "CREATE TABLE llm_interactions ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " created_at REAL NOT NULL,"
    " session TEXT, agent TEXT, thought_id INTEGER,"
    " template TEXT, template_version INTEGER,"
    " request_id TEXT, model_requested TEXT, model_served TEXT,"
    " input_tokens INTEGER NOT NULL DEFAULT 0,"
    " output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_creation_5m INTEGER, cache_creation_1h INTEGER,"
    " cost_usd REAL, cost_without_cache_usd REAL, saved_usd REAL,"
    " ttfb_ms REAL, latency_ms REAL,"
    " attempts INTEGER NOT NULL DEFAULT 1, attempts_json TEXT,"
    " status TEXT NOT NULL CHECK (status = 'ok' OR status = 'error' OR status = 'cancelled'),"
    " error_type TEXT, error_message TEXT, stop_reason TEXT,"
    " cache_hit INTEGER NOT NULL DEFAULT 0,"
    " from_response_cache INTEGER NOT NULL DEFAULT 0,"
    " prompt_text TEXT, response_text TEXT, provider TEXT,"
    " service_tier TEXT, batch_id TEXT, custom_id TEXT, request_parts TEXT,"
    " standard_cost_usd REAL, tool_calls INTEGER NOT NULL DEFAULT 0, iteration INTEGER)",
    "CREATE INDEX llm_interactions_session ON llm_interactions(session, created_at)"
    " WHERE session IS NOT NULL",
    "CREATE INDEX llm_interactions_thought ON llm_interactions(thought_id)"
    " WHERE thought_id IS NOT NULL",
    "CREATE UNIQUE INDEX llm_interactions_batch ON llm_interactions(batch_id, custom_id)"
    " WHERE batch_id IS NOT NULL",

    "CREATE TABLE sessions ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " started_at REAL NOT NULL, ended_at REAL, budget_usd REAL,"
    " calls INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL NOT NULL DEFAULT 0, saved_usd REAL NOT NULL DEFAULT 0,"
    " input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_read_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_write_tokens INTEGER NOT NULL DEFAULT 0)",

    "CREATE TABLE thought_trees ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " session TEXT, parent_id INTEGER REFERENCES thought_trees(id),"
    " label TEXT, created_at REAL NOT NULL)",
    "CREATE INDEX thought_trees_session ON thought_trees(session)",
    "CREATE INDEX thought_trees_parent ON thought_trees(parent_id)",

    "CREATE TABLE prompt_templates ("
    " name TEXT NOT NULL, version INTEGER NOT NULL,"
    " content TEXT NOT NULL, variables TEXT, hash TEXT, created_at REAL NOT NULL,"
    " PRIMARY KEY (name, version))",

    "CREATE TABLE template_usage ("
    " name TEXT NOT NULL, version INTEGER NOT NULL,"
    " uses INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL NOT NULL DEFAULT 0, latency_ms_total REAL NOT NULL DEFAULT 0,"
    " cache_hits INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (name, version))",

    "CREATE TABLE budgets ("
    " scope TEXT PRIMARY KEY NOT NULL,"
    " limit_usd REAL, spent_usd REAL NOT NULL DEFAULT 0,"
    " reserved_usd REAL NOT NULL DEFAULT 0, updated_at REAL NOT NULL)",
    "CREATE TABLE budget_holds ("
    " id TEXT PRIMARY KEY NOT NULL, scopes TEXT NOT NULL, amount REAL NOT NULL,"
    " created_at REAL NOT NULL, pid INTEGER, host TEXT) WITHOUT ROWID",
    /* Empty since migration 2; kept so every database has the same tables. */
    "CREATE TABLE budget_reservations ("
    " id TEXT NOT NULL, scope TEXT NOT NULL, amount REAL NOT NULL,"
    " created_at REAL NOT NULL, pid INTEGER, host TEXT,"
    " PRIMARY KEY (id, scope))",
    "CREATE INDEX budget_reservations_scope ON budget_reservations(scope)",

    "CREATE TABLE llm_cache ("
    " key TEXT PRIMARY KEY NOT NULL, model TEXT, response_json TEXT NOT NULL,"
    " created_at REAL NOT NULL, expires_at REAL, hits INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX llm_cache_expires_at ON llm_cache(expires_at)",

    "CREATE TABLE audit_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL,"
    " kind TEXT NOT NULL, session TEXT, agent TEXT, detail TEXT)",
    "CREATE INDEX audit_events_created_at ON audit_events(created_at)",

    "CREATE TABLE system_config ("
    " key TEXT PRIMARY KEY NOT NULL, value TEXT, updated_at REAL NOT NULL)",

    "CREATE TABLE control ("
    " key TEXT PRIMARY KEY NOT NULL, value TEXT, updated_at REAL NOT NULL)",

    "CREATE TABLE llm_batches ("
    " id TEXT PRIMARY KEY NOT NULL, name TEXT, created_at REAL NOT NULL,"
    " expires_at REAL NOT NULL, requests INTEGER NOT NULL, parts INTEGER NOT NULL)",
    "CREATE TABLE llm_batch_requests ("
    " batch_id TEXT NOT NULL, custom_id TEXT NOT NULL, part INTEGER NOT NULL,"
    " provider_id TEXT, session TEXT, agent TEXT, template TEXT, template_version INTEGER,"
    " model TEXT, reservation_id TEXT, reserved_usd REAL NOT NULL DEFAULT 0,"
    " write_1h INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (batch_id, custom_id)) WITHOUT ROWID",
    "CREATE INDEX llm_batch_requests_provider ON llm_batch_requests(provider_id)"
    " WHERE provider_id IS NOT NULL",

    "CREATE TABLE llm_content (hash TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL)",
    NULL,
};
_Static_assert(SCHEMA_CURRENT_VERSION == sizeof migrations / sizeof migrations[0],
               "schema_current must be the schema the last migration leaves: change it with the migration");

static int exec_plain(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL); }

static int rewrite_status_check(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &st, NULL);
    int schema = 0;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        schema = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return rc;
    if ((rc = exec_plain(db, "PRAGMA writable_schema = ON")) != SQLITE_OK)
        return rc;
    rc = sqlite3_prepare_v2(db,
                            "UPDATE sqlite_master SET sql = replace(sql, ?1, ?2)"
                            " WHERE type = 'table' AND name = 'llm_interactions' AND instr(sql, ?1) > 0",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, "CHECK (status IN ('ok','error','cancelled'))", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, "CHECK (status = 'ok' OR status = 'error' OR status = 'cancelled')", -1,
                          SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    /* A build of SQLite that refuses edits to its schema (defensive mode) keeps the IN list: the
     * same constraint, only slower. */
    int rewritten = rc == SQLITE_OK && sqlite3_changes(db) == 1;
    if ((rc & 0xff) == SQLITE_ERROR)
        rc = SQLITE_OK;
    /* Other connections read the definitions again once the schema's version moves. */
    if (rc == SQLITE_OK && rewritten) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA schema_version = %d", schema + 1);
        rc = exec_plain(db, bump);
    }
    /* RESET turns it off and makes this connection read the definitions again (a new schema
     * version alone only tells the others). */
    int off = exec_plain(db, "PRAGMA writable_schema = RESET");
    return rc != SQLITE_OK ? rc : off;
}

/* One row at a time by rowid, so the update never meets the scan it follows. */
static int convert_parts(sqlite3 *db)
{
    sqlite3_stmt *next = NULL, *add = NULL, *set = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT rowid, prompt_text FROM llm_interactions WHERE rowid > ?1"
                                " AND prompt_text IS NOT NULL ORDER BY rowid LIMIT 1",
                                -1, &next, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, SQL_CONTENT_ADD, -1, &add, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "UPDATE llm_interactions SET request_parts = ?2, prompt_text = NULL"
                                " WHERE rowid = ?1",
                                -1, &set, NULL);
    store_content_memo memo = {0};
    sqlite3_int64 last = 0;
    while (rc == SQLITE_OK) {
        sqlite3_bind_int64(next, 1, last);
        rc = sqlite3_step(next);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            break;
        }
        rc = SQLITE_OK;
        last = sqlite3_column_int64(next, 0);
        /* A copy: the row's own bytes may move once it is updated. */
        char *text = text_dup((const char *)sqlite3_column_text(next, 1));
        sqlite3_reset(next);
        store_parts parts;
        if (!text || store_content_split(&memo, text, &parts) != 0) {
            free(text);
            rc = SQLITE_NOMEM;
            break;
        }
        for (size_t i = 0; rc == SQLITE_OK && i < parts.n; i++) {
            sqlite3_bind_text(add, 1, parts.pieces[i].hash, -1, SQLITE_STATIC);
            sqlite3_bind_text(add, 2, parts.pieces[i].text, (int)parts.pieces[i].len, SQLITE_STATIC);
            rc = sqlite3_step(add);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            sqlite3_reset(add);
        }
        if (rc == SQLITE_OK && parts.recipe) {
            sqlite3_bind_int64(set, 1, last);
            sqlite3_bind_text(set, 2, parts.recipe, -1, SQLITE_STATIC);
            rc = sqlite3_step(set);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            sqlite3_reset(set);
        }
        store_parts_free(&parts); /* after the steps: the pieces point into text */
        free(text);
    }
    store_content_memo_free(&memo);
    sqlite3_finalize(next);
    sqlite3_finalize(add);
    sqlite3_finalize(set);
    return rc;
}

/* What a migration does beyond its SQL, in its transaction (NULL: nothing). */
static int (*const converts[])(sqlite3 *db) = {NULL, NULL, NULL, NULL, NULL, convert_parts, NULL, NULL,
                                               rewrite_status_check, NULL};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(sizeof converts / sizeof converts[0] == sizeof migrations / sizeof migrations[0],
               "one convert entry per migration");

int store_schema_latest(void) { return NMIGRATIONS; }

static int read_version(sqlite3 *db, const char *path, int *version, error_info *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *version = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK) {
        store_fail(err, "store: cannot read the schema version of %s: %s", path,
                   sqlite3_errmsg(db));
        if (err && (rc & 0xff) == SQLITE_BUSY)
            err->retryable = 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

static int exec(sqlite3 *db, const char *sql, const char *path, int to, error_info *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    store_fail(err, "store: cannot migrate %s to schema version %d: %s", path, to,
               sqlite3_errmsg(db));
    if (err && (rc & 0xff) == SQLITE_BUSY)
        err->retryable = 1;
    return -1;
}

static void rollback(sqlite3 *db)
{
    /* SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR); only roll back an
     * open transaction. A failure here leaves nothing to undo, so it is not reported. */
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Takes db from its version to `target`: a new database straight to schema_current when
 * fresh_ok, every other one a migration at a time. */
static int advance(sqlite3 *db, const char *path, int target, int fresh_ok, int *version_out,
                   int *applied_out, error_info *err)
{
    int version = 0;
    *applied_out = 0;
    if (read_version(db, path, &version, err) != 0)
        return -1;
    if (version > NMIGRATIONS) {
        store_fail(err,
                   "store: %s has schema version %d, newer than this nyx knows (%d): "
                   "use a newer nyx",
                   path, version, NMIGRATIONS);
        return -1;
    }
    while (version < target) {
        int fresh = fresh_ok && version == 0 && target == NMIGRATIONS;
        int to = fresh ? NMIGRATIONS : version + 1;
        /* IMMEDIATE: take the write lock first, then re-read the version, so two
         * processes opening a new file at once migrate it exactly once. */
        if (exec(db, "BEGIN IMMEDIATE", path, to, err) != 0)
            return -1;
        int now = 0;
        if (read_version(db, path, &now, err) != 0) {
            rollback(db);
            return -1;
        }
        if (now != version) { /* another process migrated meanwhile */
            rollback(db);
            if (now > NMIGRATIONS) {
                store_fail(err, "store: %s has schema version %d, newer than this nyx knows (%d)",
                           path, now, NMIGRATIONS);
                return -1;
            }
            version = now;
            continue;
        }
        for (const char *const *sql = fresh ? schema_current : migrations[version]; *sql; sql++) {
            if (exec(db, *sql, path, to, err) != 0) {
                rollback(db);
                return -1;
            }
        }
        int crc = !fresh && converts[version] ? converts[version](db) : SQLITE_OK;
        if (crc != SQLITE_OK) {
            store_fail(err, "store: cannot migrate %s to schema version %d: %s", path, to,
                       crc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
            if (err && (crc & 0xff) == SQLITE_BUSY)
                err->retryable = 1;
            rollback(db);
            return -1;
        }
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", to);
        if (exec(db, pragma, path, to, err) != 0 || exec(db, "COMMIT", path, to, err) != 0) {
            rollback(db);
            return -1;
        }
        *applied_out += to - version;
        version = to;
    }
    *version_out = version;
    return 0;
}

int store_schema_migrate(sqlite3 *db, const char *path, int *version_out, int *applied_out,
                         error_info *err)
{
    return advance(db, path, NMIGRATIONS, 1, version_out, applied_out, err);
}

int store_schema_migrate_stepwise(sqlite3 *db, const char *path, int target, int *version_out,
                                  int *applied_out, error_info *err)
{
    if (target < 0 || target > NMIGRATIONS) {
        store_fail(err, "store: no schema version %d (this nyx knows 0 to %d)", target, NMIGRATIONS);
        return -1;
    }
    return advance(db, path, target, 0, version_out, applied_out, err);
}
