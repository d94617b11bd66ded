/* libFuzzer target: the Message Batches readers. The input is read as a batch object
 * (claude_batch_read), as a results file (each line through claude_batch_line, and each line's
 * result through claude_batch_result) and, when it is an object, as one result itself.
 * Invariant: a batch object reads to counts from 0 to 2^31 - 1 and times finite or NAN, or
 * fails with an api_error naming request_counts and leaves its output alone; every result
 * gives exactly one of a parsed response (its text NUL-terminated) or an error with a type and
 * a message; no crash, leak or undefined behaviour. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claude/batch_result.h"
#include "claude/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

static void check_result(const cJSON *result)
{
    claude_response r;
    response_init(&r);
    error_info err;
    error_clear(&err);
    claude_batch_result(result, &r, &err);
    if (err.type[0]) {
        if (!memchr(err.message, '\0', sizeof err.message) || !err.message[0] || r.text || r.id)
            abort();
    } else if (!r.text || r.text[r.text_len] != '\0') {
        abort();
    }
    response_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    cJSON *root = claude_json_parse(s, size);
    if (root) {
        claude_batch_info info;
        memset(&info, 0x5a, sizeof info);
        claude_batch_info before = info;
        error_info err;
        error_clear(&err);
        if (claude_batch_read(root, &info, &err) == 0) {
            for (int i = 0; i < CLAUDE_BATCH_NCOUNTS; i++)
                if (info.counts[i] < 0 || info.counts[i] > 2147483647L)
                    abort();
            if (isinf(info.created_at) || isinf(info.expires_at))
                abort();
        } else if (strcmp(err.type, "api_error") != 0 || !strstr(err.message, "request_counts") ||
                   memcmp(&info, &before, sizeof info) != 0) {
            abort();
        }
        if (cJSON_IsObject(root))
            check_result(root);
        cJSON_Delete(root);
    }

    size_t at = 0;
    while (at < size) {
        const char *nl = memchr(s + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (s + at)) : size - at;
        const char *cid;
        const cJSON *result;
        cJSON *o = claude_batch_line(s + at, n, &cid, &result);
        if (!o && (cid || result))
            abort();
        if (result) {
            if (!cJSON_IsObject(result))
                abort();
            check_result(result);
        }
        cJSON_Delete(o);
        at += n + (nl ? 1 : 0);
    }
    return 0;
}
