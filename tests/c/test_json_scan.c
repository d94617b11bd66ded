/* engine/base/json_scan: the long strings of a JSON text, found by their quotes alone. */
#include <string.h>

#include "base/json_scan.h"
#include "check.h"

static void test_string_end(void)
{
    const char *t = "\"abc\" x";
    CHECK_INT(json_string_end(t, strlen(t), 0), 5);
    t = "\"a\\\"b\" x"; /* an escaped quote does not end it */
    CHECK_INT(json_string_end(t, strlen(t), 0), 6);
    t = "\"a\\\\\" x"; /* an escaped backslash, then the end */
    CHECK_INT(json_string_end(t, strlen(t), 0), 5);
    t = "\"a\\\\\\\"b\" x"; /* three backslashes: the quote is escaped */
    CHECK_INT(json_string_end(t, strlen(t), 0), 8);
    t = "\"never closed";
    CHECK_INT(json_string_end(t, strlen(t), 0), strlen(t));
}

static void test_long_strings(void)
{
    const char *t = "{\"k\":\"0123456789\",\"short\":\"ab\",\"q\":\"x\\\"yz0123456\",\"n\":5}";
    size_t from[4], to[4];
    size_t n = json_long_strings_known(t, strlen(t), 12, NULL, 0, from, to, 4);
    CHECK_INT(n, 2);
    CHECK_INT(from[0], 5);
    CHECK_INT(to[0], 17);
    CHECK(n == 2 && memcmp(t + from[1], "\"x\\\"yz0123456\"", to[1] - from[1]) == 0);
    /* At most max; none in a text without quotes. */
    CHECK_INT(json_long_strings_known(t, strlen(t), 12, NULL, 0, from, to, 1), 1);
    CHECK_INT(json_long_strings_known("no quotes here", 14, 1, NULL, 0, from, to, 4), 0);
}

/* A known span opening at a quote and closing with one is taken as the whole string, unread:
 * here a span ending at an escaped quote, which reading would not take for the end. */
static void test_known(void)
{
    const char *t = "[\"ab\\\"cd\"]"; /* the string is [1, 9) */
    size_t len = strlen(t), k = 0;
    hashed_span known[2] = {{.at = 0, .len = 2}, {.at = 1, .len = 5}};
    CHECK_INT(json_string_end_known(t, len, 1, known, 2, &k), 6); /* stepped over */
    CHECK_INT(k, 1);                                               /* past the span before */
    k = 0;
    CHECK_INT(json_string_end_known(t, len, 1, known, 1, &k), 9); /* none opens here: read */
    hashed_span odd[2] = {{.at = 1, .len = 4}, {.at = 1, .len = 20}};
    k = 0; /* not ending on a quote, or past the text: read */
    CHECK_INT(json_string_end_known(t, len, 1, odd, 1, &k), 9);
    k = 0;
    CHECK_INT(json_string_end_known(t, len, 1, odd + 1, 1, &k), 9);
    size_t from[4], to[4];
    CHECK_INT(json_long_strings_known(t, len, 4, known + 1, 1, from, to, 4), 1);
    CHECK(from[0] == 1 && to[0] == 6);
    CHECK_INT(json_long_strings_known(t, len, 4, NULL, 0, from, to, 4), 1);
    CHECK(from[0] == 1 && to[0] == 9);
}

/* The numbers of a text, strings (keys, values, escaped quotes) stepped over. */
static void test_next_number(void)
{
    const char *t = "{\"a1\":[-12,\"3 \\\" 4\",true,5.5e-3],\"-b\":0}";
    size_t from, to, at = 0, len = strlen(t);
    const char *want[] = {"-12", "5.5e-3", "0"};
    for (size_t k = 0; k < 3; k++) {
        CHECK(json_next_number(t, len, at, &from, &to));
        CHECK(to - from == strlen(want[k]) && memcmp(t + from, want[k], to - from) == 0);
        at = to;
    }
    CHECK(!json_next_number(t, len, at, &from, &to));
    CHECK(!json_next_number("[\"7", 3, 0, &from, &to)); /* inside a string that never closes */
    CHECK(json_next_number("9", 1, 0, &from, &to) && from == 0 && to == 1);
}

int main(void)
{
    test_next_number();
    test_string_end();
    test_long_strings();
    test_known();
    CHECK_DONE();
}
