/* The records still waiting for the database when the engine closes (a SQLite file locked by
 * another process, a full disk, a PostgreSQL server down) are not lost: they go to a spill
 * file, one JSON line each (spill_record.h), and the next engine on this machine to open that
 * database writes them in and removes the file. pending_spill_place is the one choice of where:
 *
 *   SQLite file   beside it, "<database>-pending", made with the database file's read and
 *                 write bits (umask aside), so that whoever shares the database may import it;
 *   PostgreSQL    "<NYX_SPILL_DIR>/postgresql-<store_target_id>-pending", 0600 in a 0700
 *                 directory: the database's own place is on the server, and the name holds a
 *                 hash of where libpq connects, never the URI nor its password;
 *   ":memory:"    none: its records die with it, counted lost.
 *
 * Between processes: writers append under flock(LOCK_EX) and an importer reads, writes and
 * removes the file under the same lock, so a record is never read half-written nor appended
 * to a file already taken; an import that stops after its commit but before the removal is
 * repeated harmlessly by the next one (a record stored already is left alone, a reservation
 * settled already settles nothing). The file holds each record as the database would (its
 * texts through the store's filter; prompts and responses follow the storage mode before they
 * reach the queue). */
#ifndef NYX_PENDING_SPILL_H
#define NYX_PENDING_SPILL_H

#include "base/error.h"
#include "store/store.h"

#include <stddef.h>

typedef struct spill_item {
    const interaction_rec *it;
    const char *reservation; /* NULL: none */
    double actual_usd;
} spill_item;

#define PENDING_SPILL_SUFFIX "-pending"
#define PENDING_SPILL_PATH_SIZE 4096

/* Where a database's records spill. */
typedef struct spill_place {
    char path[PENDING_SPILL_PATH_SIZE];
    unsigned mode; /* the permission bits a new file gets */
    int own_dir;   /* the directory is nyx's own (NYX_SPILL_DIR): made, 0700, when missing */
} spill_place;

/* Where the records waiting for database db (a SQLite path or a PostgreSQL URI, as NYX_DB has
 * it) spill, for every backend (above); spill_dir: NYX_SPILL_DIR, for PostgreSQL. 0, or -1
 * when db has none: ":memory:" or any SQLite name that is no regular file, a PostgreSQL URI
 * libpq cannot read or without a spill_dir, a path that does not fit. */
int pending_spill_place(const char *db, const char *spill_dir, spill_place *out);

/* Appends the n items to the spill file at place, each through filter (a store_text_filter;
 * NULL: none) as the store would write it, and makes them durable (fsync; the directory too
 * when the file is new). A new file gets place->mode whatever the umask. All or nothing: 0, or
 * -1 with err, the file cut back as it was. */
int pending_spill_write(const spill_place *place, const spill_item *items, size_t n, store_text_filter filter,
                        void *filter_ud, error_info *err);

/* Writes the records spilled at place into db, each with its budget settlement as the
 * queue would (store_log_interaction_settle), in one transaction, then removes the file.
 * A line that is no record (torn by a crash while it was written) is skipped and said
 * through log, as is a record the database refuses for its own values; both are counted in
 * a "records_lost" audit event. Returns how many records were written (0: no spill, or
 * another process is importing it now), or -1 with err: the file stays for the next open. */
typedef void (*spill_log_fn)(void *ud, int level, const char *msg);
/* 1 when there is a spill file at place (one an import could not take, or not yet): the
 * engine's start then leaves dead processes' reservations alone, since the spilled records
 * settle them. */
int pending_spill_exists(const spill_place *place);
long pending_spill_import(store_db *db, const spill_place *place, spill_log_fn log, void *log_ud, error_info *err);

#endif
