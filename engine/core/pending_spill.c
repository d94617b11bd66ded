/* The spill file of the records still waiting at close (pending_spill.h): where it goes,
 * written durably under an exclusive flock, imported under the same lock by the next engine to
 * open the database. Runs at close and at open only, never on a call's path. */
#define _DEFAULT_SOURCE /* flock */
#include "pending_spill.h"

#include "base/textbuf.h"
#include "nyx.h"
#include "spill_record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_SIZE PENDING_SPILL_PATH_SIZE

int pending_spill_place(const char *db, const char *spill_dir, spill_place *out)
{
    memset(out, 0, sizeof *out);
    int n;
    if (store_uri_is_pg(db)) {
        char id[STORE_TARGET_ID_SIZE];
        if (!spill_dir || !*spill_dir || store_target_id(db, id) != 0)
            return -1;
        n = snprintf(out->path, sizeof out->path, "%s/postgresql-%s" PENDING_SPILL_SUFFIX, spill_dir, id);
        out->mode = 0600;
        out->own_dir = 1;
    } else {
        /* Whoever may write the database may write its records in: the file gets the
         * database's read and write bits (its owner's always), not the umask's. */
        struct stat st;
        if (!db || stat(db, &st) != 0 || !S_ISREG(st.st_mode))
            return -1;
        n = snprintf(out->path, sizeof out->path, "%s" PENDING_SPILL_SUFFIX, db);
        out->mode = (unsigned)(st.st_mode & 0666) | 0600;
    }
    return n > 0 && (size_t)n < sizeof out->path ? 0 : -1;
}

static int fail_errno(error_info *err, const char *what, const char *path)
{
    error_set(err, "store_error", 0, "cannot %s the spill file %s: %s", what, path, strerror(errno));
    return -1;
}

/* The directory holding path, fsync'd: a new file's name survives a power loss. */
static int sync_dir(const char *path)
{
    char dir[PATH_SIZE];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The directory of path and those above it, made 0700 where missing (NYX_SPILL_DIR and its
 * default ~/.local/state/nyx are the user's own): 0, or -1 with errno. */
static int make_dirs(const char *path)
{
    char dir[PATH_SIZE];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(dir, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* path opened for appending and locked, the file path names now: an importer may have taken
 * and removed the one opened before the lock was ours. *created: this call made it. Nothing
 * planted there is followed (a symbolic link) or waited on: O_NONBLOCK, so that a FIFO is
 * refused at once rather than hold the engine's close until something reads it. */
static int open_locked(const char *path, unsigned mode, int *created, error_info *err)
{
    for (int tries = 0; tries < 16; tries++) {
        int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        *created = fd >= 0;
        /* The mode asked, not what the umask leaves of it; set before anything is written. */
        if (fd >= 0 && fchmod(fd, (mode_t)mode) != 0) {
            fail_errno(err, "set the permissions of", path);
            (void)unlink(path);
            close(fd);
            return -1;
        }
        /* Read too: the last byte says whether a writer before left its line torn. */
        if (fd < 0 && errno == EEXIST)
            fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT)
            continue; /* removed by an importer between the two opens */
        if (fd < 0)
            return fail_errno(err, "open", path);
        struct stat mine, named;
        if (fstat(fd, &mine) == 0 && !S_ISREG(mine.st_mode)) {
            close(fd);
            error_set(err, "store_error", 0, "cannot open the spill file %s: it is not a regular file", path);
            return -1;
        }
        if (flock(fd, LOCK_EX) != 0 || fstat(fd, &mine) != 0) {
            fail_errno(err, "lock", path);
            close(fd);
            return -1;
        }
        if (stat(path, &named) == 0 && named.st_dev == mine.st_dev && named.st_ino == mine.st_ino)
            return fd;
        close(fd);
    }
    error_set(err, "store_error", 0, "cannot open the spill file %s: it was replaced again and again", path);
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The lines of the items, each record as the store would write it. */
static int lines_of(const spill_item *items, size_t n, store_text_filter filter, void *filter_ud, textbuf *b,
                    error_info *err)
{
    for (size_t i = 0; i < n; i++) {
        store_scrubbed sc = {0};
        interaction_rec as_stored;
        if (store_interaction_filtered(filter, filter_ud, &sc, items[i].it, &as_stored, err) != 0)
            return -1;
        char *line = spill_record_line(&as_stored, items[i].reservation, items[i].actual_usd);
        store_scrub_free(&sc);
        if (!line) {
            error_set(err, "store_error", 0, "cannot write the spill file: out of memory");
            return -1;
        }
        textbuf_puts(b, line);
        textbuf_put(b, "\n", 1);
        free(line);
    }
    if (b->failed) {
        error_set(err, "store_error", 0, "cannot write the spill file: out of memory");
        return -1;
    }
    return 0;
}

int pending_spill_write(const spill_place *place, const spill_item *items, size_t n, store_text_filter filter,
                        void *filter_ud, error_info *err)
{
    const char *path = place->path;
    textbuf b = {0};
    if (n == 0 || lines_of(items, n, filter, filter_ud, &b, err) != 0) {
        free(b.s);
        return n == 0 ? 0 : -1;
    }
    if (place->own_dir && make_dirs(path) != 0) {
        free(b.s);
        return fail_errno(err, "make the directory of", path);
    }
    int created = 0;
    int fd = open_locked(path, place->mode, &created, err);
    if (fd < 0) {
        free(b.s);
        return -1;
    }
    off_t start = lseek(fd, 0, SEEK_END);
    /* A line left torn by a writer that died before its newline stays a line of its own: the
     * first of these records, appended to it, would be read as its rest and lost with it. */
    char last = '\n';
    int rc = 0;
    if (start < 0 || (start > 0 && pread(fd, &last, 1, start - 1) != 1) ||
        (last != '\n' && write_all(fd, "\n", 1) != 0) || write_all(fd, b.s, b.len) != 0 || fsync(fd) != 0 || (created && sync_dir(path) != 0)) {
        fail_errno(err, "write", path);
        /* All or nothing: what was written of these lines goes, under the lock still held. The
         * file goes only when it held nothing before them: having created it is not enough, as
         * another writer may have taken the lock between this one's open and its flock and
         * appended its own records, durable and said to be. */
        if (start == 0)
            (void)unlink(path);
        else if (start > 0 && ftruncate(fd, start) == 0)
            (void)fsync(fd);
        rc = -1;
    }
    close(fd);
    free(b.s);
    return rc;
}

/* ---- import ---- */

int pending_spill_exists(const spill_place *place)
{
    struct stat st;
    return lstat(place->path, &st) == 0 && S_ISREG(st.st_mode);
}

static void say(spill_log_fn log, void *ud, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(spill_log_fn log, void *ud, int level, const char *fmt, ...)
{
    if (!log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(ud, level, msg);
}

/* The file's size bytes (fewer if it ends first), or NULL with errno: a read that fails must
 * not pass for a torn end, which would have the file's rest counted lost and the file removed. */
static char *read_all(int fd, size_t size, size_t *len)
{
    char *s = malloc(size + 1);
    size_t n = 0;
    while (s && n < size) {
        ssize_t k = read(fd, s + n, size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            free(s);
            return NULL;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (s)
        s[n] = '\0';
    *len = n;
    return s;
}

typedef struct spilled {
    spill_file f;
    long refused;          /* records the database refuses for their own values */
    unsigned char *stored; /* per record: its id was stored when the import began */
} spilled;

typedef struct bad_line_say {
    spill_log_fn log;
    void *ud;
    const char *path;
} bad_line_say;

static void say_bad_line(void *ud, size_t line, int torn)
{
    const bad_line_say *b = ud;
    say(b->log, b->ud, NYX_LOG_WARN, "nyx: line %zu of the spill file %s is no record (%s); it is skipped", line,
        b->path, torn ? "torn: its writer stopped before the end" : "not a JSON record");
}

static int parse_lines(const char *text, size_t len, spilled *sp, spill_log_fn log, void *ud,
                       const char *path)
{
    bad_line_say b = {log, ud, path};
    if (spill_file_parse(text, len, &sp->f, say_bad_line, &b) != 0)
        return -1;
    sp->stored = calloc(sp->f.n + 1, 1);
    return sp->stored ? 0 : -1;
}

/* A record the database refuses for good leaves the import; what its call reserved stays, to
 * be settled without it. */
static void drop_record(spill_record *r)
{
    char reservation[sizeof r->reservation];
    memcpy(reservation, r->reservation, sizeof reservation);
    int has_reservation = r->has_reservation;
    double actual_usd = r->actual_usd;
    spill_record_free(r);
    memcpy(r->reservation, reservation, sizeof reservation);
    r->has_reservation = has_reservation;
    r->actual_usd = actual_usd;
}

/* One record (or, dropped, its reservation alone) as write_records says; found: whether its id
 * is stored already, or -1 to ask the database. */
static int write_one(store_db *db, spill_record *r, int found, error_info *err)
{
    const char *reservation = r->has_reservation ? r->reservation : NULL;
    if (r->json && found < 0 && store_interaction_exists(db, r->it.id, &found, err) != 0)
        return -1;
    if (!r->json || found)
        return reservation ? store_budget_settle(db, reservation, r->actual_usd, err) : 0;
    return store_log_interaction_settle(db, &r->it, reservation, r->actual_usd, err);
}

/* The database refuses r for its own values (err): a record is dropped and said, leaving its
 * reservation to be settled alone; a reservation alone is let go, its amount refused too. */
static void refuse(spilled *sp, spill_record *r, const error_info *err, spill_log_fn log, void *ud)
{
    if (r->json) {
        say(log, ud, NYX_LOG_ERROR, "nyx: the database refuses the spilled record %s for good; it is lost (%s)",
            r->it.id, err->message);
        drop_record(r);
        sp->refused++;
    } else {
        r->has_reservation = 0; /* nothing can settle it */
    }
}

/* Writes every record not dropped, in one transaction, with its budget settlement: 0, or -1
 * with err. A call's money was spent whether or not its record is kept, so each reservation is
 * settled at what its call cost, exactly once: with its record; or alone, for a record the
 * database refuses (as pending_log.c's drop_refused does) and for one whose id is stored
 * already (an import that stopped before removing the file settled it then, and settling it
 * again settles nothing; an id another record holds leaves it to be settled here). */
static int write_records(store_db *db, spilled *sp, long *written, spill_log_fn log, void *ud,
                         error_info *err)
{
    *written = 0;
    for (size_t i = 0; i < sp->f.n; i++) {
        int found = 0;
        if (store_interaction_exists(db, sp->f.recs[i].it.id, &found, err) != 0)
            return -1;
        sp->stored[i] = found != 0;
    }
again:
    if (store_batch_begin(db, err) != 0)
        return -1;
    for (size_t i = 0; i < sp->f.n; i++) {
        if (write_one(db, &sp->f.recs[i], sp->stored[i], err) == 0)
            continue;
        error_info ignored;
        store_batch_rollback(db, &ignored);
        if (!err->refused)
            return -1;
        refuse(sp, &sp->f.recs[i], err, log, ud);
        error_clear(err);
        goto again;
    }
    if (store_batch_commit(db, err) == 0)
        goto written;
    if (!err->refused)
        return -1;
    /* PostgreSQL may report a write refused in a batch only at its commit, without saying
     * which, the others committed or not (pending_log.c finds it alike): the records are
     * written one at a time, each in its own transaction, asking again which are stored, and
     * the one refused is dropped. */
    for (size_t i = 0; i < sp->f.n;) {
        error_clear(err);
        if (write_one(db, &sp->f.recs[i], -1, err) == 0) {
            i++;
            continue;
        }
        if (!err->refused)
            return -1;
        refuse(sp, &sp->f.recs[i], err, log, ud); /* then again: its reservation alone */
    }
    error_clear(err);
written: /* by this import: the records not dropped whose ids were not stored before it */
    for (size_t i = 0; i < sp->f.n; i++)
        *written += sp->f.recs[i].json && !sp->stored[i];
    return 0;
}

static void spilled_free(spilled *sp)
{
    spill_file_free(&sp->f);
    free(sp->stored);
}

long pending_spill_import(store_db *db, const spill_place *place, spill_log_fn log, void *log_ud, error_info *err)
{
    const char *path = place->path;
    if (!db)
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : fail_errno(err, "open", path);
    /* Another process holds it: appending (it is not whole yet) or importing it. What it
     * leaves is the next open's. */
    struct stat st;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 || st.st_nlink == 0 ||
        !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    size_t len = 0;
    char *text = read_all(fd, (size_t)st.st_size, &len);
    if (!text) {
        fail_errno(err, "read", path);
        close(fd);
        return -1;
    }
    spilled sp = {0};
    if (parse_lines(text, len, &sp, log, log_ud, path) != 0) {
        spilled_free(&sp);
        free(text);
        close(fd);
        error_set(err, "store_error", 0, "cannot read the spill file %s: out of memory", path);
        return -1;
    }
    free(text);
    long written = 0;
    if (write_records(db, &sp, &written, log, log_ud, err) != 0) {
        spilled_free(&sp);
        close(fd);
        return -1;
    }
    /* Committed: only now may the file go. */
    if (unlink(path) != 0 || sync_dir(path) != 0)
        say(log, log_ud, NYX_LOG_WARN,
            "nyx: the spill file %s was written in but not removed (%s); the next open "
            "finds its records stored already",
            path, strerror(errno));
    close(fd);
    long lost = sp.f.unreadable + sp.refused;
    if (lost > 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "%ld interaction records could not be written and are lost", lost);
        error_info ignored;
        error_clear(&ignored);
        store_audit(db, "records_lost", NULL, NULL, detail, &ignored);
    }
    say(log, log_ud, NYX_LOG_INFO, "nyx: %ld interaction records spilled by an earlier run written from %s",
        written, path);
    spilled_free(&sp);
    return written;
}
