/* nyx log --raw ID: one stored exchange — the request body and response text as the storage
 * mode kept them, the attempts, the status and the error. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shown {
    int rows;
    int json;
} shown;

static int print_exchange(void *ud, int ncols, const char *const *names, const char *const *values)
{
    shown *s = ud;
    s->rows++;
    if (s->json) {
        printf("%s\n", values[0]);
        return 0;
    }
    const char *request = NULL, *response = NULL;
    for (int i = 0; i < ncols; i++) {
        if (strcmp(names[i], "request") == 0)
            request = values[i];
        else if (strcmp(names[i], "response") == 0)
            response = values[i];
        else
            printf("%-14s %s\n", names[i], values[i] ? values[i] : "-");
    }
    printf("--- request (as stored) ---\n%s\n", request ? request : "(not stored: NYX_STORAGE_MODE=none)");
    printf("--- response (as stored) ---\n%s\n", response ? response : "(none stored)");
    return 0;
}

int cli_log_raw(int argc, char **argv)
{
    const char *id = NULL, *db = NULL;
    shown s = {0, 0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc && !id)
            id = argv[++i];
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            s.json = 1;
        else {
            cli_bad_arg("nyx log", argv[i], strcmp(argv[i], "--raw") == 0 || strcmp(argv[i], "--db") == 0,
                        i + 1 == argc);
            fprintf(stderr, "usage: nyx log --raw ID [--json] [--db FILE]\n");
            return 2;
        }
    }
    if (!id) {
        fprintf(stderr, "usage: nyx log --raw ID [--json] [--db FILE]\n");
        return 2;
    }
    nyx_engine *e = cli_open_reading("nyx log", db, 1);
    if (!e)
        return 1;
    size_t n = strlen(id) + 4;
    char *opt = malloc(n);
    int status = 0;
    if (!opt) {
        fprintf(stderr, "nyx log: out of memory\n");
        status = 1;
    } else {
        snprintf(opt, n, "id=%s", id);
        const char *opts[] = {opt, s.json ? "format=json" : NULL, NULL};
        int rc = nyx_query(e, "exchange", opts, print_exchange, &s);
        if (rc != NYX_OK) {
            fprintf(stderr, "nyx log: %s\n", nyx_errmsg(e));
            status = rc == NYX_EINVAL ? 2 : 1;
        } else if (s.rows == 0) {
            /* An id is short: a long argument is not echoed back whole. */
            fprintf(stderr, "nyx log: no interaction \"%.64s%s\" in the database\n", id,
                    strlen(id) > 64 ? "..." : "");
            status = 1;
        }
    }
    free(opt);
    nyx_close(e);
    return status;
}
