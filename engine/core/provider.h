/* The provider: where calls go and how they get there. The model table, the built-in
 * simulator when it is the provider, the endpoint, the headers every request carries, the
 * network settings (net.h), the OpenTelemetry export (otel.h) and the connections opened.
 * The engine holds one and starts it at engine_start. */
#ifndef NYX_PROVIDER_H
#define NYX_PROVIDER_H

#include "base/error.h"
#include "config.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

struct model_table;
struct sim_server;
struct net;
struct otel;

typedef struct provider {
    const char *name; /* "sim" | "anthropic", once started */
    struct model_table *models;
    struct model_table *sim_models; /* the built-in simulator's own copy: read by its threads, and
                                      never changed by what the engine learns (it is "the API") */
    struct sim_server *sim;
    char *endpoint;              /* base URL actually used */
    struct curl_slist *headers;  /* shared by every request; holds the key, never printed */
    char *messages_url;          /* endpoint + /v1/messages, and the same parsed once for curl: */
    CURLU *messages_curlu;       /* every transfer of a call shares it instead of parsing the text */
    struct easy_pool *easies;    /* easy_pool.h: curl handles kept between the calls' transfers */
    struct net *net;             /* net.h: trust, proxy, gateway headers, HTTP version */
    struct otel *otel;           /* otel.h: OpenTelemetry export, NULL when off */
    int64_t connections;         /* connections opened */
    int64_t tls_handshakes;      /* of them, the ones that set up TLS */
} provider;

/* Chooses the provider from cfg (NYX_PROVIDER, the key, ANTHROPIC_BASE_URL) and starts the
 * built-in simulator when it is the one. notice gets a line for the log ("" when none). 0, or
 * -1 with err (its message empty when out of memory). */
int provider_start(provider *p, const engine_config *cfg, char *notice, size_t size, error_info *err);
/* Trust, proxy and gateway settings for the endpoint; *warning, when set, must be logged at
 * every start (NYX_TLS_INSECURE). 0, or -1 with err. */
int provider_open_net(provider *p, const engine_config *cfg, const char **warning, error_info *err);
/* The headers every request carries: the key, the API version, the gateway's. 0, or -1 when
 * out of memory. */
int provider_build_headers(provider *p, const engine_config *cfg);
/* The Messages URL (text and parsed) and the pool of transfers' handles, made on first use.
 * Returns 0 or -1 (out of memory, or an endpoint curl cannot parse). */
int provider_open_transfers(provider *p);
/* Stops the simulator and frees the rest (not otel: otel_close, earlier, flushes it). */
void provider_free(provider *p);
/* Undoes provider_start, provider_open_net and provider_build_headers (the model table stays)
 * after a start that failed past them: the next start, once the host has set another option,
 * begins again from nothing rather than over what the failed one left (a second simulator,
 * the headers twice). */
void provider_unstart(provider *p);

#endif
