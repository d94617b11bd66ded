/* libFuzzer target: the non-streaming Messages response parser. Any body must give a parsed
 * response or an error, never a crash, a leak or a half-filled response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claude/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    claude_response r;
    response_init(&r);
    error_info err;
    error_clear(&err);
    int rc = claude_parse_message((const char *)data, size, &r, &err);
    if (rc == 0) {
        if (!r.text || strlen(r.text) > r.text_len || r.text[r.text_len] != '\0')
            abort();
    } else {
        if (rc != -1 || err.type[0] == '\0' || r.id || r.model || r.text || r.stop_reason)
            abort();
    }
    /* parsing into a response that already holds fields must free them, not leak */
    if (rc == 0) {
        error_clear(&err);
        if (claude_parse_message((const char *)data, size, &r, &err) != 0)
            abort();
    }
    response_free(&r);
    return 0;
}
