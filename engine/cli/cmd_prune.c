#define _POSIX_C_SOURCE 200809L
/* nyx prune: keeps the database bounded (nyx_prune): the calls logged before a time, the
 * finished batches among them, the request parts nothing names, the expired cache entries. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx prune --before DATE [--dry-run] [--json] [--db FILE]\n\n"
            "Deletes the interactions logged before DATE, the Message Batches made before it\n"
            "whose results are all logged and settled, the stored request parts no remaining\n"
            "interaction names, and the response-cache entries already expired. Kept whatever\n"
            "their age: the calls of a batch still waiting for results, budgets, sessions,\n"
            "thought nodes, templates, audit events, settings and the emergency stop.\n\n"
            "  --before  DATE   a UTC day, instant or age (days, hours, minutes or seconds before\n"
            "                   now), as nyx log --since takes them: 2026-12-01,\n"
            "                   2026-12-01T09:30:00.057Z, 30d, 12h\n"
            "  --dry-run        delete nothing: say what would be deleted\n"
            "  --json           one JSON object: the counts and bytes, exact\n"
            "  --db      FILE   the database: a SQLite file or a postgresql:// URI (default\n"
            "                   NYX_DB, else ./nyx.db)\n\n"
            "example: nyx prune --before 90d --dry-run\n");
}

typedef struct counts {
    long long v[8];
    double longest_ms, before_s;
} counts;

static const char *const names[] = {"interactions", "interaction_bytes", "batches",    "parts",
                                    "part_bytes",   "cache_rows",        "cache_bytes", NULL};

static int take(void *ud, int ncols, const char *const *cols, const char *const *values)
{
    counts *c = ud;
    for (int i = 0; i < ncols; i++) {
        if (!values[i])
            continue;
        for (int k = 0; names[k]; k++)
            if (strcmp(cols[i], names[k]) == 0)
                c->v[k] = strtoll(values[i], NULL, 10);
        if (strcmp(cols[i], "longest_write_ms") == 0)
            c->longest_ms = strtod(values[i], NULL);
        if (strcmp(cols[i], "before_s") == 0)
            c->before_s = strtod(values[i], NULL);
    }
    return 0;
}

int cli_prune(int argc, char **argv)
{
    const char *before = NULL;
    int dry_run = 0, json = 0;
    const cli_opt opts[] = {{"--before", NULL, &before, NULL},
                            {"--dry-run", NULL, NULL, &dry_run},
                            {"--json", NULL, NULL, &json},
                            {NULL, NULL, NULL, NULL}};
    cli_args a = {.command = "nyx prune", .help = help, .opts = opts};
    int rc = cli_parse_args(&a, argc, argv, 1);
    if (rc >= 0)
        return rc;
    const char *db = a.db, *extra = a.name;
    int vars = a.nvars;
    cli_args_free(&a);
    if (extra || vars > 0) {
        fprintf(stderr, "nyx prune: unexpected argument \"%s\"\n", extra ? extra : "--var");
        help(stderr);
        return 2;
    }
    if (!before) {
        fprintf(stderr, "nyx prune: --before DATE is required (nothing is deleted without it)\n");
        help(stderr);
        return 2;
    }
    if (cli_db_missing("nyx prune", db))
        return 1;
    nyx_engine *e = cli_open(db);
    if (!e)
        return 1;
    counts c = {{0}, 0, 0};
    rc = nyx_prune(e, before, dry_run, take, &c);
    if (rc != NYX_OK) {
        fprintf(stderr, "nyx prune: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return rc == NYX_EINVAL ? 2 : 1;
    }
    if (json) {
        printf("{\"before\":\"%s\",\"before_s\":%.3f,\"dry_run\":%s", before, c.before_s,
               dry_run ? "true" : "false");
        for (int k = 0; names[k]; k++)
            printf(",\"%s\":%lld", names[k], c.v[k]);
        printf(",\"longest_write_ms\":%.3f}\n", c.longest_ms);
    } else {
        /* An age (30d) is said as the instant it meant as well. */
        char when[48] = "";
        time_t t = (time_t)c.before_s;
        struct tm tm;
        if (strchr("dhms", before[strlen(before) - 1]) && gmtime_r(&t, &tm))
            strftime(when, sizeof when, " (%Y-%m-%dT%H:%M:%SZ)", &tm);
        printf("%s before %s%s: %lld interactions (%lld bytes of text), %lld batches, %lld request parts "
               "(%lld bytes), %lld expired cache entries (%lld bytes)\n",
               dry_run ? "would prune" : "pruned", before, when, c.v[0], c.v[1], c.v[2], c.v[3], c.v[4],
               c.v[5], c.v[6]);
    }
    nyx_close(e);
    return 0;
}
