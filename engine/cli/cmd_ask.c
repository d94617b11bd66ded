/* nyx ask TEMPLATE [--var k=v]... [--model M] [--json]: one templated call from the command
 * line. The CLI is a host built on nyx.h only, so the call runs as a small embedded Lua chunk:
 * the same renderer as nyx render and the same call path (budgets, cache, retries, logging)
 * as nyx.call in a script. */
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx ask TEMPLATE[@V] [--var k=v]... [--model M] [--json] [--db FILE]\n\n"
            "Renders TEMPLATE with the variables given (as nyx render does) and sends it as one\n"
            "call. The answer goes to stdout (with --json: the result as one JSON object: text,\n"
            "model, id, stop_reason, interaction_id, usage with cost_usd), the model, usage and cost\n"
            "to stderr. Without --model the template's model hint is used. On a terminal the\n"
            "answer is printed as it arrives (a stream); elsewhere, whole once it is complete,\n"
            "so a call cut short is retried rather than leaving half an answer in a file.\n"
            "Exit status: 0 answered, 1 the call or the rendering failed or its record was lost,\n"
            "2 usage error.\n");
}

/* The answer on stdout (with --json the result's fields as one object, nyx.json_encode), a
 * line of usage and cost on stderr. On a terminal the text is written as it arrives: a long
 * answer is read while it comes. Elsewhere it is written whole, as a streamed call whose text
 * has been delivered is not tried again when cut (half an answer would be in the file). */
static const char chunk_fmt[] =
    "local nyx = require 'nyx'\n"
    "local name, model, as_json, on_terminal = '%s', %s%s%s, %s, %s\n"
    "local prompt = nyx.templates.render(name, nyx.vars)\n"
    "local streamed = false\n"
    "local stream = on_terminal and function(t) streamed = true; io.stdout:write(t); io.stdout:flush() end or nil\n"
    "local r = nyx.call{prompt = prompt, template = name, model = model, stream = stream}\n"
    "local u = r.usage\n"
    "if as_json then\n"
    "  io.stdout:write(nyx.json_encode{ text = r.text, json = r.json, model = r.model, id = r.id,\n"
    "    stop_reason = r.stop_reason, interaction_id = r.interaction_id, usage = u }, '\\n')\n"
    "else\n"
    "  if not streamed then io.stdout:write(r.text) end\n"
    "  if r.text:sub(-1) ~= '\\n' then io.stdout:write('\\n') end\n"
    "end\n"
    "io.stderr:write(string.format('%%s: %%d input, %%d output, %%d cache read, %%d cache write tokens; %%s\\n',\n"
    "  r.model, u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens,\n"
    "  u.cost_usd and string.format('$%%.6f', u.cost_usd) or 'cost unknown (no price for this model)'))\n";

int cli_ask(int argc, char **argv)
{
    const char *model = NULL;
    int json = 0;
    const cli_opt opts[] = {{"--model", NULL, &model, NULL}, {"--json", NULL, NULL, &json}, {0}};
    cli_args a = {.command = "nyx ask", .var_command = "nyx ask", .var_utf8 = 1, .help = help, .opts = opts};
    int parsed = cli_parse_args(&a, argc, argv, 1);
    if (parsed >= 0)
        return parsed;
    const char *name = a.name;
    const char *bad = name ? cli_template_name_error(name, 1) : NULL;
    if (!name || bad || !cli_plain_name(name) || (model && !cli_plain_name(model))) {
        if (name && (bad || !cli_plain_name(name)))
            fprintf(stderr, "nyx ask: \"%.80s\" is not a template name (nyx ask renders a template: "
                    "nyx templates lists them)\n", name);
        else if (name)
            fprintf(stderr, "nyx ask: --model \"%.80s\" is not a model name (nyx models lists them)\n", model);
        help(stderr);
        cli_args_free(&a);
        return 2;
    }
    nyx_engine *e = cli_open(a.db);
    if (!e) {
        cli_args_free(&a);
        return 1;
    }
    int rc = cli_set_vars(e, "nyx ask", a.vars, a.nvars);
    cli_args_free(&a);
    if (rc != 0) {
        fprintf(stderr, "nyx ask: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return 2;
    }
    char chunk[sizeof chunk_fmt + 512];
    snprintf(chunk, sizeof chunk, chunk_fmt, name, model ? "'" : "", model ? model : "nil", model ? "'" : "",
             json ? "true" : "false", !json && isatty(STDOUT_FILENO) ? "true" : "false");
    cli_catch_signals(e);
    rc = cli_drive(e, nyx_load_string(e, chunk, "=nyx ask"), NULL);
    int status = 0;
    if (cli_interrupted) {
        fprintf(stderr, "nyx ask: interrupted; the call was cancelled and logged\n");
        status = 128 + cli_interrupted;
    } else if (rc != NYX_OK) {
        cli_chunk_error("nyx ask", "nyx ask", nyx_errmsg(e));
        status = 1;
    }
    status = cli_records_whole(e, status);
    cli_close(e);
    return status;
}
