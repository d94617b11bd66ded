/* Parsing a non-streaming Messages response, and the usage object shared with the SSE parser. */
#ifndef NYX_CLAUDE_RESPONSE_H
#define NYX_CLAUDE_RESPONSE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "types.h"

/* Parses exactly s[0..len) as one JSON value (trailing bytes other than whitespace fail, which
 * cJSON_ParseWithLength would accept). Returns the tree, free with cJSON_Delete(), or NULL when
 * the text is not JSON or memory ran out. */
cJSON *claude_json_parse(const char *s, size_t len);

/* 1 when s[0..len) stops inside a JSON value (an object, array or string left open, or nothing
 * at all), as a text cut short does; 0 when every value it opens is closed (whether or not the
 * rest is JSON). */
int claude_json_unfinished(const char *s, size_t len);

/* Parses a 2xx Messages body. On success returns 0 and sets out's id, model, stop_reason,
 * stop_sequence (NULL when null), text (always non-NULL, NUL-terminated: the text blocks
 * joined), content (every content block, in order, the parsed array itself: not printed
 * again; content_json is left NULL for response_content_json()) and usage, freeing what those
 * fields held; out->request_id is left alone. On failure returns -1, leaves out unchanged and fills err:
 * type "api_error" (retryable 0) for a malformed body, the body's own type for a
 * {"type":"error"} body (retryable by type), "out_of_memory" when allocation fails. */
int claude_parse_message(const char *body, /* response body, need not be NUL-terminated */
                         size_t len,       /* its length in bytes */
                         claude_response *out, /* initialised by response_init(); filled here */
                         error_info *err    /* written on failure only */
);

/* Reads a usage object into u. replace_only_present 0: u is reset first, so missing and null
 * counters are 0. replace_only_present 1: only counters present as numbers overwrite u (the
 * SSE message_delta rule: its counts are running totals, never increments). The usage must be
 * well formed: an object whose counters are absent, null or non-negative integers, and whose
 * cache_creation is absent, null or such an object. Returns 0 with u read, or -1 with err
 * (type "api_error") naming the field, u untouched; where says whose usage it is. Each member
 * is looked up once. */
int claude_usage_read(const cJSON *usage, claude_usage *u, int replace_only_present, const char *where,
                      error_info *err);

#endif
