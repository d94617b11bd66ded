/* What the HTTP pieces share: the per-request context, the API call being answered, and
 * the helpers that add the common headers, log and send (sim_respond.c). sim_api.c answers
 * the /v1 endpoints with them; sim_http.c is the libmicrohttpd glue. */
#ifndef NYX_SIM_HTTP_H
#define NYX_SIM_HTTP_H

#include "base/textbuf.h"
#include "sim_mhd.h"
#include "sim_server.h"
#include "sim_stream.h"

/* libmicrohttpd's functions: loaded before any server starts (sim_http_start). */
static inline const sim_mhd *mhd(void) { return sim_mhd_load(NULL); }

#define SIM_PATH_MESSAGES "/v1/messages"
#define SIM_PATH_COUNT "/v1/messages/count_tokens"
#define SIM_PATH_BATCHES "/v1/messages/batches"
#define SIM_BATCH_MAX_BODY ((size_t)256 << 20)

/* Per request, from the first call of the access handler to the completion callback. */
typedef struct conn_ctx {
    textbuf body;
    size_t max_body;
    int too_large;
    char *refund_model; /* output tokens to give back to this model's bucket at the end */
    int64_t refund;
    struct sim_pending *pending; /* the API call waiting while the connection is suspended */
    int outcome;                 /* how its wait ended: 0 the time came, -1 it cannot go on */
} conn_ctx;

/* One API request being answered. */
typedef struct call {
    sim_server *s;
    struct MHD_Connection *c;
    conn_ctx *x;
    int fd;
    char reqid[48];
    sim_log_entry log;
    int has_rl;
    sim_rl_result rl;
    int has_fault;
    sim_fault fault;
} call;


/* Adds a response header. Returns 0, or -1 on failure. */
int sim_http_header(struct MHD_Response *r, const char *name, const char *value);

/* Adds content-type, request-id, the rate-limit headers (when k->has_rl and limits are set)
 * and the fault's retry headers (when k->has_fault), queues r with status and releases it.
 * r may be NULL (a failed create): then MHD_NO. */
enum MHD_Result sim_http_respond(call *k, int status, struct MHD_Response *r, const char *ctype);

/* Sends a JSON body (malloc'd, freed here; NULL gives MHD_NO). */
enum MHD_Result sim_http_json(call *k, int status, char *body);

/* Logs the call with status and sends the API's error body. */
enum MHD_Result sim_http_fail(call *k, int status, const char *type, const char *message);

/* Appends the call to the request log with status (and the fault's name). */
void sim_http_log(call *k, int status);

/* Sends a 200 whose body is sent chunk by chunk after each chunk's delay; takes the body. */
enum MHD_Result sim_http_body(call *k, sim_body *body, const char *ctype);

/* Answers POST /v1/messages (count_only 0) or /v1/messages/count_tokens (1) once the body
 * is in x (sim_api.c). path is logged. A call that must wait suspends the connection and
 * keeps itself in x->pending; libmicrohttpd calls again once the wait is over, and this
 * goes on from there. */
enum MHD_Result sim_api(sim_server *s, struct MHD_Connection *c, conn_ctx *x, const char *path,
                        int count_only);

/* Ends the call left waiting in x->pending (when there is one) as if its client had gone:
 * libmicrohttpd may close a resumed connection without calling the handler again. */
void sim_api_abandon(sim_server *s, conn_ctx *x);

/* Starts an API request: numbers it, checks the key, the version header and the body size.
 * Returns 0, or -1 with *out the response already given (sim_api.c). */
int sim_api_begin(call *k, sim_server *s, struct MHD_Connection *c, conn_ctx *x, const char *path,
                  enum MHD_Result *out);

/* GET/POST/DELETE /v1/messages/batches[/ID[/results|/cancel]] (sim_batch_http.c). */
enum MHD_Result sim_batch_api(sim_server *s, struct MHD_Connection *c, conn_ctx *x, const char *method,
                              const char *url);

#endif
