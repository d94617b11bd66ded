/* The argument loop of the commands that take one NAME with --var k=v, --db FILE and -h/--help
 * (nyx run, ask, render, batch submit): written once so they read their arguments alike. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const cli_opt *find_opt(const cli_opt *opts, const char *a)
{
    for (; opts && opts->name; opts++)
        if (strcmp(a, opts->name) == 0 || (opts->alias && strcmp(a, opts->alias) == 0))
            return opts;
    return NULL;
}

int cli_parse_args(cli_args *a, int argc, char **argv, int first)
{
    a->name = a->db = NULL;
    a->nvars = 0;
    a->rest = argc;
    if (!(a->vars = calloc((size_t)argc + 1, sizeof *a->vars)))
        return 1;
    for (int i = first; i < argc; i++) {
        const cli_opt *o = find_opt(a->opts, argv[i]);
        int more = i + 1 < argc;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            a->help(stdout);
            cli_args_free(a);
            return 0;
        } else if (strcmp(argv[i], "--var") == 0 && more) {
            if (a->var_command && (!cli_var_ok(a->var_command, argv[i + 1]) ||
                                   (a->var_utf8 && !cli_var_utf8(a->var_command, argv[i + 1])))) {
                cli_args_free(a);
                return 2;
            }
            a->vars[a->nvars++] = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && more) {
            a->db = argv[++i];
        } else if (o && o->value && more) {
            *o->value = argv[++i];
        } else if (o && !o->value) {
            if (o->flag)
                *o->flag = 1;
        } else if (a->stop_at_dashdash && strcmp(argv[i], "--") == 0) {
            a->rest = i + 1;
            break;
        } else if (argv[i][0] == '-' || a->name) {
            int valued = (o && o->value) || strcmp(argv[i], "--var") == 0 || strcmp(argv[i], "--db") == 0;
            cli_bad_arg(a->command, argv[i], valued, !more);
            a->help(stderr);
            cli_args_free(a);
            return 2;
        } else {
            a->name = argv[i];
        }
    }
    return -1;
}

void cli_bad_arg(const char *command, const char *arg, int takes_value, int last)
{
    if (takes_value && last)
        fprintf(stderr, "%s: %s needs a value\n", command, arg);
    else
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", command, arg);
}

void cli_args_free(cli_args *a)
{
    free(a->vars);
    a->vars = NULL;
}
