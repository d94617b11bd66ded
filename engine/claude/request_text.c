/* The bytes of a request's texts (request.h, claude_request_check_text): a body is JSON, which
 * the API reads only as UTF-8 and in which a C string ends at its NUL, so a text that is not
 * UTF-8 or holds a NUL byte would cost a round trip and come back as a 400 about the body.
 * Found here instead, naming the field, before anything is counted or sent. */
#include "request.h"
#include "response.h"

#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define fail(err, ...) error_fail(err, "invalid_argument", 0, __VA_ARGS__)

/* Where the first string of a JSON tree that is not UTF-8 is: its path below the path given
 * (w, of size cap: "tools[1].description"), the offset of its first bad byte (*at) and that
 * byte; *key 1 when it is a key of the object at w. Returns 1 when found, 0 when every string
 * is UTF-8. Only an error reads it, so it may parse and walk. */
typedef struct bad_string {
    char *w;
    size_t cap;
    long at;
    unsigned byte;
    int key;
    size_t base; /* the request's index_base */
} bad_string;

static int find_bad(const cJSON *v, bad_string *b)
{
    size_t len = strlen(b->w);
    if (cJSON_IsString(v) && v->valuestring) {
        long at = utf8_bad(v->valuestring, strlen(v->valuestring));
        if (at < 0)
            return 0;
        b->at = at;
        b->byte = (unsigned char)v->valuestring[at];
        return 1;
    }
    size_t i = 0;
    for (const cJSON *e = cJSON_IsArray(v) || cJSON_IsObject(v) ? v->child : NULL; e; e = e->next, i++) {
        if (cJSON_IsObject(v)) {
            long at = e->string ? utf8_bad(e->string, strlen(e->string)) : -1;
            if (at >= 0) {
                *b = (bad_string){b->w, b->cap, at, (unsigned char)e->string[at], 1, b->base};
                return 1;
            }
            snprintf(b->w + len, b->cap - len, ".%s", e->string ? e->string : "");
        } else {
            snprintf(b->w + len, b->cap - len, "[%zu]", i + b->base);
        }
        if (find_bad(e, b))
            return 1;
        b->w[len] = '\0';
    }
    return 0;
}

/* A JSON text passed through (a tool list, a schema, an API block) is checked as the bytes it
 * is, in one pass; when it is not UTF-8, the string that is not is named inside it. */
static int check_json(const char *json, size_t len, const char *field, size_t base, error_info *err)
{
    long at = utf8_bad(json, len);
    if (at < 0)
        return 0;
    char w[200];
    snprintf(w, sizeof w, "%s", field);
    bad_string b = {w, sizeof w, 0, 0, 0, base};
    cJSON *tree = claude_json_parse(json, len);
    int found = tree && find_bad(tree, &b);
    cJSON_Delete(tree);
    if (!found)
        return fail(err, "%s is not valid UTF-8 (its JSON's byte %ld is 0x%02X)", field, at + 1,
                    (unsigned char)json[at]);
    if (b.key)
        return fail(err, "%s has a key that is not valid UTF-8 (its byte %ld is 0x%02X)", w, b.at + 1, b.byte);
    return fail(err, "%s is not valid UTF-8 (its byte %ld is 0x%02X)", w, b.at + 1, b.byte);
}

static int check_string(const char *s, const char *field, error_info *err)
{
    if (!s)
        return 0;
    long at = utf8_bad(s, strlen(s));
    return at < 0 ? 0
                  : fail(err, "%s is not valid UTF-8 (its byte %ld is 0x%02X)", field, at + 1,
                         (unsigned char)s[at]);
}

/* The name of a block's text (or of the block, for an API block), made only when one needs
 * naming: "system[2].text", "messages[1].content[0].text", or "prompt" for the one text of a
 * call that gave a prompt. */
static const char *text_name(char *w, size_t cap, const claude_request *req, size_t msg, size_t j, int json)
{
    const char *text = json ? "" : ".text";
    size_t base = req->index_base == 1;
    if (msg == (size_t)-1)
        snprintf(w, cap, "system[%zu]%s", j + base, text);
    else if (req->single_prompt && req->nmessages == 1 && req->messages[0].nblocks == 1 && !json)
        snprintf(w, cap, "prompt");
    else
        snprintf(w, cap, "messages[%zu].content[%zu]%s", msg + base, j + base, text);
    return w;
}

static int check_blocks(const claude_request *req, const claude_block *blocks, size_t n, size_t msg,
                        error_info *err)
{
    char w[64];
    for (size_t j = 0; j < n; j++) {
        const claude_block *b = &blocks[j];
        int json = b->kind == NYX_BLOCK_JSON;
        if (!b->text)
            continue; /* validate() names it */
        if (block_has_nul(b))
            return fail(err, "%s contains a NUL byte", text_name(w, sizeof w, req, msg, j, json));
        long at = block_utf8_bad(b);
        if (at < 0)
            continue;
        if (json)
            return check_json(b->text, b->len, text_name(w, sizeof w, req, msg, j, json), req->index_base == 1, err);
        return fail(err, "%s is not valid UTF-8 (its byte %ld is 0x%02X)", text_name(w, sizeof w, req, msg, j, json),
                    at + 1, (unsigned char)b->text[at]);
    }
    return 0;
}

int claude_request_check_text(const claude_request *req, error_info *err)
{
    size_t base = req->index_base == 1;
    if (check_string(req->model, "model", err) || check_blocks(req, req->system, req->system ? req->nsystem : 0,
                                                               (size_t)-1, err))
        return -1;
    for (size_t i = 0; req->messages && i < req->nmessages; i++)
        if (check_blocks(req, req->messages[i].blocks, req->messages[i].blocks ? req->messages[i].nblocks : 0, i,
                         err))
            return -1;
    if ((req->tools_json && check_json(req->tools_json, strlen(req->tools_json), "tools", base, err)) ||
        (req->tool_choice_json && check_json(req->tool_choice_json, strlen(req->tool_choice_json), "tool_choice", base, err)) ||
        (req->output_schema_json && check_json(req->output_schema_json, strlen(req->output_schema_json), "output", base, err)) ||
        check_string(req->effort, "effort", err) || check_string(req->user_id, "user_id", err))
        return -1;
    char w[48];
    for (size_t i = 0; req->stop_sequences && i < req->nstop; i++)
        if (check_string(req->stop_sequences[i],
                         (snprintf(w, sizeof w, "stop_sequences[%zu]", i + base), w), err))
            return -1;
    return 0;
}
