#define _POSIX_C_SOURCE 200809L /* stpcpy */
#include "rows.h"
#include "base/array.h"

#include <stdlib.h>
#include <string.h>

int rowset_add(void *ud, int ncols, const char *const *names, const char *const *values,
               const char *types)
{
    rowset *r = ud;
    rowset_row *rows = array_room(r->rows, r->n, &r->cap, sizeof *rows, 8);
    if (!rows)
        return r->out_of_memory = 1;
    r->rows = rows;
    /* One block per row: the two pointer arrays, the types, then the texts. */
    size_t size = 2 * (size_t)ncols * sizeof(char *) + (size_t)ncols;
    for (int i = 0; i < ncols; i++)
        size += strlen(names[i]) + 1 + (values[i] ? strlen(values[i]) + 1 : 0);
    const char **block = malloc(size ? size : 1);
    if (!block)
        return r->out_of_memory = 1;
    char *kinds = (char *)(block + 2 * ncols);
    memcpy(kinds, types, (size_t)ncols);
    char *text = kinds + ncols;
    for (int i = 0; i < ncols; i++) {
        block[i] = text;
        text = stpcpy(text, names[i]) + 1;
        block[ncols + i] = NULL;
        if (values[i]) {
            block[ncols + i] = text;
            text = stpcpy(text, values[i]) + 1;
        }
    }
    r->rows[r->n++] = (rowset_row){ncols, block, block + ncols, kinds};
    return 0;
}

void rowset_free(rowset *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->rows[i].names);
    free(r->rows);
    *r = (rowset){0};
}

int rows_col(int ncols, const char *const *names, const char *name)
{
    for (int i = 0; i < ncols; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *rows_value(int ncols, const char *const *names, const char *const *values, const char *name)
{
    int i = rows_col(ncols, names, name);
    return i < 0 ? NULL : values[i];
}
