/* What every command that runs Lua does around it (nyx run, nyx ask, nyx batch): Ctrl-C or
 * SIGTERM cancels what is in flight rather than killing the process, so each call in flight is
 * logged as cancelled; the loop turns until the work ends; and a record the database never got
 * fails the command, since an exit status of 0 says the work is whole. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "status.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t cli_interrupted;
long long cli_cancelled;
static nyx_engine *volatile interrupted_engine;

/* The first signal cancels what is in flight (cli_drive) and stops Lua code running now,
 * which the loop would not see before it waits (while true do end); a second ends the process
 * at once, for a script that catches the first (a pcall in a loop) or a close that hangs. */
static void on_signal(int sig)
{
    if (cli_interrupted) {
        static const char msg[] = "\nnyx: interrupted again: ending now (records not yet written are lost)\n";
        ssize_t unused = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)unused;
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    cli_interrupted = sig;
    if (interrupted_engine)
        nyx_interrupt(interrupted_engine);
}

void cli_catch_signals(nyx_engine *e)
{
    interrupted_engine = e;
    /* sigaction, not signal(): under _POSIX_C_SOURCE, glibc's signal() resets the handler
     * after the first signal, so the second would end the process unsaid. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        fprintf(stderr, "nyx: cannot catch SIGINT and SIGTERM; they end the process at once\n");
}

void cli_close(nyx_engine *e)
{
    interrupted_engine = NULL; /* a signal from now on must not reach a closed engine */
    nyx_close(e);
}

int cli_drive(nyx_engine *e, int rc, struct cli_status *status)
{
    while (rc == NYX_OK || rc == NYX_AGAIN) {
        if (cli_interrupted) {
            /* Counted as the calls the cancel finished: a batch's requests left to the batch
             * (it goes on without this process) are neither cancelled nor counted. */
            nyx_progress_info before, after;
            int counted = nyx_progress(e, &before) == NYX_OK;
            nyx_cancel_all(e, cli_interrupted == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
            if (counted && nyx_progress(e, &after) == NYX_OK)
                cli_cancelled = after.calls_done - before.calls_done;
            break;
        }
        cli_status_tick(status);
        /* With a status line, turns wake often enough to redraw its clock. */
        rc = nyx_poll(e, status ? 100 : 200);
        if (rc == NYX_OK)
            break;
    }
    cli_status_clear(status);
    return rc;
}

int cli_records_whole(nyx_engine *e, int code)
{
    return nyx_finish_records(e) > 0 && code == 0 ? 1 : code;
}

/* Skips "NAME:LINE: " at the start of *msg (name: the chunk's, or one without spaces, a file
 * of the library). */
static void skip_position(const char **msg, const char *name)
{
    const char *p = *msg;
    size_t n = name ? strlen(name) : strcspn(p, ": \n");
    if (n == 0 || strncmp(p, name ? name : p, n) != 0 || p[n] != ':' || !isdigit((unsigned char)p[n + 1]))
        return;
    p += n + 1;
    while (isdigit((unsigned char)*p))
        p++;
    if (p[0] == ':' && p[1] == ' ')
        *msg = p + 2;
}

/* Skips the error type nyx's error tables put before their message ("not_found: template
 * 'x' not found"): a command prints the message alone, as those that print nyx_errmsg of a C
 * call do. Once only: a message may itself begin with a field's name ("model: ..."). A type
 * ending in "_error" stays: the API's (not_found_error, overloaded_error) are what it said went
 * wrong, which its message alone often does not say ("model: claude-nope-1"), and nyx's few
 * (network_error, tls_error) name the kind of failure the same way. */
static void skip_type(const char **msg)
{
    const char *p = *msg;
    if (!islower((unsigned char)*p))
        return;
    while (islower((unsigned char)*p) || *p == '_')
        p++;
    size_t n = (size_t)(p - *msg);
    if (p[0] == ':' && p[1] == ' ' && p[2] && !(n > 6 && strncmp(p - 6, "_error", 6) == 0))
        *msg = p + 2;
}

void cli_chunk_error(const char *who, const char *chunk, const char *msg)
{
    skip_position(&msg, chunk);
    skip_position(&msg, NULL);
    skip_type(&msg);
    const char *tb = strstr(msg, "\nstack traceback:");
    int n = tb ? (int)(tb - msg) : (int)strlen(msg);
    fprintf(stderr, "%s: %.*s\n", who, n, msg);
}
