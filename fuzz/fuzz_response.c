/* libFuzzer target: the non-streaming Messages response parser. Any body must give a parsed
 * response or an error, never a crash, a leak or a half-filled response. A parsed reply's
 * blocks are then read as the conversation reads them (claude/reply.h): each one a known part,
 * the thinking joined, the blocks printed back. The check for a body cut short
 * (claude_json_unfinished) calls no whole JSON value unfinished, and one whose closing bracket is
 * cut off unfinished. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claude/reply.h"
#include "claude/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

static void check_unfinished(const char *s, size_t n)
{
    cJSON *whole = claude_json_parse(s, n);
    if (!whole)
        return;
    if (claude_json_unfinished(s, n))
        abort();
    size_t end = n;
    while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\r' || s[end - 1] == '\n'))
        end--;
    if ((cJSON_IsObject(whole) || cJSON_IsArray(whole)) && !claude_json_unfinished(s, end - 1))
        abort();
    cJSON_Delete(whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_unfinished((const char *)data, size);
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
    if (rc == 0) {
        const cJSON *block;
        cJSON_ArrayForEach(block, r.content) {
            claude_block_part p = claude_block_part_of(block);
            if (p != CLAUDE_BLOCK_SENT && p != CLAUDE_BLOCK_DROPPED && p != CLAUDE_BLOCK_TOOL_USE &&
                p != CLAUDE_BLOCK_THINKING)
                abort();
        }
        textbuf thinking = {0};
        if (claude_reply_thinking(r.content, &thinking) < 0 || !response_content_json(&r))
            abort();
        free(thinking.s);
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
