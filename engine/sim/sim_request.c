#define _POSIX_C_SOURCE 200809L
/* Request validation and prefix hashing: turns a Messages body into the list of cacheable
 * blocks (tools -> system -> message content), each with its token count and the cumulative
 * hash that keys the prompt cache. Error texts follow the API's wording. */
#include "sim_core.h"
#include "base/array.h"
#include "base/json_parse.h"
#include "base/json_print.h"
#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAX_MARKS 4

typedef struct builder {
    sim_req *r;
    XXH3_state_t *st;
    sim_token_memo *memo;
    size_t cap;
    int64_t pending; /* overhead tokens waiting for the next block */
    int64_t cum;
} builder;

/* What the API answers a request it cannot read. */
#define bad(err, ...) error_fail(err, "invalid_request_error", 400, __VA_ARGS__)

static int oom(error_info *err) { return error_fail(err, "api_error", 500, "%s", "out of memory"); }

/* Hashes one tagged, length-prefixed part into the running prefix hash. */
static void hash_part(XXH3_state_t *st, char tag, const void *data, size_t len)
{
    uint64_t n = (uint64_t)len;
    XXH3_128bits_update(st, &tag, 1);
    XXH3_128bits_update(st, &n, sizeof n);
    if (len)
        XXH3_128bits_update(st, data, len);
}

/* Appends a block whose content was just hashed. */
static int add_block(builder *b, int kind, int mark, int64_t tokens, error_info *err)
{
    sim_req *r = b->r;
    sim_block *nb = array_room(r->blocks, r->nblocks, &b->cap, sizeof *nb, 16);
    if (!nb)
        return oom(err);
    r->blocks = nb;
    sim_block *blk = &r->blocks[r->nblocks++];
    blk->kind = kind;
    blk->mark = mark;
    blk->cacheable = 1;
    blk->tokens = tokens + b->pending;
    b->pending = 0;
    b->cum += blk->tokens;
    blk->cum = b->cum;
    XXH128_hash_t h = XXH3_128bits_digest(b->st);
    blk->key[0] = h.low64;
    blk->key[1] = h.high64;
    return 0;
}

/* A JSON block hashed and counted as its compact text without its cache_control. */
static int add_json_block(builder *b, int kind, const cJSON *item, int mark, int64_t overhead,
                          error_info *err)
{
    cJSON *copy = cJSON_Duplicate(item, 1);
    if (!copy)
        return oom(err);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "cache_control");
    char *text = json_print(copy);
    cJSON_Delete(copy);
    if (!text)
        return oom(err);
    size_t len = strlen(text);
    hash_part(b->st, 'j', text, len);
    int rc = add_block(b, kind, mark, sim_token_memo_count(b->memo, text, len) + overhead, err);
    cJSON_free(text);
    return rc;
}

static int add_text_block(builder *b, int kind, const char *text, int mark, error_info *err)
{
    size_t len = strlen(text);
    hash_part(b->st, 't', text, len);
    return add_block(b, kind, mark, sim_token_memo_count(b->memo, text, len) + SIM_TOK_BLOCK, err);
}

/* Parses a cache_control value; where names the owner for error texts. */
static int parse_mark(const cJSON *cc, const char *where, int *mark, error_info *err)
{
    *mark = SIM_MARK_NONE;
    if (!cc || cJSON_IsNull(cc))
        return 0;
    if (!cJSON_IsObject(cc))
        return bad(err, "%s%s: Input should be a valid dictionary", where, "cache_control");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(cc, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "ephemeral") != 0)
        return bad(err, "%s%s.type: Input should be 'ephemeral'", where, "cache_control");
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(cc, "ttl");
    if (!ttl || cJSON_IsNull(ttl) || (cJSON_IsString(ttl) && strcmp(ttl->valuestring, "5m") == 0))
        *mark = SIM_MARK_5M;
    else if (cJSON_IsString(ttl) && strcmp(ttl->valuestring, "1h") == 0)
        *mark = SIM_MARK_1H;
    else
        return bad(err, "%s%s.ttl: Input should be '5m' or '1h'", where, "cache_control");
    return 0;
}

/* The first n whitespace-separated words of text, joined by single spaces; NULL if none. */
static char *first_words(const char *text, int n)
{
    char buf[160];
    size_t o = 0;
    const char *p = text;
    for (int w = 0; w < n; w++) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        if (o && o < sizeof buf - 1)
            buf[o++] = ' ';
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            unsigned char c = (unsigned char)*p++;
            if (o < sizeof buf - 1 && c >= 0x20 && c != '"' && c != '\\')
                buf[o++] = (char)c;
        }
    }
    if (!o)
        return NULL;
    buf[o] = '\0';
    return strdup(buf);
}

static const char *const message_keys[] = {
    "model", "messages", "max_tokens", "system", "tools", "tool_choice", "stream",
    "stop_sequences", "temperature", "top_p", "top_k", "metadata", "cache_control", "thinking",
    "service_tier", "container", "mcp_servers", "context_management", "output_config",
    "output_format", "inference_geo", "speed", NULL};

static int check_keys(const cJSON *root, error_info *err)
{
    for (const cJSON *it = root->child; it; it = it->next) {
        int known = 0;
        for (int i = 0; message_keys[i] && !known; i++)
            known = it->string && strcmp(it->string, message_keys[i]) == 0;
        if (!known)
            return bad(err, "%s: Extra inputs are not permitted", it->string ? it->string : "");
    }
    return 0;
}

static int is_int(const cJSON *v, double lo)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
           v->valuedouble < 9.0e15;
}

static int parse_tools(builder *b, const cJSON *tools, error_info *err)
{
    char where[48];
    if (!tools || cJSON_IsNull(tools))
        return 0;
    if (!cJSON_IsArray(tools))
        return bad(err, "tools: Input should be a valid list");
    int i = 0;
    for (const cJSON *t = tools->child; t; t = t->next, i++) {
        snprintf(where, sizeof where, "tools.%d.", i);
        if (!cJSON_IsObject(t))
            return bad(err, "tools.%d: Input should be a valid dictionary", i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0])
            return bad(err, "%s%s: Field required", where, "name");
        for (const cJSON *o = tools->child; o != t; o = o->next) {
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(o, "name");
            if (cJSON_IsString(other) && strcmp(other->valuestring, name->valuestring) == 0)
                return bad(err, "tools: Tool names must be unique.");
        }
        int mark;
        if (parse_mark(cJSON_GetObjectItemCaseSensitive(t, "cache_control"), where, &mark, err))
            return -1;
        if (add_json_block(b, SIM_KIND_TOOL, t, mark, SIM_TOK_TOOL, err))
            return -1;
    }
    return 0;
}

static int parse_system(builder *b, const cJSON *sys, error_info *err)
{
    sim_req *r = b->r;
    char where[48];
    if (!sys || cJSON_IsNull(sys))
        return 0;
    if (cJSON_IsString(sys)) {
        if (!sys->valuestring[0])
            return 0;
        b->pending += SIM_TOK_SYSTEM;
        r->persona = first_words(sys->valuestring, 5);
        return add_text_block(b, SIM_KIND_SYSTEM, sys->valuestring, SIM_MARK_NONE, err);
    }
    if (!cJSON_IsArray(sys))
        return bad(err, "system: Input should be a valid string or a list of text blocks");
    int i = 0;
    for (const cJSON *blk = sys->child; blk; blk = blk->next, i++) {
        snprintf(where, sizeof where, "system.%d.", i);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(blk, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(blk, "text");
        if (!cJSON_IsObject(blk) || !cJSON_IsString(type) || strcmp(type->valuestring, "text"))
            return bad(err, "%s%s: Input should be a text block", where, "type");
        if (!cJSON_IsString(text))
            return bad(err, "%s%s: Field required", where, "text");
        if (!text->valuestring[0])
            return bad(err, "system: text content blocks must be non-empty");
        int mark;
        if (parse_mark(cJSON_GetObjectItemCaseSensitive(blk, "cache_control"), where, &mark, err))
            return -1;
        if (i == 0)
            b->pending += SIM_TOK_SYSTEM;
        if (!r->persona)
            r->persona = first_words(text->valuestring, 5);
        if (add_text_block(b, SIM_KIND_SYSTEM, text->valuestring, mark, err))
            return -1;
    }
    return 0;
}

static const char *const opaque_types[] = {
    "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
    "search_result", "server_tool_use", "web_search_tool_result", NULL};

static int parse_content_block(builder *b, int kind, const cJSON *blk, const char *where,
                               const char **first_text, error_info *err)
{
    if (!cJSON_IsObject(blk))
        return bad(err, "%s: Input should be a valid dictionary", where);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(blk, "type");
    if (!cJSON_IsString(type))
        return bad(err, "%s%s: Field required", where, ".type");
    int mark;
    char w[80];
    snprintf(w, sizeof w, "%s.", where);
    if (parse_mark(cJSON_GetObjectItemCaseSensitive(blk, "cache_control"), w, &mark, err))
        return -1;
    if (strcmp(type->valuestring, "text") == 0) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(blk, "text");
        if (!cJSON_IsString(text))
            return bad(err, "%s%s: Field required", where, ".text");
        if (!text->valuestring[0])
            return bad(err, "messages: text content blocks must be non-empty");
        if (!*first_text)
            *first_text = text->valuestring;
        return add_text_block(b, kind, text->valuestring, mark, err);
    }
    /* Thinking is cached as part of its assistant turn, never on its own: no mark on it, and
     * the top-level mark passes over it. */
    int thinking = strcmp(type->valuestring, "thinking") == 0 ||
                   strcmp(type->valuestring, "redacted_thinking") == 0;
    if (thinking && mark != SIM_MARK_NONE)
        return bad(err, "%s.%s.cache_control: Extra inputs are not permitted", where,
                   type->valuestring);
    for (int i = 0; opaque_types[i]; i++)
        if (strcmp(type->valuestring, opaque_types[i]) == 0) {
            if (add_json_block(b, kind, blk, mark, SIM_TOK_BLOCK, err))
                return -1;
            b->r->blocks[b->r->nblocks - 1].cacheable = !thinking;
            return 0;
        }
    return bad(err, "%s.type: Input tag '%.60s' found using 'type' does not match any of the expected "
                    "tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking'",
               where, type->valuestring);
}

static int parse_messages(builder *b, const cJSON *msgs, error_info *err)
{
    sim_req *r = b->r;
    char where[32];
    if (!msgs)
        return bad(err, "messages: Field required");
    if (!cJSON_IsArray(msgs))
        return bad(err, "messages: Input should be a valid list");
    int n = cJSON_GetArraySize(msgs);
    if (n == 0)
        return bad(err, "messages: at least one message is required");
    int i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        snprintf(where, sizeof where, "messages.%d", i);
        if (!cJSON_IsObject(m))
            return bad(err, "%s: Input should be a valid dictionary", where);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        int kind;
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
            kind = SIM_KIND_USER;
        else if (cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0)
            kind = SIM_KIND_ASSISTANT;
        else
            return bad(err, "%s%s: Input should be 'user' or 'assistant'", where, ".role");
        if (i == 0 && kind != SIM_KIND_USER)
            return bad(err, "messages: first message must use the \"user\" role");
        if (!content)
            return bad(err, "%s%s: Field required", where, ".content");
        int may_be_empty = (i == n - 1 && kind == SIM_KIND_ASSISTANT);
        char role_tag = kind == SIM_KIND_USER ? 'u' : 'a';
        hash_part(b->st, 'M', &role_tag, 1); /* role boundary: part of every later key */
        b->pending += SIM_TOK_MESSAGE;
        const char *first_text = NULL;
        if (cJSON_IsString(content)) {
            if (!content->valuestring[0]) {
                if (!may_be_empty)
                    return bad(err,
                               "%s: all messages must have non-empty content except for the "
                               "optional final assistant message",
                               where);
            } else {
                first_text = content->valuestring;
                if (add_text_block(b, kind, content->valuestring, SIM_MARK_NONE, err))
                    return -1;
            }
        } else if (cJSON_IsArray(content)) {
            if (!content->child && !may_be_empty)
                return bad(err,
                           "%s: all messages must have non-empty content except for the "
                           "optional final assistant message",
                           where);
            int j = 0;
            for (const cJSON *blk = content->child; blk; blk = blk->next, j++) {
                char w[64];
                snprintf(w, sizeof w, "%s.content.%d", where, j);
                if (parse_content_block(b, kind, blk, w, &first_text, err))
                    return -1;
            }
        } else {
            return bad(err, "%s%s: Input should be a valid string or a list of content blocks",
                       where, ".content");
        }
        if (kind == SIM_KIND_USER && first_text) {
            free(r->topic);
            r->topic = first_words(first_text, 6);
        }
    }
    return 0;
}

/* Applies the top-level mark (automatic caching) and checks the marks: at most 4, the
 * top-level one included unless it fell on a block already marked with its TTL (a no-op),
 * and no 1h after a 5m. */
static int check_marks(sim_req *r, const cJSON *top, error_info *err)
{
    int top_mark;
    if (parse_mark(top, "", &top_mark, err))
        return -1;
    /* The top-level mark goes on the last block that can carry one. */
    size_t n = r->nblocks;
    while (n > 0 && !r->blocks[n - 1].cacheable)
        n--;
    if (top_mark != SIM_MARK_NONE && n) {
        sim_block *last = &r->blocks[n - 1];
        if (last->mark == SIM_MARK_NONE)
            last->mark = top_mark;
        else if (last->mark != top_mark)
            return bad(err,
                       "cache_control: the top-level cache_control ttl conflicts with the "
                       "cache_control ttl of the last block");
    }
    int count = 0, seen_5m = 0;
    for (size_t i = 0; i < r->nblocks; i++) {
        int m = r->blocks[i].mark;
        if (m == SIM_MARK_NONE)
            continue;
        count++;
        if (m == SIM_MARK_5M)
            seen_5m = 1;
        else if (seen_5m)
            return bad(err,
                       "a ttl='1h' cache_control block must not come after a ttl='5m' "
                       "cache_control block. Note that blocks are processed in the following "
                       "order: `tools`, `system`, `messages`.");
    }
    if (count > MAX_MARKS)
        return bad(err, "A maximum of %d blocks with cache_control may be provided. Found %d.",
                    MAX_MARKS, count);
    return 0;
}

static int parse_options(sim_req *r, const cJSON *root, int count_only, error_info *err)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (!count_only) {
        if (!mt)
            return bad(err, "max_tokens: Field required");
        if (!is_int(mt, -9.0e15))
            return bad(err, "max_tokens: Input should be a valid integer");
        if (mt->valuedouble < 1)
            return bad(err, "max_tokens: Input should be greater than or equal to 1");
        r->max_tokens = (int64_t)mt->valuedouble;
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (stream && !cJSON_IsNull(stream)) {
        if (!cJSON_IsBool(stream))
            return bad(err, "stream: Input should be a valid boolean");
        r->stream = cJSON_IsTrue(stream) && !count_only;
    }
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    if (temp && !cJSON_IsNull(temp) &&
        (!cJSON_IsNumber(temp) || temp->valuedouble < 0 || temp->valuedouble > 1))
        return bad(err, "temperature: range: 0..1");
    const cJSON *stops = cJSON_GetObjectItemCaseSensitive(root, "stop_sequences");
    if (stops && !cJSON_IsNull(stops)) {
        if (!cJSON_IsArray(stops))
            return bad(err, "stop_sequences: Input should be a valid list");
        int n = cJSON_GetArraySize(stops);
        if (n > 0) {
            r->stops = calloc((size_t)n, sizeof *r->stops);
            if (!r->stops)
                return oom(err);
        }
        for (const cJSON *s = stops->child; s; s = s->next) {
            if (!cJSON_IsString(s))
                return bad(err, "stop_sequences: Input should be a valid string");
            if (!s->valuestring[0])
                return bad(err, "stop_sequences: stop sequences must be non-empty");
            if (!(r->stops[r->nstops++] = strdup(s->valuestring)))
                return oom(err);
        }
    }
    return 0;
}

/* Some models refuse to be made to call a tool while they think (thinking asked for, or a
 * model that cannot turn it off); the API answers 400 before any token is spent. */
static int check_forced_choice(const sim_req *r, const cJSON *root, const char *thinking,
                               const sim_models *models, error_info *err)
{
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    const cJSON *ctype = cJSON_IsObject(choice) ? cJSON_GetObjectItemCaseSensitive(choice, "type") : NULL;
    int forced = cJSON_IsString(ctype) &&
                 (!strcmp(ctype->valuestring, "any") || !strcmp(ctype->valuestring, "tool"));
    int thinks = thinking ? strcmp(thinking, "disabled") != 0
                          : !models->accepts(models->ud, r->model, "thinking:disabled");
    if (forced && thinks && !models->accepts(models->ud, r->model, "tool_choice:forced_with_thinking"))
        return bad(err, "tool_choice: Thinking may not be enabled when tool_choice forces tool use.");
    return 0;
}

/* Parameters the model refuses get the API's 400; speed and region are kept for usage. */
static int check_model_params(sim_req *r, const cJSON *root, const sim_models *models, error_info *err)
{
    snprintf(r->speed, sizeof r->speed, "standard");
    snprintf(r->geo, sizeof r->geo, "global");
    const cJSON *geo = cJSON_GetObjectItemCaseSensitive(root, "inference_geo");
    if (geo && !cJSON_IsNull(geo)) {
        if (!cJSON_IsString(geo) || !geo->valuestring[0] || strlen(geo->valuestring) >= sizeof r->geo)
            return bad(err, "inference_geo: Input should be a valid region");
        snprintf(r->geo, sizeof r->geo, "%s", geo->valuestring);
    }
    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(root, "speed");
    if (speed && !cJSON_IsNull(speed)) {
        if (!cJSON_IsString(speed) || (strcmp(speed->valuestring, "fast") != 0 &&
                                       strcmp(speed->valuestring, "standard") != 0))
            return bad(err, "speed: Input should be 'standard' or 'fast'");
        snprintf(r->speed, sizeof r->speed, "%s", speed->valuestring);
    }
    if (!models->accepts || r->min_cache < 0)
        return 0;
    if (strcmp(r->speed, "fast") == 0 && !models->accepts(models->ud, r->model, "speed:fast"))
        return bad(err, "speed: fast mode is not supported by this model");
    static const char *const sampling[] = {"temperature", "top_p", "top_k"};
    for (size_t i = 0; i < sizeof sampling / sizeof sampling[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, sampling[i]);
        int is_default = i == 0 && cJSON_IsNumber(v) && v->valuedouble == 1.0;
        if (v && !cJSON_IsNull(v) && !is_default && !models->accepts(models->ud, r->model, sampling[i]))
            return bad(err, "%s: is not supported by this model; leave it at its default", sampling[i]);
    }
    const cJSON *thinking = cJSON_GetObjectItemCaseSensitive(root, "thinking");
    const cJSON *type = cJSON_IsObject(thinking) ? cJSON_GetObjectItemCaseSensitive(thinking, "type") : NULL;
    if (cJSON_IsString(type)) {
        char param[48];
        snprintf(param, sizeof param, "thinking:%.30s", type->valuestring);
        if (!models->accepts(models->ud, r->model, param))
            return bad(err, "thinking.type: '%.30s' is not supported by this model", type->valuestring);
    }
    return check_forced_choice(r, root, cJSON_IsString(type) ? type->valuestring : NULL, models, err);
}

static int parse_root(builder *b, const cJSON *root, const sim_models *models, int count_only,
                      error_info *err)
{
    sim_req *r = b->r;
    if (check_keys(root, err))
        return -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!model)
        return bad(err, "model: Field required");
    if (!cJSON_IsString(model) || !model->valuestring[0])
        return bad(err, "model: Input should be a valid string");
    if (!(r->model = strdup(model->valuestring)))
        return oom(err);
    r->min_cache = models->min_cache_tokens(models->ud, r->model);
    const char *canon = r->model;
    if (r->min_cache >= 0 && models->canonical) {
        const char *c = models->canonical(models->ud, r->model);
        if (c && c[0])
            canon = c;
    }
    if (!(r->canonical = strdup(canon)))
        return oom(err);
    if (parse_options(r, root, count_only, err) || check_model_params(r, root, models, err))
        return -1;
    /* Different models never share a prefix: the model opens every key. */
    hash_part(b->st, 'm', r->canonical, strlen(r->canonical));
    if (parse_tools(b, cJSON_GetObjectItemCaseSensitive(root, "tools"), err) ||
        parse_system(b, cJSON_GetObjectItemCaseSensitive(root, "system"), err) ||
        parse_messages(b, cJSON_GetObjectItemCaseSensitive(root, "messages"), err) ||
        check_marks(r, cJSON_GetObjectItemCaseSensitive(root, "cache_control"), err) ||
        sim_tools_parse(r, root, err))
        return -1;
    if (r->min_cache < 0)
        return error_fail(err, "not_found_error", 404, "model: %.200s", r->model);
    r->total = b->cum + b->pending + SIM_TOK_TRAILER;
    XXH128_hash_t h = XXH3_128bits_digest(b->st);
    r->hash = h.low64 ^ (h.high64 * 0x9E3779B97F4A7C15ULL);
    return 0;
}

int sim_body_utf8(const char *body, size_t len, char *why, size_t cap)
{
    long at = utf8_bad(body, len);
    if (at < 0)
        return 0;
    /* Where, as the API says it: a line and column from 1, a character index from 0 (counted
     * in bytes here: near enough to find it). */
    long line = 1, col = 1;
    for (long i = 0; i < at; i++) {
        col++;
        if (body[i] == '\n') {
            line++;
            col = 1;
        }
    }
    snprintf(why, cap, "The request body is not valid JSON: invalid UTF-8 byte 0x%02X: line %ld column %ld (char %ld)",
             (unsigned char)body[at], line, col, at);
    return -1;
}

int sim_req_parse(sim_req *r, const char *body, size_t len, const sim_models *models,
                  sim_token_memo *memo, int count_only, error_info *err)
{
    memset(r, 0, sizeof *r);
    if (!models || !models->min_cache_tokens)
        return error_fail(err, "api_error", 500, "%s", "simulator has no model table");
    char why[160];
    if (sim_body_utf8(body, len, why, sizeof why) != 0)
        return bad(err, "%s", why);
    /* Read as nyx reads JSON: an integer past 2^53 (a tool schema's enum member) keeps its
     * digits, so a tool input made from it goes back with them, as the API's would. */
    size_t stop;
    cJSON *root = json_parse_value(body, len, &stop);
    if (!root || stop < len || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bad(err, "There was an error parsing the body of your request: invalid JSON");
    }
    builder b = {.r = r, .memo = memo};
    b.st = XXH3_createState();
    int rc = b.st ? 0 : oom(err);
    if (rc == 0 && XXH3_128bits_reset(b.st) != XXH_OK)
        rc = oom(err);
    if (rc == 0)
        rc = parse_root(&b, root, models, count_only, err);
    XXH3_freeState(b.st);
    cJSON_Delete(root);
    if (rc)
        sim_req_free(r);
    return rc;
}

void sim_req_free(sim_req *r)
{
    if (!r)
        return;
    free(r->model);
    free(r->canonical);
    for (size_t i = 0; i < r->nstops; i++)
        free(r->stops[i]);
    free(r->stops);
    free(r->blocks);
    free(r->persona);
    free(r->topic);
    cJSON_Delete(r->tools);
    free(r->tool_name);
    cJSON_Delete(r->output_schema);
    memset(r, 0, sizeof *r);
}
