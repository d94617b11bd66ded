/* The engine's storage, with its degradation: the database, the records that wait in memory
 * while it fails (pending_log.h, over this handle; spilled at close, beside a database file or
 * in NYX_SPILL_DIR for PostgreSQL, pending_spill.h), and what tells a database file deleted or replaced under the process.
 * The engine holds one; the calls log through it. */
#ifndef NYX_STORAGE_H
#define NYX_STORAGE_H

#include "base/error.h"
#include "config.h"
#include "loop.h"
#include "store/store.h"

#include <stdint.h>

struct pending_log;

/* What storage asks of its owner (the engine): to open the database again after it failed
 * (0, or -1 with err), to log (once_key: only the first time that key is seen; NULL: every
 * time), and the filter the store's texts pass through (store_set_text_filter's; NULL:
 * none), so that records spilled at close hold no more than the database would. */
typedef struct storage_owner {
    void *ud;
    int (*reopen)(void *ud, error_info *err);
    void (*log)(void *ud, int level, const char *once_key, const char *msg);
    store_text_filter filter;
} storage_owner;

typedef struct storage {
    struct store_db *db;         /* NULL: not opened yet, unavailable, or lost */
    struct pending_log *pending; /* records waiting for the store */
    loop_timer *pending_timer;
    int degraded;                /* the store failed: records wait in memory */
    int refusing;                /* strict: a record was refused for a reason waiting will not
                                    cure (a full disk, a read-only file): no call is sent until
                                    the waiting records are written, or one would be paid for
                                    and never recorded */
    char refusing_why[256];
    int read_only;               /* nyx_set "read_only": the database is opened for reading
                                    (store_options.read_only: no tables made where there are none) */
    int db_is_file;              /* the database is a file whose identity is watched */
    unsigned long long db_dev, db_ino;
    int64_t lost_interactions;
    int64_t lost_audited;        /* of them, counted in a "records_lost" audit event */
    event_loop *loop;            /* where the retry timer of waiting records runs */
    const engine_config *cfg;    /* the owner's: durability, pending_max */
    storage_owner owner;
} storage;

/* Remembers which file path names now (nothing when it is not a regular file, as for a
 * PostgreSQL URI), so that storage_file_replaced can tell it was deleted or replaced. */
void storage_note_file(storage *s, const char *path);
/* 1 when the database is a file and path no longer names that same file. */
int storage_file_replaced(const storage *s, const char *path);
/* 1 when records still waiting for database db at close may be spilled (pending_spill.h): it
 * was opened as a file, or it is PostgreSQL. Not ":memory:", nor a file that would not open as
 * a database (its records would wait beside it for ever). */
int storage_spills(const storage *s, const char *db);
/* The database is gone: closes it; records wait in memory for the next one. */
void storage_lose(storage *s);

#endif
