#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "status.h"

#include <signal.h>
#include <stdio.h>

void cli_notice(void *ud, int level, const char *msg)
{
    (void)ud;
    if (level >= NYX_LOG_INFO)
        fprintf(stderr, "%s\n", msg);
}

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx run SCRIPT.lua [--var k=v]... [--db FILE] [--debug] [--watch] [--quiet]\n"
            "               [-- ARGS...]\n\n"
            "Runs SCRIPT.lua with the nyx engine. Without ANTHROPIC_API_KEY, calls go to the\n"
            "built-in simulator. --var k=v sets nyx.vars.k (a key given more than once is the list\n"
            "of its values, as in nyx render); ARGS become the script's arg table.\n"
            "Lua modules the script loads are reloaded in place when their files change.\n"
            "--watch runs the script again whenever it or a module it loaded changes; the engine\n"
            "and its state (sessions, budgets, statistics) stay. Ctrl-C stops.\n"
            "--debug (or NYX_DEBUG=1) writes every raw request and response to stderr, or to the\n"
            "file NYX_DEBUG_FILE names: the API key masked, bodies as NYX_STORAGE_MODE allows.\n"
            "On a terminal, a status line on stderr shows calls in flight and done, errors, dollars\n"
            "spent and saved, the cache hit rate, the nearest budget's share left and the script's\n"
            "nyx.progress(text); it is erased at exit. --quiet turns it off; NO_COLOR or TERM=dumb\n"
            "draw it without colour.\n\n"
            "example: nyx run council.lua --var topic=pricing --var topic=hiring --db council.db\n");
}

int cli_run(int argc, char **argv)
{
    int debug = 0, watch = 0, quiet = 0;
    const cli_opt opts[] = {{"--debug", NULL, NULL, &debug},
                            {"--watch", NULL, NULL, &watch},
                            {"--quiet", "-q", NULL, &quiet},
                            {0}};
    cli_args a = {.command = "nyx run", .help = help, .opts = opts, .stop_at_dashdash = 1};
    int parsed = cli_parse_args(&a, argc, argv, 1);
    if (parsed >= 0)
        return parsed;
    const char *script = a.name;
    int first_arg = a.rest;
    if (!script) {
        help(stderr);
        cli_args_free(&a);
        return 2;
    }
    nyx_engine *e = cli_open(a.db);
    if (!e) {
        cli_args_free(&a);
        return 1;
    }
    cli_status *status = cli_status_new(e, quiet);
    nyx_set_log(e, cli_status_notice, status);
    nyx_set_output(e, cli_status_print, status);
    nyx_set_debug_writer(e, cli_status_debug, status);
    int rc = debug && nyx_set(e, "debug", "1") != NYX_OK ? -1 : cli_set_vars(e, "nyx run", a.vars, a.nvars);
    cli_args_free(&a);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
        nyx_close(e);
        cli_status_free(status);
        return 2;
    }
    cli_catch_signals(e);
    if (watch) {
        int code = cli_run_watch(e, script, argc - first_arg, argv + first_arg, &cli_interrupted, status);
        cli_status_clear(status);
        if (cli_interrupted) {
            fprintf(stderr, "nyx: stopped watching %s\n", script);
            code = 128 + cli_interrupted; /* Ctrl-C ends --watch as it ends a run */
        }
        cli_close(e);
        cli_status_free(status);
        return code;
    }
    rc = cli_drive(e, nyx_load_file(e, script, argc - first_arg, argv + first_arg), status);
    int code = 0;
    if (cli_interrupted) {
        const char *why = cli_interrupted == SIGINT ? "interrupted" : "terminated";
        if (cli_cancelled > 0)
            fprintf(stderr, "nyx: %s; in-flight calls were cancelled and logged\n", why);
        else
            fprintf(stderr, "nyx: %s\n", why);
        code = 128 + cli_interrupted; /* as a shell reports a process the signal ended */
    } else if (rc != NYX_OK) {
        fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
        code = 1;
    }
    code = cli_records_whole(e, code);
    cli_close(e);
    cli_status_free(status);
    return code;
}
