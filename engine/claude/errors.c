#include "errors.h"
#include "response.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* A proxy's HTML error page can be megabytes; the message only needs enough to recognise it. */
#define EXCERPT_MAX 200

static const char *type_for_status(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 408: return "timeout_error";
    case 409: return "conflict_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 500: return "api_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: break;
    }
    if (status >= 400 && status < 500)
        return "invalid_request_error";
    return "api_error";
}

/* The status's type as the table has it (base/error.c), so a status and the same type in a
 * stream's error event are retried alike. */
int claude_status_retryable(int status)
{
    if (status < 400 || status > 599)
        return 0;
    return claude_error_type_retryable(type_for_status(status));
}

int claude_error_type_retryable(const char *type)
{
    const error_kind *k = error_kind_of(type);
    return k && k->retryable;
}

/* Printable ASCII excerpt: whitespace runs become one space, other bytes '?'. */
static void excerpt(const char *body, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    int in_space = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!in_space && o > 0)
                out[o++] = ' ';
            in_space = 1;
            continue;
        }
        in_space = 0;
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        if (o >= EXCERPT_MAX && i + 1 < len) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i]) {
            char c = p[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != needle[i])
                break;
            i++;
        }
        if (i == n)
            return 1;
    }
    return 0;
}

/* The monthly spend cap answers 429 without retry-after; retrying it only burns time. */
static int is_spend_limit(const char *message)
{
    return contains_nocase(message, "spend limit") || contains_nocase(message, "usage limit") ||
           contains_nocase(message, "spending limit") ||
           contains_nocase(message, "credit balance");
}

static const char *string_field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

void claude_error_answered(error_info *err, const char *etype, const char *emsg, int status,
                           const char *fallback, const char *missing)
{
    const char *type = etype && etype[0] ? etype : fallback;
    if (error_type_from_api(type))
        error_set(err, type, status, "%s", emsg && emsg[0] ? emsg : missing);
    else
        error_set(err, "api_error", status, "the API answered with error type \"%.40s\", which is "
                  "not one of its own: %s", type, emsg && emsg[0] ? emsg : missing);
}

void claude_error_from_http(int status, const char *body, size_t len, const claude_headers *h,
                            error_info *err)
{
    error_clear(err);
    if (!body)
        len = 0;
    cJSON *root = len ? claude_json_parse(body, len) : NULL;
    const cJSON *eobj = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *etype = cJSON_IsObject(eobj) ? string_field(eobj, "type") : NULL;
    const char *emsg = cJSON_IsObject(eobj) ? string_field(eobj, "message") : NULL;

    char missing[EXCERPT_MAX + 32];
    if (len == 0) {
        snprintf(missing, sizeof missing, "HTTP %d with an empty body", status);
    } else if (etype && etype[0]) {
        snprintf(missing, sizeof missing, "HTTP %d %.40s", status, etype);
    } else {
        char ex[EXCERPT_MAX + 8];
        excerpt(body, len, ex, sizeof ex);
        snprintf(missing, sizeof missing, "HTTP %d: %s", status, ex);
    }
    claude_error_answered(err, etype, emsg, status, type_for_status(status), missing);

    const char *body_rid = string_field(root, "request_id");
    if (h && h->request_id[0])
        snprintf(err->request_id, sizeof err->request_id, "%s", h->request_id);
    else if (body_rid)
        snprintf(err->request_id, sizeof err->request_id, "%s", body_rid);
    cJSON_Delete(root);

    if (h) {
        err->retry_after_s = h->retry_after_s;
        err->should_retry = h->should_retry;
    }
    if (err->should_retry == 0 || err->should_retry == 1)
        err->retryable = err->should_retry;
    else
        err->retryable = claude_status_retryable(status);
    if (status == 429 && err->retry_after_s < 0 && is_spend_limit(err->message))
        err->retryable = 0;
}

void claude_error_from_json(const cJSON *root, error_info *err)
{
    error_clear(err);
    const cJSON *eobj = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *etype = cJSON_IsObject(eobj) ? string_field(eobj, "type") : NULL;
    const char *emsg = cJSON_IsObject(eobj) ? string_field(eobj, "message") : NULL;
    claude_error_answered(err, etype, emsg, 0, "api_error", "the API reported an error");
    const char *rid = string_field(root, "request_id");
    if (rid)
        snprintf(err->request_id, sizeof err->request_id, "%s", rid);
    err->retryable = claude_error_type_retryable(err->type);
}

void claude_error_transport(error_info *err, int is_timeout, const char *detail)
{
    error_clear(err);
    const char *type = is_timeout ? "timeout" : "network_error";
    if (detail && detail[0])
        error_set(err, type, 0, "%s", detail);
    else
        error_set(err, type, 0, "%s", is_timeout ? "request timed out" : "network error");
    err->retryable = claude_error_type_retryable(type);
}

void claude_error_tls(error_info *err, const char *host, const char *reason, const char *detail, const char *fix)
{
    error_clear(err);
    error_set(err, "tls_error", 0, "TLS with %.120s failed: %.160s (%.100s); fix: %.200s", host ? host : "?",
                  reason ? reason : "unknown reason", detail && detail[0] ? detail : "no detail", fix ? fix : "");
    err->retryable = 0; /* the same certificate fails the same way on every attempt */
}
