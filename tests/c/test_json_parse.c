/* engine/base/json_parse.h: a whole text as one JSON value, or where it stops being one. */
#include <stdio.h>
#include <string.h>

#include "base/json_parse.h"
#include "check.h"

/* text (strlen) fails with a message holding want. */
static void refused(const char *text, const char *want)
{
    error_info err;
    error_clear(&err);
    cJSON *v = json_parse_whole(text, strlen(text), &err);
    if (v || strcmp(err.type, "invalid_argument") != 0 || !strstr(err.message, want)) {
        check_fail_at(__FILE__, __LINE__);
        fprintf(stderr, "json_parse_whole(%s): %s %s, want '%s'\n", text, v ? "parsed" : err.type,
                v ? "" : err.message, want);
    }
    cJSON_Delete(v);
}

int main(void)
{
    error_info err;
    error_clear(&err);
    const char *spaced = " {\"a\": [1, \"x\\\\u0000\"]}\n\t ";
    cJSON *v = json_parse_whole(spaced, strlen(spaced), &err);
    CHECK(v != NULL); /* whitespace after; an escaped backslash then text is not \u0000 */
    CHECK(cJSON_IsObject(v));
    cJSON_Delete(v);
    v = json_parse_whole("[1] ", 3, &err); /* len, not the NUL, ends the text */
    CHECK(cJSON_IsArray(v));
    cJSON_Delete(v);

    refused("{} x", "not valid JSON: more text after the value at line 1, column 4 (byte 4)");
    refused("{\"a\": 1}\n{\"a\": 2}", "more text after the value at line 2, column 1 (byte 10)");
    refused("[1] 2", "more text after the value");
    refused("{\"a\": }", "not valid JSON at line 1, column 7");
    refused("", "not valid JSON");
    refused("\"a\\u0000b\"", "a string holds \\u0000 at line 1, column 3 (byte 3), which would cut it there");
    refused("[\"\\\\\\u0000\"]", "a string holds \\u0000 at line 1, column 5");
    CHECK_DONE();
}
