#define _POSIX_C_SOURCE 200809L
/* libFuzzer target: a tools array as JSON text, as a script or a host hands it over. The
 * check of the strict tools' schemas (claude_tools_memo_check), the count of the tools and
 * their cache marks (claude_tools_marks) and the request body that carries the tools must each
 * give an answer, never crash, leak or hang: the check 0, or -1 with an error naming the tool
 * ("tools[i]..."), the same whether it parses the text or is given the tree, and once with a
 * memo as without; the count the array's length, or -1 for text that is no tools array, which
 * the body then refuses too; a body built JSON that reads back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_parse.h"
#include "claude/body.h"
#include "claude/request.h"
#include "claude/response.h"
#include "claude/schema.h"
#include "fuzz_answer.h"

/* The body of a one-message request carrying tools (NUL-terminated), with the cache policy's
 * mark on the last tool; 0 or -1 as claude_request_body answers. */
static int build(const char *tools, int mark)
{
    claude_request r;
    request_init(&r);
    r.model = strdup("claude-sonnet-4-5");
    r.tools_json = strdup(tools);
    r.messages = calloc(1, sizeof *r.messages);
    r.max_tokens = 16;
    r.tools_mark = mark;
    if (!r.model || !r.tools_json || !r.messages) {
        request_free(&r);
        return 0;
    }
    r.nmessages = 1;
    r.messages[0].role = NYX_ROLE_USER;
    r.messages[0].blocks = calloc(1, sizeof *r.messages[0].blocks);
    if (!r.messages[0].blocks || block_set(&r.messages[0].blocks[0], "Hi", 2, NYX_MARK_NONE)) {
        request_free(&r);
        return 0;
    }
    r.messages[0].nblocks = 1;
    claude_body b;
    error_info err;
    error_clear(&err);
    int rc = claude_request_body(&r, NULL, &b, &err);
    expect_answer(rc, &err, NULL);
    if (rc == 0) {
        char *flat = claude_body_flatten(&b);
        if (flat) {
            size_t stop;
            cJSON *back = json_parse_value(flat, b.len, &stop);
            if (!cJSON_IsObject(back) || stop != b.len || strlen(flat) != b.len)
                abort(); /* a body is one JSON object, no NUL inside */
            cJSON_Delete(back);
            free(flat);
        }
        claude_body_free(&b);
    }
    request_free(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    error_info err;
    error_clear(&err);
    int rc = claude_tools_memo_check(NULL, NULL, text, size, "input_schema", 0, &err);
    expect_answer(rc, &err, "tools[");

    /* Given the tree, the same answer. */
    cJSON *tree = claude_json_parse(text, size);
    error_info err1;
    error_clear(&err1);
    if (tree && claude_tools_memo_check(NULL, tree, text, size, "input_schema", 0, &err1) != rc)
        abort();

    claude_schema_memo *m = claude_schema_memo_new();
    if (m) {
        for (int i = 0; i < 2; i++) {
            error_clear(&err1);
            if (claude_tools_memo_check(m, NULL, text, size, "input", 1, &err1) != rc)
                abort();
            expect_answer(rc, &err1, "tools[");
        }
        claude_schema_memo_stats st;
        claude_schema_memo_get_stats(m, &st);
        if (st.found != (rc == 0 ? 1u : 0u))
            abort(); /* a good list is remembered, a refused one never */
        claude_schema_memo_free(m);
    }

    /* The request's own reading stops at a NUL, as a C string does. */
    char *z = malloc(size + 1);
    if (!z) {
        cJSON_Delete(tree);
        return 0;
    }
    memcpy(z, data, size);
    z[size] = '\0';
    size_t ntools = 0;
    int marks = claude_tools_marks(z, &ntools);
    int whole = memchr(data, '\0', size) == NULL;
    if (marks < -1 || (marks == -1 && ntools != 0))
        abort();
    if (marks >= 0 && whole && (!cJSON_IsArray(tree) || (size_t)cJSON_GetArraySize(tree) != ntools))
        abort();
    int plain = build(z, NYX_MARK_NONE);
    if (marks == -1 && plain == 0)
        abort(); /* what claude_tools_marks finds no tools array, the body refuses */
    (void)build(z, NYX_MARK_1H);
    free(z);
    cJSON_Delete(tree);
    return 0;
}
