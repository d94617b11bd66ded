/* OpenTelemetry export over OTLP/HTTP JSON. Spans and measurements wait in bounded queues and
 * leave in batches from the loop (a timer a second after the first one queued, at once when a
 * batch is full); one post of each signal is in flight at a time. A batch the collector does
 * not take is dropped and counted: nothing waits on a collector, nothing grows without bound.
 * Message content only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks for it, and
 * then as the store keeps prompts: redacted unless the storage mode is "full", none with "none". */
#define _GNU_SOURCE
#include "otel.h"

#include "call_internal.h"
#include "base/clock.h"
#include "base/json_print.h"
#include "base/random.h"
#include "base/text.h"
#include "net.h"
#include "otel_content.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OTEL_BATCH 512          /* spans in one post */
#define OTEL_QUEUE_MAX 2048     /* spans waiting; more are dropped */
#define OTEL_FLUSH_S 1.0        /* a span waits at most this long before its batch leaves */
#define OTEL_POST_TIMEOUT_MS 10000L /* OTLP's default export timeout */
#define OTEL_CLOSE_WAIT_S 3.0   /* what closing the engine waits for the last batches */
#define OTEL_SERIES_MAX 256     /* metric series (model x outcome x token type) per batch */

enum { SPAN_KIND_INTERNAL = 1, SPAN_KIND_CLIENT = 3 };
enum { STATUS_ERROR = 2 };
enum { SERIES_INPUT, SERIES_OUTPUT, SERIES_DURATION, SERIES_FIRST_CHUNK };

/* The conventions' advisory bucket boundaries. */
static const double token_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144,
                                      1048576, 4194304, 16777216, 67108864};
static const double duration_bounds[] = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
                                         1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
#define NBOUNDS (sizeof token_bounds / sizeof token_bounds[0])

typedef struct series {
    int kind;
    char model[128], served[128], error[40];
    uint64_t buckets[NBOUNDS + 1], count;
    double sum, min, max;
} series;

/* One signal's post in flight. */
typedef struct post {
    struct otel *o;
    CURL *easy;
    char *body;
    int items; /* spans or measurements it carries, counted when dropped */
} post;

typedef struct otel {
    nyx_engine *e;
    char *traces_url, *metrics_url;
    struct curl_slist *headers;
    cJSON *resource;
    cJSON *spans;
    int nspans;
    series *series;
    size_t nseries;
    int measurements;
    double window_start; /* wall time the metrics' delta window began */
    post *traces_post, *metrics_post;
    loop_timer *timer;
    int flush_deferred;
    int64_t dropped, dropped_batches;
    int warned, closing;
    int content; /* messages on chat spans: CONTENT_OFF, _AS_WRITTEN or _REDACTED */
    char last_problem[200];
} otel;

enum { CONTENT_OFF, CONTENT_AS_WRITTEN, CONTENT_REDACTED };

/* ---- settings ---- */

static int add_attr_string(cJSON *attrs, const char *key, const char *value);

/* "k=v,k2=v2" with percent-encoded values (the W3C baggage form the variables use); fn gets
 * each pair decoded. Returns 0, or -1 with err naming the variable. */
static int parse_pairs(const char *var, const char *text, int (*fn)(void *ud, const char *k, const char *v),
                       void *ud, error_info *err)
{
    char *copy = strdup(text), *save = NULL;
    if (!copy) {
        error_set(err, "out_of_memory", 0, "out of memory reading %s", var);
        return -1;
    }
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ' || *item == '\t')
            item++;
        if (!*item)
            continue;
        char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            /* the entry itself is not repeated: it may hold a token */
            error_set(err, "invalid_argument", 0, "%s must be key=value pairs separated by commas", var);
            rc = -1;
            break;
        }
        *eq = '\0';
        for (char *end = eq - 1; end > item && (*end == ' ' || *end == '\t'); end--)
            *end = '\0';
        char *value = eq + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        for (char *end = value + strlen(value); end > value && (end[-1] == ' ' || end[-1] == '\t');)
            *--end = '\0';
        int n = 0;
        char *k = curl_easy_unescape(NULL, item, 0, &n);
        char *v = curl_easy_unescape(NULL, value, 0, &n);
        if (!k || !v) {
            error_set(err, "out_of_memory", 0, "out of memory reading %s", var);
            rc = -1;
        } else if (fn(ud, k, v) != 0) {
            error_set(err, "invalid_argument", 0, "%s: the entry for \"%.40s\" is not allowed", var, k);
            rc = -1;
        }
        curl_free(k);
        curl_free(v);
    }
    free(copy);
    return rc;
}

static int add_header(void *ud, const char *k, const char *v)
{
    otel *o = ud;
    if (strpbrk(k, ": \r\n") || strpbrk(v, "\r\n"))
        return -1;
    char line[1024];
    if (snprintf(line, sizeof line, "%s: %s", k, v) >= (int)sizeof line)
        return -1;
    struct curl_slist *l = curl_slist_append(o->headers, line);
    if (!l)
        return -1;
    o->headers = l;
    return 0;
}

/* Resource attributes; service.name is set apart (OTEL_SERVICE_NAME wins over it). */
static int add_resource_attr(void *ud, const char *k, const char *v)
{
    cJSON *attrs = ud;
    if (strcmp(k, "service.name") == 0)
        return 0;
    return add_attr_string(attrs, k, v);
}

static int find_service_name(void *ud, const char *k, const char *v)
{
    char *name = ud;
    if (strcmp(k, "service.name") == 0)
        snprintf(name, 256, "%s", v);
    return 0;
}

static char *signal_url(const char *own, const char *base, const char *path)
{
    if (own && *own)
        return strdup(own); /* a signal's own endpoint is used as given */
    if (!base || !*base)
        return NULL;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *url = malloc(n + strlen(path) + 1);
    if (url) {
        memcpy(url, base, n);
        strcpy(url + n, path);
    }
    return url;
}

static void otel_free(otel *o)
{
    if (!o)
        return;
    free(o->traces_url);
    free(o->metrics_url);
    curl_slist_free_all(o->headers);
    cJSON_Delete(o->resource);
    cJSON_Delete(o->spans);
    free(o->series);
    free(o);
}

/* OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER: 1 to export the signal, 0 for "none", -1
 * for an exporter nyx does not have. */
static int exporter_on(const char *var, const char *value, error_info *err)
{
    if (!value || !*value || strcmp(value, "otlp") == 0)
        return 1;
    if (strcmp(value, "none") == 0)
        return 0;
    error_set(err, "invalid_argument", 0, "%s must be \"otlp\" or \"none\", got \"%.40s\"", var, value);
    return -1;
}

int otel_open(nyx_engine *e, error_info *err)
{
    const engine_config *cfg = &e->cfg;
    e->provider.otel = NULL;
    if (cfg->otel_disabled)
        return 0;
    int traces = exporter_on("OTEL_TRACES_EXPORTER", cfg->otel_traces_exporter, err);
    int metrics = exporter_on("OTEL_METRICS_EXPORTER", cfg->otel_metrics_exporter, err);
    if (traces < 0 || metrics < 0)
        return -1;
    int content = otel_content_wanted(cfg->otel_capture_content);
    if (content < 0) {
        error_set(err, "invalid_argument", 0,
                      "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT must be true or false, got \"%.40s\"",
                      cfg->otel_capture_content);
        return -1;
    }
    int any = (cfg->otel_endpoint && *cfg->otel_endpoint) || (cfg->otel_traces_endpoint && *cfg->otel_traces_endpoint) ||
              (cfg->otel_metrics_endpoint && *cfg->otel_metrics_endpoint);
    if (!any)
        return 0;
    otel *o = calloc(1, sizeof *o);
    if (!o) {
        error_set(err, "out_of_memory", 0, "out of memory setting up OpenTelemetry");
        return -1;
    }
    o->e = e;
    o->traces_url = traces ? signal_url(cfg->otel_traces_endpoint, cfg->otel_endpoint, "/v1/traces") : NULL;
    o->metrics_url = metrics ? signal_url(cfg->otel_metrics_endpoint, cfg->otel_endpoint, "/v1/metrics") : NULL;
    o->resource = cJSON_CreateObject();
    o->spans = cJSON_CreateArray();
    cJSON *attrs = o->resource ? cJSON_AddArrayToObject(o->resource, "attributes") : NULL;
    struct curl_slist *ct = curl_slist_append(NULL, "Content-Type: application/json");
    o->headers = ct;
    if (!o->traces_url && !o->metrics_url) { /* no signal left to export (set to "none") */
        otel_free(o);
        return 0;
    }
    if (!attrs || !o->spans || !ct) {
        otel_free(o);
        error_set(err, "out_of_memory", 0, "out of memory setting up OpenTelemetry");
        return -1;
    }
    char service[256] = "nyx";
    if ((cfg->otel_headers && parse_pairs("OTEL_EXPORTER_OTLP_HEADERS", cfg->otel_headers, add_header, o, err) != 0) ||
        (cfg->otel_resource_attributes &&
         (parse_pairs("OTEL_RESOURCE_ATTRIBUTES", cfg->otel_resource_attributes, find_service_name, service, err) != 0 ||
          parse_pairs("OTEL_RESOURCE_ATTRIBUTES", cfg->otel_resource_attributes, add_resource_attr, attrs, err) != 0))) {
        otel_free(o);
        return -1;
    }
    if (cfg->otel_service_name && *cfg->otel_service_name)
        snprintf(service, sizeof service, "%s", cfg->otel_service_name);
    if (add_attr_string(attrs, "service.name", service) != 0 ||
        add_attr_string(attrs, "telemetry.sdk.name", "nyx") != 0 ||
        add_attr_string(attrs, "telemetry.sdk.language", "c") != 0 ||
        add_attr_string(attrs, "telemetry.sdk.version", NYX_VERSION) != 0) {
        otel_free(o);
        error_set(err, "out_of_memory", 0, "out of memory setting up OpenTelemetry");
        return -1;
    }
    /* Content follows the storage mode, as stored prompts do (storage_mode is always set). */
    if (content)
        o->content = strcmp(cfg->storage_mode, "full") == 0   ? CONTENT_AS_WRITTEN
                     : strcmp(cfg->storage_mode, "none") == 0 ? CONTENT_OFF
                                                              : CONTENT_REDACTED;
    o->window_start = clock_wall_s();
    e->provider.otel = o;
    return 0;
}

/* ---- attributes ---- */

static int add_attr(cJSON *attrs, const char *key, const char *type, cJSON *v)
{
    cJSON *a = cJSON_CreateObject(), *value = cJSON_CreateObject();
    if (!a || !value || !v || !cJSON_AddStringToObject(a, "key", key)) {
        cJSON_Delete(a);
        cJSON_Delete(value);
        cJSON_Delete(v);
        return -1;
    }
    cJSON_AddItemToObject(value, type, v);
    cJSON_AddItemToObject(a, "value", value);
    cJSON_AddItemToArray(attrs, a);
    return 0;
}

static int add_attr_string(cJSON *attrs, const char *key, const char *value)
{
    return add_attr(attrs, key, "stringValue", cJSON_CreateString(value ? value : ""));
}

static int add_attr_int(cJSON *attrs, const char *key, int64_t value)
{
    char n[24]; /* OTLP JSON writes 64-bit integers as strings */
    snprintf(n, sizeof n, "%lld", (long long)value);
    return add_attr(attrs, key, "intValue", cJSON_CreateString(n));
}

static int add_attr_double(cJSON *attrs, const char *key, double value)
{
    return add_attr(attrs, key, "doubleValue", cJSON_CreateNumber(value));
}

static int add_attr_bool(cJSON *attrs, const char *key, int value)
{
    return add_attr(attrs, key, "boolValue", cJSON_CreateBool(value));
}

static void add_nanos(cJSON *obj, const char *key, double wall_s)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)(wall_s * 1e9));
    cJSON_AddStringToObject(obj, key, n);
}

/* A random id of bytes (8 or 16) bytes as lowercase hex, NUL-terminated. */
static void random_hex(char *out, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 8)
        text_hex(out + 2 * i, random_u64(), 16);
    out[2 * bytes] = '\0';
}

/* ---- sending ---- */

/* One warning, at the first drop (or at close, with the total, when the first drop happens
 * then); later drops are only counted. */
static void note_dropped(otel *o, int items, const char *why)
{
    o->dropped += items;
    o->dropped_batches++;
    snprintf(o->last_problem, sizeof o->last_problem, "%s", why);
    if (o->warned || o->closing)
        return;
    o->warned = 1;
    engine_log(o->e, NYX_LOG_WARN,
               "nyx: OpenTelemetry: the collector did not take a batch (%s); %d item(s) dropped, further drops "
               "are only counted",
               why, items);
}

static void post_free(post *p)
{
    if (!p)
        return;
    if (p->easy)
        curl_easy_cleanup(p->easy);
    free(p->body);
    free(p);
}

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

static void post_done(void *ud, CURLcode result)
{
    post *p = ud;
    otel *o = p->o;
    long code = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
    if (result != CURLE_OK)
        note_dropped(o, p->items, curl_easy_strerror(result));
    else if (code < 200 || code > 299) {
        char why[40];
        snprintf(why, sizeof why, "HTTP %ld", code);
        note_dropped(o, p->items, why);
    }
    if (o->traces_post == p)
        o->traces_post = NULL;
    if (o->metrics_post == p)
        o->metrics_post = NULL;
    post_free(p);
}

/* Posts doc (taken) to url; the post is kept in *slot while in flight. */
static void send_doc(otel *o, const char *url, cJSON *doc, int items, post **slot)
{
    post *p = calloc(1, sizeof *p);
    char *body = doc ? json_print(doc) : NULL;
    cJSON_Delete(doc);
    CURL *easy = p && body ? curl_easy_init() : NULL;
    if (!easy) {
        free(p);
        free(body);
        note_dropped(o, items, "out of memory");
        return;
    }
    *p = (post){o, easy, body, items};
    int ok = curl_easy_setopt(easy, CURLOPT_URL, url) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_HTTPHEADER, o->headers) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, OTEL_POST_TIMEOUT_MS) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
             net_transfer_basics(easy) == 0; /* a collector's name that does not resolve blocks nothing */
    if (!ok || loop_add_transfer_background(o->e->loop, easy, post_done, p) != 0) {
        note_dropped(o, items, "the transfer could not start");
        post_free(p);
        return;
    }
    *slot = p;
}

static cJSON *envelope(otel *o, const char *top, const char *scopes, const char *items_key, cJSON *items)
{
    cJSON *doc = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(doc, top);
    cJSON *rs = cJSON_CreateObject(), *res = cJSON_Duplicate(o->resource, 1);
    cJSON *ss = cJSON_CreateObject(), *scope = cJSON_CreateObject();
    if (!doc || !list || !rs || !res || !ss || !scope || !items) {
        cJSON_Delete(doc);
        cJSON_Delete(rs);
        cJSON_Delete(res);
        cJSON_Delete(ss);
        cJSON_Delete(scope);
        cJSON_Delete(items);
        return NULL;
    }
    cJSON_AddItemToArray(list, rs);
    cJSON_AddItemToObject(rs, "resource", res);
    cJSON *sl = cJSON_AddArrayToObject(rs, scopes);
    cJSON_AddStringToObject(scope, "name", "nyx");
    cJSON_AddStringToObject(scope, "version", NYX_VERSION);
    cJSON_AddItemToObject(ss, "scope", scope);
    cJSON_AddItemToObject(ss, items_key, items);
    if (!sl) {
        cJSON_Delete(ss);
        cJSON_Delete(doc);
        return NULL;
    }
    cJSON_AddItemToArray(sl, ss);
    return doc;
}

static void send_spans(otel *o)
{
    if (o->traces_post || o->nspans == 0)
        return;
    /* At most a batch per post; the rest follows when this one is answered. */
    cJSON *batch = cJSON_CreateArray();
    int n = 0;
    while (batch && n < OTEL_BATCH && o->spans->child) {
        cJSON_AddItemToArray(batch, cJSON_DetachItemViaPointer(o->spans, o->spans->child));
        n++;
    }
    o->nspans -= n;
    if (!batch) {
        return;
    }
    send_doc(o, o->traces_url, envelope(o, "resourceSpans", "scopeSpans", "spans", batch), n, &o->traces_post);
}

static cJSON *histogram_point(const series *s, double start, double now)
{
    cJSON *p = cJSON_CreateObject(), *attrs = p ? cJSON_AddArrayToObject(p, "attributes") : NULL;
    if (!attrs) {
        cJSON_Delete(p);
        return NULL;
    }
    add_attr_string(attrs, "gen_ai.operation.name", "chat");
    add_attr_string(attrs, "gen_ai.provider.name", "anthropic");
    add_attr_string(attrs, "gen_ai.request.model", s->model);
    if (s->served[0])
        add_attr_string(attrs, "gen_ai.response.model", s->served);
    if (s->kind < SERIES_DURATION)
        add_attr_string(attrs, "gen_ai.token.type", s->kind == SERIES_INPUT ? "input" : "output");
    if (s->error[0])
        add_attr_string(attrs, "error.type", s->error);
    add_nanos(p, "startTimeUnixNano", start);
    add_nanos(p, "timeUnixNano", now);
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)s->count);
    cJSON_AddStringToObject(p, "count", n);
    cJSON_AddNumberToObject(p, "sum", s->sum);
    cJSON_AddNumberToObject(p, "min", s->min);
    cJSON_AddNumberToObject(p, "max", s->max);
    cJSON *counts = cJSON_AddArrayToObject(p, "bucketCounts");
    cJSON *bounds = cJSON_AddArrayToObject(p, "explicitBounds");
    const double *b = s->kind >= SERIES_DURATION ? duration_bounds : token_bounds;
    for (size_t i = 0; counts && bounds && i <= NBOUNDS; i++) {
        snprintf(n, sizeof n, "%llu", (unsigned long long)s->buckets[i]);
        cJSON_AddItemToArray(counts, cJSON_CreateString(n));
        if (i < NBOUNDS)
            cJSON_AddItemToArray(bounds, cJSON_CreateNumber(b[i]));
    }
    return p;
}

static cJSON *histogram(const char *name, const char *unit, const char *description, cJSON **points)
{
    cJSON *m = cJSON_CreateObject(), *h = cJSON_CreateObject();
    *points = h ? cJSON_AddArrayToObject(h, "dataPoints") : NULL;
    if (!m || !*points) {
        cJSON_Delete(m);
        cJSON_Delete(h);
        return NULL;
    }
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "unit", unit);
    cJSON_AddStringToObject(m, "description", description);
    cJSON_AddNumberToObject(h, "aggregationTemporality", 1); /* delta: each post, its window */
    cJSON_AddItemToObject(m, "histogram", h);
    return m;
}

static void send_metrics(otel *o)
{
    if (o->metrics_post || o->nseries == 0)
        return;
    double now = clock_wall_s();
    cJSON *metrics = cJSON_CreateArray(), *points[3] = {NULL, NULL, NULL};
    cJSON *m[3] = {
        histogram("gen_ai.client.token.usage", "{token}", "Number of input and output tokens used", &points[0]),
        histogram("gen_ai.client.operation.duration", "s", "GenAI operation duration", &points[1]),
        histogram("gen_ai.client.operation.time_to_first_chunk", "s",
                  "Time to receive the first chunk of a streamed response", &points[2]),
    };
    if (metrics && m[0] && m[1] && m[2]) {
        for (size_t i = 0; i < o->nseries; i++) {
            int kind = o->series[i].kind;
            cJSON *p = histogram_point(&o->series[i], o->window_start, now);
            if (p)
                cJSON_AddItemToArray(points[kind == SERIES_FIRST_CHUNK ? 2 : kind == SERIES_DURATION ? 1 : 0], p);
        }
        for (int k = 0; k < 3; k++)
            if (cJSON_GetArraySize(points[k]) > 0) { /* only what has points */
                cJSON_AddItemToArray(metrics, m[k]);
                m[k] = NULL;
            }
    }
    for (int k = 0; k < 3; k++)
        cJSON_Delete(m[k]);
    int items = o->measurements;
    o->nseries = 0;
    o->measurements = 0;
    o->window_start = now;
    send_doc(o, o->metrics_url, envelope(o, "resourceMetrics", "scopeMetrics", "metrics", metrics), items,
             &o->metrics_post);
}

static void flush(otel *o)
{
    if (o->traces_url)
        send_spans(o);
    if (o->metrics_url)
        send_metrics(o);
}

static void flush_due(void *ud)
{
    otel *o = ud;
    o->timer = NULL;
    flush(o);
    if (o->nspans > 0 || o->nseries > 0) /* waiting behind a post in flight */
        o->timer = loop_timer_add_background(o->e->loop, OTEL_FLUSH_S, flush_due, o);
}

static void flush_now(void *ud)
{
    nyx_engine *e = ud; /* the exporter may be gone by then */
    if (e->provider.otel) {
        e->provider.otel->flush_deferred = 0;
        send_spans(e->provider.otel);
    }
}

static void arm(otel *o)
{
    if (!o->timer)
        o->timer = loop_timer_add_background(o->e->loop, OTEL_FLUSH_S, flush_due, o);
    if (o->nspans >= OTEL_BATCH && !o->flush_deferred && !o->traces_post)
        o->flush_deferred = loop_defer(o->e->loop, flush_now, o->e) == 0;
}

/* ---- what a call leaves ---- */

static void measure(otel *o, int kind, const api_call *c, double value)
{
    const call_outcome *r = &c->result;
    const char *model = call_route_model(c), *served = r->resp.model ? r->resp.model : "";
    /* error.type is an attribute of the duration metrics; the token usage metric has none
     * (the conventions list none for it): a failed call's tokens join its model's series. */
    const char *error = kind >= SERIES_DURATION ? call_outcome_error(r)->type : "";
    series *s = NULL;
    for (size_t i = 0; i < o->nseries && !s; i++)
        if (o->series[i].kind == kind && strcmp(o->series[i].model, model) == 0 &&
            strcmp(o->series[i].served, served) == 0 && strcmp(o->series[i].error, error) == 0)
            s = &o->series[i];
    if (!s) {
        if (o->nseries >= OTEL_SERIES_MAX) {
            note_dropped(o, 1, "too many metric series");
            return;
        }
        if (!o->series && !(o->series = calloc(OTEL_SERIES_MAX, sizeof *o->series)))
            return;
        s = &o->series[o->nseries++];
        memset(s, 0, sizeof *s);
        s->kind = kind;
        snprintf(s->model, sizeof s->model, "%s", model);
        snprintf(s->served, sizeof s->served, "%s", served);
        snprintf(s->error, sizeof s->error, "%s", error);
        s->min = s->max = value;
    }
    const double *b = kind >= SERIES_DURATION ? duration_bounds : token_bounds;
    size_t i = 0;
    while (i < NBOUNDS && value > b[i])
        i++;
    s->buckets[i]++;
    s->count++;
    s->sum += value;
    if (value < s->min)
        s->min = value;
    if (value > s->max)
        s->max = value;
    o->measurements++;
}

static cJSON *new_span(const char *name, int kind, const char *trace, const char *id, const char *parent,
                       double start, double end, cJSON **attrs)
{
    cJSON *s = cJSON_CreateObject();
    *attrs = NULL;
    if (!s)
        return NULL;
    cJSON_AddStringToObject(s, "traceId", trace);
    cJSON_AddStringToObject(s, "spanId", id);
    if (parent)
        cJSON_AddStringToObject(s, "parentSpanId", parent);
    cJSON_AddStringToObject(s, "name", name);
    cJSON_AddNumberToObject(s, "kind", kind);
    add_nanos(s, "startTimeUnixNano", start);
    add_nanos(s, "endTimeUnixNano", end);
    *attrs = cJSON_AddArrayToObject(s, "attributes");
    if (!*attrs) {
        cJSON_Delete(s);
        return NULL;
    }
    return s;
}

static void set_error(cJSON *span, cJSON *attrs, const call_outcome *r)
{
    if (r->status == NYX_STATUS_OK)
        return;
    const error_info *err = call_outcome_error(r);
    add_attr_string(attrs, "error.type", err->type[0] ? err->type : "_OTHER");
    cJSON *st = cJSON_AddObjectToObject(span, "status");
    if (st) {
        cJSON_AddNumberToObject(st, "code", STATUS_ERROR);
        cJSON_AddStringToObject(st, "message", err->message); /* the engine's words, no content */
    }
}

static void queue_span(otel *o, cJSON *span)
{
    if (!span)
        return;
    if (o->nspans >= OTEL_QUEUE_MAX) {
        cJSON_Delete(span);
        note_dropped(o, 1, "the queue is full");
        return;
    }
    cJSON_AddItemToArray(o->spans, span);
    o->nspans++;
}

/* The opt-in content attributes (JSON texts, as the conventions allow where an attribute
 * cannot hold structure). Out of memory, the span goes without them. */
static void add_content(otel *o, cJSON *attrs, const api_call *c)
{
    otel_content m;
    const claude_response *reply = c->result.status == NYX_STATUS_OK ? &c->result.resp : NULL;
    char *flat = c->body ? NULL : claude_body_flatten(&c->parts); /* the call let its own go */
    int rc = otel_content_build(c->body ? c->body : flat, reply, o->content == CONTENT_REDACTED, &m);
    free(flat);
    if (rc != 0)
        return;
    if (m.system)
        add_attr_string(attrs, "gen_ai.system_instructions", m.system);
    if (m.input)
        add_attr_string(attrs, "gen_ai.input.messages", m.input);
    if (m.output)
        add_attr_string(attrs, "gen_ai.output.messages", m.output);
    otel_content_free(&m);
}

static void call_spans(otel *o, api_call *c)
{
    call_outcome *r = &c->result;
    const claude_usage *u = &r->resp.usage;
    const char *model = call_route_model(c);
    double end = clock_wall_s(), start = end - r->latency_ms / 1000.0;
    char trace[33], id[17], agent_id[17], name[200];
    random_hex(trace, 16);
    random_hex(id, 8);
    cJSON *attrs;
    if (c->spec.agent) { /* the agent's step, with its call inside */
        random_hex(agent_id, 8);
        snprintf(name, sizeof name, "invoke_agent %s", c->spec.agent);
        cJSON *span = new_span(name, SPAN_KIND_INTERNAL, trace, agent_id, NULL, start, end, &attrs);
        if (span) {
            add_attr_string(attrs, "gen_ai.operation.name", "invoke_agent");
            add_attr_string(attrs, "gen_ai.provider.name", "anthropic");
            add_attr_string(attrs, "gen_ai.agent.name", c->spec.agent);
            add_attr_string(attrs, "gen_ai.request.model", model);
            if (c->spec.session)
                add_attr_string(attrs, "gen_ai.conversation.id", c->spec.session);
            set_error(span, attrs, r);
        }
        queue_span(o, span);
    }
    snprintf(name, sizeof name, "chat %s", model);
    cJSON *span = new_span(name, SPAN_KIND_CLIENT, trace, id, c->spec.agent ? agent_id : NULL, start, end, &attrs);
    if (!span)
        return;
    add_attr_string(attrs, "gen_ai.operation.name", "chat");
    add_attr_string(attrs, "gen_ai.provider.name", "anthropic");
    add_attr_string(attrs, "gen_ai.request.model", model);
    add_attr_int(attrs, "gen_ai.request.max_tokens", c->spec.req.max_tokens);
    if (c->spec.req.temperature >= 0)
        add_attr_double(attrs, "gen_ai.request.temperature", c->spec.req.temperature);
    if (c->spec.session)
        add_attr_string(attrs, "gen_ai.conversation.id", c->spec.session);
    if (c->spec.agent)
        add_attr_string(attrs, "gen_ai.agent.name", c->spec.agent);
    if (r->resp.id)
        add_attr_string(attrs, "gen_ai.response.id", r->resp.id);
    if (r->resp.model)
        add_attr_string(attrs, "gen_ai.response.model", r->resp.model);
    if (r->resp.stop_reason) {
        cJSON *reasons = cJSON_CreateObject(), *values = reasons ? cJSON_AddArrayToObject(reasons, "values") : NULL;
        cJSON *one = cJSON_CreateObject();
        if (values && one && cJSON_AddStringToObject(one, "stringValue", r->resp.stop_reason)) {
            cJSON_AddItemToArray(values, one);
            one = NULL;
            add_attr(attrs, "gen_ai.response.finish_reasons", "arrayValue", reasons);
            reasons = NULL;
        }
        cJSON_Delete(one);
        cJSON_Delete(reasons);
    }
    /* Anthropic's input_tokens leaves out cached tokens; the conventions count them. */
    add_attr_int(attrs, "gen_ai.usage.input_tokens",
                 u->input_tokens + u->cache_read_input_tokens + u->cache_creation_input_tokens);
    add_attr_int(attrs, "gen_ai.usage.output_tokens", u->output_tokens);
    add_attr_int(attrs, "gen_ai.usage.cache_read.input_tokens", u->cache_read_input_tokens);
    add_attr_int(attrs, "gen_ai.usage.cache_creation.input_tokens", u->cache_creation_input_tokens);
    if (r->has_cost) {
        add_attr_double(attrs, "nyx.cost_usd", r->cost.cost_usd);
        add_attr_double(attrs, "nyx.saved_usd", r->cost.saved_usd);
    }
    if (r->interaction_id[0])
        add_attr_string(attrs, "nyx.interaction.id", r->interaction_id);
    add_attr_int(attrs, "nyx.attempts", r->attempts);
    if (r->from_cache)
        add_attr_bool(attrs, "nyx.from_response_cache", 1);
    if (o->content != CONTENT_OFF)
        add_content(o, attrs, c);
    set_error(span, attrs, r);
    queue_span(o, span);
    memcpy(r->trace_id, trace, sizeof r->trace_id);
    memcpy(r->span_id, id, sizeof r->span_id);
}

static int is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

void otel_tool_finished(nyx_engine *e, const otel_tool *t)
{
    otel *o = e->provider.otel;
    if (!o || !o->traces_url)
        return;
    double end = clock_wall_s(), start = end - (clock_now_s() - t->started);
    char trace[33], id[17], name[200];
    int child = is_hex(t->trace_id, 32) && is_hex(t->parent_id, 16);
    if (child)
        memcpy(trace, t->trace_id, sizeof trace);
    else
        random_hex(trace, 16);
    random_hex(id, 8);
    snprintf(name, sizeof name, "execute_tool %s", t->name);
    cJSON *attrs;
    cJSON *span = new_span(name, SPAN_KIND_INTERNAL, trace, id, child ? t->parent_id : NULL, start, end, &attrs);
    if (!span)
        return;
    add_attr_string(attrs, "gen_ai.operation.name", "execute_tool");
    add_attr_string(attrs, "gen_ai.provider.name", "anthropic");
    add_attr_string(attrs, "gen_ai.tool.name", t->name);
    add_attr_string(attrs, "gen_ai.tool.type", "function");
    if (t->call_id)
        add_attr_string(attrs, "gen_ai.tool.call.id", t->call_id);
    if (t->session)
        add_attr_string(attrs, "gen_ai.conversation.id", t->session);
    if (t->agent)
        add_attr_string(attrs, "gen_ai.agent.name", t->agent);
    if (t->error_type) {
        add_attr_string(attrs, "error.type", t->error_type);
        cJSON *st = cJSON_AddObjectToObject(span, "status");
        if (st)
            cJSON_AddNumberToObject(st, "code", STATUS_ERROR);
    }
    queue_span(o, span);
    arm(o);
}

void otel_call_finished(nyx_engine *e, api_call *c)
{
    otel *o = e->provider.otel;
    if (!o)
        return;
    if (o->traces_url)
        call_spans(o, c);
    if (o->metrics_url) {
        const claude_usage *u = &c->result.resp.usage;
        measure(o, SERIES_DURATION, c, c->result.latency_ms / 1000.0);
        if (c->spec.req.stream && c->result.ttfb_ms > 0) /* streamed: when its first bytes came */
            measure(o, SERIES_FIRST_CHUNK, c, c->result.ttfb_ms / 1000.0);
        /* Every call that used tokens, as its span and its record have them: a call that failed
         * after its response began (a stream cut or stopped) is billed for them, and left out
         * its tokens were missing from the metric. */
        int64_t in = u->input_tokens + u->cache_read_input_tokens + u->cache_creation_input_tokens;
        if (c->result.status == NYX_STATUS_OK || in > 0 || u->output_tokens > 0) {
            measure(o, SERIES_INPUT, c, (double)in);
            measure(o, SERIES_OUTPUT, c, (double)u->output_tokens);
        }
    }
    arm(o);
}

void otel_get_counts(const nyx_engine *e, otel_counts *out)
{
    const otel *o = e->provider.otel;
    *out = (otel_counts){0, 0, 0};
    if (o)
        *out = (otel_counts){o->nspans, o->dropped, o->dropped_batches};
}

void otel_close(nyx_engine *e)
{
    otel *o = e->provider.otel;
    if (!o)
        return;
    loop_timer_cancel(e->loop, o->timer);
    o->timer = NULL;
    o->closing = 1;
    /* The last batches, waiting a bounded time: a dead collector refuses at once. */
    double until = clock_now_s() + OTEL_CLOSE_WAIT_S;
    for (;;) {
        flush(o);
        if (!o->traces_post && !o->metrics_post)
            break;
        if (clock_now_s() >= until)
            break;
        loop_poll(e->loop, 50);
    }
    post *left[] = {o->traces_post, o->metrics_post};
    for (size_t i = 0; i < 2; i++)
        if (left[i]) {
            loop_remove_transfer(e->loop, left[i]->easy);
            o->dropped += left[i]->items;
            o->dropped_batches++;
            post_free(left[i]);
        }
    o->dropped += o->nspans;
    if (o->dropped > 0)
        engine_log(e, o->warned ? NYX_LOG_DEBUG : NYX_LOG_WARN,
                   "nyx: OpenTelemetry: %lld item(s) in %lld batch(es) dropped (last: %s)", (long long)o->dropped,
                   (long long)o->dropped_batches, o->last_problem[0] ? o->last_problem : "closing");
    e->provider.otel = NULL;
    otel_free(o);
}
