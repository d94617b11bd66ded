/* Whether bytes are UTF-8. A request is JSON, which the API reads only as UTF-8: a text in
 * another encoding (Latin-1, Windows-1252, a string cut inside a character) gets the whole
 * request refused with a 400, so what builds requests checks its texts with this first. */
#ifndef NYX_BASE_UTF8_H
#define NYX_BASE_UTF8_H

#include <stddef.h>

/* The offset of the first byte of s[0..n) that does not begin a well-formed UTF-8 sequence
 * (RFC 3629: no overlong form, no surrogate, nothing above U+10FFFF, none cut short at the
 * end), or -1 when all of them do. A NUL byte is U+0000, well-formed. */
long utf8_bad(const char *s, size_t n);

#endif
