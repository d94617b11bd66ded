/* Incremental parser for a streamed Messages response (text/event-stream). Bytes go in as the
 * network delivers them; text and thinking come out through hooks as they arrive, and the
 * finished response (id, model, stop reason, text, usage, and at message_stop every content
 * block, tool inputs assembled from their input_json_delta pieces) accumulates in a
 * claude_response. */
#ifndef NYX_CLAUDE_SSE_H
#define NYX_CLAUDE_SSE_H

#include <stddef.h>

#include "types.h"

/* Largest single event accepted; a longer one means a broken or hostile server. */
#define CLAUDE_SSE_MAX_EVENT (16u * 1024u * 1024u)

typedef struct claude_stream claude_stream;

typedef struct claude_stream_hooks {
    /* message_start arrived: the response has begun (and a prompt-cache entry exists) */
    void (*on_start)(void *ud);
    /* each piece of text, as it arrives; text is valid during the call only */
    void (*on_text)(void *ud, const char *text, size_t len);
    void *ud;
    /* each piece of thinking, as it arrives; may be NULL */
    void (*on_thinking)(void *ud, const char *text, size_t len);
    /* may be NULL; nonzero once the owner wants no more (a callback stopped the stream): the
     * rest of what is being fed is not read, so the text ends with what the hooks were given */
    int (*stopped)(void *ud);
} claude_stream_hooks;

/* Starts a parser writing into out, which should be freshly response_init()'d (text is
 * appended to whatever out->text holds); out stays owned by the caller, must outlive the
 * stream, and out->text is non-NULL and NUL-terminated from here on. hooks is copied and may
 * be NULL; hooks must not call back into this stream. Returns NULL when out of memory. */
claude_stream *claude_stream_new(claude_response *out, const claude_stream_hooks *hooks);

/* Feeds the next len bytes, split anywhere. Returns 0, or -1 with err filled: an SSE error
 * event (its own type; retryable for overloaded/api/rate_limit/timeout errors), malformed JSON
 * or an oversized event ("api_error", not retryable), "out_of_memory". After a -1 the stream
 * is dead: later calls return the same error. */
int claude_stream_feed(claude_stream *s, const char *data, size_t len, error_info *err);

/* Call when the transfer ends. Returns 0 if message_stop was seen; else -1 with err: the
 * stored error of a failed stream, or "network_error" "stream ended before message_stop"
 * (retryable; whether partial text makes a retry unwise is the caller's decision: out->text
 * holds what came). An incomplete last event is discarded, as SSE requires. */
int claude_stream_finish(claude_stream *s, error_info *err);

/* Frees the parser (not out). NULL does nothing. */
void claude_stream_free(claude_stream *s);

#endif
