/* Operator-facing state shared by every process on the database: control flags (the
 * emergency stop), configuration, and the audit trail: argument checks and the queries,
 * written once for every backend.
 *
 * The control and system_config tables are the same shape (key, value, updated_at). A
 * change to either is news to the other processes: a stop, or a setting to load again.
 * SQLite's store_changed() reads PRAGMA data_version, which moves when another connection
 * commits; PostgreSQL's write notifies the channel nyx_control in the same statement, so
 * the notification leaves at its commit (store_pg_conn.c listens, store_changed() reports).
 * A set is waited for even in the background mode: `nyx stop`, `nyx resume` and `nyx config
 * set` must learn that it failed. */
#include "store_backend.h"

#include <stdio.h>

#include "base/clock.h"

/* A write to a key of control or system_config, notifying (PostgreSQL) with note + key. */
#define SQ_NOTIFY(stmt, note) stmt
#define PG_NOTIFY(stmt, note)                                                              \
    "WITH w AS (" stmt " RETURNING key) SELECT pg_notify('nyx_control', " note             \
    "left(key, 1000)) FROM w"

#define KV_SET(table) "INSERT INTO " table " (key, value, updated_at) VALUES (?1, ?2, ?3)"    \
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
#define CONTROL_SET(D) D##_NOTIFY(KV_SET("control"), "")
#define CONTROL_DEL(D) D##_NOTIFY("DELETE FROM control WHERE key = ?1", "")
#define CONFIG_SET(D) D##_NOTIFY(KV_SET("system_config"), "'config:' || ")
#define CONFIG_DEL(D) D##_NOTIFY("DELETE FROM system_config WHERE key = ?1", "'config:' || ")
#define CONFIG_LIST(D)                                                                     \
    "SELECT key, value, " D##_ISO("updated_at") " AS updated_at"                            \
    " FROM system_config ORDER BY key" D##_COLLATE_C

typedef struct kv_table {
    const char *noun; /* for messages */
    store_sql set, del;
} kv_table;

static const kv_table control = {"control flag", STORE_SQL(CONTROL_SET), STORE_SQL(CONTROL_DEL)};
static const kv_table config = {"configuration key", STORE_SQL(CONFIG_SET), STORE_SQL(CONFIG_DEL)};

/* A control flag is read by its key; the configuration is read whole (the engine's settings). */
static const store_sql SQL_CONTROL_GET = STORE_SQL_SAME("SELECT value FROM control WHERE key = ?1");

static const store_sql SQL_CONFIG_LIST = STORE_SQL(CONFIG_LIST);

static const store_sql SQL_AUDIT_ADD = STORE_SQL_SAME(
    "INSERT INTO audit_events (created_at, kind, session, agent, detail)"
    " VALUES (?1, ?2, ?3, ?4, ?5)");

/* The newest N are chosen first, then shown oldest first; %s: the filter's conditions, the
 * limit. */
#define AUDIT(D)                                                                           \
    "SELECT e.id AS id, " D##_ISO("e.created_at") " AS created_at, e.kind AS kind,"          \
    " e.session AS session, e.agent AS agent, e.detail AS detail FROM"                     \
    " (SELECT * FROM audit_events WHERE 1 = 1%s ORDER BY created_at DESC, id DESC%s) AS e"  \
    " ORDER BY e.created_at, e.id"
static const store_sql SQL_AUDIT = STORE_SQL(AUDIT);

static int check_key(const store_db *s, const char *key, const char *verb, const kv_table *t,
                     error_info *err)
{
    if (!s || !key || !*key)
        return store_invalid(err, "cannot %s a %s: no store or no key", verb, t->noun);
    return 0;
}

/* Sets a key of t; value NULL deletes it. */
static int kv_set(store_db *s, const kv_table *t, const char *key, const char *value,
                  error_info *err)
{
    if (check_key(s, key, "set", t, err) != 0)
        return -1;
    char what[160];
    snprintf(what, sizeof what, "%s %s %.64s", value ? "set" : "delete", t->noun, key);
    store_val v[] = {sv_text(key), sv_text(value), sv_real(clock_wall_s())};
    store_stmt st = {value ? &t->set : &t->del, what, value ? 3 : 1, v, NULL};
    return store_exec_write(s, &st, NULL, err);
}

int store_control_set(store_db *s, const char *key, const char *value, error_info *err)
{
    return kv_set(s, &control, key, value, err);
}

int store_control_get(store_db *s, const char *key, char **value, error_info *err)
{
    if (value)
        *value = NULL;
    if (check_key(s, key, "read", &control, err) != 0)
        return -1;
    if (!value)
        return store_invalid(err, "cannot read control flag %s: no place for the value", key);
    char what[160];
    snprintf(what, sizeof what, "read control flag %.64s", key);
    store_stmt st = {&SQL_CONTROL_GET, what, 1, (store_val[]){sv_text(key)}, NULL};
    return store_exec_text(s, &st, value, err) < 0 ? -1 : 0;
}

int store_changed(store_db *s, int *changed, error_info *err)
{
    if (!s || !changed)
        return store_invalid(err, "cannot check for changes: no store or no place for the answer");
    if (!s->ops->changed)
        return store_unsupported(s, "check for changes", err);
    return s->ops->changed(s, changed, err);
}

int store_config_set(store_db *s, const char *key, const char *value, error_info *err)
{
    return kv_set(s, &config, key, value, err);
}

int store_config_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn)
        return store_invalid(err, "cannot list the configuration: no store or no row callback");
    store_stmt st = {&SQL_CONFIG_LIST, "query the configuration", 0, NULL, NULL};
    return store_exec(s, &st, fn, ud, err);
}

int store_config_list_async(store_db *s, store_row_fn fn, void *ud, store_done_fn done,
                            void *done_ud, error_info *err)
{
    if (!s || !fn || !done)
        return store_invalid(err, "cannot list the configuration: no store or no callback");
    store_stmt st = {&SQL_CONFIG_LIST, "query the configuration", 0, NULL, NULL};
    return store_exec_async(s, &st, fn, ud, done, done_ud, err);
}

int store_control_get_async(store_db *s, const char *key, store_text_fn done, void *ud,
                            error_info *err)
{
    if (check_key(s, key, "read", &control, err) != 0)
        return -1;
    if (!done)
        return store_invalid(err, "cannot read control flag %s: no callback", key);
    store_stmt st = {&SQL_CONTROL_GET, "read a control flag", 1, (store_val[]){sv_text(key)}, NULL};
    return store_exec_text_async(s, &st, done, ud, err);
}

int store_audit(store_db *s, const char *kind, const char *session, const char *agent,
                const char *detail, error_info *err)
{
    if (!s || !kind || !*kind)
        return store_invalid(err, "cannot record an audit event: no store or no kind");
    store_scrubbed sc = {0};
    session = store_scrub(s, &sc, session, 1);
    agent = store_scrub(s, &sc, agent, 1);
    detail = store_scrub(s, &sc, detail, 0);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    char what[160];
    snprintf(what, sizeof what, "record audit event %.64s", kind);
    store_val v[] = {sv_real(clock_wall_s()), sv_text(kind), sv_text(session), sv_text(agent),
                     sv_text(detail)};
    store_stmt st = {&SQL_AUDIT_ADD, what, 5, v, NULL};
    int rc = store_exec_quiet(s, &st, err);
    store_scrub_free(&sc);
    return rc;
}

static int query_audit(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                       error_info *err)
{
    store_where w = {.n = 0};
    if (f && f->session)
        store_where_add(&w, "session = ?", sv_text(f->session));
    if (f && f->since > 0)
        store_where_add(&w, "created_at >= ?", sv_real(f->since));
    if (f && f->kind)
        store_where_add(&w, "kind = ?", sv_text(f->kind));
    char limit[32] = "";
    if (f && f->last > 0) {
        w.v[w.n++] = sv_int(f->last);
        snprintf(limit, sizeof limit, " LIMIT ?%d", w.n);
    }
    char sql[1024];
    if (store_sql_format(sql, sizeof sql, SQL_AUDIT.text[store_dialect(s)], w.sql, limit) != 0)
        return store_invalid(err, "cannot query the audit trail: the filter is too long");
    store_stmt st = {NULL, "query the audit trail", w.n, w.v, sql};
    return store_exec(s, &st, fn, ud, err);
}

int store_query_audit(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                      error_info *err)
{
    if (!s || !fn)
        return store_invalid(err, "cannot query the audit trail: no store or no row callback");
    if (f && f->last < 0)
        return store_invalid(err, "cannot query: last must be 0 (all) or a positive count");
    store_scrubbed sc = {0};
    store_filter clean;
    if (store_scrub_filter(s, &sc, f, &clean, err) != 0)
        return -1;
    int rc = query_audit(s, f ? &clean : NULL, fn, ud, err);
    store_scrub_free(&sc);
    return rc;
}
