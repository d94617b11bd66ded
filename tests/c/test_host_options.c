/* nyx_set as a host meets it: the options that choose how the engine starts are refused once
 * it has started, with a message naming what starts it (nyx_provider does, before any script). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

static void options_after_start(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    CHECK_STR(nyx_provider(e), "sim"); /* chooses the provider: the engine starts */
    CHECK_INT(nyx_set(e, "db", ":memory:"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set: \"db\" must be set before the engine starts");
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_provider");
    CHECK_INT(nyx_set(e, "reload", "0"), NYX_EINVAL);
    CHECK_INT(nyx_set(e, "var.late", "ok"), NYX_OK);
    nyx_close(e);
}

int main(void)
{
    options_after_start();
    CHECK_DONE();
}
