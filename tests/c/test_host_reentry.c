/* nyx_poll, nyx_run and nyx_close called from inside a function the engine runs (the log
 * function while the engine starts, the output function under a script's print, a tool's
 * function, a query's row function): the engine is in the middle of something there, below the
 * host's function on the stack, so they return NYX_EINVAL saying so, nothing is freed, and the
 * work around them goes on as if they had not been called. nyx_close there freed the engine
 * under its own caller, which then read and wrote freed memory (valgrind and ASan: invalid
 * reads in log_v, progress_print, host_tools_run, query's row callback). Turned there,
 * the loop started the engine twice (its first network setup leaked), ran the tool loop under
 * itself and made the host's own loop end with NYX_EDEADLOCK. nyx_provider and nyx_load_string
 * from the log function while the engine starts do not start it a second time (that leaked
 * the first start's network setup): "none" and NYX_EINVAL. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

typedef struct host {
    nyx_engine *e;
    int log_rc, output_rc, tool_rc, row_rc, run_rc, load_rc; /* -1: not called */
    int close_rc[4];                                          /* log, output, tool, row */
    char log_msg[400], load_msg[400], close_msg[400], provider[16];
} host;

static void on_log(void *ud, int level, const char *msg)
{
    host *h = ud;
    (void)level, (void)msg;
    if (h->log_rc == -1) {
        h->log_rc = nyx_poll(h->e, 0);
        snprintf(h->log_msg, sizeof h->log_msg, "%s", nyx_errmsg(h->e));
        h->run_rc = nyx_run(h->e);
        /* Asked while the engine starts (this is its notice of the provider): not started again. */
        snprintf(h->provider, sizeof h->provider, "%s", nyx_provider(h->e));
        h->load_rc = nyx_load_string(h->e, "return 1", "=inner");
        snprintf(h->load_msg, sizeof h->load_msg, "%s", nyx_errmsg(h->e));
        h->close_rc[0] = nyx_close(h->e);
        snprintf(h->close_msg, sizeof h->close_msg, "%s", nyx_errmsg(h->e));
    }
}

static void on_output(void *ud, const char *text, size_t len)
{
    host *h = ud;
    (void)text, (void)len;
    if (h->output_rc == -1) {
        h->output_rc = nyx_poll(h->e, 0);
        h->close_rc[1] = nyx_close(h->e);
    }
}

static void look(void *ud, nyx_engine *e, long long call, const char *input)
{
    host *h = ud;
    (void)input;
    h->tool_rc = nyx_poll(e, 0);
    h->close_rc[2] = nyx_close(e);
    /* Refused, the engine is still there: the tool answers as if neither had been asked. */
    CHECK_INT(nyx_tool_result(e, call, "a tree", 0), NYX_OK);
}

static int on_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    host *h = ud;
    (void)ncols, (void)names, (void)values;
    if (h->row_rc == -1) {
        h->row_rc = nyx_poll(h->e, 0);
        h->close_rc[3] = nyx_close(h->e);
    }
    return 0;
}

int main(void)
{
    host h = {.log_rc = -1, .output_rc = -1, .tool_rc = -1, .row_rc = -1, .run_rc = -1, .load_rc = -1,
             .close_rc = {-1, -1, -1, -1}};
    nyx_engine *e = h.e = open_sim_engine("1");
    REQUIRE_OR(e != NULL, 1);
    nyx_set_log(e, on_log, &h); /* the engine's start says which provider it uses */
    nyx_set_output(e, on_output, &h);
    CHECK_INT(nyx_tool_register(e, "look", NULL, look, &h), NYX_OK);
    CHECK_INT(nyx_load_string(e,
                              "local nyx = require 'nyx'\n"
                              "print('start')\n"
                              "local r = nyx.call{prompt = 'Look around', tools = {'look'}}\n"
                              "assert(r.iterations == 2, 'iterations ' .. tostring(r.iterations))\n",
                              "=reentry"),
              NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    CHECK_INT(h.log_rc, NYX_EINVAL);
    CHECK_CONTAINS(h.log_msg, "nyx_poll: called from inside a function the engine runs");
    CHECK_INT(h.run_rc, NYX_EINVAL);
    CHECK_STR(h.provider, "none");
    CHECK_INT(h.load_rc, NYX_EINVAL);
    CHECK_CONTAINS(h.load_msg, "the engine is starting: called from a function it runs while it starts");
    CHECK_STR(nyx_provider(e), "sim"); /* once started, as before */
    CHECK_INT(h.output_rc, NYX_EINVAL);
    CHECK_INT(h.tool_rc, NYX_EINVAL);
    CHECK_INT(nyx_query(e, "config", NULL, on_row, &h), NYX_OK);
    CHECK_INT(h.row_rc, NYX_EINVAL);
    for (int i = 0; i < 4; i++) {
        CHECK_ROW("close_rc[%d]", i);
        CHECK_INT(h.close_rc[i], NYX_EINVAL);
    }
    CHECK_ROW_END();
    CHECK_CONTAINS(h.close_msg, "nyx_close: called from inside a function the engine runs");
    /* Outside them, the host polls and closes as before. */
    CHECK_INT(nyx_poll(e, 0), NYX_OK);
    CHECK_INT(nyx_close(e), NYX_OK);
    CHECK_INT(nyx_close(NULL), NYX_OK);
    CHECK_DONE();
}
