/* libFuzzer target: the streamed-response (SSE) parser. Input: one byte k, then k & 7 bytes
 * of chunk sizes, then the stream. The stream is fed in chunks of those sizes (cycling), and
 * again in one piece: both must end the same way with the same response, since bytes may be
 * split anywhere by the network. After a failed feed, every later feed must fail too. A stream
 * never fails as out of memory: libFuzzer ends the run before malloc fails, so one that does
 * misnames what was wrong with it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claude/sse.h"

typedef struct counts {
    size_t starts, text_bytes;
} counts;

static void on_start(void *ud) { ((counts *)ud)->starts++; }
static void on_text(void *ud, const char *text, size_t len)
{
    (void)text;
    if (len == 0)
        abort();
    ((counts *)ud)->text_bytes += len;
}

typedef struct outcome {
    claude_response r;
    counts c;
    int feed_rc, finish_rc;
    char err_type[40];
} outcome;

static void run(const char *s, size_t n, const uint8_t *sched, size_t nsched, outcome *o)
{
    memset(o, 0, sizeof *o);
    response_init(&o->r);
    claude_stream_hooks hooks = {.on_start = on_start, .on_text = on_text, .ud = &o->c};
    claude_stream *st = claude_stream_new(&o->r, &hooks);
    if (!st)
        abort();
    error_info err;
    error_clear(&err);
    size_t at = 0, k = 0;
    while (at < n && o->feed_rc == 0) {
        size_t chunk = nsched ? (size_t)sched[k++ % nsched] + 1 : n;
        if (chunk > n - at)
            chunk = n - at;
        o->feed_rc = claude_stream_feed(st, s + at, chunk, &err);
        at += chunk;
    }
    if (o->feed_rc != 0 && claude_stream_feed(st, "\n\n", 2, &err) != -1)
        abort(); /* a dead stream stays dead */
    error_clear(&err);
    o->finish_rc = claude_stream_finish(st, &err);
    memcpy(o->err_type, err.type, sizeof o->err_type);
    if (strcmp(err.type, "out_of_memory") == 0)
        abort();
    claude_stream_free(st);
    if (!o->r.text || o->r.text_len != o->c.text_bytes || o->r.text[o->r.text_len] != '\0')
        abort();
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_usage(const claude_usage *a, const claude_usage *b)
{
    return a->input_tokens == b->input_tokens && a->output_tokens == b->output_tokens &&
           a->cache_creation_input_tokens == b->cache_creation_input_tokens &&
           a->cache_read_input_tokens == b->cache_read_input_tokens &&
           a->cache_creation_5m == b->cache_creation_5m &&
           a->cache_creation_1h == b->cache_creation_1h &&
           a->has_cache_creation_detail == b->has_cache_creation_detail;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t nsched = data[0] & 7u;
    if (size < 1 + nsched)
        return 0;
    const uint8_t *sched = data + 1;
    const char *stream = (const char *)data + 1 + nsched;
    size_t n = size - 1 - nsched;

    outcome whole, split;
    run(stream, n, NULL, 0, &whole);
    run(stream, n, sched, nsched, &split);
    int same = whole.feed_rc == split.feed_rc && whole.finish_rc == split.finish_rc &&
               strcmp(whole.err_type, split.err_type) == 0 &&
               whole.r.text_len == split.r.text_len &&
               memcmp(whole.r.text, split.r.text, whole.r.text_len) == 0 &&
               same_str(whole.r.id, split.r.id) && same_str(whole.r.model, split.r.model) &&
               same_str(whole.r.stop_reason, split.r.stop_reason) &&
               same_usage(&whole.r.usage, &split.r.usage) &&
               whole.c.starts == split.c.starts;
    response_free(&whole.r);
    response_free(&split.r);
    if (!same)
        abort();
    return 0;
}
