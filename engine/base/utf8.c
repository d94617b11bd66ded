/* The UTF-8 check (utf8.h). Every request's texts go through it, most of them ASCII: eight
 * bytes at a time are tested for a high bit at once, and only a word that has one is read a
 * byte at a time. */
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

#define HIGH_BITS 0x8080808080808080ull

long utf8_bad(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, u + i, sizeof w); /* one unaligned load where the target allows it */
            if (!(w & HIGH_BITS)) {
                i += 8;
                continue;
            }
        }
        unsigned c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* The length of the sequence c begins, and the range of its second byte, which is
         * what rules out overlong forms (E0, F0), surrogates (ED) and code points above
         * U+10FFFF (F4); C0, C1 and F5..FF begin nothing. */
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return (long)i;
        }
        if (k >= n - i) /* cut short at the end */
            return (long)i;
        if (u[i + 1] < lo || u[i + 1] > hi)
            return (long)i;
        for (size_t j = 2; j <= k; j++)
            if (u[i + j] < 0x80 || u[i + j] > 0xBF)
                return (long)i;
        i += k + 1;
    }
    return -1;
}
