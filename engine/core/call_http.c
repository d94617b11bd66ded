/* One HTTP attempt of a call: the curl transfer, its streaming and header callbacks, and
 * the classification of what came back into success or an error value. */
#define _POSIX_C_SOURCE 200809L
#include "call_internal.h"

#include "answer_check.h"
#include "claude/errors.h"
#include "claude/response.h"
#include "base/clock.h"
#include "debug.h"
#include "easy_pool.h"
#include "net.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* A response body larger than this is not a Messages response. */
#define MAX_BODY (64u << 20)

/* curl's receive buffer, one per transfer in flight for its whole life (16 KB by default).
 * A Messages reply is a few KB and a stream arrives in small events, so 4 KB costs a few more
 * reads on a long reply and saves 12 KB per call in flight (12 MB with 1,000). */
#define RECV_BUFFER 4096L
/* curl's upload buffer, which it takes for the request over TLS and HTTP/2 (and for a body over
 * 64 KB) and keeps until the transfer ends: 64 KB by default, 16 KB is its least. */
#define SEND_BUFFER 16384L

static void stream_started(void *ud)
{
    api_call *c = ud;
    if (c->cancel_deferred)
        return; /* stopped by a callback: nothing more reaches the script */
    if (c->first_byte == 0)
        c->first_byte = clock_now_s();
    /* From now on the API has this call's prefix: calls that start now should read it. */
    cache_response_began(c->e->cache, &c->spec.req, c->model, c->first_byte);
    if (c->spec.on_start && !c->stream_chosen)
        c->spec.on_start(c->spec.stream_ud);
}

static void stream_text(void *ud, const char *text, size_t len)
{
    api_call *c = ud;
    if (c->cancel_deferred || c->stream_chosen)
        return; /* a stream of the engine's choosing: nothing reached the script, so it may be tried again */
    c->text_delivered = 1;
    if (c->spec.on_text)
        c->spec.on_text(c->spec.stream_ud, text, len);
}

static void stream_thinking(void *ud, const char *text, size_t len)
{
    api_call *c = ud;
    if (c->cancel_deferred || c->stream_chosen)
        return;
    if (c->spec.on_thinking)
        c->spec.on_thinking(c->spec.stream_ud, text, len);
}

/* A callback cancelled the call: nothing after what it was given is read. */
static int stream_stopped(void *ud) { return ((api_call *)ud)->cancel_deferred; }

static int response_is_ok(api_call *c)
{
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
}

/* The attempt's error, made when a callback first aborts the transfer (most attempts never
 * need one); NULL when out of memory, and the transfer then ends as curl's write error. */
static error_info *attempt_error(api_call *c)
{
    if (!c->attempt_err && (c->attempt_err = malloc(sizeof *c->attempt_err)))
        error_clear(c->attempt_err);
    return c->attempt_err;
}

static void attempt_fail(api_call *c, const char *type, const char *message)
{
    error_info *err = attempt_error(c);
    if (err)
        error_set(err, type, 0, "%s", message);
}

/* Room for the body that is arriving, in a buffer an earlier reply or request gave back (most
 * replies fit one): at its first bytes, room for the size the server announced when that holds
 * them, so the reply grows its buffer at most once. */
static int body_room(api_call *c, size_t more)
{
    textbuf *b = &c->reply;
    if (b->s)
        return textbuf_reserve(b, more);
    curl_off_t announced = -1;
    if (curl_easy_getinfo(c->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
        announced >= (curl_off_t)more && announced < (curl_off_t)MAX_BODY)
        more = (size_t)announced;
    textbuf_pool_take(&c->e->buffers, b, more);
    return textbuf_reserve(b, more);
}

/* The body is read: its buffer goes back now, not when the call is let go. */
static void body_drop(api_call *c)
{
    textbuf_pool_give(&c->e->buffers, &c->reply);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    api_call *c = ud;
    size_t len = size * n;
    /* Cancelled from a callback: abort the transfer now; the cancel completes once curl
     * has returned (call.c). */
    if (c->cancel_deferred)
        return 0;
    if (c->silence_timer)
        c->last_byte = clock_now_s();
    if (c->debug)
        debug_body(c, data, len);
    if (c->stream && response_is_ok(c)) {
        /* An answer of another type is parsed all the same (a gateway may mislabel a good
         * stream), its first bytes kept to name it should it fail (answer_not_the_api). */
        if (c->reply.len < 200 && !answer_type_fits(&c->headers, ANSWER_EVENT_STREAM) && body_room(c, len) == 0)
            textbuf_put(&c->reply, data, len < 200 ? len : 200);
        error_info err;
        error_clear(&err);
        if (claude_stream_feed(c->stream, data, len, &err) != 0) {
            if (attempt_error(c))
                *c->attempt_err = err;
            return 0; /* aborts the transfer; the error is kept */
        }
        return c->cancel_deferred ? 0 : len;
    }
    if (c->reply.len + len > MAX_BODY) {
        if (attempt_error(c))
            error_set(c->attempt_err, "api_error", 0, "response body larger than %u bytes", MAX_BODY);
        return 0;
    }
    if (body_room(c, len) != 0) {
        attempt_fail(c, "out_of_memory", "out of memory reading the response");
        return 0;
    }
    textbuf_put(&c->reply, data, len);
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    api_call *c = ud;
    if (c->cancel_deferred)
        return 0;
    if (c->silence_timer)
        c->last_byte = clock_now_s();
    if (c->debug)
        debug_header(c, data, size * n);
    claude_headers_feed(&c->headers, data, size * n, NAN); /* the clock only for a retry-after date */
    return size * n;
}

/* libcurl calls this before each request it sends on a connection: twice in one transfer
 * when a reused connection closed before any response and it sent the POST again on a fresh
 * one. The server may have seen (and billed) both, so each is an attempt.
 *
 * The request's bytes in one piece are made here, once a connection is ready for them, and let
 * go once libcurl has sent them all (on_progress): a call that waits for its connection or for
 * its answer holds only its body in pieces. libcurl reads the bytes while it makes and sends a
 * request, and each request it makes comes after this callback, which hands it the bytes anew. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    api_call *c = ud;
    const char *body = call_body(c);
    if (!body || curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body) != CURLE_OK) {
        attempt_fail(c, "out_of_memory", "out of memory making the request");
        return CURL_PREREQFUNC_ABORT;
    }
    if (c->requests_sent++ > 0)
        call_request_resent(c);
    return CURL_PREREQFUNC_OK;
}

/* The whole body is sent: its bytes in one piece go until a request needs them again. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow;
    api_call *c = ud;
    if (c->silence_timer && ulnow > c->bytes_sent) { /* a large request going up slowly is no silence */
        c->bytes_sent = ulnow;
        c->last_byte = clock_now_s();
    }
    if (c->body && ultotal > 0 && ulnow >= ultotal)
        call_body_drop(c);
    return 0;
}

/* libcurl reads the body only from CURLOPT_POSTFIELDS, which on_prereq sets before every
 * request; this stands in for its default (reading standard input) should it ever ask. */
static size_t on_read(char *data, size_t size, size_t n, void *ud)
{
    (void)data, (void)size, (void)n;
    api_call *c = ud;
    attempt_fail(c, "internal", "the request body was asked for outside a request");
    return CURL_READFUNC_ABORT;
}

static double timeout_of(const api_call *c)
{
    return c->spec.timeout_s > 0 ? c->spec.timeout_s : c->e->cfg.timeout_s;
}

/* A streamed attempt of a call without a timeout of its own is bounded by silence, not in all:
 * it ends when no byte has come for CLAUDE_TIMEOUT_SECONDS (from its start, so a server that
 * never answers counts too), as the SDKs' read timeout does, so an answer of many thousand tokens
 * lives as long as its tokens flow. A call's own timeout is its total, streamed or not. The
 * silence in seconds, or 0 when the attempt is bounded in all. (libcurl's low-speed limit is not
 * this: it averages the speed over the last five seconds and looks once a second, so it ends a
 * silence up to six seconds late.) */
static double silence_limit(const api_call *c)
{
    double t = c->e->cfg.timeout_s;
    return c->spec.req.stream && c->spec.timeout_s <= 0 && !isinf(t) ? t : 0;
}

/* curl's own way of opening a connection's socket (CURLOPT_OPENSOCKETFUNCTION), which also
 * remembers why it could not: curl then says only that it could not connect, which read as
 * the API's failure. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    api_call *c = ud;
    curl_socket_t s = socket(a->family, a->socktype, a->protocol);
    if (s != CURL_SOCKET_BAD)
        c->socket_opened_at = clock_now_s();
    else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        c->socket_errno = errno;
    return s;
}

/* " (ulimit -n is N)": the soft open-files limit, or "" where there is none. */
static void open_files_limit(char *out, size_t size)
{
    struct rlimit rl;
    out[0] = '\0';
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(out, size, " (ulimit -n is %llu)", (unsigned long long)rl.rlim_cur);
}

/* A failure of this process or machine, not of the network or the API: no descriptor or
 * memory for a socket, a timeout spent waiting for one of the connections the open-files limit
 * leaves (engine.c bounds them; the request never left), or curl out of memory or misused. It
 * is no server's fault, so the breaker does not count it (call.c counts network errors and
 * timeouts) and its type says whose it is. Returns 1 with err filled, else 0. */
static int local_failure(const api_call *c, CURLcode rc, error_info *err)
{
    char limit[64] = "";
    if (c->socket_errno) {
        if (c->socket_errno == EMFILE)
            open_files_limit(limit, sizeof limit);
        error_clear(err);
        error_set(err, "resource_exhausted", 0,
                  "no socket for a connection to the API: %s%s; a limit of this machine, not a failure of the API",
                  strerror(c->socket_errno), limit);
        err->retryable = 1; /* descriptors and memory come back as other work ends */
        return 1;
    }
    /* Its time ran out before it had a connection (it sent nothing, and opened no socket or
     * only once its time was up) while the connections were at their limit: it waited in curl
     * for one. curl 7.88 acts on such a transfer's timeout only once a connection comes free
     * (then it may open a socket, or look up the host, and fail at once). */
    double deadline = c->attempt_started + timeout_of(c);
    uint64_t mark = loop_connections_mark(c->e->loop);
    if (rc == CURLE_OPERATION_TIMEDOUT && !c->requests_sent &&
        (c->socket_opened_at == 0 || c->socket_opened_at >= deadline) &&
        (mark != c->connections_mark || (mark & 1))) {
        open_files_limit(limit, sizeof limit);
        error_clear(err);
        error_set(err, "resource_exhausted", 0,
                  "timed out after %.1f s waiting for a connection: all %ld that the open-files limit%s "
                  "leaves were in use; a limit of this machine, not a failure of the API",
                  timeout_of(c), loop_max_connections(c->e->loop), limit);
        err->retryable = 1;
        return 1;
    }
    switch (rc) {
    case CURLE_OUT_OF_MEMORY:
        error_clear(err);
        error_set(err, "out_of_memory", 0, "out of memory for the transfer: %s", curl_easy_strerror(rc));
        return 1;
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
    case CURLE_RECURSIVE_API_CALL:
        error_clear(err);
        error_set(err, "internal", 0, "libcurl refused the transfer: %s", curl_easy_strerror(rc));
        return 1;
    default:
        return 0;
    }
}

/* The transfer ends: curl's handle goes back to the pool (reusable: it ended as curl meant, not
 * taken out midway or after a failure), and the header list it used after it. */
static void drop_easy(api_call *c, int reusable)
{
    if (c->queue_timer) {
        loop_timer_cancel(c->e->loop, c->queue_timer);
        c->queue_timer = NULL;
    }
    if (c->silence_timer) {
        loop_timer_cancel(c->e->loop, c->silence_timer);
        c->silence_timer = NULL;
    }
    easy_pool_give(c->e->provider.easies, c->easy, reusable);
    c->easy = NULL;
    curl_slist_free_all(c->req_headers);
    c->req_headers = NULL;
}

/* What every transfer of a call to the API has alike, set once on a fresh handle, which keeps
 * it from transfer to transfer (easy_pool.h): trust, proxy and HTTP version (net.c), the URL, the
 * callbacks and buffers. curl takes the receive buffer's size only before that buffer exists.
 * CURLOPT_ACCEPT_ENCODING "" has libcurl decode a compressed answer; the header announcing it
 * is in the engine's list (provider.c), so libcurl does not make its own for each request. */
static int set_up(const nyx_engine *e, CURL *h, char *errbuf)
{
    return net_configure(e->provider.net, h, errbuf) != 0 ||
           curl_easy_setopt(h, CURLOPT_CURLU, e->provider.messages_curlu) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_BUFFERSIZE, RECV_BUFFER) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, SEND_BUFFER) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
}

/* What is the call's own is set for each transfer, on a used handle as on a fresh one, so
 * nothing of the call a handle served before carries over: the headers with the call's own
 * (net.c), the body's size, the timeouts, and the call the callbacks and error buffer serve. */
/* The attempt's limits as curl takes them: in all (0: none), and to set up its connection,
 * which the attempt's timeout caps (a stream's silence as well: none comes while it connects). */
static void attempt_limits(const api_call *c, long *total_ms, long *connect_ms)
{
    /* An infinite timeout is none (0 to curl); finite ones are bounded (call_timeout_valid),
     * so the product fits a long. */
    double timeout_s = timeout_of(c);
    long bound_ms = isinf(timeout_s) ? 0 : (long)(timeout_s * 1000.0);
    if (!isinf(timeout_s) && bound_ms < 1)
        bound_ms = 1;
    *total_ms = silence_limit(c) > 0 ? 0 : bound_ms;
    *connect_ms = (long)(c->e->cfg.connect_timeout_s * 1000.0);
    if ((bound_ms > 0 && *connect_ms > bound_ms) || *connect_ms < 1)
        *connect_ms = bound_ms > 0 ? bound_ms : 1;
}

static int configure(api_call *c, int fresh)
{
    nyx_engine *e = c->e;
    CURL *h = c->easy;
    long total_ms, connect_ms;
    attempt_limits(c, &total_ms, &connect_ms);
    if ((fresh && set_up(e, h, c->errbuf) != 0) ||
        (c->spec.nheaders && net_call_headers(e->provider.headers, c->spec.headers, c->spec.nheaders,
                                              &c->req_headers) != 0))
        return -1;
    c->errbuf[0] = '\0';
    return curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->req_headers ? c->req_headers : e->provider.headers) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_READDATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_XFERINFODATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_WRITEDATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_HEADERDATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_PREREQDATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK;
}

/* Which limit a timed-out attempt ran into, and where it is set: out gets "; a connection has
 * 1 s to be set up (NYX_CONNECT_TIMEOUT_SECONDS)", "; a stream ends after no byte for 600 s
 * (CLAUDE_TIMEOUT_SECONDS)" or "; each attempt has 600 s (CLAUDE_TIMEOUT_SECONDS)", or the
 * call's own timeout. */
static void name_the_limit(const api_call *c, char *out, size_t size)
{
    long total_ms, connect_ms;
    attempt_limits(c, &total_ms, &connect_ms);
    curl_off_t connected = 0;
    if (curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &connected) != CURLE_OK)
        connected = 0;
    double silence = silence_limit(c);
    int own_connect = connect_ms == (long)(c->e->cfg.connect_timeout_s * 1000.0);
    /* not connected, and the connect timeout was its own (not cut down to the whole attempt's) */
    if (!c->silenced && connected == 0 && ((total_ms == 0 && silence == 0) || own_connect))
        snprintf(out, size, "; a connection has %g s to be set up (NYX_CONNECT_TIMEOUT_SECONDS)",
                 (double)connect_ms / 1000.0);
    else if (silence > 0)
        snprintf(out, size, "; a stream ends after no byte for %g s (CLAUDE_TIMEOUT_SECONDS)", silence);
    else
        snprintf(out, size, "; each attempt has %g s (%s)", (double)total_ms / 1000.0,
                 c->spec.timeout_s > 0 ? "the call's timeout" : "CLAUDE_TIMEOUT_SECONDS");
}

static void transfer_done(void *ud, CURLcode rc)
{
    api_call *c = ud;
    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (c->first_byte == 0) {
        curl_off_t t = 0;
        if (curl_easy_getinfo(c->easy, CURLINFO_STARTTRANSFER_TIME_T, &t) == CURLE_OK && t > 0)
            c->first_byte = c->attempt_started + (double)t / 1e6;
    }
    if (c->debug)
        debug_response(c, status, rc == CURLE_OK ? NULL : c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    error_info err;
    error_clear(&err);
    if (c->attempt_err && c->attempt_err->type[0] &&
        (rc == CURLE_WRITE_ERROR || rc == CURLE_OK || rc == CURLE_ABORTED_BY_CALLBACK))
        err = *c->attempt_err;
    else if (rc != CURLE_OK) {
        if (!local_failure(c, rc, &err) && /* this machine's, not the API's */
            !net_explain_failure(c->e->provider.net, c->easy, rc, c->errbuf, &err)) { /* TLS, a proxy's refusal */
            char limit[256] = "";
            if (rc == CURLE_OPERATION_TIMEDOUT)
                name_the_limit(c, limit, sizeof limit);
            answer_transport_failed(rc, c->errbuf, limit, &err);
        }
    }
    else if (status < 200 || status >= 300) {
        claude_error_from_http((int)status, c->reply.s, c->reply.len, &c->headers, &err);
        answer_redirected(c->easy, status, &err);
    }
    else if (c->stream) {
        if (claude_stream_finish(c->stream, &err) != 0 && !answer_type_fits(&c->headers, ANSWER_EVENT_STREAM))
            answer_not_the_api(&c->headers, status, ANSWER_EVENT_STREAM, c->reply.s, c->reply.len, &err);
    } else if (claude_parse_message(c->reply.s ? c->reply.s : "", c->reply.len, &c->result.resp, &err) != 0) {
        if (answer_type_fits(&c->headers, ANSWER_JSON))
            answer_body_cut(c->easy, &c->headers, c->reply.s, c->reply.len, &err);
        else
            answer_not_the_api(&c->headers, status, ANSWER_JSON, c->reply.s, c->reply.len, &err);
    }
    body_drop(c);
    if (err.type[0] && !err.request_id[0] && c->headers.request_id[0])
        memcpy(err.request_id, c->headers.request_id, sizeof err.request_id);
    if (!err.type[0] && !c->result.resp.request_id && c->headers.request_id[0])
        c->result.resp.request_id = strdup(c->headers.request_id);
    /* Connections opened and TLS handshakes made: what HTTP/2 sharing saves (bench/net.lua). */
    long opened = 0;
    curl_off_t tls_done = 0;
    if (curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0) {
        c->e->provider.connections += opened;
        if (curl_easy_getinfo(c->easy, CURLINFO_APPCONNECT_TIME_T, &tls_done) == CURLE_OK && tls_done > 0)
            c->e->provider.tls_handshakes++;
    }
    drop_easy(c, rc == CURLE_OK);
    c->attempt_done(c, (int)status, err.type[0] ? &err : NULL);
}

/* The call's deadline came while it still had no connection: curl 7.88 acts on the timeout of
 * a transfer waiting for one (past the bound the open-files limit sets, engine.c) only once
 * one comes free, so the call would wait for as long as the calls ahead of it take. It ends
 * here as curl would have ended it, a timeout before anything was sent (local_failure). */
static void queue_deadline(void *ud)
{
    api_call *c = ud;
    c->queue_timer = NULL;
    if (!c->easy || c->socket_opened_at > 0)
        return; /* it has its connection: curl's own timeout holds */
    loop_remove_transfer(c->e->loop, c->easy);
    transfer_done(c, CURLE_OPERATION_TIMEDOUT);
}

/* A stream bounded by silence (silence_limit): its timer fires when the limit has passed since
 * the last byte it knew of; bytes that came since put it off to the limit after the last one
 * (a clock read per chunk received, a timer per silence limit of a stream that flows). */
static void silence_check(void *ud)
{
    api_call *c = ud;
    c->silence_timer = NULL;
    if (!c->easy)
        return;
    double limit = silence_limit(c), now = clock_now_s(), quiet = now - c->last_byte;
    if (quiet < limit) { /* at least a millisecond more, the loop's timers' grain */
        double more = limit - quiet < 1e-3 ? 1e-3 : limit - quiet;
        if ((c->silence_timer = loop_timer_add(c->e->loop, more, silence_check, c)))
            return;
        loop_remove_transfer(c->e->loop, c->easy); /* no memory for its bound: it ends here */
        transfer_done(c, CURLE_OUT_OF_MEMORY);
        return;
    }
    curl_off_t got = 0;
    if (curl_easy_getinfo(c->easy, CURLINFO_SIZE_DOWNLOAD_T, &got) != CURLE_OK)
        got = 0;
    snprintf(c->errbuf, sizeof c->errbuf, "no byte received for %.0f milliseconds, %" CURL_FORMAT_CURL_OFF_T
             " bytes of the answer in %.0f milliseconds", quiet * 1000.0, got, (now - c->attempt_started) * 1000.0);
    c->silenced = 1;
    loop_remove_transfer(c->e->loop, c->easy);
    transfer_done(c, CURLE_OPERATION_TIMEDOUT);
}

int call_http_start(api_call *c, call_attempt_fn done)
{
    c->attempt_done = done;
    c->attempt_started = clock_now_s();
    c->requests_sent = 0;
    c->socket_errno = 0;
    c->socket_opened_at = 0;
    c->silenced = 0;
    c->connections_mark = loop_connections_mark(c->e->loop);
    claude_headers_init(&c->headers);
    free(c->attempt_err);
    c->attempt_err = NULL;
    int fresh = 0;
    c->easy = provider_open_transfers(&c->e->provider) == 0 ? easy_pool_take(c->e->provider.easies, &fresh) : NULL;
    if (c->easy && c->spec.req.stream) {
        claude_stream_hooks hooks = {.on_start = stream_started, .on_text = stream_text,
                                     .on_thinking = stream_thinking, .stopped = stream_stopped, .ud = c};
        c->stream = claude_stream_new(&c->result.resp, &hooks);
    }
    int ok = c->easy && (!c->spec.req.stream || c->stream) && configure(c, fresh) == 0;
    if (ok && c->e->cfg.debug)
        debug_request(c);
    /* A stream bounded by silence has no other bound in all: without its timer it does not go.
     * The timer also ends its wait for a connection (local_failure names that). */
    double silence = silence_limit(c);
    c->last_byte = c->attempt_started;
    c->bytes_sent = 0;
    if (ok && silence > 0 && !(c->silence_timer = loop_timer_add(c->e->loop, silence, silence_check, c)))
        ok = 0;
    if (!ok || loop_add_transfer(c->e->loop, c->easy, transfer_done, c) != 0) {
        call_http_reset(c);
        return -1;
    }
    /* Without a timer (no memory) it waits as curl makes it. */
    if (silence == 0 && loop_over_connections(c->e->loop) && !isinf(timeout_of(c)))
        c->queue_timer = loop_timer_add(c->e->loop, timeout_of(c), queue_deadline, c);
    return 0;
}

/* Forgets what an attempt received, so the next one starts clean. */
void call_http_reset(api_call *c)
{
    if (c->debug)
        debug_forget(c);
    if (c->easy)
        drop_easy(c, 0);
    claude_stream_free(c->stream);
    c->stream = NULL;
    body_drop(c);
    free(c->attempt_err);
    c->attempt_err = NULL;
    response_free(&c->result.resp);
}

void call_http_abort(api_call *c)
{
    if (!c->easy)
        return;
    loop_remove_transfer(c->e->loop, c->easy);
    drop_easy(c, 0);
}
