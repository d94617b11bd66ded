/* Tools implemented by the host (nyx_tool_register, nyx_tool_result): a script names them in
 * its tool list, the host's functions run inside nyx_poll and answer in the same frame, two
 * frames later, or with an error the model reads as one; bad registrations are refused with
 * a message naming the field; a call whose script was stopped is forgotten. All of it runs
 * twice: on the in-process simulator, and over HTTP against a simulator server reached as the
 * anthropic provider, whose request log shows the tool results as they crossed the socket. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "nyx.h"
#include "sim_engine.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

typedef struct host {
    nyx_engine *e;
    long frame;          /* the host's frame counter: one nyx_poll each */
    long long move_call; /* a call answered two frames after it came */
    long move_frame;
    long answered_frame;
    char progress[256]; /* nyx_progress's text while the walk was under way */
    char move_input[256];
    int look_rc, look_again_rc;
    long long hold_call; /* a call never answered */
    int in_poll;         /* 1 while nyx_poll runs: the functions must run inside it */
    int outside_poll;
} host;

static void move(void *ud, nyx_engine *e, long long call, const char *input)
{
    host *h = ud;
    CHECK(e == h->e);
    h->outside_poll += !h->in_poll;
    h->move_call = call;
    h->move_frame = h->frame;
    snprintf(h->move_input, sizeof h->move_input, "%s", input);
}

static void look(void *ud, nyx_engine *e, long long call, const char *input)
{
    host *h = ud;
    (void)input;
    h->outside_poll += !h->in_poll;
    h->look_rc = nyx_tool_result(e, call, "a tree to the north, a river to the east", 0);
    h->look_again_rc = nyx_tool_result(e, call, "twice", 0);
}

static void fail(void *ud, nyx_engine *e, long long call, const char *input)
{
    host *h = ud;
    (void)input;
    h->outside_poll += !h->in_poll;
    nyx_tool_result(e, call, "the door is locked", 1);
}

/* A sign written in Latin-1, as a file read from disk may be: the model is told, not sent it. */
static void sign(void *ud, nyx_engine *e, long long call, const char *input)
{
    (void)ud;
    (void)input;
    nyx_tool_result(e, call, "Caf\xe9 ouvert", 0);
}

static void hold(void *ud, nyx_engine *e, long long call, const char *input)
{
    (void)e;
    (void)input;
    ((host *)ud)->hold_call = call;
}

static const char *script =
    "local nyx = require 'nyx'\n"
    "local r = nyx.call{prompt = 'Walk to the river', tools = {'move', 'look', 'fail'}, max_tokens = 200}\n"
    "assert(r.iterations == 2, 'iterations ' .. tostring(r.iterations))\n"
    "assert(r.stop_reason == 'end_turn', r.stop_reason)\n"
    "local asked = r.messages[2].content\n"
    "assert(#asked == 3 and asked[1].name == 'move' and asked[3].name == 'fail', 'the model asked for the three')\n"
    "local results = {}\n"
    "for _, b in ipairs(r.messages[3].content) do results[b.tool_use_id] = b end\n"
    "local moved, looked, failed = results[asked[1].id], results[asked[2].id], results[asked[3].id]\n"
    "assert(moved.content == 'arrived at 3,4' and not moved.is_error, 'move: ' .. tostring(moved.content))\n"
    "assert(looked.content:find('a river') and not looked.is_error, 'look: ' .. tostring(looked.content))\n"
    "assert(failed.content == 'the door is locked' and failed.is_error == true, 'fail: ' .. tostring(failed.content))\n"
    /* A template's tools: may name the host's tools too. */
    "nyx.templates.create('scout', '---\\ntools: [look]\\n---\\nLook around, {{who}}')\n"
    "local t = nyx.call{prompt = nyx.templates.render('scout', {who = 'guard'}), template = 'scout'}\n"
    "assert(t.iterations == 2 and t.messages[3].content[1].content:find('a river'), 'the template ran look')\n"
    "local s = nyx.call{prompt = 'Read the sign', tools = {'sign'}, max_tokens = 200}\n"
    "local read = s.messages[3].content[1]\n"
    "assert(s.iterations == 2 and read.is_error and read.content:find('tool sign returned text that is not valid UTF-8 "
    "(its byte 4 is 0xE9)', 1, true), 'sign: ' .. tostring(read.content))\n"
    "local ok, e = pcall(nyx.call, {prompt = 'x', tools = {'nowhere'}})\n"
    "assert(not ok and e.type == 'invalid_argument' and e.message:find('registered by the host'), tostring(e))\n";

/* The request of the first call, as stored: the tools as the API got them. */
static int first_id(void *ud, int ncols, const char *const *names, const char *const *values)
{
    for (int i = 0; i < ncols; i++)
        if (strcmp(names[i], "id") == 0 && values[i] && !*(char *)ud)
            snprintf(ud, 64, "%s", values[i]);
    return 0;
}

static int request_of(void *ud, int ncols, const char *const *names, const char *const *values)
{
    for (int i = 0; i < ncols; i++)
        if (strcmp(names[i], "request") == 0 && values[i])
            snprintf(ud, 4096, "%s", values[i]);
    return 0;
}

static int count_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ncols, (void)names, (void)values;
    ++*(int *)ud;
    return 0;
}

/* How many interactions the engine has logged: every request it sent is one. */
static int logged_calls(nyx_engine *e)
{
    int n = 0;
    const char *all[] = {"last=1000", NULL};
    CHECK_INT(nyx_query(e, "log", all, count_row, &n), NYX_OK);
    return n;
}

static int run_frames(host *h, long max)
{
    int rc = NYX_AGAIN;
    while (rc == NYX_AGAIN && h->frame < max) {
        h->in_poll = 1;
        rc = nyx_poll(h->e, 5);
        h->in_poll = 0;
        h->frame++;
        /* The game's walk takes two frames after the order came. */
        if (h->move_call && !h->answered_frame && !h->progress[0]) {
            nyx_progress_info p;
            CHECK_INT(nyx_progress(h->e, &p), NYX_OK);
            snprintf(h->progress, sizeof h->progress, "%s", p.text);
        }
        if (h->move_call && !h->answered_frame && h->frame >= h->move_frame + 2) {
            CHECK_INT(nyx_tool_result(h->e, h->move_call, "arrived at 3,4", 0), NYX_OK);
            h->answered_frame = h->frame;
        }
    }
    return rc;
}

static void bad_registrations(nyx_engine *e)
{
    CHECK_INT(nyx_tool_register(NULL, "x", NULL, move, NULL), NYX_EINVAL);
    CHECK_INT(nyx_tool_register(e, NULL, NULL, move, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "name is NULL");
    CHECK_INT(nyx_tool_register(e, "walk to", NULL, move, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "name must match");
    CHECK_INT(nyx_tool_register(e, "walk", "{\"type\": \"object\",", move, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "schema_json of tool walk is not valid JSON");
    /* Text after the object (a stray brace, a second object) is not taken as the first alone. */
    CHECK_INT(nyx_tool_register(e, "walk", "{\"type\": \"object\"}}", move, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e),
                   "schema_json of tool walk is not valid JSON: more text after the value at line 1, "
                   "column 19");
    CHECK_INT(nyx_tool_register(e, "walk", "{\"type\": \"object\"} {\"type\": \"string\"}", move, NULL),
              NYX_EINVAL);
    CHECK_INT(nyx_tool_register(e, "walk", "{\"type\": \"string\"}", move, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "schema_json of tool walk must be a JSON Schema object");
    CHECK_INT(nyx_tool_register(e, "walk", "{\"type\": \"object\", \"description\": 7}", move, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "description");
    CHECK_INT(nyx_tool_register(e, "walk", "{\"type\": \"object\", \"description\": \"Walk to the caf\xe9\"}", move,
                                NULL),
              NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "schema_json of tool walk is not valid UTF-8 (its byte 51 is 0xE9)");
    CHECK_INT(nyx_tool_register(e, "walk", NULL, NULL, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "fn of tool walk is NULL");
    CHECK_INT(nyx_tool_register(e, "move", NULL, move, NULL), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "name: a tool named move is already registered");
    CHECK_INT(nyx_tool_result(e, 999, "x", 0), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "call 999 waits for no result");
    CHECK_INT(nyx_tool_result(NULL, 1, "x", 0), NYX_EINVAL);
}

static size_t gather(char *data, size_t size, size_t n, void *ud)
{
    char **text = ud;
    size_t have = *text ? strlen(*text) : 0, add = size * n;
    char *more = realloc(*text, have + add + 1);
    if (!more)
        return 0;
    memcpy(more + have, data, add);
    more[have + add] = '\0';
    *text = more;
    return add;
}

/* One request to the simulator's control endpoints: the answer's body (malloc'd), or NULL. */
static char *sim_http(const char *url, const char *post)
{
    char *text = NULL;
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    struct curl_slist *hs = curl_slist_append(NULL, "content-type: application/json");
    CURLcode rc = curl_easy_setopt(c, CURLOPT_URL, url);
    if (rc == CURLE_OK && post)
        rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gather);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, &text);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        free(text);
        return NULL;
    }
    return text;
}

static void run_world(nyx_engine *e)
{
    host h = {.e = e};
    CHECK_INT(nyx_tool_register(e, "move",
                                "{\"type\": \"object\", \"description\": \"Walk the character to a square\","
                                " \"properties\": {\"x\": {\"type\": \"integer\"}, \"y\": {\"type\": \"integer\"}},"
                                " \"required\": [\"x\", \"y\"]}",
                                move, &h),
              NYX_OK);
    CHECK_INT(nyx_tool_register(e, "look", NULL, look, &h), NYX_OK);
    CHECK_INT(nyx_tool_register(e, "fail", "{\"type\": \"object\", \"properties\": {}}", fail, &h), NYX_OK);
    CHECK_INT(nyx_tool_register(e, "hold", NULL, hold, &h), NYX_OK);
    CHECK_INT(nyx_tool_register(e, "sign", NULL, sign, &h), NYX_OK);
    bad_registrations(e);

    CHECK_INT(nyx_load_string(e, script, "=npc"), NYX_OK);
    int rc = run_frames(&h, 100000);
    if (rc != NYX_OK)
        fprintf(stderr, "nyx_poll: %d %s\n", rc, nyx_errmsg(e));
    CHECK_INT(rc, NYX_OK);
    CHECK(h.move_call > 0);
    CHECK_INT(h.answered_frame, h.move_frame + 2);
    CHECK_CONTAINS(h.move_input, "\"x\":1"); /* the simulator's input for the schema */
    CHECK_INT(h.look_rc, NYX_OK);
    CHECK_INT(h.look_again_rc, NYX_EINVAL); /* answered already */
    CHECK_INT(h.outside_poll, 0);
    CHECK_STR(h.progress, "iteration 1 of 10"); /* a host's own status shows the loop too */
    /* The schema's description is the tool's, and out of its input_schema. */
    char id[64] = "", request[4096] = "", opt[80];
    const char *first[] = {"last=100", NULL};
    CHECK_INT(nyx_query(e, "log", first, first_id, id), NYX_OK);
    snprintf(opt, sizeof opt, "id=%s", id);
    const char *one[] = {opt, NULL};
    CHECK_INT(nyx_query(e, "exchange", one, request_of, request), NYX_OK);
    CHECK_CONTAINS(request, "\"name\":\"move\",\"description\":\"Walk the character to a square\","
                            "\"input_schema\":{\"type\":\"object\",\"properties\":{\"x\"");

    /* A call nobody answers keeps nyx_poll busy (not a deadlock); stopping the script forgets it. */
    CHECK_INT(nyx_load_string(e, "local nyx = require 'nyx'\n"
                                 "nyx.call{prompt = 'Wait here', tools = {'hold'}}\n", "=hold"),
              NYX_OK);
    CHECK_INT(run_frames(&h, h.frame + 200), NYX_AGAIN);
    CHECK(h.hold_call > 0);
    int sent_before_stop = logged_calls(e);
    nyx_stop_scripts(e);
    rc = run_frames(&h, h.frame + 1000);
    CHECK(rc == NYX_OK || rc == NYX_ESCRIPT); /* the script ends with "cancelled" */
    /* The stopped loop sends nothing more: no request telling the model of the cancel. */
    CHECK_INT(logged_calls(e), sent_before_stop);
    CHECK_INT(nyx_tool_result(e, h.hold_call, "too late", 0), NYX_EINVAL);
    nyx_close(e);
}

int main(void)
{
    nyx_engine *e = open_sim_engine("1");
    REQUIRE_OR(e != NULL, 1);
    run_world(e);

    /* Over HTTP: the engine takes the anthropic provider's path (curl, the API's JSON) to a
     * simulator server on a loopback port, as it would with `nyx sim`. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const char *options[] = {"ttft_ms=1", NULL};
    char *msg = NULL;
    nyx_sim *sim = nyx_sim_start(0, options, &msg);
    CHECK(sim != NULL);
    if (!sim) {
        fprintf(stderr, "nyx_sim_start: %s\n", msg ? msg : "failed");
        nyx_free(msg);
        return 1;
    }
    char url[128], base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", nyx_sim_port(sim));
    snprintf(url, sizeof url, "%s/sim/config", base);
    char *config = sim_http(url, "{\"keep_bodies\":100}");
    CHECK_CONTAINS(config ? config : "", "\"keep_bodies\":100");
    free(config);
    setenv("NYX_PROVIDER", "anthropic", 1);
    setenv("ANTHROPIC_BASE_URL", base, 1);
    unsetenv("ANTHROPIC_API_KEY");
    unsetenv("CLAUDE_API_KEY");
    e = open_engine_in_memory();
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(nyx_provider(e), "anthropic");
        run_world(e);
    }
    /* What reached the server: the host's results in one user turn, the failure marked as one. */
    snprintf(url, sizeof url, "%s/sim/requests", base);
    char *log = sim_http(url, NULL);
    CHECK_CONTAINS(log ? log : "", "arrived at 3,4");
    CHECK_CONTAINS(log ? log : "", "a tree to the north, a river to the east");
    CHECK_CONTAINS(log ? log : "", "the door is locked\\\",\\\"is_error\\\":true");
    free(log);
    nyx_sim_stop(sim);
    curl_global_cleanup();
    return check_failures;
}
