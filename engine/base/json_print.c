/* cJSON's print into a kept buffer (json_print.h). */
#include "base/json_print.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

char *json_print_exact(const cJSON *item, textbuf *scratch, size_t *len)
{
    char *out = NULL;
    textbuf_reset(scratch);
    /* cJSON refuses rather than overruns; it wants 5 bytes of room past the text. */
    int printed = 0;
    if (scratch->cap || textbuf_reserve(scratch, 1024) == 0)
        while (scratch->cap <= INT_MAX &&
               !(printed = cJSON_PrintPreallocated((cJSON *)item, scratch->s, (int)scratch->cap, 0)) &&
               textbuf_reserve(scratch, scratch->cap) == 0)
            ;
    if (printed) {
        size_t n = strlen(scratch->s);
        if ((out = malloc(n + 1)) != NULL) {
            memcpy(out, scratch->s, n + 1);
            if (len)
                *len = n;
        }
    }
    if (scratch->cap > JSON_PRINT_KEEP_MAX || scratch->failed) {
        free(scratch->s);
        *scratch = (textbuf){0};
    }
    return out;
}
