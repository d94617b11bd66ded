#include "response.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "base/json_parse.h"

/* Counts above 2^53 cannot come from a real response, and converting an out-of-range double
 * (cJSON parses 1e999 as inf) to an integer is undefined behaviour. */
#define MAX_COUNT 9007199254740992.0

static int count_value(const cJSON *item, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v <= MAX_COUNT) || v != (double)(int64_t)v)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* A member name, with its length, so a member is told from the others by length before its
 * bytes are compared. */
typedef struct {
    const char *key;
    size_t len;
} member_name;
#define NAME(s) {s, sizeof s - 1}

/* The members of obj named in names, each the first of its name (as
 * cJSON_GetObjectItemCaseSensitive finds it), in one walk over the members rather than one
 * walk per name: found[i] is names[i]'s member, or NULL. */
static void find_members(const cJSON *obj, const member_name *names, size_t n, cJSON **found)
{
    size_t left = n;
    for (size_t i = 0; i < n; i++)
        found[i] = NULL;
    for (cJSON *m = obj->child; m && left; m = m->next) {
        if (!m->string)
            continue;
        size_t len = strlen(m->string);
        for (size_t i = 0; i < n; i++)
            if (!found[i] && names[i].len == len && memcmp(names[i].key, m->string, len) == 0) {
                found[i] = m;
                left--;
                break;
            }
    }
}

/* A usage's members: the counters (each read into its offset in claude_usage) first, then
 * the words, then cache_creation. */
enum { U_NTOP = 4, U_SPEED = U_NTOP, U_GEO, U_TIER, U_DETAIL, U_N };
static const member_name usage_names[U_N] = {
    NAME("input_tokens"), NAME("output_tokens"), NAME("cache_creation_input_tokens"),
    NAME("cache_read_input_tokens"), NAME("speed"), NAME("inference_geo"), NAME("service_tier"),
    NAME("cache_creation"),
};
static const size_t top_offsets[U_NTOP] = {
    offsetof(claude_usage, input_tokens), offsetof(claude_usage, output_tokens),
    offsetof(claude_usage, cache_creation_input_tokens), offsetof(claude_usage, cache_read_input_tokens),
};
#define NDETAIL 2
static const member_name detail_names[NDETAIL] = {NAME("ephemeral_5m_input_tokens"),
                                                  NAME("ephemeral_1h_input_tokens")};
static const size_t detail_offsets[NDETAIL] = {offsetof(claude_usage, cache_creation_5m),
                                               offsetof(claude_usage, cache_creation_1h)};

/* A counter that is absent, null or a non-negative integer is well formed. */
static int counter_ok(const cJSON *item)
{
    int64_t n;
    return !item || cJSON_IsNull(item) || count_value(item, &n) == 0;
}

static int usage_error(error_info *err, const char *what, const char *where, const char *key)
{
    error_clear(err);
    if (key)
        error_set(err, "api_error", 0, "malformed %s: usage.%s%s must be a non-negative integer", where, what, key);
    else
        error_set(err, "api_error", 0, "malformed %s: usage%s", where, what);
    return -1;
}

int claude_usage_read(const cJSON *usage, claude_usage *u, int replace_only_present, const char *where,
                      error_info *err)
{
    if (!cJSON_IsObject(usage))
        return usage_error(err, " is missing or not an object", where, NULL);
    claude_usage t;
    if (replace_only_present)
        t = *u;
    else
        memset(&t, 0, sizeof t);
    cJSON *m[U_N];
    find_members(usage, usage_names, U_N, m);
    int64_t n;
    for (size_t i = 0; i < U_NTOP; i++) {
        if (count_value(m[i], &n) == 0)
            memcpy((char *)&t + top_offsets[i], &n, sizeof n);
        else if (!counter_ok(m[i]))
            return usage_error(err, "", where, usage_names[i].key);
    }
    const struct {
        const cJSON *w;
        char *dst;
        size_t size;
    } words[] = {{m[U_SPEED], t.speed, sizeof t.speed},
                 {m[U_GEO], t.inference_geo, sizeof t.inference_geo},
                 {m[U_TIER], t.service_tier, sizeof t.service_tier}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        const cJSON *w = words[i].w;
        /* A value too long for the field is not one the price table can know: left out. */
        if (cJSON_IsString(w) && strlen(w->valuestring) < words[i].size)
            memcpy(words[i].dst, w->valuestring, strlen(w->valuestring) + 1);
    }
    const cJSON *detail = m[U_DETAIL];
    if (cJSON_IsObject(detail)) {
        t.has_cache_creation_detail = 1;
        cJSON *d[NDETAIL];
        find_members(detail, detail_names, NDETAIL, d);
        for (size_t i = 0; i < NDETAIL; i++) {
            if (count_value(d[i], &n) == 0)
                memcpy((char *)&t + detail_offsets[i], &n, sizeof n);
            else if (!counter_ok(d[i]))
                return usage_error(err, "cache_creation.", where, detail_names[i].key);
        }
    } else if (detail && !cJSON_IsNull(detail)) {
        return usage_error(err, ".cache_creation is not an object", where, NULL);
    }
    *u = t;
    return 0;
}

cJSON *claude_json_parse(const char *s, size_t len)
{
    size_t stop;
    cJSON *root = json_parse_value(s, len, &stop);
    if (root && stop < len) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ---- message body ---- */

static int malformed(error_info *err, const char *what)
{
    error_clear(err);
    error_set(err, "api_error", 0, "malformed Messages response: %s", what);
    return -1;
}

/* The string item v; NULL when the field is null or absent; -1 when it is something else. */
static int optional_string(cJSON *v, cJSON **out)
{
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return -1;
    *out = v;
    return 0;
}

/* Checks the content array and returns the joined text length through total, the text item
 * of its one text block through sole (NULL when it has none or several), and in out what else
 * it holds (content_not_text, content_tool_uses). */
static int check_content(const cJSON *content, size_t *total, cJSON **sole, claude_response *out,
                         error_info *err)
{
    size_t sum = 0, ntext = 0;
    cJSON *last = NULL;
    const cJSON *block;
    cJSON_ArrayForEach(block, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
        if (!cJSON_IsObject(block) || !cJSON_IsString(type) || !type->valuestring)
            return malformed(err, "a content block has no type");
        if (strcmp(type->valuestring, "text") != 0) {
            out->content_not_text = 1;
            out->content_tool_uses += strcmp(type->valuestring, "tool_use") == 0;
            continue;
        }
        cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");
        if (!cJSON_IsString(text) || !text->valuestring)
            return malformed(err, "a text block has no text string");
        sum += strlen(text->valuestring);
        ntext++;
        last = text;
    }
    *total = sum;
    *sole = ntext == 1 ? last : NULL;
    return 0;
}

/* A string of the tree, taken out of it rather than copied: the tree is let go right after.
 * cJSON allocates with malloc unless hooks are installed, which nyx does not do. */
static char *take_string(cJSON *item)
{
    char *s = item ? item->valuestring : NULL;
    if (item)
        item->valuestring = NULL;
    return s;
}

/* A reply's members, found in one walk (find_members). */
enum { R_TYPE, R_ID, R_MODEL, R_STOP_REASON, R_STOP_SEQUENCE, R_CONTENT, R_USAGE, R_N };
static const member_name reply_names[R_N] = {
    NAME("type"), NAME("id"), NAME("model"), NAME("stop_reason"), NAME("stop_sequence"),
    NAME("content"), NAME("usage"),
};

static int parse_root(cJSON *root, claude_response *out, error_info *err)
{
    if (!cJSON_IsObject(root))
        return malformed(err, "not a JSON object");
    cJSON *m[R_N];
    find_members(root, reply_names, R_N, m);
    const cJSON *type = m[R_TYPE];
    if (cJSON_IsString(type) && type->valuestring && strcmp(type->valuestring, "error") == 0) {
        claude_error_from_json(root, err);
        return -1;
    }
    if (type && !(cJSON_IsString(type) && type->valuestring &&
                  strcmp(type->valuestring, "message") == 0))
        return malformed(err, "type is not \"message\"");
    cJSON *id = m[R_ID];
    cJSON *model = m[R_MODEL];
    if (!cJSON_IsString(id) || !id->valuestring)
        return malformed(err, "id is missing or not a string");
    if (!cJSON_IsString(model) || !model->valuestring)
        return malformed(err, "model is missing or not a string");
    cJSON *stop_reason, *stop_sequence;
    if (optional_string(m[R_STOP_REASON], &stop_reason))
        return malformed(err, "stop_reason is not a string");
    if (optional_string(m[R_STOP_SEQUENCE], &stop_sequence))
        return malformed(err, "stop_sequence is not a string");
    cJSON *content = m[R_CONTENT];
    if (!cJSON_IsArray(content))
        return malformed(err, "content is missing or not an array");
    size_t text_len = 0;
    cJSON *sole = NULL;
    claude_response r;
    response_init(&r);
    if (check_content(content, &text_len, &sole, &r, err))
        return -1;
    r.content_known = 1;
    claude_usage usage;
    if (claude_usage_read(m[R_USAGE], &usage, 0, "Messages response", err))
        return -1;

    if (!sole) { /* the text blocks joined, or "" when there is none */
        if (!(r.text = malloc(text_len + 1))) {
            error_clear(err);
            error_set(err, "out_of_memory", 0, "out of memory parsing a Messages response");
            return -1;
        }
        const cJSON *block;
        cJSON_ArrayForEach(block, content) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "type");
            if (strcmp(t->valuestring, "text") != 0)
                continue;
            const char *s = cJSON_GetObjectItemCaseSensitive(block, "text")->valuestring;
            size_t n = strlen(s);
            memcpy(r.text + r.text_len, s, n);
            r.text_len += n;
        }
        r.text[r.text_len] = '\0';
    }
    r.usage = usage;
    /* Nothing fails from here: the strings and the blocks move out of the tree. */
    if (sole) { /* one text block, the usual reply: it and the text are one string (types.h) */
        r.text = sole->valuestring;
        r.text_len = text_len;
        sole->type |= cJSON_IsReference;
    }
    r.id = take_string(id);
    r.model = take_string(model);
    r.stop_reason = take_string(stop_reason);
    r.stop_sequence = take_string(stop_sequence);
    r.content = cJSON_DetachItemViaPointer(root, content);

    char *request_id = out->request_id;
    out->request_id = NULL;
    response_free(out);
    *out = r;
    out->request_id = request_id;
    return 0;
}

int claude_json_unfinished(const char *s, size_t len)
{
    size_t depth = 0;
    int in_string = 0, any = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_string) {
            if (ch == '\\')
                i++; /* the escaped character, whatever it is */
            else if (ch == '"')
                in_string = 0;
            continue;
        }
        if (ch == '"')
            in_string = any = 1;
        else if (ch == '{' || ch == '[')
            depth++, any = 1;
        else if ((ch == '}' || ch == ']') && depth > 0)
            depth--;
        else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
            any = 1;
    }
    return !any || in_string || depth > 0;
}

int claude_parse_message(const char *body, size_t len, claude_response *out, error_info *err)
{
    if (!body || len == 0)
        return malformed(err, "empty body");
    cJSON *root = claude_json_parse(body, len);
    if (!root)
        return malformed(err, "not valid JSON");
    int rc = parse_root(root, out, err);
    cJSON_Delete(root);
    return rc;
}
