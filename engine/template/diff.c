/* A line diff in unified style, for `nyx templates diff`: the longest common subsequence of
 * the lines (after trimming the common head and tail), then hunks with three lines of context.
 * Templates are small; past DIFF_MAX_CELLS the middle is shown as removed then added. */
#define _POSIX_C_SOURCE 200809L
#include "library.h"

#include "base/textbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_CONTEXT 3
#define DIFF_MAX_CELLS ((size_t)1 << 24)

typedef struct line {
    const char *s;
    size_t len;
} line;

typedef struct lines {
    line *l;
    size_t n;
} lines;

static int split(const char *text, lines *out)
{
    size_t cap = 16;
    out->n = 0;
    out->l = malloc(cap * sizeof *out->l);
    if (!out->l)
        return -1;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (out->n == cap) {
            line *l = realloc(out->l, (cap *= 2) * sizeof *l);
            if (!l)
                return -1;
            out->l = l;
        }
        out->l[out->n++] = (line){p, len};
        p += len + (nl != NULL);
    }
    return 0;
}

static int same(const line *a, const line *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* ops: one per output line: ' ' (both), '-' (a only), '+' (b only). */
static char *edit_script(const lines *a, const lines *b, size_t *nops)
{
    size_t n = a->n, m = b->n, head = 0, tail = 0;
    while (head < n && head < m && same(&a->l[head], &b->l[head]))
        head++;
    while (tail < n - head && tail < m - head && same(&a->l[n - 1 - tail], &b->l[m - 1 - tail]))
        tail++;
    size_t an = n - head - tail, bn = m - head - tail;
    char *ops = malloc(n + m + 1);
    if (!ops)
        return NULL;
    size_t k = 0;
    memset(ops, ' ', head);
    k = head;
    uint32_t *L = NULL;
    if (an && bn && (an + 1) * (bn + 1) <= DIFF_MAX_CELLS)
        L = calloc((an + 1) * (bn + 1), sizeof *L);
    if (L) {
        /* L[i][j]: length of the common subsequence of a[i..] and b[j..] (middle part). */
        size_t w = bn + 1;
        for (size_t i = an; i-- > 0;)
            for (size_t j = bn; j-- > 0;)
                L[i * w + j] = same(&a->l[head + i], &b->l[head + j])
                                   ? L[(i + 1) * w + j + 1] + 1
                                   : (L[(i + 1) * w + j] >= L[i * w + j + 1] ? L[(i + 1) * w + j]
                                                                             : L[i * w + j + 1]);
        size_t i = 0, j = 0;
        while (i < an && j < bn) {
            if (same(&a->l[head + i], &b->l[head + j])) {
                ops[k++] = ' ';
                i++, j++;
            } else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) {
                ops[k++] = '-';
                i++;
            } else {
                ops[k++] = '+';
                j++;
            }
        }
        for (; i < an; i++)
            ops[k++] = '-';
        for (; j < bn; j++)
            ops[k++] = '+';
        free(L);
    } else {
        memset(ops + k, '-', an);
        k += an;
        memset(ops + k, '+', bn);
        k += bn;
    }
    memset(ops + k, ' ', tail);
    k += tail;
    *nops = k;
    return ops;
}

char *text_diff(const char *a, const char *b, const char *label_a, const char *label_b)
{
    lines la = {0}, lb = {0};
    textbuf out = {0};
    char *ops = NULL;
    size_t nops = 0;
    if (split(a ? a : "", &la) != 0 || split(b ? b : "", &lb) != 0 ||
        !(ops = edit_script(&la, &lb, &nops)))
        goto done;
    textbuf_printf(&out, "--- %s\n+++ %s\n", label_a, label_b);
    /* ai[k], bi[k]: the line of a and of b at op k (before it, for the side it lacks). */
    size_t k = 0, ai = 0, bi = 0;
    while (k < nops) {
        if (ops[k] == ' ') {
            k++, ai++, bi++;
            continue;
        }
        /* A hunk: back up over the context, then run until DIFF_CONTEXT * 2 equal lines. */
        size_t back = 0;
        while (back < DIFF_CONTEXT && back < k && ops[k - back - 1] == ' ')
            back++;
        size_t start = k - back, a0 = ai - back, b0 = bi - back, end = k;
        for (size_t equal = 0; end < nops; end++) {
            equal = ops[end] == ' ' ? equal + 1 : 0;
            if (equal > 2 * DIFF_CONTEXT)
                break;
        }
        /* end: the op after the last change plus its context. */
        size_t last = end;
        while (last > start && ops[last - 1] == ' ')
            last--;
        size_t stop = last + DIFF_CONTEXT < nops ? last + DIFF_CONTEXT : nops;
        size_t acount = 0, bcount = 0;
        for (size_t x = start; x < stop; x++) {
            acount += ops[x] != '+';
            bcount += ops[x] != '-';
        }
        textbuf_printf(&out, "@@ -%zu,%zu +%zu,%zu @@\n", acount ? a0 + 1 : a0, acount, bcount ? b0 + 1 : b0,
            bcount);
        for (size_t x = start, ia = a0, ib = b0; x < stop; x++) {
            const line *l = ops[x] == '+' ? &lb.l[ib] : &la.l[ia];
            textbuf_printf(&out, "%c%.*s\n", ops[x], (int)l->len, l->s);
            ia += ops[x] != '+';
            ib += ops[x] != '-';
        }
        for (; k < stop; k++) {
            ai += ops[k] != '+';
            bi += ops[k] != '-';
        }
    }
done:
    free(la.l);
    free(lb.l);
    free(ops);
    if (out.failed || !out.s) {
        free(out.s);
        return NULL;
    }
    return out.s;
}
