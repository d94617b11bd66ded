#define _POSIX_C_SOURCE 200809L
/* nyx config list | get KEY | set KEY VALUE | unset KEY: operator settings in the database
 * (system_config), shown with where each value in force comes from. */
#include "cli.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx config list [--json] [--db FILE]\n"
            "       nyx config get KEY [--db FILE]\n"
            "       nyx config set KEY VALUE [--db FILE]\n"
            "       nyx config unset KEY [--db FILE]\n\n"
            "Settings kept in the database, shared by every process on it: cache.ttl.ephemeral,\n"
            "cache.ttl.persistent, cache.ttl.shared_context (seconds); budget.daily_usd,\n"
            "budget.monthly_usd, budget.session_usd; budget.hard and budget.{daily,monthly,\n"
            "session,agent}_hard (false: over the limit warns and alerts instead of refusing);\n"
            "alert.latency_ms, alert.error_rate, alert.cache_hit_rate_floor; templates.writers\n"
            "(agents allowed to create or change templates, comma-separated; * for anyone);\n"
            "storage.durability (strict: a result waits for its record; degrade: results go on\n"
            "while the database is unavailable, records waiting in memory).\n"
            "A call's own argument wins, then the environment, then the database, then the\n"
            "default; 'list' shows each value with its source.\n\n"
            "example: nyx config set budget.daily_usd 25\n");
}

typedef struct rows {
    char *cell[64][3];
    int n;
} rows;

static int add_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    rows *r = ud;
    (void)names;
    if (r->n >= 64 || ncols < 3)
        return 0;
    for (int c = 0; c < 3; c++)
        r->cell[r->n][c] = values[c] ? strdup(values[c]) : NULL;
    r->n++;
    return 0;
}

static void print_rows(const rows *r)
{
    static const char *const head[] = {"key", "value", "source"};
    size_t w[3];
    for (int c = 0; c < 3; c++) {
        w[c] = strlen(head[c]);
        for (int i = 0; i < r->n; i++) {
            size_t n = strlen(r->cell[i][c] ? r->cell[i][c] : "-");
            if (n > w[c])
                w[c] = n;
        }
    }
    printf("%-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1], head[2]);
    for (int i = 0; i < r->n; i++)
        printf("%-*s  %-*s  %s\n", (int)w[0], r->cell[i][0], (int)w[1], r->cell[i][1] ? r->cell[i][1] : "-",
               r->cell[i][2] ? r->cell[i][2] : "-");
}

int cli_config(int argc, char **argv)
{
    const char *db = NULL, *words[3] = {NULL, NULL, NULL};
    int nwords = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (nwords < 3) {
            words[nwords++] = argv[i];
        } else {
            fprintf(stderr, "nyx config: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    const char *verb = words[0];
    int want = !verb ? -1
               : strcmp(verb, "list") == 0 ? 1
               : strcmp(verb, "get") == 0 || strcmp(verb, "unset") == 0 ? 2
               : strcmp(verb, "set") == 0 ? 3
                                          : -1;
    if (want != nwords) {
        /* One line saying what is wrong before the usage: a misspelt verb or a missing KEY read
         * as the usage alone, which left the reader to find the difference. */
        if (verb && want < 0)
            fprintf(stderr, "nyx config: unknown subcommand \"%s\" (list, get, set or unset)\n", verb);
        else if (verb && nwords > want)
            fprintf(stderr, "nyx config %s: unexpected argument \"%s\"\n", verb, words[want]);
        else if (verb)
            fprintf(stderr, "nyx config %s: %s is missing\n", verb, nwords == 1 ? "KEY" : "VALUE");
        help(stderr);
        return 2;
    }
    int reads = strcmp(verb, "list") == 0 || strcmp(verb, "get") == 0;
    nyx_engine *e = reads ? cli_open_reading("nyx config", db, 1) : cli_open(db);
    if (!e)
        return 1;
    int status = 0, rc = NYX_OK;
    if (strcmp(verb, "list") == 0) {
        rows r = {0};
        const char *opts[] = {"format=json", NULL};
        rc = nyx_query(e, "config", json ? opts : NULL, json ? cli_print_json : add_row, &r);
        if (rc == NYX_OK && !json)
            print_rows(&r);
        for (int i = 0; i < r.n; i++)
            for (int c = 0; c < 3; c++)
                free(r.cell[i][c]);
    } else if (strcmp(verb, "get") == 0) {
        char *value = NULL;
        const char *source = NULL;
        if ((rc = nyx_config_get(e, words[1], &value, &source)) == NYX_OK)
            printf("%s\n", value ? value : "");
        nyx_free(value);
    } else {
        const char *key = words[1];
        int set = strcmp(verb, "set") == 0;
        if ((rc = nyx_config_set(e, key, set ? words[2] : NULL)) == NYX_OK) {
            char *value = NULL;
            const char *source = NULL;
            int got = nyx_config_get(e, key, &value, &source) == NYX_OK;
            /* One line saying what changed (canonical, as stored): every process on the
             * database picks it up. */
            if (set)
                printf("%s = %s (saved in the database; running processes use it within a second)\n", key,
                       got && value && source && strcmp(source, "database") == 0 ? value : words[2]);
            else
                printf("%s unset (removed from the database; the default or the environment applies)\n", key);
            if (got && source && strcmp(source, "environment") == 0)
                fprintf(stderr, "nyx config: note: the environment sets %s here (%s), which takes precedence\n", key,
                        value ? value : "");
            nyx_free(value);
        }
    }
    if (rc != NYX_OK) {
        fprintf(stderr, "nyx config: %s\n", nyx_errmsg(e));
        status = rc == NYX_EINVAL ? 2 : 1;
    }
    nyx_close(e);
    return status;
}
