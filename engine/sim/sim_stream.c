#define _POSIX_C_SOURCE 200809L
/* SSE framing of a reply, in the shapes the real API sends, and the body faults. */
#include "sim_stream.h"
#include "base/array.h"
#include "base/json_print.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_faults.h"

#define TOKENS_PER_DELTA 3
#define DELTAS_PER_PING 16

void sim_body_free(sim_body *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->chunks[i].data);
    free(b->chunks);
    memset(b, 0, sizeof *b);
}

/* Takes ownership of data (freed here on failure). */
static int push(sim_body *b, char *data, size_t len, int64_t delay_us)
{
    if (!data)
        return -1;
    sim_chunk *nc = array_room(b->chunks, b->n, &b->cap, sizeof *nc, 16);
    if (!nc) {
        free(data);
        return -1;
    }
    b->chunks = nc;
    b->chunks[b->n++] = (sim_chunk){.data = data, .len = len, .delay_us = delay_us};
    return 0;
}

/* "event: <name>\ndata: <json>\n\n" from a cJSON object, which is deleted. */
static int push_event(sim_body *b, const char *name, cJSON *data, int64_t delay_us)
{
    char *json = data ? json_print(data) : NULL;
    cJSON_Delete(data);
    if (!json)
        return -1;
    size_t cap = strlen(name) + strlen(json) + sizeof "event: \ndata: \n\n";
    char *frame = malloc(cap);
    int len = frame ? snprintf(frame, cap, "event: %s\ndata: %s\n\n", name, json) : -1;
    cJSON_free(json);
    if (len < 0 || (size_t)len >= cap) {
        free(frame);
        return -1;
    }
    return push(b, frame, (size_t)len, delay_us);
}

static int push_raw(sim_body *b, const char *text, int64_t delay_us)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy)
        memcpy(copy, text, len + 1);
    return push(b, copy, len, delay_us);
}

static cJSON *typed(const char *type)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "type", type)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Adds item to o under key; on failure deletes both and returns NULL. */
static cJSON *with(cJSON *o, const char *key, cJSON *item)
{
    if (!o || !item || !cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(o);
        cJSON_Delete(item);
        return NULL;
    }
    return o;
}

static cJSON *with_number(cJSON *o, const char *key, double v)
{
    return with(o, key, cJSON_CreateNumber(v));
}

static cJSON *with_string(cJSON *o, const char *key, const char *s)
{
    return with(o, key, s ? cJSON_CreateString(s) : cJSON_CreateNull());
}

static cJSON *message_start(const char *id, const char *model, const sim_usage *u)
{
    cJSON *m = typed("message");
    m = with_string(m, "id", id);
    m = with_string(m, "role", "assistant");
    m = with_string(m, "model", model);
    m = with(m, "content", cJSON_CreateArray());
    m = with_string(m, "stop_reason", NULL);
    m = with_string(m, "stop_sequence", NULL);
    m = with(m, "usage", sim_usage_json(u, 1));
    return with(typed("message_start"), "message", m);
}

static cJSON *delta_event(int index, const char *type, const char *key, const char *text)
{
    cJSON *d = with_string(typed(type), key, text);
    return with(with_number(typed("content_block_delta"), "index", index), "delta", d);
}

static cJSON *text_delta(int index, const char *text)
{
    return delta_event(index, "text_delta", "text", text);
}

#define JSON_PIECE 12 /* bytes of tool input per input_json_delta */

/* A thinking or tool_use block: its start (the streamed field empty), the field in pieces,
 * a thinking block's signature, its stop. */
static int push_block(sim_body *b, int index, const cJSON *block)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "type");
    int thinking = cJSON_IsString(t) && !strcmp(t->valuestring, "thinking");
    cJSON *start = cJSON_Duplicate(block, 1);
    char *whole = NULL;
    if (!start)
        return -1;
    if (thinking) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(block, "thinking");
        whole = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
        cJSON_ReplaceItemInObjectCaseSensitive(start, "thinking", cJSON_CreateString(""));
        cJSON_DeleteItemFromObjectCaseSensitive(start, "signature");
    } else {
        char *printed = json_print(cJSON_GetObjectItemCaseSensitive(block, "input"));
        whole = printed ? strdup(printed) : NULL; /* cJSON's allocator may be the host's */
        cJSON_free(printed);
        cJSON_ReplaceItemInObjectCaseSensitive(start, "input", cJSON_CreateObject());
    }
    cJSON *ev = with(with_number(typed("content_block_start"), "index", index), "content_block", start);
    int rc = whole ? push_event(b, "content_block_start", ev, 0) : (cJSON_Delete(ev), -1);
    size_t len = whole ? strlen(whole) : 0;
    for (size_t at = 0; rc == 0 && at < len; at += JSON_PIECE) {
        char piece[JSON_PIECE + 1];
        size_t n = len - at < JSON_PIECE ? len - at : JSON_PIECE;
        memcpy(piece, whole + at, n);
        piece[n] = '\0';
        rc = push_event(b, "content_block_delta",
                        thinking ? delta_event(index, "thinking_delta", "thinking", piece)
                                 : delta_event(index, "input_json_delta", "partial_json", piece),
                        0);
    }
    free(whole);
    if (rc == 0 && thinking) {
        const cJSON *sig = cJSON_GetObjectItemCaseSensitive(block, "signature");
        rc = push_event(b, "content_block_delta",
                        delta_event(index, "signature_delta", "signature",
                                    cJSON_IsString(sig) ? sig->valuestring : ""),
                        0);
    }
    if (rc == 0)
        rc = push_event(b, "content_block_stop", with_number(typed("content_block_stop"), "index", index), 0);
    return rc;
}

static cJSON *message_delta(const sim_reply *rep, const sim_usage *u)
{
    cJSON *d = cJSON_CreateObject();
    d = with_string(d, "stop_reason", rep->stop_reason);
    d = with_string(d, "stop_sequence", rep->stop_sequence);
    cJSON *usage = cJSON_CreateObject();
    usage = with_number(usage, "input_tokens", (double)u->input_tokens);
    usage = with_number(usage, "cache_creation_input_tokens", (double)u->cache_creation);
    usage = with_number(usage, "cache_read_input_tokens", (double)u->cache_read);
    usage = with_number(usage, "output_tokens", (double)rep->output_tokens);
    return with(with(typed("message_delta"), "delta", d), "usage", usage);
}

static cJSON *overloaded(void)
{
    cJSON *e = with_string(typed("overloaded_error"), "message", "Overloaded");
    return with(typed("error"), "error", e);
}

static int build_events(sim_body *b, const char *id, const char *model, const sim_reply *rep,
                        const sim_usage *u, int malformed, int64_t ttft_us, double token_us)
{
    if (push_event(b, "message_start", message_start(id, model, u), ttft_us))
        return -1;
    int index = 0;
    for (const cJSON *blk = rep->before ? rep->before->child : NULL; blk; blk = blk->next)
        if (push_block(b, index++, blk))
            return -1;
    int with_text = rep->len > 0 || !rep->after;
    cJSON *start = with(with_number(typed("content_block_start"), "index", index), "content_block",
                        with_string(typed("text"), "text", ""));
    if (!with_text)
        cJSON_Delete(start);
    else if (push_event(b, "content_block_start", start, 0) ||
             push_event(b, "ping", typed("ping"), 0))
        return -1;
    size_t at = 0;
    for (int k = 0; at < rep->len; k++) {
        size_t n = sim_token_prefix(rep->text + at, rep->len - at, TOKENS_PER_DELTA);
        int64_t ntok = sim_count_tokens(rep->text + at, n);
        char piece[256];
        char *text = n < sizeof piece ? piece : malloc(n + 1);
        if (!text)
            return -1;
        memcpy(text, rep->text + at, n);
        text[n] = '\0';
        int64_t delay = (int64_t)(token_us * (double)ntok);
        int rc;
        if (malformed && k == 0)
            rc = push_raw(b,
                          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                          "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"As\n\n",
                          delay);
        else
            rc = push_event(b, "content_block_delta", text_delta(index, text), delay);
        if (text != piece)
            free(text);
        if (rc)
            return -1;
        if (k > 0 && k % DELTAS_PER_PING == 0 && push_event(b, "ping", typed("ping"), 0))
            return -1;
        at += n;
    }
    if (with_text) {
        cJSON *stop = with_number(typed("content_block_stop"), "index", index++);
        if (push_event(b, "content_block_stop", stop, 0))
            return -1;
    }
    for (const cJSON *blk = rep->after ? rep->after->child : NULL; blk; blk = blk->next)
        if (push_block(b, index++, blk))
            return -1;
    if (push_event(b, "message_delta", message_delta(rep, u), 0) ||
        push_event(b, "message_stop", typed("message_stop"), 0))
        return -1;
    return 0;
}

int sim_body_stream(sim_body *b, const char *id, const char *model, const sim_reply *rep,
                    const sim_usage *u, int fault, int64_t after_events, double ttft_ms,
                    double token_ms)
{
    memset(b, 0, sizeof *b);
    b->declared_len = -1;
    int64_t ttft_us = (int64_t)(ttft_ms * 1000.0);
    int rc;
    if (fault == SIM_FAULT_STREAM_ERROR)
        rc = push_event(b, "message_start", message_start(id, model, u), ttft_us) ||
             push_event(b, "error", overloaded(), 0);
    else
        rc = build_events(b, id, model, rep, u, fault == SIM_FAULT_MALFORMED, ttft_us,
                          token_ms * 1000.0);
    if (rc) {
        sim_body_free(b);
        return -1;
    }
    if (fault == SIM_FAULT_CUT) {
        size_t keep = after_events >= 0 ? (size_t)after_events : b->n / 2;
        if (keep > b->n - 1) /* never message_stop */
            keep = b->n - 1;
        while (b->n > keep)
            free(b->chunks[--b->n].data);
        b->fail_at_end = 1;
    }
    return 0;
}

void sim_body_stall(sim_body *b, int64_t after_events, int64_t hang_ms)
{
    if (b->n == 0)
        return;
    size_t at = after_events >= 0 ? (size_t)after_events : b->n / 2;
    if (at > b->n - 1)
        at = b->n - 1;
    b->chunks[at].delay_us += hang_ms >= 0 ? hang_ms * 1000 : INT64_C(86400000000);
}

int sim_body_message(sim_body *b, const char *id, const char *model, const sim_reply *rep,
                     const sim_usage *u, int fault)
{
    memset(b, 0, sizeof *b);
    char *json = sim_json_message(id, model, rep, u);
    if (!json)
        return -1;
    size_t len = strlen(json);
    b->declared_len = (int64_t)len;
    if (fault == SIM_FAULT_MALFORMED) {
        /* A body that stops inside the content: the length is right, the JSON is not. */
        char *p = strstr(json, "\"text\":\"");
        len = p ? (size_t)(p - json) + 10 : len / 2;
        if (len > strlen(json))
            len = strlen(json) / 2;
        json[len] = '\0';
        b->declared_len = (int64_t)len;
    } else if (fault == SIM_FAULT_CUT) {
        len /= 2;
        b->fail_at_end = 1;
    }
    if (push(b, json, len, 0)) {
        sim_body_free(b);
        return -1;
    }
    return 0;
}
