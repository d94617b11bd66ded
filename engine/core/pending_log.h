/* When the database fails (cannot be opened, locked, full), calls go on: their interactions
 * wait here, bounded, and are written once the store is back. What is still waiting when the
 * engine closes goes to the spill file of the database (pending_spill.h: beside a database
 * file, or in NYX_SPILL_DIR for PostgreSQL), written in by the next engine on this machine that
 * opens it. What overflows, or cannot be spilled (":memory:", a spill file that cannot be
 * written), is counted as lost and reported. */
#ifndef NYX_PENDING_LOG_H
#define NYX_PENDING_LOG_H

#include "storage.h"
#include "store/store.h"

/* Keeps a copy of it (and the budget settlement that goes with it) for later. */
void pending_log_add(storage *s, const interaction_rec *it, const char *reservation, double actual_usd,
                     const char *why);

/* NYX_DURABILITY=strict: someone waits for this record. done(ud, NULL) runs once it is
 * committed; done(ud, err) (a store_error) when it cannot be by deadline (monotonic seconds),
 * when the store fails for a reason waiting will not cure, or when the engine closes. The
 * record itself stays queued either way. done runs from the loop, or before this returns
 * when the record cannot even be kept (the queue is full, memory is out). */
typedef void (*pending_done_fn)(void *ud, const error_info *err);
void pending_log_add_waiting(storage *s, const interaction_rec *it, const char *reservation,
                             double actual_usd, const error_info *why, double deadline, pending_done_fn done,
                             void *ud);
/* Tries to write what waits; returns the number still waiting. */
size_t pending_log_flush(storage *s);
/* At close: one last flush, then spills what still waits, or counts and reports it lost. */
void pending_log_close(storage *s);

#endif
