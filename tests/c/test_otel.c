/* The OpenTelemetry exporter's own rules, without a collector: the queue is bounded (spans
 * beyond it are dropped and counted, never kept), each exported call gets span ids, and the
 * standard variables are checked when the engine opens (OTEL_TRACES_EXPORTER and
 * OTEL_METRICS_EXPORTER turn one signal off). The wire format and the collector's
 * side are tests/e2e/otel.sh's. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include "core/call_internal.h"
#include "core/otel.h"

#include <stdlib.h>
#include <string.h>

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    return strspn(s, "0123456789abcdef") == n;
}

static nyx_engine *open_engine(char **msg)
{
    *msg = NULL;
    return nyx_open(msg);
}

static void fake_call(api_call *c, nyx_engine *e)
{
    memset(c, 0, sizeof *c);
    c->e = e;
    call_spec_init(&c->spec);
    c->spec.req.max_tokens = 10;
    c->spec.req.temperature = -1;
    snprintf(c->result.model_requested, sizeof c->result.model_requested, "claude-haiku-5-5");
    c->result.status = NYX_STATUS_OK;
    c->result.resp.usage.input_tokens = 5;
    c->result.resp.usage.cache_read_input_tokens = 100;
    c->result.resp.usage.output_tokens = 3;
    c->result.latency_ms = 12;
}

static void bounded_queue(void)
{
    /* Nothing listens on port 9: whatever is sent is refused, but nothing is sent here (the
     * loop does not turn), so every span stays queued up to the cap. */
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
    char *msg;
    nyx_engine *e = open_engine(&msg);
    CHECK(e != NULL);
    if (!e) {
        fprintf(stderr, "%s\n", msg ? msg : "nyx_open failed");
        free(msg);
        return;
    }
    api_call c;
    fake_call(&c, e);
    otel_call_finished(e, &c);
    CHECK(is_hex(c.result.trace_id, 32));
    CHECK(is_hex(c.result.span_id, 16));
    char first[17];
    memcpy(first, c.result.span_id, sizeof first);
    otel_call_finished(e, &c);
    CHECK(strcmp(first, c.result.span_id) != 0);
    for (int i = 2; i < 3000; i++)
        otel_call_finished(e, &c);
    otel_counts n;
    otel_get_counts(e, &n);
    CHECK_INT(n.queued, 2048);
    CHECK_INT(n.dropped, 3000 - 2048);
    call_spec_free(&c.spec);
    nyx_close(e); /* the last batch is refused at once: closing does not hang */
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
}

/* An engine opened now: whether it has an exporter; a call it finishes queues no span and
 * leaves the result without a span id. */
static void expect_no_span(int exporter)
{
    char *msg;
    nyx_engine *e = open_engine(&msg);
    REQUIRE(e != NULL);
    CHECK_INT(e->provider.otel != NULL, exporter);
    api_call c;
    fake_call(&c, e);
    otel_call_finished(e, &c);
    otel_counts n = {1, 1, 1};
    otel_get_counts(e, &n);
    CHECK_INT(n.queued, 0);
    CHECK_STR(c.result.span_id, "");
    call_spec_free(&c.spec);
    nyx_close(e);
}

static void off_without_endpoint_or_disabled(void)
{
    expect_no_span(0);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
    setenv("OTEL_SDK_DISABLED", "true", 1);
    expect_no_span(0);
    unsetenv("OTEL_SDK_DISABLED");
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    setenv("OTEL_METRICS_EXPORTER", "none", 1);
    expect_no_span(0);
    /* traces off: a call queues no span, only its measurements */
    unsetenv("OTEL_METRICS_EXPORTER");
    expect_no_span(1);
    unsetenv("OTEL_TRACES_EXPORTER");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
}

static void refused(const char *var, const char *value, const char *named)
{
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
    setenv(var, value, 1);
    char *msg;
    nyx_engine *e = open_engine(&msg);
    CHECK(e == NULL);
    CHECK(msg && strstr(msg, named));
    if (msg && strstr(value, "secret"))
        CHECK(strstr(msg, "secret") == NULL); /* a header's text may be a token */
    if (e)
        nyx_close(e);
    free(msg);
    unsetenv(var);
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
}

int main(void)
{
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    unsetenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
    unsetenv("OTEL_SDK_DISABLED");
    setenv("NYX_PROVIDER", "sim", 1);
    bounded_queue();
    off_without_endpoint_or_disabled();
    refused("OTEL_EXPORTER_OTLP_HEADERS", "Bearer secret-token", "OTEL_EXPORTER_OTLP_HEADERS");
    refused("OTEL_EXPORTER_OTLP_HEADERS", "bad name=v", "OTEL_EXPORTER_OTLP_HEADERS");
    refused("OTEL_RESOURCE_ATTRIBUTES", "=novalue", "OTEL_RESOURCE_ATTRIBUTES");
    refused("OTEL_SDK_DISABLED", "perhaps", "OTEL_SDK_DISABLED");
    refused("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER");
    refused("OTEL_METRICS_EXPORTER", "prometheus", "OTEL_METRICS_EXPORTER");
    return check_failures;
}
