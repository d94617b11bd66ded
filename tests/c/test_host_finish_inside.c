/* nyx_finish_records called from inside a function the engine runs (here the output function,
 * under a script's print) writes the records and waits for the database's answers without
 * turning the engine's loop: no timer fires, no task resumes and no host function runs under
 * it, on SQLite (whose writes answer at once) as on PostgreSQL (whose answers come over a
 * socket). On PostgreSQL it turned the loop while writes were in flight, so a task sleeping
 * meanwhile woke and printed inside the host's output function, under a print still running.
 *
 * The database is argv[1] (tests/pg/host_finish.sh gives a PostgreSQL one), else one in
 * memory. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

typedef struct host {
    nyx_engine *e;
    int inside;      /* nyx_finish_records is running */
    int nested;      /* output that came while it ran: Lua ran under it */
    int finishes;    /* how many times it was called */
    long long lost;  /* what it returned */
    int woke;        /* the sleeping task's line, at any time */
} host;

static void on_output(void *ud, const char *text, size_t len)
{
    host *h = ud;
    if (len >= 4 && strncmp(text, "woke", 4) == 0)
        h->woke++;
    if (h->inside) {
        h->nested++;
        return;
    }
    if (len >= 6 && strncmp(text, "finish", 6) == 0) {
        h->inside = 1;
        h->lost = nyx_finish_records(h->e);
        h->finishes++;
        h->inside = 0;
    }
}

static int count_rows(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ncols, (void)names, (void)values;
    (*(int *)ud)++;
    return 0;
}

int main(int argc, char **argv)
{
    host h = {0};
    nyx_engine *e = h.e = open_sim_engine("1");
    REQUIRE_OR(e != NULL, 1);
    if (argc > 1)
        REQUIRE_OR(nyx_set(e, "db", argv[1]) == NYX_OK, 1);
    nyx_set_output(e, on_output, &h);
    /* A task whose timer is due at once, and thought nodes whose writes are on their way (each
     * task waits for its node's id) when the main chunk prints "finish". */
    CHECK_INT(nyx_load_string(e,
                              "local nyx = require 'nyx'\n"
                              "nyx.spawn(function() nyx.sleep(0) print('woke') end)\n"
                              "for i = 1, 40 do\n"
                              "  nyx.spawn(function() nyx.thought{label = 'node' .. i, session = 'finish'} end)\n"
                              "end\n"
                              "print('finish')\n",
                              "=finish_inside"),
              NYX_OK);
    CHECK_INT(h.finishes, 1);
    CHECK_INT(h.nested, 0);
    CHECK_INT(h.woke, 0);
    CHECK_INT(h.lost, 0);
    CHECK_INT(run_to_done(e), NYX_OK);
    CHECK_INT(h.woke, 1); /* the loop, once the host turns it, goes on as before */
    int nodes = 0;
    const char *opts[] = {"session=finish", NULL};
    CHECK_INT(nyx_query(e, "thoughts", opts, count_rows, &nodes), NYX_OK);
    CHECK_INT(nodes, 40);
    CHECK_INT(nyx_close(e), NYX_OK);
    CHECK_DONE();
}
