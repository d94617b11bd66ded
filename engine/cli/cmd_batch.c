/* nyx batch submit TEMPLATE --input rows.jsonl|rows.csv: one request per row, the row's fields
 * as the template's variables, sent as Message Batches at batch prices through nyx.batch (an
 * embedded chunk: the CLI is a host built on nyx.h only). Every row is rendered before anything
 * is sent, so a missing variable names its row and field with nothing spent. The results are
 * written as JSON Lines; exit 0 when every row succeeded, 1 when some failed, 2 usage. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "rows.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* While the rows render: the row's id field is given to the template (one that declares it may
 * use it) but is the request's custom id, not a variable the user meant for the template, so
 * the renderer's "given but not declared" notice for that one field is dropped; every other
 * notice (a --var the template does not declare among them) goes on to stderr. */
static void row_notice(void *ud, int level, const char *msg)
{
    const char *field = ud;
    char undeclared[320];
    snprintf(undeclared, sizeof undeclared, "variable '%s' is given but not declared", field ? field : "");
    if (field && strstr(msg, undeclared))
        return;
    cli_notice(NULL, level, msg);
}

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx batch submit TEMPLATE --input rows.jsonl|rows.csv [--var k=v]... [--id-field F]\n"
            "                 [--model M] [--wait] [--out results.jsonl] [--db FILE]\n\n"
            "Sends one request per row as a Message Batch (every token at the batch price): the\n"
            "row's fields are the template's variables (a CSV input has a header row), with the\n"
            "--var values shared by every row. The request id is the row's --id-field (default\n"
            "\"id\" when the rows have it, else row1, row2, ...). Every row is rendered first: a\n"
            "missing variable names its row and field and nothing is sent. The batch and its\n"
            "requests are recorded in the database before they are sent; submit waits for the\n"
            "results (--wait says so) and writes them as JSON Lines to --out or stdout: {id, ok,\n"
            "text | error_type, error, model, usage, cost_usd, interaction_id}; a summary goes to\n"
            "stderr. Should it stop first, `nyx batch results ID` (any process) picks the batch up.\n"
            "On a terminal, a progress bar shows requests done, errored, dollars so far and the time.\n"
            "Exit status: 0 every row succeeded, 1 some failed (or nothing could be sent), 2 usage.\n\n"
            "usage: nyx batch list [--json] | status ID [--json] | results ID [--out FILE] [--json] | cancel ID\n\n"
            "Ask the API about batches (any batch of this API key): the list, one batch's status and\n"
            "counts, its results as the API returns them (JSON Lines, in any order), or cancel it.\n"
            "A batch this database holds (ID: the API's id or nyx's) is picked up instead: status and\n"
            "results log every ended result not logged yet, exactly once whichever process gets\n"
            "there, and results waits for the batch to end and writes them as submit does.\n");
}

static int id_ok(const char *s);
static int write_results(FILE *in, FILE *out, long *ok, long *failed, double *cost);

/* How both chunks hand a result to write_results (submit's, and results' for a batch this
 * database holds), so the two print it the same way: a header line of plain tokens, then the
 * text. The cost goes as nyx.json_encode writes it (the shortest text that reads back as the
 * same double), which write_results copies into the JSON as it is: cJSON's print settles for 15
 * digits that read back as another double (3.83e-05 for 3.8299999999999996e-05). */
#define WRITE_RESULT                                                                                  \
    "local function write_result(f, id, r, ok)\n"                                                     \
    "  local u = ok and r.usage or {}\n"                                                              \
    "  local text = ok and r.text or tostring(r.message or r)\n"                                      \
    "  f:write(string.format('%s %s %s %s %d %d %d %d %s %d\\n', id, r.interaction_id or '-',\n"     \
    "    ok and 'ok' or 'error', ok and r.model or (r.type or 'error'), u.input_tokens or 0,\n"      \
    "    u.output_tokens or 0, u.cache_read_input_tokens or 0, u.cache_creation_input_tokens or 0,\n" \
    "    u.cost_usd and nyx.json_encode(u.cost_usd) or '-', #text), text, '\\n')\n"                  \
    "end\n"

/* list, status, results and cancel ask the API through core.batch_api (an embedded chunk). */
static const char api_chunk[] =
    "local nyx = require 'nyx'\n"
    "local core = require 'nyx.core'\n"
    "local v = nyx.vars\n"
    WRITE_RESULT
    /* A batch this database holds is picked up: each ended result logged once, here or by
     * whichever process gets there first; results waits for the batch to end. */
    "if v.__id and (v.__sub == 'status' or v.__sub == 'results') and #core.batch_requests(v.__id) > 0 then\n"
    "  local t0 = nyx.now()\n"
    "  local function bar(done, n, errored, dollars)\n"
    "    local fill = n > 0 and math.floor(30 * done / n) or 30\n"
    "    io.stderr:write(string.format('\\r[%s%s] %d/%d done, %d errored, $%.4f, %ds ', string.rep('#', fill),\n"
    "      string.rep('.', 30 - fill), done, n, errored, dollars, math.floor(nyx.now() - t0)))\n"
    "  end\n"
    "  local progress\n"
    "  if v.__progress == '1' then\n"
    "    progress = function(st)\n"
    "      local c = st.request_counts or {}\n"
    "      local n = (c.processing or 0) + (c.succeeded or 0) + (c.errored or 0) + (c.canceled or 0) + (c.expired or 0)\n"
    "      bar(n - (c.processing or 0), n, (c.errored or 0) + (c.canceled or 0) + (c.expired or 0), 0)\n"
    "    end\n"
    "  end\n"
    "  local p = nyx.batch_pickup(v.__id, { wait = v.__sub == 'results', on_progress = progress })\n"
    "  local failed, dollars = 0, 0\n"
    "  for _, r in ipairs(p.results) do\n"
    "    if not r.ok then failed = failed + 1 end\n"
    "    dollars = dollars + (r.ok and r.value.usage.cost_usd or 0)\n"
    "  end\n"
    "  if progress then bar(#p.results, #p.results, failed, dollars) io.stderr:write('\\n') end\n"
    "  if v.__sub == 'status' then\n"
    "    if v.__json == '1' then\n"
    "      io.stdout:write(nyx.json_encode({ batch_id = p.batch_id, ids = p.ids, processing_status = p.processing_status,\n"
    "        request_counts = { processing = p.processing, succeeded = p.succeeded, errored = p.errored,\n"
    "          canceled = p.canceled, expired = p.expired }, logged = p.logged }), '\\n')\n"
    "    else\n"
    "      io.stdout:write(string.format('%-28s %-12s processing %d, succeeded %d, errored %d, canceled %d, expired %d  %s\\n',\n"
    "        p.batch_id, p.processing_status, p.processing, p.succeeded, p.errored, p.canceled, p.expired,\n"
    "        table.concat(p.ids, ',')))\n"
    "    end\n"
    "  else\n" /* written as submit writes them (write_results) */
    "    local f = assert(io.open(v.__results, 'wb'))\n"
    "    for _, r in ipairs(p.results) do write_result(f, r.id, r.value, r.ok) end\n"
    "    assert(f:close())\n"
    "  end\n"
    "  io.stderr:write(string.format('nyx batch: %s: %d logged now; %d of %d results failed; $%.6f at batch prices\\n',\n"
    "    p.batch_id, p.logged, failed, #p.results, dollars))\n"
    "  if failed > 0 and v.__sub == 'results' then\n"
    "    nyx.raise({ type = 'batch_failed', message = failed .. ' of ' .. #p.results .. ' requests failed' })\n"
    "  end\n"
    "  return\n"
    "end\n"
    /* The list comes a page (100) at a time: every page is read, after_id the last of the one
     * before, while the API says it has more. With --json the batches are one object's data,
     * each as the API wrote it (its nulls kept): the text of each page's data array, found by
     * a scan that skips strings (the page parsed as JSON first, so it is well formed). */
    "if v.__sub == 'list' then\n"
    "  local function data_text(body)\n"
    "    local depth, i, n, key, start = 0, 1, #body, nil, nil\n"
    "    while i <= n do\n"
    "      local c = body:byte(i)\n"
    "      if c == 34 then\n" /* a string: to its closing quote, past escapes */
    "        local j = i + 1\n"
    "        while j <= n and body:byte(j) ~= 34 do j = j + (body:byte(j) == 92 and 2 or 1) end\n"
    "        if depth == 1 then key = body:sub(i + 1, j - 1) end\n"
    "        i = j\n"
    "      elseif c == 123 or c == 91 then\n"
    "        depth = depth + 1\n"
    "        if c == 91 and depth == 2 and key == 'data' then start = i end\n"
    "      elseif c == 125 or c == 93 then\n"
    "        if start and depth == 2 then return body:sub(start + 1, i - 1) end\n"
    "        depth = depth - 1\n"
    "      end\n"
    "      i = i + 1\n"
    "    end\n"
    "    return ''\n"
    "  end\n"
    "  local all, texts, after = {}, {}, nil\n"
    "  repeat\n"
    "    local body = core.batch_api('GET', '?limit=100' .. (after and ('&after_id=' .. after) or ''))\n"
    "    local page = nyx.json_decode(body)\n"
    "    for _, b in ipairs(page.data or {}) do all[#all + 1] = b end\n"
    "    local t = data_text(body)\n"
    "    if t:find('%S') then texts[#texts + 1] = t end\n"
    "    after = page.has_more and #(page.data or {}) > 0 and page.last_id or nil\n"
    "  until not after\n"
    "  if v.__json == '1' then\n"
    "    io.stdout:write('{\"data\":[', table.concat(texts, ','), '],\"has_more\":false,\"first_id\":',\n"
    "      all[1] and nyx.json_encode(all[1].id) or 'null', ',\"last_id\":',\n"
    "      all[#all] and nyx.json_encode(all[#all].id) or 'null', '}\\n')\n"
    "    return\n"
    "  end\n"
    "  for _, b in ipairs(all) do\n"
    "    local c = b.request_counts or {}\n"
    "    io.stdout:write(string.format('%-28s %-12s processing %d, succeeded %d, errored %d, canceled %d, expired %d  %s\\n',\n"
    "      b.id, b.processing_status, c.processing or 0, c.succeeded or 0, c.errored or 0, c.canceled or 0,\n"
    "      c.expired or 0, b.created_at or ''))\n"
    "  end\n"
    "  if #all == 0 then io.stdout:write('(no batches)\\n') end\n"
    "  return\n"
    "end\n"
    "local body = core.batch_api(v.__method, v.__path)\n"
    "if v.__sub == 'results' then\n"
    "  local f = v.__out and assert(io.open(v.__out, 'wb')) or io.stdout\n"
    "  f:write(body)\n"
    "  if v.__out then assert(f:close()) end\n"
    "  return\n"
    "end\n"
    "if v.__json == '1' then io.stdout:write(body, '\\n') return end\n"
    "local o = nyx.json_decode(body)\n"
    "local function line(b)\n"
    "  local c = b.request_counts or {}\n"
    "  io.stdout:write(string.format('%-28s %-12s processing %d, succeeded %d, errored %d, canceled %d, expired %d  %s\\n',\n"
    "    b.id, b.processing_status, c.processing or 0, c.succeeded or 0, c.errored or 0, c.canceled or 0,\n"
    "    c.expired or 0, b.created_at or ''))\n"
    "end\n"
    "line(o)\n";

static int api_command(int argc, char **argv)
{
    const char *sub = argv[1], *id = NULL, *out_path = NULL, *db = NULL;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc && strcmp(sub, "results") == 0)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (argv[i][0] != '-' && !id && strcmp(sub, "list") != 0)
            id = argv[i];
        else {
            char who[32];
            snprintf(who, sizeof who, "nyx batch %s", sub);
            int valued = (strcmp(argv[i], "--out") == 0 && strcmp(sub, "results") == 0) ||
                         strcmp(argv[i], "--db") == 0;
            cli_bad_arg(who, argv[i], valued, i + 1 == argc);
            help(stderr);
            return 2;
        }
    }
    if (strcmp(sub, "list") != 0 && (!id || !id_ok(id))) {
        fprintf(stderr, "nyx batch %s: %s\n", sub, id ? "that is not a batch id" : "a batch ID is required");
        help(stderr);
        return 2;
    }
    char path[128];
    const char *method = strcmp(sub, "cancel") == 0 ? "POST" : "GET";
    if (strcmp(sub, "list") == 0)
        snprintf(path, sizeof path, "?limit=100");
    else
        snprintf(path, sizeof path, "/%s%s", id,
                 strcmp(sub, "results") == 0 ? "/results" : strcmp(sub, "cancel") == 0 ? "/cancel" : "");
    nyx_engine *e = cli_open(db);
    if (!e)
        return 1;
    /* The results of a batch this database holds come back through a file, as submit's do. */
    char results[] = "/tmp/nyx-batch-XXXXXX";
    int fd = strcmp(sub, "results") == 0 ? mkstemp(results) : -1;
    if (strcmp(sub, "results") == 0 && (fd < 0 || nyx_set(e, "var.__results", results) != NYX_OK)) {
        fprintf(stderr, "nyx batch results: cannot prepare the results file\n");
        if (fd >= 0) {
            close(fd);
            unlink(results);
        }
        nyx_close(e);
        return 1;
    }
    if (fd >= 0)
        close(fd);
    int rc = nyx_set(e, "var.__method", method);
    if (rc == NYX_OK)
        rc = nyx_set(e, "var.__path", path);
    if (rc == NYX_OK)
        rc = nyx_set(e, "var.__sub", sub);
    if (rc == NYX_OK)
        rc = nyx_set(e, "var.__json", json ? "1" : "0");
    if (rc == NYX_OK && out_path)
        rc = nyx_set(e, "var.__out", out_path);
    if (rc == NYX_OK && id)
        rc = nyx_set(e, "var.__id", id);
    if (rc == NYX_OK)
        rc = nyx_set(e, "var.__progress", isatty(STDERR_FILENO) ? "1" : "0");
    if (rc == NYX_OK) {
        rc = cli_drive(e, nyx_load_string(e, api_chunk, "=nyx batch"), NULL);
    }
    int status = 0;
    if (rc != NYX_OK) {
        char who[64];
        snprintf(who, sizeof who, "nyx batch %s", sub);
        cli_chunk_error(who, "nyx batch", nyx_errmsg(e));
        status = 1;
    }
    nyx_close(e);
    if (fd >= 0) {
        /* Empty unless the batch was picked up: the API's own results went out as they came. */
        FILE *in = fopen(results, "rb");
        long ok = 0, failed = 0;
        double cost = 0;
        if (in && fgetc(in) != EOF) {
            rewind(in);
            FILE *out = out_path ? fopen(out_path, "wb") : stdout;
            int bad = !out || write_results(in, out, &ok, &failed, &cost) != 0;
            if (out && out != stdout && fclose(out) != 0)
                bad = 1;
            if (bad) {
                fprintf(stderr, "nyx batch results: cannot write the results%s%s\n", out_path ? " to " : "",
                        out_path ? out_path : "");
                status = 1;
            }
        }
        if (in)
            fclose(in);
        unlink(results);
    }
    return status;
}

/* The chunk reads its requests from nyx.vars (ids and prompts given in order) and writes each
 * result to the file nyx.vars.__results: a header line of plain tokens, then the text. */
static const char chunk[] =
    "local nyx = require 'nyx'\n"
    WRITE_RESULT
    "local function list(v) if type(v) == 'table' then return v end return { v } end\n"
    "local v = nyx.vars\n"
    "local ids, prompts = list(v.__id), list(v.__prompt)\n"
    /* The rows' shared beginning (the template's fixed text, to its last whole line,
     * nyx.vars.__shared: shared_prefix) is one block marked for an hour that every request can
     * read, and __prompt the rest of each row, unmarked. Without one (a single row, or rows
     * that differ from the start) __prompt is the whole row and nothing is marked: a write
     * nobody reads is a premium paid for nothing. */
    "local shared = v.__shared\n"
    "local reqs = {}\n"
    "for i, id in ipairs(ids) do\n"
    "  local r = { id = id, model = v.__model, template = v.__template }\n"
    "  if shared then\n"
    "    r.messages = { { role = 'user', content = { { text = shared, cache = '1h' },\n"
    "                                                { text = prompts[i] } } } }\n"
    "  else\n"
    "    r.prompt, r.cache = prompts[i], false\n"
    "  end\n"
    "  reqs[i] = r\n"
    "end\n"
    /* The rendered rows live on in the requests: the Lua copies of them can go. */
    "prompts, v.__prompt, shared = nil, nil, nil\n"
    "collectgarbage()\n"
    "local b = nyx.batch{ requests = reqs, name = v.__template }\n"
    "local finished, dollars, t0 = false, 0, nyx.now()\n"
    "nyx.spawn(function()\n"
    "  while not finished and not b.id do if not pcall(nyx.sleep, 0.05) then return end end\n"
    "  if b.id then io.stderr:write('nyx batch: submitted ', table.concat(b.ids, ','),\n"
    "    '; should this process stop, nyx batch results ID picks it up\\n') end\n"
    "end)\n"
    "local function progress()\n"
    "  local s, n = b:status(), #reqs\n"
    "  local done = s.succeeded + s.errored + s.canceled + s.expired\n"
    "  local fill = math.floor(30 * done / n)\n"
    "  io.stderr:write(string.format('\\r[%s%s] %d/%d done, %d errored, $%.4f, %ds ', string.rep('#', fill),\n"
    "    string.rep('.', 30 - fill), done, n, s.errored + s.canceled + s.expired, dollars, math.floor(nyx.now() - t0)))\n"
    "end\n"
    "if v.__progress == '1' then\n"
    "  nyx.spawn(function() while not finished do progress() if not pcall(nyx.sleep, 0.5) then return end end end)\n"
    "end\n"
    "local f = assert(io.open(v.__results, 'wb'))\n"
    "for id, r, ok in b:results() do\n"
    "  dollars = dollars + ((ok and r.usage or {}).cost_usd or 0)\n"
    "  write_result(f, id, r, ok)\n"
    "end\n"
    "finished = true\n"
    "if v.__progress == '1' then progress() io.stderr:write('\\n') end\n"
    "assert(f:close())\n";

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

typedef struct row_id {
    const char *id;
    int line;
} row_id;

static int by_id_then_line(const void *a, const void *b)
{
    const row_id *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* The rows of the file at path (".csv" as CSV, anything else as JSON Lines). Returns 0, or -1
 * with why (naming the line and the field) written to err. */
static int read_rows(const char *path, cli_rows *out, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = cli_read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read %.200s", path);
        return -1;
    }
    size_t pl = strlen(path);
    int csv = pl > 4 && strcmp(path + pl - 4, ".csv") == 0;
    int rc = cli_rows_parse(text, len, csv, out, err, errlen);
    free(text);
    return rc;
}

/* Whether two rows share an id (the API refuses the batch, nyx.batch before that, naming
 * neither line): says so with both lines and returns 1. Sorted, so 100,000 rows cost
 * n log n, not n^2. Rows without a usable id are left to the loop that names them. */
static int duplicate_id(const cli_rows *rows, const char *use_id, const char *input)
{
    if (!use_id || rows->n < 2)
        return 0;
    row_id *ids = malloc(rows->n * sizeof *ids);
    if (!ids)
        return 0; /* nyx.batch still refuses it */
    size_t n = 0;
    for (size_t i = 0; i < rows->n; i++) {
        const char *id = cli_row_get(&rows->rows[i], use_id);
        if (id)
            ids[n++] = (row_id){id, rows->rows[i].line};
    }
    qsort(ids, n, sizeof *ids, by_id_then_line);
    int dup = 0;
    for (size_t i = 1; !dup && i < n; i++)
        if (strcmp(ids[i - 1].id, ids[i].id) == 0) {
            fprintf(stderr, "nyx batch submit: %s line %d: the id \"%.64s\" is not unique (line %d has it too)\n",
                    input, ids[i].line, ids[i].id, ids[i - 1].line);
            dup = 1;
        }
    free(ids);
    return dup;
}

/* A number as nyx writes it (nyx_json_number), as a raw node: cJSON's own print keeps 15 digits
 * that may read back as another number (tests/json_print.sh: the command line makes no number
 * node). */
static void add_number(cJSON *o, const char *key, double v)
{
    char t[32];
    if (nyx_json_number(v, t, sizeof t) > 0)
        cJSON_AddRawToObject(o, key, t);
    else
        cJSON_AddNullToObject(o, key);
}

/* Turns the chunk's result file (WRITE_RESULT) into JSON Lines on out; counts successes and
 * failures. */
static int write_results(FILE *in, FILE *out, long *ok, long *failed, double *cost)
{
    char id[80], ix[64], st[16], what[160], usd[40];
    long long in_tok, out_tok, cr, cw;
    size_t len;
    while (fscanf(in, "%79s %63s %15s %159s %lld %lld %lld %lld %39s %zu", id, ix, st, what, &in_tok, &out_tok, &cr,
                  &cw, usd, &len) == 10) {
        if (fgetc(in) != '\n')
            return -1;
        /* The cost's text is copied as the chunk wrote it; it must be a number ("-": none). */
        char *end = NULL;
        double c = strcmp(usd, "-") == 0 ? -1 : strtod(usd, &end);
        if (end && (*end || !(c >= 0 && c < 1e300)))
            return -1;
        char *text = malloc(len + 1);
        if (!text || fread(text, 1, len, in) != len || fgetc(in) != '\n') {
            free(text);
            return -1;
        }
        text[len] = '\0';
        int good = strcmp(st, "ok") == 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddBoolToObject(o, "ok", good);
        if (good) {
            cJSON_AddStringToObject(o, "text", text);
            cJSON_AddStringToObject(o, "model", what);
            cJSON *u = cJSON_AddObjectToObject(o, "usage");
            add_number(u, "input_tokens", (double)in_tok);
            add_number(u, "output_tokens", (double)out_tok);
            add_number(u, "cache_read_input_tokens", (double)cr);
            add_number(u, "cache_creation_input_tokens", (double)cw);
            if (c >= 0)
                cJSON_AddRawToObject(o, "cost_usd", usd);
        } else {
            cJSON_AddStringToObject(o, "error_type", what);
            cJSON_AddStringToObject(o, "error", text);
        }
        if (strcmp(ix, "-") != 0)
            cJSON_AddStringToObject(o, "interaction_id", ix);
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        free(text);
        if (!line)
            return -1;
        fprintf(out, "%s\n", line);
        cJSON_free(line);
        *(good ? ok : failed) += 1;
        if (c > 0)
            *cost += c;
    }
    return 0;
}

/* Row r of the template rendered with the command's variables and the row's (nyx_free it), or
 * NULL with the engine's error. */
static char *render_row(nyx_engine *e, const char *tpl, const char **vars, size_t nvars, const cli_row *r)
{
    const char **all = calloc(nvars + r->n + 1, sizeof *all);
    if (!all)
        return NULL;
    if (nvars) /* memcpy may not be given NULL, even for no bytes */
        memcpy(all, vars, nvars * sizeof *all);
    if (r->n)
        memcpy(all + nvars, r->vars, r->n * sizeof *all);
    char *prompt = NULL;
    if (nyx_template_render(e, tpl, all, &prompt, NULL) != NYX_OK)
        prompt = NULL;
    free(all);
    return prompt;
}

/* Where the rows' shared beginning ends: after the last newline within the common bytes of
 * every rendered row (first's, common of them), so the block ends at a whole line, and before
 * the end of the shortest row (shortest bytes), so no row is left an empty block, which the
 * API refuses (rows the same to their last newline all failed so); 0 when there is one row or
 * no such line. */
static size_t shared_cut(const char *first, size_t common, size_t shortest, size_t nrows)
{
    if (nrows < 2 || !first || shortest == 0)
        return 0;
    size_t cut = common < shortest ? common : shortest - 1;
    while (cut > 0 && first[cut - 1] != '\n')
        cut--;
    return cut;
}

/* Hands the chunk the rows' shared beginning (first's cut bytes) once, as nyx.vars.__shared,
 * rather than in every row: with each row's whole text kept by the engine's variables and
 * copied into nyx.vars, 10,000 rows of 27 KB held 760 MB before the first request was built.
 * 0, or 1 (said why). */
static int shared_prefix(nyx_engine *e, const char *first, size_t cut)
{
    if (cut == 0)
        return 0;
    char *shared = malloc(cut + 1);
    if (!shared) {
        fprintf(stderr, "nyx batch submit: out of memory\n");
        return 1;
    }
    memcpy(shared, first, cut);
    shared[cut] = '\0';
    int rc = nyx_set(e, "var.__shared", shared);
    free(shared);
    if (rc != NYX_OK) {
        fprintf(stderr, "nyx batch submit: %s\n", nyx_errmsg(e));
        return 1;
    }
    return 0;
}

static int submit(int argc, char **argv)
{
    const char *input = NULL, *id_field = NULL, *model = NULL, *out_path = NULL;
    /* --wait is taken and means nothing: submit always waits, the batch lives in this process */
    const cli_opt opts[] = {{"--input", NULL, &input, NULL}, {"--id-field", NULL, &id_field, NULL},
                            {"--model", NULL, &model, NULL}, {"--out", NULL, &out_path, NULL},
                            {"--wait", NULL, NULL, NULL},    {0}};
    cli_args a = {.command = "nyx batch submit", .var_command = "nyx batch", .var_utf8 = 1, .help = help, .opts = opts};
    int parsed = cli_parse_args(&a, argc, argv, 2);
    if (parsed >= 0)
        return parsed;
    const char *tpl = a.name, *db = a.db, **vars = a.vars;
    size_t nvars = (size_t)a.nvars;
    const char *bad = tpl ? cli_template_name_error(tpl, 1) : NULL;
    if (!tpl || !input || bad || !cli_plain_name(tpl) || (model && !cli_plain_name(model))) {
        if (tpl && !input)
            fprintf(stderr, "nyx batch submit: --input FILE is required\n");
        else if (bad)
            fprintf(stderr, "nyx batch submit: \"%.80s\": %s\n", tpl, bad);
        else if (tpl)
            fprintf(stderr, "nyx batch submit: \"%.80s\" is not a template or model name\n", !cli_plain_name(tpl) ? tpl : model);
        help(stderr);
        free(vars);
        return 2;
    }
    cli_rows rows;
    char why[300];
    if (read_rows(input, &rows, why, sizeof why) != 0) {
        fprintf(stderr, "nyx batch submit: %s: %s\n", input, why);
        free(vars);
        return 1;
    }
    if (rows.n == 0) {
        fprintf(stderr, "nyx batch submit: %s holds no rows\n", input);
        free(vars);
        return 1;
    }
    const char *use_id = id_field ? id_field : cli_row_get(&rows.rows[0], "id") ? "id" : NULL;
    if (duplicate_id(&rows, use_id, input)) {
        cli_rows_free(&rows);
        free(vars);
        return 1;
    }
    nyx_engine *e = cli_open(db);
    if (!e) {
        cli_rows_free(&rows);
        free(vars);
        return 1;
    }
    int status = 0;
    char results[] = "/tmp/nyx-batch-XXXXXX";
    int fd = -1;
    /* Every row rendered, and its id checked, before anything is sent; then rendered again,
     * each row handed over without the beginning all rows share (shared_prefix). */
    nyx_set_log(e, row_notice, (void *)use_id);
    char *first = NULL;
    size_t common = 0, shortest = 0, cut = 0;
    for (int pass = 0; status == 0 && pass < 2; pass++) {
        if (pass == 1) {
            nyx_set_log(e, NULL, NULL); /* its notices were given once */
            cut = shared_cut(first, common, shortest, rows.n);
            status = shared_prefix(e, first, cut);
        }
        for (size_t i = 0; status == 0 && i < rows.n; i++) {
            cli_row *r = &rows.rows[i];
            char fallback[32];
            snprintf(fallback, sizeof fallback, "row%zu", i + 1);
            const char *id = use_id ? cli_row_get(r, use_id) : fallback;
            if (!id || !id_ok(id)) {
                fprintf(stderr, "nyx batch submit: %s line %d: the id field \"%s\" %s\n", input, r->line,
                        use_id ? use_id : "", id ? "must be 1 to 64 letters, digits, '_' or '-'" : "is missing");
                status = 1;
                break;
            }
            char *prompt = render_row(e, tpl, vars, nvars, r);
            if (!prompt) {
                fprintf(stderr, "nyx batch submit: %s line %d (id %s): %s\n", input, r->line, id, nyx_errmsg(e));
                status = 1;
            } else if (pass == 0 && i == 0) {
                common = shortest = strlen(prompt);
                first = prompt;
                prompt = NULL;
            } else if (pass == 0) {
                size_t k = 0, len = strlen(prompt);
                while (k < common && prompt[k] == first[k])
                    k++;
                common = k;
                shortest = len < shortest ? len : shortest;
            } else if (strlen(prompt) < cut || memcmp(prompt, first, cut) != 0) {
                /* Rendered again, the row no longer begins with what the first pass found
                 * shared (its template changed on disk between the passes): cutting it there
                 * would send another text, or read past its end. */
                fprintf(stderr, "nyx batch submit: %s line %d (id %s): the template changed while the rows "
                        "were rendered; nothing was sent, submit again\n", input, r->line, id);
                status = 1;
            } else if (nyx_set(e, "var.__id", id) != NYX_OK ||
                       nyx_set(e, "var.__prompt", prompt + cut) != NYX_OK) {
                fprintf(stderr, "nyx batch submit: %s\n", nyx_errmsg(e));
                status = 1;
            }
            nyx_free(prompt);
        }
    }
    nyx_free(first);
    nyx_set_log(e, cli_notice, NULL);
    cli_rows_free(&rows);
    free(vars);
    if (status == 0 && ((fd = mkstemp(results)) < 0 || nyx_set(e, "var.__results", results) != NYX_OK ||
                        nyx_set(e, "var.__template", tpl) != NYX_OK ||
                        nyx_set(e, "var.__progress", isatty(STDERR_FILENO) ? "1" : "0") != NYX_OK ||
                        (model && nyx_set(e, "var.__model", model) != NYX_OK))) {
        fprintf(stderr, "nyx batch submit: cannot prepare the results file\n");
        status = 1;
    }
    if (status != 0) {
        if (fd >= 0) {
            close(fd);
            unlink(results);
        }
        nyx_close(e);
        return status;
    }
    close(fd);
    cli_catch_signals(e);
    int rc = cli_drive(e, nyx_load_string(e, chunk, "=nyx batch"), NULL);
    if (cli_interrupted) {
        /* A batch the API accepted goes on: the engine has said which and how to pick it up
         * (batch.h); requests not yet sent were cancelled and logged. */
        fprintf(stderr, "nyx batch: interrupted\n");
        status = 128 + cli_interrupted;
    } else if (rc != NYX_OK) {
        cli_chunk_error("nyx batch", "nyx batch", nyx_errmsg(e));
        status = 1;
    }
    cli_close(e);
    FILE *in = fopen(results, "rb");
    FILE *out = out_path ? fopen(out_path, "wb") : stdout;
    long ok = 0, failed = 0;
    double cost = 0;
    if (!in || !out || write_results(in, out, &ok, &failed, &cost) != 0) {
        fprintf(stderr, "nyx batch submit: cannot write the results%s%s\n", out_path ? " to " : "",
                out_path ? out_path : "");
        status = status ? status : 1;
    } else if (!cli_interrupted && (rc == NYX_OK || ok + failed > 0)) {
        /* A summary of the results there are: none when nyx.batch refused the batch before
         * it ran (its error, said above, is the whole story). */
        fprintf(stderr, "nyx batch: %ld succeeded, %ld failed; $%.6f at batch prices\n", ok, failed, cost);
        if (failed > 0 && status == 0)
            status = 1;
    }
    if (in)
        fclose(in);
    if (out && out != stdout && fclose(out) != 0)
        status = status ? status : 1;
    unlink(results);
    return status;
}

int cli_batch(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        help(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "submit") == 0)
        return submit(argc, argv);
    if (argc >= 2 && (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "status") == 0 ||
                      strcmp(argv[1], "results") == 0 || strcmp(argv[1], "cancel") == 0))
        return api_command(argc, argv);
    fprintf(stderr, "nyx batch: %s\n",
            argc < 2 ? "a subcommand is required" : "unknown subcommand (submit, list, status, results, cancel)");
    help(stderr);
    return 2;
}
