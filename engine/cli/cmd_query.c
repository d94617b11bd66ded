/* nyx stats | log | thoughts: read the database, so they work across runs and processes. */
#include "cli.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct flag {
    const char *name;   /* --name */
    const char *option; /* nyx_query option key */
} flag;

static const flag stats_flags[] = {{"--session", "session"}, {"--since", "since"}, {"--by", "by"}, {NULL, NULL}};
static const flag log_flags[] = {{"--session", "session"}, {"--last", "last"}, {"--since", "since"}, {NULL, NULL}};
static const flag thought_flags[] = {{"--session", "session"}, {NULL, NULL}};
static const flag no_flags[] = {{NULL, NULL}};
static const flag audit_flags[] = {{"--last", "last"}, {"--since", "since"}, {"--session", "session"}, {NULL, NULL}};

static int print_json(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ud;
    (void)ncols;
    (void)names;
    printf("%s\n", values[0]);
    return 0;
}

/* Thoughts print as a tree: children under their parent, indented. */
static void print_tree(const cli_table *t, const char *parent, int depth, int id_col, int parent_col)
{
    for (size_t r = 0; r < t->nrows; r++) {
        const char *p = cli_table_cell(t, r, parent_col);
        if ((parent == NULL) != (p == NULL) || (parent && strcmp(parent, p) != 0))
            continue;
        printf("%*s", depth * 2, "");
        for (int c = 0; c < t->ncols; c++) {
            if (c == parent_col)
                continue;
            const char *v = cli_table_cell(t, r, c);
            printf(c == id_col ? "#%s" : "  %s=%s", c == id_col ? (v ? v : "?") : t->names[c],
                   c == id_col ? "" : (v ? v : "-"));
        }
        printf("\n");
        print_tree(t, cli_table_cell(t, r, id_col), depth + 1, id_col, parent_col);
    }
}

static int query(const char *kind, const flag *flags, int argc, char **argv)
{
    const char *opts[16];
    char *owned[16];
    int nopts = 0, json = 0, status = 0;
    const char *db = NULL;
    for (int i = 1; i < argc && status == 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: nyx %s", kind);
            for (const flag *f = flags; f->name; f++)
                printf(" [%s VALUE]", f->name);
            printf(" [--json] [--db FILE]\n");
            if (strcmp(kind, "log") == 0)
                printf("       nyx log --raw ID [--json] [--db FILE]   (one stored exchange: request, response, attempts)\n");
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
            continue;
        }
        const flag *f = flags;
        while (f->name && strcmp(f->name, argv[i]) != 0)
            f++;
        if (!f->name || i + 1 >= argc || nopts >= 14) {
            fprintf(stderr, "nyx %s: unexpected argument \"%s\"\n", kind, argv[i]);
            status = 2;
            break;
        }
        size_t n = strlen(f->option) + strlen(argv[i + 1]) + 2;
        if (!(owned[nopts] = malloc(n))) {
            status = 1;
            break;
        }
        snprintf(owned[nopts], n, "%s=%s", f->option, argv[++i]);
        opts[nopts] = owned[nopts];
        nopts++;
    }
    if (json && status == 0)
        opts[nopts++] = "format=json";
    opts[nopts] = NULL;
    nyx_engine *e = NULL;
    if (status == 0 && !(e = cli_open(db)))
        status = 1;
    cli_table t = {0};
    if (status == 0) {
        int rc = nyx_query(e, kind, opts, json ? print_json : cli_table_add, json ? NULL : &t);
        if (rc != NYX_OK) {
            fprintf(stderr, "nyx %s: %s\n", kind, nyx_errmsg(e));
            status = rc == NYX_EINVAL ? 2 : 1;
        } else if (!json && strcmp(kind, "thoughts") == 0 && t.nrows > 0) {
            print_tree(&t, NULL, 0, cli_table_col(&t, "id"), cli_table_col(&t, "parent_id"));
        } else if (!json) {
            cli_table_print(&t, stdout);
        }
    }
    cli_table_free(&t);
    for (int i = 0; i < nopts - json; i++)
        free(owned[i]);
    nyx_close(e);
    return status;
}

int cli_stats(int argc, char **argv) { return query("stats", stats_flags, argc, argv); }
int cli_log(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--raw") == 0)
            return cli_log_raw(argc, argv);
    return query("log", log_flags, argc, argv);
}
int cli_thoughts(int argc, char **argv) { return query("thoughts", thought_flags, argc, argv); }
int cli_budget(int argc, char **argv) { return query("budget", no_flags, argc, argv); }
int cli_audit(int argc, char **argv) { return query("audit", audit_flags, argc, argv); }
