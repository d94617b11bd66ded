#define _POSIX_C_SOURCE 200809L
/* nyx run --watch: runs the script, and runs it again on the same engine (sessions, budgets,
 * statistics and the Lua state carry over) whenever it, a module it loaded, a file in ./lua
 * or a template changes. A script still running is cancelled first, as Ctrl-C would. */
#include "cli.h"
#include "status.h"

#include <stdio.h>

/* Cancels the scripts and turns the loop until they have unwound. */
static void stop_and_drain(nyx_engine *e, volatile sig_atomic_t *interrupted)
{
    nyx_stop_scripts(e);
    while (!*interrupted) {
        int rc = nyx_poll(e, 200);
        if (rc != NYX_AGAIN && rc != NYX_ESCRIPT && rc != NYX_CHANGED)
            break; /* NYX_OK: all done; anything else will not get better by waiting */
        /* A script that caught "cancelled" and waits again is cancelled again. */
        nyx_stop_scripts(e);
    }
}

/* Starts the script; NYX_AGAIN once it runs (nyx_poll says when it is done). */
static int run(nyx_engine *e, const char *script, int argc, char **argv)
{
    int rc = nyx_load_file(e, script, argc, argv);
    return rc == NYX_OK ? NYX_AGAIN : rc;
}

int cli_run_watch(nyx_engine *e, const char *script, int argc, char **argv,
                  volatile sig_atomic_t *interrupted, cli_status *status)
{
    if (nyx_watch_script(e, script) != NYX_OK) {
        fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
        return 1;
    }
    int rc = run(e, script, argc, argv);
    int said = 0; /* the idle (or stuck) state was announced for this run */
    while (!*interrupted) {
        if (rc != NYX_AGAIN)
            cli_status_clear(status); /* what follows is said on stderr */
        switch (rc) {
        case NYX_AGAIN:
            break;
        case NYX_CHANGED:
            fprintf(stderr, "nyx: a watched file changed; running %s again\n", script);
            stop_and_drain(e, interrupted);
            if (*interrupted)
                return 0;
            rc = run(e, script, argc, argv);
            said = 0;
            continue;
        case NYX_OK:
        case NYX_EDEADLOCK:
            if (!said) {
                if (rc != NYX_OK)
                    fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
                fprintf(stderr, "nyx: %s is done; watching for changes (Ctrl-C stops)\n", script);
                said = 1;
            }
            break;
        case NYX_ESCRIPT:
        case NYX_EIO:
            fprintf(stderr, "nyx: %s\n", nyx_errmsg(e)); /* the next change runs it again */
            break;
        default:
            fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
            return 1;
        }
        cli_status_tick(status);
        rc = nyx_poll(e, status ? 100 : 200);
    }
    return 0;
}
