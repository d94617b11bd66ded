/* JSON numbers for trees that are only printed. cJSON 1.7.15 prints every number with
 * sprintf("%1.15g") and reads it back with sscanf to check it, about 4,000 instructions a
 * number; a call prints three (the request's max_tokens, its attempt's status and time), a
 * tenth of what the engine spends on a call. These nodes hold their text already printed
 * (cJSON raw nodes): cJSON_IsNumber is false on them, so use them only where nothing reads
 * the tree back. */
#ifndef NYX_BASE_JSON_NUMBER_H
#define NYX_BASE_JSON_NUMBER_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Room for the text of any of these numbers, with its NUL. */
#define JSON_NUMBER_TEXT 32

/* v in decimal; NULL when out of memory. */
cJSON *json_int(long long v);

/* A finite double as the shortest of 15, 16 or 17 significant digits that reads back as the
 * same double: cJSON's print settles for 15 digits that read back merely close (within a
 * relative DBL_EPSILON), so 9007199254740992.0 came out as 9.00719925474099e+15, another
 * number. NULL when v is not finite or out of memory. */
cJSON *json_double(double v);

/* Their text, for a node made elsewhere: written to out (size bytes, JSON_NUMBER_TEXT is
 * enough); its length, or -1 when it does not fit. */
int json_int_text(long long v, char *out, size_t size);
/* A duration in milliseconds, rounded to the microsecond ("12.345"); a value that is not a
 * finite number from 0 to a year is written as 0. */
int json_millis_text(double ms, char *out, size_t size);
int json_double_text(double v, char *out, size_t size); /* -1 also when v is not finite */

#endif
