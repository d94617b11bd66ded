/* Trust, client certificates, proxies, gateway headers and the HTTP version of the transfers
 * to the API, and TLS failures explained. See net.h. */
#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include "base/json_parse.h"
#include "claude/errors.h"

#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenSSL's verify results (x509_vfy.h), as CURLINFO_SSL_VERIFYRESULT reports them. */
enum {
    V_OK = 0,
    V_NOT_YET_VALID = 9,
    V_EXPIRED = 10,
    V_SELF_SIGNED = 18,
    V_SELF_SIGNED_IN_CHAIN = 19,
    V_NO_LOCAL_ISSUER = 20,
    V_LEAF_UNVERIFIABLE = 21,
    V_HOSTNAME_MISMATCH = 62,
    V_IP_MISMATCH = 64,
};

struct net {
    char *host;          /* the endpoint's host, for messages */
    int https;
    char *ca_file;       /* NULL: the system's */
    const char *ca_var;  /* where ca_file came from */
    char *client_cert, *client_key;
    int insecure;        /* NYX_TLS_INSECURE on a loopback host */
    int http2;
    char *proxy;         /* the URL handed to curl (with its credentials) or NULL */
    char *proxy_shown;   /* the same, credentials masked */
    const char *proxy_var;
    char *no_proxy;      /* NO_PROXY as curl reads it, or NULL: handed to each transfer (net_configure) */
    struct curl_slist *extra; /* NYX_EXTRA_HEADERS as "Name: value" lines */
    int per_connection;       /* net_descriptors_per_connection */
};

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The CA bundle's source in order of precedence: nyx's own variable, then the ones OpenSSL
 * and curl users already set. */
static const char *ca_source(const engine_config *cfg, const char **var)
{
    if (cfg->ca_file)
        return *var = "NYX_CA_FILE", cfg->ca_file;
    if (env("SSL_CERT_FILE"))
        return *var = "SSL_CERT_FILE", env("SSL_CERT_FILE");
    if (env("CURL_CA_BUNDLE"))
        return *var = "CURL_CA_BUNDLE", env("CURL_CA_BUNDLE");
    return *var = NULL, NULL;
}

static int readable(const char *var, const char *path, error_info *err)
{
    if (access(path, R_OK) == 0)
        return 0;
    error_set(err, "invalid_argument", 0, "%s: cannot read %.300s: %s", var, path, strerror(errno));
    return -1;
}

/* ---- headers ---- */

/* Names nyx sets itself, or that HTTP owns: a script changing them would break the request. */
static const char *const owned[] = {"x-api-key", "anthropic-version", "content-type", "content-length",
                                    "host", "transfer-encoding", "expect", "connection", "accept",
                                    "accept-encoding"};

int net_check_header(const char *label, const char *name, const char *value, error_info *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 200) {
        error_set(err, "invalid_argument", 0, "%s: a header name must have 1 to 200 characters", label);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        /* RFC 9110 token characters */
        if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c)) {
            error_set(err, "invalid_argument", 0, "%s: \"%.60s\" is not a header name", label, name);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcasecmp(name, owned[i]) == 0) {
            error_set(err, "invalid_argument", 0, "%s: %s is set by nyx and cannot be changed", label, name);
            return -1;
        }
    if (!value || strlen(value) > 8000) {
        error_set(err, "invalid_argument", 0, "%s: the value of %.60s must be a string of at most 8000 bytes",
                      label, name);
        return -1;
    }
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n') {
            error_set(err, "invalid_argument", 0, "%s: the value of %.60s must be on one line", label, name);
            return -1;
        }
    return 0;
}

static int contains_nocase(const char *s, size_t len, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= len; i++)
        if (strncasecmp(s + i, word, w) == 0)
            return 1;
    return 0;
}

int net_header_is_secret(const char *name, size_t len)
{
    static const char *const words[] = {"auth", "key", "token", "secret", "password", "passwd",
                                        "cookie", "signature", "credential", "session"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (contains_nocase(name, len, words[i]))
            return 1;
    return 0;
}

/* NYX_EXTRA_HEADERS: {"name": "value", ...}. With list NULL only checks. */
static int parse_extra(const char *json, struct curl_slist **list, error_info *err)
{
    /* The whole text: cJSON_Parse reads the first value and leaves the rest unread, so
     * '{"a": "1"}, {"b": "2"}' sent a without b, unsaid. */
    error_info why;
    error_clear(&why);
    cJSON *root = json_parse_whole(json, strlen(json), &why);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        error_set(err, "invalid_argument", 0,
                      "NYX_EXTRA_HEADERS must be a JSON object of header names and string values, "
                      "e.g. {\"x-gateway-route\": \"claude\"}%s%s", root ? "" : "; ", root ? "" : why.message);
        return -1;
    }
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (!cJSON_IsString(item)) {
            error_set(err, "invalid_argument", 0, "NYX_EXTRA_HEADERS: the value of %.60s must be a string",
                          item->string);
            rc = -1;
            break;
        }
        if (net_check_header("NYX_EXTRA_HEADERS", item->string, item->valuestring, err) != 0) {
            rc = -1;
            break;
        }
        if (!list)
            continue;
        size_t len = strlen(item->string) + strlen(item->valuestring) + 3;
        char *line = malloc(len);
        struct curl_slist *l = NULL;
        if (line) {
            snprintf(line, len, "%s: %s", item->string, item->valuestring);
            l = curl_slist_append(*list, line);
            free(line);
        }
        if (!l) {
            error_set(err, "out_of_memory", 0, "out of memory reading NYX_EXTRA_HEADERS");
            rc = -1;
            break;
        }
        *list = l;
    }
    cJSON_Delete(root);
    return rc;
}

/* The encodings this libcurl decodes, in the order and words its CURLOPT_ACCEPT_ENCODING ""
 * announces them (content_encoding.c: deflate and gzip with zlib, br, zstd). */
int net_accept_encoding(char *out, size_t size)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    int features = v ? v->features : 0;
    int n = snprintf(out, size, "Accept-Encoding: %s%s%s", features & CURL_VERSION_LIBZ ? "deflate, gzip, " : "",
                     features & CURL_VERSION_BROTLI ? "br, " : "", features & CURL_VERSION_ZSTD ? "zstd, " : "");
    if (n < 0 || (size_t)n >= size || (size_t)n == sizeof "Accept-Encoding: " - 1)
        return -1;
    out[n - 2] = '\0'; /* the last ", " */
    return 0;
}

int net_append_headers(const net *n, struct curl_slist **list)
{
    for (const struct curl_slist *h = n ? n->extra : NULL; h; h = h->next) {
        struct curl_slist *l = curl_slist_append(*list, h->data);
        if (!l)
            return -1;
        *list = l;
    }
    return 0;
}

static size_t name_len(const char *line)
{
    const char *colon = strchr(line, ':');
    return colon ? (size_t)(colon - line) : strlen(line);
}

int net_call_headers(const struct curl_slist *base, char *const *lines, size_t n, struct curl_slist **out)
{
    struct curl_slist *list = NULL, *l;
    for (const struct curl_slist *h = base; h; h = h->next) {
        size_t len = name_len(h->data);
        int replaced = 0;
        for (size_t i = 0; i < n && !replaced; i++)
            replaced = name_len(lines[i]) == len && strncasecmp(lines[i], h->data, len) == 0;
        if (replaced)
            continue;
        if (!(l = curl_slist_append(list, h->data)))
            goto fail;
        list = l;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(l = curl_slist_append(list, lines[i])))
            goto fail;
        list = l;
    }
    *out = list;
    return 0;
fail:
    curl_slist_free_all(list);
    *out = NULL;
    return -1;
}

/* ---- checking the configuration ---- */

int net_check_config(const engine_config *cfg, error_info *err)
{
    const char *var = NULL;
    const char *ca = ca_source(cfg, &var);
    if (ca && readable(var, ca, err) != 0)
        return -1;
    if (cfg->client_key && !cfg->client_cert) {
        error_set(err, "invalid_argument", 0, "NYX_CLIENT_KEY is set but NYX_CLIENT_CERT is not: "
                                                  "a client key needs its certificate");
        return -1;
    }
    if ((cfg->client_cert && readable("NYX_CLIENT_CERT", cfg->client_cert, err) != 0) ||
        (cfg->client_key && readable("NYX_CLIENT_KEY", cfg->client_key, err) != 0))
        return -1;
    if (cfg->http_version && strcmp(cfg->http_version, "2") != 0 && strcmp(cfg->http_version, "1.1") != 0) {
        error_set(err, "invalid_argument", 0, "NYX_HTTP_VERSION must be \"2\" or \"1.1\", got \"%.40s\"",
                      cfg->http_version);
        return -1;
    }
    return cfg->extra_headers ? parse_extra(cfg->extra_headers, NULL, err) : 0;
}

/* ---- the endpoint ---- */

static int is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0)
        return 1;
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

/* A literal IPv4 or IPv6 address (curl gives the latter in brackets): no name to look up. */
static int is_address(const char *host)
{
    unsigned char a[16];
    char v6[64];
    size_t n = strlen(host);
    if (inet_pton(AF_INET, host, a) == 1)
        return 1;
    if (n < 3 || n - 2 >= sizeof v6 || host[0] != '[' || host[n - 1] != ']')
        return 0;
    memcpy(v6, host + 1, n - 2);
    v6[n - 2] = '\0';
    return inet_pton(AF_INET6, v6, a) == 1;
}

/* NO_PROXY as curl reads it: "*", or comma-separated host names that match the host itself or
 * any name under it (a leading dot is optional), or literal addresses. */
static int no_proxy_matches(const char *list, const char *host)
{
    size_t hlen = strlen(host);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 1 && *start == '*')
            return 1;
        if (n && *start == '.')
            start++, n--;
        if (n == 0 || n > hlen)
            continue;
        if (strncasecmp(host + hlen - n, start, n) == 0 && (n == hlen || host[hlen - n - 1] == '.'))
            return 1;
    }
    return 0;
}

/* The proxy URL with its user name and password replaced, for anything a person may see. */
static char *mask_proxy(const char *proxy)
{
    CURLU *u = curl_url();
    char *out = NULL, *shown = NULL;
    if (!u)
        return NULL;
    char *user = NULL, *pass = NULL;
    if (curl_url_set(u, CURLUPART_URL, proxy, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
            curl_url_set(u, CURLUPART_USER, "***", 0);
        if (curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
            curl_url_set(u, CURLUPART_PASSWORD, "***", 0);
        if (curl_url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK)
            out = strdup(shown);
    }
    curl_free(user);
    curl_free(pass);
    curl_free(shown);
    curl_url_cleanup(u);
    return out ? out : strdup("(a proxy whose URL cannot be shown)");
}

static int choose_proxy(net *n)
{
    /* curl's order; plain http reads only the lower-case http_proxy (a CGI's HTTP_PROXY could
     * come from a request header). */
    static const char *const https_vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    static const char *const http_vars[] = {"http_proxy", "all_proxy", "ALL_PROXY"};
    const char *const *vars = n->https ? https_vars : http_vars;
    size_t nvars = n->https ? 4 : 3;
    const char *proxy = NULL;
    for (size_t i = 0; i < nvars && !proxy; i++)
        if ((proxy = env(vars[i])))
            n->proxy_var = vars[i];
    if (!proxy || (n->no_proxy && no_proxy_matches(n->no_proxy, n->host))) /* net_open read it */
        return 0;
    n->proxy = strdup(proxy);
    n->proxy_shown = mask_proxy(proxy);
    return n->proxy && n->proxy_shown ? 0 : -1;
}

int net_check_endpoint(const char *url, const char *label, error_info *err)
{
    CURLU *u = curl_url();
    if (!u) {
        error_set(err, "out_of_memory", 0, "%s: out of memory reading the URL", label);
        return -1;
    }
    char *host = NULL, *scheme = NULL, *query = NULL, *fragment = NULL;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    /* absent parts are CURLUE_NO_QUERY and CURLUE_NO_FRAGMENT, their pointers left NULL */
    CURLUcode qrc = rc == CURLUE_OK ? curl_url_get(u, CURLUPART_QUERY, &query, 0) : rc;
    CURLUcode frc = rc == CURLUE_OK ? curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) : rc;
    int result = -1;
    if (rc == CURLUE_OUT_OF_MEMORY || qrc == CURLUE_OUT_OF_MEMORY || frc == CURLUE_OUT_OF_MEMORY)
        error_set(err, "out_of_memory", 0, "%s: out of memory reading the URL", label);
    else if (rc != CURLUE_OK)
        error_set(err, "invalid_argument", 0, "%s: \"%.200s\" is not a URL (e.g. https://api.anthropic.com)",
                  label, url);
    else if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0)
        /* libcurl speaks what the scheme says: to an ftp:// endpoint it logs in and uploads the
         * request as a file; dict:// and gopher:// send the path as a command */
        error_set(err, "invalid_argument", 0, "%s: \"%.200s\" is not an http:// or https:// URL (it says %.20s://)",
                  label, url, scheme);
    else if (query || fragment)
        error_set(err, "invalid_argument", 0,
                  "%s: \"%.200s\" has a %s: requests add /v1/messages to the URL's path and would send it "
                  "inside the %s; give the URL without it (a gateway's own headers go in NYX_EXTRA_HEADERS)",
                  label, url, query ? "query (?...)" : "fragment (#...)", query ? "query" : "fragment");
    else
        result = 0;
    curl_free(host);
    curl_free(scheme);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return result;
}

net *net_open(const engine_config *cfg, const char *endpoint, int builtin, const char **warning, error_info *err)
{
    *warning = NULL;
    if (net_check_config(cfg, err) != 0)
        return NULL;
    net *n = calloc(1, sizeof *n);
    CURLU *u = curl_url();
    char *host = NULL, *scheme = NULL;
    if (!n || !u) {
        error_set(err, "out_of_memory", 0, "out of memory");
        goto fail;
    }
    if (net_check_endpoint(endpoint, "ANTHROPIC_BASE_URL", err) != 0)
        goto fail;
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        error_set(err, "invalid_argument", 0, "ANTHROPIC_BASE_URL: \"%.200s\" is not a URL", endpoint);
        goto fail;
    }
    n->https = strcasecmp(scheme, "https") == 0;
    n->http2 = !cfg->http_version || strcmp(cfg->http_version, "2") == 0;
    const char *ca = ca_source(cfg, &n->ca_var);
    /* curl's order; read once, for choose_proxy and for curl alike (net_configure) */
    const char *no_proxy = env("no_proxy") ? env("no_proxy") : env("NO_PROXY");
    if (!(n->host = strdup(host)) || (ca && !(n->ca_file = strdup(ca))) ||
        (no_proxy && !(n->no_proxy = strdup(no_proxy))) ||
        (cfg->client_cert && !(n->client_cert = strdup(cfg->client_cert))) ||
        (cfg->client_key && !(n->client_key = strdup(cfg->client_key))) || (!builtin && choose_proxy(n) != 0)) {
        error_set(err, "out_of_memory", 0, "out of memory");
        goto fail;
    }
    /* A connection is one socket, but a name's lookup holds a socket pair (curl's threaded
     * resolver) and happy eyeballs may try two addresses at once; the built-in simulator holds
     * the server's end in this process too. */
    n->per_connection = builtin || n->proxy || !is_address(n->host) ? 2 : 1;
    if (cfg->tls_insecure) {
        if (!is_loopback(n->host)) {
            error_set(err, "invalid_argument", 0,
                          "NYX_TLS_INSECURE=1 is for local testing only and %.200s is not a loopback host: "
                          "trust its CA with NYX_CA_FILE instead",
                          n->host);
            goto fail;
        }
        n->insecure = 1;
        *warning = "nyx: NYX_TLS_INSECURE=1: certificates are NOT verified (allowed only because the "
                   "endpoint is a loopback host); unset it for anything but local testing";
    }
    if (cfg->extra_headers && parse_extra(cfg->extra_headers, &n->extra, err) != 0)
        goto fail;
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return n;
fail:
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    net_free(n);
    return NULL;
}

void net_free(net *n)
{
    if (!n)
        return;
    free(n->host);
    free(n->ca_file);
    free(n->client_cert);
    free(n->client_key);
    if (n->proxy) /* the credentials do not stay in freed memory */
        memset(n->proxy, 0, strlen(n->proxy));
    free(n->proxy);
    free(n->proxy_shown);
    free(n->no_proxy);
    curl_slist_free_all(n->extra);
    free(n);
}

const char *net_proxy_shown(const net *n, const char **variable)
{
    if (variable)
        *variable = n && n->proxy ? n->proxy_var : NULL;
    return n && n->proxy ? n->proxy_shown : NULL;
}

void net_summary(const net *n, char *out, size_t size)
{
    if (!n) {
        snprintf(out, size, "proxy=none ca=system");
        return;
    }
    snprintf(out, size, "proxy=%s ca=%s client_cert=%s tls_insecure=%d http=%s extra_headers=%d",
             n->proxy ? n->proxy_var : "none", n->ca_var ? n->ca_var : "system", n->client_cert ? "set" : "unset",
             n->insecure, n->http2 ? "2" : "1.1", n->extra != NULL);
}

/* ---- a transfer ---- */

int net_descriptors_per_connection(const net *n) { return n->per_connection; }

long net_host_connections(const net *n) { return n->http2 && n->https ? 64L : 0L; }

int net_transfer_basics(CURL *h)
{
    /* HTTP only, whatever a URL's scheme says (net_check_endpoint refuses others at start; an
     * OpenTelemetry endpoint is not checked there). */
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 */
    if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return -1;
#else
    if (curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK)
        return -1;
#endif
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87 */
    /* The lookup's thread is left to end on its own, and frees what it holds when it does: the
     * "leak" libcurl's documentation warns of is that thread running on for a while. */
    CURLcode rc = curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L);
    return rc == CURLE_OK || rc == CURLE_UNKNOWN_OPTION ? 0 : -1; /* an older library blocks as it did */
#else
    (void)h;
    return 0;
#endif
}

int net_configure(const net *n, CURL *h, char *errbuf)
{
    errbuf[0] = '\0';
    if (net_transfer_basics(h) != 0)
        return -1;
    if (!n)
        return 0;
    if (curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        /* An explicit proxy (or none): curl's own reading of the environment is replaced by
         * ours, so what the debug view says is what happens. curl still applies NO_PROXY: it goes
         * direct to an IP address in a range listed there (10.0.0.0/8), which nyx's matching does
         * not cover, and that must stay so. It is the value curl would read from the environment
         * itself, read once: left unset, curl reads two variables again at every transfer. */
        curl_easy_setopt(h, CURLOPT_PROXY, n->proxy ? n->proxy : "") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOPROXY, n->no_proxy ? n->no_proxy : "") != CURLE_OK)
        return -1;
    /* HTTP/2 over TLS, waiting for a connection being set up rather than opening another:
     * concurrent calls then share one connection. Plain http stays HTTP/1.1, where waiting
     * would only hold every concurrent call until the first one's answer began. */
    if (curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                         n->http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PIPEWAIT, n->http2 && n->https ? 1L : 0L) != CURLE_OK)
        return -1;
    if (n->ca_file && curl_easy_setopt(h, CURLOPT_CAINFO, n->ca_file) != CURLE_OK)
        return -1;
    if (n->client_cert && (curl_easy_setopt(h, CURLOPT_SSLCERT, n->client_cert) != CURLE_OK ||
                           curl_easy_setopt(h, CURLOPT_SSLKEY, n->client_key ? n->client_key : n->client_cert) !=
                               CURLE_OK))
        return -1;
    if (n->insecure &&
        (curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK))
        return -1;
    return 0;
}

static int is_tls_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return 1;
    default:
        return 0;
    }
}

static const char *ca_fix(const net *n)
{
    return n->ca_var ? "the CA bundle in use does not hold the server's CA: set NYX_CA_FILE to a PEM file that does"
                     : "set NYX_CA_FILE to the PEM certificate of the CA that signed it (a private or corporate CA)";
}

/* A connection opened for this transfer that ended before any response. curl writes a request
 * only once TLS is set up, so a send or receive failure on it came after the handshake. */
static int closed_after_handshake(CURL *h)
{
    long opened = 0, status = 0;
    return curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0 &&
           curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 0;
}

/* Whether a connection to the proxy was made (then a connect failure was the tunnel's). */
static int proxy_reached(CURL *h)
{
    curl_off_t connected = 0;
    return curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected) == CURLE_OK && connected > 0;
}

int net_explain_failure(const net *n, CURL *h, CURLcode rc, const char *errbuf, error_info *err)
{
    if (!n)
        return 0;
    const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
    long connect_code = 0;
    if (n->proxy && curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect_code) == CURLE_OK &&
        connect_code >= 300) {
        error_clear(err);
        if (connect_code == 407 || connect_code == 401) /* some proxies answer a CONNECT with 401 */
            error_set(err, "network_error", 0,
                          "the proxy %s (%s) refused the tunnel to %s: HTTP %ld, the proxy's credentials in %s "
                          "are missing or wrong",
                          n->proxy_shown, n->proxy_var, n->host, connect_code, n->proxy_var);
        else
            error_set(err, "network_error", 0, "the proxy %s (%s) refused the tunnel to %s: HTTP %ld",
                          n->proxy_shown, n->proxy_var, n->host, connect_code);
        err->retryable = connect_code >= 500; /* a proxy's own trouble may pass; a refusal will not */
        return 1;
    }
    if (n->proxy && (rc == CURLE_COULDNT_RESOLVE_PROXY ||
                     (rc == CURLE_COULDNT_CONNECT && connect_code == 0 && !proxy_reached(h)))) {
        error_clear(err);
        error_set(err, "network_error", 0, "cannot reach the proxy %s (%s): %.200s", n->proxy_shown,
                      n->proxy_var, detail);
        err->retryable = 1; /* a proxy restarting comes back */
        return 1;
    }
    /* A server that wants a client certificate refuses with an alert: under TLS 1.3 it reaches
     * curl only at the first read, as a receive error. */
    int broken = rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_HTTP2;
    /* an alert before any response: the server refused the session (one mid-response is not
     * about certificates, and may pass) */
    long status = 0;
    int cert_alert = errbuf && strstr(errbuf, "SSL routines") && strstr(errbuf, " alert ") &&
                     curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 0;
    if (broken && !cert_alert && n->https && closed_after_handshake(h)) {
        /* TLS 1.3 servers refuse a client certificate after the handshake; a request written
         * before the refusal is read fails as a broken pipe. It may also be a passing fault,
         * so it stays a retryable network_error, but it says what to look at. */
        error_clear(err);
        error_set(err, "network_error", 0,
                      "%.120s closed the connection right after the TLS handshake (%.150s); if it requires a "
                      "client certificate, %s",
                      n->host, detail,
                      n->client_cert ? "NYX_CLIENT_CERT must be one its CA signed, with NYX_CLIENT_KEY its key"
                                     : "set NYX_CLIENT_CERT and NYX_CLIENT_KEY");
        err->retryable = 1;
        return 1;
    }
    if (!is_tls_code(rc) && !(broken && cert_alert))
        return 0;
    /* curl checks the name itself after OpenSSL accepted the chain (verify result 0) */
    int name_mismatch = errbuf && (strstr(errbuf, "subject name") || strstr(errbuf, "does not match"));
    long verify = 0;
    if (curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &verify) != CURLE_OK)
        verify = 0;
    char reason[300];
    const char *fix;
    if (rc == CURLE_SSL_CACERT_BADFILE) {
        snprintf(reason, sizeof reason, "the CA bundle %.200s cannot be used", n->ca_file ? n->ca_file : "(system)");
        fix = n->ca_var ? "point that variable at a PEM file of CA certificates" : "set NYX_CA_FILE to a PEM file";
    } else if (rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CLIENTCERT) {
        snprintf(reason, sizeof reason, "the client certificate or key cannot be used");
        fix = "NYX_CLIENT_CERT and NYX_CLIENT_KEY must name a PEM certificate and its matching private key";
    } else if (cert_alert) {
        snprintf(reason, sizeof reason, "the handshake failed: the server refused %s",
                 n->client_cert ? "the client certificate" : "to go on without a client certificate");
        fix = n->client_cert ? "NYX_CLIENT_CERT must be a certificate the server's CA signed"
                             : "set NYX_CLIENT_CERT and NYX_CLIENT_KEY to the certificate and key the gateway issued";
    } else if (verify == V_EXPIRED || verify == V_NOT_YET_VALID) {
        snprintf(reason, sizeof reason, "its certificate %s",
                 verify == V_EXPIRED ? "has expired" : "is not valid yet");
        fix = "the server's certificate must be renewed (or this machine's clock is wrong); no setting should hide it";
    } else if (verify == V_HOSTNAME_MISMATCH || verify == V_IP_MISMATCH || name_mismatch ||
               (rc == CURLE_PEER_FAILED_VERIFICATION && verify == V_OK)) {
        snprintf(reason, sizeof reason, "name mismatch: its certificate is not for %.200s", n->host);
        fix = "ANTHROPIC_BASE_URL must use a host name the certificate names";
    } else if (verify == V_SELF_SIGNED || verify == V_SELF_SIGNED_IN_CHAIN || verify == V_NO_LOCAL_ISSUER ||
               verify == V_LEAF_UNVERIFIABLE || rc == CURLE_PEER_FAILED_VERIFICATION) {
        snprintf(reason, sizeof reason, "unknown CA: its certificate is signed by a certificate authority "
                                        "this machine does not trust");
        fix = ca_fix(n);
    } else {
        snprintf(reason, sizeof reason, "the TLS handshake failed");
        fix = n->proxy ? "if the proxy intercepts TLS, set NYX_CA_FILE to its CA; if the server needs a client "
                         "certificate, set NYX_CLIENT_CERT and NYX_CLIENT_KEY"
                       : "if the server needs a client certificate, set NYX_CLIENT_CERT and NYX_CLIENT_KEY; "
                         "if it is not a TLS server, use http:// in ANTHROPIC_BASE_URL";
    }
    claude_error_tls(err, n->host, reason, detail, fix);
    return 1;
}
