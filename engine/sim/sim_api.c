/* The API endpoints: auth and version headers, validation, faults, rate limits and the
 * prompt cache under the server lock, then the reply after its latency. A call that waits (a
 * hang, a plain reply's latency) is kept in a sim_pending while its connection is suspended
 * (sim_wait.c), and goes on when libmicrohttpd calls the handler again. */
#define _POSIX_C_SOURCE 200809L
#include "sim_http.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json_print.h"

/* Where a waiting call goes on from. */
enum { AFTER_HANG, AFTER_LATENCY };

typedef struct sim_pending {
    int stage;
    int count_only;
    call k;
    sim_req req;
    sim_reply rep;        /* AFTER_LATENCY: the reply and its usage */
    sim_usage u;
} sim_pending;

static void pending_free(sim_pending *p)
{
    if (!p)
        return;
    sim_req_free(&p->req);
    sim_reply_free(&p->rep);
    free(p);
}

/* Suspends the call until deadline_us, keeping k, *req and (when rep is not NULL) *rep and *u,
 * which it takes over (*req and *rep are left empty). Returns 0, or -1 when the call cannot
 * wait: nothing is taken then. */
static int wait_for(call *k, int stage, int count_only, sim_req *req, sim_reply *rep,
                    const sim_usage *u, int64_t deadline_us)
{
    sim_pending *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->stage = stage;
    p->count_only = count_only;
    p->k = *k;
    p->req = *req;
    if (rep) {
        p->rep = *rep;
        p->u = *u;
        /* usage.speed and usage.inference_geo point into the request, which moved */
        p->u.speed = u->speed == req->speed ? p->req.speed : u->speed;
        p->u.geo = u->geo == req->geo ? p->req.geo : u->geo;
    }
    k->x->pending = p;
    if (sim_waits_add(k->s->waits, k->c, k->fd, deadline_us, &k->x->outcome)) {
        k->x->pending = NULL;
        free(p);
        return -1;
    }
    memset(req, 0, sizeof *req);
    if (rep)
        memset(rep, 0, sizeof *rep);
    return 0;
}

static int fault_error(call *k, int stream, enum MHD_Result *out)
{
    int kind = k->fault.kind, status;
    const char *type, *msg;
    /* A plain request has no stream to fail in: it gets the status the event stands for. */
    if (kind == SIM_FAULT_STREAM_ERROR && stream)
        return -1;
    if (sim_fault_error(kind, &status, &type, &msg) != 0)
        return -1;
    *out = sim_http_fail(k, status, type, k->fault.message[0] ? k->fault.message : msg);
    return 0;
}

static enum MHD_Result count_tokens(call *k, const sim_req *req)
{
    k->log.input_tokens = req->total;
    sim_http_log(k, 200);
    cJSON *o = cJSON_CreateObject();
    char *text = o && cJSON_AddNumberToObject(o, "input_tokens", (double)req->total)
                     ? json_print(o)
                     : NULL;
    cJSON_Delete(o);
    char *body = NULL;
    if (text) {
        size_t n = strlen(text);
        if ((body = malloc(n + 1)))
            memcpy(body, text, n + 1);
        cJSON_free(text);
    }
    return sim_http_json(k, 200, body);
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
    sim_http_log(k, 429);
    char *body = sim_json_error("rate_limit_error", msg, k->reqid);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r =
        mhd()->create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    free(body);
    long long wait = (long long)ceil(k->rl.retry_after_s);
    snprintf(value, sizeof value, "%lld", wait < 1 ? 1 : wait);
    if (r && sim_http_header(r, "retry-after", value)) {
        mhd()->destroy_response(r);
        return MHD_NO;
    }
    return sim_http_respond(k, 429, r, "application/json");
}

/* Sends a plain reply (its latency over) and frees rep. */
static enum MHD_Result send_message(call *k, const sim_req *req, sim_reply *rep,
                                    const sim_usage *u)
{
    char id[48];
    snprintf(id, sizeof id, "msg_sim_%lld", (long long)k->log.n);
    int fault = k->has_fault ? k->fault.kind : SIM_FAULT_NONE;
    sim_body body;
    int rc = sim_body_message(&body, id, req->canonical, rep, u, fault);
    if (rc == 0 && fault == SIM_FAULT_STALL)
        sim_body_stall(&body, k->fault.after_events, k->fault.hang_ms);
    sim_reply_free(rep);
    if (rc)
        return MHD_NO;
    return sim_http_body(k, &body, "application/json");
}

/* Answers /v1/messages; may wait for the reply's latency, taking *req over (see wait_for). */
static enum MHD_Result messages(call *k, sim_req *req)
{
    sim_server *s = k->s;
    sim_plan plan;
    double ttft_ms, token_ms;
    if (pthread_mutex_lock(&s->mu) != 0)
        return MHD_NO;
    int64_t now = clock_now_us();
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
        return sim_http_fail(k, 500, "api_error", "out of memory");
    if (sim_tools_reply(req, &rep)) {
        sim_reply_free(&rep);
        return sim_http_fail(k, 500, "api_error", "out of memory");
    }
    sim_usage u = plan.usage;
    u.output_tokens = rep.output_tokens;
    u.speed = req->speed;
    u.geo = req->geo;
    if (k->has_rl && k->rl.state[SIM_RL_OUTPUT].limit && req->max_tokens > rep.output_tokens) {
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
    sim_http_log(k, 200);

    if (req->stream) {
        char id[48];
        snprintf(id, sizeof id, "msg_sim_%lld", (long long)k->log.n);
        int fault = k->has_fault ? k->fault.kind : SIM_FAULT_NONE;
        sim_body body;
        int rc = sim_body_stream(&body, id, req->canonical, &rep, &u, fault,
                                 k->fault.after_events, ttft_ms, token_ms);
        if (rc == 0 && fault == SIM_FAULT_STALL)
            sim_body_stall(&body, k->fault.after_events, k->fault.hang_ms);
        sim_reply_free(&rep);
        if (rc)
            return MHD_NO;
        return sim_http_body(k, &body, "text/event-stream; charset=utf-8");
    }
    /* A plain reply arrives whole, after the time the stream would have taken. */
    int64_t total_us = (int64_t)(ttft_ms * 1000.0 + token_ms * 1000.0 * (double)u.output_tokens);
    if (total_us > 0) {
        if (wait_for(k, AFTER_LATENCY, 0, req, &rep, &u, now + total_us)) {
            sim_reply_free(&rep);
            return MHD_NO;
        }
        return MHD_YES;
    }
    return send_message(k, req, &rep, &u);
}

/* Goes on with the call that waited in x->pending. */
static enum MHD_Result resume(sim_server *s, conn_ctx *x)
{
    sim_pending *p = x->pending;
    x->pending = NULL;
    enum MHD_Result out = MHD_NO;
    if (p->stage == AFTER_HANG) {
        if (pthread_mutex_lock(&s->mu) == 0) {
            s->hanging--;
            pthread_mutex_unlock(&s->mu);
        }
        if (x->outcome)
            sim_http_log(&p->k, 0);
        else
            out = p->count_only ? count_tokens(&p->k, &p->req) : messages(&p->k, &p->req);
    } else if (!x->outcome) {
        out = send_message(&p->k, &p->req, &p->rep, &p->u);
    }
    pending_free(p);
    return out;
}

void sim_api_abandon(sim_server *s, conn_ctx *x)
{
    if (!x->pending)
        return;
    x->outcome = -1;
    (void)resume(s, x);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return mhd()->lookup_connection_value(c, MHD_HEADER_KIND, name);
}

int sim_api_begin(call *k, sim_server *s, struct MHD_Connection *c, conn_ctx *x, const char *path,
                  enum MHD_Result *out)
{
    memset(k, 0, sizeof *k);
    k->s = s;
    k->c = c;
    k->x = x;
    k->fd = -1;
    k->fault.after_events = -1;
    if (pthread_mutex_lock(&s->mu) != 0) {
        *out = MHD_NO;
        return -1;
    }
    k->log.n = ++s->next_n;
    k->log.t = clock_now_s();
    pthread_mutex_unlock(&s->mu);
    snprintf(k->reqid, sizeof k->reqid, "req_sim_%lld", (long long)k->log.n);
    k->log.path = path;
    k->log.body = x->body.s;
    k->log.body_len = x->body.len;
    const union MHD_ConnectionInfo *ci =
        mhd()->get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        k->fd = ci->connect_fd;

    const char *key = header(c, "x-api-key");
    const char *auth = header(c, "authorization");
    if ((!key || !key[0]) && auth && strncmp(auth, "Bearer ", 7) == 0)
        key = auth + 7;
    *out = MHD_NO;
    if (!key || !key[0])
        *out = sim_http_fail(k, 401, "authentication_error", "x-api-key header is required");
    else if (s->api_key && strcmp(key, s->api_key) != 0)
        *out = sim_http_fail(k, 401, "authentication_error", "invalid x-api-key");
    else if (!header(c, "anthropic-version") || !header(c, "anthropic-version")[0])
        *out = sim_http_fail(k, 400, "invalid_request_error", "anthropic-version: header is required");
    else if (x->too_large)
        *out = sim_http_fail(k, 413, "request_too_large", "Request exceeds the maximum allowed number of bytes.");
    else
        return 0;
    return -1;
}

enum MHD_Result sim_api(sim_server *s, struct MHD_Connection *c, conn_ctx *x, const char *path,
                        int count_only)
{
    call k;
    enum MHD_Result out;
    if (x->pending)
        return resume(s, x);
    if (sim_api_begin(&k, s, c, x, path, &out))
        return out;
    sim_req req;
    error_info err;
    error_clear(&err);
    if (sim_req_parse(&req, x->body.s ? x->body.s : "", x->body.len, &s->models, s->memo, count_only, &err))
        return sim_http_fail(&k, err.status, err.type, err.message);
    k.log.model = req.model;
    k.log.stream = req.stream;
    k.log.max_tokens = req.max_tokens;

    int endpoint = count_only ? SIM_EP_COUNT_TOKENS : SIM_EP_MESSAGES;
    if (pthread_mutex_lock(&s->mu) != 0) {
        sim_req_free(&req);
        return MHD_NO;
    }
    k.has_rl = !count_only && sim_rl_peek(s->rl, req.canonical, clock_now_s(), &k.rl) == 0;
    k.has_fault = sim_faults_match(s->faults, req.model, req.canonical, endpoint, req.stream,
                                   &k.fault);
    pthread_mutex_unlock(&s->mu);

    if (k.has_fault && fault_error(&k, req.stream, &out) == 0) {
        sim_req_free(&req);
        return out;
    }
    if (k.has_fault && k.fault.kind == SIM_FAULT_RESET) {
        sim_http_log(&k, 0);
        sim_req_free(&req);
        return MHD_NO;
    }
    if (k.has_fault && k.fault.kind == SIM_FAULT_HANG) {
        int64_t until = k.fault.hang_ms < 0 ? INT64_MAX : clock_now_us() + k.fault.hang_ms * 1000;
        /* Counted while held: a test can tell a request has arrived before it ends. */
        if (pthread_mutex_lock(&s->mu) != 0) {
            sim_req_free(&req);
            return MHD_NO;
        }
        s->hanging++;
        pthread_mutex_unlock(&s->mu);
        if (wait_for(&k, AFTER_HANG, count_only, &req, NULL, NULL, until) == 0)
            return MHD_YES;
        /* Cannot wait (the server stops): as if the client went. */
        if (pthread_mutex_lock(&s->mu) == 0) {
            s->hanging--;
            pthread_mutex_unlock(&s->mu);
        }
        sim_http_log(&k, 0);
        sim_req_free(&req);
        return MHD_NO;
    }
    out = count_only ? count_tokens(&k, &req) : messages(&k, &req);
    sim_req_free(&req);
    return out;
}
