/* The rows of nyx batch submit --input: JSON Lines (one object per line) or CSV with a header
 * row, each row a list of "key=value" strings (a JSON array of strings gives the key once per
 * element: a list for the template). */
#ifndef NYX_CLI_ROWS_H
#define NYX_CLI_ROWS_H

#include <stddef.h>

typedef struct cli_row {
    char **vars;  /* "key=value", owned */
    size_t n;
    int line;     /* where the row starts in the file (1-based) */
} cli_row;

typedef struct cli_rows {
    cli_row *rows;
    size_t n;
} cli_rows;

/* Reads text[0..len) (a file's bytes, a UTF-8 byte-order mark first or not) as CSV when csv,
 * else as JSON Lines. Returns 0, or -1 with why (naming the line and the field) written to
 * err and nothing in out. */
int cli_rows_parse(const char *text, size_t len, int csv, cli_rows *out, char *err, size_t errlen);
void cli_rows_free(cli_rows *r);

/* The value of key in the row, or NULL (the first when it is a list). */
const char *cli_row_get(const cli_row *r, const char *key);

#endif
