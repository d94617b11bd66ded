/* JSON bodies for POST /v1/messages and /v1/messages/count_tokens. The output is a pure
 * function of the request, key order included, because the API caches exact prefixes. */
#ifndef NYX_CLAUDE_REQUEST_H
#define NYX_CLAUDE_REQUEST_H

#include <stddef.h>

#include "types.h"

/* Whether every text the body would carry can be sent: no NUL byte inside a text block, and
 * all of it UTF-8 (base/utf8.h), which JSON must be for the API to read it. Checks the model,
 * system and message blocks (a long shared text's answer is kept with it: read once, not per
 * call), tools, tool_choice, the output schema, effort, stop_sequences and user_id. Returns 0,
 * or -1 with err an invalid_argument naming the field and the first bad byte ("messages[1].
 * content[0].text is not valid UTF-8 (its byte 17 is 0xE9)"; inside JSON passed through, the
 * string: "tools[0].description"). Building a body checks this unless req->text_checked is
 * set: the engine checks before the cache policy splits a text, which would rename it, and
 * sets it. */
int claude_request_check_text(const claude_request *req, error_info *err);

struct claude_json_texts;
struct claude_body;

/* Builds the Messages body: model, max_tokens, system, messages, tools, tool_choice,
 * thinking, output_config, temperature, stop_sequences, metadata, stream, cache_control, in
 * that order, optional ones omitted. A block is a plain string where that is possible (one
 * unmarked text block) and otherwise an array of blocks with cache_control
 * {"type":"ephemeral"[,"ttl":"1h"]}; a JSON block (tool_use, tool_result, image, thinking...)
 * goes out as given, a cache mark added to it. tool_choice, thinking and output_config must
 * be JSON objects; a JSON block an object with a type, and no thinking block may be marked.
 * Returns 0, or -1 with err set (out is then empty): "invalid_argument" naming the
 * field and the problem, or "out_of_memory". Validates: model non-empty, max_tokens > 0,
 * temperature <= 1, at least one message, the first one from the user, every message with
 * at least one block, every text sendable (claude_request_check_text), tools a JSON array, at most 4 cache marks
 * (tools' own cache_control, system, messages and the top-level one), no 1h mark after a 5m
 * one, and no top-level (5m) cache_control when the last block carries a 1h mark.
 * req->tools_mark puts a cache_control on the last tool (unless it has one already).
 * The body is written in pieces (body.h): the JSON literals of long texts (a system prompt, a
 * context) are taken from jt when made before (json_text.h), and stand in out as references
 * to jt's copies; jt NULL builds without a memo, the body the same byte for byte, in one
 * piece. */
int claude_request_body(const claude_request *req, struct claude_json_texts *jt, struct claude_body *out,
                        error_info *err);

/* The cache marks (cache_control) the tools of a JSON tools array carry, and the number of
 * tools in *ntools: 0 for NULL, -1 when tools_json is not a valid tools array (building the
 * request reports why). */
int claude_tools_marks(const char *tools_json, size_t *ntools);

#endif
