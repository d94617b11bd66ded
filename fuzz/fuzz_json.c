/* fuzz-link: engine/base/ */
/* The JSON nyx reads whole (engine/base/json_parse.h: nyx.json_decode, a stored recipe, a
 * tool's answer) and prints (json_print.h): any text is refused with an error saying where,
 * or read as a tree that prints to a text read back as the same tree (every finite number
 * the same double, an integer past 2^53 the same digits, a number past the doubles null, as
 * JSON has no infinity; a float past 2^53 may come back as its integer's digits) and printed again the same text, by each of the three prints. On a
 * text read whole, the numbers the scan finds (json_scan.h) are the tree's, one for one; on
 * any text, the long strings it finds are in order and inside the text. */
#include "base/json_parse.h"
#include "base/json_print.h"
#include "base/json_scan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same_tree(const cJSON *a, const cJSON *b)
{
    for (; a || b; a = a->next, b = b->next) {
        if (!a || !b || !a->string != !b->string || (a->string && strcmp(a->string, b->string) != 0))
            return 0;
        int ta = a->type & 0xFF, tb = b->type & 0xFF;
        if (ta == cJSON_Number && !isfinite(a->valuedouble)) {
            if (tb != cJSON_NULL)
                return 0;
            continue;
        }
        /* A float past 2^53 printed without a fraction or exponent reads back as the digits
         * of the same integer (JSON has one kind of number). */
        if (ta == cJSON_Number && tb == cJSON_Raw) {
            if (fabs(a->valuedouble) < 0x1p53 || strtod(b->valuestring, NULL) != a->valuedouble)
                return 0;
            continue;
        }
        if (ta != tb)
            return 0;
        if (ta == cJSON_Number && (a->valuedouble != b->valuedouble || signbit(a->valuedouble) != signbit(b->valuedouble)))
            return 0;
        if ((ta == cJSON_String || ta == cJSON_Raw) && strcmp(a->valuestring, b->valuestring) != 0)
            return 0;
        if (!same_tree(a->child, b->child))
            return 0;
    }
    return 1;
}

/* Number nodes, whether doubles or the digits of a wide integer. */
static size_t numbers_in(const cJSON *v)
{
    size_t n = 0;
    for (; v; v = v->next) {
        int t = v->type & 0xFF;
        n += t == cJSON_Number || t == cJSON_Raw ? 1 : numbers_in(v->child);
    }
    return n;
}

static void check_scan(const char *text, size_t len)
{
    size_t from[16], to[16];
    size_t n = json_long_strings_known(text, len, 1, NULL, 0, from, to, 16);
    if (n > 16)
        abort();
    for (size_t i = 0; i < n; i++)
        if (from[i] >= to[i] || to[i] > len || text[from[i]] != '"' || (i && from[i] < to[i - 1]))
            abort();
}

static void round_trip(cJSON *tree)
{
    char *p1 = json_print(tree);
    if (!p1)
        return; /* out of memory */
    error_info err;
    error_clear(&err);
    cJSON *again = json_parse_whole(p1, strlen(p1), &err);
    if (!again || !same_tree(tree, again))
        abort();
    char *p2 = json_print(again);
    if (p2 && strcmp(p1, p2) != 0)
        abort();
    textbuf scratch = {0}, b = {0};
    size_t len = 0;
    char *exact = json_print_exact(tree, &scratch, &len);
    if (exact && (len != strlen(p1) || memcmp(exact, p1, len) != 0))
        abort();
    if (json_print_append(tree, &b) == 0 && (b.len != strlen(p1) || memcmp(b.s, p1, b.len) != 0))
        abort();
    free(exact);
    free(scratch.s);
    free(b.s);
    cJSON_free(p2);
    cJSON_Delete(again);
    cJSON_free(p1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    check_scan(text, size);
    size_t stop = 0;
    cJSON *first = json_parse_value(text, size, &stop);
    if (stop > size)
        abort();
    cJSON_Delete(first);

    error_info err;
    error_clear(&err);
    cJSON *tree = json_parse_whole(text, size, &err);
    if (!tree) {
        if (strcmp(err.type, "invalid_argument") != 0 || !strstr(err.message, " at line "))
            abort();
        return 0;
    }
    size_t numbers = 0, from = 0, to = 0;
    for (size_t at = 0; json_next_number(text, size, at, &from, &to); at = to) {
        if (from >= to || to > size)
            abort();
        numbers++;
    }
    if (numbers != numbers_in(tree))
        abort();
    round_trip(tree);
    cJSON_Delete(tree);
    return 0;
}
