/* The records still waiting for a SQLite file database when the engine closes (it was locked
 * by another process, the disk was full) are not lost: they go to a spill file beside it,
 * "<database>-pending", one JSON line each (spill_record.h), and the next engine to open that
 * database writes them in and removes the file.
 *
 * Only file databases spill: records of ":memory:" die with it, and a PostgreSQL server has
 * no place beside it on this machine that every process using it would look in; their
 * records still waiting at close are counted lost, as before.
 *
 * Between processes: writers append under flock(LOCK_EX) and an importer reads, writes and
 * removes the file under the same lock, so a record is never read half-written nor appended
 * to a file already taken; an import that stops after its commit but before the removal is
 * repeated harmlessly by the next one (a record stored already is left alone, a reservation
 * settled already settles nothing). The file is 0600 and holds each record as the database
 * would (its texts through the store's filter; prompts and responses follow the storage mode
 * before they reach the queue). */
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

/* "<db_path>-pending" into out: 0, or -1 when it does not fit. */
int pending_spill_path(const char *db_path, char *out, size_t size);

/* Appends the n items to db_path's spill file, each through filter (a store_text_filter;
 * NULL: none) as the store would write it, and makes them durable (fsync; the directory too
 * when the file is new). All or nothing: 0, or -1 with err, the file cut back as it was. */
int pending_spill_write(const char *db_path, const spill_item *items, size_t n, store_text_filter filter,
                        void *filter_ud, error_info *err);

/* Writes the records spilled beside db_path into db, each with its budget settlement as the
 * queue would (store_log_interaction_settle), in one transaction, then removes the file.
 * A line that is no record (torn by a crash while it was written) is skipped and said
 * through log, as is a record the database refuses for its own values; both are counted in
 * a "records_lost" audit event. Returns how many records were written (0: no spill, or
 * another process is importing it now), or -1 with err: the file stays for the next open. */
typedef void (*spill_log_fn)(void *ud, int level, const char *msg);
/* 1 when db_path has a spill file (one an import could not take, or not yet): the engine's
 * start then leaves dead processes' reservations alone, since the spilled records settle
 * them. */
int pending_spill_exists(const char *db_path);
long pending_spill_import(store_db *db, const char *db_path, spill_log_fn log, void *log_ud, error_info *err);

#endif
