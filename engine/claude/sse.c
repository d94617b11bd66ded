#include "sse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "response.h"

struct claude_stream {
    claude_response *out;
    claude_stream_hooks hooks;
    size_t text_cap;
    char *line; /* a line split across chunks */
    size_t line_len, line_cap;
    char *data; /* data lines of the current event, joined with \n */
    size_t data_len, data_cap;
    int has_data;
    char event[32]; /* event name; longer names cannot be ours and stay unknown */
    int event_state; /* 0 none, 1 set, 2 too long */
    int last_cr;     /* the previous chunk ended in \r: a leading \n completes that line break */
    int first_line;  /* a UTF-8 BOM may precede it */
    int stopped, failed;
    /* Content blocks as they are assembled: the open block's streamed field (text, thinking
     * or a tool's partial JSON input) grows in acc and is set once, at content_block_stop. */
    cJSON *content;
    cJSON *open_block; /* inside content, or NULL between blocks */
    const char *acc_field;
    char *acc;
    size_t acc_len, acc_cap;
    error_info error; /* returned again by every call after a failure */
};

/* ---- buffers ---- */

/* Appends and keeps buf NUL-terminated. */
static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (n >= (size_t)-1 - *len - 1)
        return -1;
    size_t need = *len + n + 1;
    if (need > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < need)
            c = c > ((size_t)-1) / 2 ? need : c * 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = c;
    }
    if (n)
        memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int fail_stream(claude_stream *s, error_info *err, const char *type, const char *msg,
                       const char *event)
{
    error_clear(&s->error);
    if (event)
        error_set(&s->error, type, 0, "%s '%s'", msg, event);
    else
        error_set(&s->error, type, 0, "%s", msg);
    s->failed = 1;
    *err = s->error;
    return -1;
}

static int oom(claude_stream *s, error_info *err)
{
    return fail_stream(s, err, "out_of_memory", "out of memory reading the response stream", NULL);
}

/* ---- events ---- */

static int add_text(claude_stream *s, const char *text, size_t n, error_info *err)
{
    if (n == 0)
        return 0;
    claude_response *o = s->out;
    if (append(&o->text, &o->text_len, &s->text_cap, text, n))
        return oom(s, err);
    if (s->hooks.on_text)
        s->hooks.on_text(s->hooks.ud, text, n);
    return 0;
}

/* Replaces *field with a copy of the string item (NULL for null); absent leaves it. */
static int set_string(char **field, const cJSON *item)
{
    if (!item)
        return 0;
    char *copy = NULL;
    if (cJSON_IsString(item) && item->valuestring) {
        size_t n = strlen(item->valuestring) + 1;
        if (!(copy = malloc(n)))
            return -1;
        memcpy(copy, item->valuestring, n);
    } else if (!cJSON_IsNull(item)) {
        return 0;
    }
    free(*field);
    *field = copy;
    return 0;
}

static int usage_event(claude_stream *s, const cJSON *usage, int replace_only_present,
                       const char *event, error_info *err)
{
    if (!usage || cJSON_IsNull(usage))
        return 0;
    error_info e;
    if (claude_usage_read(usage, &s->out->usage, replace_only_present, event, &e)) {
        s->error = e;
        s->failed = 1;
        *err = e;
        return -1;
    }
    return 0;
}

/* Sets obj's member key to value (taking it), replacing the one there or adding one where the
 * block came without it; 0 only when memory ran out (value then still the caller's). */
static int put_member(cJSON *obj, const char *key, cJSON *value)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key) ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value)
                                                      : cJSON_AddItemToObject(obj, key, value);
}

static int on_message_start(claude_stream *s, const cJSON *root, error_info *err)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (!cJSON_IsObject(msg))
        return fail_stream(s, err, "api_error", "malformed SSE event", "message_start");
    if (set_string(&s->out->id, cJSON_GetObjectItemCaseSensitive(msg, "id")) ||
        set_string(&s->out->model, cJSON_GetObjectItemCaseSensitive(msg, "model")))
        return oom(s, err);
    if (usage_event(s, cJSON_GetObjectItemCaseSensitive(msg, "usage"), 0, "message_start", err))
        return -1;
    if (s->hooks.on_start)
        s->hooks.on_start(s->hooks.ud);
    return 0;
}

static int is_type(const cJSON *obj, const char *type)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) && t->valuestring && strcmp(t->valuestring, type) == 0;
}

static int accumulate(claude_stream *s, const char *p, size_t n, error_info *err)
{
    if (append(&s->acc, &s->acc_len, &s->acc_cap, p, n))
        return oom(s, err);
    return 0;
}

/* The field a block's deltas extend, and whether it holds JSON text to parse at the end. */
static const char *streamed_field(const cJSON *block, int *is_json)
{
    *is_json = 0;
    if (is_type(block, "text"))
        return "text";
    if (is_type(block, "thinking"))
        return "thinking";
    if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(block, "input"))) {
        *is_json = 1; /* tool_use, server_tool_use: input streams as partial JSON */
        return "input";
    }
    return NULL;
}

/* The event's block itself becomes the response's: taken out of the event, not copied. */
static int on_block_start(claude_stream *s, cJSON *root, error_info *err)
{
    cJSON *block = cJSON_GetObjectItemCaseSensitive(root, "content_block");
    if (!cJSON_IsObject(block))
        return fail_stream(s, err, "api_error", "malformed SSE event (no content_block)",
                           "content_block_start");
    cJSON_DetachItemViaPointer(root, block);
    if (!cJSON_AddItemToArray(s->content, block)) {
        cJSON_Delete(block);
        return oom(s, err);
    }
    s->open_block = block;
    s->acc_len = 0;
    int is_json;
    s->acc_field = streamed_field(block, &is_json);
    if (s->acc_field && !is_json) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(block, s->acc_field);
        const char *start = cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
        if (accumulate(s, start, strlen(start), err))
            return -1;
        if (is_type(block, "text"))
            return add_text(s, start, strlen(start), err);
    }
    return 0;
}

/* A citation of the open text block: the API sends each in a delta of its own, and an answer
 * in one piece lists them in the block's citations, where they go here in the order they came
 * (as the SDKs assemble them). */
static int add_citation(claude_stream *s, const cJSON *delta, error_info *err)
{
    const cJSON *citation = cJSON_GetObjectItemCaseSensitive(delta, "citation");
    if (!cJSON_IsObject(citation))
        return fail_stream(s, err, "api_error", "malformed SSE event (citations_delta without citation)",
                           "content_block_delta");
    if (!s->open_block)
        return 0;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(s->open_block, "citations");
    if (!cJSON_IsArray(list)) { /* absent or null at the block's start */
        cJSON *fresh = cJSON_CreateArray();
        int ok = fresh && put_member(s->open_block, "citations", fresh);
        if (!ok) {
            cJSON_Delete(fresh);
            return oom(s, err);
        }
        list = fresh;
    }
    cJSON *copy = cJSON_Duplicate(citation, 1);
    if (!copy || !cJSON_AddItemToArray(list, copy)) {
        cJSON_Delete(copy);
        return oom(s, err);
    }
    return 0;
}

static int on_block_delta(claude_stream *s, const cJSON *root, error_info *err)
{
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
    if (is_type(delta, "citations_delta"))
        return add_citation(s, delta, err);
    static const struct {
        const char *type, *key;
    } kinds[] = {{"text_delta", "text"},
                 {"thinking_delta", "thinking"},
                 {"input_json_delta", "partial_json"},
                 {"signature_delta", "signature"}};
    size_t k = 0;
    while (k < sizeof kinds / sizeof kinds[0] && !is_type(delta, kinds[k].type))
        k++;
    if (k == sizeof kinds / sizeof kinds[0]) /* kinds newer than this code */
        return 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(delta, kinds[k].key);
    if (!cJSON_IsString(v) || !v->valuestring) {
        char what[80];
        snprintf(what, sizeof what, "malformed SSE event (%s without %s)", kinds[k].type,
                 kinds[k].key);
        return fail_stream(s, err, "api_error", what, "content_block_delta");
    }
    size_t n = strlen(v->valuestring);
    if (k == 3) { /* one signature per thinking block, whole */
        if (!s->open_block)
            return 0;
        cJSON *sig = cJSON_CreateString(v->valuestring);
        int ok = sig && put_member(s->open_block, "signature", sig);
        if (!ok) {
            cJSON_Delete(sig);
            return oom(s, err);
        }
        return 0;
    }
    if (s->open_block && s->acc_field && accumulate(s, v->valuestring, n, err))
        return -1;
    if (k == 0)
        return add_text(s, v->valuestring, n, err);
    if (k == 1 && s->hooks.on_thinking && n)
        s->hooks.on_thinking(s->hooks.ud, v->valuestring, n);
    return 0;
}

/* The block is complete: its streamed field is set, a tool input parsed from its pieces (a
 * partial JSON text never leaves this parser). */
static int on_block_stop(claude_stream *s, error_info *err)
{
    cJSON *b = s->open_block;
    s->open_block = NULL;
    if (!b || !s->acc_field)
        return 0;
    cJSON *value;
    if (!strcmp(s->acc_field, "input")) {
        if (s->acc_len == 0)
            return 0; /* no pieces: the input given at the start stands */
        value = claude_json_parse(s->acc, s->acc_len);
        if (!cJSON_IsObject(value)) {
            cJSON_Delete(value);
            return fail_stream(s, err, "api_error", "malformed SSE event (tool input is not a "
                               "JSON object)", "content_block_stop");
        }
    } else {
        value = cJSON_CreateString(s->acc);
    }
    /* A text or thinking block may start without its field ({"type":"text"}): it is added,
     * where a replacement of nothing failed and read as memory running out. */
    if (!value || !put_member(b, s->acc_field, value)) {
        cJSON_Delete(value);
        return oom(s, err);
    }
    return 0;
}

/* The blocks assembled so far become the response's, as they are (printed only if ever
 * needed, response_content_json). What a broken stream might send after message_stop goes
 * into a fresh array, never into the response's blocks. */
static int on_message_stop(claude_stream *s, error_info *err)
{
    if (s->stopped) /* a second stop: the blocks of the first are the reply's */
        return 0;
    s->stopped = 1;
    cJSON *fresh = cJSON_CreateArray();
    if (!fresh)
        return oom(s, err);
    cJSON_Delete(s->out->content);
    free(s->out->content_json);
    s->out->content_json = NULL;
    s->out->content = s->content;
    s->content = fresh;
    s->open_block = NULL;
    return 0;
}

static int on_message_delta(claude_stream *s, const cJSON *root, error_info *err)
{
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
    if (cJSON_IsObject(delta) &&
        (set_string(&s->out->stop_reason, cJSON_GetObjectItemCaseSensitive(delta, "stop_reason")) ||
         set_string(&s->out->stop_sequence,
                    cJSON_GetObjectItemCaseSensitive(delta, "stop_sequence"))))
        return oom(s, err);
    /* Running totals: they replace what message_start said, never add to it. */
    return usage_event(s, cJSON_GetObjectItemCaseSensitive(root, "usage"), 1, "message_delta",
                       err);
}

static int handle(claude_stream *s, const char *name, error_info *err)
{
    static const char *const parsed[] = {"message_start", "content_block_start",
                                         "content_block_delta", "content_block_stop",
                                         "message_delta", "message_stop", "error"};
    int known = 0;
    for (size_t i = 0; name && i < sizeof parsed / sizeof parsed[0]; i++)
        known |= strcmp(name, parsed[i]) == 0;
    if (name && !known) /* ping, and event types newer than this code */
        return 0;

    cJSON *root = claude_json_parse(s->data, s->data_len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail_stream(s, err, "api_error", "malformed JSON in SSE event",
                           name ? name : "(unnamed)");
    }
    if (!name) { /* no event: line; the payload's type names it */
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
        name = cJSON_IsString(t) && t->valuestring ? t->valuestring : "";
    }
    int rc = 0;
    if (!strcmp(name, "message_start")) {
        rc = on_message_start(s, root, err);
    } else if (!strcmp(name, "content_block_start")) {
        rc = on_block_start(s, root, err);
    } else if (!strcmp(name, "content_block_delta")) {
        rc = on_block_delta(s, root, err);
    } else if (!strcmp(name, "message_delta")) {
        rc = on_message_delta(s, root, err);
    } else if (!strcmp(name, "content_block_stop")) {
        rc = on_block_stop(s, err);
    } else if (!strcmp(name, "message_stop")) {
        rc = on_message_stop(s, err);
    } else if (!strcmp(name, "error")) {
        claude_error_from_json(root, &s->error);
        s->failed = 1;
        *err = s->error;
        rc = -1;
    }
    cJSON_Delete(root);
    return rc;
}

/* ---- lines ---- */

static int dispatch(claude_stream *s, error_info *err)
{
    int rc = 0;
    if (s->has_data && s->event_state != 2)
        rc = handle(s, s->event_state == 1 ? s->event : NULL, err);
    s->data_len = 0;
    s->has_data = 0;
    s->event_state = 0;
    return rc;
}

static int too_big(claude_stream *s, size_t more)
{
    return s->line_len + s->data_len + more > CLAUDE_SSE_MAX_EVENT;
}

static int process_line(claude_stream *s, const char *p, size_t n, error_info *err)
{
    if (s->first_line) {
        s->first_line = 0;
        if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;
            n -= 3;
        }
    }
    if (n == 0)
        return dispatch(s, err);
    if (p[0] == ':') /* comment */
        return 0;
    const char *colon = memchr(p, ':', n);
    size_t flen = colon ? (size_t)(colon - p) : n;
    const char *v = colon ? colon + 1 : p + n;
    size_t vlen = n - (size_t)(v - p);
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    if (flen == 5 && memcmp(p, "event", 5) == 0) {
        if (vlen == 0) {
            s->event_state = 0;
        } else if (vlen < sizeof s->event) {
            memcpy(s->event, v, vlen);
            s->event[vlen] = '\0';
            s->event_state = 1;
        } else {
            s->event_state = 2;
        }
    } else if (flen == 4 && memcmp(p, "data", 4) == 0) {
        if (too_big(s, vlen + 1))
            return fail_stream(s, err, "api_error", "SSE event larger than 16 MiB", NULL);
        if ((s->has_data && append(&s->data, &s->data_len, &s->data_cap, "\n", 1)) ||
            append(&s->data, &s->data_len, &s->data_cap, v, vlen))
            return oom(s, err);
        s->has_data = 1;
    }
    return 0; /* id:, retry: and unknown fields mean nothing here */
}

claude_stream *claude_stream_new(claude_response *out, const claude_stream_hooks *hooks)
{
    if (!out)
        return NULL;
    claude_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->out = out;
    if (hooks)
        s->hooks = *hooks;
    s->first_line = 1;
    error_clear(&s->error);
    if (!(s->content = cJSON_CreateArray())) {
        free(s);
        return NULL;
    }
    if (out->text) {
        s->text_cap = out->text_len + 1;
    } else if (append(&out->text, &out->text_len, &s->text_cap, "", 0)) {
        cJSON_Delete(s->content);
        free(s);
        return NULL;
    }
    return s;
}

static int no_stream(error_info *err)
{
    error_clear(err);
    error_set(err, "invalid_argument", 0, "stream is missing");
    return -1;
}

int claude_stream_feed(claude_stream *s, const char *data, size_t len, error_info *err)
{
    if (!s)
        return no_stream(err);
    if (s->failed) {
        *err = s->error;
        return -1;
    }
    if (!data)
        len = 0;
    const char *p = data, *end = data + len;
    if (s->last_cr && p < end) {
        s->last_cr = 0;
        if (*p == '\n')
            p++;
    }
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '\n' && *q != '\r')
            q++;
        if (q == end) {
            if (too_big(s, (size_t)(end - p)))
                return fail_stream(s, err, "api_error", "SSE event larger than 16 MiB", NULL);
            if (append(&s->line, &s->line_len, &s->line_cap, p, (size_t)(end - p)))
                return oom(s, err);
            break;
        }
        int rc;
        if (s->line_len) {
            if (too_big(s, (size_t)(q - p)))
                return fail_stream(s, err, "api_error", "SSE event larger than 16 MiB", NULL);
            if (append(&s->line, &s->line_len, &s->line_cap, p, (size_t)(q - p)))
                return oom(s, err);
            size_t n = s->line_len;
            s->line_len = 0; /* before processing, so the event-size check sees only data */
            rc = process_line(s, s->line, n, err);
        } else {
            rc = process_line(s, p, (size_t)(q - p), err);
        }
        if (rc)
            return -1;
        if (s->hooks.stopped && s->hooks.stopped(s->hooks.ud))
            return 0;
        if (*q == '\r') {
            if (q + 1 == end)
                s->last_cr = 1;
            else if (q[1] == '\n')
                q++;
        }
        p = q + 1;
    }
    return 0;
}

int claude_stream_finish(claude_stream *s, error_info *err)
{
    if (!s)
        return no_stream(err);
    if (s->failed) {
        *err = s->error;
        return -1;
    }
    if (!s->stopped) {
        error_clear(err);
        error_set(err, "network_error", 0, "stream ended before message_stop");
        err->retryable = 1;
        return -1;
    }
    return 0;
}


void claude_stream_free(claude_stream *s)
{
    if (!s)
        return;
    free(s->line);
    free(s->data);
    free(s->acc);
    cJSON_Delete(s->content);
    free(s);
}
