/* What an HTTP answer from the API (or what stood in its place) was, read alike by a call's
 * attempt (call_http.c) and a message batch's requests (batch.c): a body cut short on its way, a
 * page that is not the API's, a redirect. Each fills or extends an error_info; none prints. */
#ifndef NYX_CORE_ANSWER_CHECK_H
#define NYX_CORE_ANSWER_CHECK_H

#include "base/error.h"
#include "claude/headers.h"

#include <curl/curl.h>
#include <stddef.h>

/* What a 2xx answer was asked to be. */
typedef enum { ANSWER_JSON, ANSWER_EVENT_STREAM } answer_kind;

/* Whether a 2xx answer's Content-Type can be what was asked for: an event stream, or JSON (JSON
 * Lines too); an answer that names no type may be either. */
int answer_type_fits(const claude_headers *h, answer_kind kind);

/* A 2xx body that did not read as what was asked, of a type that can be it: when its text stops
 * inside its JSON where nothing could tell its end from a cut (a compressed answer, or one the
 * connection's close delimited), err becomes a retried network_error saying so. Else err stays. */
void answer_body_cut(CURL *easy, const claude_headers *h, const char *body, size_t len, error_info *err);

/* A 2xx answer of another type than asked that did not read as it: err becomes an api_error, not
 * retried, naming the type and the answer's first words (a captive portal, a proxy's page). */
void answer_not_the_api(const claude_headers *h, long status, answer_kind kind, const char *body, size_t len,
                        error_info *err);

/* A transfer that ended without an answer (rc, not CURLE_OK), as a transport error (a timeout
 * one): curl's words for the code, its particulars (errbuf: which phase timed out, the host),
 * then limit when given (which limit a timeout ran into, and where it is set). */
void answer_transport_failed(CURLcode rc, const char *errbuf, const char *limit, error_info *err);

/* A 3xx answer's error (err, already made) gains where it pointed, which nyx does not follow. */
void answer_redirected(CURL *easy, long status, error_info *err);

#endif
