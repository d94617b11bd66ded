/* engine/base/json_parse.h: a whole text as one JSON value, or where it stops being one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_parse.h"
#include "check.h"

/* text (strlen) fails with a message holding want. */
static void refused(const char *text, const char *want)
{
    error_info err = cleared_error();
    cJSON *v = json_parse_whole(text, strlen(text), &err);
    if (v || strcmp(err.type, "invalid_argument") != 0 || !strstr(err.message, want)) {
        check_fail_at(__FILE__, __LINE__);
        fprintf(stderr, "json_parse_whole(%s): %s %s, want '%s'\n", text, v ? "parsed" : err.type,
                v ? "" : err.message, want);
    }
    cJSON_Delete(v);
}

/* text parsed, printed again unformatted. */
static void reprints(const char *text, const char *want)
{
    size_t stop;
    cJSON *v = json_parse_value(text, strlen(text), &stop);
    char *got = v ? cJSON_PrintUnformatted(v) : NULL;
    CHECK_ROW("%s", text);
    CHECK_STR(got, want);
    CHECK_ROW_END();
    free(got);
    cJSON_Delete(v);
}

/* An integer past 2^53 keeps its digits (a raw node), wherever it is and whatever strings
 * with digits come before it; one below, or one written with '.' or an exponent, is a number. */
static void wide_integers(void)
{
    const char *text = "{\"k9\":\"12345678901234567890\",\"a\":[1,\"x\\\"-9\",-9007199254740993,"
                       "{\"m\":9223372036854775807}],\"f\":9007199254740993.0,\"e\":1e19,"
                       "\"small\":9007199254740991,\"big\":12345678901234567890} ";
    size_t stop;
    cJSON *v = json_parse_value(text, strlen(text), &stop);
    REQUIRE(v != NULL);
    CHECK_INT(stop, strlen(text));
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(v, "a");
    const cJSON *wide = cJSON_GetArrayItem(a, 2);
    CHECK(cJSON_IsRaw(wide) && strcmp(wide->valuestring, "-9007199254740993") == 0);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 3), "m");
    CHECK(cJSON_IsRaw(m) && strcmp(m->valuestring, "9223372036854775807") == 0);
    const cJSON *big = cJSON_GetObjectItemCaseSensitive(v, "big");
    CHECK(cJSON_IsRaw(big) && strcmp(big->valuestring, "12345678901234567890") == 0);
    CHECK(cJSON_IsNumber(cJSON_GetArrayItem(a, 0)));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "f")));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "e")));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "small")));
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "k9")));
    cJSON_Delete(v);
    /* Printed back as they came (cJSON alone: 9.00719925474099e+15). */
    reprints("[9007199254740993,-9223372036854775808,1]", "[9007199254740993,-9223372036854775808,1]");
    reprints("9007199254740993", "9007199254740993");
    /* json_parse_whole too: nyx.json_decode reads through it. */
    error_info err = cleared_error();
    v = json_parse_whole("{\"id\": 18014398509481985}", 25, &err);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
    CHECK(cJSON_IsRaw(id) && strcmp(id->valuestring, "18014398509481985") == 0);
    cJSON_Delete(v);
}

int main(void)
{
    wide_integers();
    error_info err = cleared_error();
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
