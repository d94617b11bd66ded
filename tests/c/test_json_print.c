/* engine/base/json_print: the text is cJSON_PrintUnformatted's, byte for byte, however long
 * (the buffer grows until it fits); the buffer is kept for the next print, and let go once it
 * grew past JSON_PRINT_KEEP_MAX. */
#include "check.h"

#include "base/json_print.h"

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

int main(void)
{
    prints();
    strings();
    unprintable();
    return check_failures;
}
