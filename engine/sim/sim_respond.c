/* Responses: the headers every API response carries (request-id, content-type, rate
 * limits, fault retry hints), the request log, and bodies sent chunk by chunk with delays
 * that suspend the connection (sim_wait.c) without holding up the others. */
#define _POSIX_C_SOURCE 200809L
#include "sim_http.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

#define BLOCK_SIZE 16384

int sim_http_header(struct MHD_Response *r, const char *name, const char *value)
{
    return mhd()->add_response_header(r, name, value) == MHD_YES ? 0 : -1;
}

static void rfc3339(double wall_s, char *buf, size_t n)
{
    time_t t = (time_t)ceil(wall_s);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, n, "1970-01-01T00:00:00Z");
}

static int add_rl_headers(struct MHD_Response *r, const sim_rl_result *rl)
{
    static const char *const names[SIM_RL_KINDS] = {"requests", "input-tokens", "output-tokens"};
    double wall = clock_wall_s();
    for (int k = 0; k < SIM_RL_KINDS; k++) {
        const sim_rl_state *st = &rl->state[k];
        if (!st->limit)
            continue;
        char name[64], value[48];
        snprintf(name, sizeof name, "anthropic-ratelimit-%s-limit", names[k]);
        snprintf(value, sizeof value, "%lld", (long long)st->limit);
        if (sim_http_header(r, name, value))
            return -1;
        snprintf(name, sizeof name, "anthropic-ratelimit-%s-remaining", names[k]);
        snprintf(value, sizeof value, "%lld", (long long)st->remaining);
        if (sim_http_header(r, name, value))
            return -1;
        snprintf(name, sizeof name, "anthropic-ratelimit-%s-reset", names[k]);
        rfc3339(wall + st->reset_s, value, sizeof value);
        if (sim_http_header(r, name, value))
            return -1;
    }
    return 0;
}

static int add_fault_headers(struct MHD_Response *r, const sim_fault *f)
{
    char value[48];
    if (f->retry_after_s >= 0 && f->kind != SIM_FAULT_SPEND_LIMIT) {
        snprintf(value, sizeof value, "%g", f->retry_after_s);
        if (sim_http_header(r, "retry-after", value))
            return -1;
    }
    if (f->retry_after_ms >= 0 && f->kind != SIM_FAULT_SPEND_LIMIT) {
        snprintf(value, sizeof value, "%g", f->retry_after_ms);
        if (sim_http_header(r, "retry-after-ms", value))
            return -1;
    }
    if (f->should_retry >= 0 &&
        sim_http_header(r, "x-should-retry", f->should_retry ? "true" : "false"))
        return -1;
    return 0;
}

/* Adds the headers every API response carries, queues and releases the response. */
enum MHD_Result sim_http_respond(call *k, int status, struct MHD_Response *r, const char *ctype)
{
    if (!r)
        return MHD_NO;
    int bad = sim_http_header(r, "content-type", ctype) ||
              sim_http_header(r, "request-id", k->reqid) ||
              (k->has_rl && add_rl_headers(r, &k->rl)) ||
              (k->has_fault && add_fault_headers(r, &k->fault));
    enum MHD_Result ok = bad ? MHD_NO : mhd()->queue_response(k->c, (unsigned)status, r);
    mhd()->destroy_response(r);
    return ok;
}

void sim_http_log(call *k, int status)
{
    k->log.status = status;
    k->log.fault = k->has_fault ? sim_fault_name(k->fault.kind) : NULL;
    if (pthread_mutex_lock(&k->s->mu) == 0) {
        (void)sim_log_add(k->s->log, &k->log); /* a lost log line must not fail the request */
        pthread_mutex_unlock(&k->s->mu);
    }
}

enum MHD_Result sim_http_json(call *k, int status, char *body /* freed here */)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *r =
        mhd()->create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    free(body);
    return sim_http_respond(k, status, r, "application/json");
}

enum MHD_Result sim_http_fail(call *k, int status, const char *type, const char *message)
{
    sim_http_log(k, status);
    return sim_http_json(k, status, sim_json_error(type, message, k->reqid));
}

/* ---- bodies sent chunk by chunk ---- */

typedef struct reader {
    sim_server *s;
    struct MHD_Connection *c;
    int fd;
    sim_body body;
    size_t chunk, off;
    int waited;  /* the current chunk's delay is over */
    int waiting; /* suspended for that delay; outcome says how it ended */
    int outcome;
} reader;

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    reader *rd = cls;
    (void)pos;
    if (rd->chunk >= rd->body.n)
        return rd->body.fail_at_end ? MHD_CONTENT_READER_END_WITH_ERROR
                                    : MHD_CONTENT_READER_END_OF_STREAM;
    const sim_chunk *ch = &rd->body.chunks[rd->chunk];
    if (rd->waiting) { /* called again once the delay ended */
        rd->waiting = 0;
        if (rd->outcome)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        rd->waited = 1;
    }
    if (!rd->waited) {
        if (ch->delay_us > 0) {
            if (sim_waits_add(rd->s->waits, rd->c, rd->fd, clock_now_us() + ch->delay_us,
                              &rd->outcome))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            rd->waiting = 1;
            return 0; /* nothing now: libmicrohttpd asks again when resumed */
        }
        rd->waited = 1;
    }
    size_t n = ch->len - rd->off < max ? ch->len - rd->off : max;
    memcpy(buf, ch->data + rd->off, n);
    rd->off += n;
    if (rd->off == ch->len) {
        rd->chunk++;
        rd->off = 0;
        rd->waited = 0;
    }
    return (ssize_t)n;
}

static void free_reader(void *cls)
{
    reader *rd = cls;
    sim_body_free(&rd->body);
    free(rd);
}

/* Sends a body (taken over, freed either way). */
enum MHD_Result sim_http_body(call *k, sim_body *body, const char *ctype)
{
    /* One chunk sent at once, whole: MHD takes the text as it is (a reader would cost a
     * BLOCK_SIZE buffer, zeroed, and a copy). */
    if (body->n == 1 && body->chunks[0].delay_us <= 0 && !body->fail_at_end &&
        body->declared_len == (int64_t)body->chunks[0].len) {
        struct MHD_Response *r = mhd()->create_response_from_buffer(
            body->chunks[0].len, body->chunks[0].data, MHD_RESPMEM_MUST_FREE);
        if (r)
            body->chunks[0].data = NULL; /* MHD frees it with the response */
        sim_body_free(body);
        return sim_http_respond(k, 200, r, ctype);
    }
    reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        sim_body_free(body);
        return MHD_NO;
    }
    rd->s = k->s;
    rd->c = k->c;
    rd->fd = k->fd;
    rd->body = *body;
    uint64_t size = body->declared_len >= 0 ? (uint64_t)body->declared_len : MHD_SIZE_UNKNOWN;
    struct MHD_Response *r =
        mhd()->create_response_from_callback(size, BLOCK_SIZE, read_body, rd, free_reader);
    if (!r) {
        free_reader(rd);
        return MHD_NO;
    }
    if (size == MHD_SIZE_UNKNOWN && sim_http_header(r, "cache-control", "no-cache")) {
        mhd()->destroy_response(r);
        return MHD_NO;
    }
    return sim_http_respond(k, 200, r, ctype);
}
