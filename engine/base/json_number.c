/* JSON numbers printed once, without cJSON's printf and sscanf (json_number.h). */
#include "base/json_number.h"

#include <math.h>
#include <stdio.h>

cJSON *json_int(long long v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", v);
    return n > 0 && n < (int)sizeof text ? cJSON_CreateRaw(text) : NULL;
}

cJSON *json_millis(double ms)
{
    /* Integer arithmetic: printf's %f costs what cJSON's %g does. */
    long long us = isfinite(ms) && ms > 0 && ms < 3.2e10 ? llround(ms * 1000.0) : 0;
    char text[32];
    int n = snprintf(text, sizeof text, "%lld.%03lld", us / 1000, us % 1000);
    return n > 0 && n < (int)sizeof text ? cJSON_CreateRaw(text) : NULL;
}
