/* A request's body as claude_request_body builds it, in one piece, for the tests that compare
 * bodies as text (test_claude_request.c, test_claude_json_text.c). */
#ifndef NYX_TEST_BODY_JSON_H
#define NYX_TEST_BODY_JSON_H
#include "claude/body.h"
#include "claude/json_text.h"
#include "claude/request.h"

/* With the memo jt, or none: NULL with err set as the build sets it, or when out of memory. */
static inline char *body_json(const claude_request *r, claude_json_texts *jt, size_t *len, error_info *err)
{
    claude_body b;
    if (claude_request_body(r, jt, &b, err) != 0)
        return NULL;
    char *s = claude_body_flatten(&b);
    if (s && len)
        *len = b.len;
    claude_body_free(&b);
    return s;
}
#endif
