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

static void test_millis(void)
{
    CHECK(round_trip(json_millis(12.3456), "12.346") == 12.346);
    CHECK(round_trip(json_millis(0.0004), "0.000") == 0);
    CHECK(round_trip(json_millis(1500), "1500.000") == 1500);
    CHECK(round_trip(json_millis(0.9995), "1.000") == 1);
    /* Never a text that is not a JSON number. */
    CHECK(round_trip(json_millis(-3), "0.000") == 0);
    CHECK(round_trip(json_millis(0.0 / 0.0), "0.000") == 0);
    CHECK(round_trip(json_millis(1e300), "0.000") == 0);
}

int main(void)
{
    test_ints();
    test_millis();
    CHECK_DONE();
}
