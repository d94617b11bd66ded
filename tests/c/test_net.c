/* The network settings (core/net.c): header checks and masking, the headers of a call, which
 * proxy applies (NO_PROXY, the variables per scheme, never the built-in simulator), credentials
 * masked, NYX_TLS_INSECURE only for loopback, the CA's precedence, and curl's failures mapped to
 * tls_error with the reason and the fix. Real transfers are in tests/e2e/tls.sh and proxy.sh. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claude/errors.h"
#include "core/config.h"
#include "core/net.h"

static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                                   "ALL_PROXY", "no_proxy", "NO_PROXY", "SSL_CERT_FILE", "CURL_CA_BUNDLE"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void test_headers(void)
{
    error_info err = cleared_error();
    CHECK_INT(net_check_header("headers", "x-gateway-route", "eu", &err), 0);
    CHECK_INT(net_check_header("headers", "X-API-Key", "k", &err), -1);
    CHECK_ERROR(err, "invalid_argument", "headers: X-API-Key is set by nyx");
    CHECK_INT(net_check_header("headers", "content-type", "text/plain", &err), -1);
    CHECK_INT(net_check_header("headers", "x-a", "b\r\nx-injected: 1", &err), -1);
    CHECK_CONTAINS(err.message, "must be on one line");
    CHECK_INT(net_check_header("headers", "bad name", "v", &err), -1);
    CHECK_CONTAINS(err.message, "is not a header name");
    CHECK_INT(net_check_header("headers", "", "v", &err), -1);

    CHECK_INT(net_header_is_secret("x-api-key", 9), 1);
    CHECK_INT(net_header_is_secret("Authorization", 13), 1);
    CHECK_INT(net_header_is_secret("x-gateway-token", 15), 1);
    CHECK_INT(net_header_is_secret("Proxy-Authorization", 19), 1);
    CHECK_INT(net_header_is_secret("x-gateway-route", 15), 0);
    CHECK_INT(net_header_is_secret("anthropic-version", 17), 0);
    /* only the name counts, not what follows the colon */
    CHECK_INT(net_header_is_secret("x-route: token", 7), 0);

    /* a call's line replaces the engine's of the same name, others stay */
    struct curl_slist *base = curl_slist_append(NULL, "x-api-key: k");
    base = curl_slist_append(base, "X-Gateway-Route: default");
    char *lines[] = {"x-gateway-route: eu", "x-call-tag: 7"};
    struct curl_slist *out = NULL;
    CHECK_INT(net_call_headers(base, lines, 2, &out), 0);
    const char *want[] = {"x-api-key: k", "x-gateway-route: eu", "x-call-tag: 7"};
    size_t i = 0;
    for (struct curl_slist *h = out; h; h = h->next, i++)
        if (i < 3)
            CHECK_STR(h->data, want[i]);
    CHECK_INT(i, 3);
    curl_slist_free_all(out);
    curl_slist_free_all(base);
}

static net *open_for(const char *endpoint, engine_config *cfg, int builtin, const char **warning, error_info *err)
{
    error_clear(err);
    return net_open(cfg, endpoint, builtin, warning, err);
}

static void test_proxy_choice(void)
{
    engine_config cfg;
    memset(&cfg, 0, sizeof cfg);
    error_info err;
    const char *warning, *var;
    clear_env();
    setenv("HTTPS_PROXY", "http://alice:s3cret@proxy.corp:3128", 1);
    net *n = open_for("https://api.anthropic.com", &cfg, 0, &warning, &err);
    CHECK(n != NULL);
    CHECK_STR(net_proxy_shown(n, &var), "http://***:***@proxy.corp:3128/");
    CHECK_STR(var, "HTTPS_PROXY");
    CHECK(warning == NULL);
    net_free(n);

    /* lower case first, as curl reads them */
    setenv("https_proxy", "http://proxy.lower:8080", 1);
    n = open_for("https://api.anthropic.com", &cfg, 0, &warning, &err);
    CHECK_STR(net_proxy_shown(n, &var), "http://proxy.lower:8080/");
    CHECK_STR(var, "https_proxy");
    net_free(n);

    /* NO_PROXY: the host itself, names under it, "*"; not a mere suffix of the name */
    static const struct {
        const char *no_proxy;
        int direct;
    } rules[] = {{"api.anthropic.com", 1}, {"anthropic.com", 1}, {".anthropic.com", 1}, {"*", 1},
                 {"localhost, anthropic.com", 1}, {"thropic.com", 0}, {"example.com", 0}, {"", 0}};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        CHECK_ROW("NO_PROXY=\"%s\"", rules[i].no_proxy);
        setenv("NO_PROXY", rules[i].no_proxy, 1);
        n = open_for("https://api.anthropic.com/v1", &cfg, 0, &warning, &err);
        CHECK(n != NULL);
        CHECK_INT(net_proxy_shown(n, NULL) == NULL, rules[i].direct);
        net_free(n);
    }
    CHECK_ROW_END();
    unsetenv("NO_PROXY");

    /* the built-in simulator is never proxied */
    n = open_for("https://127.0.0.1:9", &cfg, 1, &warning, &err);
    CHECK(net_proxy_shown(n, NULL) == NULL);
    net_free(n);

    /* plain http reads only the lower-case http_proxy */
    clear_env();
    setenv("HTTP_PROXY", "http://upper:1", 1);
    n = open_for("http://gw.example/anthropic", &cfg, 0, &warning, &err);
    CHECK(net_proxy_shown(n, NULL) == NULL);
    net_free(n);
    setenv("http_proxy", "http://lower:1", 1);
    n = open_for("http://gw.example/anthropic", &cfg, 0, &warning, &err);
    CHECK_STR(net_proxy_shown(n, &var), "http://lower:1/");
    CHECK_STR(var, "http_proxy");
    net_free(n);
    clear_env();
}

static void test_insecure(void)
{
    engine_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.tls_insecure = 1;
    error_info err;
    const char *warning;
    clear_env();
    const char *loopback[] = {"https://127.0.0.1:8443", "https://localhost", "https://[::1]:443", "https://127.3.2.1"};
    for (size_t i = 0; i < 4; i++) {
        net *n = open_for(loopback[i], &cfg, 0, &warning, &err);
        CHECK(n != NULL);
        CHECK(warning && strstr(warning, "NYX_TLS_INSECURE=1"));
        net_free(n);
    }
    const char *remote[] = {"https://api.anthropic.com", "https://10.0.0.1", "https://127.0.0.1.evil.example",
                            "https://localhost.evil.example"};
    for (size_t i = 0; i < 4; i++) {
        CHECK(open_for(remote[i], &cfg, 0, &warning, &err) == NULL);
        CHECK_ERROR(err, "invalid_argument", "NYX_TLS_INSECURE=1 is for local testing only");
    }
}

static void test_config_checks(void)
{
    engine_config cfg;
    memset(&cfg, 0, sizeof cfg);
    error_info err = cleared_error();
    clear_env();
    cfg.extra_headers = "{\"x-gateway-route\": 1}";
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "NYX_EXTRA_HEADERS: the value of x-gateway-route must be a string");
    cfg.extra_headers = "not json";
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "NYX_EXTRA_HEADERS must be a JSON object");
    /* a second object after the first, or any text, is not left unread: the whole is refused */
    cfg.extra_headers = "{\"x-gateway-route\": \"eu\"}, {\"x-gateway-token\": \"t\"}";
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "NYX_EXTRA_HEADERS must be a JSON object");
    CHECK_CONTAINS(err.message, "more text after the value");
    cfg.extra_headers = "{\"x-grade\": \"claude\"}0";
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "NYX_EXTRA_HEADERS must be a JSON object");
    cfg.extra_headers = "{\"x-gateway-route\": \"eu\", \"x-gateway-token\": \"t\"} \n";
    CHECK_INT(net_check_config(&cfg, &err), 0);
    cfg.extra_headers = "{\"x-gateway-route\": \"eu\", \"x-gateway-token\": \"t\"}";
    CHECK_INT(net_check_config(&cfg, &err), 0);
    cfg.http_version = "3";
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "NYX_HTTP_VERSION");
    cfg.http_version = "1.1";
    cfg.client_key = "/nonexistent.key";
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "NYX_CLIENT_KEY is set but NYX_CLIENT_CERT is not");
    cfg.client_key = NULL;

    /* precedence: NYX_CA_FILE names the file checked, then SSL_CERT_FILE, then CURL_CA_BUNDLE */
    setenv("CURL_CA_BUNDLE", "/nonexistent/curl.pem", 1);
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "CURL_CA_BUNDLE: cannot read /nonexistent/curl.pem");
    setenv("SSL_CERT_FILE", "/nonexistent/ssl.pem", 1);
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "SSL_CERT_FILE: cannot read /nonexistent/ssl.pem");
    cfg.ca_file = "/nonexistent/nyx.pem";
    CHECK_INT(net_check_config(&cfg, &err), -1);
    CHECK_CONTAINS(err.message, "NYX_CA_FILE: cannot read /nonexistent/nyx.pem");
    cfg.ca_file = "/dev/null"; /* readable: the others are not looked at */
    CHECK_INT(net_check_config(&cfg, &err), 0);
    clear_env();
}

static void test_failures(void)
{
    engine_config cfg;
    memset(&cfg, 0, sizeof cfg);
    error_info err;
    const char *warning;
    clear_env();
    net *n = open_for("https://gw.example:8443/anthropic", &cfg, 0, &warning, &err);
    CURL *h = curl_easy_init();
    CHECK(n && h);

    error_clear(&err);
    CHECK_INT(net_explain_failure(n, h, CURLE_COULDNT_CONNECT, "Failed to connect", &err), 0);
    CHECK_STR(err.type, "");

    CHECK_INT(net_explain_failure(n, h, CURLE_PEER_FAILED_VERIFICATION,
                                  "SSL: no alternative certificate subject name matches target host name", &err),
              1);
    CHECK_STR(err.type, "tls_error");
    CHECK_INT(err.retryable, 0);
    CHECK_CONTAINS(err.message, "gw.example");
    CHECK_CONTAINS(err.message, "name mismatch");
    CHECK_CONTAINS(err.message, "ANTHROPIC_BASE_URL");

    CHECK_INT(net_explain_failure(n, h, CURLE_SSL_CERTPROBLEM, "unable to set private key file", &err), 1);
    CHECK_CONTAINS(err.message, "client certificate or key cannot be used");
    CHECK_CONTAINS(err.message, "NYX_CLIENT_KEY");

    CHECK_INT(net_explain_failure(n, h, CURLE_SSL_CONNECT_ERROR, "wrong version number", &err), 1);
    CHECK_CONTAINS(err.message, "handshake");
    CHECK_CONTAINS(err.message, "NYX_CLIENT_CERT");

    CHECK_INT(net_explain_failure(n, h, CURLE_RECV_ERROR,
                                  "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required",
                                  &err),
              1);
    CHECK_ERROR(err, "tls_error", "without a client certificate");

    claude_error_tls(&err, "h.example", "unknown CA", "detail", "set NYX_CA_FILE");
    CHECK_STR(err.type, "tls_error");
    CHECK_INT(err.status, 0);
    CHECK_INT(err.retryable, 0);
    CHECK_STR(err.message, "TLS with h.example failed: unknown CA (detail); fix: set NYX_CA_FILE");
    curl_easy_cleanup(h);
    net_free(n);
}

/* What a connection costs in descriptors, for the bound on connections (conn_limit.h): one
 * socket to a literal address; two while a name is looked up or a proxy's is, and with the
 * built-in simulator, whose end is in the same process. */
static void test_descriptors_per_connection(void)
{
    engine_config cfg;
    memset(&cfg, 0, sizeof cfg);
    error_info err;
    const char *warning;
    clear_env();
    static const struct {
        const char *endpoint;
        int builtin, want;
    } rows[] = {{"http://127.0.0.1:8080", 0, 1}, {"https://[::1]:8443/anthropic", 0, 1},
                {"http://127.0.0.1:8080", 1, 2}, {"https://api.anthropic.com", 0, 2},
                {"http://localhost:8080", 0, 2}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK_ROW("%s builtin=%d", rows[i].endpoint, rows[i].builtin);
        net *n = open_for(rows[i].endpoint, &cfg, rows[i].builtin, &warning, &err);
        CHECK(n != NULL);
        if (n)
            CHECK_INT(net_descriptors_per_connection(n), rows[i].want);
        net_free(n);
    }
    CHECK_ROW_END();
    setenv("HTTPS_PROXY", "http://10.0.0.1:3128", 1); /* a proxied connection: its lookup too */
    net *n = open_for("https://127.0.0.1:8443", &cfg, 0, &warning, &err);
    CHECK(n != NULL);
    if (n)
        CHECK_INT(net_descriptors_per_connection(n), 2);
    net_free(n);
    clear_env();
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_headers();
    test_proxy_choice();
    test_insecure();
    test_config_checks();
    test_failures();
    test_descriptors_per_connection();
    curl_global_cleanup();
    CHECK_DONE();
}
