/* engine/base/textbuf: pieces appended in order, a formatted piece of any length kept whole
 * (the debug dump once cut them at 1 KB), nothing written for an empty piece. */
#include "check.h"

#include "base/textbuf.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
    textbuf b = {0};
    textbuf_put(&b, "", 0);
    CHECK(b.s == NULL && b.len == 0);
    textbuf_puts(&b, "ab");
    textbuf_put(&b, "cdef", 2);
    textbuf_printf(&b, "-%d-", 42);
    CHECK_STR(b.s, "abcd-42-");
    CHECK_INT((long)b.len, 8);

    char *long_text = malloc(5001);
    CHECK(long_text != NULL);
    if (long_text) {
        memset(long_text, 'x', 5000);
        long_text[5000] = '\0';
        textbuf_printf(&b, "[%s]", long_text);
        CHECK_INT((long)b.len, 8 + 5002);
        CHECK(b.s[b.len - 1] == ']' && b.s[b.len] == '\0' && b.s[9] == 'x');
        free(long_text);
    }
    CHECK(!b.failed);
    free(b.s);
    return check_failures;
}
