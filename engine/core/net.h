/* The network a call crosses on its way to the API: which CAs are trusted (NYX_CA_FILE, else
 * SSL_CERT_FILE / CURL_CA_BUNDLE, else the system's), the client certificate a gateway may
 * ask for (NYX_CLIENT_CERT, NYX_CLIENT_KEY), a proxy (HTTPS_PROXY / https_proxy, HTTP_PROXY
 * for plain http, NO_PROXY), headers a gateway wants (NYX_EXTRA_HEADERS, and per call), the
 * HTTP version (NYX_HTTP_VERSION: "2" multiplexes calls over one connection, "1.1" does not),
 * and what a TLS failure means in words a user can act on.
 *
 * Verification is never switched off silently: NYX_TLS_INSECURE=1 is accepted only for a
 * loopback host (local testing), and the engine warns about it at every start. */
#ifndef NYX_NET_H
#define NYX_NET_H

#include "claude/types.h"
#include "config.h"

#include <curl/curl.h>
#include <stddef.h>

typedef struct net net;

/* Checks the network variables of cfg and the environment that do not depend on the endpoint
 * (files readable, NYX_EXTRA_HEADERS a JSON object of valid headers, NYX_HTTP_VERSION).
 * Returns 0, or -1 with err ("invalid_argument") naming the variable. */
int net_check_config(const engine_config *cfg, error_info *err);

/* The settings in force for requests to endpoint (a base URL); builtin: the endpoint is the
 * in-process simulator, which no proxy stands before. Returns NULL with err naming the variable
 * when they cannot apply (NYX_TLS_INSECURE for a host that is not loopback). *warning is set
 * to a static text to give at start, or NULL. */
net *net_open(const engine_config *cfg, const char *endpoint, int builtin, const char **warning, error_info *err);
/* Checks that url can be the API's endpoint: an absolute http:// or https:// URL with a host,
 * and no query or fragment (requests add "/v1/messages" to its path). Returns 0, or -1 with err
 * ("invalid_argument", or "out_of_memory") whose message starts with label. */
int net_check_endpoint(const char *url, const char *label, error_info *err);
void net_free(net *n); /* NULL does nothing */

/* "Accept-Encoding: deflate, gzip, br, zstd": the header libcurl makes for CURLOPT_ACCEPT_ENCODING ""
 * (the encodings it decodes), into out. Returns 0, or -1 when it decodes none or out is short. */
int net_accept_encoding(char *out, size_t size);

/* The headers every request adds to the fixed ones (NYX_EXTRA_HEADERS), appended to *list.
 * Returns 0 or -1 (out of memory). */
int net_append_headers(const net *n, struct curl_slist **list);

/* The headers of one request: base (the engine's) with a call's own "Name: value" lines
 * added, a call's line replacing a base line of the same name. *out is a new list (free it
 * with curl_slist_free_all). Returns 0 or -1 (out of memory). */
int net_call_headers(const struct curl_slist *base, char *const *lines, size_t n, struct curl_slist **out);

/* What every transfer of the engine has, to the API or elsewhere (OpenTelemetry): HTTP and
 * HTTPS only, whatever scheme a URL names; and a timeout
 * during a host name's lookup ends the transfer at once, without waiting for the lookup's
 * thread (libcurl otherwise joins it, blocking the loop until the system's resolver gives up,
 * 10 s and more with a nameserver that does not answer, whatever the connect timeout says).
 * Returns 0 or -1. */
int net_transfer_basics(CURL *h);

/* Sets net_transfer_basics, trust, client certificate, proxy, HTTP version and the error buffer
 * (errbuf, at least CURL_ERROR_SIZE bytes) on a transfer. Returns 0 or -1. */
int net_configure(const net *n, CURL *h, char *errbuf);

/* The most connections to the API host at once: 0 (no limit) but for HTTP/2 over TLS, where
 * calls share connections. There libcurl makes a call wait for a connection being set up only
 * until the first one's streams are full (100 at most on most servers); after that each call
 * opened its own (901 connections, TLS handshakes and HTTP/2 sessions for 1,000 calls in
 * flight). With a limit, calls past the streams the connections offer wait for one. It is 64,
 * so a TLS server that answers HTTP/1.1 still serves 64 calls at once (NYX_HTTP_VERSION=1.1
 * lifts the limit). */
long net_host_connections(const net *n);

/* The descriptors one connection holds at its busiest, for conn_limit_now: 1 for a literal
 * address reached directly, 2 for a name (its lookup's socket pair, or two addresses tried at
 * once), a proxy, or the built-in simulator (whose end of each connection is in this process). */
int net_descriptors_per_connection(const net *n);

/* Whether a failed transfer was a TLS failure; if so fills err with type "tls_error" (not
 * retryable), naming the host, the reason and the variable that fixes it, and returns 1. A
 * proxy that refused the tunnel fills a "network_error" naming the proxy (credentials masked)
 * and returns 1. Otherwise returns 0 and leaves err alone. */
int net_explain_failure(const net *n, CURL *h, CURLcode rc, const char *errbuf, error_info *err);

/* The proxy requests go through, credentials masked (user and password become ***), and
 * the variable it came from; NULL when requests go direct. */
const char *net_proxy_shown(const net *n, const char **variable);

/* For the audit trail: where trust and the proxy come from, never a path, URL or credential
 * ("proxy=HTTPS_PROXY ca=NYX_CA_FILE client_cert=set tls_insecure=0 http=2"). */
void net_summary(const net *n, char *out, size_t size);

/* 1 when a header's name suggests its value is a secret (with auth, key, token,
 * secret, password, cookie, signature, credential, session): the debug view masks it. */
int net_header_is_secret(const char *name, size_t len);

/* Checks one request header a script or NYX_EXTRA_HEADERS gives: a valid name, a value on one
 * line, and not one nyx sets itself (x-api-key, anthropic-version, content-type, ...).
 * Returns 0, or -1 with err ("invalid_argument") whose message starts with label. */
int net_check_header(const char *label, const char *name, const char *value, error_info *err);

#endif
