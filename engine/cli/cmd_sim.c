#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx sim [--port N] [--ttft-ms MS] [--token-ms MS] [--rpm N] [--itpm N]\n"
            "               [--otpm N] [--seed N] [--api-key KEY] [--faults JSON]\n"
            "               [--batch-ms MS] [--batch-expiry-ms MS]\n\n"
            "Serves the Claude Messages API simulator on 127.0.0.1 (port 0 picks one; the\n"
            "chosen port is printed as 'listening on 127.0.0.1:PORT'). A script reaches it with\n"
            "ANTHROPIC_BASE_URL=http://127.0.0.1:PORT nyx run SCRIPT.lua (no API key needed).\n"
            "Control endpoints: POST/DELETE /sim/faults ({\"faults\":[{\"fault\":\"overloaded\",\"count\":2}]}),\n"
            "GET /sim/requests?since=N, POST /sim/reset, GET/POST /sim/config; the fault rules\n"
            "and their fields are in the README (The simulator).\n"
            "Message batches take --batch-ms to process (spread over their requests) and expire\n"
            "after --batch-expiry-ms (default 24 h).\n"
            "\nexample: nyx sim --port 8080 --ttft-ms 40 --rpm 50\n");
}

int cli_sim(int argc, char **argv)
{
    static const struct {
        const char *flag, *key;
    } flags[] = {{"--ttft-ms", "ttft_ms"}, {"--token-ms", "token_ms"}, {"--rpm", "rpm"},
                 {"--itpm", "itpm"},       {"--otpm", "otpm"},         {"--seed", "seed"},
                 {"--api-key", "api_key"}, {"--faults", "faults"},
                 {"--batch-ms", "batch_delay_ms"}, {"--batch-expiry-ms", "batch_expiry_ms"}};
    int port = 0;
    char **opts = calloc((size_t)argc + 1, sizeof *opts);
    int nopts = 0, status = 0;
    if (!opts)
        return 1;
    for (int i = 1; i < argc && status == 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            status = -1;
            break;
        }
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "nyx sim: --port must be 0..65535, got \"%s\"\n", argv[i]);
                status = 2;
            }
            port = (int)p;
            continue;
        }
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && strcmp(argv[i], flags[f].flag) != 0)
            f++;
        if (f == sizeof flags / sizeof flags[0] || i + 1 >= argc) {
            cli_bad_arg("nyx sim", argv[i],
                        f < sizeof flags / sizeof flags[0] || strcmp(argv[i], "--port") == 0, i + 1 >= argc);
            help(stderr);
            status = 2;
            break;
        }
        size_t n = strlen(flags[f].key) + strlen(argv[i + 1]) + 2;
        if (!(opts[nopts] = malloc(n))) {
            status = 1;
            break;
        }
        snprintf(opts[nopts++], n, "%s=%s", flags[f].key, argv[++i]);
    }
    nyx_sim *sim = NULL;
    if (status == 0) {
        /* A bad option value or fault rule is a usage error, told apart from a server that
         * cannot start (a port in use). */
        char *msg = NULL;
        if (nyx_sim_check_options((const char *const *)opts, &msg) != NYX_OK) {
            /* The message names the option's key (ttft_ms): said as the flag typed (--ttft-ms). */
            const char *text = msg ? msg : "bad option", *flag = NULL;
            for (size_t f = 0; !flag && f < sizeof flags / sizeof flags[0]; f++) {
                size_t n = strlen(flags[f].key);
                if (strncmp(text, flags[f].key, n) == 0 && text[n] == ' ') {
                    flag = flags[f].flag;
                    text += n;
                }
            }
            fprintf(stderr, "nyx sim: %s%s\n", flag ? flag : "", text);
            status = 2;
        }
        nyx_free(msg);
    }
    if (status == 0) {
        char *msg = NULL;
        sim = nyx_sim_start(port, (const char *const *)opts, &msg);
        if (!sim) {
            fprintf(stderr, "nyx sim: %s\n", msg ? msg : "cannot start");
            nyx_free(msg);
            status = 1;
        }
    }
    for (int i = 0; i < nopts; i++)
        free(opts[i]);
    free(opts);
    if (!sim)
        return status < 0 ? 0 : status;
    printf("listening on 127.0.0.1:%d\n", nyx_sim_port(sim));
    fflush(stdout);
    fprintf(stderr, "nyx sim: scripts reach it with ANTHROPIC_BASE_URL=http://127.0.0.1:%d nyx run SCRIPT.lua\n",
            nyx_sim_port(sim));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    nyx_sim_stop(sim);
    return 0;
}
