/* The engine's storage, with its degradation: the database, the records that wait in memory
 * while it fails (pending_log.c), and what tells a database file deleted or replaced under
 * the process. The engine holds one; the calls log through it. */
#ifndef NYX_STORAGE_H
#define NYX_STORAGE_H

#include "loop.h"

#include <stdint.h>

struct store_db;
struct pending_log;

typedef struct storage {
    struct store_db *db;         /* NULL: not opened yet, unavailable, or lost */
    struct pending_log *pending; /* records waiting for the store */
    loop_timer *pending_timer;
    int degraded;                /* the store failed: records wait in memory */
    int db_is_file;              /* the database is a file whose identity is watched */
    unsigned long long db_dev, db_ino;
    int64_t lost_interactions;
    int64_t lost_audited;        /* of them, counted in a "records_lost" audit event */
} storage;

/* Remembers which file path names now (nothing when it is not a regular file, as for a
 * PostgreSQL URI), so that storage_file_replaced can tell it was deleted or replaced. */
void storage_note_file(storage *s, const char *path);
/* 1 when the database is a file and path no longer names that same file. */
int storage_file_replaced(const storage *s, const char *path);
/* The database is gone: closes it; records wait in memory for the next one. */
void storage_lose(storage *s);

#endif
