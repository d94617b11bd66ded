/* Rows of a store query kept after its row callback returns: an answer that arrives in the
 * loop is read later, when the script waiting for it resumes. */
#ifndef NYX_STORE_ROWSET_H
#define NYX_STORE_ROWSET_H

#include <stddef.h>

typedef struct store_kept_row {
    int ncols;
    const char **names;  /* ncols entries */
    const char **values; /* ncols entries; NULL for SQL NULL */
} store_kept_row;

typedef struct store_rowset {
    store_kept_row *rows;
    size_t n, cap;
    int out_of_memory; /* a row could not be kept; the query was stopped there */
} store_rowset;

/* A store_row_fn (ud: a zeroed store_rowset) that copies each row. Returns nonzero, which
 * stops the query, when memory runs out. */
int store_rowset_add(void *ud, int ncols, const char *const *names, const char *const *values);

/* Frees the rows; the set can be filled again. */
void store_rowset_free(store_rowset *r);

#endif
