/* Rows as the store gives them: column names, values as text, and each value's type as the
 * database declared it, so "007" stays text and 7 stays a number all the way to Lua and
 * JSON. A rowset keeps rows after the row callback returns: an answer that arrives in the
 * loop is read later, when the script waiting for it resumes. */
#ifndef NYX_BASE_ROWS_H
#define NYX_BASE_ROWS_H

#include <stddef.h>

/* One letter per column in a row's types (sqlite3_column_type, PostgreSQL's type OID). A
 * NULL value is NULL whatever its letter. ROW_BOOL is no database's: a yes or no that a row
 * made in C gives as the text a person reads ("true", "*"), false when that text is empty,
 * "0" or "false", so --json can say true or false. */
enum { ROW_NULL = 'n', ROW_INT = 'i', ROW_REAL = 'r', ROW_TEXT = 't', ROW_BOOL = 'b' };

typedef struct rowset_row {
    int ncols;
    const char **names;  /* ncols entries */
    const char **values; /* ncols entries; NULL for SQL NULL */
    const char *types;   /* ncols letters */
} rowset_row;

typedef struct rowset {
    rowset_row *rows;
    size_t n, cap;
    int out_of_memory; /* a row could not be kept; the query was stopped there */
} rowset;

/* A store_row_fn (ud: a zeroed rowset) that copies each row. Returns nonzero, which
 * stops the query, when memory runs out. */
int rowset_add(void *ud, int ncols, const char *const *names, const char *const *values,
               const char *types);

/* Frees the rows; the set can be filled again. */
void rowset_free(rowset *r);

/* The index of the column called name in a row, or -1. */
int rows_col(int ncols, const char *const *names, const char *name);
/* The value of the column called name: NULL when there is none or it is SQL NULL. */
const char *rows_value(int ncols, const char *const *names, const char *const *values, const char *name);

#endif
