/* Response bodies as a list of timed chunks: the SSE event sequence of a streamed reply (or
 * the one JSON body of a plain reply), with the body faults (malformed, cut, stream_error)
 * applied. The HTTP layer sends each chunk after its delay. */
#ifndef NYX_SIM_STREAM_H
#define NYX_SIM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "sim_core.h"

typedef struct sim_chunk {
    char *data; /* owned */
    size_t len;
    int64_t delay_us; /* wait before sending this chunk */
} sim_chunk;

typedef struct sim_body {
    sim_chunk *chunks;
    size_t n, cap;
    int fail_at_end;      /* after the chunks, drop the connection mid-body */
    int64_t declared_len; /* Content-Length to announce; -1 = unknown (chunked SSE) */
} sim_body;

/* The SSE events of a reply: message_start (after ttft), content_block_start, ping,
 * content_block_delta text_delta events (token_ms per token before each), content_block_stop,
 * message_delta (stop_reason, cumulative usage), message_stop.
 *   fault         SIM_FAULT_NONE, SIM_FAULT_MALFORMED (one data line is not JSON),
 *                 SIM_FAULT_CUT (after after_events events, -1 = half of them) or
 *                 SIM_FAULT_STREAM_ERROR (message_start, then event: error overloaded_error)
 * Returns 0, or -1 when out of memory (*b is then empty). */
int sim_body_stream(sim_body *b, const char *id, const char *model, const sim_reply *rep,
                    const sim_usage *u, int fault, int64_t after_events, double ttft_ms,
                    double token_ms);

/* The JSON body of a reply, with no delay (the caller waits before sending it).
 *   fault  SIM_FAULT_NONE, SIM_FAULT_MALFORMED (not JSON) or SIM_FAULT_CUT (half the body,
 *          with the full Content-Length announced)
 * Returns 0, or -1 when out of memory. */
int sim_body_message(sim_body *b, const char *id, const char *model, const sim_reply *rep,
                     const sim_usage *u, int fault);

/* The stall fault on a body made by either: the chunk after the first after_events (-1 = half of
 * them; never past the last, so a stream stalls before message_stop and a plain reply before its
 * body) waits hang_ms more (-1 = a day), a server that goes silent mid-answer. */
void sim_body_stall(sim_body *b, int64_t after_events, int64_t hang_ms);

void sim_body_free(sim_body *b);

#endif
