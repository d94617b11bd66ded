/* cJSON's print into a kept buffer, its floats in their shortest text (json_print.h). */
#include "base/json_print.h"

#include "base/json_number.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- floats ----
 * cJSON prints a number that is not an int with printf's %1.15g and keeps those 15 digits when
 * they read back within a relative DBL_EPSILON of it, another double as often as not
 * (0.30000000000000004 came out as 0.3); it has no hook for numbers (cJSON_InitHooks is the
 * allocator alone). So each such node is shown to cJSON, for the print alone, as a raw node of
 * json_double_text's digits (the shortest that read back as the same double, what nyx.json_encode
 * and the request body write), and is a number again after it. Most trees hold none: a walk
 * that finds none is all they cost. */

/* A node swapped for the print: a bit cJSON does not use (its types are the low byte, then
 * cJSON_IsReference and cJSON_StringIsConst). */
#define FLOAT_SWAPPED (1 << 12)
/* Floats whose text fits on the stack; more take an allocation. */
#define FLOATS_ON_STACK 8

typedef char float_text[JSON_NUMBER_TEXT];

/* A number cJSON would print with %g: finite (it prints the others as null), and not the int it
 * prints with %d (-0 is not 0: the Lua path writes it "-0"). */
static int printed_with_g(const cJSON *v)
{
    double d = v->valuedouble;
    return (v->type & 0xFF) == cJSON_Number && isfinite(d) &&
           (d != (double)v->valueint || (d == 0 && signbit(d)));
}

/* How many such numbers the siblings from v on hold, at any depth. */
static size_t count_floats(const cJSON *v)
{
    size_t n = 0;
    for (; v; v = v->next)
        n += (v->type & 0xFF) == cJSON_Number ? (size_t)printed_with_g(v) : v->child ? count_floats(v->child) : 0;
    return n;
}

/* item alone, not its siblings: what cJSON prints of it. */
static size_t floats_of(const cJSON *item)
{
    return (item->type & 0xFF) == cJSON_Number ? (size_t)printed_with_g(item) : item->child ? count_floats(item->child) : 0;
}

static void swap_node(cJSON *v, float_text *texts, size_t *k)
{
    if (!printed_with_g(v) || json_double_text(v->valuedouble, texts[*k], sizeof texts[*k]) <= 0)
        return;
    v->type = (v->type & ~0xFF) | cJSON_Raw | FLOAT_SWAPPED;
    v->valuestring = texts[(*k)++]; /* a number's is NULL, as it will be again */
}

static void swap_floats(cJSON *v, float_text *texts, size_t *k)
{
    for (; v; v = v->next) {
        if ((v->type & 0xFF) == cJSON_Number)
            swap_node(v, texts, k);
        else
            swap_floats(v->child, texts, k);
    }
}

static void unswap_node(cJSON *v)
{
    if (!(v->type & FLOAT_SWAPPED))
        return;
    v->type = (v->type & ~(0xFF | FLOAT_SWAPPED)) | cJSON_Number;
    v->valuestring = NULL;
}

static void unswap_floats(cJSON *v)
{
    for (; v; v = v->next) {
        if (v->type & FLOAT_SWAPPED)
            unswap_node(v);
        else
            unswap_floats(v->child);
    }
}

/* The texts of one print's floats. */
typedef struct floats {
    float_text stack[FLOATS_ON_STACK];
    float_text *texts;
    size_t n;
} floats;

/* Swaps item's floats for raw nodes of their text. 0, or -1 when out of memory (nothing is
 * swapped). The tree is the caller's, not cJSON's: a print that cJSON is given const changes it
 * only between this and floats_back. */
static int floats_out(const cJSON *item, floats *f)
{
    f->texts = f->stack;
    f->n = floats_of(item);
    if (f->n == 0)
        return 0;
    if (f->n > FLOATS_ON_STACK && !(f->texts = malloc(f->n * sizeof *f->texts)))
        return -1;
    size_t k = 0;
    cJSON *v = (cJSON *)item;
    if ((v->type & 0xFF) == cJSON_Number)
        swap_node(v, f->texts, &k);
    else
        swap_floats(v->child, f->texts, &k);
    return 0;
}

static void floats_back(const cJSON *item, floats *f)
{
    if (f->n == 0)
        return;
    cJSON *v = (cJSON *)item;
    if (v->type & FLOAT_SWAPPED)
        unswap_node(v);
    else
        unswap_floats(v->child);
    if (f->texts != f->stack)
        free(f->texts);
}

/* ---- printing ---- */

char *json_print(const cJSON *item)
{
    floats f;
    if (!item || floats_out(item, &f) != 0)
        return NULL;
    char *text = cJSON_PrintUnformatted(item);
    floats_back(item, &f);
    return text;
}

int json_print_append(const cJSON *item, textbuf *b)
{
    /* cJSON refuses rather than overruns; it wants 5 bytes of room past the text. */
    if (b->failed || textbuf_reserve(b, 128) != 0)
        return -1;
    floats f;
    if (floats_out(item, &f) != 0)
        return -1;
    if (b->cap - b->len <= INT_MAX &&
        cJSON_PrintPreallocated((cJSON *)item, b->s + b->len, (int)(b->cap - b->len), 0)) {
        floats_back(item, &f);
        b->len += strlen(b->s + b->len);
        return 0;
    }
    /* Too long for the room, or not printable at all: cJSON's own print tells which, sized
     * exactly, and the room it takes stays for the next print. */
    b->s[b->len] = '\0';
    char *text = cJSON_PrintUnformatted(item);
    floats_back(item, &f);
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
