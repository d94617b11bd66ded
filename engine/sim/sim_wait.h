/* Requests that wait without holding a thread: a time to first token, the time of each token,
 * a hang. The handler suspends its connection here and libmicrohttpd's one thread serves the
 * others meanwhile; this module's thread resumes it when its time comes, when its client has
 * gone (looked at every 50 ms, as a held request used to) or when the server stops. */
#ifndef NYX_SIM_WAIT_H
#define NYX_SIM_WAIT_H

#include <stdint.h>

#include "base/error.h"

struct MHD_Connection;
typedef struct sim_waits sim_waits;

/* Starts the thread. NULL (err set) when it cannot. */
sim_waits *sim_waits_start(error_info *err);

/* Suspends c (called from its access handler or content reader) until deadline_us
 * (monotonic; INT64_MAX: until the client goes), then resumes it with *outcome 0 when the
 * time came, -1 when the client on fd (when >= 0) went or the waits stopped. Returns 0, or -1
 * when c cannot wait (stopping, out of memory): it is then not suspended. */
int sim_waits_add(sim_waits *w, struct MHD_Connection *c, int fd, int64_t deadline_us,
                  int *outcome);

/* Ends every wait with -1, resuming its connection, and the thread; later waits fail. Call
 * before stopping the daemon (it must hold no suspended connection). */
void sim_waits_stop(sim_waits *w);

/* Frees w (stopped first when it was not). */
void sim_waits_free(sim_waits *w);

#endif
