/* nyx templates list | show NAME[@V] | history NAME | diff NAME V1 V2 | stats NAME, and
 * nyx render NAME [--var k=v]...: templates from the template directories and the database. */
#include "cli.h"
#include "table.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void templates_help(FILE *out)
{
    fprintf(out,
            "usage: nyx templates [list]             [--db FILE] [--json]\n"
            "       nyx templates show NAME[@V]      [--db FILE]\n"
            "       nyx templates history NAME       [--db FILE] [--json]\n"
            "       nyx templates diff NAME V1 V2    [--db FILE]\n"
            "       nyx templates stats NAME         [--db FILE] [--json]\n\n"
            "Templates are NAME.md files in ./templates, each directory of NYX_TEMPLATE_PATH and\n"
            "the installed templates, then templates created in the database. Every distinct\n"
            "content is a version; NAME@V is version V.\n\n"
            "example: nyx templates diff council_persona 1 2\n");
}

static void render_help(FILE *out)
{
    fprintf(out,
            "usage: nyx render NAME[@V] [--var k=v]... [--db FILE]\n\n"
            "Prints the template rendered with the variables given. A key given more than once\n"
            "is a list (for {{#key}}...{{/key}} sections).\n\n"
            "example: nyx render council_persona --var name=CFO --var \"focus=cash and payback\"\n");
}

static int parse_version(const char *s, int *v)
{
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (!*s || *end || n < 1 || n > 1000000000)
        return -1;
    *v = (int)n;
    return 0;
}

static int query(nyx_engine *e, const char *kind, const char *name, int json)
{
    char opt[300];
    const char *opts[3] = {NULL, NULL, NULL};
    int n = 0;
    if (name) {
        snprintf(opt, sizeof opt, "name=%s", name);
        opts[n++] = opt;
    }
    if (json)
        opts[n++] = "format=json";
    cli_table t = {0};
    int rc = nyx_query(e, kind, opts, json ? cli_print_json : cli_table_add, json ? NULL : &t);
    if (rc == NYX_OK && !json)
        cli_table_print(&t, stdout);
    cli_table_free(&t);
    if (rc != NYX_OK) {
        fprintf(stderr, "nyx templates: %s\n", nyx_errmsg(e));
        return 1;
    }
    return 0;
}

int cli_templates(int argc, char **argv)
{
    const char *db = NULL, *pos[4] = {NULL, NULL, NULL, NULL};
    int npos = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            templates_help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if ((argv[i][0] == '-' && !isdigit((unsigned char)argv[i][1])) || npos == 4) {
            /* "-1" is no option (none begins with a digit) but a version diff refuses by name */
            cli_bad_arg("nyx templates", argv[i], strcmp(argv[i], "--db") == 0, i + 1 == argc);
            templates_help(stderr);
            return 2;
        } else {
            pos[npos++] = argv[i];
        }
    }
    const char *sub = npos ? pos[0] : "list";
    static const struct {
        const char *name;
        int args;
    } subs[] = {{"list", 0}, {"show", 1}, {"history", 1}, {"diff", 3}, {"stats", 1}};
    int k = -1;
    for (int i = 0; i < (int)(sizeof subs / sizeof subs[0]); i++)
        if (strcmp(sub, subs[i].name) == 0)
            k = i;
    if (k < 0 || npos - (npos > 0) != subs[k].args) {
        if (k < 0)
            fprintf(stderr, "nyx templates: unknown subcommand \"%s\"\n", sub);
        else
            fprintf(stderr, "nyx templates %s: expected %d argument(s)\n", sub, subs[k].args);
        templates_help(stderr);
        return 2;
    }
    /* A name that cannot be one is bad usage, as a bad version of diff is; one that could be
     * but is not there is a failure (1), said by the library. show takes NAME@V, the rest the
     * name alone. */
    const char *bad = k > 0 ? cli_template_name_error(pos[1], k == 1) : NULL;
    if (bad) {
        fprintf(stderr, "nyx templates %s: \"%.80s\": %s\n", sub, pos[1], bad);
        return 2;
    }
    int v1 = 0, v2 = 0;
    for (int i = 2; k == 3 && i < 4; i++)
        if (parse_version(pos[i], i == 2 ? &v1 : &v2) != 0) {
            /* worded as nyx templates show NAME@V words a bad V (the template library) */
            fprintf(stderr, "nyx templates diff: version \"%.40s\" must be a whole number >= 1\n", pos[i]);
            return 2;
        }
    nyx_engine *e = cli_open_reading("nyx templates", db, 0);
    if (!e)
        return 1;
    int status = 0;
    if (k == 0) {
        status = query(e, "templates", NULL, json);
    } else if (k == 2) {
        status = query(e, "template_history", pos[1], json);
    } else if (k == 4) {
        status = query(e, "template_stats", pos[1], json);
    } else if (k == 1) {
        char *text = NULL, *source = NULL;
        int version = 0;
        if (nyx_template_get(e, pos[1], &text, &version, &source) != NYX_OK) {
            fprintf(stderr, "nyx templates show: %s\n", nyx_errmsg(e));
            status = 1;
        } else {
            /* The name line, then the text exactly as stored. */
            const char *at = strchr(pos[1], '@');
            printf("# %.*s@%d (%s)\n%s", at ? (int)(at - pos[1]) : (int)strlen(pos[1]), pos[1],
                   version, source, text);
            if (*text && text[strlen(text) - 1] != '\n')
                printf("\n");
        }
        nyx_free(text);
        nyx_free(source);
    } else {
        char *out = NULL;
        if (nyx_template_diff(e, pos[1], v1, v2, &out) != NYX_OK) {
            fprintf(stderr, "nyx templates diff: %s\n", nyx_errmsg(e));
            status = 1;
        } else {
            fputs(out, stdout);
        }
        nyx_free(out);
    }
    nyx_close(e);
    return status;
}

int cli_render(int argc, char **argv)
{
    cli_args a = {.command = "nyx render", .var_command = "nyx render", .help = render_help};
    int parsed = cli_parse_args(&a, argc, argv, 1);
    if (parsed >= 0)
        return parsed;
    if (!a.name) {
        render_help(stderr);
        cli_args_free(&a);
        return 2;
    }
    const char *bad = cli_template_name_error(a.name, 1);
    if (bad) {
        fprintf(stderr, "nyx render: \"%.80s\": %s\n", a.name, bad);
        cli_args_free(&a);
        return 2;
    }
    nyx_engine *e = cli_open(a.db);
    int status = e ? 0 : 1;
    char *out = NULL;
    if (e && nyx_template_render(e, a.name, a.vars, &out, NULL) != NYX_OK) {
        fprintf(stderr, "nyx render: %s\n", nyx_errmsg(e));
        status = 1;
    } else if (e) {
        fputs(out, stdout);
    }
    nyx_free(out);
    nyx_close(e);
    cli_args_free(&a);
    return status;
}
