/* OpenTelemetry export (OTLP/HTTP JSON): a span per call after the GenAI semantic conventions,
 * and the GenAI client metrics, batched and posted from the engine's loop. Never blocks a
 * call: a collector that is down or slow loses batches, counted, with one warning. */
#ifndef NYX_OTEL_H
#define NYX_OTEL_H

#include "claude/types.h"

#include <stdint.h>

typedef struct nyx_engine nyx_engine;
struct api_call;

/* Reads the OTEL_* settings of e->cfg; sets up e->provider.otel when an endpoint is given and the SDK
 * is not disabled. Returns 0, or -1 with err (invalid_argument naming the variable). */
int otel_open(nyx_engine *e, error_info *err);
/* Queues the spans and measurements of a finished call (its result and cost are final), and
 * writes its span's ids into the result. */
void otel_call_finished(nyx_engine *e, struct api_call *c);

/* A tool the script ran for a call (an execute_tool span, child of the call's span when
 * trace_id and parent_id are given). started: clock_now_s() when it began; error_type NULL
 * when it succeeded. Every string but name may be NULL. */
typedef struct otel_tool {
    const char *name, *call_id, *session, *agent, *error_type, *trace_id, *parent_id;
    double started;
} otel_tool;
void otel_tool_finished(nyx_engine *e, const otel_tool *t);
/* What the exporter holds and has lost so far (all 0 when export is off). */
typedef struct otel_counts {
    int64_t queued;          /* spans waiting to be sent */
    int64_t dropped;         /* spans and measurements lost: the collector refused, or the queue was full */
    int64_t dropped_batches; /* posts that failed, and spans refused one by one */
} otel_counts;
void otel_get_counts(const nyx_engine *e, otel_counts *out);

/* Sends what is queued, waiting at most a few seconds, then frees everything. */
void otel_close(nyx_engine *e);

#endif
