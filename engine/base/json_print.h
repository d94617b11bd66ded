/* Every JSON text nyx prints from a cJSON tree goes through here (tests/json_print.sh, the
 * ctest check/json_print, finds any other call of cJSON's print): numbers as nyx.json_encode
 * writes them, a float in the shortest digits that read back as the same double
 * (json_double_text), where cJSON's own print keeps 15 digits that read back merely close
 * (0.30000000000000004 as 0.3).
 *
 * And cJSON's print into a buffer kept from print to print. cJSON_PrintUnformatted starts a
 * buffer of 256 bytes, grows it by reallocation as the text outgrows it and shrinks it to the
 * text at the end: three allocations for a request body or a stored recipe, on every call.
 *
 * A tree being printed is changed while cJSON prints it (its floats shown as raw text) and is
 * as it was when the print returns: print a tree only where nothing else reads it meanwhile. */
#ifndef NYX_BASE_JSON_PRINT_H
#define NYX_BASE_JSON_PRINT_H

#include "base/textbuf.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The text of item, unformatted: cJSON_PrintUnformatted's, floats written exactly, allocated
 * as it allocates (cJSON_free it). NULL when out of memory or item is NULL. */
char *json_print(const cJSON *item);

/* The text of item, unformatted, in one allocation of its size (free it), *len its length (len
 * may be NULL); printed in scratch first, whose room grows as needed and is kept for the next
 * print (or let go when over JSON_PRINT_KEEP_MAX). NULL when out of memory. */
#define JSON_PRINT_KEEP_MAX ((size_t)64 << 10)
char *json_print_exact(const cJSON *item, textbuf *scratch, size_t *len);

/* Appends the text of item, unformatted, to b (grown to fit). 0, or -1 when out of memory (b
 * marked failed) or when cJSON cannot print item (b as it was). */
int json_print_append(const cJSON *item, textbuf *b);

/* Appends the JSON string of len bytes of s (quotes included) to b, written as cJSON writes it
 * (its escapes: \" \\ \b \f \n \r \t, \u00xx for the other bytes below 0x20, every other
 * byte as it is), in one pass, without a node or a NUL-terminated copy of s for cJSON. A NUL
 * byte is escaped too (cJSON would stop there). b marked failed when out of memory. */
void json_string_append(textbuf *b, const char *s, size_t len);

/* A node that is only printed can live in memory its maker holds (the stack) instead of an
 * allocation: json_node sets *n up as a node of type (cJSON_String, cJSON_Raw, ...) that points
 * at its name (NULL in an array) and its value (cJSON copies neither), and returns n. cJSON
 * prints it as its own; never pass one to cJSON_Delete. */
cJSON *json_node(cJSON *n, int type, const char *name, const char *value);

#endif
