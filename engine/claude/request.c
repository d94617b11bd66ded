/* Strings are attached to the cJSON tree as references, not copies: a prompt can be hundreds
 * of kilobytes and this runs on every call; the tree never outlives the request it points
 * into. Keys are constants (AddItemToObjectCS) for the same reason. */
#include "request.h"
#include "body.h"
#include "json_text.h"
#include "response.h"

#include "base/json_arena.h"
#include "base/json_number.h"
#include "base/json_print.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
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
    size_t msg;  /* (size_t)-1: the list is not a message's */
    size_t base; /* the request's index_base */
} block_name;

static const char *named(block_name *w, size_t j)
{
    if (w->msg == (size_t)-1)
        snprintf(w->s, sizeof w->s, "%s[%zu]", w->list, j + w->base);
    else
        snprintf(w->s, sizeof w->s, "%s[%zu].content[%zu]", w->list, w->msg + w->base, j + w->base);
    return w->s;
}

static int check_blocks(const claude_block *blocks, size_t n, const char *name, size_t msg,
                        size_t base, mark_state *marks, error_info *err)
{
    block_name w = {.list = name, .msg = msg, .base = base};
    for (size_t j = 0; j < n; j++) {
        const claude_block *b = &blocks[j];
        if (!b->text)
            return fail(err, "invalid_argument", "%s.text is missing", named(&w, j));
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

/* A tool's name and its place in the list. */
typedef struct named_tool {
    const char *name;
    size_t at;
} named_tool;

static int by_name_then_place(const void *a, const void *b)
{
    const named_tool *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* The first tool, in list order, whose name an earlier one has: *again its place and *first
 * the earliest one's, with 1; 0 when every name is once, -1 when out of memory. The names are
 * sorted, not compared pair by pair, which took a list of 20,000 tools 7.6 s. */
static int name_twice(const cJSON *tools, size_t *first, size_t *again)
{
    size_t n = 0, at = 0;
    for (const cJSON *tool = tools->child; tool; tool = tool->next)
        n += cJSON_IsString(cJSON_GetObjectItemCaseSensitive(tool, "name"));
    if (n < 2)
        return 0;
    named_tool *names = malloc(n * sizeof *names);
    if (!names)
        return -1;
    n = 0;
    for (const cJSON *tool = tools->child; tool; tool = tool->next, at++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(tool, "name");
        if (cJSON_IsString(name))
            names[n++] = (named_tool){name->valuestring, at};
    }
    qsort(names, n, sizeof *names, by_name_then_place);
    int found = 0;
    for (size_t k = 1, start = 0; k < n; k++) {
        if (strcmp(names[k].name, names[start].name) != 0) {
            start = k;
        } else if (k == start + 1 && (!found || names[k].at < *again)) {
            *first = names[start].at; /* the second of a name, after its first */
            *again = names[k].at;
            found = 1;
        }
    }
    free(names);
    return found;
}

/* Parses tools_json into *tools and counts the cache_control marks the tools carry. */
static int check_tools(const char *tools_json, size_t base, cJSON **tools, mark_state *marks,
                       error_info *err)
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
    /* The API refuses a list naming a tool twice (400 "tools: Tool names must be unique"),
     * after the round trip; two definitions of one name (a host's tool and a script's, say)
     * are found here instead, where the list reaches the second. */
    size_t first = 0, again = 0;
    int twice = name_twice(t, &first, &again);
    if (twice < 0) {
        cJSON_Delete(t);
        return fail(err, "out_of_memory", "out of memory");
    }
    size_t i = 0;
    const cJSON *tool;
    cJSON_ArrayForEach(tool, t) {
        if (twice && i == again) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(tool, "name");
            int rc = fail(err, "invalid_argument", "the tools name \"%.64s\" twice (tools[%zu] and tools[%zu]): "
                          "the API takes each tool name once", name->valuestring, first + base, i + base);
            cJSON_Delete(t);
            return rc;
        }
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(tool, "cache_control");
        if (cJSON_IsObject(cc)) {
            const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(cc, "ttl");
            int is_1h = cJSON_IsString(ttl) && ttl->valuestring && !strcmp(ttl->valuestring, "1h");
            if (note_mark(marks, is_1h)) {
                cJSON_Delete(t);
                return fail(err, "invalid_argument",
                            "tools[%zu] has a 1h cache mark after a 5m mark", i + base);
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
    size_t base = req->index_base == 1; /* lists counted from 1 for a Lua script */
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
            return fail(err, "invalid_argument", "stop_sequences[%zu] is missing", i + base);
    for (size_t i = 0; i < req->nmessages; i++) {
        const claude_message *m = &req->messages[i];
        if (m->role != NYX_ROLE_USER && m->role != NYX_ROLE_ASSISTANT)
            return fail(err, "invalid_argument", "messages[%zu].role must be user or assistant",
                        i + base);
        if (i == 0 && m->role != NYX_ROLE_USER)
            return fail(err, "invalid_argument", "messages[%zu].role must be user", base);
        if (m->nblocks == 0 || !m->blocks)
            return fail(err, "invalid_argument", "messages[%zu] must have at least one block", i + base);
    }

    if (!req->text_checked && claude_request_check_text(req, err))
        return -1;
    if (check_object(req->tool_choice_json, "tool_choice", err) ||
        check_object(req->output_schema_json, "output", err))
        return -1;
    if (req->thinking == NYX_THINKING_BUDGET &&
        (req->thinking_budget < 1024 || req->thinking_budget >= req->max_tokens))
        return fail(err, "invalid_argument",
                    "thinking: a budget must be at least 1024 tokens and below max_tokens (%d), "
                    "got %d", req->max_tokens, req->thinking_budget);
    mark_state marks = {0, 0};
    if (check_tools(req->tools_json, base, tools, &marks, err))
        return -1;
    if (req->tools_mark != NYX_MARK_NONE && markable_tool(*tools) &&
        note_mark(&marks, req->tools_mark == NYX_MARK_1H)) {
        cJSON_Delete(*tools);
        *tools = NULL;
        return fail(err, "invalid_argument", "the last tool's 1h cache mark follows a 5m mark");
    }
    int rc = check_blocks(req->system, req->nsystem, "system", (size_t)-1, base, &marks, err);
    for (size_t i = 0; rc == 0 && i < req->nmessages; i++)
        rc = check_blocks(req->messages[i].blocks, req->messages[i].nblocks, "messages", i, base,
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
    if (check_tools(tools_json, 0, &tools, &marks, &err))
        return -1;
    *ntools = tools ? (size_t)cJSON_GetArraySize(tools) : 0;
    cJSON_Delete(tools);
    return marks.count;
}

/* ---- building ---- */

/* The tree is made of the arena's nodes (base/json_arena.h): no node is allocated on its own
 * and none is deleted on a failure; the arena is reset once the body is printed. The only
 * trees cJSON allocates are those parsed from the caller's JSON (the tools, a marked JSON
 * block), which the arena owns. */

/* Attaches item under a constant key. */
static int put(cJSON *obj, const char *key, cJSON *item)
{
    return item && cJSON_AddItemToObjectCS(obj, key, item) ? 0 : -1;
}

static int push(cJSON *arr, cJSON *item)
{
    return item && cJSON_AddItemToArray(arr, item) ? 0 : -1;
}

static cJSON *cache_control(json_arena *a, int is_1h)
{
    cJSON *cc = json_arena_node(a, cJSON_Object, NULL);
    if (!cc || put(cc, "type", json_arena_node(a, cJSON_String, "ephemeral")) ||
        (is_1h && put(cc, "ttl", json_arena_node(a, cJSON_String, "1h"))))
        return NULL;
    return cc;
}

/* A cache mark added to a tree cJSON owns (a parsed block, the last tool) is cJSON's own too,
 * deleted with it. */
static int mark_owned(cJSON *tree, int is_1h)
{
    cJSON *cc = cJSON_CreateObject();
    if (!cc || !cJSON_AddStringToObject(cc, "type", "ephemeral") ||
        (is_1h && !cJSON_AddStringToObject(cc, "ttl", "1h")) ||
        !cJSON_AddItemToObjectCS(tree, "cache_control", cc)) {
        cJSON_Delete(cc);
        return -1;
    }
    return 0;
}

static cJSON *text_block(json_arena *a, const claude_block *b, claude_json_texts *jt)
{
    cJSON *o = json_arena_node(a, cJSON_Object, NULL);
    int marked = b->mark != NYX_MARK_NONE;
    if (!o || put(o, "type", json_arena_node(a, cJSON_String, "text")) ||
        put(o, "text", claude_json_block_text(jt, a, b)) ||
        (marked && put(o, "cache_control", cache_control(a, b->mark == NYX_MARK_1H))))
        return NULL;
    return o;
}

/* A whole API block goes out byte for byte as given; a marked one gains its cache_control. */
static cJSON *json_block(json_arena *a, const claude_block *b)
{
    if (b->mark == NYX_MARK_NONE)
        return json_arena_node(a, cJSON_Raw, b->text);
    cJSON *o = json_arena_own(a, claude_json_parse(b->text, b->len));
    return o && mark_owned(o, b->mark == NYX_MARK_1H) == 0 ? o : NULL;
}

/* A lone unmarked text block is sent as a plain string, the shortest form the API accepts. */
static cJSON *content(json_arena *a, const claude_block *blocks, size_t n, claude_json_texts *jt)
{
    if (n == 1 && blocks[0].mark == NYX_MARK_NONE && blocks[0].kind == NYX_BLOCK_TEXT)
        return claude_json_block_text(jt, a, &blocks[0]);
    cJSON *arr = json_arena_node(a, cJSON_Array, NULL);
    for (size_t i = 0; arr && i < n; i++) {
        const claude_block *b = &blocks[i];
        if (push(arr, b->kind == NYX_BLOCK_JSON ? json_block(a, b) : text_block(a, b, jt)))
            return NULL;
    }
    return arr;
}

static cJSON *messages(json_arena *a, const claude_request *req, claude_json_texts *jt)
{
    cJSON *arr = json_arena_node(a, cJSON_Array, NULL);
    for (size_t i = 0; arr && i < req->nmessages; i++) {
        const claude_message *m = &req->messages[i];
        cJSON *msg = json_arena_node(a, cJSON_Object, NULL);
        if (push(arr, msg) ||
            put(msg, "role",
                json_arena_node(a, cJSON_String, m->role == NYX_ROLE_USER ? "user" : "assistant")) ||
            put(msg, "content", content(a, m->blocks, m->nblocks, jt)))
            return NULL;
    }
    return arr;
}

static cJSON *stop_sequences(json_arena *a, const claude_request *req)
{
    cJSON *arr = json_arena_node(a, cJSON_Array, NULL);
    for (size_t i = 0; arr && i < req->nstop; i++)
        if (push(arr, json_arena_node(a, cJSON_String, req->stop_sequences[i])))
            return NULL;
    return arr;
}

static cJSON *metadata(json_arena *a, const claude_request *req)
{
    cJSON *o = json_arena_node(a, cJSON_Object, NULL);
    return o && put(o, "user_id", json_arena_node(a, cJSON_String, req->user_id)) == 0 ? o : NULL;
}

/* An integer, printed as cJSON prints it (no fraction, no exponent). */
static cJSON *integer(json_arena *a, long long v)
{
    char text[JSON_NUMBER_TEXT];
    int len = json_int_text(v, text, sizeof text);
    return len < 0 ? NULL : json_arena_text(a, cJSON_Raw, text, (size_t)len);
}

static cJSON *thinking(json_arena *a, const claude_request *req)
{
    static const char *const types[] = {"", "adaptive", "enabled", "disabled"};
    cJSON *o = json_arena_node(a, cJSON_Object, NULL);
    if (!o || put(o, "type", json_arena_node(a, cJSON_String, types[req->thinking])) ||
        (req->thinking == NYX_THINKING_BUDGET &&
         put(o, "budget_tokens", integer(a, req->thinking_budget))))
        return NULL;
    return o;
}

/* {"effort": ..., "format": {"type": "json_schema", "schema": ...}}, each when asked. */
static cJSON *output_config(json_arena *a, const claude_request *req)
{
    cJSON *o = json_arena_node(a, cJSON_Object, NULL);
    if (!o || (req->effort && put(o, "effort", json_arena_node(a, cJSON_String, req->effort))))
        return NULL;
    if (req->output_schema_json) {
        cJSON *f = json_arena_node(a, cJSON_Object, NULL);
        if (put(o, "format", f) || put(f, "type", json_arena_node(a, cJSON_String, "json_schema")) ||
            put(f, "schema", json_arena_node(a, cJSON_Raw, req->output_schema_json)))
            return NULL;
    }
    return o;
}

/* Fills root in the documented key order; tools is the arena's already. */
static int fill(json_arena *a, cJSON *root, const claude_request *req, cJSON *tools,
                claude_json_texts *jt)
{
    if (put(root, "model", json_arena_node(a, cJSON_String, req->model)) ||
        put(root, "max_tokens", integer(a, req->max_tokens)) ||
        (req->nsystem && put(root, "system", content(a, req->system, req->nsystem, jt))) ||
        put(root, "messages", messages(a, req, jt)))
        return -1;
    cJSON *last_tool = req->tools_mark != NYX_MARK_NONE ? markable_tool(tools) : NULL;
    if ((last_tool && mark_owned(last_tool, req->tools_mark == NYX_MARK_1H)) ||
        (tools && put(root, "tools", tools)))
        return -1;
    if ((req->tool_choice_json &&
         put(root, "tool_choice", json_arena_node(a, cJSON_Raw, req->tool_choice_json))) ||
        (req->thinking != NYX_THINKING_UNSET && put(root, "thinking", thinking(a, req))) ||
        ((req->effort || req->output_schema_json) && put(root, "output_config", output_config(a, req))))
        return -1;
    if ((req->temperature >= 0 && put(root, "temperature", json_arena_number(a, req->temperature))) ||
        (req->nstop && put(root, "stop_sequences", stop_sequences(a, req))) ||
        (req->user_id && put(root, "metadata", metadata(a, req))) ||
        (req->stream && put(root, "stream", json_arena_node(a, cJSON_True, NULL))) ||
        (req->top_level_cache && put(root, "cache_control", cache_control(a, 0))))
        return -1;
    return 0;
}

static char *build(const claude_request *req, claude_json_texts *jt, size_t *len, error_info *err)
{
    cJSON *tools;
    if (validate(req, &tools, err))
        return NULL;
    json_arena own = {0}, *a = jt ? claude_json_texts_arena(jt) : &own;
    cJSON *root = json_arena_node(a, cJSON_Object, NULL);
    char *out = NULL;
    if (tools && !json_arena_own(a, tools))
        root = NULL;
    if (root && fill(a, root, req, tools, jt) == 0)
        out = jt ? json_print_exact(root, claude_json_texts_scratch(jt), len) : json_print(root);
    json_arena_reset(a);
    if (!jt)
        json_arena_free(&own);
    if (!out) {
        fail(err, "out_of_memory", "out of memory building the request body");
        return NULL;
    }
    if (!jt)
        *len = strlen(out);
    return out;
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
