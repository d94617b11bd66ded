/* The log of API requests that reached the simulator, for tests to inspect through
 * GET /sim/requests. Keeps the newest SIM_LOG_MAX entries. */
#ifndef NYX_SIM_LOG_H
#define NYX_SIM_LOG_H

#include <stddef.h>
#include <stdint.h>

#define SIM_LOG_MAX 10000

typedef struct sim_log_entry {
    int64_t n;             /* the request number (request-id req_sim_<n>) */
    const char *path;      /* "/v1/messages" or "/v1/messages/count_tokens" (copied) */
    const char *model;     /* as requested, NULL when unknown (copied) */
    int stream;
    int64_t max_tokens;
    int status;            /* HTTP status; 0 when the connection was closed without one */
    int64_t input_tokens;
    int64_t cache_read;
    int64_t cache_write;   /* cache_creation_input_tokens */
    int64_t cache_write_1h;
    int64_t output_tokens;
    const char *fault;     /* fault name, NULL when none (static) */
    double t;              /* when the request arrived: monotonic seconds (clock_now_s) */
    const char *body;      /* the request body as received (body_len bytes); kept (copied) only
                              for the newest sim_log_keep_bodies() requests */
    size_t body_len;
} sim_log_entry;

typedef struct sim_log sim_log;

sim_log *sim_log_new(void);
void sim_log_free(sim_log *l);
void sim_log_clear(sim_log *l);

/* Keeps the bodies of the newest n requests (0, the default: none), so a test can compare what
 * a client sent with what it recorded; older bodies are freed as requests arrive. */
void sim_log_keep_bodies(sim_log *l, size_t n);
size_t sim_log_kept_bodies(const sim_log *l);

/* Appends a copy of *e (the oldest entry goes when full). Returns 0, or -1 when out of memory. */
int sim_log_add(sim_log *l, const sim_log_entry *e);

/* {"requests":[...entries with n > since...], "count":N} where N is the number of requests
 * logged since the last clear. malloc'd; NULL when out of memory. */
char *sim_log_json(const sim_log *l, int64_t since);

#endif
