/* JSON numbers printed once, without cJSON's printf and sscanf (json_number.h). */
#include "base/json_number.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

int json_double_text(double v, char *out, size_t size)
{
    if (!isfinite(v))
        return -1;
    /* 17 significant digits always read back as v; most doubles need fewer, and the shortest
     * that does is what a reader expects (0.1, not 0.10000000000000001). */
    int n = -1;
    for (int digits = 15; digits <= 17; digits++) {
        n = snprintf(out, size, "%.*g", digits, v);
        if (n < 0 || (size_t)n >= size)
            return -1;
        if (strtod(out, NULL) == v)
            break;
    }
    /* printf and strtod write and read the locale's decimal point, JSON only '.'. */
    char point = *localeconv()->decimal_point;
    char *p = point != '.' ? memchr(out, point, (size_t)n) : NULL;
    if (p)
        *p = '.';
    return n;
}

cJSON *json_int(long long v)
{
    char text[JSON_NUMBER_TEXT];
    return json_int_text(v, text, sizeof text) > 0 ? cJSON_CreateRaw(text) : NULL;
}

cJSON *json_double(double v)
{
    char text[JSON_NUMBER_TEXT];
    return json_double_text(v, text, sizeof text) > 0 ? cJSON_CreateRaw(text) : NULL;
}
