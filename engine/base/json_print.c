/* cJSON's print into a kept buffer (json_print.h). */
#include "base/json_print.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int json_print_append(const cJSON *item, textbuf *b)
{
    /* cJSON refuses rather than overruns; it wants 5 bytes of room past the text. */
    if (b->failed || textbuf_reserve(b, 128) != 0)
        return -1;
    if (b->cap - b->len <= INT_MAX &&
        cJSON_PrintPreallocated((cJSON *)item, b->s + b->len, (int)(b->cap - b->len), 0)) {
        b->len += strlen(b->s + b->len);
        return 0;
    }
    /* Too long for the room, or not printable at all: cJSON's own print tells which, sized
     * exactly, and the room it takes stays for the next print. */
    b->s[b->len] = '\0';
    char *text = cJSON_PrintUnformatted(item);
    if (!text)
        return -1;
    textbuf_puts(b, text);
    free(text);
    return b->failed ? -1 : 0;
}

/* The bytes a JSON string escapes (a table: one load a byte, where three compares took 15 %
 * more instructions). */
static const unsigned char NEEDS_ESCAPE[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

void json_string_append(textbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* Room for the worst (every byte \u00xx) at once: one check, then plain stores. */
    if (b->failed || len > (SIZE_MAX - 3) / 6) {
        b->failed = 1;
        return;
    }
    if (textbuf_reserve(b, 6 * len + 2) != 0)
        return;
    char *w = b->s + b->len;
    *w++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!NEEDS_ESCAPE[ch]) {
            *w++ = (char)ch;
            continue;
        }
        *w++ = '\\';
        switch (ch) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\f': *w++ = 'f'; break;
        case '\n': *w++ = 'n'; break;
        case '\r': *w++ = 'r'; break;
        case '\t': *w++ = 't'; break;
        default:
            memcpy(w, "u00", 3);
            w[3] = hex[ch >> 4];
            w[4] = hex[ch & 15];
            w += 5;
        }
    }
    *w++ = '"';
    *w = '\0';
    b->len = (size_t)(w - b->s);
}

char *json_print_exact(const cJSON *item, textbuf *scratch, size_t *len)
{
    char *out = NULL;
    textbuf_reset(scratch);
    if (json_print_append(item, scratch) == 0 && (out = malloc(scratch->len + 1)) != NULL) {
        memcpy(out, scratch->s, scratch->len + 1);
        if (len)
            *len = scratch->len;
    }
    if (scratch->cap > JSON_PRINT_KEEP_MAX || scratch->failed) {
        free(scratch->s);
        *scratch = (textbuf){0};
    }
    return out;
}

cJSON *json_node(cJSON *n, int type, const char *name, const char *value)
{
    *n = (cJSON){.type = type | cJSON_IsReference | cJSON_StringIsConst,
                 .string = (char *)name, .valuestring = (char *)value};
    return n;
}
