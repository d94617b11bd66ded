/* nyx ask TEMPLATE [--var k=v]... [--model M] [--json]: one templated call from the command
 * line. The CLI is a host built on nyx.h only, so the call runs as a small embedded Lua chunk:
 * the same renderer as nyx render and the same call path (budgets, cache, retries, logging)
 * as nyx.call in a script. */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx ask TEMPLATE[@V] [--var k=v]... [--model M] [--json] [--db FILE]\n\n"
            "Renders TEMPLATE with the variables given (as nyx render does) and sends it as one\n"
            "call. The answer goes to stdout (with --json: the result as one JSON object: text,\n"
            "model, id, stop_reason, interaction_id, usage with cost_usd), the model, usage and cost\n"
            "to stderr. Without --model the template's model hint is used.\n"
            "Exit status: 0 answered, 1 the call or the rendering failed or its record was lost,\n"
            "2 usage error.\n");
}

/* The answer on stdout (with --json the result's fields as one object, nyx.json_encode), a
 * line of usage and cost on stderr. */
static const char chunk_fmt[] =
    "local nyx = require 'nyx'\n"
    "local name, model, as_json = '%s', %s%s%s, %s\n"
    "local prompt = nyx.templates.render(name, nyx.vars)\n"
    "local r = nyx.call{prompt = prompt, template = name, model = model}\n"
    "local u = r.usage\n"
    "if as_json then\n"
    "  io.stdout:write(nyx.json_encode{ text = r.text, json = r.json, model = r.model, id = r.id,\n"
    "    stop_reason = r.stop_reason, interaction_id = r.interaction_id, usage = u }, '\\n')\n"
    "else\n"
    "  io.stdout:write(r.text)\n"
    "  if r.text:sub(-1) ~= '\\n' then io.stdout:write('\\n') end\n"
    "end\n"
    "io.stderr:write(string.format('%%s: %%d input, %%d output, %%d cache read, %%d cache write tokens; %%s\\n',\n"
    "  r.model, u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens,\n"
    "  u.cost_usd and string.format('$%%.6f', u.cost_usd) or 'cost unknown (no price for this model)'))\n";

int cli_ask(int argc, char **argv)
{
    const char *name = NULL, *model = NULL, *db = NULL;
    int json = 0;
    const char **vars = calloc((size_t)argc + 1, sizeof *vars);
    int nvars = 0;
    if (!vars)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            free(vars);
            return 0;
        } else if (strcmp(argv[i], "--var") == 0 && i + 1 < argc) {
            if (!cli_var_ok("nyx ask", argv[i + 1])) {
                free(vars);
                return 2;
            }
            vars[nvars++] = argv[++i];
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' || name) {
            fprintf(stderr, "nyx ask: unexpected argument \"%s\"\n", argv[i]);
            help(stderr);
            free(vars);
            return 2;
        } else {
            name = argv[i];
        }
    }
    if (!name || !cli_plain_name(name) || (model && !cli_plain_name(model))) {
        if (name)
            fprintf(stderr, "nyx ask: \"%.80s\" is not a template or model name\n",
                    !cli_plain_name(name) ? name : model);
        help(stderr);
        free(vars);
        return 2;
    }
    nyx_engine *e = cli_open(db);
    if (!e) {
        free(vars);
        return 1;
    }
    int rc = cli_set_vars(e, "nyx ask", vars, nvars);
    free(vars);
    if (rc != 0) {
        fprintf(stderr, "nyx ask: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return 2;
    }
    char chunk[sizeof chunk_fmt + 512];
    snprintf(chunk, sizeof chunk, chunk_fmt, name, model ? "'" : "", model ? model : "nil", model ? "'" : "",
             json ? "true" : "false");
    cli_catch_signals();
    rc = cli_drive(e, nyx_load_string(e, chunk, "=nyx ask"), NULL);
    int status = 0;
    if (cli_interrupted) {
        fprintf(stderr, "nyx ask: interrupted; the call was cancelled and logged\n");
        status = 128 + cli_interrupted;
    } else if (rc != NYX_OK) {
        fprintf(stderr, "nyx ask: %s\n", nyx_errmsg(e));
        status = 1;
    }
    status = cli_records_whole(e, status);
    nyx_close(e);
    return status;
}
