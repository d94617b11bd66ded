/* libmicrohttpd glue: one thread per connection, so a request may sleep (latency, hangs)
 * without holding up the others. Routes /v1/messages, /v1/messages/count_tokens and the
 * /sim/... control endpoints; applies auth, faults, rate limits and the cache under the
 * server lock; sends bodies chunk by chunk with their delays. */
#define _POSIX_C_SOURCE 200809L
#include "sim_server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "sim_stream.h"

#define PATH_MESSAGES "/v1/messages"
#define PATH_COUNT "/v1/messages/count_tokens"
#define CONNECTION_LIMIT 4096u
#define LISTEN_BACKLOG 1024u
#define THREAD_STACK ((size_t)2 << 20)
#define BLOCK_SIZE 16384

/* Per request, from the first call of the access handler to the completion callback. */
typedef struct conn_ctx {
    char *body;
    size_t len, cap;
    size_t max_body;
    int too_large;
    char *refund_model; /* output tokens to give back to this model's bucket at the end */
    int64_t refund;
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

/* ---- headers and responses ---- */

static int add_header(struct MHD_Response *r, const char *name, const char *value)
{
    return MHD_add_response_header(r, name, value) == MHD_YES ? 0 : -1;
}

static void rfc3339(double wall_s, char *buf, size_t n)
{
    time_t t = (time_t)ceil(wall_s);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, n, "1970-01-01T00:00:00Z");
}

static int add_rl_headers(struct MHD_Response *r, const sim_rl_result *rl)
{
    static const char *const names[SIM_RL_KINDS] = {"requests", "input-tokens", "output-tokens"};
    double wall = nyx_wall_s();
    for (int k = 0; k < SIM_RL_KINDS; k++) {
        const sim_rl_state *st = &rl->state[k];
        if (!st->limit)
            continue;
        char name[64], value[48];
        snprintf(name, sizeof name, "anthropic-ratelimit-%s-limit", names[k]);
        snprintf(value, sizeof value, "%lld", (long long)st->limit);
        if (add_header(r, name, value))
            return -1;
        snprintf(name, sizeof name, "anthropic-ratelimit-%s-remaining", names[k]);
        snprintf(value, sizeof value, "%lld", (long long)st->remaining);
        if (add_header(r, name, value))
            return -1;
        snprintf(name, sizeof name, "anthropic-ratelimit-%s-reset", names[k]);
        rfc3339(wall + st->reset_s, value, sizeof value);
        if (add_header(r, name, value))
            return -1;
    }
    return 0;
}

static int add_fault_headers(struct MHD_Response *r, const sim_fault *f)
{
    char value[48];
    if (f->retry_after_s >= 0 && f->kind != SIM_FAULT_SPEND_LIMIT) {
        snprintf(value, sizeof value, "%g", f->retry_after_s);
        if (add_header(r, "retry-after", value))
            return -1;
    }
    if (f->retry_after_ms >= 0 && f->kind != SIM_FAULT_SPEND_LIMIT) {
        snprintf(value, sizeof value, "%g", f->retry_after_ms);
        if (add_header(r, "retry-after-ms", value))
            return -1;
    }
    if (f->should_retry >= 0 && add_header(r, "x-should-retry", f->should_retry ? "true" : "false"))
        return -1;
    return 0;
}

/* Adds the headers every API response carries, queues and releases the response. */
static enum MHD_Result respond(call *k, int status, struct MHD_Response *r, const char *ctype)
{
    if (!r)
        return MHD_NO;
    int bad = add_header(r, "content-type", ctype) || add_header(r, "request-id", k->reqid) ||
              (k->has_rl && sim_rl_enabled(k->s->rl) && add_rl_headers(r, &k->rl)) ||
              (k->has_fault && add_fault_headers(r, &k->fault));
    enum MHD_Result ok = bad ? MHD_NO : MHD_queue_response(k->c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static void log_call(call *k, int status)
{
    k->log.status = status;
    k->log.fault = k->has_fault ? sim_fault_name(k->fault.kind) : NULL;
    if (pthread_mutex_lock(&k->s->mu) == 0) {
        (void)sim_log_add(k->s->log, &k->log); /* a lost log line must not fail the request */
        pthread_mutex_unlock(&k->s->mu);
    }
}

static enum MHD_Result send_json(call *k, int status, char *body /* freed here */)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    free(body);
    return respond(k, status, r, "application/json");
}

static enum MHD_Result fail(call *k, int status, const char *type, const char *message)
{
    log_call(k, status);
    return send_json(k, status, sim_json_error(type, message, k->reqid));
}

/* ---- bodies sent chunk by chunk ---- */

typedef struct reader {
    sim_server *s;
    int fd;
    sim_body body;
    size_t chunk, off;
    int waited; /* the current chunk's delay is over */
} reader;

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    reader *rd = cls;
    (void)pos;
    if (rd->chunk >= rd->body.n)
        return rd->body.fail_at_end ? MHD_CONTENT_READER_END_WITH_ERROR
                                    : MHD_CONTENT_READER_END_OF_STREAM;
    const sim_chunk *ch = &rd->body.chunks[rd->chunk];
    if (!rd->waited) {
        if (ch->delay_us > 0 && sim_server_wait(rd->s, rd->fd, nyx_now_us() + ch->delay_us))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        rd->waited = 1;
    }
    size_t n = ch->len - rd->off < max ? ch->len - rd->off : max;
    memcpy(buf, ch->data + rd->off, n);
    rd->off += n;
    if (rd->off == ch->len) {
        rd->chunk++;
        rd->off = 0;
        rd->waited = 0;
    }
    return (ssize_t)n;
}

static void free_reader(void *cls)
{
    reader *rd = cls;
    sim_body_free(&rd->body);
    free(rd);
}

/* Sends a body (taken over, freed either way). */
static enum MHD_Result send_body(call *k, sim_body *body, const char *ctype)
{
    reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        sim_body_free(body);
        return MHD_NO;
    }
    rd->s = k->s;
    rd->fd = k->fd;
    rd->body = *body;
    uint64_t size = body->declared_len >= 0 ? (uint64_t)body->declared_len : MHD_SIZE_UNKNOWN;
    struct MHD_Response *r =
        MHD_create_response_from_callback(size, BLOCK_SIZE, read_body, rd, free_reader);
    if (!r) {
        free_reader(rd);
        return MHD_NO;
    }
    if (size == MHD_SIZE_UNKNOWN && add_header(r, "cache-control", "no-cache")) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    return respond(k, 200, r, ctype);
}

/* ---- the API ---- */

static const char *default_message(int kind)
{
    switch (kind) {
    case SIM_FAULT_RATE_LIMIT:
        return "This request would exceed your organization's rate limit. For details, refer "
               "to: https://docs.claude.com/en/api/rate-limits.";
    case SIM_FAULT_SPEND_LIMIT:
        return "You have reached your monthly spend limit for this organization. You will "
               "regain access when the limit resets or is raised.";
    case SIM_FAULT_SERVER_ERROR:
        return "Internal server error";
    case SIM_FAULT_BAD_REQUEST:
        return "Invalid request";
    case SIM_FAULT_UNAUTHORIZED:
        return "invalid x-api-key";
    case SIM_FAULT_NOT_FOUND:
        return "Not found";
    case SIM_FAULT_TOO_LARGE:
        return "Request exceeds the maximum allowed number of bytes.";
    default:
        return "Overloaded";
    }
}

/* Answers with the fault's error, or returns -1 when the fault is not an error response. */
static int fault_error(call *k, int stream, enum MHD_Result *out)
{
    static const struct {
        int kind, status;
        const char *type;
    } map[] = {
        {SIM_FAULT_RATE_LIMIT, 429, "rate_limit_error"},
        {SIM_FAULT_SPEND_LIMIT, 429, "rate_limit_error"},
        {SIM_FAULT_SERVER_ERROR, 500, "api_error"},
        {SIM_FAULT_OVERLOADED, 529, "overloaded_error"},
        {SIM_FAULT_BAD_REQUEST, 400, "invalid_request_error"},
        {SIM_FAULT_UNAUTHORIZED, 401, "authentication_error"},
        {SIM_FAULT_NOT_FOUND, 404, "not_found_error"},
        {SIM_FAULT_TOO_LARGE, 413, "request_too_large"},
        /* A plain request has no stream to fail in: it gets the status the event stands for. */
        {SIM_FAULT_STREAM_ERROR, 529, "overloaded_error"},
    };
    int kind = k->fault.kind;
    if (kind == SIM_FAULT_STREAM_ERROR && stream)
        return -1;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].kind == kind) {
            const char *msg = k->fault.message[0] ? k->fault.message : default_message(kind);
            *out = fail(k, map[i].status, map[i].type, msg);
            return 0;
        }
    return -1;
}

static enum MHD_Result count_tokens(call *k, const sim_req *req)
{
    k->log.input_tokens = req->total;
    log_call(k, 200);
    cJSON *o = cJSON_CreateObject();
    char *text = o && cJSON_AddNumberToObject(o, "input_tokens", (double)req->total)
                     ? cJSON_PrintUnformatted(o)
                     : NULL;
    cJSON_Delete(o);
    char *body = NULL;
    if (text) {
        size_t n = strlen(text);
        if ((body = malloc(n + 1)))
            memcpy(body, text, n + 1);
        cJSON_free(text);
    }
    return send_json(k, 200, body);
}

static enum MHD_Result refuse_rate(call *k, const sim_req *req)
{
    char msg[300], value[32];
    static const char *const what[SIM_RL_KINDS] = {"requests", "input tokens", "output tokens"};
    int worst = k->rl.limited_by;
    snprintf(msg, sizeof msg,
             "This request would exceed your organization's rate limit of %lld %s per minute "
             "(model: %.60s). For details, refer to: https://docs.claude.com/en/api/rate-limits.",
             (long long)k->rl.state[worst].limit, what[worst], req->canonical);
    log_call(k, 429);
    char *body = sim_json_error("rate_limit_error", msg, k->reqid);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    free(body);
    long long wait = (long long)ceil(k->rl.retry_after_s);
    snprintf(value, sizeof value, "%lld", wait < 1 ? 1 : wait);
    if (r && add_header(r, "retry-after", value)) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    return respond(k, 429, r, "application/json");
}

static enum MHD_Result messages(call *k, const sim_req *req)
{
    sim_server *s = k->s;
    sim_plan plan;
    double ttft_ms, token_ms;
    if (pthread_mutex_lock(&s->mu) != 0)
        return MHD_NO;
    int64_t now = nyx_now_us();
    ttft_ms = s->opt.ttft_ms;
    token_ms = s->opt.token_ms;
    sim_cache_plan(s->cache, req, now, &plan);
    /* Cache reads are not deducted from the input-token limit; output counts at max_tokens. */
    int rl_oom = sim_rl_admit(s->rl, req->canonical, req->total - plan.usage.cache_read,
                              req->max_tokens, (double)now / 1e6, &k->rl);
    k->has_rl = !rl_oom;
    if (!k->rl.admitted) {
        pthread_mutex_unlock(&s->mu);
        return refuse_rate(k, req);
    }
    /* The entry exists once this response begins: after the time to first token. */
    (void)sim_cache_commit(s->cache, req, &plan, now, now + (int64_t)(ttft_ms * 1000.0));
    pthread_mutex_unlock(&s->mu);

    sim_reply rep;
    if (sim_reply_make(req, &rep))
        return fail(k, 500, "api_error", "out of memory");
    sim_usage u = plan.usage;
    u.output_tokens = rep.output_tokens;
    if (sim_rl_enabled(s->rl) && req->max_tokens > rep.output_tokens) {
        size_t n = strlen(req->canonical);
        if ((k->x->refund_model = malloc(n + 1))) {
            memcpy(k->x->refund_model, req->canonical, n + 1);
            k->x->refund = req->max_tokens - rep.output_tokens;
        }
    }
    k->log.input_tokens = u.input_tokens;
    k->log.cache_read = u.cache_read;
    k->log.cache_write = u.cache_creation;
    k->log.cache_write_1h = u.cache_write_1h;
    k->log.output_tokens = u.output_tokens;
    log_call(k, 200);

    char id[48];
    snprintf(id, sizeof id, "msg_sim_%lld", (long long)k->log.n);
    int fault = k->has_fault ? k->fault.kind : SIM_FAULT_NONE;
    sim_body body;
    int rc;
    if (req->stream) {
        rc = sim_body_stream(&body, id, req->canonical, &rep, &u, fault, k->fault.after_events,
                             ttft_ms, token_ms);
        sim_reply_free(&rep);
        if (rc)
            return MHD_NO;
        return send_body(k, &body, "text/event-stream; charset=utf-8");
    }
    /* A plain reply arrives whole, after the time the stream would have taken. */
    int64_t total_us = (int64_t)(ttft_ms * 1000.0 + token_ms * 1000.0 * (double)u.output_tokens);
    if (total_us > 0 && sim_server_wait(s, k->fd, now + total_us)) {
        sim_reply_free(&rep);
        return MHD_NO;
    }
    rc = sim_body_message(&body, id, req->canonical, &rep, &u, fault);
    sim_reply_free(&rep);
    if (rc)
        return MHD_NO;
    return send_body(k, &body, "application/json");
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result api(sim_server *s, struct MHD_Connection *c, conn_ctx *x,
                           const char *path, int count_only)
{
    call k = {.s = s, .c = c, .x = x, .fd = -1};
    k.fault.after_events = -1;
    if (pthread_mutex_lock(&s->mu) != 0)
        return MHD_NO;
    k.log.n = ++s->next_n;
    pthread_mutex_unlock(&s->mu);
    snprintf(k.reqid, sizeof k.reqid, "req_sim_%lld", (long long)k.log.n);
    k.log.path = path;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        k.fd = ci->connect_fd;

    const char *key = header(c, "x-api-key");
    const char *auth = header(c, "authorization");
    if ((!key || !key[0]) && auth && strncmp(auth, "Bearer ", 7) == 0)
        key = auth + 7;
    if (!key || !key[0])
        return fail(&k, 401, "authentication_error", "x-api-key header is required");
    if (s->api_key && strcmp(key, s->api_key) != 0)
        return fail(&k, 401, "authentication_error", "invalid x-api-key");
    const char *version = header(c, "anthropic-version");
    if (!version || !version[0])
        return fail(&k, 400, "invalid_request_error", "anthropic-version: header is required");
    if (x->too_large)
        return fail(&k, 413, "request_too_large",
                    "Request exceeds the maximum allowed number of bytes.");

    sim_req req;
    nyx_error err;
    nyx_error_clear(&err);
    if (sim_req_parse(&req, x->body ? x->body : "", x->len, &s->models, count_only, &err))
        return fail(&k, err.status, err.type, err.message);
    k.log.model = req.model;
    k.log.stream = req.stream;
    k.log.max_tokens = req.max_tokens;

    int endpoint = count_only ? SIM_EP_COUNT_TOKENS : SIM_EP_MESSAGES;
    if (pthread_mutex_lock(&s->mu) != 0) {
        sim_req_free(&req);
        return MHD_NO;
    }
    k.has_rl = !count_only && sim_rl_peek(s->rl, req.canonical, nyx_now_s(), &k.rl) == 0;
    k.has_fault = sim_faults_match(s->faults, req.model, req.canonical, endpoint, req.stream,
                                   &k.fault);
    pthread_mutex_unlock(&s->mu);

    enum MHD_Result out;
    if (k.has_fault && fault_error(&k, req.stream, &out) == 0) {
        sim_req_free(&req);
        return out;
    }
    if (k.has_fault && k.fault.kind == SIM_FAULT_RESET) {
        log_call(&k, 0);
        sim_req_free(&req);
        return MHD_NO;
    }
    if (k.has_fault && k.fault.kind == SIM_FAULT_HANG) {
        int64_t until = k.fault.hang_ms < 0 ? INT64_MAX : nyx_now_us() + k.fault.hang_ms * 1000;
        if (sim_server_wait(s, k.fd, until)) {
            log_call(&k, 0);
            sim_req_free(&req);
            return MHD_NO;
        }
    }
    out = count_only ? count_tokens(&k, &req) : messages(&k, &req);
    sim_req_free(&req);
    return out;
}

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
        return send_json(&k, 413, body);
    }
    char *body = NULL;
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    int status = sim_control(s, method, url, since, x->body, x->len, &body);
    return send_json(&k, status, body);
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
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "content-length");
        if (cl && strtoull(cl, NULL, 10) > x->max_body)
            x->too_large = 1; /* read and drop the body, then answer 413 */
        *con_cls = x;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (x->too_large || x->len + n > x->max_body) {
            x->too_large = 1;
            return MHD_YES;
        }
        if (x->len + n + 1 > x->cap) {
            size_t cap = x->cap ? x->cap : 4096;
            while (cap < x->len + n + 1)
                cap *= 2;
            char *nb = realloc(x->body, cap);
            if (!nb)
                return MHD_NO;
            x->body = nb;
            x->cap = cap;
        }
        memcpy(x->body + x->len, upload_data, n);
        x->len += n;
        x->body[x->len] = '\0';
        return MHD_YES;
    }
    int post = strcmp(method, "POST") == 0;
    if (strcmp(url, PATH_MESSAGES) == 0 && post)
        return api(s, c, x, PATH_MESSAGES, 0);
    if (strcmp(url, PATH_COUNT) == 0 && post)
        return api(s, c, x, PATH_COUNT, 1);
    if (strncmp(url, "/sim/", 5) == 0)
        return control(s, c, x, method, url);
    call k = {.s = s, .c = c, .x = x, .fd = -1};
    snprintf(k.reqid, sizeof k.reqid, "req_sim_0");
    int known = strcmp(url, PATH_MESSAGES) == 0 || strcmp(url, PATH_COUNT) == 0;
    return send_json(&k, known ? 405 : 404,
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
        sim_rl_refund(s->rl, x->refund_model, x->refund, nyx_now_s());
        pthread_mutex_unlock(&s->mu);
    }
    free(x->refund_model);
    free(x->body);
    free(x);
    *con_cls = NULL;
}

static void no_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

int sim_http_start(sim_server *s, int port, nyx_error *err)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL; /* no FD_SETSIZE ceiling on connections */
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, LISTEN_BACKLOG, MHD_OPTION_THREAD_STACK_SIZE,
        THREAD_STACK, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, no_log, NULL, MHD_OPTION_END);
    if (!s->daemon) {
        nyx_error_set(err, "sim_listen", 0, "sim: could not listen on 127.0.0.1:%d", port);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di && di->port ? di->port : port;
    if (!s->port) {
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
        nyx_error_set(err, "sim_listen", 0, "sim: could not learn the listening port");
        return -1;
    }
    return 0;
}

void sim_http_stop(sim_server *s)
{
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
