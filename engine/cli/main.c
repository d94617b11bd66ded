/* The nyx command: a host built only on nyx.h. Exit status 0 success, 1 runtime error,
 * 2 usage error. */
#include "cli.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", cli_run, "run a Lua script"},
    {"ask", cli_ask, "one call with a rendered template: the answer on stdout"},
    {"batch", cli_batch, "one request per row of a file, as a Message Batch at batch prices"},
    {"sim", cli_sim, "serve the Claude API simulator on 127.0.0.1"},
    {"stats", cli_stats, "calls, cache hits, tokens, cost and savings from the database"},
    {"log", cli_log, "one line per interaction from the database"},
    {"thoughts", cli_thoughts, "thought trees with calls, tokens and cost per node"},
    {"budget", cli_budget, "every budget scope: limit, spent, reserved, remaining"},
    {"audit", cli_audit, "security-relevant events: refusals, stops, breaker openings, config"},
    {"prune", cli_prune, "delete calls logged before a date, unnamed request parts, expired cache"},
    {"stop", cli_stop, "emergency stop for every process sharing the database"},
    {"config", cli_config, "settings in the database: list, get, set, unset (with their source)"},
    {"models", cli_models, "the model table: prices, cache minimums, lifecycle (show ID: one in full)"},
    {"report", cli_report, "one self-contained HTML file with charts: cost, cache, latency, errors"},
    {"render", cli_render, "print a template rendered with --var k=v values"},
    {"templates", cli_templates, "templates: list, show, history, diff and stats of versions"},
};

/* A program may take the open-files limit its hard limit allows (the library never changes a
 * process's limits; it keeps its connections under whatever the host leaves it): a stock login's
 * soft limit of 1,024 would otherwise make `nyx run` with 1,000 calls at once wait for
 * connections that the hard limit (often 524,288) would have allowed. Where it cannot be
 * raised, nyx runs within the soft limit. */
static void raise_open_files(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return; /* the soft limit stands: calls wait for connections, none fails for it */
}

static void usage(FILE *out)
{
    fprintf(out, "usage: nyx COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'nyx COMMAND --help' describes each command. nyx %s\n", NYX_VERSION);
}

int main(int argc, char **argv)
{
    /* Each call allocates and frees its request body (tens of KB) near the top of the heap:
     * without slack, glibc gives the memory back and asks for it again on nearly every call
     * (brk and the trim were 6 % of a busy run's CPU). */
    mallopt(M_TOP_PAD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    raise_open_files();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        char libs[512];
        nyx_versions(libs, sizeof libs);
        printf("nyx %s\n%s\n", NYX_VERSION, libs);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "nyx: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
