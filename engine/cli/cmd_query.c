/* nyx stats | log | thoughts: read the database, so they work across runs and processes. */
#include "cli.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct flag {
    const char *name;   /* --name */
    const char *option; /* nyx_query option key */
    const char *arg;    /* what it takes, for the usage line */
    const char *help;   /* its values */
} flag;

#define F_SESSION {"--session", "session", "NAME", "only that session's rows"}
#define F_SINCE {"--since", "since", "DATE", "from that UTC day, instant or age: 2026-12-01, 2026-12-01T09:30:00.057Z, 7d"}
#define F_LAST {"--last", "last", "N", "only the newest N (a whole number > 0)"}

static const flag stats_flags[] = {
    F_SESSION, F_SINCE,
    {"--by", "by", "GROUP", "one row per: total (default), model, session, agent, template or day (UTC)"},
    {NULL, NULL, NULL, NULL}};
static const flag log_flags[] = {F_SESSION, F_LAST, F_SINCE, {NULL, NULL, NULL, NULL}};
static const flag thought_flags[] = {F_SESSION, {NULL, NULL, NULL, NULL}};
static const flag no_flags[] = {{NULL, NULL, NULL, NULL}};
static const flag audit_flags[] = {
    F_LAST, F_SINCE, F_SESSION,
    {"--kind", "kind", "KIND",
     "one kind of event: config, config_set, budget_refused, budget_soft_exceeded,\n"
     "                   budget_reset, emergency_stop, emergency_stop_cleared, breaker_open,\n"
     "                   prompt_blocked, prompt_redacted, tool_denied, template_write_refused,\n"
     "                   records_lost, or a script's own (nyx.audit)"},
    {NULL, NULL, NULL, NULL}};

typedef struct command {
    const char *kind;
    const flag *flags;
    const char *what;
    const char *example;
} command;

static const command commands[] = {
    {"stats", stats_flags, "Calls, cache hits, tokens, cost and savings from the database.",
     "nyx stats --by model --since 2026-12-01"},
    {"log", log_flags, "One line per interaction from the database, oldest first.", "nyx log --last 20"},
    {"thoughts", thought_flags, "Thought trees with the calls, tokens and cost of each node.",
     "nyx thoughts --session strategy"},
    {"budget", no_flags, "Every budget scope: limit, spent, reserved and remaining (USD).", "nyx budget --json"},
    {"audit", audit_flags, "Security-relevant events: refusals, stops, breaker openings, configuration.",
     "nyx audit --kind budget_refused --last 10"},
};

static const flag reprice_flags[] = {F_SESSION, F_SINCE, {NULL, NULL, NULL, NULL}};
static const command reprice_command = {
    "reprice", reprice_flags,
    "Stored calls priced by the current model table (at the row in force when each was made),\n"
    "beside the cost recorded, which never changes.",
    "nyx stats --reprice --since 2026-10-01"};

static void usage(const command *cmd)
{
    printf("usage: nyx %s", cmd->kind);
    for (const flag *f = cmd->flags; f->name; f++)
        printf(" [%s %s]", f->name, f->arg);
    printf("%s [--json] [--db FILE]\n", strcmp(cmd->kind, "stats") == 0 ? " [--wide]" : "");
    if (strcmp(cmd->kind, "log") == 0)
        printf("       nyx log --raw ID [--json] [--db FILE]\n");
    if (strcmp(cmd->kind, "budget") == 0)
        printf("       nyx budget reset SCOPE [--db FILE]\n");
    printf("\n%s\n\n", cmd->what);
    for (const flag *f = cmd->flags; f->name; f++)
        printf("  %-9s %-6s %s\n", f->name, f->arg, f->help);
    if (strcmp(cmd->kind, "stats") == 0)
        printf("  --wide           every column at full precision (by default: the main\n"
               "                   columns, dollars to 4 places, rates in %%)\n"
               "  --reprice        by model: recorded cost beside the current model table's\n"
               "                   (with --session, --since)\n");
    if (strcmp(cmd->kind, "log") == 0)
        printf("  --raw     ID     one stored exchange in full: request, response, attempts, error\n");
    if (strcmp(cmd->kind, "budget") == 0)
        printf("  reset     SCOPE  start that scope's spending again from 0, audited (see\n"
               "                   nyx budget reset --help)\n");
    printf("  --json           one JSON object per row: every column, exact numbers\n"
           "  --db      FILE   the database: a SQLite file or a postgresql:// URI (default\n"
           "                   NYX_DB, else ./nyx.db)\n\n"
           "example: %s\n",
           cmd->example);
}

/* The columns `nyx stats` shows without --wide: what a person reads first. */
static const char *const stats_columns[] = {"group",      "calls",       "errors",   "hit_rate",
                                            "input",      "output",      "cache_read", "cache_write",
                                            "cost_usd",   "saved_usd",   NULL};

/* Under a node, one line per call its tool loops made (its own calls, not its children's). */
static void print_iterations(const cli_table *its, const char *node, int depth)
{
    const char *names[] = {"thought", "iteration", "tool_calls", "stop_reason", "tokens", "cost"};
    int col[6];
    for (int c = 0; c < 6; c++)
        if ((col[c] = cli_table_col(its, names[c])) < 0)
            return;
    for (size_t r = 0; node && r < its->nrows; r++) {
        const char *v = cli_table_cell(its, r, col[0]);
        if (!v || strcmp(v, node) != 0)
            continue;
        const char *n = cli_table_cell(its, r, col[1]);
        printf("%*s  iteration %s", depth * 2, "", n ? n : "-");
        for (int c = 2; c < 6; c++) {
            const char *x = cli_table_cell(its, r, col[c]);
            printf("  %s=%s", names[c], x ? x : "-");
        }
        printf("\n");
    }
}

/* Thoughts print as a tree: children under their parent, indented; under each node the
 * iterations of its tool loops. */
/* Whether a row of t has the id. */
static int has_node(const cli_table *t, int id_col, const char *id)
{
    for (size_t r = 0; r < t->nrows; r++) {
        const char *v = cli_table_cell(t, r, id_col);
        if (v && strcmp(v, id) == 0)
            return 1;
    }
    return 0;
}

/* The rows under parent, or with parent NULL the tops: the roots and the nodes whose parent is
 * not among the rows (with --session, a node of the session under another session's node: it
 * was listed by --json and left out of the tree). */
static void print_tree(const cli_table *t, const cli_table *its, const char *parent, int depth, int id_col,
                       int parent_col)
{
    for (size_t r = 0; r < t->nrows; r++) {
        const char *p = cli_table_cell(t, r, parent_col);
        if (parent ? !p || strcmp(parent, p) != 0 : p && has_node(t, id_col, p))
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
        print_iterations(its, cli_table_cell(t, r, id_col), depth);
        print_tree(t, its, cli_table_cell(t, r, id_col), depth + 1, id_col, parent_col);
    }
}

/* Message Batches, under the table: their calls, cache reads and what they saved against
 * standard prices (every row's sum; --wide and --json show them per group). */
static void batches_line(const cli_table *t, char *line, size_t size)
{
    line[0] = '\0';
    int calls = cli_table_col(t, "batch_calls"), read = cli_table_col(t, "batch_cache_read"),
        saved = cli_table_col(t, "batch_saved_usd");
    if (calls < 0 || read < 0 || saved < 0)
        return;
    long long n = 0, tokens = 0;
    double usd = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *c = cli_table_cell(t, r, calls), *k = cli_table_cell(t, r, read), *s = cli_table_cell(t, r, saved);
        n += c ? strtoll(c, NULL, 10) : 0;
        tokens += k ? strtoll(k, NULL, 10) : 0;
        usd += s ? strtod(s, NULL) : 0;
    }
    if (n > 0)
        snprintf(line, size, "batches: %lld calls at batch prices, %lld cache-read tokens, saved $%.4f against "
                 "standard prices\n", n, tokens, usd);
}

/* Tool loops, under the table: the tool calls the model made and the calls made as loop
 * iterations (every row's sum; --wide and --json show them per group). */
static void tools_line(const cli_table *t, char *line, size_t size)
{
    line[0] = '\0';
    int calls = cli_table_col(t, "tool_calls"), iters = cli_table_col(t, "iterations");
    if (calls < 0 || iters < 0)
        return;
    long long n = 0, k = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *c = cli_table_cell(t, r, calls), *i = cli_table_cell(t, r, iters);
        n += c ? strtoll(c, NULL, 10) : 0;
        k += i ? strtoll(i, NULL, 10) : 0;
    }
    if (n > 0 || k > 0)
        snprintf(line, size, "tools: %lld tool calls, %lld calls as tool loop iterations\n", n, k);
}

/* Sums the counts of "records_lost" audit events ("N interaction records ..."). */
static int add_lost(void *ud, int ncols, const char *const *names, const char *const *values)
{
    for (int c = 0; c < ncols; c++)
        if (strcmp(names[c], "detail") == 0 && values[c])
            *(long long *)ud += strtoll(values[c], NULL, 10);
    return 0;
}

/* Records that runs lost (NYX_DURABILITY=degrade) are not in the statistics: say how many. */
static void print_lost(nyx_engine *e)
{
    const char *opts[] = {"kind=records_lost", NULL};
    long long lost = 0;
    if (nyx_query(e, "audit", opts, add_lost, &lost) == NYX_OK && lost > 0)
        printf("records lost: %lld interaction records never reached the database and are not counted above "
               "(nyx audit --kind records_lost)\n", lost);
}

static int query(const command *cmd, int argc, char **argv)
{
    const char *kind = cmd->kind;
    const flag *flags = cmd->flags;
    const char *opts[16];
    char *owned[16];
    int nopts = 0, json = 0, wide = 0, status = 0;
    const char *db = NULL;
    for (int i = 1; i < argc && status == 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(cmd);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(argv[i], "--wide") == 0 && strcmp(kind, "stats") == 0) {
            wide = 1;
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
            char who[32];
            snprintf(who, sizeof who, "nyx %s", kind);
            cli_bad_arg(who, argv[i], f->name || strcmp(argv[i], "--db") == 0, i + 1 >= argc);
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
    char who[32];
    snprintf(who, sizeof who, "nyx %s", kind);
    if (status == 0 && !(e = cli_open_reading(who, db, 1)))
        status = 1;
    /* The log may hold millions of rows: printed as they come, not held. */
    cli_table t = {.stream = strcmp(kind, "log") == 0 ? stdout : NULL};
    if (status == 0) {
        int rc = nyx_query(e, kind, opts, json ? cli_print_json : cli_table_add, json ? NULL : &t);
        if (rc != NYX_OK) {
            fprintf(stderr, "nyx %s: %s\n", kind, nyx_errmsg(e));
            status = rc == NYX_EINVAL ? 2 : 1;
        } else if (t.failed) {
            fprintf(stderr, "nyx %s: out of memory\n", kind);
            status = 1;
        } else if (!json && strcmp(kind, "thoughts") == 0 && t.nrows > 0) {
            cli_table its = {0};
            if (nyx_query(e, "iterations", opts, cli_table_add, &its) != NYX_OK)
                fprintf(stderr, "nyx thoughts: %s\n", nyx_errmsg(e)); /* the tree still shows */
            print_tree(&t, &its, NULL, 0, cli_table_col(&t, "id"), cli_table_col(&t, "parent_id"));
            cli_table_free(&its);
        } else if (!json) {
            char batches[200] = ""; /* read before the readable view drops the columns */
            char tools[120] = "";
            if (strcmp(kind, "stats") == 0) {
                batches_line(&t, batches, sizeof batches);
                tools_line(&t, tools, sizeof tools);
            }
            if (strcmp(kind, "stats") == 0 && !wide)
                cli_table_readable(&t, stats_columns);
            cli_table_print(&t, stdout);
            fputs(batches, stdout);
            fputs(tools, stdout);
            if (strcmp(kind, "stats") == 0)
                print_lost(e);
        }
    }
    cli_table_free(&t);
    for (int i = 0; i < nopts - json; i++)
        free(owned[i]);
    nyx_close(e);
    return status;
}

/* nyx stats --reprice: what the current model table says the stored calls cost, beside what
 * was recorded (stored costs are never changed). */
int cli_stats(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reprice") != 0)
            continue;
        char *rest[64];
        int n = 0;
        for (int k = 0; k < argc && n < 63; k++)
            if (k != i)
                rest[n++] = argv[k];
        rest[n] = NULL;
        return query(&reprice_command, n, rest);
    }
    return query(&commands[0], argc, argv);
}
int cli_log(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--raw") == 0)
            return cli_log_raw(argc, argv);
    return query(&commands[1], argc, argv);
}
int cli_thoughts(int argc, char **argv) { return query(&commands[2], argc, argv); }
/* nyx budget reset SCOPE [--db FILE] */
static int budget_reset(int argc, char **argv)
{
    const char *scope = NULL, *db = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: nyx budget reset SCOPE [--db FILE]\n\n"
                   "Starts a scope's spending again from 0 for every process on the database\n"
                   "(its pending reservations stay); the reset is audited.\n\n"
                   "example: nyx budget reset agent:analyst/2026-12-06\n");
            return 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (!scope && argv[i][0] != '-') {
            scope = argv[i];
        } else {
            fprintf(stderr, "nyx budget reset: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!scope) {
        fprintf(stderr, "nyx budget reset: which scope? (nyx budget lists them)\n");
        return 2;
    }
    nyx_engine *e = cli_open(db);
    if (!e)
        return 1;
    int rc = nyx_budget_reset(e, scope);
    if (rc == NYX_OK)
        printf("budget %s reset: spent 0\n", scope);
    else
        fprintf(stderr, "nyx budget reset: %s\n", nyx_errmsg(e));
    nyx_close(e);
    return rc == NYX_OK ? 0 : 1;
}

int cli_budget(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "reset") == 0)
        return budget_reset(argc - 1, argv + 1);
    return query(&commands[3], argc, argv);
}
int cli_audit(int argc, char **argv) { return query(&commands[4], argc, argv); }
