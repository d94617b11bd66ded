/* fuzz-link: engine/core/config.c engine/core/net.c engine/claude/ engine/base/ */
/* A setting's value as the environment, `nyx config set`, nyx.config.set, the database and
 * nyx_set give it (engine/core/config.c's one parser): any text is, for every setting,
 * either refused with invalid_argument and a message that starts with the setting's name,
 * or accepted as a canonical text within the setting's type and range (a number finite and
 * within its bounds, a count whole, a boolean true or false, a choice one of its words, a
 * list of names) that the parser accepts again unchanged. NYX_EXTRA_HEADERS is taken only
 * when the whole text is one JSON object; NYX_HTTP_VERSION only as "2" or "1.1". */
#define _POSIX_C_SOURCE 200809L /* unsetenv */
#include "core/config.h"
#include "core/net.h"
#include "base/json_parse.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* canon, accepted for d, is within d's type and range. */
static void check_canonical(const setting_def *d, const char *canon)
{
    char *end = NULL;
    switch (d->kind) {
    case SET_BOOL:
        if (strcmp(canon, "true") != 0 && strcmp(canon, "false") != 0)
            abort();
        break;
    case SET_COUNT: {
        errno = 0;
        long v = strtol(canon, &end, 10);
        if (errno != 0 || *end || v < d->min || v > d->max)
            abort();
        break;
    }
    case SET_NUMBER: {
        double v = strtod(canon, &end);
        if (*end || !isfinite(v) || v < d->min || (d->min_open && v <= d->min) || v > d->max)
            abort();
        break;
    }
    case SET_LIST:
        if (!*canon || strstr(canon, ",,") || canon[0] == ',' || canon[strlen(canon) - 1] == ',' ||
            strpbrk(canon, " \t"))
            abort();
        break;
    case SET_TEXT:
    case SET_CHOICE: break;
    }
    if (d->choices) {
        size_t n = strlen(canon);
        const char *at = strstr(d->choices, canon);
        if (!n || !at || (at != d->choices && at[-1] != '|') || (at[n] && at[n] != '|'))
            abort();
    }
}

static void check_setting(const setting_def *d, const char *text)
{
    char label[120];
    setting_label(d, label, sizeof label);
    error_info err;
    error_clear(&err);
    char *canon = setting_check(d, label, text, &err);
    if (!canon) {
        if (strcmp(err.type, "out_of_memory") == 0)
            return;
        if (strcmp(err.type, "invalid_argument") != 0 || !starts_with(err.message, label))
            abort();
        return;
    }
    check_canonical(d, canon);
    error_clear(&err);
    char *again = setting_check(d, label, canon, &err);
    if (again && strcmp(again, canon) != 0)
        abort();
    if (!again && strcmp(err.type, "out_of_memory") != 0)
        abort(); /* the canonical text of a value is a value */
    engine_config c;
    memset(&c, 0, sizeof c);
    if (setting_store(&c, d, canon) != 0 && d->kind != SET_TEXT)
        abort(); /* only a text is copied, and can run out of memory */
    config_free(&c);
    free(again);
    free(canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the CA files the network check reads are this machine's, not the input's */
    unsetenv("SSL_CERT_FILE");
    unsetenv("CURL_CA_BUNDLE");
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    size_t n = 0;
    const setting_def *defs = setting_defs(&n);
    for (size_t i = 0; i < n; i++)
        check_setting(&defs[i], text);

    /* nyx_set: an option it knows is checked as above; any other is named as unknown */
    engine_config c;
    memset(&c, 0, sizeof c);
    static const char *const options[] = {"db", "provider", "base_url", "debug", "no_such_option"};
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
        error_info err;
        error_clear(&err);
        if (config_set_option(&c, options[i], text, &err) != 0 && strcmp(err.type, "invalid_argument") != 0 &&
            strcmp(err.type, "out_of_memory") != 0)
            abort();
    }
    error_info err;
    error_clear(&err);
    if (config_set_option(&c, text, "1", &err) == 0) {
        if (strcmp(text, "debug") != 0 && strcmp(text, "provider") != 0 && strcmp(text, "db") != 0 &&
            strcmp(text, "base_url") != 0)
            abort(); /* set an option that is none */
    } else if (strcmp(err.type, "invalid_argument") != 0 && strcmp(err.type, "out_of_memory") != 0) {
        abort();
    }
    config_free(&c);

    int b = -1;
    if (config_parse_bool(text, &b) == 0 && b != 0 && b != 1)
        abort();

    error_clear(&err);
    if (config_check_api_key(text, "ANTHROPIC_API_KEY", &err) != 0 &&
        !starts_with(err.message, "ANTHROPIC_API_KEY holds a control character"))
        abort();

    /* the gateway's headers and the HTTP version, as the environment gives them */
    engine_config net_cfg;
    memset(&net_cfg, 0, sizeof net_cfg);
    net_cfg.extra_headers = text;
    error_clear(&err);
    if (net_check_config(&net_cfg, &err) == 0) {
        error_info whole;
        error_clear(&whole);
        cJSON *root = json_parse_whole(text, strlen(text), &whole);
        if (!cJSON_IsObject(root))
            abort(); /* taken: the whole text is one object */
        cJSON_Delete(root);
    } else if (!starts_with(err.message, "NYX_EXTRA_HEADERS") && strcmp(err.type, "out_of_memory") != 0) {
        abort();
    }
    net_cfg.extra_headers = NULL;
    net_cfg.http_version = text;
    error_clear(&err);
    int taken = net_check_config(&net_cfg, &err) == 0;
    if (taken != (strcmp(text, "2") == 0 || strcmp(text, "1.1") == 0))
        abort();
    free(text);
    return 0;
}
