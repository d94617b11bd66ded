/* nyx_close called from inside a function the engine runs (the log function while the engine
 * starts, the output function under a script's print, a tool's function, a query's row
 * function): the engine is in the middle of something there, below the host's function on the
 * stack, so it is refused with NYX_EINVAL saying so, and nothing is freed; the work around it
 * goes on, and the host closes the engine once that call returned. It freed the engine under
 * its own caller, which then read and wrote freed memory (valgrind and ASan: invalid reads in
 * log_v, progress_print, host_tools_run, query's row callback). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

typedef struct host {
    nyx_engine *e;
    int log_rc, output_rc, tool_rc, row_rc, answer_rc; /* -1: not called */
    char log_msg[400];
} host;

static void on_log(void *ud, int level, const char *msg)
{
    host *h = ud;
    (void)level, (void)msg;
    if (h->log_rc == -1) {
        h->log_rc = nyx_close(h->e);
        snprintf(h->log_msg, sizeof h->log_msg, "%s", nyx_errmsg(h->e));
    }
}

static void on_output(void *ud, const char *text, size_t len)
{
    host *h = ud;
    (void)text, (void)len;
    if (h->output_rc == -1)
        h->output_rc = nyx_close(h->e);
}

static void look(void *ud, nyx_engine *e, long long call, const char *input)
{
    host *h = ud;
    (void)input;
    h->tool_rc = nyx_close(e);
    /* Refused, the engine is still there: the tool answers as if close had not been asked. */
    h->answer_rc = nyx_tool_result(e, call, "a tree", 0);
}

static int on_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    host *h = ud;
    (void)ncols, (void)names, (void)values;
    if (h->row_rc == -1)
        h->row_rc = nyx_close(h->e);
    return 0;
}

int main(void)
{
    CHECK_INT(nyx_close(NULL), NYX_OK);
    host h = {.log_rc = -1, .output_rc = -1, .tool_rc = -1, .row_rc = -1, .answer_rc = -1};
    nyx_engine *e = h.e = open_sim_engine("1");
    REQUIRE_OR(e != NULL, 1);
    nyx_set_log(e, on_log, &h); /* the engine's start says which provider it uses */
    nyx_set_output(e, on_output, &h);
    CHECK_INT(nyx_tool_register(e, "look", NULL, look, &h), NYX_OK);
    CHECK_INT(nyx_load_string(e,
                              "local nyx = require 'nyx'\n"
                              "print('start')\n"
                              "local r = nyx.call{prompt = 'Look around', tools = {'look'}}\n"
                              "assert(r.iterations == 2, 'iterations ' .. tostring(r.iterations))\n"
                              "print('done')\n",
                              "=close_inside"),
              NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    CHECK_INT(h.log_rc, NYX_EINVAL);
    CHECK_CONTAINS(h.log_msg, "nyx_close: called from inside a function the engine runs");
    CHECK_INT(h.output_rc, NYX_EINVAL);
    CHECK_INT(h.tool_rc, NYX_EINVAL);
    CHECK_INT(h.answer_rc, NYX_OK);
    CHECK_INT(nyx_query(e, "config", NULL, on_row, &h), NYX_OK);
    CHECK_INT(h.row_rc, NYX_EINVAL);
    /* The engine went on: it still answers, and closes from the host's own code. */
    CHECK_STR(nyx_provider(e), "sim");
    CHECK_INT(nyx_poll(e, 0), NYX_OK);
    CHECK_INT(nyx_close(e), NYX_OK);
    CHECK_DONE();
}
