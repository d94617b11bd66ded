/* A thin VFS over SQLite's default one that writes each commit's WAL frames with one
 * write() instead of two per page.
 *
 * SQLite appends a WAL frame as two writes: its 24-byte header, then the page. A call's
 * log row touches five pages (the row's leaf, its parent, two index leaves, the header
 * page), so a commit cost ten pwrite() calls, and each pays the system call and the
 * filesystem's per-write work (inode lock, timestamps, page-cache lookups) again: measured
 * on ext4, ten writes of one commit's 21 KB took 10 us, one write of the same bytes 2.4 us.
 *
 * Here a WAL file's frames (and the log header of a restarted WAL) are gathered in a
 * buffer and handed to the file in one write once the frame that closes the transaction is
 * complete, which is before SQLite publishes the commit in the wal-index (the shared memory
 * other connections read). So no reader, in this process or another, can see a frame that
 * is not in the file yet, and a commit is in the file, exactly as before, when
 * sqlite3_step() returns. What is written, where, and the order of writes against syncs
 * are unchanged; only the number of calls is. Measured (bench_store, 2-core VM): a call's
 * log row committed on its own went from ~35 to ~21 us (median), its CPU time from ~44 to
 * ~25 us.
 *
 * Only that pattern is gathered: a 24-byte frame header written where the previous write
 * ended, the page following it, the 32-byte log header at offset 0. Anything else (SQLite
 * rewriting a frame of the open transaction in place, or its checksums) first writes out
 * what is gathered and goes straight to the file; so would every frame, should a SQLite
 * version write frames another way. Every other operation on the file (read, sync, size,
 * truncate, file control, close) also writes out the buffer first, so SQLite never observes
 * the difference. Files other than WALs are the default VFS's own, untouched.
 */
#include "store_sqlite.h"

#include <pthread.h>
#include <string.h>

#define WAL_FRAME_HEADER 24
#define WAL_HEADER 32
#define BUFFER_SIZE (128 * 1024) /* a commit of ~30 pages; a larger batch flushes as it fills */

typedef struct wal_file {
    sqlite3_file base;         /* methods: wal_methods */
    sqlite3_file *real;        /* the default VFS's file, allocated right after this struct */
    unsigned char *buf;        /* pending appends; NULL until the first */
    int len;                   /* bytes pending */
    sqlite3_int64 off;         /* file offset of buf[0] */
    sqlite3_int64 last_end;    /* where the previous write ended; -1: unknown */
    sqlite3_int64 page_at;     /* where the page of the frame header just written goes; -1 */
    int page_commits;          /* that frame closes a transaction */
    int write_through;         /* the device needs SQLite's sector padding: no gathering */
} wal_file;

static sqlite3_vfs sqlite_vfs;
static sqlite3_vfs *base_vfs;
static const char *vfs_name;

#define REAL(f) (((wal_file *)(f))->real)

/* Hands the pending appends to the file. On failure they are dropped: the transaction they
 * belong to fails with the error, and SQLite rewrites what it needs. */
static int flush(wal_file *w)
{
    if (w->len == 0)
        return SQLITE_OK;
    int n = w->len;
    w->len = 0;
    int rc = w->real->pMethods->xWrite(w->real, w->buf, n, w->off);
    if (rc != SQLITE_OK)
        w->last_end = -1; /* what was gathered is not in the file */
    return rc;
}

static int wal_close(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    int rc2 = w->real->pMethods->xClose(w->real);
    sqlite3_free(w->buf);
    w->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *out, int amount, sqlite3_int64 offset)
{
    int rc = flush((wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xRead(REAL(f), out, amount, offset);
}

static int wal_write(sqlite3_file *f, const void *data, int amount, sqlite3_int64 offset)
{
    wal_file *w = (wal_file *)f;
    const unsigned char *b = data;
    int frame_header = amount == WAL_FRAME_HEADER && offset == w->last_end;
    int frame_page = offset == w->page_at;
    int commit = frame_page && w->page_commits;
    int gather = !w->write_through && amount <= BUFFER_SIZE &&
                 (frame_header || frame_page || (offset == 0 && amount == WAL_HEADER));
    /* A frame header's "database size" field is set in the frame that closes a
     * transaction: once its page follows, the commit must reach the file. */
    w->page_at = amount == WAL_FRAME_HEADER ? offset + amount : -1;
    w->page_commits = amount == WAL_FRAME_HEADER && (b[4] | b[5] | b[6] | b[7]);

    int rc = SQLITE_OK;
    if (w->len > 0 && (!gather || offset != w->off + w->len || w->len + amount > BUFFER_SIZE))
        rc = flush(w);
    if (rc == SQLITE_OK && gather && !w->buf)
        w->buf = sqlite3_malloc(BUFFER_SIZE); /* none: write through, as without this VFS */
    if (rc != SQLITE_OK)
        return rc;
    if (gather && w->buf) {
        if (w->len == 0)
            w->off = offset;
        memcpy(w->buf + w->len, data, (size_t)amount);
        w->len += amount;
        if (commit)
            rc = flush(w);
    } else {
        rc = w->real->pMethods->xWrite(w->real, data, amount, offset);
    }
    w->last_end = rc == SQLITE_OK ? offset + amount : -1;
    return rc;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = flush((wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
    int rc = flush((wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = flush((wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int wal_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int wal_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int wal_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
    int rc = flush((wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int wal_sector_size(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }

static int wal_device_characteristics(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* A WAL file has no shared memory and is not memory-mapped (version 1 methods). */
static const sqlite3_io_methods wal_methods = {
    .iVersion = 1,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_file_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_check_reserved,
    .xFileControl = wal_file_control,
    .xSectorSize = wal_sector_size,
    .xDeviceCharacteristics = wal_device_characteristics,
};

/* Opens every file with the default VFS; a WAL file gets wrapped. The others are opened in
 * place, so SQLite calls the default VFS's methods on them directly. */
static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL))
        return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
    wal_file *w = (wal_file *)f;
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)(w + 1);
    w->last_end = -1;
    w->page_at = -1;
    int rc = base_vfs->xOpen(base_vfs, name, w->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (w->real->pMethods) /* a failed open may still need its close */
            w->real->pMethods->xClose(w->real);
        return rc;
    }
    w->base.pMethods = &wal_methods;
    /* Without powersafe overwrite SQLite pads a synchronous commit to a sector boundary and
     * splits a frame around the sync; those writes go through as they come. */
    int dc = w->real->pMethods->xDeviceCharacteristics(w->real);
    w->write_through = !(dc & SQLITE_IOCAP_POWERSAFE_OVERWRITE);
    return SQLITE_OK;
}

/* The rest is the default VFS's. */
static int vfs_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return base_vfs->xDelete(base_vfs, name, sync_dir);
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *vfs_dl_open(sqlite3_vfs *v, const char *path)
{
    (void)v;
    return base_vfs->xDlOpen(base_vfs, path);
}

static void vfs_dl_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    base_vfs->xDlError(base_vfs, n, out);
}

static void (*vfs_dl_sym(sqlite3_vfs *v, void *lib, const char *sym))(void)
{
    (void)v;
    return base_vfs->xDlSym(base_vfs, lib, sym);
}

static void vfs_dl_close(sqlite3_vfs *v, void *lib)
{
    (void)v;
    base_vfs->xDlClose(base_vfs, lib);
}

static int vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xRandomness(base_vfs, n, out);
}

static int vfs_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return base_vfs->xSleep(base_vfs, us);
}

static int vfs_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return base_vfs->xCurrentTime(base_vfs, out);
}

static int vfs_get_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}

static int vfs_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

/* Once per process, before any connection: SQLite's own setup, then the VFS. */
static void vfs_register(void)
{
    /* SQLite keeps statistics of its memory (sqlite3_memory_used) under a global mutex it takes
     * for every allocation and free, about twenty a record logged since the system's build
     * has no lookaside memory: nothing in nyx reads them. The setting is the process's, the
     * heap limits stop with it (README, From C); refused, harmlessly, when the host has used
     * SQLite already (its statistics then stay on; test_store_memstatus). */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    base_vfs = sqlite3_vfs_find(NULL);
    if (!base_vfs || base_vfs->iVersion < 2 || !base_vfs->xCurrentTimeInt64)
        return;
    sqlite_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(wal_file) + base_vfs->szOsFile,
        .mxPathname = base_vfs->mxPathname,
        .zName = "nyx-wal-gather",
        .xOpen = vfs_open,
        .xDelete = vfs_delete,
        .xAccess = vfs_access,
        .xFullPathname = vfs_full_pathname,
        .xDlOpen = vfs_dl_open,
        .xDlError = vfs_dl_error,
        .xDlSym = vfs_dl_sym,
        .xDlClose = vfs_dl_close,
        .xRandomness = vfs_randomness,
        .xSleep = vfs_sleep,
        .xCurrentTime = vfs_current_time,
        .xGetLastError = vfs_get_last_error,
        .xCurrentTimeInt64 = vfs_current_time_int64,
    };
    if (sqlite3_vfs_register(&sqlite_vfs, 0) == SQLITE_OK)
        vfs_name = sqlite_vfs.zName;
}

const char *store_sqlite_vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, vfs_register);
    return vfs_name;
}
