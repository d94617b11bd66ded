#define _POSIX_C_SOURCE 200809L
/* The SQLite backend: one connection per store, WAL journal, statements prepared once at
 * open and reused for every write.
 *
 * Durability. The journal is WAL with synchronous=NORMAL by default. A commit appends its
 * pages to the -wal file with one write() (store_sqlite_vfs.c) before sqlite3_step()
 * returns; from then on the data is in the kernel's page cache, which belongs to the
 * kernel, not to the process. Killing the process (SIGKILL, a crash, an abort) therefore
 * loses nothing committed: the next opener replays the WAL. NORMAL skips only the fsync at
 * each commit, so what it risks is the last commits before a power loss or kernel crash
 * (the database stays consistent, never corrupt). FULL would fsync on every commit, costing
 * milliseconds per call on ordinary disks against the tens of microseconds here;
 * store_options.sync_full asks for it when power-loss durability matters more than
 * latency. The WAL and the database are synced at each checkpoint, which a background
 * thread runs (store_checkpoint.c).
 *
 * Locks. Every write either is a single statement in autocommit mode or happens inside a
 * batch opened with BEGIN IMMEDIATE, so a write never has to upgrade a read snapshot to a
 * write lock (in WAL mode that upgrade fails at once with SQLITE_BUSY, whatever the busy
 * timeout). Multi-statement transactions added later (budget reservations) must also begin
 * with BEGIN IMMEDIATE. Readers never wait for writers in WAL mode.
 */
#include "store_sqlite.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define STORE_SQLITE_CACHE_KIB "256"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT] =
        SQL_INSERT_INTERACTION
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39)"
        /* A batch result logged already (by another process) is left as it is. */
        " ON CONFLICT (batch_id, custom_id) WHERE batch_id IS NOT NULL DO NOTHING",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_CONTENT_ADD] = SQL_CONTENT_ADD,
};

/* ---- errors ---- */

int store_sqlite_fail(sq *q, error_info *err, int rc, const char *fmt, ...)
{
    if (!err)
        return -1;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    store_fail(err, "store: cannot %s %s: %s", what, q->path, msg);
    int primary = rc & 0xff;
    err->retryable = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
    return -1;
}

/* A write inside a batch failed: undo the whole batch now, say so in err, and remember it
 * so the rest of the batch and its commit fail too. */
void store_sqlite_abort_batch(sq *q, error_info *err)
{
    if (!q->in_batch || q->batch_aborted)
        return;
    if (!sqlite3_get_autocommit(q->db)) {
        /* May fail only if SQLite already rolled back; nothing is left to undo then. */
        sqlite3_step(q->st[ST_ROLLBACK]);
        sqlite3_reset(q->st[ST_ROLLBACK]);
    }
    q->batch_aborted = 1;
    store_sqlite_forget_parts(q);
    if (err) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n,
                 "; the batch (%ld earlier writes) was rolled back", q->batch_writes);
        snprintf(q->batch_error, sizeof q->batch_error, "%s", err->message);
    } else {
        snprintf(q->batch_error, sizeof q->batch_error,
                 "store: a write failed; the batch (%ld earlier writes) was rolled back",
                 q->batch_writes);
    }
}

/* Writes after a failure in the same batch are refused, so they cannot be committed on
 * their own out of order with the rows that were lost. */
int store_sqlite_refuse_in_aborted_batch(sq *q, error_info *err)
{
    if (!q->batch_aborted)
        return 0;
    store_fail(err, "store: write refused: the open batch was rolled back after an earlier "
                    "error (commit or roll back the batch first): %s",
               q->batch_error);
    return -1;
}

/* Steps a cached write statement to completion and readies it for reuse. Returns the
 * SQLite code: SQLITE_DONE on success. The error text stays readable in sqlite3_errmsg()
 * until the next call on the connection. */
int store_sqlite_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) /* none of the cached writes returns rows; drain defensively */
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
    sqlite3_reset(st);          /* returns rc again on failure: already known */
    sqlite3_clear_bindings(st); /* drop pointers to the caller's strings */
    return rc;
}

/* ---- open / close ---- */

/* Runs a pragma; the first column of its first row, if any, is copied to out. */
static int pragma(sq *q, const char *sql, char *out, size_t outsz, error_info *err)
{
    sqlite3_stmt *st = NULL;
    if (out && outsz)
        out[0] = '\0';
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        int first = 1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const unsigned char *v = sqlite3_column_text(st, 0);
            if (first && out && outsz && v)
                snprintf(out, outsz, "%s", (const char *)v);
            first = 0;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && err) {
        store_fail(err, "store: cannot open %s: %s (at %s)", q->path, sqlite3_errmsg(q->db), sql);
        err->retryable = (rc & 0xff) == SQLITE_BUSY;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

static void sq_free(sq *q)
{
    store_checkpointer_stop(q->ckpt); /* first: it holds a connection to the same file */
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    for (int i = 0; i < SL_COUNT; i++)
        sqlite3_finalize(q->lazy[i]);
    for (size_t i = 0; i < sizeof q->cache / sizeof q->cache[0]; i++)
        sqlite3_finalize(q->cache[i].st);
    /* Every statement is finalized, so this closes now; close_v2 never returns BUSY.
     * The last connection to close checkpoints the WAL and removes it. */
    sqlite3_close_v2(q->db);
    free(q->path);
    free(q);
}

static int sq_open(store_db *s, const char *uri, const store_options *opts, error_info *err)
{
    sq *q = calloc(1, sizeof *q);
    char *path = q ? strdup(uri) : NULL;
    if (!q || !path) {
        free(q);
        store_fail(err, "store: cannot open %s: out of memory", uri);
        return -1;
    }
    q->path = path;

    /* NOMUTEX: one store per thread (see store.h), so SQLite's own mutexes are waste.
     * The VFS writes a commit's WAL frames in one call (store_sqlite_vfs.c). */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(uri, &q->db, flags, store_sqlite_vfs());
    struct stat st;
    if (rc != SQLITE_OK && strncmp(uri, "file:", 5) != 0 && stat(uri, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* SQLite says only "unable to open database file" of a directory: say what is wrong. */
        store_fail(err, "store: cannot open %s: it is a directory, not a database file", uri);
        sq_free(q);
        return -1;
    }
    if (rc != SQLITE_OK) {
        store_sqlite_fail(q, err, rc, "open");
        sq_free(q);
        return -1;
    }
    sqlite3_extended_result_codes(q->db, 1);

    int busy = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
    q->busy_ms = busy > 0 ? busy : 0;
    rc = sqlite3_busy_timeout(q->db, q->busy_ms);
    if (rc != SQLITE_OK) {
        store_sqlite_fail(q, err, rc, "set the busy timeout on");
        sq_free(q);
        return -1;
    }

    /* Read-only (file permissions or "mode=ro"): open it for queries; the journal mode is
     * the file's own, and writes fail with SQLite's "attempt to write a readonly database". */
    q->readonly = sqlite3_db_readonly(q->db, "main") == 1;
    if (q->readonly)
        snprintf(q->readonly_why, sizeof q->readonly_why,
                 "store: %.200s is open read-only (the file's permissions, or a mode=ro URI): it takes no writes",
                 q->path);
    char mode[16] = "";
    /* On a filesystem without shared memory this stays "delete": slower, still correct.
     * ":memory:" answers "memory". */
    if (!q->readonly && pragma(q, "PRAGMA journal_mode = WAL", mode, sizeof mode, err) != 0) {
        sq_free(q);
        return -1;
    }
    int sync_full = opts && opts->sync_full;
    const char *sync = sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    /* Bound the -wal file kept after a checkpoint (64 MiB). Bound the page cache to 256 KiB
     * (SQLite's default is 2 MiB, a third of the engine's own memory with 64 calls in flight):
     * the engine appends records and reads back little, so what it touches again is the right
     * edge of each B-tree, and a page it misses is one read from the kernel's page cache. */
    if (pragma(q, sync, NULL, 0, err) != 0 ||
        pragma(q, "PRAGMA journal_size_limit = 67108864", NULL, 0, err) != 0 ||
        pragma(q, "PRAGMA cache_size = -" STORE_SQLITE_CACHE_KIB, NULL, 0, err) != 0) {
        sq_free(q);
        return -1;
    }

    if (store_schema_migrate(q->db, q->path, &q->version, &q->applied, err) != 0) {
        sq_free(q);
        return -1;
    }

    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
                                NULL);
        if (rc != SQLITE_OK) {
            store_sqlite_fail(q, err, rc, "prepare statement %d on", i);
            sq_free(q);
            return -1;
        }
    }
    if (strcmp(mode, "wal") == 0)
        q->ckpt = store_checkpointer_start(q->db, uri, sync_full);
    s->impl = q;
    return 0;
}

static void sq_close(store_db *s)
{
    sq *q = sq_of(s);
    if (!q)
        return;
    if (q->in_batch && !q->batch_aborted && !sqlite3_get_autocommit(q->db)) {
        /* Best effort (see store.h): commit, else leave nothing half-done. */
        if (store_sqlite_step_done(q->st[ST_COMMIT]) != SQLITE_DONE && !sqlite3_get_autocommit(q->db))
            store_sqlite_step_done(q->st[ST_ROLLBACK]);
    }
    sq_free(q);
    s->impl = NULL;
}

/* In a loop a lock held by another process must not stop the loop for long: a write waits
 * only for a commit under way elsewhere (well under LOOP_LOCK_WAIT_MS), then fails with a
 * retryable store_error; the engine retries on a timer, its calls waiting, not its frame.
 * The open itself (schema checks, migration) keeps the longer timeout. */
#define LOOP_LOCK_WAIT_MS 10

static void sq_set_background(store_db *s, int on)
{
    sq *q = sq_of(s);
    sqlite3_busy_timeout(q->db, on ? (q->busy_ms < LOOP_LOCK_WAIT_MS ? q->busy_ms : LOOP_LOCK_WAIT_MS) : q->busy_ms);
}

static int sq_schema_version(const store_db *s) { return sq_of(s)->version; }

static const char *sq_readonly_why(const store_db *s)
{
    return sq_of(s)->readonly ? sq_of(s)->readonly_why : NULL;
}

sqlite3 *store_sqlite_db(store_db *s)
{
    return s && s->ops == &store_sqlite_ops ? sq_of(s)->db : NULL;
}

int store_sqlite_migrations_applied(const store_db *s)
{
    return s && s->ops == &store_sqlite_ops ? sq_of(s)->applied : 0;
}

long store_sqlite_checkpoints(store_db *s)
{
    return s && s->ops == &store_sqlite_ops ? store_checkpointer_runs(sq_of(s)->ckpt) : -1;
}

/* ---- writes ---- */

static int part_in_batch(const sq *q, const char *hash)
{
    for (int i = 0; i < q->nbatch_parts; i++)
        if (memcmp(q->batch_parts[i], hash, STORE_HASH_HEX) == 0)
            return 1;
    return 0;
}

static void remember_part(sq *q, const char *hash)
{
    int slot = q->nbatch_parts < SQ_BATCH_PARTS ? q->nbatch_parts++ : q->next_part++ % SQ_BATCH_PARTS;
    memcpy(q->batch_parts[slot], hash, STORE_HASH_HEX);
}

/* The parts of the request it shares with others, each unless stored already: in the open
 * batch (q->batch_parts), else by the insert's own conflict clause. */
static int insert_parts(sq *q, const interaction_rec *it, error_info *err)
{
    for (size_t i = 0; it->parts && i < it->parts->n; i++) {
        const store_piece *p = &it->parts->pieces[i];
        if (q->in_batch && part_in_batch(q, p->hash))
            continue;
        sqlite3_stmt *st = q->st[ST_CONTENT_ADD];
        int rc = sqlite3_bind_text(st, 1, p->hash, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 2, p->text, (int)p->len, SQLITE_STATIC);
        rc = rc == SQLITE_OK ? store_sqlite_step_done(st) : rc;
        if (rc != SQLITE_DONE) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            store_sqlite_fail(q, err, rc, "log interaction %s (a part of its request) to", it->id);
            return rc;
        }
        if (q->in_batch)
            remember_part(q, p->hash);
    }
    return SQLITE_DONE;
}

/* 1 when parameter was holds what v would bind: a NULL, or the same number. */
static int bound_already(const store_val *was, const store_val *v)
{
    if (v->null || was->null)
        return v->null && was->null;
    if (v->type != was->type)
        return 0;
    if (v->type == ROW_INT)
        return v->i == was->i;
    return v->type == ROW_REAL && memcmp(&v->r, &was->r, sizeof v->r) == 0;
}

/* Binds one text of an interaction to ST_INSERT. Most short ones are the same from record to
 * record (the models, the status, the provider, the stop reason): one the previous record had
 * too is bound as a copy SQLite keeps, and from then on left as it is while it does not change.
 * Any other text (an id, a reply) is borrowed (SQLITE_STATIC) for this insert only, never read
 * again before it is bound anew: a copy costs SQLite an allocation every time it changes. */
static int bind_text(sq *q, sqlite3_stmt *st, int i, const char *t, int known)
{
    size_t len = strlen(t);
    if (len >= SQ_KEPT_TEXT || len > INT_MAX) {
        q->insert_text_len[i] = -1;
        return sqlite3_bind_text(st, i + 1, t, (int)len, SQLITE_STATIC);
    }
    int again = known && q->insert_text_len[i] == (signed char)len && memcmp(q->insert_text[i], t, len) == 0;
    if (again && q->insert_text_owned[i])
        return SQLITE_OK;
    q->insert_text_len[i] = -1; /* until it is bound */
    int rc = sqlite3_bind_text(st, i + 1, t, (int)len, again ? SQLITE_TRANSIENT : SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        memcpy(q->insert_text[i], t, len);
        q->insert_text_len[i] = (signed char)len;
        q->insert_text_owned[i] = (char)again;
    }
    return rc;
}

/* Binds an interaction's values to ST_INSERT. Most of its 39 parameters are NULL, the same
 * number or the same short text from record to record, so a parameter that holds its value
 * already is left as it is (its bindings are not cleared after the insert). */
static int bind_insert(sq *q, sqlite3_stmt *st, const store_val *v, int n)
{
    int known = q->insert_known, rc = SQLITE_OK;
    q->insert_known = 0;
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        if (!v[i].null && v[i].type == ROW_TEXT) {
            rc = bind_text(q, st, i, v[i].text, known);
            continue;
        }
        if (known && bound_already(&q->insert_was[i], &v[i]))
            continue;
        q->insert_text_len[i] = -1;
        if (v[i].null)
            rc = sqlite3_bind_null(st, i + 1);
        else if (v[i].type == ROW_INT)
            rc = sqlite3_bind_int64(st, i + 1, v[i].i);
        else
            rc = sqlite3_bind_double(st, i + 1, v[i].r);
    }
    if (rc != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return rc;
    }
    memcpy(q->insert_was, v, (size_t)n * sizeof *v);
    q->insert_known = 1;
    return SQLITE_OK;
}

int store_sqlite_insert_interaction(sq *q, const interaction_rec *it, error_info *err)
{
    int parts_rc = insert_parts(q, it, err);
    if (parts_rc != SQLITE_DONE)
        return parts_rc;
    store_val v[STORE_INTERACTION_VALS];
    int n = store_interaction_vals(it, v);
    sqlite3_stmt *st = q->st[ST_INSERT];
    int rc = bind_insert(q, st, v, n);
    if (rc != SQLITE_OK) {
        store_sqlite_fail(q, err, rc, "log interaction %s (binding its values) to", it->id);
        sqlite3_reset(st);
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) /* the insert returns no rows; drain defensively */
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
    sqlite3_reset(st); /* returns rc again on failure: already known */
    if (rc != SQLITE_DONE)
        store_sqlite_fail(q, err, rc, "log interaction %s to", it->id);
    return rc;
}

static int sq_log_interaction(store_db *s, const interaction_rec *it, error_info *err)
{
    if (it->parts) /* more than one write: one transaction */
        return store_sqlite_log_interaction_settle(s, it, NULL, 0, err);
    sq *q = sq_of(s);
    if (store_sqlite_refuse_in_aborted_batch(q, err) != 0)
        return -1;
    if (store_sqlite_insert_interaction(q, it, err) != SQLITE_DONE) {
        store_sqlite_abort_batch(q, err);
        return -1;
    }
    if (q->in_batch)
        q->batch_writes++;
    return 0;
}

static int sq_batch_begin(store_db *s, error_info *err)
{
    sq *q = sq_of(s);
    if (q->in_batch) {
        store_fail(err, "store: cannot begin a batch on %s: a batch is already open", q->path);
        return -1;
    }
    int rc = store_sqlite_step_done(q->st[ST_BEGIN]);
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(q, err, rc, "begin a batch on");
    q->in_batch = 1;
    q->batch_aborted = 0;
    q->batch_writes = 0;
    q->batch_error[0] = '\0';
    store_sqlite_forget_parts(q);
    return 0;
}

static void end_batch(sq *q)
{
    store_sqlite_forget_parts(q);
    q->in_batch = 0;
    q->batch_aborted = 0;
    q->batch_writes = 0;
    q->batch_error[0] = '\0';
}

static int sq_batch_commit(store_db *s, error_info *err)
{
    sq *q = sq_of(s);
    if (!q->in_batch) {
        store_fail(err, "store: cannot commit a batch on %s: no batch is open", q->path);
        return -1;
    }
    if (q->batch_aborted) {
        store_fail(err, "store: batch not committed: %s", q->batch_error);
        end_batch(q);
        return -1;
    }
    int rc = store_sqlite_step_done(q->st[ST_COMMIT]);
    if (rc != SQLITE_DONE) {
        store_sqlite_fail(q, err, rc, "commit a batch of %ld writes to", q->batch_writes);
        if (!sqlite3_get_autocommit(q->db))
            store_sqlite_step_done(q->st[ST_ROLLBACK]);
        if (err) {
            size_t n = strlen(err->message);
            snprintf(err->message + n, sizeof err->message - n, "; the batch was rolled back");
        }
        end_batch(q);
        return -1;
    }
    end_batch(q);
    return 0;
}

static int sq_batch_rollback(store_db *s, error_info *err)
{
    sq *q = sq_of(s);
    if (!q->in_batch) {
        store_fail(err, "store: cannot roll back a batch on %s: no batch is open", q->path);
        return -1;
    }
    int rc = SQLITE_DONE;
    if (!sqlite3_get_autocommit(q->db))
        rc = store_sqlite_step_done(q->st[ST_ROLLBACK]);
    end_batch(q);
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(q, err, rc, "roll back a batch on");
    return 0;
}

const store_backend_ops store_sqlite_ops = {
    .name = "sqlite",
    .dialect = STORE_DIALECT_SQLITE,
    .run = store_sqlite_run,
    .begin = store_sqlite_begin,
    .commit = store_sqlite_commit,
    .rollback = store_sqlite_rollback,
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .readonly_why = sq_readonly_why,
    .log_interaction = sq_log_interaction,
    .batch_begin = sq_batch_begin,
    .batch_commit = sq_batch_commit,
    .batch_rollback = sq_batch_rollback,
    .budget_reserve = store_sqlite_budget_reserve,
    .budget_settle = store_sqlite_budget_settle,
    .log_interaction_settle = store_sqlite_log_interaction_settle,
    .changed = store_sqlite_changed,
    .set_background = sq_set_background,
};
