/* nyx_set as a host meets it: the options that choose how the engine starts are refused once
 * it has started, with a message naming what starts it (nyx_provider does, before any script);
 * a value the engine could not start with (an empty database, a base URL that is not one) is
 * refused when it is set; "var.NAME" may be set at any time, and a script sees a variable set
 * after the nyx module was loaded (nyx.vars is built when it is). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "sim_engine.h"

static char printed[512];

static void gather(void *ud, const char *text, size_t len)
{
    (void)ud;
    size_t have = strlen(printed);
    if (have + len < sizeof printed) {
        memcpy(printed + have, text, len);
        printed[have + len] = '\0';
    }
}

static void options_after_start(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    CHECK_STR(nyx_provider(e), "sim"); /* chooses the provider: the engine starts */
    CHECK_INT(nyx_set(e, "db", ":memory:"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set: \"db\" must be set before the engine starts");
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_provider");
    CHECK_INT(nyx_set(e, "reload", "0"), NYX_EINVAL);
    CHECK_INT(nyx_set(e, "read_only", "1"), NYX_EINVAL);
    CHECK_INT(nyx_set(e, "var.late", "ok"), NYX_OK);
    nyx_close(e);
}

/* A value the engine could not start with is refused by nyx_set, not by the first load. */
static void bad_values(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    CHECK_INT(nyx_set(e, "base_url", "not a url"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set: base_url: \"not a url\" is not a URL");
    /* libcurl would speak FTP to it, logging in and uploading the request as a file */
    CHECK_INT(nyx_set(e, "base_url", "ftp://127.0.0.1:2121/"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "base_url: \"ftp://127.0.0.1:2121/\" is not an http:// or https:// URL (it says ftp://)");
    /* /v1/messages would have gone inside the query ("/gw?key=1/v1/messages") */
    CHECK_INT(nyx_set(e, "base_url", "https://gw.example/gw?key=1"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "has a query (?...): requests add /v1/messages to the URL's path");
    CHECK_INT(nyx_set(e, "base_url", "https://gw.example/gw#x"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "has a fragment (#...)");
    CHECK_INT(nyx_set(e, "base_url", "HTTPS://gw.example/anthropic/"), NYX_OK);
    CHECK_INT(nyx_set(e, "base_url", "http://[::1]:8080"), NYX_OK);
    CHECK_INT(nyx_set(e, "base_url", ""), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set: base_url must not be empty");
    CHECK_INT(nyx_set(e, "db", ""), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set: db must not be empty");
    /* An empty ANTHROPIC_API_KEY is no key; an empty api_key would be sent with every call. */
    CHECK_INT(nyx_set(e, "api_key", ""), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set: api_key must not be empty");
    /* A key read with fgets keeps its newline, which would end the request's headers there. */
    CHECK_INT(nyx_set(e, "api_key", "sk-test-key\n"), NYX_EINVAL);
    CHECK_STR(nyx_errmsg(e),
              "nyx_set: api_key holds a control character (its byte 12 is 0x0A); a key is one line "
              "of text");
    CHECK_INT(nyx_set(e, "read_only", "maybe"), NYX_EINVAL);
    CHECK_CONTAINS(nyx_errmsg(e), "nyx_set: read_only must be true or false");
    CHECK_INT(nyx_set(e, "read_only", "off"), NYX_OK);
    CHECK_INT(nyx_set(e, "api_key", "sk-test-key"), NYX_OK);
    CHECK_INT(nyx_set(e, "base_url", "http://127.0.0.1:9"), NYX_OK);
    CHECK_INT(nyx_set(e, "provider", "sim"), NYX_OK); /* the simulator: nothing is sent to port 9 */
    CHECK_INT(nyx_load_string(e, "return 1", "=ok"), NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    nyx_close(e);
}

/* An engine that cannot start (the anthropic provider without a key or URL) says so from the
 * load that starts it, and from each nyx_poll, as NYX_ECONFIG. */
static void cannot_start(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    CHECK_INT(nyx_set(e, "provider", "anthropic"), NYX_OK);
    const char *key = getenv("ANTHROPIC_API_KEY"), *claude_key = getenv("CLAUDE_API_KEY");
    if (!key && !claude_key && !getenv("ANTHROPIC_BASE_URL")) {
        CHECK_INT(nyx_load_string(e, "return 1", "=x"), NYX_ECONFIG);
        CHECK_CONTAINS(nyx_errmsg(e), "needs ANTHROPIC_API_KEY");
        CHECK_INT(nyx_poll(e, 0), NYX_ECONFIG);
        CHECK_INT(nyx_run(e), NYX_ECONFIG);
        CHECK_STR(nyx_provider(e), "none");
    }
    nyx_close(e);
}

/* The same key in the environment: nyx_open refuses it, naming the variable. */
static void key_in_environment(void)
{
    setenv("ANTHROPIC_API_KEY", "sk-test-key\r\n", 1);
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    CHECK(e == NULL);
    CHECK_STR(msg,
              "ANTHROPIC_API_KEY holds a control character (its byte 12 is 0x0D); a key is one line of text");
    nyx_free(msg);
    nyx_close(e);
    unsetenv("ANTHROPIC_API_KEY");
}

static int no_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ud, (void)ncols, (void)names, (void)values;
    return 0;
}

/* nyx_config_get without the database, before and after the engine started: NYX_EIO both
 * times, as nyx_query "config" says, rather than a default reported as the value in force. */
static void settings_without_database(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    CHECK_INT(nyx_set(e, "db", "/nonexistent/nyx-test-dir/nyx.db"), NYX_OK);
    char *value = NULL;
    const char *source = NULL;
    CHECK_INT(nyx_config_get(e, "budget.hard", &value, &source), NYX_EIO);
    CHECK_INT(nyx_load_string(e, "return 1", "=start"), NYX_OK);
    CHECK_INT(nyx_config_get(e, "budget.hard", &value, &source), NYX_EIO);
    CHECK_CONTAINS(nyx_errmsg(e), "cannot open /nonexistent/nyx-test-dir/nyx.db");
    CHECK(value == NULL);
    CHECK_INT(nyx_query(e, "config", NULL, no_row, NULL), NYX_EIO);
    nyx_close(e);
}

/* A start that failed past the provider's setup (NYX_TLS_INSECURE for a host that is not
 * loopback), then the option corrected and the engine started: the second start begins from
 * nothing (the first one's endpoint and settings are not left behind: its valgrind twin). */
static void start_again_after_failure(void)
{
    setenv("NYX_TLS_INSECURE", "1", 1);
    nyx_engine *e = open_sim_engine("0");
    unsetenv("NYX_TLS_INSECURE");
    REQUIRE(e != NULL);
    CHECK_INT(nyx_set(e, "provider", "anthropic"), NYX_OK);
    CHECK_INT(nyx_set(e, "api_key", "sk-test-key"), NYX_OK);
    CHECK_INT(nyx_set(e, "base_url", "https://api.example.com"), NYX_OK);
    CHECK_INT(nyx_load_string(e, "return 1", "=first"), NYX_ECONFIG);
    CHECK_CONTAINS(nyx_errmsg(e), "NYX_TLS_INSECURE=1 is for local testing only");
    CHECK_INT(nyx_set(e, "base_url", "https://127.0.0.1:9"), NYX_OK); /* not started: still taken */
    CHECK_INT(nyx_load_string(e, "return 1", "=second"), NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    CHECK_STR(nyx_provider(e), "anthropic");
    nyx_close(e);
}

static void vars_at_any_time(void)
{
    nyx_engine *e = open_sim_engine("0");
    REQUIRE(e != NULL);
    printed[0] = '\0';
    nyx_set_output(e, gather, NULL);
    CHECK_INT(nyx_set(e, "var.a", "early"), NYX_OK);
    CHECK_INT(nyx_load_string(e, "local nyx = require 'nyx' print(nyx.vars.a, nyx.vars.b)", "=one"), NYX_OK);
    CHECK_INT(nyx_set(e, "var.b", "late"), NYX_OK);
    CHECK_INT(nyx_set(e, "var.a", "again"), NYX_OK);
    CHECK_INT(
        nyx_load_string(e,
                        "local nyx = require 'nyx'\n"
                        "print(nyx.vars.b, type(nyx.vars.a) == 'table' and table.concat(nyx.vars.a, ','))",
                        "=two"),
        NYX_OK);
    CHECK_INT(run_to_done(e), NYX_OK);
    CHECK_STR(printed, "early\tnil\nlate\tearly,again\n");
    nyx_close(e);
}

int main(void)
{
    options_after_start();
    bad_values();
    cannot_start();
    key_in_environment();
    settings_without_database();
    start_again_after_failure();
    vars_at_any_time();
    CHECK_DONE();
}
