/* Message Batches: members, submission, polling with backoff, results by custom id (batch.h). */
#define _POSIX_C_SOURCE 200809L
#include "batch.h"
#include "base/array.h"

#include "answer_check.h"
#include "call_internal.h"
#include "claude/batch_result.h"
#include "claude/errors.h"
#include "claude/headers.h"
#include "claude/response.h"
#include "base/clock.h"
#include "base/json_print.h"
#include "base/textbuf.h"
#include "budget.h"
#include "net.h"
#include "resilience/retry.h"
#include "store/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A response to a batch request larger than this is not one (results of 100,000 requests fit). */
#define MAX_BODY (512u << 20)

enum { PREPARING = 0, SUBMITTING, IN_PROGRESS, FETCHING, DONE, REFUSED };
static const char *const state_names[] = {"preparing", "submitting", "in_progress", "in_progress", "ended",
                                          "refused"};

typedef struct member {
    api_call *call;  /* NULL once it finished */
    char custom_id[72];
    size_t hold;     /* 1 + the index of the reservation that holds its worst case, 0: none */
    double worst;
} member;

/* One reservation for the members that share a set of budget scopes (a session, an agent,
 * the day and month). */
typedef struct hold {
    budget_scopes scopes;
    char *session, *agent;
    double amount;
    budget_request req;
    char reservation[STORE_RESERVATION_ID_SIZE];
    int reserved;
    struct batch_job *b;
} hold;

struct batch_job {
    nyx_engine *e;
    int refs;
    char *name;
    size_t expected, nfinished_early;
    member *members;
    size_t n, cap;
    int state;
    error_info refusal;   /* why the batch was refused whole */
    char id[96];
    long counts[5];
    double interval;     /* the next poll's delay */
    double give_up_at;   /* clock_now_s: its expiry and a margin, past which polls stop (0: not sent) */
    error_info last_poll; /* the retryable error of the last poll, type "" once one is answered */
    loop_timer *timer;
    int cancel_asked, cancel_sent;
    int partial;         /* send what fits rather than refuse the batch whole */
    char local_id[48];   /* nyx's id, its rows' key in the database (its leader's for a part) */
    /* A batch split in parts is one batch: the parts share the leader's id, and are recorded
     * together (one store_batch_create) once each is ready or refused, before any is sent. */
    struct batch_job *leader; /* a part after the first: the first, referenced */
    struct batch_job **parts; /* the leader's: the parts after it, in order (not referenced) */
    size_t nparts;
    int part;            /* its part's number in the database */
    int ready;           /* its reservations are made: it waits for its group to be recorded */
    int group_went;      /* the leader's: its group was recorded (or failed) */
    int recorded;        /* its rows are committed: any process can pick it up */
    size_t max_bytes;    /* the API's limit on one submission */
    hold *holds;         /* its reservations (batch_holds_budgets) */
    size_t nholds, holds_pending;
    int holds_started;
    size_t ndelivered, nlogged; /* results handed to members, and their records written */
    /* the one transfer in flight */
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    textbuf reply;
    void (*on_reply)(batch_job *b, int ok, const error_info *err);
    char errbuf[CURL_ERROR_SIZE];
    long http_status;
    long request_bytes;  /* of the request that failed: 0 when none left this machine */
    claude_headers answer; /* the answer's headers: its retry-after, x-should-retry, request id */
    int submit_retries;  /* submissions tried again (LLM_MAX_RETRIES) */
    uint64_t rng;        /* their backoff's jitter */
    /* batch_api: one request of its own */
    batch_api_fn api_done;
    void *api_ud;
};

int batch_holds_budgets(const batch_job *b) { return !b->partial; }

/* Gives back the reservations made for the batch (refused, or never sent). */
static void release_holds(batch_job *b)
{
    int any = 0;
    for (size_t i = 0; i < b->nholds; i++)
        if (b->holds[i].reserved) {
            error_info err;
            error_clear(&err);
            b->holds[i].reserved = 0;
            if (b->e->storage.db)
                store_budget_settle(b->e->storage.db, b->holds[i].reservation, 0, &err);
            any = 1;
        }
    if (any)
        budget_settled(b->e);
}

/* The member's worst case joins the reservation of its budget scopes. 0, or -1 out of memory. */
static int hold_member(batch_job *b, member *m, api_call *c)
{
    m->hold = 0;
    m->worst = c->batch_worst;
    if (!c->budget || c->budget->scopes.n == 0 || !(c->batch_worst > 0))
        return 0;
    const budget_scopes *mine = &c->budget->scopes;
    for (size_t i = 0; i < b->nholds; i++) {
        const budget_scopes *s = &b->holds[i].scopes;
        int same = s->n == mine->n;
        for (size_t k = 0; same && k < s->n; k++)
            same = strcmp(s->names[k], mine->names[k]) == 0 && s->soft[k] == mine->soft[k] &&
                   s->scopes[k].limit_usd == mine->scopes[k].limit_usd;
        if (same) {
            b->holds[i].amount += c->batch_worst;
            m->hold = i + 1;
            return 0;
        }
    }
    hold *nh = realloc(b->holds, (b->nholds + 1) * sizeof *nh);
    if (!nh)
        return -1;
    b->holds = nh;
    hold *h = &b->holds[b->nholds];
    memset(h, 0, sizeof *h);
    h->scopes = *mine;
    for (size_t k = 0; k < h->scopes.n; k++) /* the copy's scopes name its own names */
        h->scopes.scopes[k].scope = h->scopes.names[k];
    h->session = c->spec.session ? strdup(c->spec.session) : NULL;
    h->agent = c->spec.agent ? strdup(c->spec.agent) : NULL;
    h->amount = c->batch_worst;
    h->b = b;
    m->hold = ++b->nholds;
    return 0;
}

static void maybe_go(batch_job *b);

static void hold_answered(void *ud, int rc, const error_info *err)
{
    hold *h = ud;
    batch_job *b = h->b;
    if (rc == 0)
        h->reserved = 1;
    else if (!b->refusal.type[0] && err) {
        b->refusal = *err;
        snprintf(b->refusal.message, sizeof b->refusal.message, "the batch was refused whole: %.480s", err->message);
    }
    if (--b->holds_pending == 0) {
        maybe_go(b);
        batch_unref(b); /* the reservations' reference */
    }
}

/* Reserves the batch's worst case, one reservation per set of scopes, at once. */
static void start_holds(batch_job *b)
{
    b->holds_started = 1;
    b->holds_pending = b->nholds;
    batch_ref(b);
    for (size_t i = 0; i < b->nholds; i++) {
        hold *h = &b->holds[i];
        h->req = (budget_request){
            .e = b->e,
            .s = &h->scopes,
            .session = h->session,
            .agent = h->agent,
            .amount_usd = h->amount,
            .id = h->reservation,
            .id_size = sizeof h->reservation,
            .deadline = clock_now_s() + b->e->cfg.timeout_s,
            .no_settle_wait = 1,
            .done = hold_answered,
            .ud = h,
        };
        budget_reserve(&h->req);
    }
}

void batch_member_logged(batch_job *b, api_call *c)
{
    if (!c->batch_result)
        return;
    b->nlogged++;
    if (b->state != DONE || b->nlogged < b->ndelivered || !b->recorded || !b->e->storage.db)
        return;
    error_info err;
    error_clear(&err);
    int settled = 0;
    store_batch_settle(b->e->storage.db, b->local_id, &settled, &err);
    for (size_t i = 0; i < b->nholds; i++)
        b->holds[i].reserved = 0; /* settled, here or by whoever picked the batch up */
    if (settled > 0) {
        for (size_t i = 0; i < b->nholds; i++)
            budget_check_alerts(b->e, &b->holds[i].scopes);
        budget_settled(b->e);
    }
}

int batch_settle_logged(nyx_engine *e, const char *id, error_info *err)
{
    int settled = 0;
    if (!e->storage.db || store_batch_settle(e->storage.db, id, &settled, err) != 0)
        return e->storage.db ? -1 : 0;
    if (settled > 0)
        budget_settled(e);
    return 0;
}

batch_job *batch_new(nyx_engine *e, const char *name, size_t expected)
{
    batch_job *b = calloc(1, sizeof *b);
    if (!b || (name && !(b->name = strdup(name)))) {
        free(b);
        return NULL;
    }
    b->e = e;
    b->refs = 1;
    b->expected = expected;
    b->interval = BATCH_POLL_FIRST_S;
    b->max_bytes = BATCH_MAX_BYTES;
    char id[48];
    engine_new_id(e, id, sizeof id);
    snprintf(b->local_id, sizeof b->local_id, "nb_%s", id + 3); /* ix_... -> nb_... */
    error_clear(&b->refusal);
    return b;
}

void batch_ref(batch_job *b) { b->refs++; }

void batch_set_partial(batch_job *b, int partial) { b->partial = partial; }

void batch_set_max_bytes(batch_job *b, size_t max_bytes) { b->max_bytes = max_bytes; }

int batch_set_leader(batch_job *b, batch_job *leader)
{
    if (!leader || leader == b || leader->leader || b->leader || b->n > 0 || leader->group_went)
        return -1;
    batch_job **np = realloc(leader->parts, (leader->nparts + 1) * sizeof *np);
    if (!np)
        return -1;
    leader->parts = np;
    leader->parts[leader->nparts++] = b;
    batch_ref(leader);
    b->leader = leader;
    snprintf(b->local_id, sizeof b->local_id, "%s", leader->local_id);
    return 0;
}

const char *batch_recorded_id(const batch_job *b) { return b->recorded ? b->local_id : NULL; }

static void drop_transfer(batch_job *b)
{
    if (b->easy) {
        loop_remove_transfer(b->e->loop, b->easy);
        curl_easy_cleanup(b->easy);
        b->easy = NULL;
    }
    curl_slist_free_all(b->headers);
    b->headers = NULL;
    free(b->body);
    b->body = NULL;
    b->reply.len = 0;
    b->reply.failed = 0;
}

static void release_holds(batch_job *b);

void batch_unref(batch_job *b)
{
    if (!b || --b->refs > 0)
        return;
    if (!b->id[0])
        release_holds(b); /* never accepted by the API: nothing will spend them */
    if (b->leader) {
        batch_job *l = b->leader;
        for (size_t i = 0; i < l->nparts; i++)
            if (l->parts[i] == b) {
                memmove(l->parts + i, l->parts + i + 1, (l->nparts - i - 1) * sizeof *l->parts);
                l->nparts--;
                break;
            }
        batch_unref(l);
    }
    free(b->parts);
    for (size_t i = 0; i < b->nholds; i++) {
        free(b->holds[i].session);
        free(b->holds[i].agent);
    }
    free(b->holds);
    drop_transfer(b);
    if (b->timer)
        loop_timer_cancel(b->e->loop, b->timer);
    free(b->reply.s);
    free(b->members);
    free(b->name);
    free(b);
}

void batch_get_status(const batch_job *b, batch_status *st)
{
    memset(st, 0, sizeof *st);
    st->processing_status = b->cancel_asked && b->state < DONE ? "canceling" : state_names[b->state];
    st->id = b->id;
    st->local_id = b->local_id;
    memcpy(st->counts, b->counts, sizeof st->counts);
    if (b->state == PREPARING)
        st->counts[0] = (long)b->expected;
    st->error = b->refusal.type[0] ? b->refusal.message : NULL;
}

/* ---- HTTP: one transfer at a time, through the engine's loop ---- */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    batch_job *b = ud;
    size_t len = size * n;
    if (b->reply.len + len > MAX_BODY)
        return 0;
    textbuf_put(&b->reply, data, len);
    return b->reply.failed ? 0 : len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    claude_headers_feed(&((batch_job *)ud)->answer, data, size * n, NAN);
    return size * n;
}

/* Whether a 2xx answer reads as what the endpoint sends: one JSON object, or for results JSON
 * Lines, each line whole. One that does not is left to the endpoint's reader (got_batch says
 * what it lacks) unless answer_body_cut or answer_not_the_api names it. */
static int answer_reads(const batch_job *b)
{
    const char *s = b->reply.s ? b->reply.s : "";
    size_t i = 0;
    while (i < b->reply.len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i < b->reply.len && s[i] == '{' && !claude_json_unfinished(s, b->reply.len);
}

static void transfer_done(void *ud, CURLcode rc)
{
    batch_job *b = ud;
    long status = 0;
    curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &status);
    b->http_status = status;
    if (curl_easy_getinfo(b->easy, CURLINFO_REQUEST_SIZE, &b->request_bytes) != CURLE_OK)
        b->request_bytes = -1; /* unknown: it may have left */
    error_info err;
    error_clear(&err);
    if (rc != CURLE_OK) {
        if (!net_explain_failure(b->e->provider.net, b->easy, rc, b->errbuf, &err))
            answer_transport_failed(rc, b->errbuf, NULL, &err);
    } else if (status < 200 || status >= 300) {
        claude_error_from_http((int)status, b->reply.s ? b->reply.s : "", b->reply.len, &b->answer, &err);
        answer_redirected(b->easy, status, &err);
    } else if (!answer_reads(b)) {
        /* as a call's answer is read (call_http.c): a cut body is the network's, retried; a page
         * of another type is not the API's; what is left is the API's malformed answer */
        if (answer_type_fits(&b->answer, ANSWER_JSON))
            answer_body_cut(b->easy, &b->answer, b->reply.s, b->reply.len, &err);
        else
            answer_not_the_api(&b->answer, status, ANSWER_JSON, b->reply.s, b->reply.len, &err);
    }
    if (err.type[0] && !err.request_id[0] && b->answer.request_id[0])
        memcpy(err.request_id, b->answer.request_id, sizeof err.request_id);
    curl_easy_cleanup(b->easy); /* the loop has let it go */
    b->easy = NULL;
    curl_slist_free_all(b->headers);
    b->headers = NULL;
    free(b->body);
    b->body = NULL;
    b->on_reply(b, !err.type[0], err.type[0] ? &err : NULL);
    batch_unref(b); /* the transfer's reference */
}

/* method "GET", "POST"; path after v1/messages/batches; body NULL for none. */
static int request(batch_job *b, const char *method, const char *path, char *body,
                   void (*on_reply)(batch_job *, int, const error_info *))
{
    nyx_engine *e = b->e;
    char url[1200];
    size_t n = strlen(e->provider.endpoint);
    snprintf(url, sizeof url, "%s%sv1/messages/batches%s", e->provider.endpoint, n && e->provider.endpoint[n - 1] == '/' ? "" : "/",
             path);
    b->reply.len = 0;
    b->reply.failed = 0;
    b->body = body;
    b->on_reply = on_reply;
    b->errbuf[0] = '\0';
    claude_headers_init(&b->answer);
    if (!(b->easy = curl_easy_init()))
        return -1;
    CURL *h = b->easy;
    /* As a call's attempt: CLAUDE_TIMEOUT_SECONDS in all, NYX_CONNECT_TIMEOUT_SECONDS of it to
     * connect (curl's own 300 s otherwise). Both settings are finite and at least 1 ms. */
    long total_ms = (long)(e->cfg.timeout_s * 1000.0), connect_ms = (long)(e->cfg.connect_timeout_s * 1000.0);
    if (total_ms < 1)
        total_ms = 1;
    if (connect_ms < 1 || connect_ms > total_ms)
        connect_ms = total_ms;
    int bad = net_configure(e->provider.net, h, b->errbuf) != 0 || curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->provider.headers) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_HEADERDATA, b) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
    if (!bad && body)
        bad = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
              curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) != CURLE_OK;
    else if (!bad && strcmp(method, "POST") == 0)
        bad = curl_easy_setopt(h, CURLOPT_POSTFIELDS, "") != CURLE_OK;
    if (bad || loop_add_transfer(e->loop, h, transfer_done, b) != 0) {
        curl_easy_cleanup(h);
        b->easy = NULL;
        b->body = NULL;
        return -1;
    }
    batch_ref(b);
    return 0;
}

/* ---- results ---- */

static member *find_member(batch_job *b, const char *custom_id)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->members[i].custom_id, custom_id) == 0)
            return &b->members[i];
    return NULL;
}

void batch_standard_cost(const model_info *m, const claude_usage *u, double at, int asked_1h, call_outcome *r)
{
    r->has_standard_cost = 0;
    if (strcmp(u->service_tier, "batch") != 0)
        return;
    claude_usage standard = *u;
    snprintf(standard.service_tier, sizeof standard.service_tier, "standard");
    call_cost c;
    if (cost_of_usage_at(m, &standard, at, asked_1h, &c) == 0) {
        r->has_standard_cost = 1;
        r->standard_cost_usd = c.cost_usd;
    }
}

/* Hands the member its outcome; the call accounts and logs it as its answer. */
static void deliver(member *m, const cJSON *result)
{
    api_call *c = m->call;
    m->call = NULL;
    if (!c)
        return;
    c->batch_result = 1; /* the API's answer for it: logged under the batch and custom id */
    m->hold = 0;
    batch_job *b = c->spec.batch;
    if (b)
        b->ndelivered++;
    error_info err;
    error_clear(&err);
    claude_batch_result(result, &c->result.resp, &err);
    call_batch_result(c, err.type[0] ? 0 : 200, err.type[0] ? &err : NULL);
}

/* A member that stops waiting while the API holds the batch leaves its reservation to the
 * batch: whoever picks the batch up logs its result and settles it (store_batch_create). */
static void leave_reservation(batch_job *b, api_call *c)
{
    if (b->recorded && b->id[0])
        c->reserved = 0;
}

/* c stops waiting while the API holds its batch and the database can pick it up (batch.h):
 * not logged here, its reservation left to the batch; err (its error) says how to pick it up. */
static void detach(batch_job *b, api_call *c, error_info *err)
{
    leave_reservation(b, c);
    c->batch_detached = 1;
    if (err) { /* NULL out of memory: the error says no more */
        char type[sizeof err->type], why[200];
        snprintf(type, sizeof type, "%s", err->type);
        snprintf(why, sizeof why, "%.199s", err->message);
        error_set(err, type, err->status, "%s; its batch %s goes on: `nyx batch results %s` picks up the results",
                  why, b->local_id, b->local_id);
    }
    engine_warn_once(b->e, b->local_id,
                     "nyx: batch %s (%s) goes on without this process; `nyx batch results %s` picks up its "
                     "results and logs each once",
                     b->local_id, b->id, b->local_id);
}

/* Every member still waiting fails with err (a batch that ended without its result). */
static void fail_waiting(batch_job *b, const error_info *err)
{
    if (!b->id[0])
        release_holds(b); /* refused, or never accepted: nothing will spend them */
    for (size_t i = 0; i < b->n; i++)
        if (b->members[i].call) {
            api_call *c = b->members[i].call;
            b->members[i].call = NULL;
            leave_reservation(b, c);
            error_info e2 = *err;
            call_batch_result(c, 0, &e2);
        }
}

/* The API could not be asked (a poll or the results' download failed for good): that is not
 * the batch's end, though this job is done. A batch the database can pick up goes on, its
 * members detached; else they fail with err. */
static void stop_waiting(batch_job *b, const error_info *err)
{
    b->state = DONE;
    if (!b->recorded || !b->id[0]) {
        fail_waiting(b, err);
        return;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->members[i].call) {
            api_call *c = b->members[i].call;
            b->members[i].call = NULL;
            error_info e2 = *err;
            detach(b, c, &e2);
            call_batch_result(c, 0, &e2);
        }
}

static int poll_again(batch_job *b, const error_info *err);

static void got_results(batch_job *b, int ok, const error_info *err)
{
    if (!ok) {
        if (poll_again(b, err))
            return;
        stop_waiting(b, err);
        return;
    }
    batch_ref(b); /* members finishing may drop the last other reference */
    char *line = b->reply.s;
    size_t left = b->reply.len;
    while (line && left > 0) {
        char *nl = memchr(line, '\n', left);
        size_t n = nl ? (size_t)(nl - line) : left;
        const char *cid;
        const cJSON *res;
        cJSON *o = claude_batch_line(line, n, &cid, &res);
        member *m = cid && res ? find_member(b, cid) : NULL;
        if (m)
            deliver(m, res);
        cJSON_Delete(o);
        left -= n + (nl ? 1 : 0);
        line = nl ? nl + 1 : NULL;
    }
    b->state = DONE;
    error_info missing;
    error_clear(&missing);
    error_set(&missing, "api_error", 0, "the batch %s ended without a result for this request", b->id);
    fail_waiting(b, &missing);
    batch_unref(b);
}

static void poll_now(void *ud);
static void cancelled(batch_job *b, int ok, const error_info *err);

static size_t live_members(const batch_job *b)
{
    size_t live = 0;
    for (size_t i = 0; i < b->n; i++)
        live += b->members[i].call != NULL;
    return live;
}

/* When the polls of a batch stop: the API gives up on a batch at its expires_at (24 hours after
 * it was created) and ends it, so a poll after that finds it ended unless the API cannot be
 * asked; a margin of 5 minutes a day of its life lets the API end it. Read from the batch the
 * API answered its submission with: its life (expires_at - created_at) from now, on this
 * machine's steady clock, so that neither a clock set apart from the API's nor one set back or
 * forth while it waits moves the end; with expires_at alone, its distance from this machine's
 * wall clock; with neither, 24 hours. */
static void read_expiry(batch_job *b, const claude_batch_info *info)
{
    double wall = clock_wall_s(), expires = info->expires_at, created = info->created_at;
    double life = BATCH_LIFETIME_S;
    if (!isnan(expires)) {
        if (!isnan(created) && created < expires)
            life = expires - created;
        else
            life = expires > wall ? expires - wall : 0;
    }
    b->give_up_at = clock_now_s() + life + life * (BATCH_EXPIRY_MARGIN_S / BATCH_LIFETIME_S);
    if (!(b->give_up_at > 0))
        b->give_up_at = clock_now_s() + BATCH_LIFETIME_S + BATCH_EXPIRY_MARGIN_S;
}

static int past_expiry(const batch_job *b) { return b->give_up_at > 0 && clock_now_s() >= b->give_up_at; }

/* The polls outlived the batch's expiry (and its margin) without seeing it end: every member
 * still waiting stops with a timeout naming the last poll's error, the batch left to a later
 * pickup (stop_waiting) as when a poll fails for good. Not retryable: sent again, the request
 * could be answered twice, while its batch's results may yet be read. */
static void stop_past_expiry(batch_job *b)
{
    error_info err;
    error_clear(&err);
    if (b->last_poll.type[0])
        error_set(&err, "timeout", 0, "the batch %s could not be asked about until past its expiry: its polls "
                  "failed, the last with %s: %.200s", b->id, b->last_poll.type, b->last_poll.message);
    else
        error_set(&err, "timeout", 0, "the batch %s was still in progress past its expiry", b->id);
    stop_waiting(b, &err);
}

/* The next poll, after the interval (which doubles to BATCH_POLL_MAX_S), or after the wait the
 * server asked for (retry-after) should that be longer; no later than the polls' end
 * (give_up_at), where one last poll is made. */
static void schedule_poll_after(batch_job *b, double wait_s)
{
    if (b->state == IN_PROGRESS && live_members(b) == 0) {
        b->state = DONE; /* nobody waits for its results any more: polling stops */
        return;
    }
    double delay = wait_s > b->interval ? wait_s : b->interval;
    if (b->give_up_at > 0) {
        double left = b->give_up_at - clock_now_s();
        delay = delay > left ? (left > 0 ? left : 0) : delay;
    }
    b->timer = loop_timer_add(b->e->loop, delay, poll_now, b);
    if (b->timer) {
        batch_ref(b); /* the timer's reference */
        b->interval = b->interval * 2 > BATCH_POLL_MAX_S ? BATCH_POLL_MAX_S : b->interval * 2;
    }
}

static void schedule_poll(batch_job *b) { schedule_poll_after(b, 0); }

/* A poll, or the results' download, that failed for a reason that may pass (a 429 or 529, a body
 * cut on its way, a reset) is asked again at the next poll, no sooner than the answer's
 * retry-after: the batch goes on at the API whatever its polls meet, until its expiry (and the
 * margin: give_up_at) has passed, when its members stop waiting (stop_past_expiry). Returns 1
 * when it is asked again or its members were told so. */
static int poll_again(batch_job *b, const error_info *err)
{
    if (!err->retryable || (b->state != IN_PROGRESS && b->state != FETCHING))
        return 0;
    b->last_poll = *err;
    if (past_expiry(b)) {
        stop_past_expiry(b); /* handled: its members are told */
        return 1;
    }
    b->state = IN_PROGRESS; /* a download asked again once a poll says the batch ended */
    schedule_poll_after(b, err->retry_after_s);
    return b->timer != NULL;
}

static void submit(batch_job *b);

/* A submission that failed is tried again (a retryable error, LLM_MAX_RETRIES, backed off or
 * after the server's retry-after) only when it surely made no batch: the API answered it with an
 * error, or no byte of it left this machine (no connection, no name). One that broke after it was
 * sent (a timeout, a reset) may have made a batch, which a second submission would double. */
static void resubmit(void *ud)
{
    batch_job *b = ud;
    b->timer = NULL;
    if (b->state == SUBMITTING && b->cancel_asked) {
        error_info err;
        error_clear(&err);
        error_set(&err, "cancelled", 0, "the batch was cancelled before it was submitted");
        b->state = DONE;
        fail_waiting(b, &err);
    } else if (b->state == SUBMITTING) {
        submit(b);
    }
    batch_unref(b); /* the timer's reference */
}

static int submit_again(batch_job *b, const error_info *err)
{
    const engine_config *cfg = &b->e->cfg;
    retry_policy p = {(int)cfg->max_retries, cfg->backoff_base_s, cfg->backoff_factor, cfg->backoff_max_s};
    if (b->state != SUBMITTING || b->cancel_asked || !(b->http_status >= 400 || b->request_bytes == 0) ||
        !retry_allowed(&p, err, b->submit_retries))
        return 0;
    if (!b->rng)
        b->rng = (uint64_t)(clock_now_s() * 1e6) | 1;
    double delay = retry_delay_s(&p, err, b->submit_retries, &b->rng);
    if (delay > cfg->timeout_s) /* a server's wait longer than an attempt may take: its error now */
        return 0;
    b->timer = loop_timer_add(b->e->loop, delay, resubmit, b);
    if (!b->timer)
        return 0;
    batch_ref(b); /* the timer's reference */
    b->submit_retries++;
    return 1;
}

static void got_batch(batch_job *b, int ok, const error_info *err)
{
    if (!ok) {
        if (submit_again(b, err) || poll_again(b, err))
            return;
        stop_waiting(b, err);
        return;
    }
    cJSON *o = cJSON_ParseWithLength(b->reply.s ? b->reply.s : "", b->reply.len);
    claude_batch_info info;
    error_info bad;
    error_clear(&bad);
    int read = claude_batch_read(o, &info, &bad);
    const char *id = read == 0 ? info.id : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
    const char *st = read == 0 ? info.processing_status : NULL;
    if (id && !b->id[0]) {
        snprintf(b->id, sizeof b->id, "%s", id);
        if (read == 0)
            read_expiry(b, &info);
        /* Recorded as soon as known: from now on any process can pick the batch up. */
        error_info serr;
        error_clear(&serr);
        if (b->recorded && b->e->storage.db && store_batch_submitted(b->e->storage.db, b->local_id, b->part, b->id, &serr) != 0)
            engine_warn_once(b->e, "batch-submitted", "nyx: the API's id of a batch could not be recorded; "
                                                      "only this process can read its results");
    }
    if (read == 0)
        memcpy(b->counts, info.counts, sizeof b->counts);
    int ended = st && strcmp(st, "ended") == 0;
    if (read == 0 && (!b->id[0] || !st))
        error_set(&bad, "api_error", 0, "the batch endpoint answered without an id or a status");
    cJSON_Delete(o); /* id and st point into it: not read past here */
    if (bad.type[0]) {
        stop_waiting(b, &bad);
        return;
    }
    b->state = IN_PROGRESS;
    error_clear(&b->last_poll);
    if (ended) {
        char path[140];
        snprintf(path, sizeof path, "/%s/results", b->id);
        b->state = FETCHING;
        if (request(b, "GET", path, NULL, got_results) != 0) {
            error_info oom;
            error_clear(&oom);
            error_set(&oom, "network_error", 0, "cannot start the HTTP transfer");
            stop_waiting(b, &oom);
        }
        return;
    }
    if (past_expiry(b)) { /* the API ends a batch at its expiry: this one is not seen to */
        stop_past_expiry(b);
        return;
    }
    if (b->cancel_asked && !b->cancel_sent) { /* asked while this answer was on its way */
        char path[140];
        snprintf(path, sizeof path, "/%s/cancel", b->id);
        b->cancel_sent = 1;
        if (request(b, "POST", path, NULL, cancelled) == 0)
            return;
    }
    schedule_poll(b);
}

static void poll_now(void *ud)
{
    batch_job *b = ud;
    b->timer = NULL;
    char path[120];
    snprintf(path, sizeof path, "/%s", b->id);
    if (b->state == IN_PROGRESS && !b->easy && request(b, "GET", path, NULL, got_batch) != 0)
        schedule_poll(b);
    batch_unref(b); /* the timer's reference */
}

/* ---- members ---- */

/* The submission, {"requests":[{"custom_id":ID,"params":BODY},...]}, written once from each
 * member's request body as it was already serialised for its call: no parsed tree of every
 * request (which cost some 290 KB a row), one allocation of the exact size, each body written
 * into it from its pieces (no flat copy of every body alive at once). NULL when out of
 * memory; *len its length. */
static char *submission(batch_job *b, size_t *len)
{
    static const char head[] = "{\"requests\":[", tail[] = "]}";
    char **ids = calloc(b->n ? b->n : 1, sizeof *ids);
    if (!ids)
        return NULL;
    size_t n = sizeof head - 1 + sizeof tail - 1, k = 0;
    int ok = 1;
    for (size_t i = 0; ok && i < b->n; i++) {
        api_call *c = b->members[i].call;
        if (!c)
            continue; /* cancelled while it waited */
        cJSON *id = cJSON_CreateString(b->members[i].custom_id);
        ids[i] = id ? json_print(id) : NULL;
        cJSON_Delete(id);
        ok = ids[i] != NULL && call_has_body(c);
        if (ok)
            n += (k++ ? 1 : 0) + strlen("{\"custom_id\":,\"params\":}") + strlen(ids[i]) + c->body_len;
    }
    char *body = ok ? malloc(n + 1) : NULL;
    if (body) {
        char *w = body;
        memcpy(w, head, sizeof head - 1);
        w += sizeof head - 1;
        k = 0;
        for (size_t i = 0; i < b->n; i++) {
            api_call *c = b->members[i].call;
            if (!c)
                continue;
            w += sprintf(w, "%s{\"custom_id\":%s,\"params\":", k++ ? "," : "", ids[i]);
            if (call_body_write(c, w) != 0) { /* call_has_body said it has one */
                free(body);
                body = NULL;
                break;
            }
            w += c->body_len;
            call_body_drop(c); /* the submission holds it now */
            *w++ = '}';
        }
        if (body) {
            memcpy(w, tail, sizeof tail);
            *len = n;
        }
    }
    for (size_t i = 0; i < b->n; i++)
        cJSON_free(ids[i]);
    free(ids);
    return body;
}

static void submit(batch_job *b)
{
    size_t len = 0;
    char *body = submission(b, &len);
    b->state = SUBMITTING;
    if (body && len > b->max_bytes) {
        error_info err;
        error_clear(&err);
        error_set(&err, "invalid_argument", 0, "the batch is %zu bytes, over the API's limit of %zu per batch",
                      len, b->max_bytes);
        free(body);
        b->state = DONE;
        fail_waiting(b, &err);
        return;
    }
    if (!body || request(b, "POST", "", body, got_batch) != 0) {
        free(body);
        error_info err;
        error_clear(&err);
        error_set(&err, "network_error", 0, "cannot submit the batch");
        b->state = DONE;
        fail_waiting(b, &err);
    }
}

/* Commits the batch (its ready parts) and its requests before anything is sent, so any
 * process can pick it up (store.h); with no database there is nothing to keep it in, and it
 * lives in this process. */
static int record(batch_job **group, size_t ngroup, error_info *err)
{
    batch_job *l = group[0];
    nyx_engine *e = l->e;
    size_t total = 0;
    for (size_t k = 0; k < ngroup; k++)
        total += group[k]->n;
    if (!e->storage.db)
        return 0;
    store_batch_request *reqs = calloc(total ? total : 1, sizeof *reqs);
    if (!reqs) {
        error_set(err, "out_of_memory", 0, "out of memory recording a batch");
        return -1;
    }
    size_t n = 0;
    for (size_t k = 0; k < ngroup; k++) {
    batch_job *b = group[k];
    b->part = (int)k;
    for (size_t i = 0; i < b->n; i++) {
        api_call *c = b->members[i].call;
        if (!c)
            continue;
        reqs[n++] = (store_batch_request){
            .custom_id = b->members[i].custom_id,
            .part = (int)k,
            .session = c->spec.session,
            .agent = c->spec.agent,
            .template_name = c->spec.template_name,
            .template_version = c->spec.template_version,
            .model = call_route_model(c),
            .reservation_id = b->members[i].hold ? b->holds[b->members[i].hold - 1].reservation
                              : c->reserved ? c->budget->reservation : NULL,
            .reserved_usd = b->members[i].hold ? b->members[i].worst : c->reserved ? c->budget->req.amount_usd : 0,
            .write_1h = call_asked_1h(&c->spec.req),
        };
    }
    }
    /* The API gives up on a batch 24 hours after it was created. */
    int rc = store_batch_create(e->storage.db, l->local_id, l->name, clock_wall_s() + BATCH_LIFETIME_S, (int)ngroup, reqs,
                                n, err);
    free(reqs);
    if (rc != 0) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        error_set(err, "store_error", 0, "nothing was sent: the batch could not be recorded (%s)", why);
        return -1;
    }
    for (size_t k = 0; k < ngroup; k++)
        group[k]->recorded = 1;
    return 0;
}

/* Once every part of the batch is ready or refused: the ready ones are recorded together,
 * then each is submitted. */
static void group_go(batch_job *l)
{
    if (l->group_went || (l->state == PREPARING && !l->ready))
        return;
    for (size_t i = 0; i < l->nparts; i++)
        if (l->parts[i]->state == PREPARING && !l->parts[i]->ready)
            return; /* still being decided */
    l->group_went = 1;
    batch_job **group = calloc(l->nparts + 1, sizeof *group);
    size_t n = 0;
    error_info err;
    error_clear(&err);
    if (!group)
        error_set(&err, "out_of_memory", 0, "out of memory recording a batch");
    else {
        for (size_t i = 0; i <= l->nparts; i++) {
            batch_job *b = i == 0 ? l : l->parts[i - 1];
            if (b->ready && live_members(b) == 0) { /* every request cancelled while it waited */
                b->ready = 0;
                b->state = REFUSED;
                release_holds(b);
            } else if (b->ready) {
                group[n++] = b;
            }
        }
        for (size_t k = 0; k < n; k++)
            batch_ref(group[k]); /* members finishing may drop the last other reference */
    }
    int ok = group && n > 0 && record(group, n, &err) == 0;
    for (size_t k = 0; k < n; k++) {
        batch_job *b = group[k];
        b->ready = 0;
        if (ok) {
            submit(b);
        } else {
            b->state = REFUSED;
            fail_waiting(b, &err);
        }
        batch_unref(b);
    }
    free(group);
}

/* Every member has joined or finished: submit, or refuse the batch whole. */
static void maybe_go(batch_job *b)
{
    if (b->state != PREPARING || b->ready || b->n + b->nfinished_early < b->expected)
        return;
    int refused = b->refusal.type[0] && !(b->partial && strcmp(b->refusal.type, "budget_exceeded") == 0);
    size_t live = 0;
    for (size_t i = 0; i < b->n; i++)
        live += b->members[i].call != NULL;
    if (b->holds_pending > 0)
        return; /* its reservations are on their way */
    if (!refused && live > 0 && b->nholds > 0 && !b->holds_started) {
        start_holds(b);
        return; /* maybe_go again once every one is answered */
    }
    refused = b->refusal.type[0] && !(b->partial && strcmp(b->refusal.type, "budget_exceeded") == 0);
    batch_job *l = b->leader ? b->leader : b;
    batch_ref(l); /* the parts finishing may drop the last other reference */
    if (refused || live == 0) {
        error_info err = b->refusal;
        b->state = REFUSED;
        if (!err.type[0])
            error_set(&err, "cancelled", 0, "the batch was cancelled before it was submitted");
        fail_waiting(b, &err);
    } else {
        b->ready = 1; /* nothing is sent that could not be recorded: its group first */
    }
    group_go(l);
    batch_unref(l);
}

void batch_join(batch_job *b, api_call *c)
{
    member *nm = array_room(b->members, b->n, &b->cap, sizeof *nm, 16);
    if (!nm) {
        error_info err;
        error_clear(&err);
        error_set(&err, "out_of_memory", 0, "out of memory joining a batch");
        call_batch_result(c, 0, &err);
        return;
    }
    b->members = nm;
    member *m = &b->members[b->n++];
    m->call = c;
    snprintf(m->custom_id, sizeof m->custom_id, "%s", c->spec.batch_custom_id ? c->spec.batch_custom_id : "");
    if (hold_member(b, m, c) != 0) {
        b->n--;
        error_info err;
        error_clear(&err);
        error_set(&err, "out_of_memory", 0, "out of memory joining a batch");
        call_batch_result(c, 0, &err);
        return;
    }
    maybe_go(b);
}

/* Nobody in this process waits for the batch any more and the database can pick it up: its
 * poll timer and any poll in flight stop now, so neither outlives the engine holding its
 * reference (the process is usually about to exit: an interrupt). */
static void stop_polling(batch_job *b)
{
    b->state = DONE;
    batch_ref(b); /* b stays valid while its references go */
    if (b->timer) {
        loop_timer_cancel(b->e->loop, b->timer);
        b->timer = NULL;
        batch_unref(b); /* the timer's reference */
    }
    if (b->easy) {
        drop_transfer(b);
        batch_unref(b); /* the transfer's reference */
    }
    batch_unref(b);
}

void batch_member_finished(batch_job *b, api_call *c, const error_info *err)
{
    for (size_t i = 0; c && i < b->n; i++)
        if (b->members[i].call == c) { /* cancelled while it waited: the batch goes on */
            b->members[i].call = NULL;
            if (b->recorded && b->id[0] && (b->state == IN_PROGRESS || b->state == FETCHING)) {
                /* The API keeps processing it and the database can pick it up: an interrupted
                 * wait leaves the batch alone, and its result is logged once, by the pickup. */
                detach(b, c, call_result_error(c));
                if (live_members(b) == 0)
                    stop_polling(b);
                return;
            }
            if (b->state >= IN_PROGRESS)
                leave_reservation(b, c);
            /* The last one gone from a batch nothing else can pick up: the API need not
             * process (and bill) what nobody will read. */
            if (live_members(b) == 0 && (b->state == IN_PROGRESS || b->state == SUBMITTING) && !b->cancel_asked)
                (void)batch_cancel(b);
            return;
        }
    /* Finished before it joined: refused (budget, model) or cancelled; the batch is refused
     * whole, before anything is sent. */
    if (b->state != PREPARING)
        return;
    if (!b->refusal.type[0] && err && err->type[0]) {
        b->refusal = *err;
        if (c) /* a call: its custom id; without one, the caller's message names the request */
            snprintf(b->refusal.message, sizeof b->refusal.message, "the batch was refused whole: request %.64s: %.400s",
                     c->spec.batch_custom_id ? c->spec.batch_custom_id : "?", err->message);
        else
            snprintf(b->refusal.message, sizeof b->refusal.message, "the batch was refused whole: %.470s", err->message);
    }
    b->nfinished_early++;
    maybe_go(b);
}

static void cancelled(batch_job *b, int ok, const error_info *err)
{
    (void)ok, (void)err; /* refused or not, the polls see how the batch ends */
    if (b->state == IN_PROGRESS && !b->timer) {
        b->interval = BATCH_POLL_FIRST_S; /* it ends soon */
        schedule_poll(b);
    }
}

int batch_cancel(batch_job *b)
{
    if (b->state == PREPARING && b->ready) {
        b->cancel_asked = 1; /* waiting for its other parts: sent once its submission is answered */
        return 0;
    }
    if (b->state == PREPARING) {
        error_set(&b->refusal, "cancelled", 0, "the batch was cancelled before it was submitted");
        return 0;
    }
    if (b->state == SUBMITTING) {
        b->cancel_asked = 1; /* sent once the submission is answered (got_batch) */
        return 0;
    }
    if (b->state >= FETCHING || !b->id[0])
        return -1;
    b->cancel_asked = 1;
    if (b->easy)
        return 0; /* a poll is in flight; the cancel goes after it */
    char path[140];
    snprintf(path, sizeof path, "/%s/cancel", b->id);
    if (b->timer) {
        loop_timer_cancel(b->e->loop, b->timer);
        b->timer = NULL;
        batch_unref(b); /* the timer's reference; the caller holds one */
    }
    b->cancel_sent = 1;
    if (request(b, "POST", path, NULL, cancelled) != 0) {
        schedule_poll(b);
        return -1;
    }
    return 0;
}

/* ---- one request to the batch endpoints ---- */

static void api_reply(batch_job *b, int ok, const error_info *err)
{
    batch_api_fn done = b->api_done;
    b->api_done = NULL;
    if (done)
        done(b->api_ud, ok, b->http_status, b->reply.s ? b->reply.s : "", b->reply.len, err);
    batch_unref(b); /* the caller's reference: its answer has come */
}

batch_job *batch_api(nyx_engine *e, const char *method, const char *path, batch_api_fn done, void *ud)
{
    batch_job *b = batch_new(e, NULL, 0);
    if (!b)
        return NULL;
    b->state = DONE;
    b->api_done = done;
    b->api_ud = ud;
    if (request(b, method, path, NULL, api_reply) != 0) {
        batch_unref(b);
        return NULL;
    }
    return b;
}

void batch_api_cancel(batch_job *b)
{
    if (!b || !b->api_done)
        return;
    b->api_done = NULL; /* nobody is told any more */
    if (b->easy) {
        drop_transfer(b);
        batch_unref(b); /* the transfer's reference */
    }
    batch_unref(b); /* the caller's */
}
