/* The debug view: with NYX_DEBUG=1 (or nyx_set "debug" "1"), each raw HTTP exchange of a
 * call is written as text — the request's method, URL, headers and body; the response's
 * status, headers and body (or the SSE text of a stream) — to the file NYX_DEBUG_FILE names
 * (opened by the engine, appended), else through the writer the host installed with
 * nyx_set_debug_writer (`nyx run` writes to stderr). Without either, nothing is written.
 *
 * What is written is safe to paste into an issue: the API key is masked (guard_mask:
 * "sk-ant*****...**ab") in headers and wherever else it would appear, and bodies follow the
 * storage mode: "full" as sent, "redacted" through guard_redact (e-mail addresses, cards,
 * keys, ... become [EMAIL], [CARD], [SECRET]), "none" sizes only.
 *
 * call_http.c calls these at the points of one attempt; they cost one test when debugging
 * is off. */
#ifndef NYX_DEBUG_H
#define NYX_DEBUG_H

#include <stddef.h>

typedef struct nyx_engine nyx_engine;
typedef struct api_call api_call;

/* The attempt's request is configured and about to go: writes it, and starts capturing the
 * response (debug_header / debug_body) until debug_response. */
void debug_request(api_call *c);
/* One response header line, as curl hands it over (status line included). */
void debug_header(api_call *c, const char *data, size_t len);
/* Response bytes as they arrive (JSON, error body or SSE text). */
void debug_body(api_call *c, const char *data, size_t len);
/* The attempt ended: writes the response (status 0: none arrived; transport_error: curl's
 * text of a transfer failure, or NULL) and forgets the capture. */
void debug_response(api_call *c, long status, const char *transport_error);
/* Forgets the capture of an attempt that ends without a response (aborted, reset). */
void debug_forget(api_call *c);

/* Closes NYX_DEBUG_FILE and frees the engine's debug state (nyx_close). */
void debug_free(nyx_engine *e);

/* nyx_set_debug_writer. */
void debug_set_writer(nyx_engine *e, void (*fn)(void *ud, const char *text, size_t len), void *ud);

#endif
