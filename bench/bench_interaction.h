/* The interaction the storage benchmarks write: a real call's fields, with 3 KB of prompt
 * and response text. Shared by bench_store (SQLite) and bench_pg (PostgreSQL), so their
 * figures compare like with like. */
#ifndef NYX_BENCH_INTERACTION_H
#define NYX_BENCH_INTERACTION_H

#include <string.h>

#include "store/store.h"

static char prompt[2048], response[1024];

/* A record with this id; bench_texts() must have filled the texts. */
static interaction_rec bench_interaction(const char *id)
{
    interaction_rec it;
    memset(&it, 0, sizeof it);
    it.id = id;
    it.session = "bench";
    it.agent = "engineer";
    it.thought_id = 1;
    it.template_name = "summarize";
    it.template_version = 3;
    it.request_id = "req_011CXYZabcdefghijklmnop";
    it.model_requested = "claude-haiku-5-5";
    it.model_served = "claude-haiku-5-5";
    it.provider = "anthropic";
    it.usage.input_tokens = 12;
    it.usage.output_tokens = 250;
    it.usage.cache_read_input_tokens = 4096;
    it.has_cost = 1;
    it.cost_usd = 0.0016;
    it.cost_without_cache_usd = 0.0053;
    it.saved_usd = 0.0037;
    it.ttfb_ms = 180;
    it.latency_ms = 950;
    it.attempts = 1;
    it.attempts_json = "[{\"status\":200,\"ms\":950}]";
    it.status = "ok";
    it.stop_reason = "end_turn";
    it.cache_hit = 1;
    it.prompt_text = prompt;
    it.response_text = response;
    return it;
}

static void bench_texts(void)
{
    memset(prompt, 'p', sizeof prompt - 1);
    memset(response, 'r', sizeof response - 1);
}

#endif
