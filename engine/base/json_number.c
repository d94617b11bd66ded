/* JSON numbers printed once, without cJSON's printf and sscanf (json_number.h). */
#include "base/json_number.h"

#include <math.h>
#include <string.h>

/* The digits of a number, written from the right: a call prints three, and snprintf's format
 * parsing costs ten times the digits. */
int json_int_text(long long v, char *out, size_t size)
{
    char digits[JSON_NUMBER_TEXT], *p = digits + sizeof digits;
    unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(digits + sizeof digits - p);
    if (n >= size)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return (int)n;
}

int json_millis_text(double ms, char *out, size_t size)
{
    /* Integer arithmetic: printf's %f costs what cJSON's %g does. */
    long long us = isfinite(ms) && ms > 0 && ms < 3.2e10 ? llround(ms * 1000.0) : 0;
    int n = json_int_text(us / 1000, out, size);
    if (n < 0 || (size_t)n + 4 >= size)
        return -1;
    long long frac = us % 1000;
    out[n] = '.';
    out[n + 1] = (char)('0' + frac / 100);
    out[n + 2] = (char)('0' + frac / 10 % 10);
    out[n + 3] = (char)('0' + frac % 10);
    out[n + 4] = '\0';
    return n + 4;
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
