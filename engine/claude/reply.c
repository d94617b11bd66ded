#include "reply.h"

#include <string.h>

/* The block's type, or NULL when it has none. */
static const char *type_of(const cJSON *block)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
    return cJSON_IsString(type) ? type->valuestring : NULL;
}

claude_block_part claude_block_part_of(const cJSON *block)
{
    if (!cJSON_IsObject(block))
        return CLAUDE_BLOCK_DROPPED;
    const char *type = type_of(block);
    if (!type)
        return CLAUDE_BLOCK_SENT;
    if (strcmp(type, "text") == 0) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");
        return cJSON_IsString(text) && text->valuestring && !text->valuestring[0] ? CLAUDE_BLOCK_DROPPED
                                                                                  : CLAUDE_BLOCK_SENT;
    }
    if (strcmp(type, "tool_use") == 0)
        return CLAUDE_BLOCK_TOOL_USE;
    if (strcmp(type, "thinking") == 0)
        return CLAUDE_BLOCK_THINKING;
    return CLAUDE_BLOCK_SENT;
}

int claude_reply_thinking(const cJSON *content, textbuf *out)
{
    int n = 0;
    const cJSON *block;
    cJSON_ArrayForEach(block, content) {
        if (claude_block_part_of(block) != CLAUDE_BLOCK_THINKING)
            continue;
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "thinking");
        if (!cJSON_IsString(text) || !text->valuestring)
            continue;
        if (n++ > 0)
            textbuf_put(out, "\n", 1);
        textbuf_puts(out, text->valuestring);
    }
    return out->failed ? -1 : n;
}
