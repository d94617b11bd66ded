/* engine/base/array: room for the next element: first elements at the start, then doubling,
 * the same array while there is room; a size that cannot be counted is out of memory with the
 * array and its capacity untouched. */
#include "check.h"

#include "base/array.h"

#include <stdint.h>
#include <stdlib.h>

int main(void)
{
    int *a = NULL;
    size_t n = 0, cap = 0;
    for (; n < 20; n++) {
        int *p = array_room(a, n, &cap, sizeof *a, 4);
        CHECK(p != NULL);
        if (!p)
            break;
        if (n > 0 && n != 4 && n != 8 && n != 16)
            CHECK(p == a);
        a = p;
        a[n] = (int)n;
    }
    CHECK_INT((long)cap, 32);
    CHECK(a[0] == 0 && a[19] == 19);
    size_t big = SIZE_MAX / 2;
    CHECK(array_room(a, big, &big, sizeof *a, 4) == NULL);
    CHECK(big == SIZE_MAX / 2);
    free(a);
    return check_failures;
}
