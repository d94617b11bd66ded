#define _POSIX_C_SOURCE 200809L
#include "provider.h"
#include "easy_pool.h"
#include "net.h"
#include "sim_host.h"

#include "cost/models.h"
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int start_sim(provider *p, const engine_config *cfg, char *notice, size_t size, error_info *err)
{
    sim_options opt;
    sim_options_default(&opt);
    opt.ttft_ms = cfg->sim_ttft_ms;
    opt.token_ms = cfg->sim_token_ms;
    opt.batch_delay_ms = cfg->sim_batch_ms;
    opt.batch_expiry_ms = cfg->sim_batch_expiry_ms;
    error_info why;
    error_clear(&why);
    p->sim_models = models_new_default(&why);
    if (p->sim_models && cfg->models_file && models_merge_file(p->sim_models, cfg->models_file, &why) != 0) {
        models_free(p->sim_models);
        p->sim_models = NULL;
    }
    sim_models sm = sim_host_models(p->sim_models);
    if (!p->sim_models || !(p->sim = sim_server_start(&sm, &opt, 0, &why))) {
        error_set(err, "invalid_argument", 0, "cannot start the built-in simulator: %s", why.message);
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", sim_server_port(p->sim));
    p->endpoint = strdup(url);
    p->name = "sim";
    snprintf(notice, size, "nyx: %s; calls go to the built-in Claude simulator (%s)",
             cfg->api_key ? "NYX_PROVIDER=sim" : "no API key set", url);
    return p->endpoint ? 0 : -1;
}

int provider_start(provider *p, const engine_config *cfg, char *notice, size_t size, error_info *err)
{
    notice[0] = '\0';
    /* ANTHROPIC_BASE_URL alone (no key) names a server to use, `nyx sim` most often: it gets
     * a placeholder key, as the built-in simulator does. */
    int use_sim = cfg->provider ? strcmp(cfg->provider, "sim") == 0 : !cfg->api_key && !cfg->base_url;
    if (use_sim)
        return start_sim(p, cfg, notice, size, err);
    if (!cfg->api_key && !cfg->base_url) {
        error_set(err, "invalid_argument", 0, "NYX_PROVIDER=anthropic needs ANTHROPIC_API_KEY (or CLAUDE_API_KEY), "
                                              "or ANTHROPIC_BASE_URL for a server that needs no key");
        return -1;
    }
    if (!cfg->api_key)
        snprintf(notice, size, "nyx: no API key set; calls go to ANTHROPIC_BASE_URL (%s) with a placeholder key",
                 cfg->base_url);
    p->name = "anthropic";
    p->endpoint = strdup(cfg->base_url ? cfg->base_url : "https://api.anthropic.com");
    return p->endpoint ? 0 : -1;
}

int provider_open_net(provider *p, const engine_config *cfg, const char **warning, error_info *err)
{
    p->net = net_open(cfg, p->endpoint, p->sim != NULL, warning, err);
    return p->net ? 0 : -1;
}

int provider_build_headers(provider *p, const engine_config *cfg)
{
    char key[512];
    snprintf(key, sizeof key, "x-api-key: %s", cfg->api_key ? cfg->api_key : "sim-key");
    const char *fixed[] = {key, "anthropic-version: 2023-06-01", "content-type: application/json",
                           "accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        struct curl_slist *h = curl_slist_append(p->headers, fixed[i]);
        if (!h) {
            memset(key, 0, sizeof key);
            return -1;
        }
        p->headers = h;
    }
    memset(key, 0, sizeof key);
    /* The Accept-Encoding line libcurl adds for CURLOPT_ACCEPT_ENCODING "" (which stays set on
     * every transfer: it turns the decoding on), made once here. Finding the header in the
     * list, libcurl leaves its own out, which it printed anew for every request, byte by byte
     * and twice (call_http.c). Where libcurl decodes nothing it still adds its own. */
    char encodings[96];
    struct curl_slist *h;
    if (net_accept_encoding(encodings, sizeof encodings) == 0) {
        if (!(h = curl_slist_append(p->headers, encodings)))
            return -1;
        p->headers = h;
    }
    return net_append_headers(p->net, &p->headers);
}

/* Idle handles the pool keeps: as many as calls usually finish in one loop turn and start again
 * in the next, so most calls take a used handle; each keeps about 10 KB. */
#define IDLE_HANDLES 64

int provider_open_transfers(provider *p)
{
    if (p->easies)
        return 0;
    size_t n = strlen(p->endpoint);
    size_t len = n + sizeof "/v1/messages";
    if (!(p->messages_url = malloc(len)))
        return -1;
    snprintf(p->messages_url, len, "%s%sv1/messages", p->endpoint, n > 0 && p->endpoint[n - 1] == '/' ? "" : "/");
    if (!(p->messages_curlu = curl_url()) ||
        curl_url_set(p->messages_curlu, CURLUPART_URL, p->messages_url, 0) != CURLUE_OK ||
        !(p->easies = easy_pool_new(IDLE_HANDLES))) {
        curl_url_cleanup(p->messages_curlu);
        free(p->messages_url);
        p->messages_curlu = NULL;
        p->messages_url = NULL;
        return -1;
    }
    return 0;
}

void provider_unstart(provider *p)
{
    sim_server_stop(p->sim);
    p->sim = NULL;
    models_free(p->sim_models); /* after sim_server_stop: its threads read it */
    p->sim_models = NULL;
    curl_slist_free_all(p->headers);
    p->headers = NULL;
    net_free(p->net);
    p->net = NULL;
    free(p->endpoint);
    p->endpoint = NULL;
}

void provider_free(provider *p)
{
    easy_pool_free(p->easies); /* before what the handles' options point at */
    p->easies = NULL;
    curl_url_cleanup(p->messages_curlu);
    p->messages_curlu = NULL;
    free(p->messages_url);
    p->messages_url = NULL;
    provider_unstart(p);
    models_free(p->models);
    p->models = NULL;
}
