/* Finding the long strings of a JSON text without parsing it: a request body repeats most of
 * itself from call to call (a system prompt, a shared context, the earlier turns of a
 * conversation), and the places that remember those texts (the redaction memo, the store's
 * shared parts) cut the body at them. Only quotes and backslashes are looked at, so the scan
 * costs about a memchr over the text; on text that is not JSON it finds spans that are merely
 * quoted, which callers accept (they keep every byte whatever they cut). */
#ifndef NYX_BASE_JSON_SCAN_H
#define NYX_BASE_JSON_SCAN_H

#include "base/quick_hash.h"

#include <stddef.h>

/* The end (one past the closing quote) of the JSON string whose opening quote is at i, or len
 * when it does not close. */
size_t json_string_end(const char *text, size_t len, size_t i);

/* json_string_end, stepping over a known span (quick_hash.h): one that opens at i and closes
 * with a quote is the whole string (the shared system prompt), its end taken without reading
 * it. known holds nknown spans in order of at; *k, from 0 on the first string, moves past
 * those before i, so a scan of the text in order finds them in one pass. */
size_t json_string_end_known(const char *text, size_t len, size_t i, const hashed_span *known,
                             size_t nknown, size_t *k);

/* The strings of text at least min bytes long (their quotes included), in order: from[k] the
 * opening quote, to[k] one past the closing one. Returns how many were found, at most max.
 * The nknown spans of known (none: NULL, 0) are stepped over as json_string_end_known does. */
size_t json_long_strings_known(const char *text, size_t len, size_t min, const hashed_span *known,
                               size_t nknown, size_t *from, size_t *to, size_t max);

/* The next number of a JSON text at or after i, strings stepped over: 1 with *from at its first
 * byte (a '-' or a digit outside a string) and *to one past its last, 0 when none is left.
 * Outside strings, only a number has a digit or a '-', so on a text a parser accepted these are
 * its numbers, in the order of the text: json_parse.c pairs them with the parsed tree's. */
int json_next_number(const char *text, size_t len, size_t i, size_t *from, size_t *to);

#endif
