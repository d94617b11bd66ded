#include "batch_result.h"

#include <math.h>
#include <string.h>

#include "base/json_print.h"
#include "errors.h"
#include "headers.h"
#include "response.h"

/* More than the API's 100,000 requests a batch, and within a long on every platform. */
#define MAX_BATCH_COUNT 2147483647.0

static double time_of(const cJSON *batch, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(batch, key));
    double t;
    return s && claude_parse_rfc3339(s, strlen(s), &t) == 0 ? t : NAN;
}

int claude_batch_read(const cJSON *batch, claude_batch_info *out, error_info *err)
{
    static const char *const names[CLAUDE_BATCH_NCOUNTS] = {"processing", "succeeded", "errored", "canceled",
                                                            "expired"};
    claude_batch_info t;
    memset(&t, 0, sizeof t);
    t.id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(batch, "id"));
    t.processing_status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(batch, "processing_status"));
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(batch, "request_counts");
    if (counts && !cJSON_IsNull(counts) && !cJSON_IsObject(counts)) {
        error_clear(err);
        error_set(err, "api_error", 0, "malformed batch: request_counts is not an object");
        return -1;
    }
    for (int i = 0; i < CLAUDE_BATCH_NCOUNTS; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(counts, names[i]);
        if (!c || cJSON_IsNull(c))
            continue;
        /* A double out of a long's range converted to one is undefined behaviour: checked first. */
        double v = cJSON_IsNumber(c) ? c->valuedouble : -1;
        if (!(v >= 0 && v <= MAX_BATCH_COUNT) || v != floor(v)) {
            error_clear(err);
            error_set(err, "api_error", 0, "malformed batch: request_counts.%s must be an integer from 0 to %.0f",
                      names[i], MAX_BATCH_COUNT);
            return -1;
        }
        t.counts[i] = (long)v;
    }
    t.created_at = time_of(batch, "created_at");
    t.expires_at = time_of(batch, "expires_at");
    *out = t;
    return 0;
}

cJSON *claude_batch_line(const char *s, size_t len, const char **custom_id, const cJSON **result)
{
    *custom_id = NULL;
    *result = NULL;
    cJSON *o = claude_json_parse(s, len);
    *custom_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "custom_id"));
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "result");
    *result = cJSON_IsObject(r) ? r : NULL;
    return o;
}

void claude_batch_result(const cJSON *result, claude_response *resp, error_info *err)
{
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "type"));
    if (type && strcmp(type, "succeeded") == 0) {
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(result, "message");
        char *text = payload ? json_print(payload) : NULL;
        if (!text)
            error_set(err, "api_error", 0, "a batch result without its message");
        else
            claude_parse_message(text, strlen(text), resp, err);
        cJSON_free(text);
    } else if (type && strcmp(type, "errored") == 0) {
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(result, "error"), "error");
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inner, "type"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inner, "message"));
        /* An empty type would read as no error at all: the request would pass for answered. */
        claude_error_answered(err, t, msg, 400, "api_error", "the request failed in its batch");
    } else if (type && strcmp(type, "canceled") == 0) {
        error_set(err, "batch_canceled", 0, "the batch was cancelled before this request was processed");
    } else if (type && strcmp(type, "expired") == 0) {
        error_set(err, "batch_expired", 0, "the batch expired before this request was processed");
    } else if (type) {
        error_set(err, "api_error", 0, "malformed batch result: its type \"%.40s\" is none of succeeded, errored, "
                  "canceled and expired", type);
    } else {
        error_set(err, "api_error", 0, "malformed batch result: its type is missing or not a string");
    }
}
