/* libFuzzer target: the PII and secrets scanner. Any input must scan without a crash or an
 * out-of-bounds read, findings must be in order, disjoint and inside the text, redaction must
 * agree with the scan, and masking must never show more than 8 characters of a secret. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/scan.h"

typedef struct seen {
    size_t len, n, prev_end, label_bytes, found_bytes;
} seen;

static int check_finding(void *ud, const guard_finding *f)
{
    seen *s = ud;
    if ((unsigned)f->kind >= GUARD_KIND_COUNT || f->start >= f->end || f->end > s->len ||
        f->start < s->prev_end)
        abort();
    s->prev_end = f->end;
    s->n++;
    s->label_bytes += strlen(guard_kind_label(f->kind));
    s->found_bytes += f->end - f->start;
    return 0;
}

static int stop_now(void *ud, const guard_finding *f)
{
    (void)f;
    ++*(size_t *)ud;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    seen s = {.len = size};
    size_t n = guard_scan(text, size, check_finding, &s);
    if (n != s.n || guard_scan(text, size, NULL, NULL) != n)
        abort();

    size_t calls = 0;
    if (guard_scan(text, size, stop_now, &calls) != (n ? 1u : 0u) || calls != (n ? 1u : 0u))
        abort();

    size_t out_len = 0;
    char *out = guard_redact(text, size, &out_len);
    if (out) { /* NULL only when memory ran out */
        if (out_len != size - s.found_bytes + s.label_bytes || out[out_len] != '\0')
            abort();
        free(out);
    }

    /* the input as a secret: at most the first 6 and last 2 characters survive */
    char *secret = malloc(size + 1);
    if (!secret)
        return 0;
    memcpy(secret, data, size);
    secret[size] = '\0';
    char masked[64];
    guard_mask(secret, masked, sizeof masked);
    size_t slen = strlen(secret), shown = 0;
    for (size_t k = 0; masked[k]; k++)
        shown += masked[k] != '*';
    if (strlen(masked) != (slen < sizeof masked ? slen : sizeof masked - 1) || shown > 8)
        abort();
    free(secret);
    return 0;
}
