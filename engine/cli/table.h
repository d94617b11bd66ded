/* Rows collected from nyx_query and printed as an aligned table a person reads at a glance. */
#ifndef NYX_CLI_TABLE_H
#define NYX_CLI_TABLE_H
#include <stdio.h>

typedef struct cli_table {
    int ncols;
    char **names;
    char **cells; /* nrows * ncols, NULL for SQL NULL */
    size_t nrows, cap;
    int failed;
    /* Set by the caller for a table of any length (nyx log): every CLI_TABLE_CHUNK rows are
     * printed there and freed, each column as wide as the widest cell printed so far, so
     * memory does not grow with the table. */
    FILE *stream;
    size_t *width;
    size_t printed;
} cli_table;

#define CLI_TABLE_CHUNK 1000

/* An nyx_row_fn that appends to the cli_table passed as ud. */
int cli_table_add(void *ud, int ncols, const char *const *names, const char *const *values);
/* An nyx_row_fn for --json: prints each row's one column (a JSON object) as a line. */
int cli_print_json(void *ud, int ncols, const char *const *names, const char *const *values);
const char *cli_table_cell(const cli_table *t, size_t row, int col);
int cli_table_col(const cli_table *t, const char *name);
/* Prints the rows held (the header first, unless printed already) and frees them. */
void cli_table_print(cli_table *t, FILE *out);
/* For a person: keeps only the columns named in keep (in that order; NULL keeps all), dollars
 * (columns named *_usd or cost) to 4 places, rates (*_rate) as percentages. */
void cli_table_readable(cli_table *t, const char *const *keep);
void cli_table_free(cli_table *t);

#endif
