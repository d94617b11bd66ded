/* Turning failed API calls into error_info values, and the retry classification that goes
 * with them. Policy (how often, how long to wait) lives in engine/resilience. */
#ifndef NYX_CLAUDE_ERRORS_H
#define NYX_CLAUDE_ERRORS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "headers.h"
#include "types.h"

/* Sets err (cleared by the caller) from an error the API answered with: its type etype and
 * message emsg, each may be NULL or empty (then fallback and missing stand in). A type that is
 * not the API's (base/error.h's error_type_from_api: "budget_exceeded", "network_error") is
 * api_error, its message naming the type, so an answer cannot pass for a failure nyx found. */
void claude_error_answered(error_info *err, const char *etype, const char *emsg, int status,
                           const char *fallback, const char *missing);

/* Fills err from a non-2xx response. Type and message come from the JSON error body when it
 * has them, otherwise from the status (a non-JSON body is quoted, shortened and made
 * printable). request_id comes from the header, else the body. retryable follows
 * x-should-retry when present, else claude_status_retryable(); a 429 without retry-after that
 * says a spend/usage limit or credit balance was reached is never retryable. */
void claude_error_from_http(int status,               /* HTTP status */
                            const char *body,         /* response body, may be NULL */
                            size_t len,               /* body length in bytes */
                            const claude_headers *h,  /* parsed headers, may be NULL */
                            error_info *err            /* written here (cleared first) */
);

/* 1 for statuses worth retrying when the server gave no x-should-retry: those whose type
 * (invalid_request_error for 400, conflict_error for 409, ...) the error-type table
 * (base/error.c) calls retryable: 408, 409, 429, 5xx. */
int claude_status_retryable(int status);

/* 1 for error types that describe a transient condition (base/error.c's table: the API's
 * overloaded_error, api_error, rate_limit_error, timeout_error; nyx's timeout and
 * network_error): used for errors that carry no HTTP status, such as an SSE error event
 * after a 200. */
int claude_error_type_retryable(const char *type);

/* Fills err from a parsed {"type":"error","error":{"type":...,"message":...}} object that came
 * with a 2xx status (a Messages body or an SSE error event). status is 0 and retryable follows
 * claude_error_type_retryable(). A missing type or message gets a generic one. */
void claude_error_from_json(const cJSON *root, error_info *err /* written here (cleared first) */);

/* Fills err for a failure below HTTP: type "timeout" or "network_error", status 0, retryable. */
void claude_error_transport(error_info *err,    /* written here (cleared first) */
                            int is_timeout,    /* 1: the transfer timed out */
                            const char *detail /* e.g. curl's error text; may be NULL */
);

/* Fills err for a TLS failure: type "tls_error", status 0, never retryable (the certificate
 * will not change between attempts). The message names the host, the reason (unknown CA,
 * expired, name mismatch, handshake, ...), curl's detail and the fix (the variable to set). */
void claude_error_tls(error_info *err, const char *host, const char *reason, const char *detail, const char *fix);

#endif
