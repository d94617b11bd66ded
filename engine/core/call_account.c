/* What a finished call leaves behind: its cost, the statistics it adds to, and its durable
 * record in the store. */
#define _POSIX_C_SOURCE 200809L
#include "call_internal.h"

#include "alerts.h"
#include "base/clock.h"
#include "base/json_number.h"
#include "base/json_print.h"
#include "base/textbuf.h"
#include "debug.h"
#include "guard/memo.h"
#include "guard/scan.h"
#include "pending_log.h"
#include "store/store.h"
#include "template/library.h"

#include <stdlib.h>
#include <string.h>

/* 1 when the reply holds a block other than text (tool_use, thinking, ...); the number of
 * tool calls among them goes to *tool_calls (may be NULL). */
static int reply_blocks(const claude_response *resp, int64_t *tool_calls)
{
    int found = 0;
    int64_t calls = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, resp->content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type");
        found |= !cJSON_IsString(t) || strcmp(t->valuestring, "text") != 0;
        calls += cJSON_IsString(t) && strcmp(t->valuestring, "tool_use") == 0;
    }
    if (tool_calls)
        *tool_calls = calls;
    return found;
}

/* Appends a member of an attempt's entry: its name (a JSON string with its colon, and a comma
 * before all but the first) and its value, a string written as cJSON writes one or a number or
 * literal as it is. */
static void add_member(textbuf *log, const char *name_json, const char *value, int is_string)
{
    textbuf_puts(log, name_json);
    if (is_string)
        json_string_append(log, value ? value : "", value ? strlen(value) : 0);
    else
        textbuf_puts(log, value);
}

/* Appends an attempt's entry to the call's log (c->attempts, a JSON array kept closed), written
 * straight into it as cJSON would print it (json_string_append): no node, no second buffer.
 * sent_again: libcurl sent the request again after this one (call_request_resent). */
static void log_attempt(api_call *c, int status, const error_info *err, int sent_again)
{
    char status_text[JSON_NUMBER_TEXT], ms_text[JSON_NUMBER_TEXT];
    if (json_int_text(status, status_text, sizeof status_text) < 0 ||
        json_millis_text((clock_now_s() - c->attempt_started) * 1000.0, ms_text, sizeof ms_text) < 0)
        return;
    textbuf *log = &c->attempts;
    if (log->failed)
        return;
    if (log->len == 0)
        textbuf_put(log, "[", 1);
    else
        log->s[log->len - 1] = ','; /* where its closing bracket was */
    add_member(log, "{\"model\":", call_route_model(c), 1);
    add_member(log, ",\"status\":", status_text, 0);
    add_member(log, ",\"outcome\":", err ? err->type : "ok", 1);
    add_member(log, ",\"ms\":", ms_text, 0);
    if (c->headers.request_id[0])
        add_member(log, ",\"request_id\":", c->headers.request_id, 1);
    if (sent_again)
        add_member(log, ",\"sent_again_by_libcurl\":", "true", 0);
    textbuf_put(log, "}]", 2);
}

void call_record_attempt(api_call *c, int status, const error_info *err) { log_attempt(c, status, err, 0); }

/* 1 when the request's cache marks asked only for the 1h TTL: its writes are 1h writes when
 * the usage does not break them down. Any 5m mark (the tail of a mixed request) makes them
 * 5m writes, the API's default. */
int call_asked_1h(const claude_request *req)
{
    int any_1h = 0;
    for (size_t i = 0; i < req->nsystem; i++) {
        if (req->system[i].mark == NYX_MARK_5M)
            return 0;
        any_1h |= req->system[i].mark == NYX_MARK_1H;
    }
    for (size_t i = 0; i < req->nmessages; i++)
        for (size_t k = 0; k < req->messages[i].nblocks; k++) {
            if (req->messages[i].blocks[k].mark == NYX_MARK_5M)
                return 0;
            any_1h |= req->messages[i].blocks[k].mark == NYX_MARK_1H;
        }
    return any_1h || (req->top_level_cache && req->cache_mode == NYX_CACHE_1H);
}

void call_request_resent(api_call *c)
{
    error_info err;
    error_clear(&err);
    error_set(&err, "network_error", 0,
                  "the connection closed before any response; libcurl sent the request again");
    if (c->debug)
        debug_response(c, 0, err.message);
    log_attempt(c, 0, &err, 1);
    c->result.attempts++;
    c->attempt_started = clock_now_s();
    if (c->e->cfg.debug)
        debug_request(c);
}

int call_template_use(nyx_engine *e, char *name, int version, const call_outcome *r)
{
    return templates_call_finished(e->templates, name, version,
                                   r->status == NYX_STATUS_OK ? 1 : r->status == NYX_STATUS_CANCELLED ? -1 : 0,
                                   &r->resp.usage, r->has_cost ? r->cost.cost_usd : 0, r->latency_ms, r->cache_hit);
}

static int usage_billed(const claude_usage *u)
{
    return u->input_tokens > 0 || u->output_tokens > 0 || u->cache_creation_input_tokens > 0 ||
           u->cache_read_input_tokens > 0;
}

/* b's tokens added to a's. */
static void usage_add(claude_usage *a, const claude_usage *b)
{
    /* a write's TTL is known only when every attempt that wrote said it */
    a->has_cache_creation_detail = (a->cache_creation_input_tokens == 0 || a->has_cache_creation_detail) &&
                                   (b->cache_creation_input_tokens == 0 || b->has_cache_creation_detail);
    a->input_tokens += b->input_tokens;
    a->output_tokens += b->output_tokens;
    a->cache_creation_input_tokens += b->cache_creation_input_tokens;
    a->cache_read_input_tokens += b->cache_read_input_tokens;
    a->cache_creation_5m += b->cache_creation_5m;
    a->cache_creation_1h += b->cache_creation_1h;
}

static void cost_add(call_cost *a, const call_cost *b)
{
    a->cost_usd += b->cost_usd;
    a->cost_without_cache_usd += b->cost_without_cache_usd;
    a->saved_usd += b->saved_usd;
}

/* The model a response came from: the one it names, else the route's. */
static const model_info *answered_by(const api_call *c)
{
    const claude_response *resp = &c->result.resp;
    const model_info *served = resp->model ? models_find(c->e->provider.models, resp->model) : NULL;
    return served ? served : c->model;
}

/* When the call was made, for the table's row in force then (not when it ended). */
static double made_at(const api_call *c) { return clock_wall_s() - (clock_now_s() - c->started); }

void call_keep_billed(api_call *c)
{
    claude_usage *u = &c->result.resp.usage;
    if (!usage_billed(u))
        return;
    call_cost cost;
    if (cost_of_usage_at(answered_by(c), u, made_at(c), call_asked_1h(&c->spec.req), &cost) == 0) {
        cost_add(&c->cost_before, &cost);
    } else {
        c->billed_before_unpriced = 1;
    }
    usage_add(&c->billed_before, u);
    memset(u, 0, sizeof *u); /* counted once */
}

/* The earlier attempts' billed usage and cost, added to the call's (after the cache has judged
 * the final answer's own usage). */
static void add_billed_before(api_call *c)
{
    const claude_usage *b = &c->billed_before;
    if (!usage_billed(b))
        return;
    call_outcome *r = &c->result;
    usage_add(&r->resp.usage, b);
    if (c->billed_before_unpriced) {
        r->has_cost = 0;
        return;
    }
    cost_add(&r->cost, &c->cost_before);
}

void call_account(api_call *c)
{
    nyx_engine *e = c->e;
    call_outcome *r = &c->result;
    const model_info *m = answered_by(c);
    /* Priced by the table's row in force when the call was made (not when it ended). */
    double at = made_at(c);
    r->has_cost = cost_of_usage_at(m, &r->resp.usage, at, call_asked_1h(&c->spec.req), &r->cost) == 0;
    batch_standard_cost(m, &r->resp.usage, at, call_asked_1h(&c->spec.req), r);
    if (!r->has_cost && r->status == NYX_STATUS_OK) {
        const char *name = r->resp.model ? r->resp.model : call_route_model(c);
        engine_warn_once(e, name, "nyx: no price known for model \"%s\"; its cost is reported as nil", name);
    }
    r->cache_hit = r->resp.usage.cache_read_input_tokens > 0;
    const claude_usage *u = &r->resp.usage;
    int miss = r->status == NYX_STATUS_OK ? cache_observe(e->cache, &c->spec.req, m, u, &c->expect, clock_now_s())
                                          : CACHE_MISS_NONE;
    int unexpected_miss = miss != CACHE_MISS_NONE;
    call_learn_min_cache(c);
    /* From here on what the call was billed for: earlier attempts' too. */
    add_billed_before(c);
    const call_cost *cost = r->has_cost ? &r->cost : NULL;
    if (c->spec.template_name)
        c->spec.template_version = call_template_use(e, c->spec.template_name, c->spec.template_version, r);
    e->miss_reasons[miss]++;
    call_session *s = c->spec.session ? engine_session(e, c->spec.session, 1) : NULL;
    cache_stats *targets[] = {
        &e->stats,
        s ? &s->stats : NULL,
        stats_group_get(&e->by_model, r->resp.model ? r->resp.model : call_route_model(c)),
        c->spec.agent ? stats_group_get(&e->by_agent, c->spec.agent) : NULL,
        c->spec.template_name ? stats_group_get(&e->by_template, c->spec.template_name) : NULL,
    };
    /* The reply's content is read here once; build_record uses what was found. */
    int64_t tool_calls = 0;
    if (r->resp.content_known) { /* the parser of the reply read it already */
        c->reply_has_blocks = r->resp.content_not_text;
        tool_calls = r->resp.content_tool_uses;
    } else {
        c->reply_has_blocks = reply_blocks(&r->resp, &tool_calls);
    }
    if (r->status != NYX_STATUS_OK)
        tool_calls = 0;
    c->reply_tool_calls = tool_calls;
    int tool_round = r->status == NYX_STATUS_OK && r->resp.stop_reason &&
                     strcmp(r->resp.stop_reason, "tool_use") == 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        if (!targets[i])
            continue;
        stats_add(targets[i], r->status, u, cost, r->latency_ms);
        targets[i]->tool_calls += tool_calls;
        targets[i]->tool_rounds += tool_round;
        targets[i]->iterations += c->spec.iteration > 0;
        targets[i]->from_response_cache += r->from_cache;
        targets[i]->unexpected_misses += unexpected_miss;
    }
    alerts_call_finished(e, r, c->spec.agent);
}

/* The length of a block's field: a string's bytes, anything else's as JSON. */
static double field_bytes(const cJSON *b, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, key);
    if (!v)
        return 0;
    if (cJSON_IsString(v))
        return (double)strlen(v->valuestring);
    char *s = json_print(v);
    double n = s ? (double)strlen(s) : 0;
    cJSON_free(s);
    return n;
}

static void add_size(cJSON *sizes, const char *kind, double bytes)
{
    cJSON *list = cJSON_GetObjectItemCaseSensitive(sizes, kind);
    if (!list)
        list = cJSON_AddArrayToObject(sizes, kind);
    if (list)
        cJSON_AddItemToArray(list, cJSON_CreateNumber(bytes));
}

/* Under storage mode "none": what a call of a tool loop carried, as sizes alone (the bytes of
 * each tool call's input, each tool result it sent and each thinking block), never the text;
 * NULL when it carried none. Free with cJSON_free. */
static char *sizes_only(const api_call *c)
{
    cJSON *sizes = cJSON_CreateObject();
    if (!sizes)
        return NULL;
    const cJSON *b;
    cJSON_ArrayForEach(b, c->result.resp.content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type");
        const char *type = cJSON_IsString(t) ? t->valuestring : "";
        if (strcmp(type, "tool_use") == 0)
            add_size(sizes, "tool_use", field_bytes(b, "input"));
        else if (strcmp(type, "thinking") == 0)
            add_size(sizes, "thinking", field_bytes(b, "thinking"));
        else if (strcmp(type, "redacted_thinking") == 0)
            add_size(sizes, "thinking", field_bytes(b, "data"));
    }
    /* The results this call sent: the blocks of its last user turn. */
    const claude_request *req = &c->spec.req;
    const claude_message *last = req->nmessages ? &req->messages[req->nmessages - 1] : NULL;
    for (size_t i = 0; last && last->role == NYX_ROLE_USER && i < last->nblocks; i++) {
        if (last->blocks[i].kind != NYX_BLOCK_JSON || !strstr(last->blocks[i].text, "tool_result"))
            continue;
        cJSON *block = cJSON_Parse(last->blocks[i].text);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "type");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "tool_result") == 0)
            add_size(sizes, "tool_result", field_bytes(block, "content"));
        cJSON_Delete(block);
    }
    char *out = sizes->child ? json_print(sizes) : NULL;
    cJSON_Delete(sizes);
    return out;
}

/* A record's request body, flattened, and its redaction, written again for every record, so
 * a call's record costs no allocation of its size. Every caller of build_record has stored or
 * copied the record before it builds another. The body is flattened through flat, so the
 * system prompt the records share is written into it once, not for every record. */
struct record_buffers {
    textbuf body, prompt, reply;
    claude_body_flat flat; /* of body */
    hashed_span literals[GUARD_MEMO_MAX_SPANS]; /* of body: its shared literals, hashed once */
    hashed_span spans[GUARD_MEMO_MAX_SPANS]; /* of prompt: what the store need not hash again */
};

/* The request body in one piece in the record's buffer (NULL when out of memory), with where its
 * shared literals went (rb->literals, their number to *nliterals, when not NULL); the call's
 * own piece, should it still hold one, is let go: the call needs it no more. */
static const char *record_body(api_call *c, struct record_buffers *rb, size_t *nliterals)
{
    const char *body = NULL;
    if (nliterals)
        *nliterals = 0;
    if (rb && c->body) { /* the transfer's, which the record must not outlive */
        claude_body_flat_forget(&rb->flat);
        textbuf_reset(&rb->body);
        textbuf_put(&rb->body, c->body, c->body_len);
        body = rb->body.failed ? NULL : rb->body.s;
    } else if (rb) {
        rb->flat.buf = &rb->body;
        if (claude_body_flatten_kept(&c->parts, &rb->flat, rb->literals, GUARD_MEMO_MAX_SPANS, nliterals) == 0)
            body = rb->body.s;
    }
    call_body_drop(c);
    return body;
}

/* The call's record as the storage mode allows; *owned (a reply text made for it alone) is the
 * caller's to free, the rest lives until the next record. The same call always gives the same
 * record (its time is fixed at the first). */
static void build_record(api_call *c, interaction_rec *it, char **owned)
{
    nyx_engine *e = c->e;
    call_outcome *r = &c->result;
    int ok = r->status == NYX_STATUS_OK;
    if (c->logged_at <= 0)
        c->logged_at = clock_wall_s();
    memset(it, 0, sizeof *it);
    *owned = NULL;
    it->id = r->interaction_id;
    it->created_at = c->logged_at;
    it->session = c->spec.session;
    it->agent = c->spec.agent;
    it->thought_id = c->spec.thought;
    it->template_name = c->spec.template_name;
    it->template_version = c->spec.template_version;
    const error_info *err = call_outcome_error(r);
    it->request_id = r->resp.request_id ? r->resp.request_id : (err->request_id[0] ? err->request_id : NULL);
    it->model_requested = r->model_requested;
    it->model_served = r->resp.model;
    it->provider = e->provider.name;
    it->usage = r->resp.usage;
    it->has_cost = r->has_cost;
    it->cost_usd = r->cost.cost_usd;
    it->cost_without_cache_usd = r->cost.cost_without_cache_usd;
    it->saved_usd = r->cost.saved_usd;
    it->ttfb_ms = r->ttfb_ms;
    it->latency_ms = r->latency_ms;
    it->attempts = r->attempts;
    struct record_buffers *rb = e->record_buffers;
    if (!rb)
        rb = e->record_buffers = calloc(1, sizeof *rb);
    /* Written in the record's buffer when it fits (cJSON refuses rather than overruns). */
    it->attempts_json = c->attempts.failed ? NULL : c->attempts.len ? c->attempts.s : "[]";
    it->status = ok ? "ok" : r->status == NYX_STATUS_CANCELLED ? "cancelled" : "error";
    it->error_type = ok ? NULL : err->type;
    it->error_message = ok ? NULL : err->message;
    it->stop_reason = r->resp.stop_reason;
    it->cache_hit = r->cache_hit;
    it->from_response_cache = r->from_cache;
    it->service_tier = r->resp.usage.service_tier[0] ? r->resp.usage.service_tier : NULL;
    it->has_standard_cost = r->has_standard_cost;
    it->standard_cost_usd = r->standard_cost_usd;
    it->tool_calls = ok ? (int)c->reply_tool_calls : 0;
    it->iteration = c->spec.iteration;
    if (c->batch_result && c->spec.batch && batch_recorded_id(c->spec.batch)) {
        it->batch_id = batch_recorded_id(c->spec.batch);
        it->custom_id = c->spec.batch_custom_id;
    }
    /* Stored text follows the storage mode: redacted by default, so the log never holds the
     * e-mail addresses, card numbers or keys that passed through it. */
    const char *mode = e->cfg.storage_mode;
    /* A reply with more than text (tool calls, thinking) is stored as its blocks, which hold it
     * all; a plain one as its text. */
    const char *reply = r->resp.text;
    size_t reply_len = r->resp.text_len;
    if (c->reply_has_blocks) { /* printed here, the one place that needs the blocks as text */
        reply = response_content_json(&r->resp);
        reply_len = reply ? strlen(reply) : 0;
    }
    if (strcmp(mode, "full") == 0) {
        it->prompt_text = record_body(c, rb, NULL);
        it->prompt_len = it->prompt_text ? rb->body.len : 0; /* the store need not measure it */
        it->response_text = reply;
    } else if (strcmp(mode, "redacted") == 0) {
        size_t n;
        /* The system prompt and context repeat from call to call: scanned once (guard/memo.h).
         * The body is flattened into the engine's buffer, and redacted into the other when the
         * redaction changes anything; the next record writes over both: every caller of
         * build_record has stored or copied the record before it builds another. */
        if (!e->pii_memo)
            e->pii_memo = guard_memo_new();
        size_t nliterals = 0, nspans = 0;
        const char *body = record_body(c, rb, &nliterals);
        it->prompt_text = body ? guard_memo_redact_into(e->pii_memo, body, c->body_len, rb->literals, nliterals,
                                                        &rb->prompt, rb->spans, GUARD_MEMO_MAX_SPANS, &nspans)
                               : NULL;
        if (it->prompt_text) {
            it->prompt_spans = rb->spans;
            it->nprompt_spans = nspans;
            it->prompt_len = it->prompt_text == rb->prompt.s ? rb->prompt.len : rb->body.len;
        }
        /* The reply too, into the record's buffer when the redaction changes anything: most
         * replies are stored as they are, neither copied nor allocated for. */
        if (reply && rb)
            it->response_text = guard_memo_redact_into(NULL, reply, reply_len, NULL, 0, &rb->reply, NULL, 0, NULL);
        else
            it->response_text = *owned = reply ? guard_redact(reply, reply_len, &n) : NULL;
    } else {
        /* "none": a tool loop's call keeps the sizes of its tool calls, results and thinking. */
        char *sizes = sizes_only(c);
        if (sizes) {
            it->response_text = *owned = strdup(sizes);
            cJSON_free(sizes);
        }
    }
}

/* After a record is stored or copied: a buffer grown past this by a very long request is let
 * go rather than kept for the calls that follow. */
#define RECORD_KEEP_MAX ((size_t)1 << 20)

static void record_done(nyx_engine *e, char *owned)
{
    free(owned);
    struct record_buffers *rb = e->record_buffers;
    textbuf *bufs[] = {rb ? &rb->body : NULL, rb ? &rb->prompt : NULL, rb ? &rb->reply : NULL};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i] && bufs[i]->cap > RECORD_KEEP_MAX) {
            if (bufs[i] == &rb->body)
                claude_body_flat_forget(&rb->flat);
            free(bufs[i]->s);
            *bufs[i] = (textbuf){0};
        }
}

/* The spending of a call that failed after usage was reported still counts. */
static double actual_cost(const api_call *c)
{
    return c->result.has_cost && c->result.cost.cost_usd > 0 ? c->result.cost.cost_usd : 0;
}

typedef struct log_wait {
    api_call *c;
    void (*logged)(api_call *c);
} log_wait;

/* NYX_DURABILITY=strict: the record is committed, or the result is withheld. */
static void record_kept(void *ud, const error_info *err)
{
    log_wait *w = ud;
    if (err) {
        w->c->result.status = NYX_STATUS_ERROR;
        error_info *mine = call_result_error(w->c);
        if (mine)
            *mine = *err;
    }
    w->logged(w->c);
    free(w);
}

/* Keeps the record in memory until the database takes it; then, under strict durability,
 * the result waits for it too (within the call's timeout). Takes w. */
static void keep_pending(api_call *c, log_wait *w, const error_info *why)
{
    nyx_engine *e = c->e;
    interaction_rec it;
    char *owned;
    build_record(c, &it, &owned);
    const char *reservation = c->reserved ? c->budget->reservation : NULL;
    /* Only a result is withheld: a call that failed fails alike, its record kept for later. */
    if (w && e->cfg.durability == DURABILITY_STRICT && c->result.status == NYX_STATUS_OK) {
        double timeout = c->spec.timeout_s > 0 ? c->spec.timeout_s : e->cfg.timeout_s;
        pending_log_add_waiting(&e->storage, &it, reservation, actual_cost(c), why, c->started + timeout, record_kept, w);
    } else {
        pending_log_add(&e->storage, &it, reservation, actual_cost(c), why->message);
        if (w) {
            w->logged(w->c);
            free(w);
        }
    }
    record_done(e, owned);
}

static void log_answered(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused;
    log_wait *w = ud;
    if (rc == 0) {
        w->logged(w->c);
        free(w);
        return;
    }
    error_info unknown;
    error_clear(&unknown);
    error_set(&unknown, "store_error", 0, "unknown failure");
    keep_pending(w->c, w, err ? err : &unknown);
}

/* One record written on its own: one transaction, or the queue when the store fails. */
static void log_one(api_call *c, void (*logged)(api_call *c))
{
    nyx_engine *e = c->e;
    log_wait *w = malloc(sizeof *w);
    if (!w) {
        error_info oom;
        error_clear(&oom);
        error_set(&oom, "store_error", 0, "out of memory");
        keep_pending(c, NULL, &oom);
        logged(c);
        return;
    }
    *w = (log_wait){c, logged};
    if (!e->storage.db || e->storage.degraded) {
        error_info why;
        error_clear(&why);
        error_set(&why, "store_error", 0, "%s", !e->storage.db ? "no database" : "earlier failure");
        why.retryable = 1; /* what failed before may be back */
        keep_pending(c, w, &why);
        return;
    }
    interaction_rec it;
    char *owned;
    build_record(c, &it, &owned);
    error_info err;
    error_clear(&err);
    int rc = store_log_interaction_settle_async(e->storage.db, &it, c->reserved ? c->budget->reservation : NULL,
                                                actual_cost(c), log_answered, w, &err);
    record_done(e, owned);
    if (rc != 0)
        log_answered(w, -1, -1, &err);
}

/* Group commit: on a store that answers at once (SQLite), the records of the calls that finish
 * in one loop turn are written at the end of the turn in one transaction, one durable commit
 * for them all, and only after it do their owners see the results. A commit costs far more
 * than a row (the WAL's frame headers, locks, a write per commit), and a turn of a busy loop
 * finishes many calls. A store that answers later (PostgreSQL) groups what waits itself. */
struct turn_log {
    log_wait *w;
    size_t n, cap;
    int deferred; /* call_log_flush is due at the end of this turn */
    /* What records and a commit took lately (microseconds of CPU), for a budgeted turn
     * to add no record once it and the commit would not fit: the commit cannot be split, and
     * started at the budget's end it took the frame 50-250 us past it (loop_estimate). */
    int64_t first_us, record_us, commit_us; /* a group's first record, the others, its commit */
    uint64_t put_off; /* the turn that put off the group waiting (loop_turn_room_once) */
};

/* At most this many records share a commit: the group's callers wait for the last of them. */
#define GROUP_MAX 64

static void flush_group(nyx_engine *e, int in_turn);

static void flush_deferred(void *ud)
{
    nyx_engine *e = ud;
    struct turn_log *t = e->turn_log;
    if (t)
        t->deferred = 0;
    /* Late in a frame, a group's first record and its commit would take it past its budget
     * (the first record of a frame is the dearest: the database's pages have gone cold in the
     * caches since the last frame). They wait for the next turn, where they may be its first
     * piece of work, and go then whatever the room: a timer firing every frame runs first and
     * would otherwise put them off forever, their callers never hearing. */
    if (t && t->n > 0 && !loop_turn_room_once(e->loop, t->first_us + t->commit_us, &t->put_off) &&
        loop_defer(e->loop, flush_deferred, e) == 0) {
        t->deferred = 1;
        return;
    }
    flush_group(e, 1);
}

/* Writes one record inside the open batch. */
static int write_record(nyx_engine *e, api_call *c, error_info *err)
{
    interaction_rec it;
    char *owned;
    build_record(c, &it, &owned);
    int rc = store_log_interaction_settle(e->storage.db, &it, c->reserved ? c->budget->reservation : NULL, actual_cost(c), err);
    record_done(e, owned);
    return rc;
}

/* Whether a budgeted turn has no room left for one more record and the commit after it. */
static int no_room(nyx_engine *e, const struct turn_log *t)
{
    return loop_turn_over_in(e->loop, t->record_us + t->commit_us);
}

/* Commits the records waiting, GROUP_MAX at a time. in_turn: from the loop, whose turn may have
 * a budget (a host's frame): once one more record and the commit would not fit in it, the rest
 * waits for the next turn, so a frame that finished many calls does not also write them all.
 * Each group has one record at least, so the records go on whatever the estimates say. */
static void flush_group(nyx_engine *e, int in_turn)
{
    struct turn_log *t;
    /* The estimates serve a budgeted turn only, and are learned there: reading the thread's CPU
     * clock is a system call, two a record, which a turn without a budget does not pay. */
    int timed = in_turn && loop_turn_budgeted(e->loop);
    while ((t = e->turn_log) != NULL && t->n > 0) {
        log_wait group[GROUP_MAX];
        size_t k = 0;
        int64_t began = timed ? clock_cpu_us() : 0;
        engine_check_db_file(e);
        error_info err;
        error_clear(&err);
        int ok = e->storage.db && !e->storage.degraded && store_batch_begin(e->storage.db, &err) == 0;
        while (ok && k < t->n && k < GROUP_MAX && (k == 0 || !(in_turn && no_room(e, t)))) {
            int64_t t0 = k == 0 ? began : timed ? clock_cpu_us() : 0; /* the first with the batch's start */
            ok = write_record(e, t->w[k].c, &err) == 0;
            if (timed)
                loop_estimate(k == 0 ? &t->first_us : &t->record_us, clock_cpu_us() - t0);
            k++;
        }
        int64_t t0 = timed ? clock_cpu_us() : 0;
        if (ok && store_batch_commit(e->storage.db, &err) != 0)
            ok = 0;
        if (ok && timed)
            loop_estimate(&t->commit_us, clock_cpu_us() - t0);
        if (!ok && e->storage.db) {
            error_info ignored;
            store_batch_rollback(e->storage.db, &ignored);
        }
        if (k == 0) /* no batch: each goes on its own */
            k = t->n < GROUP_MAX ? t->n : GROUP_MAX;
        /* Taken out before anyone hears: the owners may finish calls of their own. */
        memcpy(group, t->w, k * sizeof *group);
        memmove(t->w, t->w + k, (t->n - k) * sizeof *t->w);
        t->n -= k;
        t->put_off = 0; /* the next group waiting may be put off once in its turn */
        for (size_t i = 0; i < k; i++) {
            if (ok)
                group[i].logged(group[i].c);
            else /* each on its own, so one bad record does not hold back the rest */
                log_one(group[i].c, group[i].logged);
        }
        t = e->turn_log;
        if (in_turn && t && t->n > 0 && no_room(e, t)) {
            if (t->deferred || loop_defer(e->loop, flush_deferred, e) == 0) {
                t->deferred = 1;
                return;
            }
        }
    }
}

void call_log_flush(nyx_engine *e) { flush_group(e, 0); }

void call_log(api_call *c, void (*logged)(api_call *c))
{
    nyx_engine *e = c->e;
    if (!e->storage.db || e->storage.degraded || store_answers_later(e->storage.db)) {
        /* Once the store failed, records queue behind the ones already waiting, in order. */
        engine_check_db_file(e);
        log_one(c, logged);
        return;
    }
    struct turn_log *t = e->turn_log;
    if (!t && !(t = e->turn_log = calloc(1, sizeof *t))) {
        log_one(c, logged);
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        log_wait *w = realloc(t->w, cap * sizeof *w);
        if (!w) {
            log_one(c, logged);
            return;
        }
        t->w = w;
        t->cap = cap;
    }
    if (!t->deferred) {
        if (loop_defer(e->loop, flush_deferred, e) != 0) {
            log_one(c, logged);
            return;
        }
        t->deferred = 1;
    }
    t->w[t->n++] = (log_wait){c, logged};
}

void call_log_close(nyx_engine *e)
{
    call_log_flush(e);
    if (e->turn_log)
        free(e->turn_log->w);
    free(e->turn_log);
    e->turn_log = NULL;
    if (e->record_buffers) {
        claude_body_flat_forget(&e->record_buffers->flat);
        free(e->record_buffers->body.s);
        free(e->record_buffers->prompt.s);
        free(e->record_buffers->reply.s);
    }
    free(e->record_buffers);
    e->record_buffers = NULL;
}
