/* The live status line of `nyx run` (status.c). */
#ifndef NYX_CLI_STATUS_H
#define NYX_CLI_STATUS_H
#include "cli.h"

#include <stddef.h>

typedef struct cli_status cli_status;

/* A status line for e on stderr; NULL when stderr is no terminal or quiet is set (every
 * function below accepts NULL and then does what it would without a line). */
cli_status *cli_status_new(nyx_engine *e, int quiet);
/* Draws the line again if it changed and a tenth of a second passed since the last draw. */
void cli_status_tick(cli_status *s);
/* Erases the line (before other output, and at exit). */
void cli_status_clear(cli_status *s);
void cli_status_free(cli_status *s);

/* The engine's notices, the scripts' print and the debug view, with the line out of the
 * way (ud: the cli_status or NULL). */
void cli_status_notice(void *ud, int level, const char *msg);
void cli_status_print(void *ud, const char *text, size_t len);
void cli_status_debug(void *ud, const char *text, size_t len);

#endif
