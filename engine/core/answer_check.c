/* What an HTTP answer was, when it is not what was asked (answer_check.h). */
#define _POSIX_C_SOURCE 200809L
#include "answer_check.h"

#include "claude/errors.h"
#include "claude/response.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int answer_type_fits(const claude_headers *h, answer_kind kind)
{
    const char *t = h->content_type;
    if (!t[0])
        return 1;
    if (kind == ANSWER_EVENT_STREAM)
        return strncasecmp(t, "text/event-stream", 17) == 0;
    for (; *t; t++)
        if (strncasecmp(t, "json", 4) == 0)
            return 1;
    return 0;
}

/* Whether the body ended only where the connection closed: HTTP/1 with neither a length nor
 * chunks, where a close midway looks like the end. */
static int close_delimited(CURL *easy, const claude_headers *h)
{
    long version = 0;
    curl_off_t length = -1;
    return !h->chunked && curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK &&
           (version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1) &&
           curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK && length < 0;
}

/* An answer whose text stops inside its JSON, where nothing could tell its end from a cut, was
 * cut on its way: a compressed one (libcurl does not check that a gzip, deflate, br or zstd
 * stream is whole, and hands over what it decoded; a gateway that ended its own response cleanly
 * when the one it relayed broke), or one the connection's close delimited. That is the network's
 * fault, and may pass, not the API's malformed answer. */
void answer_body_cut(CURL *easy, const claude_headers *h, const char *body, size_t len, error_info *err)
{
    int compressed = h->content_encoding[0] != '\0';
    if ((!compressed && !close_delimited(easy, h)) || !claude_json_unfinished(body ? body : "", len))
        return;
    error_clear(err); /* the caller gives it the request's id */
    if (compressed)
        error_set(err, "network_error", 0,
                  "the %s-encoded answer was cut short on its way: its %zu decoded bytes stop inside the JSON "
                  "(the compressed stream ended early)",
                  h->content_encoding, len);
    else
        error_set(err, "network_error", 0,
                  "the answer was cut short on its way: the connection closed after %zu bytes, inside the JSON "
                  "(the server gave no length, so its close was taken for the end)",
                  len);
    err->retryable = 1;
}

/* Not retried: a portal answers the same until someone logs in. */
void answer_not_the_api(const claude_headers *h, long status, answer_kind kind, const char *body, size_t len,
                        error_info *err)
{
    char begins[81];
    size_t n = 0;
    for (size_t i = 0; body && i < len && n < sizeof begins - 1; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (ch == '\n' || ch == '\r' || ch == '\t')
            ch = ' ';
        if (ch >= 0x20 && ch < 0x7f && !(ch == ' ' && n > 0 && begins[n - 1] == ' '))
            begins[n++] = (char)ch;
    }
    begins[n] = '\0';
    error_clear(err);
    error_set(err, "api_error", 0,
              "the answer (HTTP %ld, %.60s) is not %s: something other than the API answered (a captive "
              "portal, a proxy's or gateway's own page?); check ANTHROPIC_BASE_URL and the network. "
              "It begins: \"%s\"",
              status, h->content_type, kind == ANSWER_EVENT_STREAM ? "an event stream" : "JSON", begins);
    err->retryable = 0;
}

/* A redirect is not followed (the request, its key and body would go where the answer says):
 * its error says where it pointed, as an http:// base URL to a server that sends every client to
 * https:// is a setting to fix. */
void answer_redirected(CURL *easy, long status, error_info *err)
{
    char *to = NULL;
    if (status < 300 || status >= 400 || curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &to) != CURLE_OK || !to)
        return;
    size_t used = strlen(err->message);
    snprintf(err->message + used, sizeof err->message - used,
             "; it redirects to %.200s, which nyx does not follow: ANTHROPIC_BASE_URL must name the API itself", to);
}

void answer_transport_failed(CURLcode rc, const char *errbuf, const char *limit, error_info *err)
{
    char detail[CURL_ERROR_SIZE + 384];
    int have = errbuf && errbuf[0];
    snprintf(detail, sizeof detail, "%s%s%s%s%s", curl_easy_strerror(rc), have ? " (" : "", have ? errbuf : "",
             have ? ")" : "", limit ? limit : "");
    claude_error_transport(err, rc == CURLE_OPERATION_TIMEDOUT, detail);
}
