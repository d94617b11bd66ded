/* engine/base/text.h: copies of texts, fixed-width hex as printf writes it, names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "check.h"

static void test_hex(void)
{
    const struct {
        uint64_t v;
        int digits;
    } cases[] = {{0, 4}, {0xabc, 4}, {0xffff, 4}, {0x12345, 4}, {0xffffff, 6}, {1, 16},
                 {UINT64_MAX, 16}, {0x0123456789abcdefULL, 16}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[17] = {0}, want[32];
        text_hex(got, cases[i].v, cases[i].digits);
        /* printf's %0*llx of the low bits: a wider value keeps only what fits */
        uint64_t low = cases[i].digits == 16 ? cases[i].v : cases[i].v & ((1ULL << (4 * cases[i].digits)) - 1);
        snprintf(want, sizeof want, "%0*llx", cases[i].digits, (unsigned long long)low);
        CHECK_STR(got, want);
    }
}

static void test_dup(void)
{
    CHECK(text_dup(NULL) == NULL);
    char *d = text_dup("council");
    CHECK_STR(d, "council");
    free(d);
}

/* The API's names: 1 to 64 of [A-Za-z0-9_-], the length counted exactly at both ends. */
static void test_word(void)
{
    char w[66];
    memset(w, 'a', 65);
    w[65] = '\0';
    CHECK(!text_is_word(w, 64));
    w[64] = '\0';
    CHECK(text_is_word(w, 64));
    CHECK(text_is_word("Az09_-", 64));
    CHECK(!text_is_word("", 64));
    CHECK(!text_is_word("has space", 64));
    CHECK(!text_is_word("a.b", 64));
    CHECK(!text_is_word("abc", 2));
}

int main(void)
{
    test_hex();
    test_dup();
    test_word();
    CHECK_DONE();
}
