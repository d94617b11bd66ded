/* WAL checkpoints off the caller's thread.
 *
 * In WAL mode every commit appends to the -wal file, and a checkpoint copies those pages
 * back into the database file and fsyncs both. SQLite's automatic checkpoint runs inside
 * whichever commit crosses 1000 pages, so one call in a few hundred would pay milliseconds
 * (copy + two fsyncs) on the engine's single loop thread: a stalled frame for a game host,
 * and most of the mean cost of logging. Here a small thread with its own connection does
 * PASSIVE checkpoints instead (they never block the writer nor readers), woken by the
 * writer's WAL hook each time the WAL has grown by WAKE_PAGES, and at least once a second
 * while it is that long. Waking it at every commit instead, once the WAL was that long,
 * made it checkpoint back to back under a stream of commits: two fsyncs every dozen
 * commits, each run copying again the pages every commit rewrites (the header page, the
 * index leaves), all of it competing with the writer for the CPU and the disk.
 *
 * The WAL restarts from its beginning only when a write begins while every frame has been
 * copied back. With calls arriving at human pace the thread catches up between commits and
 * that happens by itself. Under a tight stream of commits (a benchmark, a burst of batches)
 * the thread is always some frames behind, so once the WAL reaches FALLBACK_PAGES the
 * writer's own hook checkpoints the remainder and the next write restarts the log: the file
 * stays bounded either way, also if the thread is gone. That costs the writer milliseconds
 * (the remainder, two fsyncs, and SQLite's sync of the restarted WAL's header) once per
 * FALLBACK_PAGES, so the bound is set high: below journal_size_limit (64 MB, store_sqlite.c)
 * with room for the frames that arrive while the thread finishes a run, as a WAL longer
 * than that limit is truncated at its restart and grown again. While the thread is copying
 * the hook leaves the remainder to it: trying then would only fail with SQLITE_BUSY.
 *
 * The thread opens its connection when first woken, not at start: opening one reads the whole
 * schema (PRAGMA synchronous needs it), 0.8M instructions that a run too short to fill
 * WAKE_PAGES never needs. Should that open fail, the next wake tries again, and the writer's
 * fallback still bounds the WAL. It opens the file the writer has open, named absolutely
 * (thread_uri): the name the store was given may be relative (the default "nyx.db"), and by
 * then the process may have changed its working directory.
 *
 * The thread touches nothing but its own connection, the fields under `mu`, and `copying`.
 */
#define _POSIX_C_SOURCE 200809L
#include "store_sqlite.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/text.h"

#define WAKE_PAGES 1000      /* wake the thread each time the WAL has grown by this much, */
#define CATCH_UP_US 1000000  /* and at least this often while it holds that many pages */
#define FALLBACK_PAGES 14000 /* ~58 MB: finish on the writer's thread (see above) */

struct store_checkpointer {
    sqlite3 *writer; /* the store's connection, whose hook wakes us */
    sqlite3 *db;     /* ours: opened by the thread when first woken, NULL until then */
    char *uri;       /* of the database, for that (thread_uri) */
    int sync_full;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending; /* under mu */
    int stop;    /* under mu */
    long runs;   /* under mu: checkpoints done, for tests */
    atomic_int copying; /* the thread is in a checkpoint */
    int woken_at;       /* writer's thread only: the WAL's size when it last woke the thread, */
    int64_t woken_us;   /* and when (clock_now_us) */
};

/* The thread's connection. synchronous is per connection, and it is the checkpointing
 * connection's that decides the fsyncs of a checkpoint. Returns 0, or -1 (c->db NULL). */
static int connect_db(store_checkpointer *c)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    const char *sync = c->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    if (sqlite3_open_v2(c->uri, &c->db, flags, NULL) == SQLITE_OK &&
        sqlite3_exec(c->db, sync, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    sqlite3_close_v2(c->db);
    c->db = NULL;
    return -1;
}

static void *run(void *arg)
{
    store_checkpointer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->pending && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->pending = 0;
        atomic_store(&c->copying, 1);
        pthread_mutex_unlock(&c->mu);
        /* SQLITE_BUSY (another process is checkpointing) or an I/O error leave the
         * pages in the WAL for the next run or the writer's fallback: nothing is lost. */
        int nlog = 0, ncopied = 0, ran = 0;
        if (c->db || connect_db(c) == 0) {
            (void)sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &nlog,
                                            &ncopied);
            ran = 1;
        }
        pthread_mutex_lock(&c->mu);
        atomic_store(&c->copying, 0);
        c->runs += ran;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Runs in the writer's thread after every commit, with the WAL's size in pages. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    store_checkpointer *c = arg;
    if (pages < c->woken_at)
        c->woken_at = 0; /* the WAL restarted */
    if (pages >= FALLBACK_PAGES) {
        /* Failure leaves the pages for a later try; the commit itself has succeeded. */
        if (!atomic_load(&c->copying))
            (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    if (pages < WAKE_PAGES)
        return SQLITE_OK;
    int64_t now = clock_now_us();
    if (pages - c->woken_at >= WAKE_PAGES || now - c->woken_us >= CATCH_UP_US) {
        c->woken_at = pages;
        c->woken_us = now;
        pthread_mutex_lock(&c->mu);
        if (!c->pending) {
            c->pending = 1;
            pthread_cond_signal(&c->cv);
        }
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

/* A URI for the database the writer has open that names it wherever the working directory
 * is: the writer's absolute file name (sqlite3_db_filename), percent-encoded, with the query
 * of uri when that is a "file:" URI (its parameters, such as vfs=), less mode=: the thread
 * opens read-write and never creates, and SQLite refuses that open when the URI says mode=rwc,
 * which the writer may have been given. uri itself for a database without a file name. NULL
 * when out of memory. */
static char *thread_uri(sqlite3 *writer, const char *uri)
{
    const char *path = sqlite3_db_filename(writer, "main");
    if (!path || path[0] != '/')
        return text_dup(uri);
    const char *query = strncmp(uri, "file:", 5) == 0 ? strchr(uri, '?') : NULL;
    size_t qlen = query ? strcspn(query, "#") : 0;
    char *out = malloc(strlen("file://") + 3 * strlen(path) + qlen + 1);
    if (!out)
        return NULL;
    char *w = out;
    memcpy(w, "file://", 7); /* an empty authority, then the absolute path */
    w += 7;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p)) {
            *w++ = (char)*p;
        } else { /* '?', '#', '%' and the rest would change what the URI says */
            *w++ = '%';
            *w++ = "0123456789ABCDEF"[*p >> 4];
            *w++ = "0123456789ABCDEF"[*p & 15];
        }
    }
    char sep = '?';
    const char *p = qlen ? query + 1 : "", *end = qlen ? query + qlen : p;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = (size_t)((amp ? amp : end) - p);
        if (n > 0 && !(n >= 4 && memcmp(p, "mode", 4) == 0 && (n == 4 || p[4] == '='))) {
            *w++ = sep;
            sep = '&';
            memcpy(w, p, n);
            w += n;
        }
        p = amp ? amp + 1 : end;
    }
    *w = '\0';
    return out;
}

store_checkpointer *store_checkpointer_start(sqlite3 *writer, const char *uri, int sync_full)
{
    if (!sqlite3_threadsafe())
        return NULL;
    store_checkpointer *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->writer = writer;
    c->sync_full = sync_full;
    if (!(c->uri = thread_uri(writer, uri))) {
        free(c);
        return NULL;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->uri);
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c->uri);
        free(c);
        return NULL;
    }
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c->uri);
        free(c);
        return NULL;
    }
    /* Replaces SQLite's automatic checkpoint on the writer. */
    sqlite3_wal_hook(writer, on_commit, c);
    return c;
}

void store_checkpointer_stop(store_checkpointer *c)
{
    if (!c)
        return;
    sqlite3_wal_hook(c->writer, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close_v2(c->db);
    free(c->uri);
    free(c);
}

long store_checkpointer_runs(store_checkpointer *c)
{
    if (!c)
        return -1;
    pthread_mutex_lock(&c->mu);
    long n = c->runs;
    pthread_mutex_unlock(&c->mu);
    return n;
}
