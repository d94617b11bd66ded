/* The simulator's shared state, seen by the HTTP glue (sim_http.c), the control endpoints
 * (sim_control.c) and the lifecycle (sim_server.c). Every field below mu is protected by it:
 * requests share the cache, buckets, faults, log and options. */
#ifndef NYX_SIM_SERVER_H
#define NYX_SIM_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "sim.h"
#include "sim_core.h"
#include "sim_batch.h"
#include "sim_faults.h"
#include "sim_log.h"
#include "sim_ratelimit.h"
#include "sim_wait.h"

struct MHD_Daemon;

struct sim_server {
    struct MHD_Daemon *daemon;
    sim_waits *waits;  /* requests waiting, their connections suspended (has its own lock) */
    sim_models models; /* read-only after start */
    char *api_key;     /* owned copy; NULL = any non-empty key; read-only after start */
    int port;

    pthread_mutex_t mu;
    sim_options opt;   /* the run-time options (api_key field unused) */
    sim_cache *cache;
    sim_token_memo *memo; /* has its own lock: requests are parsed outside mu */
    sim_rl *rl;
    sim_faults *faults;
    sim_log *log;
    struct sim_batches *batches;
    int64_t next_n;    /* API request numbers: req_sim_<n>, msg_sim_<n> */
    int64_t next_ctl;  /* control request numbers: req_sim_ctl_<n> */
    int hanging;       /* requests held by a "hang" fault now (logged only once they end) */
};

/* Runs a /sim/... control request. Returns the HTTP status and sets *out to a malloc'd JSON
 * body (NULL when out of memory).
 *   method, url  as received; query_since the "since" query value or NULL */
int sim_control(sim_server *s, const char *method, const char *url, const char *query_since,
                const char *body, size_t len, char **out);

/* Starts and stops the MHD daemon (sim_http.c). */
int sim_http_start(sim_server *s, int port, error_info *err);
void sim_http_stop(sim_server *s);

#endif
