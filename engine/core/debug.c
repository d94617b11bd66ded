/* The debug view: raw exchanges as text, with the key masked and bodies redacted per the
 * storage mode. See debug.h. */
#define _POSIX_C_SOURCE 200809L
#include "debug.h"

#include "call_internal.h"
#include "base/clock.h"
#include "base/textbuf.h"
#include "guard/scan.h"
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A response body is shown up to this size; the rest is counted. */
#define MAX_SHOWN (1u << 20)

typedef struct debug_state {
    void (*fn)(void *ud, const char *text, size_t len);
    void *ud;
    FILE *file;     /* NYX_DEBUG_FILE */
    int file_tried;
} debug_state;

struct debug_capture {
    textbuf headers, body;
    size_t body_total; /* bytes received, shown or not */
};

/* ---- where it goes ---- */

static debug_state *state(nyx_engine *e)
{
    if (!e->debug)
        e->debug = calloc(1, sizeof *e->debug);
    return e->debug;
}

void debug_set_writer(nyx_engine *e, void (*fn)(void *ud, const char *text, size_t len), void *ud)
{
    debug_state *d = e ? state(e) : NULL;
    if (!d)
        return;
    d->fn = fn;
    d->ud = ud;
}

/* 1 when there is somewhere to write: NYX_DEBUG_FILE (opened on first use), or the writer. */
static int can_write(nyx_engine *e)
{
    debug_state *d = state(e);
    if (!d)
        return 0;
    if (!d->file_tried) {
        d->file_tried = 1;
        const char *path = e->cfg.debug_file;
        if (path && *path && !(d->file = fopen(path, "a")))
            engine_warn_once(e, "debug-file", "nyx: cannot open NYX_DEBUG_FILE %s: %s; debug output goes to the host",
                             path, strerror(errno));
    }
    return d->file || d->fn;
}

/* Any occurrence of the key itself, wherever it came from, is masked before writing. */
static void mask_key(const nyx_engine *e, textbuf *b)
{
    const char *key = e->cfg.api_key;
    size_t n = key ? strlen(key) : 0;
    if (n < 8 || !b->s)
        return;
    char masked[512];
    guard_mask(key, masked, sizeof masked);
    int same = strlen(masked) == n; /* guard_mask keeps the length of a key that fits */
    for (char *p = strstr(b->s, key); p; p = strstr(p + n, key)) {
        if (same)
            memcpy(p, masked, n);
        else
            memset(p, '*', n);
    }
}

static void write_out(nyx_engine *e, textbuf *b)
{
    debug_state *d = e->debug;
    if (b->failed || !b->s || !d)
        return;
    mask_key(e, b);
    if (d->file) {
        fwrite(b->s, 1, b->len, d->file);
        fflush(d->file);
    } else if (d->fn) {
        engine_host_fn_enter(e);
        d->fn(d->ud, b->s, b->len);
        engine_host_fn_leave(e);
    }
}

/* A body as the storage mode allows it to be seen. */
static void put_body(const nyx_engine *e, textbuf *out, const char *what, const char *body, size_t len, size_t total)
{
    const char *mode = e->cfg.storage_mode ? e->cfg.storage_mode : "redacted";
    if (strcmp(mode, "none") == 0) {
        textbuf_printf(out, "[%s: %zu bytes, not shown: NYX_STORAGE_MODE=none]\n", what, total);
        return;
    }
    if (len == 0) {
        textbuf_printf(out, "[%s: empty]\n", what);
        return;
    }
    if (strcmp(mode, "full") == 0) {
        textbuf_put(out, body, len);
    } else {
        size_t n = 0;
        char *red = guard_redact(body, len, &n);
        if (!red) {
            textbuf_printf(out, "[%s: %zu bytes, not shown: out of memory redacting it]\n", what, total);
            return;
        }
        textbuf_put(out, red, n);
        free(red);
    }
    if (out->len && out->s[out->len - 1] != '\n')
        textbuf_puts(out, "\n");
    if (total > len)
        textbuf_printf(out, "[%s: %zu more bytes not shown]\n", what, total - len);
}

/* ---- the exchange ---- */

static void capture_free(struct debug_capture *cap)
{
    if (!cap)
        return;
    free(cap->headers.s);
    free(cap->body.s);
    free(cap);
}

void debug_forget(api_call *c)
{
    capture_free(c->debug);
    c->debug = NULL;
}

void debug_request(api_call *c)
{
    nyx_engine *e = c->e;
    debug_forget(c);
    if (!e->cfg.debug || !can_write(e))
        return;
    c->debug = calloc(1, sizeof *c->debug);
    textbuf out = {0};
    const char *url = e->provider.messages_url;
    textbuf_printf(&out, "nyx debug: >>> request %s attempt %d (%s)\nPOST %s\n", c->result.interaction_id,
         c->result.attempts, call_route_model(c), url ? url : "(unknown URL)");
    const char *proxy_var = NULL;
    const char *proxy = net_proxy_shown(e->provider.net, &proxy_var);
    if (proxy)
        textbuf_printf(&out, "(through the proxy %s, from %s)\n", proxy, proxy_var);
    /* The headers this request carries (a call's own included); values whose names look
     * secret (x-api-key, authorization, a gateway's token) are masked. */
    for (const struct curl_slist *h = c->req_headers ? c->req_headers : e->provider.headers; h; h = h->next) {
        const char *colon = strchr(h->data, ':');
        size_t name = colon ? (size_t)(colon - h->data) : strlen(h->data);
        if (colon && net_header_is_secret(h->data, name)) {
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            char masked[512];
            guard_mask(v, masked, sizeof masked);
            textbuf_printf(&out, "%.*s: %s\n", (int)name, h->data, masked);
        } else {
            textbuf_printf(&out, "%s\n", h->data);
        }
    }
    textbuf_puts(&out, "\n");
    const char *body = call_body(c);
    put_body(e, &out, "request body", body ? body : "", body ? c->body_len : 0, c->body_len);
    write_out(e, &out);
    free(out.s);
}

void debug_header(api_call *c, const char *data, size_t len)
{
    if (c->debug)
        textbuf_put(&c->debug->headers, data, len);
}

void debug_body(api_call *c, const char *data, size_t len)
{
    struct debug_capture *cap = c->debug;
    if (!cap)
        return;
    cap->body_total += len;
    if (cap->body.len < MAX_SHOWN)
        textbuf_put(&cap->body, data, len < MAX_SHOWN - cap->body.len ? len : MAX_SHOWN - cap->body.len);
}

void debug_response(api_call *c, long status, const char *transport_error)
{
    struct debug_capture *cap = c->debug;
    nyx_engine *e = c->e;
    if (!cap)
        return;
    c->debug = NULL;
    textbuf out = {0};
    textbuf_printf(&out, "nyx debug: <<< response %s attempt %d: ", c->result.interaction_id, c->result.attempts);
    if (status > 0)
        textbuf_printf(&out, "HTTP %ld", status);
    else
        textbuf_puts(&out, "no HTTP response");
    textbuf_printf(&out, " after %.1f ms%s%s\n", (clock_now_s() - c->attempt_started) * 1000.0,
         transport_error ? ": " : "", transport_error ? transport_error : "");
    if (cap->headers.len) {
        /* curl hands over the lines with their CRLF: print them with plain newlines */
        for (char *line = cap->headers.s, *end; line && *line; line = end) {
            end = strchr(line, '\n');
            size_t n = end ? (size_t)(end - line) : strlen(line);
            if (end)
                end++;
            if (n && line[n - 1] == '\r')
                n--;
            if (n) {
                textbuf_put(&out, line, n);
                textbuf_puts(&out, "\n");
            }
        }
    }
    if (status > 0 || cap->body_total) {
        textbuf_puts(&out, "\n");
        put_body(e, &out, "response body", cap->body.s, cap->body.len, cap->body_total);
    }
    write_out(e, &out);
    free(out.s);
    capture_free(cap);
}

void debug_free(nyx_engine *e)
{
    debug_state *d = e->debug;
    if (!d)
        return;
    if (d->file)
        fclose(d->file);
    free(d);
    e->debug = NULL;
}
