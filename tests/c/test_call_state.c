/* What a call holds (core/call_internal.h). A call is held once for each call in flight, a
 * thousand at once in a busy script, so what it rarely needs is made only when it needs it:
 * its budget (scopes, reservation) only when a budget applies, why its routes failed only when
 * one does, an attempt's error only when a callback aborts the transfer, its own error only when
 * it fails; and the bytes of its reply go once they are parsed, not when the call is freed. A
 * call let go is kept for the next (at most CALLS_KEPT; none under AddressSanitizer,
 * base/pooling.h), which starts from nothing of it. Calls to the in-process simulator; no time
 * is asserted. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "base/pooling.h"
#include "core/budget.h"
#include "core/call_internal.h"
#include "sim_engine.h"

#include <stdlib.h>
#include <string.h>

static void call_done(api_call *c, void *ud)
{
    (void)c;
    *(int *)ud = 1;
}

/* A call of one short question, in session (NULL: none). */
static api_call *start(nyx_engine *e, const char *session, int *finished)
{
    call_spec spec;
    call_spec_init(&spec);
    spec.req.max_tokens = 16;
    spec.req.temperature = -1;
    claude_message *m = calloc(1, sizeof *m);
    claude_block *b = calloc(1, sizeof *b);
    char *text = strdup("Where is order 7919?");
    char *s = session ? strdup(session) : NULL;
    if (!m || !b || !text || (session && !s)) {
        free(m), free(b), free(text), free(s);
        return NULL;
    }
    b->text = text;
    b->len = strlen(text);
    b->kind = NYX_BLOCK_TEXT;
    m->role = NYX_ROLE_USER;
    m->blocks = b;
    m->nblocks = 1;
    spec.req.messages = m;
    spec.req.nmessages = 1;
    spec.session = s;
    error_info err = cleared_error();
    *finished = 0;
    api_call *c = call_start(e, &spec, call_done, finished, &err);
    if (!c) {
        fprintf(stderr, "call_start: %s: %s\n", err.type, err.message);
        call_spec_free(&spec);
    }
    return c;
}

/* Turns the loop until flag is set (or a bound of turns); 1 when it was. */
static int poll_until(nyx_engine *e, const int *flag)
{
    for (int i = 0; i < 2000 && !*flag; i++)
        if (nyx_poll(e, 10) < 0)
            return 0;
    return *flag;
}

/* The call's attempts, a JSON array with an entry appended per attempt: what the record stores. */
static void attempt_log(api_call *c)
{
    cJSON *log = cJSON_Parse(c->attempts.s);
    CHECK(cJSON_GetArraySize(log) == 1);
    const cJSON *a = cJSON_GetArrayItem(log, 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "model")), c->result.model_requested);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "status")) == 200);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "outcome")), "ok");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a, "ms")));
    CHECK(c->headers.request_id[0] != '\0'); /* the simulator names its requests */
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "request_id")), c->headers.request_id);
    CHECK(cJSON_GetObjectItemCaseSensitive(a, "sent_again_by_libcurl") == NULL);
    cJSON_Delete(log);
    size_t first = c->attempts.len;
    char *before = strdup(c->attempts.s);
    REQUIRE(before != NULL);

    error_info err;
    error_set(&err, "overloaded_error", 0, "busy");
    call_record_attempt(c, 529, &err);
    call_request_resent(c);
    log = cJSON_Parse(c->attempts.s);
    CHECK(cJSON_GetArraySize(log) == 3);
    CHECK(strncmp(c->attempts.s, before, first - 1) == 0); /* the first entry as it was */
    a = cJSON_GetArrayItem(log, 1);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "status")) == 529);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "outcome")), "overloaded_error");
    CHECK(cJSON_GetObjectItemCaseSensitive(a, "sent_again_by_libcurl") == NULL);
    a = cJSON_GetArrayItem(log, 2);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "status")) == 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "outcome")), "network_error");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "sent_again_by_libcurl")));
    cJSON_Delete(log);
    free(before);
}

/* No budget applies: none is made, before, during and after the call. */
static void without_budget(nyx_engine *e)
{
    int finished = 0;
    api_call *c = start(e, NULL, &finished);
    REQUIRE(c != NULL);
    CHECK(c->budget == NULL);
    int in_transfer = 0;
    for (int i = 0; i < 2000 && !finished && !in_transfer; i++) {
        CHECK(nyx_poll(e, 1) >= 0);
        in_transfer = c->easy != NULL;
    }
    CHECK(in_transfer);
    CHECK(c->budget == NULL);
    CHECK(c->route_errors == NULL);
    CHECK(c->attempt_err == NULL);
    CHECK(poll_until(e, &finished));
    CHECK_INT(c->result.status, NYX_STATUS_OK);
    CHECK(c->result.resp.text != NULL && c->result.resp.text_len > 0);
    /* The reply is parsed: its buffer is gone, before the owner has even seen the result, back
     * to the engine's for the next call with the request body's (freed under AddressSanitizer). */
    CHECK(c->reply.s == NULL);
    CHECK(c->reply.cap == 0);
    CHECK(c->body == NULL && c->body_room.s == NULL);
    CHECK(NYX_POOLING ? e->buffers.n > 0 : e->buffers.n == 0);
    CHECK(c->budget == NULL);
    CHECK(c->attempt_err == NULL);
    CHECK(c->result.err == NULL);
    CHECK_STR(call_outcome_error(&c->result)->type, "");
    attempt_log(c);
    call_free(c);
}

/* A call that fails (here cancelled in flight) has its error, made then. */
static void failed(nyx_engine *e)
{
    int finished = 0;
    api_call *c = start(e, NULL, &finished);
    REQUIRE(c != NULL);
    CHECK(c->result.err == NULL);
    call_cancel(c, "the test stops it");
    CHECK(poll_until(e, &finished));
    CHECK_INT(c->result.status, NYX_STATUS_CANCELLED);
    CHECK(c->result.err != NULL);
    CHECK_STR(call_outcome_error(&c->result)->type, "cancelled");
    CHECK(strstr(call_outcome_error(&c->result)->message, "the test stops it") != NULL);
    call_free(c);
}

/* A session with a budget: the call gets one, reserves in it, and settles. */
static void with_budget(nyx_engine *e)
{
    CHECK_INT(budget_set_limit_per(e, "session:state", 5.0, -1), 0);
    int finished = 0;
    api_call *c = start(e, "state", &finished);
    REQUIRE(c != NULL);
    CHECK(poll_until(e, &finished));
    CHECK_INT(c->result.status, NYX_STATUS_OK);
    CHECK(c->budget != NULL);
    if (c->budget) {
        CHECK_INT((int)c->budget->scopes.n, 1);
        CHECK_STR(c->budget->scopes.names[0], "session:state");
        /* the copy's scope names its own name */
        CHECK(c->budget->scopes.scopes[0].scope == c->budget->scopes.names[0]);
        CHECK(c->budget->reservation[0] != '\0');
    }
    CHECK_INT(c->reserved, 0); /* settled with its record */
    call_free(c);
}

/* The next call is made in the memory of the last one let go (here one with a budget, reserved
 * and settled), and holds nothing of it. */
static void reused(nyx_engine *e)
{
    size_t idle = e->nidle_calls;
    api_call *kept = e->idle_calls;
    if (!NYX_POOLING) { /* freed, so a stale pointer to a call is reported */
        CHECK(idle == 0 && kept == NULL);
        return;
    }
    CHECK(idle > 0 && kept != NULL);
    int finished = 0;
    api_call *c = start(e, NULL, &finished);
    REQUIRE(c != NULL);
    CHECK(c == kept);
    CHECK_INT((long)e->nidle_calls, (long)idle - 1);
    CHECK(c->budget == NULL);
    CHECK(c->spec.session == NULL);
    CHECK(c->result.err == NULL);
    CHECK(c->result.resp.text == NULL);
    CHECK(poll_until(e, &finished));
    CHECK_INT(c->result.status, NYX_STATUS_OK);
    CHECK(c->budget == NULL);
    CHECK_INT((long)c->result.attempts, 1);
    call_free(c);
    CHECK_INT((long)e->nidle_calls, (long)idle);
    CHECK(e->idle_calls == c);
}

int main(void)
{
    /* 4 KB of fields a thousand times is 4 MB of a process that should stay under 40: a call is
     * 1.8 KB now (4.6 KB when its budget, route errors and errors were its own). */
    CHECK(sizeof(struct api_call) < 2400);

    nyx_engine *e = open_sim_engine("20");
    REQUIRE_OR(e != NULL, 1);
    without_budget(e);
    failed(e);
    with_budget(e);
    reused(e);
    without_budget(e); /* in reused memory */
    nyx_close(e);
    return check_failures;
}
