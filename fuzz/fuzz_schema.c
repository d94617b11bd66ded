/* libFuzzer target: the structured-outputs schema check (claude/schema.h) on a schema as JSON
 * text, as a script's output, a template's front matter or a strict tool hands it over. Any
 * text must be accepted (0) or refused (-1) with an error type and a message naming the place
 * ("output..."), never crash, leak or hang. The answer must not depend on how list members are
 * counted (index_base 0 or 1), nor on the memo: a text found good is found again without a walk.
 * A schema accepted, printed and read back is accepted again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_print.h"
#include "claude/response.h"
#include "claude/schema.h"
#include "fuzz_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    error_info err;
    error_clear(&err);
    int rc = claude_schema_check_text(text, size, "output", 0, &err);
    expect_answer(rc, &err, "output");

    error_info err1;
    error_clear(&err1);
    int rc1 = claude_schema_check_text(text, size, "output", 1, &err1);
    expect_answer(rc1, &err1, "output");
    if (rc1 != rc || strcmp(err1.type, err.type) != 0)
        abort();

    claude_schema_memo *m = claude_schema_memo_new();
    if (!m)
        return 0;
    claude_schema_memo_stats st;
    for (int i = 0; i < 2; i++) {
        error_clear(&err1);
        if (claude_schema_memo_check(m, NULL, text, size, "output", 0, &err1) != rc)
            abort();
    }
    claude_schema_memo_get_stats(m, &st);
    if (st.walked + st.found != 2 || st.found != (rc == 0 ? 1u : 0u))
        abort(); /* a good text is remembered, a refused one never */
    claude_schema_memo_free(m);

    if (rc == 0) {
        cJSON *tree = claude_json_parse(text, size);
        if (!tree)
            abort(); /* accepted, so it was JSON */
        char *again = json_print(tree);
        cJSON_Delete(tree);
        if (again) {
            error_clear(&err1);
            if (claude_schema_check_text(again, strlen(again), "output", 0, &err1) != 0)
                abort();
            free(again);
        }
    }
    return 0;
}
