/* Control flags, configuration and the audit trail in SQLite: the control and
 * system_config tables are the same shape (key, value, updated_at) and share the code;
 * store_changed() reads PRAGMA data_version, which moves only when another connection
 * commits, so polling it costs no table read. */
#include "store_sqlite.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"

typedef struct kv_table {
    const char *noun; /* for messages */
    int set, del, get;
    const char *set_sql, *del_sql, *get_sql;
} kv_table;

static const kv_table control = {
    "control flag", SL_CONTROL_SET, SL_CONTROL_DELETE, SL_CONTROL_GET,
    "INSERT INTO control (key, value, updated_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    "DELETE FROM control WHERE key = ?1",
    "SELECT value FROM control WHERE key = ?1",
};

static const kv_table config = {
    "configuration key", SL_CONFIG_SET, SL_CONFIG_DELETE, SL_CONFIG_GET,
    "INSERT INTO system_config (key, value, updated_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    "DELETE FROM system_config WHERE key = ?1",
    "SELECT value FROM system_config WHERE key = ?1",
};

static int kv_set(store_db *s, const kv_table *t, const char *key, const char *value,
                  error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = value ? store_sqlite_stmt(q, t->set, t->set_sql, err)
                             : store_sqlite_stmt(q, t->del, t->del_sql, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, key);
    if (value) {
        sqb_text(&b, 2, value);
        sqb_real(&b, 3, clock_wall_s());
    }
    char what[160];
    snprintf(what, sizeof what, "%s %s %.64s in", value ? "set" : "delete", t->noun, key);
    return store_sqlite_write(q, &b, what, err);
}

static int kv_get(store_db *s, const kv_table *t, const char *key, char **value,
                  error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, t->get, t->get_sql, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, key);
    char what[160];
    snprintf(what, sizeof what, "read %s %.64s in", t->noun, key);
    return store_sqlite_read_text(q, &b, what, value, err) < 0 ? -1 : 0;
}

int store_sqlite_control_set(store_db *s, const char *key, const char *value, error_info *err)
{
    return kv_set(s, &control, key, value, err);
}

int store_sqlite_control_get(store_db *s, const char *key, char **value, error_info *err)
{
    return kv_get(s, &control, key, value, err);
}

int store_sqlite_config_set(store_db *s, const char *key, const char *value, error_info *err)
{
    return kv_set(s, &config, key, value, err);
}

int store_sqlite_config_get(store_db *s, const char *key, char **value, error_info *err)
{
    return kv_get(s, &config, key, value, err);
}

int store_sqlite_config_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_CONFIG_LIST,
                                         "SELECT key, value, " SQ_ISO("updated_at")
                                         " AS updated_at FROM system_config ORDER BY key",
                                         err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    return store_sqlite_rows(q, "the configuration", &b, 0, fn, ud, err);
}

int store_sqlite_changed(store_db *s, int *changed, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_DATA_VERSION, "PRAGMA data_version", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(q, err, rc, "check for changes in");
    *changed = !q->data_version_seen || v != q->data_version;
    q->data_version = v;
    q->data_version_seen = 1;
    return 0;
}

/* ---- audit trail ---- */

int store_sqlite_audit(store_db *s, const char *kind, const char *session, const char *agent,
                       const char *detail, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_AUDIT_ADD,
                                         "INSERT INTO audit_events (created_at, kind, session,"
                                         " agent, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                                         err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_real(&b, 1, clock_wall_s());
    sqb_text(&b, 2, kind);
    sqb_text(&b, 3, session);
    sqb_text(&b, 4, agent);
    sqb_text(&b, 5, detail);
    char what[160];
    snprintf(what, sizeof what, "record audit event %.64s in", kind);
    return store_sqlite_write(q, &b, what, err);
}

/* Built for the filter, like the interaction log's query: it runs rarely, so it is not
 * kept prepared. The newest N are chosen first, then shown oldest first. */
int store_sqlite_query_audit(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                             error_info *err)
{
    sq *q = sq_of(s);
    char where[128] = "1";
    if (f && f->session)
        strcat(where, " AND session = :session");
    if (f && f->since > 0)
        strcat(where, " AND created_at >= :since");
    if (f && f->kind)
        strcat(where, " AND kind = :kind");
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT e.id AS id, %s AS created_at, e.kind AS kind, e.session AS session,"
             " e.agent AS agent, e.detail AS detail FROM"
             " (SELECT * FROM audit_events WHERE %s ORDER BY created_at DESC, id DESC%s) AS e"
             " ORDER BY e.created_at, e.id",
             SQ_ISO("e.created_at"), where, f && f->last > 0 ? " LIMIT :last" : "");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_sqlite_fail(q, err, rc, "query the audit trail in");
    }
    sq_binder b = {st, SQLITE_OK};
    if (f && f->session)
        sqb_text(&b, sqlite3_bind_parameter_index(st, ":session"), f->session);
    if (f && f->since > 0)
        sqb_real(&b, sqlite3_bind_parameter_index(st, ":since"), f->since);
    if (f && f->kind)
        sqb_text(&b, sqlite3_bind_parameter_index(st, ":kind"), f->kind);
    if (f && f->last > 0)
        sqb_int(&b, sqlite3_bind_parameter_index(st, ":last"), f->last);
    return store_sqlite_rows(q, "the audit trail", &b, 1, fn, ud, err);
}
