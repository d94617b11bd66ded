#define _POSIX_C_SOURCE 200809L
#include "call.h"

#include "cache/policy.h"
#include "claude/errors.h"
#include "claude/headers.h"
#include "claude/request.h"
#include "claude/response.h"
#include "claude/sse.h"
#include "clock.h"
#include "cost/models.h"
#include "engine.h"
#include "resilience/retry.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* A response body larger than this is not a Messages response. */
#define MAX_BODY (64u << 20)

struct nyx_call {
    nyx_engine *e;
    nyx_call_spec spec;
    const nyx_model *model;
    call_done_fn done;
    void *ud;
    nyx_call *prev, *next; /* the engine's in-flight list */

    char *body;            /* request JSON, built once for every attempt */
    size_t body_len;
    cache_expect expect;

    CURL *easy;            /* current attempt, or NULL */
    loop_timer *backoff;   /* waiting to retry, or NULL */
    claude_headers headers;
    claude_stream *stream;
    char *buf;             /* non-streaming response body */
    size_t len, cap;
    nyx_error attempt_err; /* set by the write callback when it aborts the transfer */
    int text_delivered;
    cJSON *attempt_log;    /* every attempt's outcome, kept with the interaction */
    double attempt_started;
    uint64_t rng;

    double started, first_byte;
    int finished;
    nyx_call_result result;
};

void call_spec_init(nyx_call_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    nyx_request_init(&spec->req);
}

void call_spec_free(nyx_call_spec *spec)
{
    nyx_request_free(&spec->req);
    free(spec->session);
    free(spec->agent);
    free(spec->template_name);
    memset(spec, 0, sizeof *spec);
}

const nyx_call_result *call_result(const nyx_call *c) { return &c->result; }

static void start_attempt(void *ud);
static void finish(nyx_call *c);

/* ---- curl callbacks ---- */

static void stream_started(void *ud)
{
    nyx_call *c = ud;
    if (c->first_byte == 0)
        c->first_byte = nyx_now_s();
    /* From now on the API has this call's prefix: calls that start now should read it. */
    cache_response_began(c->e->cache, &c->spec.req, c->model, c->first_byte);
    if (c->spec.on_start)
        c->spec.on_start(c->spec.stream_ud);
}

static void stream_text(void *ud, const char *text, size_t len)
{
    nyx_call *c = ud;
    c->text_delivered = 1;
    if (c->spec.on_text)
        c->spec.on_text(c->spec.stream_ud, text, len);
}

static int response_is_ok(nyx_call *c)
{
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    nyx_call *c = ud;
    size_t len = size * n;
    if (c->stream && response_is_ok(c)) {
        if (claude_stream_feed(c->stream, data, len, &c->attempt_err) != 0)
            return 0; /* aborts the transfer; the error is kept */
        return len;
    }
    if (c->len + len > MAX_BODY) {
        nyx_error_set(&c->attempt_err, "api_error", 0, "response body larger than %u bytes", MAX_BODY);
        return 0;
    }
    if (c->len + len + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + len + 1)
            cap *= 2;
        char *b = realloc(c->buf, cap);
        if (!b) {
            nyx_error_set(&c->attempt_err, "out_of_memory", 0, "out of memory reading the response");
            return 0;
        }
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->buf[c->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    nyx_call *c = ud;
    claude_headers_feed(&c->headers, data, size * n, nyx_wall_s());
    return size * n;
}

/* ---- attempts ---- */

static void record_attempt(nyx_call *c, int status, const nyx_error *err)
{
    cJSON *a = cJSON_CreateObject();
    if (!a)
        return;
    cJSON_AddNumberToObject(a, "status", status);
    cJSON_AddStringToObject(a, "outcome", err ? err->type : "ok");
    cJSON_AddNumberToObject(a, "ms", (nyx_now_s() - c->attempt_started) * 1000.0);
    if (c->headers.request_id[0])
        cJSON_AddStringToObject(a, "request_id", c->headers.request_id);
    cJSON_AddItemToArray(c->attempt_log, a);
}

static void reset_attempt(nyx_call *c)
{
    if (c->easy) {
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
    }
    claude_stream_free(c->stream);
    c->stream = NULL;
    c->len = 0;
    nyx_response_free(&c->result.resp);
    nyx_error_clear(&c->attempt_err);
}

static double timeout_of(const nyx_call *c)
{
    return c->spec.timeout_s > 0 ? c->spec.timeout_s : c->e->cfg.timeout_s;
}

static int configure_easy(nyx_call *c)
{
    nyx_engine *e = c->e;
    char url[1024];
    size_t n = strlen(e->endpoint);
    const char *slash = n > 0 && e->endpoint[n - 1] == '/' ? "" : "/";
    snprintf(url, sizeof url, "%s%sv1/messages", e->endpoint, slash);
    CURL *h = c->easy;
    long total_ms = (long)(timeout_of(c) * 1000.0);
    long connect_ms = (long)(e->cfg.connect_timeout_s * 1000.0);
    if (connect_ms > total_ms)
        connect_ms = total_ms;
    return curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->headers) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_WRITEDATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_HEADERDATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms > 0 ? total_ms : 1L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms > 0 ? connect_ms : 1L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
}

static void attempt_failed(nyx_call *c, int status, nyx_error *err)
{
    record_attempt(c, status, err);
    retry_policy p = {(int)c->e->cfg.max_retries, c->e->cfg.backoff_base_s, c->e->cfg.backoff_factor,
                      c->e->cfg.backoff_max_s};
    int retries_done = c->result.attempts - 1;
    /* Text already handed to the script cannot be taken back: a retry would repeat it. */
    if (!c->text_delivered && retry_allowed(&p, err, retries_done)) {
        double delay = retry_delay_s(&p, err, retries_done, &c->rng);
        reset_attempt(c);
        c->backoff = loop_timer_add(c->e->loop, delay, start_attempt, c);
        if (c->backoff)
            return;
    }
    /* Keep the partial text of a broken stream with the error. */
    if (c->stream && c->result.resp.text && err->type[0] && strcmp(err->type, "network_error") == 0 &&
        c->text_delivered)
        snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                 " (after %zu bytes of text)", c->result.resp.text_len);
    c->result.err = *err;
    c->result.status = NYX_STATUS_ERROR;
    finish(c);
}

static void attempt_done(void *ud, CURLcode rc)
{
    nyx_call *c = ud;
    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (c->first_byte == 0) {
        curl_off_t t = 0;
        if (curl_easy_getinfo(c->easy, CURLINFO_STARTTRANSFER_TIME_T, &t) == CURLE_OK && t > 0)
            c->first_byte = c->attempt_started + (double)t / 1e6;
    }
    nyx_error err;
    nyx_error_clear(&err);
    if (c->attempt_err.type[0] && (rc == CURLE_WRITE_ERROR || rc == CURLE_OK)) {
        err = c->attempt_err;
    } else if (rc != CURLE_OK) {
        claude_error_transport(&err, rc == CURLE_OPERATION_TIMEDOUT, curl_easy_strerror(rc));
    } else if (status < 200 || status >= 300) {
        claude_error_from_http((int)status, c->buf, c->len, &c->headers, &err);
    } else if (c->stream) {
        claude_stream_finish(c->stream, &err);
    } else {
        claude_parse_message(c->buf ? c->buf : "", c->len, &c->result.resp, &err);
    }
    if (err.type[0]) {
        if (!err.request_id[0] && c->headers.request_id[0])
            memcpy(err.request_id, c->headers.request_id, sizeof err.request_id);
        attempt_failed(c, (int)status, &err);
        return;
    }
    record_attempt(c, (int)status, NULL);
    if (!c->result.resp.request_id && c->headers.request_id[0])
        c->result.resp.request_id = strdup(c->headers.request_id);
    c->result.status = NYX_STATUS_OK;
    finish(c);
}

static void start_attempt(void *ud)
{
    nyx_call *c = ud;
    nyx_error err;
    nyx_error_clear(&err);
    c->backoff = NULL;
    c->result.attempts++;
    c->attempt_started = nyx_now_s();
    claude_headers_init(&c->headers);
    c->easy = curl_easy_init();
    if (c->easy && c->spec.req.stream) {
        claude_stream_hooks hooks = {stream_started, stream_text, c};
        c->stream = claude_stream_new(&c->result.resp, &hooks);
    }
    if (!c->easy || (c->spec.req.stream && !c->stream) || configure_easy(c) != 0 ||
        loop_add_transfer(c->e->loop, c->easy, attempt_done, c) != 0) {
        nyx_error_set(&err, "network_error", 0, "cannot start the HTTP transfer");
        c->result.err = err;
        c->result.status = NYX_STATUS_ERROR;
        reset_attempt(c);
        finish(c);
    }
}

/* ---- finishing: cost, statistics, the log, the owner ---- */

static void log_interaction(nyx_call *c)
{
    nyx_engine *e = c->e;
    if (!e->store)
        return;
    nyx_call_result *r = &c->result;
    char *attempts = cJSON_PrintUnformatted(c->attempt_log);
    nyx_interaction it = {0};
    it.id = r->interaction_id;
    it.created_at = nyx_wall_s();
    it.session = c->spec.session;
    it.agent = c->spec.agent;
    it.thought_id = c->spec.thought;
    it.template_name = c->spec.template_name;
    it.template_version = c->spec.template_version;
    it.request_id = r->resp.request_id ? r->resp.request_id : (r->err.request_id[0] ? r->err.request_id : NULL);
    it.model_requested = r->model_requested;
    it.model_served = r->resp.model;
    it.provider = e->provider;
    it.usage = r->resp.usage;
    it.has_cost = r->has_cost;
    it.cost_usd = r->cost.cost_usd;
    it.cost_without_cache_usd = r->cost.cost_without_cache_usd;
    it.saved_usd = r->cost.saved_usd;
    it.ttfb_ms = r->ttfb_ms;
    it.latency_ms = r->latency_ms;
    it.attempts = r->attempts;
    it.attempts_json = attempts;
    it.status = r->status == NYX_STATUS_OK ? "ok" : r->status == NYX_STATUS_CANCELLED ? "cancelled" : "error";
    it.error_type = r->status == NYX_STATUS_OK ? NULL : r->err.type;
    it.error_message = r->status == NYX_STATUS_OK ? NULL : r->err.message;
    it.stop_reason = r->resp.stop_reason;
    it.cache_hit = r->cache_hit;
    it.prompt_text = c->body;
    it.response_text = r->resp.text;
    nyx_error err;
    nyx_error_clear(&err);
    if (store_log_interaction(e->store, &it, &err) != 0)
        engine_warn_once(e, "store-write", "nyx: cannot log an interaction: %s", err.message);
    free(attempts);
}

static void account(nyx_call *c)
{
    nyx_engine *e = c->e;
    nyx_call_result *r = &c->result;
    const nyx_model *served = r->resp.model ? models_find(e->models, r->resp.model) : NULL;
    const nyx_model *m = served ? served : c->model;
    r->has_cost = cost_of_usage(m, &r->resp.usage, &r->cost) == 0;
    if (!r->has_cost && r->status == NYX_STATUS_OK) {
        const char *name = r->resp.model ? r->resp.model : r->model_requested;
        engine_warn_once(e, name, "nyx: no price known for model \"%s\"; its cost is reported as nil", name);
    }
    r->cache_hit = r->resp.usage.cache_read_input_tokens > 0;
    const nyx_cost *cost = r->has_cost ? &r->cost : NULL;
    const nyx_usage *u = &r->resp.usage;
    int unexpected_miss = r->status == NYX_STATUS_OK &&
                          cache_observe(e->cache, &c->spec.req, m, u, &c->expect, nyx_now_s());
    nyx_session *s = c->spec.session ? engine_session(e, c->spec.session, 1) : NULL;
    nyx_stats *targets[] = {
        &e->stats,
        s ? &s->stats : NULL,
        stats_group_get(&e->by_model, r->resp.model ? r->resp.model : r->model_requested),
        c->spec.agent ? stats_group_get(&e->by_agent, c->spec.agent) : NULL,
        c->spec.template_name ? stats_group_get(&e->by_template, c->spec.template_name) : NULL,
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        if (!targets[i])
            continue;
        stats_add(targets[i], r->status, u, cost, r->latency_ms);
        targets[i]->unexpected_misses += unexpected_miss;
    }
}

static void unlink_call(nyx_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->e->calls == c)
        c->e->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void release(nyx_call *c)
{
    reset_attempt(c);
    nyx_response_free(&c->result.resp);
    call_spec_free(&c->spec);
    cJSON_Delete(c->attempt_log);
    free(c->body);
    free(c->buf);
    free(c);
}

static void finish(nyx_call *c)
{
    if (c->finished)
        return;
    c->finished = 1;
    unlink_call(c);
    double now = nyx_now_s();
    c->result.latency_ms = (now - c->started) * 1000.0;
    c->result.ttfb_ms = c->first_byte > 0 ? (c->first_byte - c->started) * 1000.0 : 0;
    account(c);
    log_interaction(c);
    if (c->easy) {
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
    }
    if (c->done)
        c->done(c, c->ud);
    else
        release(c);
}

/* ---- public ---- */

nyx_call *call_start(nyx_engine *e, nyx_call_spec *spec, call_done_fn done, void *ud, nyx_error *err)
{
    if (!e->started && engine_start(e) != 0) {
        nyx_error_set(err, "invalid_argument", 0, "%s", e->errmsg);
        return NULL;
    }
    nyx_request *req = &spec->req;
    if (!req->model && !(req->model = strdup(e->cfg.default_model))) {
        nyx_error_set(err, "out_of_memory", 0, "out of memory");
        return NULL;
    }
    if (req->max_tokens == 0)
        req->max_tokens = (int)e->cfg.max_tokens;
    const nyx_model *m = models_find(e->models, req->model);
    cache_expect expect;
    if (cache_place_marks(e->cache, req, m, e->cfg.shared_context_ttl_s, nyx_now_s(), &expect, err) != 0)
        return NULL;
    size_t len = 0;
    char *body = claude_request_json(req, &len, err);
    if (!body)
        return NULL;
    nyx_call *c = calloc(1, sizeof *c);
    cJSON *log = cJSON_CreateArray();
    if (!c || !log) {
        free(c);
        cJSON_Delete(log);
        free(body);
        nyx_error_set(err, "out_of_memory", 0, "out of memory");
        return NULL;
    }
    c->e = e;
    c->spec = *spec;
    call_spec_init(spec);
    c->model = m;
    c->done = done;
    c->ud = ud;
    c->body = body;
    c->body_len = len;
    c->expect = expect;
    c->attempt_log = log;
    c->rng = e->id_nonce ^ (e->id_seq + 1) * 0x9e3779b97f4a7c15ull;
    c->started = nyx_now_s();
    nyx_error_clear(&c->result.err);
    nyx_error_clear(&c->attempt_err);
    engine_new_id(e, c->result.interaction_id, sizeof c->result.interaction_id);
    snprintf(c->result.model_requested, sizeof c->result.model_requested, "%s", c->spec.req.model);
    c->next = e->calls;
    if (e->calls)
        e->calls->prev = c;
    e->calls = c;
    start_attempt(c);
    return c;
}

void call_cancel(nyx_call *c, const char *reason)
{
    if (!c || c->finished)
        return;
    if (c->easy)
        loop_remove_transfer(c->e->loop, c->easy);
    if (c->backoff) {
        loop_timer_cancel(c->e->loop, c->backoff);
        c->backoff = NULL;
    }
    nyx_error_set(&c->result.err, "cancelled", 0, "call cancelled: %s", reason ? reason : "by the script");
    c->result.status = NYX_STATUS_CANCELLED;
    finish(c);
}

void call_free(nyx_call *c)
{
    if (!c)
        return;
    if (!c->finished) {
        c->done = NULL; /* finish() releases it */
        call_cancel(c, "its task was abandoned");
        return;
    }
    release(c);
}

void calls_cancel_all(nyx_engine *e, const char *reason)
{
    while (e->calls)
        call_cancel(e->calls, reason);
}

void calls_abandon_all(nyx_engine *e, const char *reason)
{
    while (e->calls) {
        e->calls->done = NULL;
        call_cancel(e->calls, reason);
    }
}
