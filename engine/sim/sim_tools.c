#define _POSIX_C_SOURCE 200809L
/* Tools, thinking and structured outputs in the simulator, with the API's rules: a tool_use
 * must be answered by its tool_result in the next user turn, thinking blocks come back
 * unaltered (their signature is checked) and first in an assistant turn answered by tool
 * results, and the replies are deterministic: tool inputs and JSON answers are built from
 * the schemas they must satisfy. */
#include "sim_core.h"

#include "base/json_print.h"
#include "claude/schema.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAX_IDS 64
#define SIGNATURE_SEED 0x6e79785f73696dULL /* "nyx_sim" */

/* What the API answers a request it cannot read. */
#define bad(err, ...) error_fail(err, "invalid_request_error", 400, __VA_ARGS__)

static int oom(error_info *err) { return error_fail(err, "api_error", 500, "out of memory"); }

/* The signature the simulator gives a thinking text. */
static void sim_thinking_signature(const char *text, char out[40])
{
    XXH64_hash_t h = XXH3_64bits_withSeed(text, strlen(text), SIGNATURE_SEED);
    snprintf(out, 40, "sig_sim_%016llx", (unsigned long long)h);
}

static const char *type_of(const cJSON *block)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "type");
    return cJSON_IsString(t) ? t->valuestring : "";
}

static const char *string_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_choice(sim_req *r, const cJSON *choice, error_info *err)
{
    if (!choice || cJSON_IsNull(choice))
        return 0;
    const char *type = string_of(choice, "type");
    if (!type)
        return bad(err, "tool_choice.type: Field required");
    if (!strcmp(type, "auto"))
        r->tool_choice = SIM_CHOICE_AUTO;
    else if (!strcmp(type, "any"))
        r->tool_choice = SIM_CHOICE_ANY;
    else if (!strcmp(type, "none"))
        r->tool_choice = SIM_CHOICE_NONE;
    else if (!strcmp(type, "tool")) {
        const char *name = string_of(choice, "name");
        if (!name)
            return bad(err, "tool_choice.name: Field required");
        r->tool_choice = SIM_CHOICE_TOOL;
        if (!(r->tool_name = strdup(name)))
            return oom(err);
    } else
        return bad(err, "tool_choice.type: Input tag '%.40s' found using 'type' does not match "
                        "any of the expected tags: 'auto', 'any', 'tool', 'none'", type);
    r->no_parallel = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(choice, "disable_parallel_tool_use"));
    return 0;
}

/* Collects one assistant turn's tool_use ids and, with thinking on (without it thinking
 * blocks are dropped unread), checks its thinking signatures. */
static int scan_assistant(const cJSON *content, int i, int thinking_on, const char **ids,
                          int *nids, error_info *err)
{
    int j = 0;
    for (const cJSON *b = cJSON_IsArray(content) ? content->child : NULL; b; b = b->next, j++) {
        const char *type = type_of(b);
        if (!strcmp(type, "thinking") && thinking_on) {
            const char *text = string_of(b, "thinking"), *sig = string_of(b, "signature");
            char want[40];
            sim_thinking_signature(text ? text : "", want);
            if (!sig || strcmp(sig, want) != 0)
                return bad(err, "messages.%d.content.%d: Invalid `signature` in `thinking` block", i, j);
        } else if (!strcmp(type, "tool_use")) {
            const char *id = string_of(b, "id");
            if (!id || !string_of(b, "name"))
                return bad(err, "messages.%d.content.%d.id: Field required", i, j);
            if (*nids < MAX_IDS)
                ids[(*nids)++] = id;
        }
    }
    return 0;
}

/* The user turn after an assistant turn with tool calls answers every call, and a user turn
 * answers only calls of the turn before it. */
static int check_results(const cJSON *content, int i, const char **ids, int nids, error_info *err)
{
    int answered[MAX_IDS] = {0};
    int j = 0;
    for (const cJSON *b = cJSON_IsArray(content) ? content->child : NULL; b; b = b->next, j++) {
        if (strcmp(type_of(b), "tool_result") != 0)
            continue;
        const char *id = string_of(b, "tool_use_id");
        int k = 0;
        while (k < nids && !(id && !strcmp(ids[k], id)))
            k++;
        if (k == nids)
            return bad(err, "messages.%d.content.%d: unexpected `tool_use_id` found in "
                            "`tool_result` blocks: %.80s. Each `tool_result` block must have a "
                            "corresponding `tool_use` block in the previous message.",
                       i, j, id ? id : "");
        answered[k] = 1;
    }
    for (int k = 0; k < nids; k++)
        if (!answered[k])
            return bad(err, "messages.%d: `tool_use` ids were found without `tool_result` blocks "
                            "immediately after: %.80s. Each `tool_use` block must have a "
                            "corresponding `tool_result` block in the next message.",
                       i, ids[k]);
    return 0;
}

static int has_results(const cJSON *content)
{
    for (const cJSON *b = cJSON_IsArray(content) ? content->child : NULL; b; b = b->next)
        if (!strcmp(type_of(b), "tool_result"))
            return 1;
    return 0;
}

static int check_messages(sim_req *r, const cJSON *msgs, error_info *err)
{
    const char *ids[MAX_IDS];
    int nids = 0, i = 0, last_assistant = -1;
    const cJSON *last_assistant_content = NULL;
    for (const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL; m; m = m->next, i++) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        const char *role = string_of(m, "role");
        if (role && !strcmp(role, "assistant")) {
            if (nids)
                return bad(err, "messages.%d: `tool_use` ids were found without `tool_result` "
                                "blocks immediately after: %.80s. Each `tool_use` block must have "
                                "a corresponding `tool_result` block in the next message.",
                           i - 1, ids[0]);
            if (scan_assistant(content, i, r->thinking, ids, &nids, err))
                return -1;
            last_assistant = i;
            last_assistant_content = content;
            continue;
        }
        if (check_results(content, i, ids, nids, err))
            return -1;
        nids = 0;
        r->tools_answered = has_results(content);
    }
    /* With thinking on, the turn whose tools were just answered must open with its thinking. */
    if (r->thinking && r->tools_answered && last_assistant >= 0) {
        const cJSON *first = cJSON_IsArray(last_assistant_content) ? last_assistant_content->child : NULL;
        const char *type = first ? type_of(first) : "text";
        if (strcmp(type, "thinking") != 0 && strcmp(type, "redacted_thinking") != 0)
            return bad(err, "messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, "
                            "but found `%.30s`. When `thinking` is enabled, a final `assistant` "
                            "message must start with a thinking block.",
                       last_assistant, type);
    }
    return 0;
}

int sim_tools_parse(sim_req *r, const cJSON *root, error_info *err)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    if (cJSON_IsArray(tools) && tools->child && !(r->tools = cJSON_Duplicate(tools, 1)))
        return oom(err);
    int i = 0;
    for (const cJSON *t = cJSON_IsArray(tools) ? tools->child : NULL; t; t = t->next, i++) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "strict")))
            continue;
        char where[40];
        snprintf(where, sizeof where, "tools.%d.custom.input_schema", i);
        error_info why;
        error_clear(&why);
        if (claude_schema_check(cJSON_GetObjectItemCaseSensitive(t, "input_schema"), where, 0, &why))
            return strcmp(why.type, "out_of_memory") ? bad(err, "%s", why.message) : oom(err);
    }
    if (parse_choice(r, cJSON_GetObjectItemCaseSensitive(root, "tool_choice"), err))
        return -1;
    const char *thinking = string_of(cJSON_GetObjectItemCaseSensitive(root, "thinking"), "type");
    r->thinking = thinking && (!strcmp(thinking, "enabled") || !strcmp(thinking, "adaptive"));
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(root, "output_config");
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(oc, "format");
    if (format && !cJSON_IsNull(format)) {
        const char *ftype = string_of(format, "type");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(format, "schema");
        if (!ftype || strcmp(ftype, "json_schema") != 0)
            return bad(err, "output_config.format.type: Input should be 'json_schema'");
        if (!cJSON_IsObject(schema))
            return bad(err, "output_config.format.schema: Field required");
        /* The API's subset of JSON Schema (claude/schema.h), refused as the API does: a 400. */
        error_info why;
        error_clear(&why);
        if (claude_schema_check(schema, "output_config.format.schema", 0, &why))
            return strcmp(why.type, "out_of_memory") ? bad(err, "%s", why.message) : oom(err);
        if (!(r->output_schema = cJSON_Duplicate(schema, 1)))
            return oom(err);
    }
    return check_messages(r, cJSON_GetObjectItemCaseSensitive(root, "messages"), err);
}

/* ---- replies ---- */

/* A value valid for schema: enums give their first member, objects every property. */
static cJSON *value_for(const cJSON *schema, const char *word, int depth)
{
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    if (cJSON_IsArray(en) && en->child)
        return cJSON_Duplicate(en->child, 1);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type");
    if (cJSON_IsArray(t))
        t = t->child;
    const char *type = cJSON_IsString(t) ? t->valuestring : "object";
    if (!strcmp(type, "string"))
        return cJSON_CreateString(word);
    if (!strcmp(type, "integer"))
        return cJSON_CreateNumber(1);
    if (!strcmp(type, "number"))
        return cJSON_CreateNumber(1.5);
    if (!strcmp(type, "boolean"))
        return cJSON_CreateTrue();
    if (!strcmp(type, "null"))
        return cJSON_CreateNull();
    if (!strcmp(type, "array")) {
        cJSON *a = cJSON_CreateArray();
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
        if (a && depth < 8 && cJSON_IsObject(items) && !cJSON_AddItemToArray(a, value_for(items, word, depth + 1))) {
            cJSON_Delete(a);
            return NULL;
        }
        return a;
    }
    cJSON *o = cJSON_CreateObject();
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    for (const cJSON *p = cJSON_IsObject(props) && depth < 8 ? props->child : NULL; o && p; p = p->next) {
        cJSON *v = value_for(p, word, depth + 1);
        if (!v || !cJSON_AddItemToObject(o, p->string, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            o = NULL;
        }
    }
    return o;
}

static int add_to(cJSON **arr, cJSON *block)
{
    if (!block)
        return -1;
    if ((!*arr && !(*arr = cJSON_CreateArray())) || !cJSON_AddItemToArray(*arr, block)) {
        cJSON_Delete(block);
        return -1;
    }
    return 0;
}

static int64_t json_tokens(const cJSON *v)
{
    char *s = json_print(v);
    int64_t n = s ? sim_count_tokens(s, strlen(s)) : 0;
    cJSON_free(s);
    return n;
}

static int tool_calls(const sim_req *r, sim_reply *rep)
{
    int n = 0;
    for (const cJSON *t = r->tools->child; t; t = t->next) {
        const char *name = string_of(t, "name");
        if (!name || (r->tool_choice == SIM_CHOICE_TOOL && strcmp(name, r->tool_name) != 0))
            continue;
        cJSON *b = cJSON_CreateObject();
        char id[48];
        snprintf(id, sizeof id, "toolu_sim_%012llx_%d",
                 (unsigned long long)(r->hash & 0xffffffffffffULL), n);
        cJSON *input = value_for(cJSON_GetObjectItemCaseSensitive(t, "input_schema"),
                                 r->topic ? r->topic : "nyx", 0);
        if (!b || !input || !cJSON_AddStringToObject(b, "type", "tool_use") ||
            !cJSON_AddStringToObject(b, "id", id) || !cJSON_AddStringToObject(b, "name", name) ||
            !cJSON_AddItemToObject(b, "input", input)) {
            cJSON_Delete(b);
            cJSON_Delete(input);
            return -1;
        }
        rep->output_tokens += json_tokens(input) + 8;
        if (add_to(&rep->after, b))
            return -1;
        n++;
        if (r->no_parallel)
            break;
    }
    if (n == 0)
        return 0;
    rep->stop_reason = "tool_use";
    free(rep->stop_sequence);
    rep->stop_sequence = NULL;
    /* The call is the answer: no text beside it. */
    rep->output_tokens -= sim_count_tokens(rep->text, rep->len);
    rep->text[0] = '\0';
    rep->len = 0;
    return 0;
}

static int thinking_block(const sim_req *r, sim_reply *rep)
{
    char text[240], sig[40];
    snprintf(text, sizeof text, "The question is about %.160s. I weigh it step by step.",
             r->topic ? r->topic : "the request");
    sim_thinking_signature(text, sig);
    cJSON *b = cJSON_CreateObject();
    if (!b || !cJSON_AddStringToObject(b, "type", "thinking") ||
        !cJSON_AddStringToObject(b, "thinking", text) ||
        !cJSON_AddStringToObject(b, "signature", sig)) {
        cJSON_Delete(b);
        return -1;
    }
    rep->output_tokens += sim_count_tokens(text, strlen(text));
    return add_to(&rep->before, b);
}

/* The text becomes JSON for the schema; max_tokens still cuts it (and then it is not JSON). */
static int json_answer(const sim_req *r, sim_reply *rep)
{
    cJSON *v = value_for(r->output_schema, r->topic ? r->topic : "nyx", 0);
    char *text = sim_json_print(v);
    if (!text)
        return -1;
    size_t len = strlen(text);
    free(rep->text);
    free(rep->stop_sequence);
    rep->stop_sequence = NULL;
    rep->text = text;
    rep->len = len;
    rep->stop_reason = "end_turn";
    if (r->max_tokens > 0 && r->max_tokens < sim_count_tokens(text, len)) {
        rep->len = sim_token_prefix(text, len, r->max_tokens);
        text[rep->len] = '\0';
        rep->stop_reason = "max_tokens";
    }
    rep->output_tokens = sim_count_tokens(text, rep->len);
    return 0;
}

int sim_tools_reply(const sim_req *r, sim_reply *rep)
{
    /* Once the last turn holds tool results the answer is in words: a loop ends at end_turn.
     * tool_choice "any" or a named tool forces a tool call on every turn, as the API does (a
     * loop with it runs to its max_iterations). */
    int forced = r->tool_choice == SIM_CHOICE_ANY || r->tool_choice == SIM_CHOICE_TOOL;
    int use_tools = r->tools && r->tool_choice != SIM_CHOICE_NONE && (!r->tools_answered || forced);
    if (r->output_schema && !use_tools && json_answer(r, rep))
        return -1;
    if (use_tools && tool_calls(r, rep))
        return -1;
    if (r->thinking && thinking_block(r, rep))
        return -1;
    return 0;
}
