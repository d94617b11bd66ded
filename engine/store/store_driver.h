/* The thin driver under engine/store's query layer: what the query files (store_templates.c,
 * store_control.c, store_cache.c, ...) hand a backend to run. Each statement is written once,
 * in a store_sql holding its text for each dialect (almost always the same text, with ?N
 * placeholders; the PostgreSQL driver numbers them $N), its values typed (store_val), and its
 * rows come back typed through a store_row_fn.
 *
 * A dialect differs in a few words, kept here as macro pairs SQ_x / PG_x, so that a statement
 * is written once as a macro of its dialect D (D##_ISO(col) ...) and expanded for both:
 *     #define LIST(D) "SELECT " D##_ISO("created_at") " FROM t ORDER BY name" D##_COLLATE_C
 *     static const store_sql SQL_LIST = STORE_SQL(LIST);
 */
#ifndef NYX_STORE_DRIVER_H
#define NYX_STORE_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/rows.h"
#include "store.h"

enum { STORE_DIALECT_SQLITE, STORE_DIALECT_PG, STORE_DIALECTS };

/* ---- the dialect table ---- */

/* ISO 8601 UTC with milliseconds from an epoch-seconds column (PostgreSQL rounds as SQLite
 * does: to_char alone truncates). */
#define SQ_ISO(col) "strftime('%Y-%m-%dT%H:%M:%fZ', " col ", 'unixepoch')"
#define PG_ISO(col)                                                                        \
    "to_char(to_timestamp(floor(" col " * 1000 + 0.5) / 1000) AT TIME ZONE 'UTC',"          \
    " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* Text ordered byte by byte (SQLite's default), whatever the server's locale. */
#define SQ_COLLATE_C ""
#define PG_COLLATE_C " COLLATE \"C\""
/* The length of a text in bytes. */
#define SQ_OCTETS(x) "length(CAST(" x " AS BLOB))"
#define PG_OCTETS(x) "octet_length(" x ")"
/* An interaction's commit order (SQLite's rowid, PostgreSQL's seq), indexed in both. */
#define SQ_ROWID "rowid"
#define PG_ROWID "seq"

/* One statement, written once: its text in each dialect (NULL: the dialect has no such
 * statement, store_sql_has() says 0). The texts are static: drivers key their caches of
 * prepared statements on them. */
typedef struct store_sql {
    const char *text[STORE_DIALECTS];
} store_sql;

#define STORE_SQL(MACRO) {{MACRO(SQ), MACRO(PG)}}
#define STORE_SQL_SAME(text) {{text, text}}

/* ---- values ---- */

typedef struct store_val {
    char type; /* ROW_TEXT, ROW_INT or ROW_REAL: the parameter's type, NULL or not */
    char null;
    const char *text; /* borrowed until the call returns (drivers copy what they keep) */
    int64_t i;
    double r;
} store_val;

static inline store_val sv_text(const char *v)
{
    return (store_val){.type = ROW_TEXT, .null = v == NULL, .text = v};
}
static inline store_val sv_int(int64_t v) { return (store_val){.type = ROW_INT, .i = v}; }
static inline store_val sv_real(double v) { return (store_val){.type = ROW_REAL, .r = v}; }
static inline store_val sv_real_or_null(int present, double v)
{
    return (store_val){.type = ROW_REAL, .null = !present, .r = v};
}
static inline store_val sv_int_or_null(int present, int64_t v)
{
    return (store_val){.type = ROW_INT, .null = !present, .i = v};
}

#define STORE_MAX_VALS 48

/* One run of a statement. */
typedef struct store_stmt {
    const store_sql *sql;
    const char *what; /* for messages: "store: cannot <what> in <database>: <reason>" */
    int n;
    const store_val *v; /* n values: ?1 .. ?n */
    const char *text;   /* instead of sql: a text built for this run (not kept prepared) */
} store_stmt;

/* ---- what a driver implements (members of store_backend_ops) ----
 * run:     runs st and waits for it. Rows go to fn (NULL: ignored); *changes (may be NULL)
 *          gets the rows the statement changed. Returns 0, 1 when fn stopped the rows, or -1
 *          with err filled. A write outside begin/commit follows the batch rules of the
 *          backend (store_batch_begin).
 * submit:  queues st; its rows go to fn from store_pump(), then done(done_ud, 0 or -1, -1,
 *          err). -1 with err, done not called, when it could not be queued. NULL for a
 *          driver that answers at once: the query layer runs it and calls done.
 * write:   a write nobody reads an answer of: with store_set_background(s, 1) a driver that
 *          answers later queues it (a failure is kept for store_take_write_error). NULL:
 *          run.
 * begin, commit, rollback: one operation of several statements, atomic (SQLite: BEGIN
 *          IMMEDIATE, or a savepoint inside a batch). rollback's db_failed: 1 when the
 *          database failed (a batch goes with it), 0 when the operation was refused. A driver
 *          whose every statement is its own transaction (PostgreSQL) leaves them NULL: the
 *          statements of an operation are then written to be correct one by one. */

/* ---- the query layer's helpers (store_exec.c) ---- */

/* 1 when the dialect of s has a text for sql. */
int store_sql_has(const store_db *s, const store_sql *sql);
/* The dialect of s (STORE_DIALECT_*). */
int store_dialect(const store_db *s);

int store_exec(store_db *s, const store_stmt *st, store_row_fn fn, void *ud, error_info *err);
/* store_exec for a statement changing rows: *changes (may be NULL) how many. 0 or -1. */
int store_exec_write(store_db *s, const store_stmt *st, long long *changes, error_info *err);
/* A write whose answer nobody needs (the driver's write). */
int store_exec_quiet(store_db *s, const store_stmt *st, error_info *err);
/* Column 0 of the first row: 1 with *value a malloc'd copy (NULL for SQL NULL), 0 when
 * there is no row (*value NULL), -1 with err filled. */
int store_exec_text(store_db *s, const store_stmt *st, char **value, error_info *err);
/* Column 0 of the first row as an integer: 1, 0 (no row), -1. */
int store_exec_int(store_db *s, const store_stmt *st, int64_t *value, error_info *err);
/* store_exec answered in the loop (or at once by a driver that answers at once). */
int store_exec_async(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                     store_done_fn done, void *done_ud, error_info *err);
/* store_exec_text answered in done(ud, 0, text or NULL, NULL) or done(ud, -1, NULL, err). */
int store_exec_text_async(store_db *s, const store_stmt *st, store_text_fn done, void *ud,
                          error_info *err);

/* An operation of several statements (the driver's begin/commit/rollback; nothing for a
 * driver without them). */
int store_tx_begin(store_db *s, const char *what, error_info *err);
int store_tx_commit(store_db *s, const char *what, error_info *err);
void store_tx_rollback(store_db *s, int db_failed, error_info *err);

/* Conditions of a query built for its filter: " AND cond" each, cond with one '?' for its
 * value, numbered ?1, ?2 ... in order. */
typedef struct store_where {
    char sql[512];
    store_val v[8];
    int n;
} store_where;
void store_where_add(store_where *w, const char *cond, store_val v);

/* Like snprintf, but only "%s" is a conversion: every other '%' is copied as it is (SQLite's
 * strftime formats are full of them). Returns 0, or -1 when out is too small. */
int store_sql_format(char *out, size_t size, const char *tmpl, ...);

#endif
