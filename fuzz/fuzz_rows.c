/* fuzz-link: engine/cli/rows.c engine/base/utf8.c engine/base/json_number.c */
/* The rows of nyx batch submit --input (engine/cli/rows.h), the same bytes read as JSON Lines
 * and as CSV: each reading gives rows or an error "line N: ..." with N a line of the input
 * (out of memory aside), never a crash, a leak or a hang. Rows start on lines of the input in
 * order, each value "key=value" with a key and UTF-8 throughout. JSON Lines: one row per line
 * that is not blank, on that line, with one value per scalar field and per element of a
 * list field (a null gives none), so no field is dropped. CSV: every row has the header's
 * keys in its order; without quotes or carriage returns, one row per non-empty line after the
 * header. */
#include "base/json_number.h"
#include "base/utf8.h"
#include "cli/rows.h"
#include "nyx.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* nyx.h's two helpers rows.c uses, as engine/api/api.c defines them: the target links the
 * reader and what it reads with, not the engine behind nyx.h. */
long nyx_utf8_check(const char *text, size_t len) { return text ? utf8_bad(text, len) : -1; }
int nyx_json_number(double v, char *buf, size_t size) { return buf ? json_double_text(v, buf, size) : -1; }

/* The input's lines: its newlines, and one more. */
static long count_lines(const char *p, size_t n)
{
    long lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += p[i] == '\n';
    return lines;
}

static void check_error(const char *err, long lines)
{
    if (strcmp(err, "out of memory") == 0)
        return;
    long line = 0;
    if (strncmp(err, "line ", 5) != 0 || (line = strtol(err + 5, NULL, 10)) < 1 || line > lines ||
        !strstr(err, ": ") || !err[strlen(err) - 1])
        abort(); /* names the line, then the problem */
}

static void check_rows(const cli_rows *r, long lines)
{
    int prev = 0;
    for (size_t i = 0; i < r->n; i++) {
        const cli_row *row = &r->rows[i];
        if (row->line < 1 || row->line > lines || row->line < prev)
            abort();
        prev = row->line;
        for (size_t k = 0; k < row->n; k++) {
            const char *v = row->vars[k], *eq = strchr(v, '=');
            if (!eq || eq == v || utf8_bad(v, strlen(v)) >= 0)
                abort();
            char key[128];
            size_t kl = (size_t)(eq - v);
            if (kl < sizeof key) {
                memcpy(key, v, kl);
                key[kl] = '\0';
                if (!cli_row_get(row, key))
                    abort();
            }
        }
    }
}

/* How many values the object on a line gives: a scalar one, a list its elements, null none. */
static size_t values_of(const char *line, size_t n)
{
    cJSON *o = cJSON_ParseWithLength(line, n);
    size_t count = 0;
    for (const cJSON *f = o ? o->child : NULL; f; f = f->next)
        count += cJSON_IsNull(f) ? 0 : cJSON_IsArray(f) ? (size_t)cJSON_GetArraySize(f) : 1;
    cJSON_Delete(o);
    return count;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static void jsonl(const char *text, size_t size, long lines)
{
    cli_rows r;
    char err[256] = "";
    if (cli_rows_parse(text, size, 0, &r, err, sizeof err) != 0) {
        check_error(err, lines);
        if (r.n || r.rows)
            abort(); /* nothing is left behind */
        return;
    }
    check_rows(&r, lines);
    size_t bom = size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    size_t row = 0;
    int line = 0;
    for (const char *p = text + bom, *end = text + size; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (!blank(p, n)) {
            if (row >= r.n || r.rows[row].line != line || r.rows[row].n != values_of(p, n))
                abort();
            row++;
        }
        p += n + (nl ? 1 : 0);
    }
    if (row != r.n)
        abort();
    cli_rows_free(&r);
}

static void csv(const char *text, size_t size, long lines)
{
    cli_rows r;
    char err[256] = "";
    if (cli_rows_parse(text, size, 1, &r, err, sizeof err) != 0) {
        check_error(err, lines);
        if (r.n || r.rows)
            abort();
        return;
    }
    check_rows(&r, lines);
    for (size_t i = 1; i < r.n; i++) {
        if (r.rows[i].n != r.rows[0].n)
            abort();
        for (size_t k = 0; k < r.rows[0].n; k++) {
            const char *a = r.rows[0].vars[k], *b = r.rows[i].vars[k];
            size_t ka = (size_t)(strchr(a, '=') - a);
            if (strncmp(a, b, ka + 1) != 0)
                abort(); /* the same key, in the header's order */
        }
    }
    if (!memchr(text, '"', size) && !memchr(text, '\r', size)) {
        size_t expect = 0;
        for (const char *p = memchr(text, '\n', size), *end = text + size; p && ++p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            expect += n > 0;
            p = nl;
        }
        if (r.n != expect)
            abort();
    }
    cli_rows_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    long lines = count_lines(text, size);
    jsonl(text, size, lines);
    csv(text, size, lines);
    return 0;
}
