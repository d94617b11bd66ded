/* Retention (store.h's store_prune): what a log kept bounded deletes, written once for every
 * backend. The log only grows, about 0.9 KB a call; this removes the calls made before a time,
 * the finished batches among them, the shared request parts left unnamed, and the expired
 * response-cache entries, in pieces small enough that the processes logging to a SQLite file
 * wait for its write lock no longer than for one of their own group commits.
 *
 * Budgets keep their spending in their own rows (store_budget.c settles into budgets.spent_usd),
 * so no open window depends on the rows deleted here. A batch's rows depend on its logged
 * results: `nyx batch results` logs again what it does not find, and its reservations settle
 * once every request is logged, so a batch stays whole until it is finished, settled and
 * older than the time given. */
#define _POSIX_C_SOURCE 200809L
#include "store_backend.h"
#include "store_content.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

/* Interactions (a range of this many commit numbers), parts and cache rows per write. Measured
 * on a SQLite file of 100,000 calls (bench/prune.sh): see the commit that set them. */
#define PRUNE_ROWS 1000
#define PRUNE_PARTS 256

/* The batches whose rows stay (?1: the time): made at or after it, or with a request not yet
 * logged, logged at or after it, or whose reservation is still held. */
#define KEPT_BATCHES                                                                       \
    "SELECT b.id FROM llm_batches AS b WHERE b.created_at >= ?1 OR EXISTS (SELECT 1"        \
    " FROM llm_batch_requests AS r LEFT JOIN llm_interactions AS j"                        \
    " ON j.batch_id = r.batch_id AND j.custom_id = r.custom_id WHERE r.batch_id = b.id"    \
    " AND (j.id IS NULL OR j.created_at >= ?1"                                             \
    " OR r.reservation_id IN (SELECT id FROM budget_holds)))"
#define PRUNABLE "created_at < ?1 AND (batch_id IS NULL OR batch_id NOT IN (" KEPT_BATCHES "))"
#define TEXT_BYTES(D)                                                                      \
    "COALESCE(" D##_OCTETS("prompt_text") ", 0) + COALESCE(" D##_OCTETS("response_text")  \
    ", 0) + COALESCE(" D##_OCTETS("request_parts") ", 0) + COALESCE("                      \
    D##_OCTETS("attempts_json") ", 0) + COALESCE(" D##_OCTETS("error_message") ", 0)"

#define COUNT_INTERACTIONS(D)                                                              \
    "SELECT COUNT(*), CAST(COALESCE(SUM(" TEXT_BYTES(D) "), 0) AS BIGINT),"                 \
    " MIN(" D##_ROWID "), MAX(" D##_ROWID ") FROM llm_interactions WHERE " PRUNABLE
static const store_sql SQL_COUNT_INTERACTIONS = STORE_SQL(COUNT_INTERACTIONS);

#define DONE_BATCHES "SELECT id FROM llm_batches WHERE created_at < ?1 AND id NOT IN (" KEPT_BATCHES ")"
static const store_sql SQL_COUNT_BATCHES = STORE_SQL_SAME("SELECT COUNT(*) FROM (" DONE_BATCHES ") AS d");
/* The requests first: a batch left without them (a failure between the two) is finished by the
 * next prune, while a batch whose row went first would leave its requests unread. */
static const store_sql SQL_DELETE_BATCH_REQUESTS = STORE_SQL_SAME(
    "DELETE FROM llm_batch_requests WHERE batch_id IN (" DONE_BATCHES ")");
static const store_sql SQL_DELETE_BATCHES = STORE_SQL_SAME(
    "DELETE FROM llm_batches WHERE created_at < ?1 AND id NOT IN (SELECT batch_id FROM llm_batch_requests)");

/* Once the finished batches are gone, a batch still recorded is one whose rows stay. */
#define DELETE_INTERACTIONS(D)                                                             \
    "DELETE FROM llm_interactions WHERE " D##_ROWID " > ?2 AND " D##_ROWID " <= ?3"        \
    " AND created_at < ?1 AND (batch_id IS NULL OR batch_id NOT IN (SELECT id FROM llm_batches))"
static const store_sql SQL_DELETE_INTERACTIONS = STORE_SQL(DELETE_INTERACTIONS);

/* The recipes that name parts: of every row, or (a dry run) of the rows a prune keeps. */
static const store_sql SQL_RECIPES = STORE_SQL_SAME(
    "SELECT request_parts FROM llm_interactions WHERE request_parts IS NOT NULL");
static const store_sql SQL_RECIPES_KEPT = STORE_SQL_SAME(
    "SELECT request_parts FROM llm_interactions WHERE request_parts IS NOT NULL AND NOT (" PRUNABLE ")");
#define PARTS(D) "SELECT hash, " D##_OCTETS("body") " FROM llm_content"
static const store_sql SQL_PARTS = STORE_SQL(PARTS);
static const store_sql SQL_LAST_ROW = STORE_SQL_SAME("SELECT COALESCE(MAX(rowid), 0) FROM llm_interactions");
/* A part found unnamed is deleted unless a row logged since the recipes were read names it
 * (SQLite: a new row's rowid is above every row's there was, and the write lock holds new ones
 * off while this runs). PostgreSQL's nyx_content_purge locks the parts against loggers and
 * reads every recipe itself (store_pg_schema.c). */
static const store_sql SQL_DELETE_PART = {
    {"DELETE FROM llm_content WHERE hash = ?1 AND NOT EXISTS (SELECT 1 FROM llm_interactions"
     " WHERE rowid > ?2 AND instr(request_parts, ?1) > 0)",
     NULL}};
static const store_sql SQL_PURGE_PARTS = {{NULL, "SELECT nyx_content_purge()"}};

#define COUNT_CACHE(D)                                                                     \
    "SELECT COUNT(*), CAST(COALESCE(SUM(" D##_OCTETS("response_json") "), 0) AS BIGINT)"    \
    " FROM llm_cache WHERE expires_at <= ?1"
static const store_sql SQL_COUNT_CACHE = STORE_SQL(COUNT_CACHE);
/* NULL expires_at (never expires) never compares true. */
static const store_sql SQL_DELETE_CACHE = STORE_SQL_SAME(
    "DELETE FROM llm_cache WHERE key IN (SELECT key FROM llm_cache WHERE expires_at <= ?1 LIMIT ?2)");

/* ---- the columns of one row as integers ---- */

typedef struct ints {
    int64_t v[4];
    int null[4];
} ints;

static int take_ints(void *ud, int ncols, const char *const *names, const char *const *values,
                     const char *types)
{
    (void)names;
    (void)types;
    ints *x = ud;
    for (int i = 0; i < ncols && i < 4; i++) {
        x->null[i] = values[i] == NULL;
        x->v[i] = values[i] ? strtoll(values[i], NULL, 10) : 0;
    }
    return 1;
}

/* ---- a set of part hashes (32 bytes each), open addressing ---- */

typedef struct hash_set {
    uint8_t (*keys)[32];
    uint8_t *used;
    size_t n, cap;
    int oom;
} hash_set;

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 0 with key filled when hex is 64 lowercase hex digits (as store_content_hash writes). */
static int hash_key(const char *hex, size_t len, uint8_t key[32])
{
    if (len != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static size_t slot_of(const hash_set *h, const uint8_t key[32])
{
    uint64_t x;
    memcpy(&x, key, sizeof x); /* a SHA-256: its bytes are spread already */
    return (size_t)(x & (h->cap - 1));
}

static int set_has(const hash_set *h, const uint8_t key[32])
{
    if (h->cap == 0)
        return 0;
    for (size_t i = slot_of(h, key);; i = (i + 1) & (h->cap - 1)) {
        if (!h->used[i])
            return 0;
        if (memcmp(h->keys[i], key, 32) == 0)
            return 1;
    }
}

static void set_put(hash_set *h, const uint8_t key[32]);

static int set_grow(hash_set *h)
{
    hash_set g = {0};
    g.cap = h->cap ? 2 * h->cap : 1024;
    g.keys = malloc(g.cap * sizeof *g.keys);
    g.used = calloc(g.cap, 1);
    if (!g.keys || !g.used) {
        free(g.keys);
        free(g.used);
        h->oom = 1;
        return -1;
    }
    for (size_t i = 0; i < h->cap; i++)
        if (h->used[i])
            set_put(&g, h->keys[i]);
    free(h->keys);
    free(h->used);
    *h = g;
    return 0;
}

static void set_put(hash_set *h, const uint8_t key[32])
{
    if (2 * (h->n + 1) > h->cap && set_grow(h) != 0)
        return;
    size_t i = slot_of(h, key);
    while (h->used[i]) {
        if (memcmp(h->keys[i], key, 32) == 0)
            return;
        i = (i + 1) & (h->cap - 1);
    }
    memcpy(h->keys[i], key, 32);
    h->used[i] = 1;
    h->n++;
}

static void set_free(hash_set *h)
{
    free(h->keys);
    free(h->used);
    memset(h, 0, sizeof *h);
}

/* Every {"ref":"HASH"} of a recipe (store_content.c writes them so; inside a JSON string a
 * quote is escaped, so the pattern cannot be a string's bytes). */
static int take_recipe(void *ud, int ncols, const char *const *names, const char *const *values,
                       const char *types)
{
    (void)names;
    (void)types;
    hash_set *h = ud;
    static const char pat[] = "{\"ref\":\"";
    const char *p = ncols > 0 ? values[0] : NULL;
    while (p && (p = strstr(p, pat)) != NULL) {
        p += sizeof pat - 1;
        uint8_t key[32];
        if (strlen(p) >= 64 && hash_key(p, 64, key) == 0)
            set_put(h, key);
    }
    return h->oom;
}

/* The parts no recipe in named names: their hashes (a dry run: only counted) and bytes. */
typedef struct unnamed {
    const hash_set *named;
    int keep; /* collect the hashes */
    char (*hash)[STORE_HASH_HEX];
    long long *bytes;
    size_t n, cap;
    long long total;
    int oom;
} unnamed;

static int take_part(void *ud, int ncols, const char *const *names, const char *const *values,
                     const char *types)
{
    (void)names;
    (void)types;
    unnamed *u = ud;
    uint8_t key[32];
    /* A hash this module cannot read is never deleted. */
    if (ncols < 2 || !values[0] || hash_key(values[0], strlen(values[0]), key) != 0 ||
        set_has(u->named, key))
        return 0;
    long long bytes = values[1] ? strtoll(values[1], NULL, 10) : 0;
    if (u->keep && u->n == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 256;
        char(*hash)[STORE_HASH_HEX] = realloc(u->hash, cap * sizeof *hash);
        if (hash)
            u->hash = hash;
        long long *b = hash ? realloc(u->bytes, cap * sizeof *b) : NULL;
        if (b)
            u->bytes = b;
        if (!hash || !b) {
            u->oom = 1;
            return 1;
        }
        u->cap = cap;
    }
    if (u->keep) {
        memcpy(u->hash[u->n], values[0], STORE_HASH_HEX);
        u->bytes[u->n] = bytes;
    }
    u->n++;
    u->total += bytes;
    return 0;
}

/* ---- the steps ---- */

typedef struct pruning {
    store_db *s;
    double before;
    store_pruned *out;
    error_info *err;
} pruning;

/* One write: its changes, and how long it took (a write transaction of its own on SQLite: the
 * time the lock was held). */
static int timed_write(pruning *p, const store_stmt *st, long long *changes)
{
    int64_t t0 = clock_now_us();
    int rc = store_exec_write(p->s, st, changes, p->err);
    double ms = (double)(clock_now_us() - t0) / 1000.0;
    if (ms > p->out->longest_write_ms)
        p->out->longest_write_ms = ms;
    return rc;
}

/* Between two writes on SQLite, as long a pause as the last write took (at most 20 ms): a
 * process waiting for the lock sleeps in its busy handler, and would find it taken again
 * every time if the writes followed each other at once. */
static void yield_lock(const pruning *p, int64_t since_us)
{
    if (store_dialect(p->s) != STORE_DIALECT_SQLITE)
        return;
    int64_t us = clock_now_us() - since_us;
    if (us > 20000)
        us = 20000;
    struct timespec ts = {0, (long)us * 1000L};
    nanosleep(&ts, NULL);
}

static int prune_batches(pruning *p, int dry_run)
{
    store_val v[] = {sv_real(p->before)};
    if (dry_run) {
        store_stmt st = {&SQL_COUNT_BATCHES, "count the finished batches", 1, v, NULL};
        int64_t n = 0;
        if (store_exec_int(p->s, &st, &n, p->err) < 0)
            return -1;
        p->out->batches = n;
        return 0;
    }
    store_stmt req = {&SQL_DELETE_BATCH_REQUESTS, "delete the requests of finished batches", 1, v, NULL};
    store_stmt bat = {&SQL_DELETE_BATCHES, "delete finished batches", 1, v, NULL};
    long long ignored = 0, n = 0;
    if (timed_write(p, &req, &ignored) != 0 || timed_write(p, &bat, &n) != 0)
        return -1;
    p->out->batches = n;
    return 0;
}

static int prune_interactions(pruning *p, int dry_run)
{
    store_val v[3] = {sv_real(p->before), sv_int(0), sv_int(0)};
    store_stmt count = {&SQL_COUNT_INTERACTIONS, "count the interactions to prune", 1, v, NULL};
    ints c = {{0}, {0}};
    if (store_exec(p->s, &count, take_ints, &c, p->err) < 0)
        return -1;
    p->out->interaction_bytes = c.v[1];
    if (dry_run || c.v[0] == 0) {
        p->out->interactions = c.v[0];
        return 0;
    }
    /* By ranges of commit numbers, each a bounded piece of the table's b-tree (the created_at
     * index is gone: migration 4), from the first row to prune to the last. */
    for (int64_t lo = c.v[2] - 1; lo < c.v[3]; lo += PRUNE_ROWS) {
        v[1] = sv_int(lo);
        v[2] = sv_int(lo + PRUNE_ROWS);
        store_stmt del = {&SQL_DELETE_INTERACTIONS, "delete old interactions", 3, v, NULL};
        int64_t t0 = clock_now_us();
        long long n = 0;
        if (timed_write(p, &del, &n) != 0)
            return -1;
        p->out->interactions += n;
        yield_lock(p, t0);
    }
    return 0;
}

static int prune_parts(pruning *p, int dry_run)
{
    hash_set named = {0};
    unnamed u = {&named, !dry_run && store_dialect(p->s) == STORE_DIALECT_SQLITE, NULL, NULL, 0, 0, 0, 0};
    int64_t last = 0;
    int rc = 0;
    store_val v[] = {sv_real(p->before)};
    store_stmt last_row = {&SQL_LAST_ROW, "read the last interaction", 0, NULL, NULL};
    store_stmt recipes = {dry_run ? &SQL_RECIPES_KEPT : &SQL_RECIPES, "read the recipes of stored requests",
                          dry_run ? 1 : 0, v, NULL};
    store_stmt parts = {&SQL_PARTS, "read the parts of stored requests", 0, NULL, NULL};
    /* The last row before the recipes: a row logged after it is one SQL_DELETE_PART looks at. */
    if (u.keep && store_exec_int(p->s, &last_row, &last, p->err) < 0)
        rc = -1;
    if (rc == 0 && store_exec(p->s, &recipes, take_recipe, &named, p->err) < 0)
        rc = -1;
    if (rc == 0 && !named.oom && store_exec(p->s, &parts, take_part, &u, p->err) < 0)
        rc = -1;
    if (rc == 0 && (named.oom || u.oom)) {
        store_fail(p->err, "store: cannot find the parts no request names: out of memory");
        rc = -1;
    }
    if (rc == 0 && dry_run) {
        p->out->parts = (long long)u.n;
        p->out->part_bytes = u.total;
    } else if (rc == 0 && !u.keep && u.n > 0) {
        store_stmt purge = {&SQL_PURGE_PARTS, "purge the parts of stored requests", 0, NULL, NULL};
        int64_t t0 = clock_now_us();
        int64_t n = 0;
        rc = store_exec_int(p->s, &purge, &n, p->err) < 0 ? -1 : 0;
        double ms = (double)(clock_now_us() - t0) / 1000.0;
        if (ms > p->out->longest_write_ms)
            p->out->longest_write_ms = ms;
        p->out->parts = n;
        p->out->part_bytes = u.total; /* those found unnamed, which the purge deleted */
    }
    for (size_t i = 0; rc == 0 && u.keep && i < u.n; i += PRUNE_PARTS) {
        int64_t t0 = clock_now_us();
        if (store_tx_begin(p->s, "delete parts no request names", p->err) != 0) {
            rc = -1;
            break;
        }
        for (size_t k = i; rc == 0 && k < u.n && k < i + PRUNE_PARTS; k++) {
            store_val pv[] = {sv_text(u.hash[k]), sv_int(last)};
            store_stmt del = {&SQL_DELETE_PART, "delete a part no request names", 2, pv, NULL};
            long long n = 0;
            rc = store_exec_write(p->s, &del, &n, p->err);
            if (rc == 0 && n > 0) {
                p->out->parts += n;
                p->out->part_bytes += u.bytes[k];
            }
        }
        if (rc != 0) {
            store_tx_rollback(p->s, 1, p->err);
            break;
        }
        if (store_tx_commit(p->s, "delete parts no request names", p->err) != 0) {
            rc = -1;
            break;
        }
        double ms = (double)(clock_now_us() - t0) / 1000.0;
        if (ms > p->out->longest_write_ms)
            p->out->longest_write_ms = ms;
        yield_lock(p, t0);
    }
    set_free(&named);
    free(u.hash);
    free(u.bytes);
    return rc;
}

static int prune_cache(pruning *p, double now, int dry_run)
{
    store_val v[] = {sv_real(now), sv_int(PRUNE_ROWS)};
    store_stmt count = {&SQL_COUNT_CACHE, "count the expired cache entries", 1, v, NULL};
    ints c = {{0}, {0}};
    if (store_exec(p->s, &count, take_ints, &c, p->err) < 0)
        return -1;
    p->out->cache_bytes = c.v[1];
    if (dry_run) {
        p->out->cache_rows = c.v[0];
        return 0;
    }
    for (;;) {
        store_stmt del = {&SQL_DELETE_CACHE, "delete expired cache entries", 2, v, NULL};
        int64_t t0 = clock_now_us();
        long long n = 0;
        if (timed_write(p, &del, &n) != 0)
            return -1;
        p->out->cache_rows += n;
        if (n < PRUNE_ROWS)
            return 0;
        yield_lock(p, t0);
    }
}

int store_prune(store_db *s, double before, double now, int dry_run, store_pruned *out,
                error_info *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!s || !out || !(before == before))
        return store_invalid(err, "cannot prune: no store, no time or nowhere to answer");
    if (now <= 0)
        now = clock_wall_s();
    pruning p = {s, before, out, err};
    /* Batches before interactions: a finished batch's rows go first, its results with the
     * other interactions. Parts after both: what they freed. */
    if (prune_batches(&p, dry_run) != 0 || prune_interactions(&p, dry_run) != 0 ||
        prune_parts(&p, dry_run) != 0 || prune_cache(&p, now, dry_run) != 0)
        return -1;
    return 0;
}
