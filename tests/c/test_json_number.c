/* engine/base/json_number: numbers printed once, as cJSON would print them, and read back equal. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_number.h"
#include "check.h"

/* v as it prints inside an object, then parsed back as a number. */
static double round_trip(cJSON *v, const char *expect_text)
{
    cJSON *o = cJSON_CreateObject();
    CHECK(o && v && cJSON_AddItemToObjectCS(o, "n", v));
    char *s = cJSON_PrintUnformatted(o);
    char want[64];
    snprintf(want, sizeof want, "{\"n\":%s}", expect_text);
    CHECK_STR(s, want);
    cJSON *back = cJSON_Parse(s);
    cJSON *n = cJSON_GetObjectItemCaseSensitive(back, "n");
    CHECK(cJSON_IsNumber(n));
    double d = cJSON_IsNumber(n) ? n->valuedouble : -1;
    cJSON_Delete(back);
    free(s);
    cJSON_Delete(o);
    return d;
}

static void test_ints(void)
{
    CHECK(round_trip(json_int(0), "0") == 0);
    CHECK(round_trip(json_int(200), "200") == 200);
    CHECK(round_trip(json_int(-7), "-7") == -7);
    CHECK(round_trip(json_int(64000), "64000") == 64000);
    /* The text of every width and both ends of the range, as printf writes it. */
    const long long edges[] = {9, 10, -10, 99999, 100000, 1234567890123LL, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        char got[JSON_NUMBER_TEXT], want[JSON_NUMBER_TEXT];
        int n = json_int_text(edges[i], got, sizeof got);
        snprintf(want, sizeof want, "%lld", edges[i]);
        CHECK_STR(got, want);
        CHECK(n == (int)strlen(want));
    }
    /* Too small a buffer is an answer, not an overflow: "-7" and its NUL need 3 bytes. */
    char small[3];
    CHECK(json_int_text(-7, small, 2) == -1);
    CHECK(json_int_text(-7, small, 3) == 2 && strcmp(small, "-7") == 0);
    CHECK(json_millis_text(12.5, small, 3) == -1);
    /* cJSON prints the same integers the same way. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", 64000);
    char *s = cJSON_PrintUnformatted(o);
    CHECK_STR(s, "{\"n\":64000}");
    free(s);
    cJSON_Delete(o);
}

/* A raw node of json_millis_text's text, as a record's time is written. */
static cJSON *millis(double ms)
{
    char text[JSON_NUMBER_TEXT];
    return json_millis_text(ms, text, sizeof text) > 0 ? cJSON_CreateRaw(text) : NULL;
}

static void test_millis(void)
{
    CHECK(round_trip(millis(12.3456), "12.346") == 12.346);
    CHECK(round_trip(millis(0.0004), "0.000") == 0);
    CHECK(round_trip(millis(1500), "1500.000") == 1500);
    CHECK(round_trip(millis(0.9995), "1.000") == 1);
    /* Never a text that is not a JSON number. */
    CHECK(round_trip(millis(-3), "0.000") == 0);
    CHECK(round_trip(millis(0.0 / 0.0), "0.000") == 0);
    CHECK(round_trip(millis(1e300), "0.000") == 0);
}

/* Every finite double prints as the shortest of 15, 16 or 17 digits that reads back exactly;
 * cJSON's print stops at 15 digits that read back merely close. */
static void test_doubles(void)
{
    CHECK(round_trip(json_double(0.1), "0.1") == 0.1);
    CHECK(round_trip(json_double(0.1 + 0.2), "0.30000000000000004") == 0.1 + 0.2); /* cJSON: 0.3 */
    CHECK(round_trip(json_double(9007199254740992.0), "9007199254740992") == 9007199254740992.0);
    CHECK(round_trip(json_double(1.0 / 3), "0.3333333333333333") == 1.0 / 3); /* 16 digits */
    CHECK(round_trip(json_double(-2.5), "-2.5") == -2.5);
    CHECK(round_trip(json_double(1e300), "1e+300") == 1e300);
    CHECK(round_trip(json_double(123456789.0), "123456789") == 123456789.0);
    const double hard[] = {5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.7,
                           4.35, 1e23, 9007199254740993.0, -1234.5678e-20, 3.0000000000000004};
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
        char text[JSON_NUMBER_TEXT];
        CHECK_ROW("double %.17g", hard[i]);
        CHECK(json_double_text(hard[i], text, sizeof text) > 0 && strtod(text, NULL) == hard[i]);
        CHECK_ROW_END();
    }
    char text[JSON_NUMBER_TEXT];
    CHECK(json_double_text(1.0 / 0.0, text, sizeof text) == -1);
    CHECK(json_double_text(0.0 / 0.0, text, sizeof text) == -1);
    CHECK(json_double(1.0 / 0.0) == NULL);
    char small[4];
    CHECK(json_double_text(0.25, small, sizeof small) == -1); /* "0.25" and its NUL need 5 */
}

int main(void)
{
    test_ints();
    test_millis();
    test_doubles();
    CHECK_DONE();
}
