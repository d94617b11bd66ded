/* A call's life: admission (stop flag, circuit breaker, rate limits), attempts with retries,
 * fallback routes, and finishing (cost, statistics, log, then the owner's callback). */
#define _POSIX_C_SOURCE 200809L
#include "call_internal.h"

#include "cache/response_cache.h"
#include "claude/json_text.h"
#include "claude/request.h"
#include "base/clock.h"
#include "base/pooling.h"
#include "otel.h"
#include "resilience/breaker.h"
#include "resilience/ratelimit.h"
#include "resilience/retry.h"
#include "store/store.h"
#include "template/library.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for why each earlier route failed ("model: type; ..."), made when a route fails. */
#define ROUTE_ERRORS_SIZE 400

static void admit(void *ud);
static void finish(api_call *c);
static void release(api_call *c);
static void release_budget(api_call *c);
static void remember_response(api_call *c, double now);

void call_spec_init(call_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    request_init(&spec->req);
    spec->cache_response = -1;
}

void call_spec_free(call_spec *spec)
{
    request_free(&spec->req);
    free(spec->session);
    free(spec->agent);
    free(spec->template_name);
    free(spec->timeout_profile);
    batch_unref(spec->batch);
    free(spec->batch_custom_id);
    for (size_t i = 0; i < spec->nfallback; i++)
        free(spec->fallback[i]);
    free(spec->fallback);
    for (size_t i = 0; i < spec->nheaders; i++)
        free(spec->headers[i]);
    free(spec->headers);
    memset(spec, 0, sizeof *spec);
}

const call_outcome *call_result(const api_call *c) { return &c->result; }

const error_info *call_outcome_error(const call_outcome *r)
{
    static const error_info none = {.retry_after_s = -1.0, .should_retry = -1};
    static const error_info no_memory = {.type = "out_of_memory",
                                         .message = "out of memory recording why the call failed",
                                         .retry_after_s = -1.0,
                                         .should_retry = -1};
    if (r->err)
        return r->err;
    return r->status == NYX_STATUS_OK ? &none : &no_memory;
}

error_info *call_result_error(api_call *c)
{
    if (!c->result.err && (c->result.err = malloc(sizeof *c->result.err)))
        error_clear(c->result.err);
    return c->result.err;
}

int call_timeout_valid(double seconds)
{
    return seconds > 0 && (seconds <= NYX_TIMEOUT_MAX_S || isinf(seconds));
}

const char *call_route_model(const api_call *c)
{
    return c->route == 0 ? c->result.model_requested : c->spec.fallback[c->route - 1];
}

/* ---- the request body ---- */

const char *call_body(api_call *c)
{
    if (!c->body) {
        textbuf_pool_take(&c->e->buffers, &c->body_room, c->parts.len);
        if (claude_body_flatten_into(&c->parts, &c->body_room, NULL, 0, NULL) == 0)
            c->body = c->body_room.s;
        else
            textbuf_pool_give(&c->e->buffers, &c->body_room);
    }
    return c->body;
}

int call_has_body(const api_call *c) { return c->body != NULL || c->parts.own != NULL; }

int call_body_write(const api_call *c, char *out)
{
    if (!c->body)
        return claude_body_write(&c->parts, out);
    memcpy(out, c->body, c->body_len + 1);
    return 0;
}

void call_body_drop(api_call *c)
{
    if (c->body_room.s)
        textbuf_pool_give(&c->e->buffers, &c->body_room);
    c->body = NULL;
}

/* ---- routes ---- */

/* Limits a host sets on what one call may send or ask for: checked before anything is sent. */
static int check_limits(api_call *c, error_info *err)
{
    const engine_config *cfg = &c->e->cfg;
    if ((long)c->body_len > cfg->max_prompt_bytes) {
        error_set(err, "invalid_argument", 0,
                      "the request is %zu bytes, over the limit NYX_MAX_PROMPT_BYTES=%ld", c->body_len,
                      cfg->max_prompt_bytes);
        return -1;
    }
    if (c->est_input_tokens > cfg->max_prompt_tokens) {
        error_set(err, "invalid_argument", 0,
                      "the prompt is about %lld tokens, over the limit NYX_MAX_PROMPT_TOKENS=%ld",
                      (long long)c->est_input_tokens, cfg->max_prompt_tokens);
        return -1;
    }
    if (c->spec.req.max_tokens > cfg->max_output_tokens) {
        error_set(err, "invalid_argument", 0, "max_tokens %d is over the limit NYX_MAX_OUTPUT_TOKENS=%ld",
                      c->spec.req.max_tokens, cfg->max_output_tokens);
        return -1;
    }
    return 0;
}

/* Builds the request body for the current route: its model, and marks placed for it. */
static int prepare_route(api_call *c, error_info *err)
{
    claude_request *req = &c->spec.req;
    const char *model = call_route_model(c);
    if (c->route > 0) {
        char *copy = strdup(model);
        if (!copy) {
            error_set(err, "out_of_memory", 0, "out of memory");
            return -1;
        }
        free(req->model);
        req->model = copy;
    }
    /* Every text is checked as the script gave it, before the cache policy may split the system
     * prompt (a part would be named instead) and before anything is counted or sent. */
    if (c->route == 0 && !req->text_checked) {
        if (claude_request_check_text(req, err) != 0)
            return -1;
        req->text_checked = 1;
    }
    c->model = models_find(c->e->provider.models, model);
    if (call_check_model(c, err) != 0)
        return -1;
    if (c->route == 0 && cache_place_marks(c->e->cache, req, c->model, c->e->cfg.shared_context_ttl_s,
                                           clock_now_s(), &c->expect, err) != 0)
        return -1;
    call_body_drop(c);
    claude_body_free(&c->parts);
    if (!c->e->json_texts && !(c->e->json_texts = claude_json_texts_new())) {
        error_set(err, "out_of_memory", 0, "out of memory");
        return -1;
    }
    /* The system prompt and context repeat: escaped once, and held once by every call in
     * flight (json_text.h); the bytes in one piece are made when needed (call_body). */
    if (claude_request_body(req, c->e->json_texts, &c->parts, err) != 0)
        return -1;
    c->body_len = c->parts.len;
    c->est_input_tokens = cache_estimate_tokens(c->e->cache, c->model, c->body_len);
    c->retries_on_route = 0;
    return check_limits(c, err);
}

/* Errors that say "this model, now" rather than "this request" (base/error.c's table). */
static int route_worthy(const error_info *err)
{
    const error_kind *k = error_kind_of(err->type);
    return k && k->fallback;
}

static void fail(api_call *c, const error_info *err)
{
    error_info *mine = call_result_error(c);
    if (mine)
        *mine = *err;
    c->result.status = NYX_STATUS_ERROR;
    finish(c);
}

/* The current route failed for good: try the next one, or fail with what every route said. */
static void route_failed(api_call *c, const error_info *err)
{
    if (c->nroutes > 1 && (c->route_errors || (c->route_errors = calloc(1, ROUTE_ERRORS_SIZE)))) {
        size_t used = strlen(c->route_errors);
        snprintf(c->route_errors + used, ROUTE_ERRORS_SIZE - used, "%s%s: %s", used ? "; " : "",
                 call_route_model(c), err->type);
    }
    if (!c->text_delivered && route_worthy(err) && c->route + 1 < c->nroutes) {
        error_info perr;
        error_clear(&perr);
        release_budget(c); /* the next model has its own price */
        call_keep_billed(c); /* what this route's answer was billed for stays the call's */
        call_http_reset(c);  /* the next route's response must not append to this one's */
        c->route++;
        if (prepare_route(c, &perr) != 0) {
            fail(c, &perr);
            return;
        }
        admit(c);
        return;
    }
    if (c->nroutes > 1 && route_worthy(err)) {
        error_info all = *err;
        snprintf(all.message, sizeof all.message, "every route failed (%.300s); last: %.180s",
                 c->route_errors ? c->route_errors : "", err->message);
        fail(c, &all);
        return;
    }
    fail(c, err);
}

/* ---- attempts ---- */

/* Transient trouble on the provider's side: what a circuit breaker counts. */
static int provider_failure(int status, const error_info *err)
{
    if (status >= 500)
        return 1;
    return status == 0 && (strcmp(err->type, "timeout") == 0 || strcmp(err->type, "network_error") == 0);
}

/* ---- waiting ---- */

/* The call's timeout bounds all its waiting (rate limits, holds, retry-after), apart from the
 * attempts themselves, which it bounds each; infinity waits as long as it takes. */
static double wait_left(const api_call *c)
{
    double t = c->spec.timeout_s > 0 ? c->spec.timeout_s : c->e->cfg.timeout_s;
    return isfinite(t) ? t - c->waited : INFINITY;
}

/* The input tokens a call is charged before it goes: the estimate of its request, less the
 * prefix the engine knows the API holds in its cache (reads do not count toward input
 * tokens per minute, except on models whose table entry says they do). */
static int64_t input_estimate(const api_call *c, double now)
{
    if (c->model && c->model->itpm_counts_cache_reads)
        return c->est_input_tokens;
    int64_t cached = cache_known_tokens(c->e->cache, &c->spec.req, c->model, now);
    return cached < c->est_input_tokens ? c->est_input_tokens - cached : 0;
}

/* Gives the buckets back what the attempt did not use: its real usage when it has one. */
static void settle_limits(api_call *c, const claude_usage *used, double now)
{
    claude_usage none = {0};
    if (!used)
        used = &none;
    ratelimit_settle(c->e->gov.limiter, call_route_model(c), c->input_reserved,
                     ratelimit_input_counted(c->model, used), c->output_reserved,
                     used->output_tokens, now);
    c->input_reserved = c->output_reserved = 0;
}

static void attempt_done(api_call *c, int status, error_info *err)
{
    nyx_engine *e = c->e;
    const char *model = call_route_model(c);
    double now = clock_now_s();
    /* Settled first, then tightened by what the server says it has left. Its headers were
     * written as the response began, with max_tokens still taken from output; the server
     * gives back what was not produced at the end, as the settle just did here. */
    int64_t unused_output = err ? 0 : c->output_reserved - c->result.resp.usage.output_tokens;
    settle_limits(c, err ? NULL : &c->result.resp.usage, now);
    claude_headers seen = c->headers;
    if (seen.rl_output_remaining >= 0 && unused_output > 0)
        seen.rl_output_remaining += unused_output;
    ratelimit_observe(e->gov.limiter, model, &seen, now, clock_wall_s());
    if (e->cfg.circuit_breaker)
        breaker_outcome(e->gov.breakers, model, c->breaker_ticket, err && provider_failure(status, err), now);
    c->breaker_ticket = 0;
    call_record_attempt(c, status, err);
    if (!err) {
        c->result.status = NYX_STATUS_OK;
        finish(c);
        return;
    }
    /* A 429 with retry-after holds every call to this model, not only this one: the buckets
     * its headers show empty. */
    if (status == 429 && err->retry_after_s > 0)
        ratelimit_hold(e->gov.limiter, model, err->retry_after_s, &c->headers, now);
    retry_policy p = {(int)e->cfg.max_retries, e->cfg.backoff_base_s, e->cfg.backoff_factor,
                      e->cfg.backoff_max_s};
    /* Text already handed to the script cannot be taken back: a retry would repeat it. */
    if (!c->text_delivered && retry_allowed(&p, err, c->retries_on_route)) {
        double delay = retry_delay_s(&p, err, c->retries_on_route, &c->rng);
        if (err->retry_after_s > 0) {
            /* The server's wait: beyond what the timeout leaves, the call fails now with the
             * server's error (retry_after in it) rather than wait for nothing. */
            if (delay > wait_left(c)) {
                route_failed(c, err);
                return;
            }
            c->waited += delay;
        }
        c->retries_on_route++;
        call_keep_billed(c); /* a response that began was billed, though it is tried again */
        call_http_reset(c);
        c->timer = loop_timer_add(e->loop, delay, admit, c);
        if (c->timer)
            return;
    }
    route_failed(c, err);
}

static void budget_reserved(void *ud, int rc, const error_info *err);

void call_batch_result(api_call *c, int status, error_info *err)
{
    if (c->finished)
        return;
    c->first_byte = clock_now_s();
    call_record_attempt(c, status, err);
    if (err) {
        fail(c, err); /* a batch is not retried request by request */
        return;
    }
    c->result.status = NYX_STATUS_OK;
    finish(c);
}

/* The most input tokens the call's request (its body on the current route) may hold, from
 * what its texts are made of. */
static int64_t input_tokens_max(const api_call *c)
{
    text_shape texts;
    request_shape(&c->spec.req, &texts);
    return cache_estimate_tokens_max(c->e->cache, c->model, &texts, c->body_len);
}

/* What a budget reserves for the call on its current route, at batch prices when it goes in a
 * Message Batch: its input at the dearest price it may be billed at (a write of the TTL its
 * marks may carry), its max_tokens of output. call_estimate answers with the same, so what a
 * script is told a call may cost is what is reserved for it. -1 when no price is known. */
static double worst_case_usd(const api_call *c, int batch)
{
    const nyx_engine *e = c->e;
    int write_1h = c->spec.req.cache_mode == NYX_CACHE_1H || e->cfg.shared_context_ttl_s > 300;
    return (batch ? cost_worst_case_batch : cost_worst_case)(c->model, input_tokens_max(c), c->spec.req.max_tokens,
                                                             write_1h);
}

/* Reserves the call's worst case in every budget that applies, before anything is sent.
 * Returns 0 when no budget applies, 1 when admission goes on in budget_reserved(), -1 when
 * the call failed. */
static int reserve_budget(api_call *c)
{
    nyx_engine *e = c->e;
    error_info err;
    error_clear(&err);
    budget_scopes scopes;
    budget_scopes_for(e, c->spec.session, c->spec.agent, &scopes);
    if (scopes.n == 0) {
        if (c->budget) /* none applies to this route (a window turned) */
            c->budget->scopes.n = 0;
        return 0;
    }
    if (!c->budget && !(c->budget = calloc(1, sizeof *c->budget))) {
        error_set(&err, "out_of_memory", 0, "out of memory reserving the call's budget");
        fail(c, &err);
        return -1;
    }
    c->budget->scopes = scopes;
    for (size_t k = 0; k < scopes.n; k++) /* the copy's scopes name its own names */
        c->budget->scopes.scopes[k].scope = c->budget->scopes.names[k];
    if (!c->model || !c->model->has_price) {
        error_set(&err, "invalid_argument", 0,
                      "no price is known for model \"%s\", so it cannot be called while a budget "
                      "applies (%s); add its prices with NYX_MODELS", call_route_model(c),
                      scopes.names[0]);
        fail(c, &err);
        return -1;
    }
    /* A store that failed may be back: the reservation finds out, and waits while it is not. */
    if (!e->storage.db || (e->storage.degraded && e->cfg.budget_fail_open)) {
        if (e->cfg.budget_fail_open) {
            engine_warn_once(e, "budget-open", "nyx: budgets cannot be checked without the database; "
                                               "calls go on because NYX_BUDGET_FAIL_OPEN is set");
            return 0;
        }
        error_set(&err, "store_error", 0, "budget %s cannot be checked: the database is unavailable",
                      scopes.names[0]);
        fail(c, &err);
        return -1;
    }
    if (c->spec.batch && batch_holds_budgets(c->spec.batch)) {
        /* One reservation for the whole batch, made once every member has joined (batch.c). */
        c->batch_worst = worst_case_usd(c, 1);
        return 0;
    }
    c->budget->req = (budget_request){
        .e = e,
        .s = &c->budget->scopes,
        .session = c->spec.session,
        .agent = c->spec.agent,
        .amount_usd = worst_case_usd(c, c->spec.batch != NULL),
        .id = c->budget->reservation,
        .id_size = sizeof c->budget->reservation,
        .deadline = clock_now_s() + (c->spec.timeout_s > 0 ? c->spec.timeout_s : e->cfg.timeout_s),
        .no_settle_wait = c->spec.batch != NULL,
        .done = budget_reserved,
        .ud = c,
    };
    c->awaiting_store = 1;
    budget_reserve(&c->budget->req);
    return 1;
}

static void budget_reserved(void *ud, int rc, const error_info *err)
{
    api_call *c = ud;
    c->awaiting_store = 0;
    if (c->finished) {
        /* Cancelled while the database answered: give back what it reserved. */
        if (rc == 0) {
            error_info serr;
            error_clear(&serr);
            store_budget_settle(c->e->storage.db, c->budget->reservation, 0, &serr);
        }
        if (c->released)
            release(c);
        return;
    }
    if (rc != 0) {
        fail(c, err);
        return;
    }
    c->reserved = 1;
    admit(c);
}

static void release_budget(api_call *c)
{
    if (!c->reserved)
        return;
    error_info err;
    error_clear(&err);
    store_budget_settle(c->e->storage.db, c->budget->reservation, 0, &err);
    c->reserved = 0;
    budget_settled(c->e);
}

static void circuit_open(api_call *c, const char *model, double now)
{
    error_info err;
    error_clear(&err);
    error_set(&err, "circuit_open", 0,
                  "the circuit breaker for %s is open after repeated failures; next probe in %.1f s",
                  model, breaker_retry_in(c->e->gov.breakers, model, now));
    err.retryable = 1;
    route_failed(c, &err);
}

/* Lets the call go when nothing holds it back; otherwise waits, or fails fast. */
static void admit(void *ud)
{
    api_call *c = ud;
    nyx_engine *e = c->e;
    c->timer = NULL;
    error_info err;
    error_clear(&err);
    if (e->gov.stopped) {
        error_set(&err, "stopped", 0, "emergency stop: %s", e->gov.stop_reason);
        fail(c, &err);
        return;
    }
    /* Strict durability: no request whose record could not be kept (pending_log.h). */
    if (e->cfg.durability == DURABILITY_STRICT && !e->storage.db && engine_open_store(e) != 0) {
        error_set(&err, "store_error", 0, "nothing was sent: the call's record could not be committed (%s); "
                      "NYX_DURABILITY=degrade lets calls go on without the database", e->errmsg);
        fail(c, &err);
        return;
    }
    /* The database was found at open to take no writes (a read-only file, a role without the
     * rights): the record would be refused after the call was paid for. */
    const char *readonly = e->cfg.durability == DURABILITY_STRICT ? store_readonly_why(e->storage.db) : NULL;
    if (readonly) {
        error_set(&err, "store_error", 0,
                  "nothing was sent: %s; NYX_DURABILITY=degrade lets calls go on without "
                  "their records",
                  readonly);
        fail(c, &err);
        return;
    }
    if (e->cfg.durability == DURABILITY_STRICT && e->storage.refusing) {
        error_set(&err, "store_error", 0, "nothing was sent: the database refuses records (%s); calls go again "
                      "once it takes the ones waiting; NYX_DURABILITY=degrade lets calls go on without it",
                  e->storage.refusing_why);
        fail(c, &err);
        return;
    }
    const char *model = call_route_model(c);
    double now = clock_now_s();
    /* An open breaker fails fast, before any wait, without touching the network. */
    if (e->cfg.circuit_breaker && breaker_get(e->gov.breakers, model) == BREAKER_OPEN &&
        breaker_retry_in(e->gov.breakers, model, now) > 0) {
        circuit_open(c, model, now);
        return;
    }
    if (!c->reserved && reserve_budget(c) != 0)
        return; /* failed, or admission goes on once the reservation is answered */
    if (c->spec.batch) { /* sent with its batch: no rate limit or breaker applies to it here */
        c->result.attempts++;
        c->attempt_started = clock_now_s(); /* its attempt lasts until the batch answers for it */
        batch_join(c->spec.batch, c);
        return;
    }
    /* Waits are computed without taking anything, so a call that waits holds no tokens and
     * no half-open probe slot. */
    char agent_key[160];
    const char *limited_by = model;
    double wait = 0;
    if (c->spec.agent) {
        snprintf(agent_key, sizeof agent_key, "agent:%s", c->spec.agent);
        wait = ratelimit_peek(e->gov.limiter, agent_key, 0, 0, now);
        if (wait > 0)
            limited_by = agent_key;
    }
    int64_t input = input_estimate(c, now);
    double model_wait = ratelimit_peek(e->gov.limiter, model, input, c->spec.req.max_tokens, now);
    if (model_wait > wait) {
        wait = model_wait;
        limited_by = model;
    }
    if (wait > 0) {
        if (wait > wait_left(c)) {
            /* Waiting cannot end before the timeout does: say so now (a fallback route has
             * limits of its own). */
            double left = wait_left(c);
            error_set(&err, "rate_limit_error", 0,
                          "the rate limit of %s cannot admit this call within its timeout "
                          "(it would wait %.1f s; %.1f s of waiting left)",
                          limited_by, wait, left > 0 ? left : 0);
            err.retryable = 1;
            err.retry_after_s = wait;
            route_failed(c, &err);
            return;
        }
        c->waited += wait;
        c->timer = loop_timer_add(e->loop, wait, admit, c);
        if (c->timer)
            return;
        error_set(&err, "out_of_memory", 0, "out of memory queueing a call");
        fail(c, &err);
        return;
    }
    if (e->cfg.circuit_breaker) {
        if (!breaker_allow(e->gov.breakers, model, now)) {
            circuit_open(c, model, now);
            return;
        }
        c->breaker_ticket = breaker_send(e->gov.breakers, model, now);
    }
    ratelimit_acquire(e->gov.limiter, model, input, c->spec.req.max_tokens, now);
    if (c->spec.agent)
        ratelimit_acquire(e->gov.limiter, agent_key, 0, 0, now);
    c->input_reserved = input;
    c->output_reserved = c->spec.req.max_tokens;
    c->result.attempts++;
    if (call_http_start(c, attempt_done) != 0) {
        breaker_outcome(e->gov.breakers, model, c->breaker_ticket, -1, now); /* no verdict on the server */
        c->breaker_ticket = 0;
        settle_limits(c, NULL, now); /* nothing was sent */
        error_set(&err, "network_error", 0, "cannot start the HTTP transfer");
        fail(c, &err);
    }
}

/* ---- finishing ---- */

/* A call is on one of the engine's lists: in flight (e->calls), or writing its record
 * (e->logging). */
static void unlink_from(api_call **head, api_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (*head == c)
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void link_into(api_call **head, api_call *c)
{
    c->next = *head;
    if (c->next)
        c->next->prev = c;
    *head = c;
}

/* Calls let go and kept for the next, at most this many: a call's state is about 2 KB, an
 * allocation large enough that glibc sorts its free lists and merges its fast bins to find it,
 * on every call. */
#define CALLS_KEPT 64 /* none under AddressSanitizer (base/pooling.h) */

/* A zeroed call: one let go before, or a new one. NULL when out of memory. */
static api_call *call_new(nyx_engine *e)
{
    api_call *c = e->idle_calls;
    if (!c)
        return calloc(1, sizeof *c);
    e->idle_calls = c->next;
    e->nidle_calls--;
    memset(c, 0, sizeof *c);
    return c;
}

/* c's memory, of a call that holds nothing more, kept for the next call or freed. */
static void call_let_go(nyx_engine *e, api_call *c)
{
    if (!NYX_POOLING || e->nidle_calls >= CALLS_KEPT) {
        free(c);
        return;
    }
    c->next = e->idle_calls;
    e->idle_calls = c;
    e->nidle_calls++;
}

void call_idle_free(nyx_engine *e)
{
    while (e->idle_calls) {
        api_call *c = e->idle_calls;
        e->idle_calls = c->next;
        free(c);
    }
    e->nidle_calls = 0;
}

static void release(api_call *c)
{
    if (c->awaiting_store) { /* budget_reserved() or stored_response() releases it */
        c->released = 1;
        return;
    }
    call_http_reset(c);
    call_spec_free(&c->spec);
    free(c->attempts.s);
    call_body_drop(c);
    claude_body_free(&c->parts);
    free(c->route_errors);
    free(c->budget);
    free(c->result.err);
    free(c->cancel_reason);
    call_let_go(c->e, c);
}

/* The record is committed (or waits in memory): now the owner may see the result. */
static void logged(api_call *c)
{
    unlink_from(&c->e->logging, c);
    c->logging = 0;
    if (c->spec.batch)
        batch_member_logged(c->spec.batch, c);
    if (c->reserved) {
        c->reserved = 0;
        budget_check_alerts(c->e, &c->budget->scopes);
        budget_settled(c->e); /* calls waiting for this reservation may fit now */
    }
    if (c->done)
        c->done(c, c->ud);
    else
        release(c);
}

static void finish(api_call *c)
{
    if (c->finished)
        return;
    c->finished = 1;
    if (c->spec.batch)
        batch_member_finished(c->spec.batch, c, c->result.err);
    if (c->cancel_deferred) {
        c->cancel_deferred = 0;
        c->e->cancels_deferred--;
    }
    unlink_from(&c->e->calls, c);
    if (c->batch_detached) { /* its batch's pickup accounts and logs its result (batch.h) */
        c->result.interaction_id[0] = '\0';
        link_into(&c->e->logging, c);
        c->logging = 1;
        logged(c);
        return;
    }
    double now = clock_now_s();
    c->result.route = (int)c->route;
    c->result.latency_ms = (now - c->started) * 1000.0;
    c->result.ttfb_ms = c->first_byte > 0 ? (c->first_byte - c->started) * 1000.0 : 0;
    if (c->use_response_cache && !c->result.from_cache && c->result.status == NYX_STATUS_OK)
        remember_response(c, now);
    call_account(c);
    otel_call_finished(c->e, c); /* its span and measurements, queued for export */
    link_into(&c->e->logging, c);
    c->logging = 1;
    call_log(c, logged); /* durable, and the budget settled, before the owner sees the result */
}

/* ---- the response cache ---- */

static int wants_response_cache(const nyx_engine *e, const call_spec *spec)
{
    int mode = spec->cache_response >= 0 ? spec->cache_response : e->cfg.response_cache;
    /* A sampled answer is one of many: serving it again is only right when asked for. */
    return mode == 2 || (mode == 1 && spec->req.temperature == 0);
}

static void served_from_cache(void *ud);

static void serve_or_admit(api_call *c, int hit)
{
    if (hit) {
        /* Answered without a request: no tokens were billed. */
        memset(&c->result.resp.usage, 0, sizeof c->result.resp.usage);
        c->result.from_cache = 1;
        if (loop_defer(c->e->loop, served_from_cache, c) == 0)
            return;
        response_free(&c->result.resp);
        c->result.from_cache = 0;
    }
    admit(c);
}

static void stored_response(void *ud, int rc, char *json, const error_info *err)
{
    (void)err; /* an unreadable cache is a miss */
    api_call *c = ud;
    c->awaiting_store = 0;
    if (c->finished) { /* cancelled while the database answered */
        free(json);
        if (c->released)
            release(c);
        return;
    }
    int hit = rc == 0 && json && response_from_json(json, &c->result.resp) == 0;
    free(json);
    if (hit)
        response_cache_put(c->e->responses, c->response_key, &c->result.resp, c->started);
    serve_or_admit(c, hit);
}

/* Layer 1 in memory, layer 2 in the database (so answers outlive the process); the call
 * goes on from there, served or admitted. */
static void lookup_response(api_call *c)
{
    nyx_engine *e = c->e;
    if (response_cache_get(e->responses, c->response_key, c->started, &c->result.resp)) {
        serve_or_admit(c, 1);
        return;
    }
    if (!e->storage.db) {
        admit(c);
        return;
    }
    error_info err;
    error_clear(&err);
    c->awaiting_store = 1;
    if (store_cache_get_async(e->storage.db, c->response_key, clock_wall_s(), stored_response, c, &err) != 0)
        stored_response(c, -1, NULL, &err);
}

static void remember_response(api_call *c, double now)
{
    nyx_engine *e = c->e;
    response_cache_put(e->responses, c->response_key, &c->result.resp, now);
    char *json = e->storage.db ? response_to_json(&c->result.resp) : NULL;
    error_info err;
    error_clear(&err);
    if (json && store_cache_put(e->storage.db, c->response_key, c->result.resp.model, json, clock_wall_s(),
                                e->cfg.persistent_ttl_s, &err) != 0)
        engine_warn_once(e, "store-cache", "nyx: the response cache cannot write to the database: %s",
                         err.message);
    free(json);
}

static void served_from_cache(void *ud)
{
    api_call *c = ud;
    c->result.status = NYX_STATUS_OK;
    finish(c);
}

/* ---- public ---- */

/* The SDKs' estimate of the longest an answer of max_tokens may take: an hour for 128,000
 * tokens (3600 s * max_tokens / 128000), past which they refuse to ask for it unstreamed. */
#define ANSWER_S_PER_TOKEN (3600.0 / 128000.0)

/* Whether a call the caller did not ask to stream is sent as a stream all the same: its answer
 * may take longer than CLAUDE_TIMEOUT_SECONDS, which would end it unstreamed and bill every
 * attempt for an answer that never came; streamed, silence alone ends it (call_http.c), and the
 * stream is assembled into the very result an answer in one piece gives (claude/sse.c). A call's
 * own timeout is its total either way, so it goes as asked; a batch's requests never stream. */
static int stream_for_time(const nyx_engine *e, const call_spec *spec)
{
    return !spec->req.stream && !spec->batch && spec->timeout_s <= 0 && !isinf(e->cfg.timeout_s) &&
           ANSWER_S_PER_TOKEN * spec->req.max_tokens > e->cfg.timeout_s;
}

/* The spec as the caller asked for it: a stream of the engine's choosing is not the caller's. */
static void unchoose_stream(api_call *c)
{
    if (c->stream_chosen)
        c->spec.req.stream = 0;
}

/* A call made of spec, its defaults given and its request built for its first route, as it
 * will be sent: call_start's first steps, and all of call_estimate. The spec's contents are the
 * call's then (the spec is not reset). NULL with err when the call cannot be made; the spec is
 * then still the caller's. */
static api_call *call_prepare(nyx_engine *e, call_spec *spec, error_info *err)
{
    if (!e->started && engine_start(e) != 0) {
        error_set(err, "invalid_argument", 0, "%s", e->errmsg);
        return NULL;
    }
    claude_request *req = &spec->req;
    /* A template's front matter may say which model it was written for. */
    if (!req->model && spec->template_name)
        req->model = templates_model_for_call(e->templates, spec->template_name, spec->template_version);
    if (!req->model && !(req->model = strdup(e->cfg.default_model))) {
        error_set(err, "out_of_memory", 0, "out of memory");
        return NULL;
    }
    if (req->max_tokens == 0)
        req->max_tokens = (int)e->cfg.max_tokens;
    if (spec->timeout_profile && spec->timeout_s <= 0 &&
        (spec->timeout_s = engine_timeout_profile(e, spec->timeout_profile)) <= 0) {
        error_set(err, "invalid_argument", 0, "no timeout profile named \"%.60s\"", spec->timeout_profile);
        return NULL;
    }
    if (spec->timeout_s != 0 && !call_timeout_valid(spec->timeout_s)) {
        error_set(err, "invalid_argument", 0,
                      "timeout must be seconds from 0 to %g, or infinity for none; got %g", NYX_TIMEOUT_MAX_S,
                      spec->timeout_s);
        return NULL;
    }
    api_call *c = call_new(e);
    if (!c) {
        error_set(err, "out_of_memory", 0, "out of memory");
        return NULL;
    }
    c->e = e;
    if ((c->stream_chosen = stream_for_time(e, spec)))
        spec->req.stream = 1;
    size_t model_len = strnlen(req->model, sizeof c->result.model_requested - 1);
    memcpy(c->result.model_requested, req->model, model_len); /* cut as snprintf would */
    c->result.model_requested[model_len] = '\0';
    c->spec = *spec;
    c->nroutes = 1 + c->spec.nfallback;
    if (prepare_route(c, err) != 0) {
        unchoose_stream(c);
        *spec = c->spec; /* still the caller's, as it asked */
        call_body_drop(c);
        claude_body_free(&c->parts);
        call_let_go(e, c);
        return NULL;
    }
    return c;
}

api_call *call_start(nyx_engine *e, call_spec *spec, call_done_fn done, void *ud, error_info *err)
{
    api_call *c = call_prepare(e, spec, err);
    if (!c)
        return NULL;
    call_spec_init(spec);
    c->done = done;
    c->ud = ud;
    c->rng = e->id_nonce ^ (e->id_seq + 1) * 0x9e3779b97f4a7c15ull;
    c->started = clock_now_s();
    engine_new_id(e, c->result.interaction_id, sizeof c->result.interaction_id);
    link_into(&e->calls, c);
    if ((c->use_response_cache = wants_response_cache(e, &c->spec))) {
        response_cache_key(&c->spec.req, c->response_key);
        lookup_response(c);
    } else {
        admit(c);
    }
    return c;
}

int call_estimate(nyx_engine *e, call_spec *spec, int batch, call_bound *out, error_info *err)
{
    api_call *c = call_prepare(e, spec, err);
    if (!c)
        return -1;
    const char *model = call_route_model(c);
    size_t n = strnlen(model, sizeof out->model - 1);
    memcpy(out->model, model, n); /* cut as snprintf would */
    out->model[n] = '\0';
    out->priced = c->model && c->model->has_price;
    out->body_bytes = c->body_len;
    out->input_tokens = c->est_input_tokens;
    out->input_tokens_max = input_tokens_max(c);
    out->max_tokens = c->spec.req.max_tokens;
    out->worst_case_usd = out->priced ? worst_case_usd(c, batch || c->spec.batch) : -1;
    unchoose_stream(c); /* its body counted the stream's flag */
    *spec = c->spec; /* the caller's again, with the defaults and marks the call would have */
    call_body_drop(c);
    claude_body_free(&c->parts);
    call_let_go(e, c);
    return 0;
}

static void cancel_now(api_call *c, const char *reason)
{
    if (c->cancel_deferred) {
        c->cancel_deferred = 0;
        c->e->cancels_deferred--;
    }
    if (c->easy)
        breaker_outcome(c->e->gov.breakers, call_route_model(c), c->breaker_ticket, -1, clock_now_s());
    call_http_abort(c);
    if (c->timer) {
        loop_timer_cancel(c->e->loop, c->timer);
        c->timer = NULL;
    }
    if (c->input_reserved || c->output_reserved) {
        /* The input may have been counted already; the output was not produced. */
        claude_usage used = {.input_tokens = c->input_reserved};
        settle_limits(c, &used, clock_now_s());
    }
    error_info *mine = call_result_error(c);
    if (mine)
        error_set(mine, "cancelled", 0, "call cancelled: %s", reason ? reason : "by the script");
    c->result.status = NYX_STATUS_CANCELLED;
    finish(c);
    if (c->budget)
        budget_withdraw(&c->budget->req); /* a reservation waiting for the store */
}

void call_cancel(api_call *c, const char *reason)
{
    if (!c || c->finished)
        return;
    /* Inside curl_multi_perform (a stream callback asked) the transfer curl is feeding may be
     * this one: removing or freeing it there is a use after free. The call stops taking data
     * now (on_body aborts it) and is cancelled once curl returns. */
    if (loop_in_perform(c->e->loop)) {
        if (!c->cancel_deferred) {
            c->cancel_deferred = 1;
            c->e->cancels_deferred++;
            c->cancel_reason = strdup(reason ? reason : "by the script"); /* NULL: said generically */
        }
        return;
    }
    cancel_now(c, reason);
}

int call_stopping(const api_call *c) { return c->cancel_deferred; }

void calls_cancel_deferred(void *ud)
{
    nyx_engine *e = ud;
    /* One at a time from the head: finishing a call may cancel or start others. */
    while (e->cancels_deferred > 0) {
        api_call *c = e->calls;
        while (c && !c->cancel_deferred)
            c = c->next;
        if (!c) {
            e->cancels_deferred = 0;
            return;
        }
        cancel_now(c, c->cancel_reason ? c->cancel_reason : "asked inside a callback");
    }
}

void call_free(api_call *c)
{
    if (!c)
        return;
    if (!c->finished) {
        c->done = NULL; /* finish() releases it */
        call_cancel(c, "its task was abandoned");
        return;
    }
    if (c->logging) {
        c->done = NULL; /* released once its record is written */
        return;
    }
    release(c);
}

/* The first call in flight not already waiting for its deferred cancel. */
static api_call *first_not_stopping(nyx_engine *e)
{
    api_call *c = e->calls;
    while (c && c->cancel_deferred)
        c = c->next;
    return c;
}

void calls_cancel_all(nyx_engine *e, const char *reason)
{
    api_call *c;
    while ((c = first_not_stopping(e)) != NULL)
        call_cancel(c, reason);
}

void calls_abandon_all(nyx_engine *e, const char *reason)
{
    for (api_call *c = e->calls; c; c = c->next)
        c->done = NULL;
    api_call *c;
    while ((c = first_not_stopping(e)) != NULL)
        call_cancel(c, reason);
    for (c = e->logging; c; c = c->next)
        c->done = NULL; /* released once its record is written */
}
