#define _POSIX_C_SOURCE 200809L
#include "table.h"

#include <stdlib.h>
#include <string.h>

int cli_print_json(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ud;
    (void)ncols;
    (void)names;
    printf("%s\n", values[0]);
    return 0;
}

int cli_table_add(void *ud, int ncols, const char *const *names, const char *const *values)
{
    cli_table *t = ud;
    if (!t->names) {
        t->ncols = ncols;
        t->names = calloc((size_t)ncols, sizeof *t->names);
        for (int i = 0; t->names && i < ncols; i++)
            t->names[i] = strdup(names[i]);
        if (!t->names)
            return t->failed = 1;
    }
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * (size_t)t->ncols * sizeof *cells);
        if (!cells)
            return t->failed = 1;
        t->cells = cells;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++) {
        const char *v = i < ncols ? values[i] : NULL;
        char num[64];
        char *end;
        double d = v ? strtod(v, &end) : 0;
        /* Fractions get the precision a person needs: dollars to the micro-dollar. */
        if (v && *v && *end == '\0' && strchr(v, '.')) {
            snprintf(num, sizeof num, d < 1 && d > -1 ? "%.6f" : "%.2f", d);
            v = num;
        }
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = v ? strdup(v) : NULL;
    }
    t->nrows++;
    if (t->stream && t->nrows >= CLI_TABLE_CHUNK) {
        cli_table_print(t, t->stream);
        if (t->failed)
            return 1;
    }
    return 0;
}

const char *cli_table_cell(const cli_table *t, size_t row, int col)
{
    return t->cells[row * (size_t)t->ncols + (size_t)col];
}

int cli_table_col(const cli_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->names[i], name) == 0)
            return i;
    return -1;
}

/* A number, or a percentage: aligned right. */
static int numeric(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end;
    strtod(s, &end);
    return end != s && (*end == '\0' || (end[0] == '%' && end[1] == '\0'));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static char *reformat(const char *name, char *v)
{
    char *end;
    if (!v || !*v)
        return v;
    double d = strtod(v, &end);
    if (*end)
        return v;
    char buf[64];
    if (ends_with(name, "_usd") || strcmp(name, "cost") == 0)
        snprintf(buf, sizeof buf, "%.4f", d);
    else if (ends_with(name, "_rate"))
        snprintf(buf, sizeof buf, "%.1f%%", d * 100.0);
    else
        return v;
    char *copy = strdup(buf);
    if (!copy)
        return v;
    free(v);
    return copy;
}

void cli_table_readable(cli_table *t, const char *const *keep)
{
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            char **cell = &t->cells[r * (size_t)t->ncols + (size_t)c];
            *cell = reformat(t->names[c], *cell);
        }
    if (!keep || t->ncols == 0)
        return;
    /* Columns kept move to the front, in keep's order; the rest are dropped. */
    int *from = calloc((size_t)t->ncols, sizeof *from);
    if (!from)
        return;
    int n = 0;
    for (size_t k = 0; keep[k]; k++) {
        int c = cli_table_col(t, keep[k]);
        if (c >= 0)
            from[n++] = c;
    }
    char **names = calloc((size_t)t->ncols, sizeof *names);
    char **cells = t->nrows ? calloc(t->nrows * (size_t)t->ncols, sizeof *cells) : NULL;
    if (!names || (t->nrows && !cells) || n == 0) {
        free(from);
        free(names);
        free(cells);
        return;
    }
    int *used = calloc((size_t)t->ncols, sizeof *used);
    if (!used) {
        free(from);
        free(names);
        free(cells);
        return;
    }
    for (int i = 0; i < n; i++) {
        used[from[i]] = 1;
        names[i] = t->names[from[i]];
        for (size_t r = 0; r < t->nrows; r++)
            cells[r * (size_t)n + (size_t)i] = t->cells[r * (size_t)t->ncols + (size_t)from[i]];
    }
    for (int c = 0; c < t->ncols; c++) {
        if (used[c])
            continue;
        free(t->names[c]);
        for (size_t r = 0; r < t->nrows; r++)
            free(t->cells[r * (size_t)t->ncols + (size_t)c]);
    }
    free(t->names);
    free(t->cells);
    t->names = names;
    t->cells = cells;
    t->ncols = n;
    t->cap = t->nrows;
    free(used);
    free(from);
}

void cli_table_print(cli_table *t, FILE *out)
{
    if (t->nrows == 0) {
        if (t->printed == 0)
            fprintf(out, "(nothing recorded)\n");
        return;
    }
    if (!t->width && !(t->width = calloc((size_t)t->ncols, sizeof *t->width))) {
        t->failed = 1;
        return;
    }
    size_t *width = t->width;
    for (int c = 0; c < t->ncols; c++) {
        if (width[c] < strlen(t->names[c]))
            width[c] = strlen(t->names[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            const char *v = cli_table_cell(t, r, c);
            size_t n = strlen(v ? v : "-");
            if (n > width[c])
                width[c] = n;
        }
    }
    if (t->printed == 0)
        for (int c = 0; c < t->ncols; c++)
            fprintf(out, "%-*s%s", (int)width[c], t->names[c], c + 1 < t->ncols ? "  " : "\n");
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const char *v = cli_table_cell(t, r, c);
            /* Numbers align right, text left. */
            fprintf(out, numeric(v) ? "%*s%s" : "%-*s%s", (int)width[c], v ? v : "-",
                    c + 1 < t->ncols ? "  " : "\n");
        }
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    t->printed += t->nrows;
    t->nrows = 0;
}

void cli_table_free(cli_table *t)
{
    for (int i = 0; t->names && i < t->ncols; i++)
        free(t->names[i]);
    free(t->names);
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->width);
    memset(t, 0, sizeof *t);
}
