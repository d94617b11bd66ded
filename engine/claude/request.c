/* Strings are attached to the cJSON tree as references, not copies: a prompt can be hundreds
 * of kilobytes and this runs on every call; the tree never outlives the request it points
 * into. Keys are constants (AddItemToObjectCS) for the same reason. */
#include "request.h"
#include "body.h"
#include "json_text.h"
#include "response.h"

#include "base/json_number.h"
#include "base/json_print.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define MAX_MARKS 4

#define fail(err, type, ...) error_fail(err, type, 0, __VA_ARGS__)

/* ---- validation ---- */

/* Cache marks in prefix order (tools, system, messages): the API allows 4 and wants every 1h
 * mark before any 5m one. */
typedef struct mark_state {
    int count;
    int seen_5m;
} mark_state;

/* Returns -1 when a 1h mark follows a 5m one. */
static int note_mark(mark_state *m, int is_1h)
{
    m->count++;
    if (is_1h)
        return m->seen_5m ? -1 : 0;
    m->seen_5m = 1;
    return 0;
}

/* A JSON block must be an object with a type; a thinking block cannot carry a cache mark
 * (the API refuses cache_control there). */
static int check_json_block(const claude_block *b, const char *where, error_info *err)
{
    cJSON *o = claude_json_parse(b->text, b->len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    int rc = 0;
    if (!cJSON_IsObject(o) || !cJSON_IsString(type) || !type->valuestring)
        rc = fail(err, "invalid_argument", "%s must be a JSON object with a type", where);
    else if (b->mark != NYX_MARK_NONE && (!strcmp(type->valuestring, "thinking") ||
                                          !strcmp(type->valuestring, "redacted_thinking")))
        rc = fail(err, "invalid_argument", "%s is a %s block, which cannot carry a cache mark",
                  where, type->valuestring);
    cJSON_Delete(o);
    return rc;
}

/* The name of a block, written only when one needs naming (every request checks its blocks):
 * "system[2]", "messages[1].content[0]". */
typedef struct block_name {
    char s[64];
    const char *list;
    size_t msg; /* (size_t)-1: the list is not a message's */
} block_name;

static const char *named(block_name *w, size_t j)
{
    if (w->msg == (size_t)-1)
        snprintf(w->s, sizeof w->s, "%s[%zu]", w->list, j);
    else
        snprintf(w->s, sizeof w->s, "%s[%zu].content[%zu]", w->list, w->msg, j);
    return w->s;
}

static int check_blocks(const claude_block *blocks, size_t n, const char *name, size_t msg,
                        mark_state *marks, error_info *err)
{
    block_name w = {.list = name, .msg = msg};
    for (size_t j = 0; j < n; j++) {
        const claude_block *b = &blocks[j];
        if (!b->text)
            return fail(err, "invalid_argument", "%s.text is missing", named(&w, j));
        if (memchr(b->text, '\0', b->len))
            return fail(err, "invalid_argument", "%s.text contains a NUL byte", named(&w, j));
        if (b->kind == NYX_BLOCK_JSON && check_json_block(b, named(&w, j), err))
            return -1;
        if (b->mark == NYX_MARK_NONE)
            continue;
        if (b->mark != NYX_MARK_5M && b->mark != NYX_MARK_1H)
            return fail(err, "invalid_argument", "%s.mark must be none, 5m or 1h, got %d", named(&w, j),
                        b->mark);
        if (note_mark(marks, b->mark == NYX_MARK_1H))
            return fail(err, "invalid_argument",
                        "%s has a 1h cache mark after a 5m mark (longer TTLs must come first)",
                        named(&w, j));
    }
    return 0;
}

/* Parses tools_json into *tools and counts the cache_control marks the tools carry. */
static int check_tools(const char *tools_json, cJSON **tools, mark_state *marks, error_info *err)
{
    *tools = NULL;
    if (!tools_json)
        return 0;
    cJSON *t = claude_json_parse(tools_json, strlen(tools_json));
    if (!t)
        return fail(err, "invalid_argument", "tools must be valid JSON");
    if (!cJSON_IsArray(t)) {
        cJSON_Delete(t);
        return fail(err, "invalid_argument", "tools must be a JSON array");
    }
    size_t i = 0;
    const cJSON *tool;
    cJSON_ArrayForEach(tool, t) {
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(tool, "cache_control");
        if (cJSON_IsObject(cc)) {
            const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(cc, "ttl");
            int is_1h = cJSON_IsString(ttl) && ttl->valuestring && !strcmp(ttl->valuestring, "1h");
            if (note_mark(marks, is_1h)) {
                cJSON_Delete(t);
                return fail(err, "invalid_argument",
                            "tools[%zu] has a 1h cache mark after a 5m mark", i);
            }
        }
        i++;
    }
    *tools = t;
    return 0;
}

/* The last tool, when it can take the policy's mark (one without a mark of its own). */
static cJSON *markable_tool(cJSON *tools)
{
    cJSON *last = tools ? cJSON_GetArrayItem(tools, cJSON_GetArraySize(tools) - 1) : NULL;
    return cJSON_IsObject(last) && !cJSON_GetObjectItemCaseSensitive(last, "cache_control") ? last
                                                                                           : NULL;
}

/* Objects passed through as they are must at least be JSON objects. */
static int check_object(const char *json, const char *field, error_info *err)
{
    if (!json)
        return 0;
    cJSON *o = claude_json_parse(json, strlen(json));
    int ok = cJSON_IsObject(o);
    cJSON_Delete(o);
    return ok ? 0 : fail(err, "invalid_argument", "%s must be a JSON object", field);
}

static int validate(const claude_request *req, cJSON **tools, error_info *err)
{
    *tools = NULL;
    if (!req)
        return fail(err, "invalid_argument", "request is missing");
    if (!req->model || !req->model[0])
        return fail(err, "invalid_argument", "model must be a non-empty string");
    if (req->max_tokens <= 0)
        return fail(err, "invalid_argument", "max_tokens must be a positive integer");
    if (req->temperature > 1.0)
        return fail(err, "invalid_argument", "temperature must be between 0 and 1");
    if (req->nmessages == 0 || !req->messages)
        return fail(err, "invalid_argument", "messages must contain at least one message");
    if (req->nsystem && !req->system)
        return fail(err, "invalid_argument", "system is missing but nsystem is %zu", req->nsystem);
    if (req->nstop && !req->stop_sequences)
        return fail(err, "invalid_argument", "stop_sequences is missing but nstop is %zu", req->nstop);
    for (size_t i = 0; i < req->nstop; i++)
        if (!req->stop_sequences[i])
            return fail(err, "invalid_argument", "stop_sequences[%zu] is missing", i);
    for (size_t i = 0; i < req->nmessages; i++) {
        const claude_message *m = &req->messages[i];
        if (m->role != NYX_ROLE_USER && m->role != NYX_ROLE_ASSISTANT)
            return fail(err, "invalid_argument", "messages[%zu].role must be user or assistant",
                        i);
        if (i == 0 && m->role != NYX_ROLE_USER)
            return fail(err, "invalid_argument", "messages[0].role must be user");
        if (m->nblocks == 0 || !m->blocks)
            return fail(err, "invalid_argument", "messages[%zu] must have at least one block", i);
    }

    if (check_object(req->tool_choice_json, "tool_choice", err) ||
        check_object(req->output_schema_json, "output", err))
        return -1;
    if (req->thinking == NYX_THINKING_BUDGET &&
        (req->thinking_budget < 1024 || req->thinking_budget >= req->max_tokens))
        return fail(err, "invalid_argument",
                    "thinking: a budget must be at least 1024 tokens and below max_tokens (%d), "
                    "got %d", req->max_tokens, req->thinking_budget);
    mark_state marks = {0, 0};
    if (check_tools(req->tools_json, tools, &marks, err))
        return -1;
    if (req->tools_mark != NYX_MARK_NONE && markable_tool(*tools) &&
        note_mark(&marks, req->tools_mark == NYX_MARK_1H)) {
        cJSON_Delete(*tools);
        *tools = NULL;
        return fail(err, "invalid_argument", "the last tool's 1h cache mark follows a 5m mark");
    }
    int rc = check_blocks(req->system, req->nsystem, "system", (size_t)-1, &marks, err);
    for (size_t i = 0; rc == 0 && i < req->nmessages; i++)
        rc = check_blocks(req->messages[i].blocks, req->messages[i].nblocks, "messages", i,
                          &marks, err);
    if (rc == 0 && req->top_level_cache) {
        const claude_message *last = &req->messages[req->nmessages - 1];
        marks.count++;
        if (last->blocks[last->nblocks - 1].mark == NYX_MARK_1H)
            rc = fail(err, "invalid_argument",
                      "top-level cache_control (5m) conflicts with the 1h mark on the last block");
    }
    if (rc == 0 && marks.count > MAX_MARKS)
        rc = fail(err, "invalid_argument",
                  "at most %d cache marks are allowed (tools, system, messages and top-level "
                  "cache_control together), got %d",
                  MAX_MARKS, marks.count);
    if (rc) {
        cJSON_Delete(*tools);
        *tools = NULL;
    }
    return rc;
}

int claude_tools_marks(const char *tools_json, size_t *ntools)
{
    cJSON *tools;
    mark_state marks = {0, 0};
    error_info err;
    *ntools = 0;
    if (check_tools(tools_json, &tools, &marks, &err))
        return -1;
    *ntools = tools ? (size_t)cJSON_GetArraySize(tools) : 0;
    cJSON_Delete(tools);
    return marks.count;
}

/* ---- building ---- */

/* Attaches item under a constant key; takes ownership of item either way. */
static int put(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToObjectCS(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int push(cJSON *arr, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static cJSON *cache_control(int is_1h)
{
    cJSON *cc = cJSON_CreateObject();
    if (!cc)
        return NULL;
    if (put(cc, "type", cJSON_CreateStringReference("ephemeral")) ||
        (is_1h && put(cc, "ttl", cJSON_CreateStringReference("1h")))) {
        cJSON_Delete(cc);
        return NULL;
    }
    return cc;
}

static cJSON *text_block(const claude_block *b, claude_json_texts *jt)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int marked = b->mark != NYX_MARK_NONE;
    if (put(o, "type", cJSON_CreateStringReference("text")) ||
        put(o, "text", claude_json_block_text(jt, b)) ||
        (marked && put(o, "cache_control", cache_control(b->mark == NYX_MARK_1H)))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A whole API block goes out byte for byte as given; a marked one gains its cache_control. */
static cJSON *json_block(const claude_block *b)
{
    if (b->mark == NYX_MARK_NONE)
        return cJSON_CreateRaw(b->text);
    cJSON *o = claude_json_parse(b->text, b->len);
    if (o && put(o, "cache_control", cache_control(b->mark == NYX_MARK_1H))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A lone unmarked text block is sent as a plain string, the shortest form the API accepts. */
static cJSON *content(const claude_block *blocks, size_t n, claude_json_texts *jt)
{
    if (n == 1 && blocks[0].mark == NYX_MARK_NONE && blocks[0].kind == NYX_BLOCK_TEXT)
        return claude_json_block_text(jt, &blocks[0]);
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const claude_block *b = &blocks[i];
        if (push(arr, b->kind == NYX_BLOCK_JSON ? json_block(b) : text_block(b, jt))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *messages(const claude_request *req, claude_json_texts *jt)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < req->nmessages; i++) {
        const claude_message *m = &req->messages[i];
        cJSON *msg = cJSON_CreateObject();
        if (push(arr, msg) ||
            put(msg, "role",
                cJSON_CreateStringReference(m->role == NYX_ROLE_USER ? "user" : "assistant")) ||
            put(msg, "content", content(m->blocks, m->nblocks, jt))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *stop_sequences(const claude_request *req)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < req->nstop; i++) {
        if (push(arr, cJSON_CreateStringReference(req->stop_sequences[i]))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *metadata(const claude_request *req)
{
    cJSON *o = cJSON_CreateObject();
    if (o && put(o, "user_id", cJSON_CreateStringReference(req->user_id))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *thinking(const claude_request *req)
{
    static const char *const types[] = {"", "adaptive", "enabled", "disabled"};
    cJSON *o = cJSON_CreateObject();
    if (o && (put(o, "type", cJSON_CreateStringReference(types[req->thinking])) ||
              (req->thinking == NYX_THINKING_BUDGET &&
               put(o, "budget_tokens", cJSON_CreateNumber(req->thinking_budget))))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* {"effort": ..., "format": {"type": "json_schema", "schema": ...}}, each when asked. */
static cJSON *output_config(const claude_request *req)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (req->effort && put(o, "effort", cJSON_CreateStringReference(req->effort))) {
        cJSON_Delete(o);
        return NULL;
    }
    if (req->output_schema_json) {
        cJSON *f = cJSON_CreateObject();
        if (put(o, "format", f) || put(f, "type", cJSON_CreateStringReference("json_schema")) ||
            put(f, "schema", cJSON_CreateRaw(req->output_schema_json))) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* Fills root in the documented key order; takes ownership of tools. */
static int fill(cJSON *root, const claude_request *req, cJSON *tools, claude_json_texts *jt)
{
    if (put(root, "model", cJSON_CreateStringReference(req->model)) ||
        put(root, "max_tokens", json_int(req->max_tokens)) ||
        (req->nsystem && put(root, "system", content(req->system, req->nsystem, jt))) ||
        put(root, "messages", messages(req, jt))) {
        cJSON_Delete(tools);
        return -1;
    }
    cJSON *last_tool = req->tools_mark != NYX_MARK_NONE ? markable_tool(tools) : NULL;
    if (last_tool && put(last_tool, "cache_control", cache_control(req->tools_mark == NYX_MARK_1H))) {
        cJSON_Delete(tools);
        return -1;
    }
    if (tools && put(root, "tools", tools))
        return -1;
    if ((req->tool_choice_json &&
         put(root, "tool_choice", cJSON_CreateRaw(req->tool_choice_json))) ||
        (req->thinking != NYX_THINKING_UNSET && put(root, "thinking", thinking(req))) ||
        ((req->effort || req->output_schema_json) && put(root, "output_config", output_config(req))))
        return -1;
    if ((req->temperature >= 0 && put(root, "temperature", cJSON_CreateNumber(req->temperature))) ||
        (req->nstop && put(root, "stop_sequences", stop_sequences(req))) ||
        (req->user_id && put(root, "metadata", metadata(req))) ||
        (req->stream && put(root, "stream", cJSON_CreateTrue())) ||
        (req->top_level_cache && put(root, "cache_control", cache_control(0))))
        return -1;
    return 0;
}

static char *build(const claude_request *req, claude_json_texts *jt, size_t *len, error_info *err)
{
    cJSON *tools;
    if (validate(req, &tools, err))
        return NULL;
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    if (!root)
        cJSON_Delete(tools);
    else if (fill(root, req, tools, jt) == 0)
        out = jt ? json_print_exact(root, claude_json_texts_scratch(jt), len) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!out) {
        fail(err, "out_of_memory", "out of memory building the request body");
        return NULL;
    }
    if (len && !jt)
        *len = strlen(out);
    return out;
}

char *claude_request_json(const claude_request *req, size_t *len, error_info *err)
{
    return build(req, NULL, len, err);
}

char *claude_request_json_memo(const claude_request *req, claude_json_texts *jt, size_t *len, error_info *err)
{
    return build(req, jt, len, err);
}

int claude_request_body(const claude_request *req, claude_json_texts *jt, claude_body *out, error_info *err)
{
    claude_json_texts_begin(jt);
    size_t len = 0;
    char *text = build(req, jt, &len, err);
    if (claude_json_texts_end(jt, text, len, out) != 0)
        return fail(err, "out_of_memory", "out of memory building the request body");
    return text ? 0 : -1;
}
