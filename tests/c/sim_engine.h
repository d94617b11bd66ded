/* An engine for a host test: the in-process simulator answering after ttft_ms, the database in
 * memory. Prints why and returns NULL when nyx_open fails. */
#ifndef NYX_TEST_SIM_ENGINE_H
#define NYX_TEST_SIM_ENGINE_H

#include "nyx.h"

#include <stdio.h>
#include <stdlib.h>

static inline nyx_engine *open_sim_engine(const char *ttft_ms)
{
    setenv("NYX_PROVIDER", "sim", 1);
    setenv("NYX_SIM_TTFT_MS", ttft_ms, 1);
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e) {
        fprintf(stderr, "nyx_open: %s\n", msg ? msg : "failed");
        free(msg);
        return NULL;
    }
    if (nyx_set(e, "db", ":memory:") != NYX_OK) {
        fprintf(stderr, "nyx_set db: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return NULL;
    }
    return e;
}

/* Runs what e was given until it is all done, each turn blocking up to 10 ms; says why when it
 * fails. NYX_OK, or nyx_poll's failing code. */
static inline int run_to_done(nyx_engine *e)
{
    int rc;
    while ((rc = nyx_poll(e, 10)) == NYX_AGAIN)
        ;
    if (rc != NYX_OK)
        fprintf(stderr, "nyx_poll: %d %s\n", rc, nyx_errmsg(e));
    return rc;
}

#endif
