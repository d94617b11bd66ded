/* libmicrohttpd glue: a few threads poll the connections with epoll; a request that must wait
 * (latency, hangs) suspends its connection in sim_wait.c instead of holding the thread, so
 * the others go on. (A thread per connection cost a context switch or two per request, as
 * much CPU as the request's own work.) Collects request bodies (413 above max_body), routes
 * /v1/messages and /v1/messages/count_tokens to sim_api.c and /sim/... to sim_control.c,
 * settles output tokens when a request completes, and starts and stops the daemon. */
#define _POSIX_C_SOURCE 200809L
#include "sim_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/clock.h"

#define CONNECTION_LIMIT 4096u
#define LISTEN_BACKLOG 1024u
/* Threads polling the connections, each its share. One would do the work, but on a loaded
 * machine one thread gets one share of the CPU: serving 20,000 requests of bench/workload.lua
 * with four took as long as with a thread per connection, with one about half as long again,
 * for 5-10 % more CPU than one. */
#define SERVE_THREADS 4u
#define BODY_RESERVE ((size_t)4 << 20)

/* ---- control endpoints ---- */

static enum MHD_Result control(sim_server *s, struct MHD_Connection *c, conn_ctx *x,
                               const char *method, const char *url)
{
    call k = {.s = s, .c = c, .x = x, .fd = -1};
    if (pthread_mutex_lock(&s->mu) != 0)
        return MHD_NO;
    long long n = ++s->next_ctl;
    pthread_mutex_unlock(&s->mu);
    snprintf(k.reqid, sizeof k.reqid, "req_sim_ctl_%lld", n);
    if (x->too_large) {
        char *body = sim_json_error("request_too_large",
                                    "Request exceeds the maximum allowed number of bytes.",
                                    k.reqid);
        return sim_http_json(&k, 413, body);
    }
    char *body = NULL;
    const char *since = mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    int status = sim_control(s, method, url, since, x->body.s, x->body.len, &body);
    return sim_http_json(&k, status, body);
}

/* ---- MHD callbacks ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    sim_server *s = cls;
    conn_ctx *x = *con_cls;
    (void)version;
    if (!x) {
        if (!(x = calloc(1, sizeof *x)))
            return MHD_NO;
        if (pthread_mutex_lock(&s->mu) != 0) {
            free(x);
            return MHD_NO;
        }
        x->max_body = s->opt.max_body;
        pthread_mutex_unlock(&s->mu);
        /* A message batch may hold up to 256 MB of requests, beyond any one request's limit. */
        if (strncmp(url, SIM_PATH_BATCHES, strlen(SIM_PATH_BATCHES)) == 0 && x->max_body < SIM_BATCH_MAX_BODY)
            x->max_body = SIM_BATCH_MAX_BODY;
        const char *cl = mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "content-length");
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (declared > x->max_body)
            x->too_large = 1; /* read and drop the body, then answer 413 */
        else if (declared)
            /* Room for the body at once (a failure marks it failed), up to a bound a mere
             * header cannot make us exceed. */
            (void)textbuf_reserve(&x->body, declared < BODY_RESERVE ? (size_t)declared : BODY_RESERVE);
        *con_cls = x;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (x->too_large || x->body.len + n > x->max_body) {
            x->too_large = 1;
            return MHD_YES;
        }
        textbuf_put(&x->body, upload_data, n);
        return x->body.failed ? MHD_NO : MHD_YES;
    }
    int post = strcmp(method, "POST") == 0;
    if (strcmp(url, SIM_PATH_MESSAGES) == 0 && post)
        return sim_api(s, c, x, SIM_PATH_MESSAGES, 0);
    if (strcmp(url, SIM_PATH_COUNT) == 0 && post)
        return sim_api(s, c, x, SIM_PATH_COUNT, 1);
    if (strncmp(url, SIM_PATH_BATCHES, strlen(SIM_PATH_BATCHES)) == 0 &&
        (url[strlen(SIM_PATH_BATCHES)] == '\0' || url[strlen(SIM_PATH_BATCHES)] == '/'))
        return sim_batch_api(s, c, x, method, url);
    if (strncmp(url, "/sim/", 5) == 0)
        return control(s, c, x, method, url);
    call k = {.s = s, .c = c, .x = x, .fd = -1};
    snprintf(k.reqid, sizeof k.reqid, "req_sim_0");
    int known = strcmp(url, SIM_PATH_MESSAGES) == 0 || strcmp(url, SIM_PATH_COUNT) == 0;
    return sim_http_json(&k, known ? 405 : 404,
                         sim_json_error(known ? "invalid_request_error" : "not_found_error",
                                        known ? "Method Not Allowed" : "Not Found", k.reqid));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    sim_server *s = cls;
    conn_ctx *x = *con_cls;
    (void)c;
    (void)toe;
    if (!x)
        return;
    /* The API settles output tokens at the end: give back what was admitted but unused. */
    if (x->refund_model && pthread_mutex_lock(&s->mu) == 0) {
        sim_rl_refund(s->rl, x->refund_model, x->refund, clock_now_s());
        pthread_mutex_unlock(&s->mu);
    }
    sim_api_abandon(s, x);
    free(x->refund_model);
    free(x->body.s);
    free(x);
    *con_cls = NULL;
}

static void no_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

int sim_http_start(sim_server *s, int port, error_info *err)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *why = NULL;
    if (!sim_mhd_load(&why)) {
        error_set(err, "sim_listen", 0, "sim: cannot serve HTTP: %s", why);
        return -1;
    }
    /* epoll where there is one, else poll: no FD_SETSIZE ceiling on connections. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (mhd()->is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else if (mhd()->is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    if (!(s->waits = sim_waits_start(err)))
        return -1;
    s->daemon = mhd()->start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, LISTEN_BACKLOG,
                                 MHD_OPTION_THREAD_POOL_SIZE, SERVE_THREADS,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, no_log, NULL,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        sim_waits_free(s->waits);
        s->waits = NULL;
        error_set(err, "sim_listen", 0, "sim: could not listen on 127.0.0.1:%d", port);
        return -1;
    }
    const union MHD_DaemonInfo *di = mhd()->get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di && di->port ? di->port : port;
    if (!s->port) {
        sim_http_stop(s);
        error_set(err, "sim_listen", 0, "sim: could not learn the listening port");
        return -1;
    }
    return 0;
}

void sim_http_stop(sim_server *s)
{
    sim_waits_stop(s->waits); /* the daemon must not stop with a connection suspended */
    if (s->daemon)
        mhd()->stop_daemon(s->daemon);
    s->daemon = NULL;
    sim_waits_free(s->waits);
    s->waits = NULL;
}
