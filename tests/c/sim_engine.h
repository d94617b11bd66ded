/* Engines for the tests: the in-process simulator answering after ttft_ms with the database in
 * memory (open_sim_engine), or a test's own server (open_anthropic_at), and ways to run them.
 * Each prints why and returns NULL when the engine cannot open. */
#ifndef NYX_TEST_SIM_ENGINE_H
#define NYX_TEST_SIM_ENGINE_H

#include "check.h"
#include "nyx.h"

#include <stdio.h>
#include <stdlib.h>

/* nyx_open with the settings the environment holds; prints why and returns NULL when it fails. */
static inline nyx_engine *open_engine(void)
{
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e) {
        fprintf(stderr, "nyx_open: %s\n", msg ? msg : "failed");
        nyx_free(msg);
    }
    return e;
}

/* open_engine with the database in memory. */
static inline nyx_engine *open_engine_in_memory(void)
{
    nyx_engine *e = open_engine();
    if (e && nyx_set(e, "db", ":memory:") != NYX_OK) {
        fprintf(stderr, "nyx_set db: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return NULL;
    }
    return e;
}

/* The simulator answering after ttft_ms, the database in memory. */
static inline nyx_engine *open_sim_engine(const char *ttft_ms)
{
    setenv("NYX_PROVIDER", "sim", 1);
    setenv("NYX_SIM_TTFT_MS", ttft_ms, 1);
    return open_engine_in_memory();
}

/* open_sim_engine(ttft_ms) with script (its chunk name name) loaded; NULL when either fails,
 * the failure counted at the caller's line (SIM_ENGINE_WITH). */
static inline nyx_engine *sim_engine_with_at(const char *file, int line, const char *ttft_ms,
                                             const char *script, const char *name)
{
    nyx_engine *e = open_sim_engine(ttft_ms);
    int rc = e ? nyx_load_string(e, script, name) : -1;
    if (rc != NYX_OK) {
        check_fail_at(file, line);
        fprintf(stderr, "%s not loaded: %d %s\n", name, rc, e ? nyx_errmsg(e) : "no engine");
        nyx_close(e);
        return NULL;
    }
    return e;
}
#define SIM_ENGINE_WITH(ttft_ms, script, name) sim_engine_with_at(__FILE__, __LINE__, ttft_ms, script, name)

/* An engine of the Anthropic provider at url (a test's own server) with key, no retries, the
 * database in memory; prints why and returns NULL when it cannot open. */
static inline nyx_engine *open_anthropic_at(const char *url, const char *key)
{
    setenv("NYX_PROVIDER", "anthropic", 1);
    setenv("ANTHROPIC_BASE_URL", url, 1);
    setenv("ANTHROPIC_API_KEY", key, 1);
    setenv("NYX_MAX_RETRIES", "0", 1);
    return open_engine_in_memory();
}

/* nyx_run(e), saying why when it fails. */
static inline int run_all(nyx_engine *e)
{
    int rc = nyx_run(e);
    if (rc != NYX_OK)
        fprintf(stderr, "nyx_run: %d %s\n", rc, nyx_errmsg(e));
    return rc;
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
