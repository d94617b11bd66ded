/* engine/base/json_print: the text is cJSON_PrintUnformatted's, byte for byte, however long
 * (the buffer grows until it fits), but for floats, written in the shortest digits that read
 * back as the same double (json_double_text, as nyx.json_encode writes them), the tree as it
 * was after; the buffer is kept for the next print, and let go once it grew past
 * JSON_PRINT_KEEP_MAX. */
#include "check.h"

#include "base/json_number.h"
#include "base/json_print.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints t both ways and compares. */
static void same(const cJSON *t, textbuf *scratch)
{
    char *want = cJSON_PrintUnformatted(t);
    size_t len = 0;
    char *got = json_print_exact(t, scratch, &len);
    REQUIRE(want != NULL && got != NULL);
    CHECK_STR(got, want);
    CHECK_INT((long)len, (long)strlen(want));
    free(want);
    free(got);
}

static void prints(void)
{
    textbuf scratch = {0};
    cJSON *t = cJSON_CreateObject();
    REQUIRE(t != NULL);
    cJSON_AddStringToObject(t, "model", "claude-sonnet-4-5");
    cJSON_AddNumberToObject(t, "max_tokens", 1024);
    cJSON *arr = cJSON_AddArrayToObject(t, "messages");
    cJSON_AddItemToArray(arr, cJSON_CreateString("a \"quoted\"\nline\x01"));
    same(t, &scratch);
    CHECK(scratch.s != NULL && scratch.cap > 0);
    char *kept = scratch.s;
    size_t cap = scratch.cap;
    same(t, &scratch);
    CHECK(scratch.s == kept && scratch.cap == cap); /* no allocation of its own the second time */

    /* Longer than the buffer: it grows until the text fits. */
    size_t n = 3 * cap;
    char *long_text = malloc(n + 1);
    REQUIRE(long_text != NULL);
    memset(long_text, 'x', n);
    long_text[n] = '\0';
    cJSON_AddItemToArray(arr, cJSON_CreateString(long_text));
    same(t, &scratch);
    CHECK(scratch.cap > n);

    /* Past what is kept: let go after the print. */
    free(long_text);
    n = JSON_PRINT_KEEP_MAX + 10;
    long_text = malloc(n + 1);
    REQUIRE(long_text != NULL);
    memset(long_text, 'y', n);
    long_text[n] = '\0';
    cJSON_AddItemToArray(arr, cJSON_CreateString(long_text));
    same(t, &scratch);
    CHECK(scratch.s == NULL && scratch.cap == 0);

    free(long_text);
    cJSON_Delete(t);
    free(scratch.s);
}

/* A node cJSON cannot print (a raw node without its text) fails at once, the buffer as it was:
 * not grown in the belief that it lacked room. */
static void unprintable(void)
{
    textbuf b = {0};
    textbuf_puts(&b, "kept");
    size_t cap = b.cap;
    cJSON raw;
    json_node(&raw, cJSON_Raw, NULL, NULL);
    CHECK_INT(json_print_append(&raw, &b), -1);
    CHECK_STR(b.s, "kept");
    CHECK_INT(b.len, 4);
    CHECK(b.cap == cap);
    free(b.s);
}

/* json_string_append writes a string as cJSON prints it: every byte value on its own, between
 * others and at each end, and a JSON body with its quotes (a stored recipe's strings). A NUL is
 * escaped rather than ending the string. */
static void strings(void)
{
    textbuf b = {0};
    for (int ch = 1; ch < 256; ch++) {
        char text[] = {'a', (char)ch, 'b', (char)ch, '\0'};
        const char *cases[] = {text, text + 1, text + 3};
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            cJSON *s = cJSON_CreateString(cases[k]);
            char *want = s ? cJSON_PrintUnformatted(s) : NULL;
            REQUIRE(want != NULL);
            textbuf_reset(&b);
            textbuf_put(&b, "x", 1); /* appended after what is there */
            json_string_append(&b, cases[k], strlen(cases[k]));
            CHECK(!b.failed && b.len == strlen(want) + 1 && b.s[0] == 'x' && strcmp(b.s + 1, want) == 0);
            CHECK_INT((long)strlen(b.s), (long)b.len);
            free(want);
            cJSON_Delete(s);
        }
    }
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a \\\"q\\\"\\n\"}]}";
    cJSON *s = cJSON_CreateString(body);
    char *want = s ? cJSON_PrintUnformatted(s) : NULL;
    REQUIRE(want != NULL);
    textbuf_reset(&b);
    json_string_append(&b, body, strlen(body));
    CHECK_STR(b.s, want);
    free(want);
    cJSON_Delete(s);
    textbuf_reset(&b);
    json_string_append(&b, "a\0b", 3);
    CHECK_STR(b.s, "\"a\\u0000b\"");
    textbuf_reset(&b);
    json_string_append(&b, "", 0);
    CHECK_STR(b.s, "\"\"");
    free(b.s);
}

/* Each float prints as json_double_text writes it, however it is reached (the root, an array, an
 * object nested in both), by each of the three prints; integers, non-finite numbers (null) and
 * everything else print as cJSON prints them; the tree holds the same numbers afterwards. */
static void floats(void)
{
    const double values[] = {0.1, 1e21, 5e-324, 0.30000000000000004, 2.0 / 3.0, -0.0, 1.2345678901234568e20,
                             -2.5e-8, 9007199254740993.0, 4294967296.0, 1e300};
    /* cJSON's own print, for two of them: another double, and 17 digits where 16 do. */
    cJSON *n = cJSON_CreateNumber(0.30000000000000004);
    char *theirs = cJSON_PrintUnformatted(n);
    CHECK_STR(theirs, "0.3");
    cJSON_free(theirs);
    cJSON_SetNumberValue(n, 2.0 / 3.0);
    theirs = cJSON_PrintUnformatted(n);
    CHECK_STR(theirs, "0.66666666666666663");
    cJSON_free(theirs);
    cJSON_Delete(n);

    textbuf scratch = {0}, b = {0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        double v = values[i];
        char text[JSON_NUMBER_TEXT], want[256];
        REQUIRE(json_double_text(v, text, sizeof text) > 0);
        CHECK_ROW("%.17g: %s", v, text);
        snprintf(want, sizeof want, "{\"a\":[%s,{\"x\":%s,\"n\":3}],\"s\":\"t\",\"nan\":null,\"f\":%s}", text, text,
                 text);
        cJSON *t = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(t, "a");
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "x", v);
        cJSON_AddNumberToObject(o, "n", 3);
        cJSON_AddItemToArray(a, o);
        cJSON_AddStringToObject(t, "s", "t");
        cJSON_AddNumberToObject(t, "nan", NAN);
        cJSON_AddNumberToObject(t, "f", v);
        char *got = json_print(t);
        CHECK_STR(got, want);
        cJSON_free(got);
        size_t len = 0;
        got = json_print_exact(t, &scratch, &len);
        CHECK_STR(got, want);
        CHECK_INT((long)len, (long)strlen(want));
        free(got);
        textbuf_reset(&b);
        textbuf_puts(&b, "x");
        CHECK_INT(json_print_append(t, &b), 0);
        CHECK(b.s && b.s[0] == 'x' && strcmp(b.s + 1, want) == 0);
        /* A number alone. */
        got = json_print(cJSON_GetObjectItemCaseSensitive(t, "f"));
        CHECK_STR(got, text);
        cJSON_free(got);
        /* The tree is as it was: numbers, with their values, and no text. */
        const cJSON *nodes[] = {a->child, cJSON_GetObjectItemCaseSensitive(o, "x"),
                                cJSON_GetObjectItemCaseSensitive(t, "f")};
        for (size_t k = 0; k < 3; k++) {
            CHECK(nodes[k]->type == cJSON_Number && nodes[k]->valuestring == NULL);
            CHECK(nodes[k]->valuedouble == v && signbit(nodes[k]->valuedouble) == signbit(v));
        }
        cJSON_Delete(t);
        CHECK_ROW_END();
    }
    free(scratch.s);
    free(b.s);
}

/* More floats than the print holds on the stack: their texts are allocated, every one right. */
static void many_floats(void)
{
    cJSON *arr = cJSON_CreateArray();
    REQUIRE(arr != NULL);
    textbuf want = {0};
    textbuf_puts(&want, "[");
    for (int i = 0; i < 100; i++) {
        double v = 0.1 * i + 0.30000000000000004;
        char text[JSON_NUMBER_TEXT];
        REQUIRE(json_double_text(v, text, sizeof text) > 0);
        textbuf_puts(&want, i ? "," : "");
        textbuf_puts(&want, text);
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(v));
    }
    textbuf_puts(&want, "]");
    char *got = json_print(arr);
    CHECK_STR(got, want.s);
    cJSON_free(got);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        CHECK(cJSON_IsNumber(it) && it->valueint >= 0 && it->valuedouble == 0.1 * i + 0.30000000000000004);
        i++;
    }
    CHECK_INT(i, 100);
    cJSON_Delete(arr);
    free(want.s);
    CHECK(json_print(NULL) == NULL);
}

int main(void)
{
    floats();
    many_floats();
    prints();
    strings();
    unprintable();
    return check_failures;
}
