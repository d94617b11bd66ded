/* nyx stop: the emergency stop, honoured within a second by every process on the database. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cli_stop(int argc, char **argv)
{
    const char *reason = "stopped from the command line", *db = NULL;
    int clear = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: nyx stop [--reason TEXT] [--clear] [--db FILE]\n\n"
                   "Stops every nyx process sharing the database: new calls fail with \"stopped\",\n"
                   "calls in flight are cancelled and logged. --clear lets calls go again.\n\n"
                   "example: nyx stop --reason \"over plan\"\n");
            return 0;
        } else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
            reason = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--clear") == 0) {
            clear = 1;
        } else {
            cli_bad_arg("nyx stop", argv[i], strcmp(argv[i], "--reason") == 0 || strcmp(argv[i], "--db") == 0,
                        i + 1 == argc);
            return 2;
        }
    }
    nyx_engine *e = cli_open(db);
    if (!e)
        return 1;
    int rc = clear ? nyx_resume(e) : nyx_stop(e, reason);
    if (rc != NYX_OK)
        fprintf(stderr, "nyx stop: %s%s\n", rc == NYX_EINVAL ? "--" : "", nyx_errmsg(e));
    else
        printf(clear ? "emergency stop cleared\n" : "emergency stop set: %s\n", reason);
    nyx_close(e);
    return rc == NYX_OK ? 0 : rc == NYX_EINVAL ? 2 : 1;
}
