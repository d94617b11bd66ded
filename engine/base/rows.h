/* Rows of a store query kept after its row callback returns: an answer that arrives in the
 * loop is read later, when the script waiting for it resumes. */
#ifndef NYX_BASE_ROWS_H
#define NYX_BASE_ROWS_H

#include <stddef.h>

typedef struct rowset_row {
    int ncols;
    const char **names;  /* ncols entries */
    const char **values; /* ncols entries; NULL for SQL NULL */
} rowset_row;

typedef struct rowset {
    rowset_row *rows;
    size_t n, cap;
    int out_of_memory; /* a row could not be kept; the query was stopped there */
} rowset;

/* A store_row_fn (ud: a zeroed rowset) that copies each row. Returns nonzero, which
 * stops the query, when memory runs out. */
int rowset_add(void *ud, int ncols, const char *const *names, const char *const *values);

/* Frees the rows; the set can be filled again. */
void rowset_free(rowset *r);

#endif
