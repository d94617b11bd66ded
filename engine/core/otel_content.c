/* The GenAI conventions' content attributes from an Anthropic request and reply. Messages
 * become {"role", "parts"}; a text block a "text" part, tool_use a "tool_call" (id, name,
 * arguments), tool_result a "tool_call_response" (id, response), thinking a "reasoning" part;
 * another block (an image, a document, redacted thinking) only its type, never its data. The
 * reply is one assistant message with the API's stop_reason as its finish_reason, as the span's
 * gen_ai.response.finish_reasons has it. Only the texts are redacted and cut, never the
 * structure (roles, types, ids, tool names), so the JSON stays whole. */
#include "otel_content.h"

#include "base/json_print.h"
#include "guard/scan.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int otel_content_wanted(const char *value)
{
    static const char *const on[] = {"true", "1", "yes", "on", "span_only", "span_and_event"};
    static const char *const off[] = {"", "false", "0", "no", "off", "no_content", "event_only"};
    if (!value)
        return 0;
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++)
        if (strcasecmp(value, on[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
        if (strcasecmp(value, off[i]) == 0)
            return 0;
    return -1;
}

typedef struct builder {
    int redact;
    size_t left; /* bytes of text the attribute may still carry */
    int oom;
} builder;

#define TRUNCATED "[truncated]"

/* The text as exported: redacted first (so a cut never leaves half a finding to be missed),
 * then cut to what the attribute has left, at the start of a UTF-8 character. */
static cJSON *text_item(builder *b, const char *s)
{
    char *redacted = NULL;
    size_t len = strlen(s);
    if (b->redact && guard_scan(s, len, NULL, NULL) > 0) {
        if (!(redacted = guard_redact(s, len, &len))) {
            b->oom = 1;
            return NULL;
        }
        s = redacted;
    }
    cJSON *item = NULL;
    if (len <= b->left) {
        b->left -= len;
        item = cJSON_CreateString(s);
    } else {
        size_t cut = b->left;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
        char *copy = malloc(cut + sizeof TRUNCATED);
        if (copy) {
            memcpy(copy, s, cut);
            memcpy(copy + cut, TRUNCATED, sizeof TRUNCATED);
            item = cJSON_CreateString(copy);
            free(copy);
        }
        b->left = 0;
    }
    free(redacted);
    if (!item)
        b->oom = 1;
    return item;
}

/* A copy of a JSON value whose every string (values, not keys: a tool's input schema names
 * the keys) is a text as text_item makes it. */
static cJSON *value_copy(builder *b, const cJSON *v)
{
    if (cJSON_IsString(v))
        return text_item(b, v->valuestring);
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
        cJSON *copy = cJSON_Duplicate(v, 0);
        if (!copy)
            b->oom = 1;
        return copy;
    }
    cJSON *copy = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!copy) {
        b->oom = 1;
        return NULL;
    }
    const cJSON *child;
    cJSON_ArrayForEach(child, v) {
        cJSON *c = value_copy(b, child);
        if (!c) {
            cJSON_Delete(copy);
            return NULL;
        }
        /* Adding to an object copies the key, which can fail: the value is then left out. */
        if (!(cJSON_IsArray(v) ? cJSON_AddItemToArray(copy, c) : cJSON_AddItemToObject(copy, child->string, c))) {
            cJSON_Delete(c);
            cJSON_Delete(copy);
            b->oom = 1;
            return NULL;
        }
    }
    return copy;
}

static const char *string_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_string(builder *b, cJSON *obj, const char *key, const char *value)
{
    if (value && !cJSON_AddStringToObject(obj, key, value))
        b->oom = 1;
}

static void add_item(builder *b, cJSON *obj, const char *key, cJSON *item)
{
    if (!item || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        b->oom = 1;
    }
}

static cJSON *text_part(builder *b, const char *type, const char *text)
{
    cJSON *p = cJSON_CreateObject();
    if (!p) {
        b->oom = 1;
        return NULL;
    }
    add_string(b, p, "type", type);
    add_item(b, p, "content", text_item(b, text));
    return p;
}

static cJSON *block_part(builder *b, const cJSON *block)
{
    const char *type = string_of(block, "type");
    if (!type)
        type = "unknown";
    if (strcmp(type, "text") == 0 && string_of(block, "text"))
        return text_part(b, "text", string_of(block, "text"));
    if (strcmp(type, "thinking") == 0 && string_of(block, "thinking"))
        return text_part(b, "reasoning", string_of(block, "thinking"));
    cJSON *p = cJSON_CreateObject();
    if (!p) {
        b->oom = 1;
        return NULL;
    }
    if (strcmp(type, "tool_use") == 0 || strcmp(type, "server_tool_use") == 0) {
        add_string(b, p, "type", "tool_call");
        add_string(b, p, "id", string_of(block, "id"));
        add_string(b, p, "name", string_of(block, "name"));
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
        if (input)
            add_item(b, p, "arguments", value_copy(b, input));
    } else if (strcmp(type, "tool_result") == 0) {
        add_string(b, p, "type", "tool_call_response");
        add_string(b, p, "id", string_of(block, "tool_use_id"));
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(block, "content");
        if (content)
            add_item(b, p, "response", value_copy(b, content));
    } else {
        add_string(b, p, "type", type); /* its data stays out */
    }
    return p;
}

/* A message's content (a string or blocks) as parts. */
static cJSON *parts_of(builder *b, const cJSON *content)
{
    cJSON *parts = cJSON_CreateArray();
    if (!parts) {
        b->oom = 1;
        return NULL;
    }
    if (cJSON_IsString(content)) {
        cJSON *p = text_part(b, "text", content->valuestring);
        if (p)
            cJSON_AddItemToArray(parts, p);
    } else {
        const cJSON *block;
        cJSON_ArrayForEach(block, content) {
            cJSON *p = block_part(b, block);
            if (p)
                cJSON_AddItemToArray(parts, p);
        }
    }
    return parts;
}

static char *print(builder *b, cJSON *doc)
{
    char *text = doc && !b->oom ? json_print(doc) : NULL;
    if (doc && !text)
        b->oom = 1;
    cJSON_Delete(doc);
    return text;
}

static char *system_of(builder *b, const cJSON *req)
{
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(req, "system");
    if (!system || !(cJSON_IsString(system) || cJSON_IsArray(system)))
        return NULL;
    return print(b, parts_of(b, system));
}

static char *input_of(builder *b, const cJSON *req)
{
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(req, "messages");
    if (!cJSON_IsArray(messages))
        return NULL;
    cJSON *out = cJSON_CreateArray();
    if (!out) {
        b->oom = 1;
        return NULL;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        cJSON *msg = cJSON_CreateObject();
        if (!msg) {
            b->oom = 1;
            break;
        }
        cJSON_AddItemToArray(out, msg);
        add_string(b, msg, "role", string_of(m, "role") ? string_of(m, "role") : "user");
        add_item(b, msg, "parts", parts_of(b, cJSON_GetObjectItemCaseSensitive(m, "content")));
    }
    return print(b, out);
}

static char *output_of(builder *b, const claude_response *resp)
{
    cJSON *content = resp->content; /* the reply's blocks as parsed */
    cJSON *out = cJSON_CreateArray(), *msg = cJSON_CreateObject();
    if (!out || !msg) {
        cJSON_Delete(out);
        cJSON_Delete(msg);
        b->oom = 1;
        return NULL;
    }
    cJSON_AddItemToArray(out, msg);
    add_string(b, msg, "role", "assistant");
    if (cJSON_IsArray(content)) {
        add_item(b, msg, "parts", parts_of(b, content));
    } else { /* the blocks are unknown: the text is what there is */
        cJSON *text = cJSON_CreateString(resp->text ? resp->text : "");
        add_item(b, msg, "parts", text ? parts_of(b, text) : NULL);
        cJSON_Delete(text);
    }
    add_string(b, msg, "finish_reason", resp->stop_reason ? resp->stop_reason : "");
    return print(b, out);
}

int otel_content_build(const char *body, const claude_response *resp, int redact, otel_content *out)
{
    *out = (otel_content){NULL, NULL, NULL};
    cJSON *req = body ? cJSON_Parse(body) : NULL;
    builder b = {redact, OTEL_CONTENT_MAX, 0};
    if (req) {
        out->system = system_of(&b, req);
        b.left = OTEL_CONTENT_MAX;
        out->input = input_of(&b, req);
        cJSON_Delete(req);
    } else if (body && body[0]) {
        b.oom = 1; /* a body nyx wrote itself parses: only memory can fail */
    }
    if (resp && !b.oom) {
        b.left = OTEL_CONTENT_MAX;
        out->output = output_of(&b, resp);
    }
    if (b.oom) {
        otel_content_free(out);
        return -1;
    }
    return 0;
}

void otel_content_free(otel_content *c)
{
    free(c->system);
    free(c->input);
    free(c->output);
    *c = (otel_content){NULL, NULL, NULL};
}
