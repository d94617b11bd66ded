/* The deterministic reply and the JSON bodies around it. The text echoes the request so a
 * test can tell replies apart ("As <persona>, regarding <topic>: ..."), and its length in
 * tokens is picked by the prompt hash, then cut by max_tokens and the stop sequences. */
#include "sim_core.h"

#include "base/json_print.h"
#include "base/textbuf.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define MIN_REPLY 20
#define SPAN_REPLY 181 /* 20..200 tokens */

/* Words of at most 5 letters: " word" is exactly one token, so the body can be built to an
 * exact length. */
static const char *const vocab[] = {
    "the", "cache", "model", "reply", "token", "plan", "shows", "that", "this", "we",
    "can", "keep", "a", "clear", "short", "stable", "prefix", "input", "rate", "limit",
    "cost", "is", "low", "and", "so", "each", "call", "reads", "write", "once",
    "then", "fan", "out", "in", "order", "with", "care", "it", "holds", "when",
    "text", "stays", "same", "for", "every", "turn", "our", "goal", "fits", "well",
    "here", "note", "also", "more", "less", "time", "saved", "users", "see", "fast"};
#define NVOCAB (sizeof vocab / sizeof vocab[0])

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int build_text(const sim_req *r, int64_t target, textbuf *b)
{
    textbuf_puts(b, "As ");
    textbuf_puts(b, r->persona ? r->persona : "your assistant");
    textbuf_puts(b, ", regarding ");
    textbuf_puts(b, r->topic ? r->topic : "your request");
    textbuf_puts(b, ":");
    if (b->failed)
        return -1;
    int64_t used = sim_count_tokens(b->s, b->len);
    if (used + 2 > target) {
        b->len = sim_token_prefix(b->s, b->len, target);
        b->s[b->len] = '\0';
        return 0;
    }
    uint64_t rng = r->hash;
    int64_t units = target - used - 1; /* the final "." is the last token */
    int in_sentence = 0, sentence_len = 6 + (int)(splitmix(&rng) % 8), after_word = 0;
    for (int64_t k = 0; k < units; k++) {
        int64_t left = units - k - 1; /* units after this one */
        if (after_word && left >= 1 && in_sentence >= sentence_len) {
            textbuf_puts(b, ".");
            in_sentence = 0;
            sentence_len = 6 + (int)(splitmix(&rng) % 8);
            after_word = 0;
            continue;
        }
        if (after_word && left >= 1 && in_sentence >= 3 && splitmix(&rng) % 9 == 0) {
            textbuf_puts(b, ",");
            after_word = 0;
            continue;
        }
        char word[8];
        const char *w = vocab[splitmix(&rng) % NVOCAB];
        size_t n = strlen(w);
        word[0] = ' ';
        memcpy(word + 1, w, n);
        if (in_sentence == 0 && k > 0)
            word[1] = (char)(word[1] - 'a' + 'A');
        textbuf_put(b, word, n + 1);
        in_sentence++;
        after_word = 1;
    }
    textbuf_puts(b, ".");
    return b->failed ? -1 : 0;
}

int sim_reply_make(const sim_req *r, sim_reply *out)
{
    textbuf b = {0};
    memset(out, 0, sizeof *out);
    int64_t target = MIN_REPLY + (int64_t)(r->hash % SPAN_REPLY);
    if (build_text(r, target, &b)) {
        free(b.s);
        return -1;
    }
    size_t len = b.len;
    out->stop_reason = "end_turn";
    if (r->max_tokens > 0 && r->max_tokens < sim_count_tokens(b.s, b.len)) {
        len = sim_token_prefix(b.s, b.len, r->max_tokens);
        out->stop_reason = "max_tokens";
    }
    /* The earliest stop sequence generated within the max_tokens cut wins. */
    const char *best = NULL;
    size_t best_at = 0;
    for (size_t i = 0; i < r->nstops; i++) {
        const char *hit = strstr(b.s, r->stops[i]);
        if (!hit)
            continue;
        size_t at = (size_t)(hit - b.s);
        if (at + strlen(r->stops[i]) <= len && (!best || at < best_at)) {
            best = r->stops[i];
            best_at = at;
        }
    }
    if (best) {
        out->output_tokens = sim_count_tokens(b.s, best_at + strlen(best));
        len = best_at;
        out->stop_reason = "stop_sequence";
        size_t n = strlen(best);
        if (!(out->stop_sequence = malloc(n + 1))) {
            free(b.s);
            return -1;
        }
        memcpy(out->stop_sequence, best, n + 1);
    } else {
        out->output_tokens = sim_count_tokens(b.s, len);
    }
    b.s[len] = '\0';
    out->text = b.s;
    out->len = len;
    return 0;
}

void sim_reply_free(sim_reply *rep)
{
    if (!rep)
        return;
    free(rep->text);
    free(rep->stop_sequence);
    cJSON_Delete(rep->before);
    cJSON_Delete(rep->after);
    memset(rep, 0, sizeof *rep);
}

/* ---- JSON ---- */

/* Prints into a malloc'd copy: cJSON's allocator may be hooked by the host. */
char *sim_json_print(cJSON *o)
{
    char *s = o ? json_print(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy)
        memcpy(copy, s, n + 1);
    cJSON_free(s);
    return copy;
}

char *sim_json_error(const char *type, const char *message, const char *request_id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_CreateObject();
    if (!o || !e || !cJSON_AddStringToObject(o, "type", "error") ||
        !cJSON_AddItemToObject(o, "error", e)) {
        cJSON_Delete(o);
        cJSON_Delete(e);
        return NULL;
    }
    if (!cJSON_AddStringToObject(e, "type", type) ||
        !cJSON_AddStringToObject(e, "message", message) ||
        (request_id && !cJSON_AddStringToObject(o, "request_id", request_id))) {
        cJSON_Delete(o);
        return NULL;
    }
    return sim_json_print(o);
}

cJSON *sim_usage_json(const sim_usage *u, int64_t output_tokens)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *cc = cJSON_CreateObject();
    if (!o || !cc) {
        cJSON_Delete(o);
        cJSON_Delete(cc);
        return NULL;
    }
    int ok = cJSON_AddNumberToObject(o, "input_tokens", (double)u->input_tokens) &&
             cJSON_AddNumberToObject(o, "cache_creation_input_tokens",
                                     (double)u->cache_creation) &&
             cJSON_AddNumberToObject(o, "cache_read_input_tokens", (double)u->cache_read);
    if (!ok || !cJSON_AddItemToObject(o, "cache_creation", cc)) {
        cJSON_Delete(o);
        cJSON_Delete(cc);
        return NULL;
    }
    ok = cJSON_AddNumberToObject(cc, "ephemeral_5m_input_tokens", (double)u->cache_write_5m) &&
         cJSON_AddNumberToObject(cc, "ephemeral_1h_input_tokens", (double)u->cache_write_1h) &&
         cJSON_AddNumberToObject(o, "output_tokens", (double)output_tokens) &&
         cJSON_AddStringToObject(o, "service_tier", u->tier ? u->tier : "standard") &&
         (!u->speed || cJSON_AddStringToObject(o, "speed", u->speed)) &&
         (!u->geo || cJSON_AddStringToObject(o, "inference_geo", u->geo));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Appends copies of blocks' items to content. */
static int append_blocks(cJSON *content, const cJSON *blocks)
{
    for (const cJSON *b = blocks ? blocks->child : NULL; b; b = b->next) {
        cJSON *copy = cJSON_Duplicate(b, 1);
        if (!copy || !cJSON_AddItemToArray(content, copy)) {
            cJSON_Delete(copy);
            return 0;
        }
    }
    return 1;
}

char *sim_json_message(const char *id, const char *model, const sim_reply *rep,
                       const sim_usage *u)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *content = cJSON_CreateArray();
    cJSON *block = cJSON_CreateObject();
    cJSON *usage = sim_usage_json(u, rep->output_tokens);
    int ok = o && content && block && usage && append_blocks(content, rep->before);
    /* A reply of tool calls only has no text block. */
    int with_text = rep->len > 0 || !rep->after;
    if (ok && with_text)
        ok = cJSON_AddStringToObject(block, "type", "text") &&
             cJSON_AddStringToObject(block, "text", rep->text) &&
             cJSON_AddItemToArray(content, block);
    if (ok && with_text)
        block = NULL;
    if (ok)
        ok = append_blocks(content, rep->after);
    if (ok)
        ok = cJSON_AddStringToObject(o, "id", id) &&
             cJSON_AddStringToObject(o, "type", "message") &&
             cJSON_AddStringToObject(o, "role", "assistant") &&
             cJSON_AddStringToObject(o, "model", model) &&
             cJSON_AddItemToObject(o, "content", content);
    if (ok)
        content = NULL;
    if (ok)
        ok = cJSON_AddStringToObject(o, "stop_reason", rep->stop_reason) &&
             (rep->stop_sequence
                  ? cJSON_AddStringToObject(o, "stop_sequence", rep->stop_sequence) != NULL
                  : cJSON_AddNullToObject(o, "stop_sequence") != NULL) &&
             cJSON_AddItemToObject(o, "usage", usage);
    if (ok)
        usage = NULL;
    cJSON_Delete(block);
    cJSON_Delete(content);
    cJSON_Delete(usage);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return sim_json_print(o);
}
