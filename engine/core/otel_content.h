/* A call's messages as the GenAI semantic conventions' opt-in content attributes
 * (gen_ai.system_instructions, gen_ai.input.messages, gen_ai.output.messages: JSON texts of
 * parts), built from the request body and the reply; exported only when
 * OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks for it (otel.c). */
#ifndef NYX_OTEL_CONTENT_H
#define NYX_OTEL_CONTENT_H

#include "claude/types.h"


/* Text the content attributes carry at most, each, in bytes of message text (tool arguments
 * and results included); a longer text is cut at a character and ends with "[truncated]". */
#define OTEL_CONTENT_MAX 16384

/* OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 1 for true/1/yes/on and the newer
 * SPAN_ONLY / SPAN_AND_EVENT, 0 for unset, false/0/no/off, NO_CONTENT and EVENT_ONLY (nyx
 * sends no events), -1 for anything else. Case does not matter. */
int otel_content_wanted(const char *value);

typedef struct otel_content {
    char *system; /* gen_ai.system_instructions, or NULL when the request has none */
    char *input;  /* gen_ai.input.messages, or NULL */
    char *output; /* gen_ai.output.messages, or NULL when there is no reply */
} otel_content;

/* Fills out from body (the request JSON sent) and resp (the reply; NULL for none). With
 * redact, every text in them goes through the scanner the store uses for prompts
 * (guard_redact), before any cut. Returns 0, or -1 when out of memory (out all NULL). */
int otel_content_build(const char *body, const claude_response *resp, int redact, otel_content *out);
void otel_content_free(otel_content *c);

#endif
