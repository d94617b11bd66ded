/* The engine a command works with: notices on stderr, --db applied. */
#include "cli.h"

#include <stdio.h>

nyx_engine *cli_open(const char *db)
{
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e) {
        fprintf(stderr, "nyx: %s\n", msg ? msg : "cannot start");
        nyx_free(msg);
        return NULL;
    }
    nyx_set_log(e, cli_notice, NULL);
    if (db && nyx_set(e, "db", db) != NYX_OK) {
        fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return NULL;
    }
    return e;
}
