/* Message Batches in the simulator (sim_batch.c): a batch's requests are processed one by one
 * over the processing delay (request i of n is due at created + delay * (i + 1) / n), through
 * the same validation, prompt cache and reply as POST /v1/messages, billed with
 * usage.service_tier "batch". What is unprocessed when the batch is cancelled is "canceled",
 * what is unprocessed at its expiry "expired". State advances lazily, when a batch is looked
 * at. Every function runs under the server lock. */
#ifndef NYX_SIM_BATCH_H
#define NYX_SIM_BATCH_H

#include <stddef.h>
#include <stdint.h>


struct sim_server;
typedef struct sim_batches sim_batches;

sim_batches *sim_batches_new(void);
void sim_batches_free(sim_batches *b);

/* Each returns the HTTP status and sets *out to a malloc'd body (JSON, or JSONL for results;
 * NULL when out of memory). now_us is monotonic, wall_s the wall clock for the timestamps.
 *   create   POST /v1/messages/batches with body
 *   get      GET  /v1/messages/batches/{id}
 *   results  GET  /v1/messages/batches/{id}/results (400 while it is processing)
 *   cancel   POST /v1/messages/batches/{id}/cancel
 *   remove   DELETE /v1/messages/batches/{id} (ended batches only)
 *   list     GET  /v1/messages/batches?limit=&after_id= (newest first) */
int sim_batch_create(struct sim_server *s, const char *body, size_t len, int64_t now_us,
                     double wall_s, char **out);
int sim_batch_get(struct sim_server *s, const char *id, int64_t now_us, char **out);
int sim_batch_results(struct sim_server *s, const char *id, int64_t now_us, char **out);
int sim_batch_cancel(struct sim_server *s, const char *id, int64_t now_us, double wall_s, char **out);
int sim_batch_remove(struct sim_server *s, const char *id, int64_t now_us, char **out);
int sim_batch_list(struct sim_server *s, int limit, const char *after_id, int64_t now_us, char **out);

#endif
