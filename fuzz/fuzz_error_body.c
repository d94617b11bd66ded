/* libFuzzer target: the API's error bodies, as a non-2xx answer (claude_error_from_http) and as
 * a {"type":"error"} object after a 2xx (claude_error_from_json). Input: two bytes of HTTP
 * status (big-endian), one byte of header flags (bit 0: headers given; bits 1-2: x-should-retry
 * absent, false or true; bit 3: a retry-after of 20 s), then the body.
 * Invariant: any body gives an error with a type and a message, both ended inside their
 * arrays, the status given, the header's retry hints carried over, and retryable 0 or 1:
 * x-should-retry's when the server sent one (a 429 naming a spend limit without retry-after
 * excepted), else the status's; from a 2xx object, the type's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claude/errors.h"
#include "claude/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

static void check_common(const error_info *err, int status)
{
    if (!memchr(err->type, '\0', sizeof err->type) || !err->type[0] ||
        !memchr(err->message, '\0', sizeof err->message) || !err->message[0] ||
        !memchr(err->request_id, '\0', sizeof err->request_id) || err->status != status ||
        (err->retryable != 0 && err->retryable != 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int status = data[0] << 8 | data[1];
    unsigned flags = data[2];
    const char *body = (const char *)data + 3;
    size_t len = size - 3;

    claude_headers h;
    claude_headers_init(&h);
    int should = (int)((flags >> 1) & 3u) - 1; /* -1, 0, 1 (and 2, read as absent) */
    h.should_retry = should > 1 ? -1 : should;
    if (flags & 8u)
        h.retry_after_s = 20;
    const claude_headers *hp = (flags & 1u) ? &h : NULL;

    error_info err;
    claude_error_from_http(status, len ? body : NULL, len, hp, &err);
    check_common(&err, status);
    if (hp) {
        if (err.retry_after_s != h.retry_after_s || err.should_retry != h.should_retry)
            abort();
        if (h.should_retry == 0 && err.retryable != 0)
            abort();
        if (h.should_retry == 1 && err.retryable != 1 && !(status == 429 && h.retry_after_s < 0))
            abort();
    } else if (err.retry_after_s != -1.0 || err.should_retry != -1) {
        abort();
    }
    if ((!hp || h.should_retry == -1) && err.retryable && !claude_status_retryable(status))
        abort();

    cJSON *root = claude_json_parse(body, len);
    if (root) {
        claude_error_from_json(root, &err);
        check_common(&err, 0);
        if (err.retryable != claude_error_type_retryable(err.type))
            abort();
        cJSON_Delete(root);
    }
    return 0;
}
