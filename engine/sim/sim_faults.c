/* Fault rules: parsed from JSON, matched in the order they were added, each consumed by the
 * requests it applies to. Probabilistic rules draw from a seeded generator, so a run with
 * the same seed and the same request order fails the same requests. */
#include "sim_faults.h"
#include "base/json_parse.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_faults {
    sim_fault *rules;
    size_t n, cap;
    uint64_t rng;
};

static const char *const names[SIM_FAULT_KINDS] = {
    [SIM_FAULT_RATE_LIMIT] = "rate_limit",     [SIM_FAULT_SPEND_LIMIT] = "spend_limit",
    [SIM_FAULT_SERVER_ERROR] = "server_error", [SIM_FAULT_OVERLOADED] = "overloaded",
    [SIM_FAULT_BAD_REQUEST] = "bad_request",   [SIM_FAULT_UNAUTHORIZED] = "unauthorized",
    [SIM_FAULT_NOT_FOUND] = "not_found",       [SIM_FAULT_TOO_LARGE] = "too_large",
    [SIM_FAULT_RESET] = "reset",               [SIM_FAULT_HANG] = "hang",
    [SIM_FAULT_MALFORMED] = "malformed",       [SIM_FAULT_CUT] = "cut",
    [SIM_FAULT_STREAM_ERROR] = "stream_error", [SIM_FAULT_FORBIDDEN] = "forbidden",
    [SIM_FAULT_BILLING] = "billing",           [SIM_FAULT_STALL] = "stall"};

const char *sim_fault_name(int kind)
{
    return kind > SIM_FAULT_NONE && kind < SIM_FAULT_KINDS ? names[kind] : NULL;
}

sim_faults *sim_faults_new(uint64_t seed)
{
    sim_faults *f = calloc(1, sizeof *f);
    if (f)
        f->rng = seed;
    return f;
}

void sim_faults_free(sim_faults *f)
{
    if (!f)
        return;
    free(f->rules);
    free(f);
}

void sim_faults_clear(sim_faults *f)
{
    if (f)
        f->n = 0;
}

void sim_faults_seed(sim_faults *f, uint64_t seed)
{
    if (f)
        f->rng = seed;
}

size_t sim_faults_count(const sim_faults *f) { return f ? f->n : 0; }

/* A uniform draw in [0, 1). */
static double draw(sim_faults *f)
{
    uint64_t z = (f->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static int bad(error_info *err, int i, const char *what)
{
    error_set(err, "invalid_request_error", 400, "faults.%d: %s", i, what);
    return -1;
}

static int get_number(const cJSON *rule, const char *key, double lo, double hi, int integral,
                      double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rule, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        (integral && v->valuedouble != floor(v->valuedouble)))
        return -1;
    *out = v->valuedouble;
    return 1;
}

static const char *const rule_keys[] = {"fault", "count", "model", "probability", "retry_after",
                                        "retry_after_ms", "should_retry", "after_events",
                                        "hang_ms", "endpoint", "stream", "message", NULL};

static int parse_rule(const cJSON *rule, int i, sim_fault *out, error_info *err)
{
    memset(out, 0, sizeof *out);
    out->endpoints = SIM_EP_MESSAGES;
    out->stream = -1;
    out->retry_after_s = -1;
    out->retry_after_ms = -1;
    out->should_retry = -1;
    out->after_events = -1;
    out->hang_ms = -1;
    if (!cJSON_IsObject(rule))
        return bad(err, i, "a fault rule must be an object");
    for (const cJSON *it = rule->child; it; it = it->next) {
        int known = 0;
        for (int k = 0; rule_keys[k] && !known; k++)
            known = it->string && strcmp(it->string, rule_keys[k]) == 0;
        if (!known) {
            error_set(err, "invalid_request_error", 400, "faults.%d.%.60s: unknown field", i,
                          it->string ? it->string : "");
            return -1;
        }
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(rule, "fault");
    if (!cJSON_IsString(name))
        return bad(err, i, "\"fault\" must be a string");
    for (int k = SIM_FAULT_NONE + 1; k < SIM_FAULT_KINDS; k++)
        if (strcmp(name->valuestring, names[k]) == 0)
            out->kind = k;
    if (!out->kind) {
        error_set(err, "invalid_request_error", 400, "faults.%d: unknown fault '%.60s'", i,
                      name->valuestring);
        return -1;
    }
    double v;
    int rc;
    if ((rc = get_number(rule, "probability", 0, 1, 0, &v)) < 0)
        return bad(err, i, "\"probability\" must be a number in [0, 1]");
    if (rc)
        out->probability = v;
    out->count = out->probability > 0 ? 0 : 1;
    if ((rc = get_number(rule, "count", 0, 1e15, 1, &v)) < 0)
        return bad(err, i, "\"count\" must be an integer >= 0");
    if (rc)
        out->count = (int64_t)v;
    if ((rc = get_number(rule, "retry_after", 0, 1e9, 0, &v)) < 0)
        return bad(err, i, "\"retry_after\" must be a number of seconds >= 0");
    if (rc)
        out->retry_after_s = v;
    if ((rc = get_number(rule, "retry_after_ms", 0, 1e12, 0, &v)) < 0)
        return bad(err, i, "\"retry_after_ms\" must be a number of milliseconds >= 0");
    if (rc)
        out->retry_after_ms = v;
    if ((rc = get_number(rule, "after_events", 0, 1e9, 1, &v)) < 0)
        return bad(err, i, "\"after_events\" must be an integer >= 0");
    if (rc)
        out->after_events = (int64_t)v;
    if ((rc = get_number(rule, "hang_ms", 0, 1e12, 0, &v)) < 0)
        return bad(err, i, "\"hang_ms\" must be a number of milliseconds >= 0");
    if (rc)
        out->hang_ms = (int64_t)v;
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(rule, "should_retry");
    if (sr && !cJSON_IsNull(sr)) {
        if (!cJSON_IsBool(sr))
            return bad(err, i, "\"should_retry\" must be true or false");
        out->should_retry = cJSON_IsTrue(sr) ? 1 : 0;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rule, "stream");
    if (st && !cJSON_IsNull(st)) {
        if (!cJSON_IsBool(st))
            return bad(err, i, "\"stream\" must be true or false");
        out->stream = cJSON_IsTrue(st) ? 1 : 0;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(rule, "model");
    if (model && !cJSON_IsNull(model)) {
        if (!cJSON_IsString(model) || strlen(model->valuestring) >= sizeof out->model)
            return bad(err, i, "\"model\" must be a model id");
        snprintf(out->model, sizeof out->model, "%s", model->valuestring);
    }
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(rule, "message");
    if (msg && !cJSON_IsNull(msg)) {
        if (!cJSON_IsString(msg))
            return bad(err, i, "\"message\" must be a string");
        snprintf(out->message, sizeof out->message, "%s", msg->valuestring);
    }
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(rule, "endpoint");
    if (ep && !cJSON_IsNull(ep)) {
        if (cJSON_IsString(ep) && strcmp(ep->valuestring, "messages") == 0)
            out->endpoints = SIM_EP_MESSAGES;
        else if (cJSON_IsString(ep) && strcmp(ep->valuestring, "count_tokens") == 0)
            out->endpoints = SIM_EP_COUNT_TOKENS;
        else if (cJSON_IsString(ep) && strcmp(ep->valuestring, "any") == 0)
            out->endpoints = SIM_EP_MESSAGES | SIM_EP_COUNT_TOKENS;
        else if (cJSON_IsString(ep) && strcmp(ep->valuestring, "batch") == 0)
            out->endpoints = SIM_EP_BATCH;
        else
            return bad(err, i, "\"endpoint\" must be \"messages\", \"count_tokens\", \"any\" or \"batch\"");
    }
    return 0;
}

int sim_faults_add_json(sim_faults *f, const char *json, size_t len, error_info *err)
{
    /* The whole text: cJSON alone reads the first value and ignores what follows it. */
    error_info perr;
    error_clear(&perr);
    cJSON *root = json_parse_whole(json, len, &perr);
    const cJSON *list = root;
    if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "faults"))
        list = cJSON_GetObjectItemCaseSensitive(root, "faults");
    if (!root || (!cJSON_IsArray(list) && !cJSON_IsObject(list))) {
        cJSON_Delete(root);
        error_set(err, "invalid_request_error", 400,
                  "%s%sexpected {\"faults\":[RULE, ...]}, [RULE, ...] or one RULE ({\"fault\":...})",
                  root ? "" : perr.message, root ? "" : "; ");
        return -1;
    }
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 1;
    if (f->n + n > f->cap) {
        size_t cap = f->cap ? f->cap : 8;
        while (cap < f->n + n)
            cap *= 2;
        sim_fault *nr = realloc(f->rules, cap * sizeof *nr);
        if (!nr) {
            cJSON_Delete(root);
            error_set(err, "api_error", 500, "out of memory");
            return -1;
        }
        f->rules = nr;
        f->cap = cap;
    }
    const cJSON *rule = cJSON_IsArray(list) ? list->child : list;
    for (size_t i = 0; i < n; i++, rule = rule->next) {
        if (parse_rule(rule, (int)i, &f->rules[f->n + i], err)) {
            cJSON_Delete(root);
            return -1;
        }
    }
    f->n += n;
    cJSON_Delete(root);
    return (int)n;
}

int sim_faults_match(sim_faults *f, const char *model, const char *canonical, int endpoint,
                     int stream, sim_fault *out)
{
    for (size_t i = 0; i < f->n; i++) {
        sim_fault *r = &f->rules[i];
        if (!(r->endpoints & endpoint))
            continue;
        if (r->stream >= 0 && r->stream != (stream ? 1 : 0))
            continue;
        if (r->model[0] && !(model && strcmp(r->model, model) == 0) &&
            !(canonical && strcmp(r->model, canonical) == 0))
            continue;
        if (r->probability > 0 && draw(f) >= r->probability)
            continue;
        *out = *r;
        if (r->count > 0 && --r->count == 0) {
            memmove(r, r + 1, (f->n - i - 1) * sizeof *r);
            f->n--;
        }
        return 1;
    }
    return 0;
}

/* The error a fault answers with: its HTTP status, the API's error type and the default text. */
static const char *default_message(int kind)
{
    switch (kind) {
    case SIM_FAULT_RATE_LIMIT:
        return "This request would exceed your organization's rate limit. For details, refer "
               "to: https://docs.claude.com/en/api/rate-limits.";
    case SIM_FAULT_SPEND_LIMIT:
        return "You have reached your monthly spend limit for this organization. You will "
               "regain access when the limit resets or is raised.";
    case SIM_FAULT_SERVER_ERROR:
        return "Internal server error";
    case SIM_FAULT_BAD_REQUEST:
        return "Invalid request";
    case SIM_FAULT_UNAUTHORIZED:
        return "invalid x-api-key";
    case SIM_FAULT_NOT_FOUND:
        return "Not found";
    case SIM_FAULT_TOO_LARGE:
        return "Request exceeds the maximum allowed number of bytes.";
    case SIM_FAULT_FORBIDDEN:
        return "Your API key does not have permission to use the specified resource.";
    case SIM_FAULT_BILLING:
        return "Your credit balance is too low to access the Anthropic API.";
    default:
        return "Overloaded";
    }
}

/* Answers with the fault's error, or returns -1 when the fault is not an error response. */
int sim_fault_error(int kind, int *status, const char **type, const char **message)
{
    static const struct {
        int kind, status;
        const char *type;
    } map[] = {
        {SIM_FAULT_RATE_LIMIT, 429, "rate_limit_error"},
        {SIM_FAULT_SPEND_LIMIT, 429, "rate_limit_error"},
        {SIM_FAULT_SERVER_ERROR, 500, "api_error"},
        {SIM_FAULT_OVERLOADED, 529, "overloaded_error"},
        {SIM_FAULT_BAD_REQUEST, 400, "invalid_request_error"},
        {SIM_FAULT_UNAUTHORIZED, 401, "authentication_error"},
        {SIM_FAULT_NOT_FOUND, 404, "not_found_error"},
        {SIM_FAULT_TOO_LARGE, 413, "request_too_large"},
        {SIM_FAULT_FORBIDDEN, 403, "permission_error"},
        {SIM_FAULT_BILLING, 402, "billing_error"},
        {SIM_FAULT_STREAM_ERROR, 529, "overloaded_error"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].kind == kind) {
            *status = map[i].status;
            *type = map[i].type;
            *message = default_message(kind);
            return 0;
        }
    return -1;
}
