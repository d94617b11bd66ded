/* engine/base/utf8.h: which bytes are well-formed UTF-8 (RFC 3629), and where the first that is
 * not stands, whether it falls in a run of ASCII read eight bytes at a time or after it. */
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "check.h"

/* A decoder written from the RFC's definition, to hold utf8_bad against: the code point the
 * sequence at s[0..n) encodes and its length, or -1 when it is no well-formed sequence. */
static long reference(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (k == 0 || k > n)
        return -1;
    long cp = k == 1 ? (long)c : (long)(c & (0x7F >> k));
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (s[j] & 0x3F);
    }
    static const long least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = k;
    return cp;
}

static void expect(const char *s, size_t n, long want)
{
    long got = utf8_bad(s, n);
    if (got != want) {
        check_fail_at(__FILE__, __LINE__);
        fprintf(stderr, "utf8_bad of %zu bytes:", n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02X", (unsigned char)s[i]);
        fprintf(stderr, " is %ld, want %ld\n", got, want);
    }
}

#define VALID(lit) expect(lit, sizeof lit - 1, -1)
#define BAD_AT(lit, at) expect(lit, sizeof lit - 1, at)

static void test_valid_forms(void)
{
    VALID("");
    VALID("plain ASCII, longer than one word of eight bytes");
    VALID("a\0b"); /* U+0000 is a character */
    VALID("\xc2\x80\xdf\xbf");                 /* U+0080, U+07FF */
    VALID("\xe0\xa0\x80\xed\x9f\xbf");         /* U+0800, U+D7FF */
    VALID("\xee\x80\x80\xef\xbf\xbf");         /* U+E000, U+FFFF */
    VALID("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"); /* U+10000, U+10FFFF */
    VALID("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 na\xc3\xafve");
}

static void test_rejected_forms(void)
{
    BAD_AT("\xc0\x80", 0);             /* overlong NUL */
    BAD_AT("\xc1\xbf", 0);             /* overlong U+007F */
    BAD_AT("\xe0\x80\x80", 0);         /* overlong, three bytes */
    BAD_AT("\xe0\x9f\xbf", 0);         /* overlong U+07FF */
    BAD_AT("\xf0\x80\x80\x80", 0);     /* overlong, four bytes */
    BAD_AT("\xf0\x8f\xbf\xbf", 0);     /* overlong U+FFFF */
    BAD_AT("\xed\xa0\x80", 0);         /* U+D800, a surrogate */
    BAD_AT("\xed\xbf\xbf", 0);         /* U+DFFF */
    BAD_AT("\xf4\x90\x80\x80", 0);     /* U+110000 */
    BAD_AT("\xf5\x80\x80\x80", 0);     /* beyond, by its first byte */
    BAD_AT("\xf8\x88\x80\x80\x80", 0); /* the five-byte form RFC 3629 dropped */
    BAD_AT("\xfc\x84\x80\x80\x80\x80", 0);
    BAD_AT("\xfe", 0);
    BAD_AT("\xff", 0);
    BAD_AT("\x80", 0);      /* a continuation byte alone */
    BAD_AT("ab\xbf", 2);
    BAD_AT("\xc3", 0);      /* cut short at the end */
    BAD_AT("ok\xe2\x82", 2);
    BAD_AT("ok \xf0\x9f\x98", 3);
    BAD_AT("\xc3\x41", 0);  /* a lead byte followed by ASCII */
    BAD_AT("\xe2\x82\x41", 0);
    BAD_AT("\xf0\x9f\x98\x41", 0);
    BAD_AT("caf\xe9", 3);   /* Latin-1 */
    BAD_AT("\xc3\xa9\xe9", 2);
}

/* The first bad byte is found wherever it falls against the words read eight bytes at a time:
 * at each position of a word, after a run of ASCII of each length, and after a valid
 * multibyte character that shifts the words. */
static void test_offsets(void)
{
    char buf[64];
    for (size_t k = 0; k < 40; k++) {
        for (int lead = 0; lead < 2; lead++) {
            size_t at = 0;
            if (lead) {
                memcpy(buf, "\xc3\xa9", 2);
                at = 2;
            }
            memset(buf + at, 'a', k);
            at += k;
            buf[at] = '\xe9';
            memset(buf + at + 1, 'b', 12);
            CHECK_ROW("%zu ASCII bytes, %s", k, lead ? "after a two-byte character" : "first");
            expect(buf, at + 13, (long)at);
            buf[at] = 'c'; /* and the same bytes made valid */
            expect(buf, at + 13, -1);
            CHECK_ROW_END();
        }
    }
}

/* Every sequence of two and three bytes, and of four bytes with each first byte and a sample
 * of the rest, as the reference decoder reads them. */
static void test_against_reference(void)
{
    unsigned char s[4];
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            s[0] = (unsigned char)a;
            s[1] = (unsigned char)b;
            size_t l1 = 0, l2 = 0;
            long want = reference(s, 2, &l1) < 0 ? 0 : l1 == 2 ? -1 : reference(s + 1, 1, &l2) < 0 ? 1 : -1;
            CHECK_ROW("%02X %02X", a, b);
            expect((const char *)s, 2, want);
            for (unsigned c = 0x70; b >= 0x70 && c < 0x100 && a >= 0xE0 && a < 0xF0; c += 7) {
                s[2] = (unsigned char)c;
                size_t len = 0;
                long three = reference(s, 3, &len) >= 0 && len == 3 ? -1 : 0;
                CHECK_ROW("%02X %02X %02X", a, b, c);
                expect((const char *)s, 3, three);
            }
            for (unsigned c = 0x7F; a >= 0xF0 && c < 0xC1; c += 0x20) {
                s[2] = (unsigned char)c;
                s[3] = 0xBF;
                size_t len = 0;
                long four = reference(s, 4, &len) >= 0 && len == 4 ? -1 : 0;
                CHECK_ROW("%02X %02X %02X BF", a, b, c);
                expect((const char *)s, 4, four);
            }
            CHECK_ROW_END();
        }
    }
}

int main(void)
{
    test_valid_forms();
    test_rejected_forms();
    test_offsets();
    test_against_reference();
    return check_failures;
}
