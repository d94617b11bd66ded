/* JSON numbers printed once, without cJSON's printf and sscanf (json_number.h). */
#include "base/json_number.h"

#include <math.h>
#include <stdio.h>

int json_int_text(long long v, char *out, size_t size)
{
    int n = snprintf(out, size, "%lld", v);
    return n > 0 && (size_t)n < size ? n : -1;
}

int json_millis_text(double ms, char *out, size_t size)
{
    /* Integer arithmetic: printf's %f costs what cJSON's %g does. */
    long long us = isfinite(ms) && ms > 0 && ms < 3.2e10 ? llround(ms * 1000.0) : 0;
    int n = snprintf(out, size, "%lld.%03lld", us / 1000, us % 1000);
    return n > 0 && (size_t)n < size ? n : -1;
}

cJSON *json_int(long long v)
{
    char text[JSON_NUMBER_TEXT];
    return json_int_text(v, text, sizeof text) > 0 ? cJSON_CreateRaw(text) : NULL;
}

cJSON *json_millis(double ms)
{
    char text[JSON_NUMBER_TEXT];
    return json_millis_text(ms, text, sizeof text) > 0 ? cJSON_CreateRaw(text) : NULL;
}
