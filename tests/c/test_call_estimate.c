/* call_estimate (core/call.h): the request a call of a spec would send, built by what call_start
 * runs, and the worst case its budget reservation computes, without sending, reserving or
 * recording anything. Calls to the in-process simulator; no time is asserted. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
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

static claude_block text_block(const char *text)
{
    claude_block b = {0};
    b.text = strdup(text);
    b.len = b.text ? strlen(text) : 0;
    b.kind = NYX_BLOCK_TEXT;
    return b;
}

/* A persona's call: a shared context (marked by the script, as a council marks it), an
 * instruction after it, a question; extra: a third system block. */
static void persona_spec(call_spec *spec, const char *session, int max_tokens, int extra)
{
    call_spec_init(spec);
    char context[6000];
    size_t n = 0;
    while (n + 64 < sizeof context)
        n += (size_t)snprintf(context + n, sizeof context - n, "Revenue \"%zu\" grew in the north.\n", n);
    spec->req.nsystem = extra ? 3 : 2;
    spec->req.system = calloc(spec->req.nsystem, sizeof *spec->req.system);
    claude_message *m = calloc(1, sizeof *m);
    REQUIRE(spec->req.system && m);
    spec->req.system[0] = text_block(context);
    spec->req.system[0].mark = NYX_MARK_5M;
    spec->req.system[1] = text_block("You are the CFO. Answer from that role's point of view.");
    if (extra)
        spec->req.system[2] = text_block("Answer in one paragraph.");
    m->role = NYX_ROLE_USER;
    m->blocks = calloc(1, sizeof *m->blocks);
    REQUIRE(m->blocks);
    m->blocks[0] = text_block("Caf\xc3\xa9 or tea?");
    m->nblocks = 1;
    spec->req.messages = m;
    spec->req.nmessages = 1;
    spec->req.single_prompt = 1;
    spec->req.max_tokens = max_tokens;
    spec->req.temperature = -1;
    spec->session = session ? strdup(session) : NULL;
}

static double last_amount;
static size_t last_bytes;

/* Calls spec, keeping what its budget reserved and its body's size in last_amount and last_bytes,
 * and runs it to its end. 1 when it was reserved and answered. */
static int reserved_for(nyx_engine *e, call_spec *spec)
{
    int finished = 0;
    error_info err;
    error_clear(&err);
    api_call *c = call_start(e, spec, call_done, &finished, &err);
    if (!c) {
        fprintf(stderr, "call_start: %s\n", err.message);
        call_spec_free(spec);
        return 0;
    }
    for (int i = 0; i < 2000 && !c->reserved && !finished; i++)
        if (nyx_poll(e, 1) < 0)
            break;
    int reserved = c->reserved && c->budget;
    last_amount = reserved ? c->budget->req.amount_usd : -1;
    last_bytes = c->body_len;
    for (int i = 0; i < 2000 && !finished; i++)
        if (nyx_poll(e, 10) < 0)
            break;
    int ok = reserved && finished && c->result.status == NYX_STATUS_OK;
    call_free(c);
    return ok;
}

/* The estimate of a spec, and what the engine reserves when the same spec is called. */
static void equals_reservation(nyx_engine *e)
{
    CHECK_INT(budget_set_limit_per(e, "session:est", 100.0, -1), 0);
    call_spec spec;
    persona_spec(&spec, "est", 300, 0);
    call_bound b;
    error_info err;
    error_clear(&err);
    REQUIRE(call_estimate(e, &spec, 0, &b, &err) == 0);
    CHECK_STR(b.model, e->cfg.default_model); /* the default, as call_start gives it */
    CHECK(b.priced && b.worst_case_usd > 0 && b.max_tokens == 300);
    CHECK(b.input_tokens_max > b.input_tokens && b.input_tokens > 1000);
    CHECK(e->calls == NULL); /* nothing in flight */
    call_spec_free(&spec);

    /* Estimated again: the same (nothing was learned, reserved or written). */
    call_bound again;
    persona_spec(&spec, "est", 300, 0);
    REQUIRE(call_estimate(e, &spec, 0, &again, &err) == 0);
    CHECK(again.worst_case_usd == b.worst_case_usd && again.body_bytes == b.body_bytes);
    call_spec_free(&spec);

    /* At batch prices: less (the model's batch factor of the same). */
    persona_spec(&spec, "est", 300, 0);
    REQUIRE(call_estimate(e, &spec, 1, &again, &err) == 0);
    CHECK(again.worst_case_usd < b.worst_case_usd && again.body_bytes == b.body_bytes);
    call_spec_free(&spec);

    /* Called: reserved as estimated. Each call calibrates the estimate of tokens from its usage,
     * and the estimate of the next follows: estimated again just before, still what is reserved. */
    double first = b.worst_case_usd;
    for (int k = 0; k < 2; k++) {
        if (k > 0) {
            persona_spec(&spec, "est", 300, 0);
            REQUIRE(call_estimate(e, &spec, 0, &b, &err) == 0);
            call_spec_free(&spec);
            CHECK(b.worst_case_usd < first); /* calibrated: 2 bytes a token bounded it before */
        }
        persona_spec(&spec, "est", 300, 0);
        CHECK_INT(reserved_for(e, &spec), 1);
        CHECK_INT((long)last_bytes, (long)b.body_bytes);
        CHECK(last_amount == b.worst_case_usd);
    }

    /* A request that is not the one estimated (a system block more) reserves more than the
     * estimate made just before it. */
    persona_spec(&spec, "est", 300, 0);
    REQUIRE(call_estimate(e, &spec, 0, &b, &err) == 0);
    call_spec_free(&spec);
    persona_spec(&spec, "est", 300, 1);
    CHECK_INT(reserved_for(e, &spec), 1);
    CHECK(last_amount > b.worst_case_usd);
}

/* A spec the call would refuse: the estimate fails with the call's own error, and the spec
 * stays the caller's. */
static void refuses_as_the_call_does(nyx_engine *e)
{
    call_spec spec;
    persona_spec(&spec, NULL, 2000000, 0);
    call_bound b;
    error_info est, start;
    error_clear(&est);
    error_clear(&start);
    CHECK_INT(call_estimate(e, &spec, 0, &b, &est), -1);
    int finished = 0;
    CHECK(call_start(e, &spec, call_done, &finished, &start) == NULL);
    CHECK_STR(est.type, start.type);
    CHECK_STR(est.message, start.message);
    CHECK_CONTAINS(est.message, "max_tokens");
    call_spec_free(&spec);
}

int main(void)
{
    nyx_engine *e = open_sim_engine("5");
    REQUIRE_OR(e != NULL, 1);
    equals_reservation(e);
    refuses_as_the_call_does(e);
    nyx_close(e);
    return check_failures;
}
