/* Reading a whole text as one JSON value, for a script's nyx.json_decode: cJSON stops at the
 * end of the first value and leaves what follows unread, so "{} x" (or two objects written
 * one after the other) would read as the first alone; and it keeps strings NUL-terminated,
 * so a "\u0000" inside one would cut it there unsaid. Both are refused here, and where the
 * text stops being JSON is said by line and column.
 *
 * cJSON holds a number as a double, which keeps every integer up to 2^53 and only some beyond:
 * an id of 19 digits would come back with other digits. A number written as an integer (no
 * '.', 'e' or 'E') whose magnitude reaches 2^53 is kept as its text instead, in a raw node
 * (cJSON_IsRaw, valuestring its digits): printed back as it came, and read into Lua as the
 * exact integer (engine/lua/ljson.c). Only such numbers, rare, cost more than the parse: the
 * digits are found by a second look at the text (json_scan.h) when the tree has one. */
#ifndef NYX_BASE_JSON_PARSE_H
#define NYX_BASE_JSON_PARSE_H

#include "base/error.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The JSON value at the start of text[0..len), and in *stop the offset of the first byte past
 * it that is not whitespace (len when there is none); NULL when no value starts there, *stop
 * where reading it failed. What reads a whole text (a reply, a script's JSON) refuses a value
 * with *stop < len: cJSON reads one value and leaves the rest unread. Integers past 2^53 are
 * raw nodes of their digits (above). NULL also when out of memory. The caller deletes the
 * tree. */
cJSON *json_parse_value(const char *text, size_t len, size_t *stop);
/* The value text holds, followed by nothing but whitespace; NULL with err (invalid_argument)
 * otherwise. The caller deletes the tree. */
cJSON *json_parse_whole(const char *text, size_t len, error_info *err);

#endif
