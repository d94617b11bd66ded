/* The redaction memo (memo.h). A body is cut at its long JSON strings: each is looked up by a
 * seeded XXH3-128 of its bytes (the seed is random per process, base/quick_hash.h, so nobody
 * can craft a text that passes for another), scanned only when new, and the pieces between are scanned as they come.
 * Two checks keep the result equal to guard_redact() of the whole body: cutting must not change
 * what the scanner finds around a cut (a window around it is scanned whole and in halves), and no piece may end inside an open private
 * key block (a block runs to the end of its text when unterminated). Either failing, the body
 * is redacted whole. */
#include "guard/memo.h"

#include "base/json_scan.h"
#include "base/quick_hash.h"
#include "base/textbuf.h"
#include "guard/scan.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SLOTS 1024                 /* entries, direct-mapped by hash */
#define MAX_BYTES ((size_t)4 << 20) /* of redacted copies held */
#define MAX_COPY ((size_t)256 << 10) /* a longer redacted string is not kept (its scan is redone) */
#define WINDOW 128                 /* bytes either side of a cut scanned whole and in halves */
#define MAX_CUTS 64                /* long strings remembered per body; the rest scanned as they come */

#define CUT_SLOTS 64            /* remembered verdicts on cuts, direct-mapped by hash */

/* The findings of a window (for comparing), and of a window's half inside a long string
 * (remembered, inner_half()). */
#define MAX_FOUND 16
typedef struct found {
    guard_finding f[MAX_FOUND];
    size_t n, shift;
    int full;
} found;

/* The verdict of cut_matters() on a window: its bytes (by hash and length), where in it the
 * cut falls and which half is a whole piece decide it. With it, the findings of its outer half
 * (the one outside the long string), offsets from the half's start: when that half is a whole
 * piece of the body (the short tail after the prompt, the head before it), they redact the
 * piece without a scan. */
typedef struct cut_entry {
    XXH128_hash_t h;
    size_t len, at;
    int used, matters;
    found outer;
} cut_entry;

#define HALF_SLOTS 64
typedef struct half_entry {
    XXH128_hash_t h;
    size_t len;
    found f;
    int used;
} half_entry;

typedef struct entry {
    XXH128_hash_t h;
    size_t len;
    char *copy; /* its redaction; NULL: the scanner found nothing */
    size_t copy_len;
    quick_hash out; /* of what it redacts to: the copy, or the text itself */
    int used, key_open;
} entry;

struct guard_memo {
    entry slot[SLOTS];
    cut_entry cut[CUT_SLOTS];
    half_entry half[HALF_SLOTS];
    uint64_t seed;
    size_t bytes, entries;
    uint64_t scans, hits, whole, cuts_checked, cuts_known, halves_known, pieces_known;
};

guard_memo *guard_memo_new(void)
{
    guard_memo *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->seed = quick_hash_seed(); /* the store's memo hashes alike: what this found, it need not */
    return m;
}

static void drop(guard_memo *m, entry *e)
{
    if (!e->used)
        return;
    m->bytes -= e->copy ? e->copy_len : 0;
    m->entries--;
    free(e->copy);
    memset(e, 0, sizeof *e);
}

void guard_memo_free(guard_memo *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(m->slot[i].copy);
    free(m);
}

void guard_memo_get_stats(const guard_memo *m, guard_memo_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    out->scans = m->scans;
    out->hits = m->hits;
    out->whole = m->whole;
    out->cuts_checked = m->cuts_checked;
    out->cuts_known = m->cuts_known;
    out->halves_known = m->halves_known;
    out->pieces_known = m->pieces_known;
    out->entries = m->entries;
    out->bytes = m->bytes;
}

/* ---- the output ---- */

/* The redaction as it is written, in the input's order. While it has only repeated the input
 * (most bodies: nothing found), no byte is copied: `same` counts the input's bytes it stands
 * for, and if it stays so the redaction is the input itself. The first change copies them to o,
 * and writing goes on there. */
typedef struct writer {
    textbuf *o;
    const char *input;
    size_t same;
    int changed;
} writer;

static size_t out_len(const writer *w) { return w->changed ? w->o->len : w->same; }

/* n bytes of the input, at s: the next ones after what was written. */
static void put_same(writer *w, const char *s, size_t n)
{
    if (w->changed)
        textbuf_put(w->o, s, n);
    else
        w->same += n;
}

/* n bytes that are not the input's. */
static void put_other(writer *w, const char *s, size_t n)
{
    if (!w->changed) {
        textbuf_put(w->o, w->input, w->same);
        w->changed = 1;
    }
    textbuf_put(w->o, s, n);
}

/* Redacts one piece onto w; *key_open when a private key block reaches its end. Returns the
 * number of findings. */
typedef struct piece {
    writer *w;
    const char *text;
    size_t len, copied;
    int key_open;
} piece;

static int redact_one(void *ud, const guard_finding *f)
{
    piece *p = ud;
    const char *label = guard_kind_label(f->kind);
    put_same(p->w, p->text + p->copied, f->start - p->copied);
    put_other(p->w, label, strlen(label));
    p->copied = f->end;
    p->key_open |= f->kind == GUARD_PRIVATE_KEY && f->end == p->len;
    return 0;
}

static size_t redact_piece(writer *w, const char *text, size_t len, int *key_open)
{
    piece p = {w, text, len, 0, 0};
    size_t n = guard_scan(text, len, redact_one, &p);
    put_same(w, text + p.copied, len - p.copied);
    *key_open = p.key_open;
    return n;
}

/* What a long string was written as, and its hash, when known: the spans of the output. */
typedef struct spans {
    hashed_span *s;
    size_t n, max;
} spans;

static void add_span(spans *sp, size_t at, size_t len, quick_hash h)
{
    if (sp->n < sp->max)
        sp->s[sp->n++] = (hashed_span){at, len, h};
}

/* A long string: from the memo, or scanned and remembered. Returns -1 when a private key
 * block is open at its end (the body must be redacted whole). */
static int memo_piece(guard_memo *m, writer *w, spans *sp, const char *text, size_t len,
                      const quick_hash *known)
{
    XXH128_hash_t h = known ? (XXH128_hash_t){known->lo, known->hi} : XXH3_128bits_withSeed(text, len, m->seed);
    entry *e = &m->slot[h.low64 % SLOTS];
    size_t at = out_len(w);
    if (e->used && e->len == len && XXH128_isEqual(e->h, h)) {
        m->hits++;
        if (e->key_open)
            return -1;
        if (e->copy)
            put_other(w, e->copy, e->copy_len);
        else
            put_same(w, text, len);
        add_span(sp, at, out_len(w) - at, e->out);
        return 0;
    }
    m->scans++;
    int key_open = 0;
    size_t nfound = redact_piece(w, text, len, &key_open);
    if (w->o->failed)
        return 0;
    size_t copy_len = out_len(w) - at;
    char *copy = NULL;
    if (nfound > 0 && !key_open) { /* a finding was written: the output is in o */
        /* Over the bounds, the verdict is not kept: the string is scanned again next time. */
        if (copy_len > MAX_COPY || (copy = malloc(copy_len)) == NULL)
            return 0;
        memcpy(copy, w->o->s + at, copy_len);
    }
    drop(m, e);
    if (copy && m->bytes + copy_len > MAX_BYTES) {
        for (size_t i = 0; i < SLOTS && m->bytes + copy_len > MAX_BYTES; i++)
            if (m->slot[i].copy)
                drop(m, &m->slot[i]);
    }
    /* Nothing found: the bytes written are the text's, whose hash is h. */
    quick_hash out = copy ? quick_hash_of(copy, copy_len) : (quick_hash){h.low64, h.high64};
    *e = (entry){h, len, copy, copy ? copy_len : 0, out, 1, key_open};
    m->bytes += e->copy_len;
    m->entries++;
    if (key_open)
        return -1;
    if (copy || nfound == 0)
        add_span(sp, at, copy_len, out);
    return 0;
}

/* ---- cutting a body ---- */

static int collect(void *ud, const guard_finding *f)
{
    found *c = ud;
    if (c->n == MAX_FOUND) {
        c->full = 1;
        return 1;
    }
    c->f[c->n] = *f;
    c->f[c->n].start += c->shift;
    c->f[c->n].end += c->shift;
    c->n++;
    return 0;
}

/* The findings of the half of a window that lies inside a long string, by the hash of its
 * bytes: the same from call to call when the other half (the question after the system prompt)
 * is not, so the window is judged again each call but that half is not scanned again. */
static const found *inner_half(guard_memo *m, const char *text, size_t len)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(text, len, m->seed ^ 0x68616c66u);
    half_entry *e = &m->half[h.low64 % HALF_SLOTS];
    if (e->used && e->len == len && XXH128_isEqual(e->h, h)) {
        m->halves_known++;
        return &e->f;
    }
    e->used = 0;
    e->f = (found){.shift = 0};
    guard_scan(text, len, collect, &e->f);
    e->h = h;
    e->len = len;
    e->used = 1;
    return &e->f;
}

/* 1 when cutting the text at cut changes what the scanner finds near it: a finding across the
 * cut, or one that needs what lies on the other side (a label naming the secret after it). The
 * window around the cut is scanned whole and in its two halves; both share the window's outer
 * edges, so only the cut can make them differ. The half inside the long string (the left one
 * when the string ends at cut) comes from inner_half().
 *
 * When the outer half is a whole piece of the body (outer_whole: the short tail after the
 * prompt, the head before it), it is not scanned alone: it is redacted from the window's own
 * findings there, which are what a scan of the whole body finds in it, so only the inner half
 * must come out alike (and no finding may cross the cut). A label at the prompt's end naming a
 * secret in the question then redacts the secret from the window's scan, as the whole body's
 * scan would, and the body need not go whole. */
static int cut_matters(guard_memo *m, const char *text, size_t len, size_t cut, int inner_left, int outer_whole,
                       found *outer_out)
{
    size_t from = cut > WINDOW ? cut - WINDOW : 0;
    size_t to = len - cut > WINDOW ? cut + WINDOW : len;
    size_t at = cut - from;
    found whole = {.shift = 0}, outer = {.shift = 0};
    guard_scan(text + from, to - from, collect, &whole);
    if (whole.full)
        return 1;
    if (outer_whole) {
        size_t k = 0; /* whole.f[0..k) start left of the cut */
        while (k < whole.n && whole.f[k].start < at)
            k++;
        if (k > 0 && whole.f[k - 1].end > at)
            return 1;
        const found *in = inner_left ? inner_half(m, text + from, at) : inner_half(m, text + cut, to - cut);
        size_t first = inner_left ? 0 : k, n = inner_left ? k : whole.n - k, shift = inner_left ? 0 : at;
        if (in->full || in->n != n)
            return 1;
        for (size_t i = 0; i < n; i++) {
            const guard_finding *w = &whole.f[first + i], *h = &in->f[i];
            if (w->kind != h->kind || w->start != h->start + shift || w->end != h->end + shift)
                return 1;
        }
        /* the outer half's findings, from its start */
        size_t o0 = inner_left ? k : 0, on = inner_left ? whole.n - k : k, back = inner_left ? at : 0;
        for (size_t i = 0; i < on; i++) {
            outer.f[i] = whole.f[o0 + i];
            outer.f[i].start -= back;
            outer.f[i].end -= back;
        }
        outer.n = on;
        *outer_out = outer;
        return 0;
    }
    const found *left, *right;
    if (inner_left) {
        left = inner_half(m, text + from, at);
        guard_scan(text + cut, to - cut, collect, &outer);
        right = &outer;
    } else {
        guard_scan(text + from, at, collect, &outer);
        left = &outer;
        right = inner_half(m, text + cut, to - cut);
    }
    /* Scanned as one, the halves would fill at more than MAX_FOUND findings together. */
    if (left->full || right->full || left->n + right->n > MAX_FOUND || whole.n != left->n + right->n)
        return 1;
    *outer_out = outer;
    for (size_t i = 0; i < whole.n; i++) {
        guard_finding h = i < left->n ? left->f[i] : right->f[i - left->n];
        size_t shift = i < left->n ? 0 : at;
        if (whole.f[i].kind != h.kind || whole.f[i].start != h.start + shift || whole.f[i].end != h.end + shift)
            return 1;
    }
    return 0;
}

/* redact_piece(), with the findings a scan finds in these very bytes (a window's outer half,
 * cut_entry): the same output, without scanning them again. */
static void replay_piece(guard_memo *m, writer *w, const char *text, size_t len, const found *f, int *key_open)
{
    piece p = {w, text, len, 0, 0};
    for (size_t i = 0; i < f->n; i++)
        redact_one(&p, &f->f[i]);
    put_same(w, text + p.copied, len - p.copied);
    *key_open = p.key_open;
    m->pieces_known++;
}

/* cut_matters(), from the memo when the same window was judged before. When the window's outer
 * half is a whole piece of the body (it runs to the text's start or end) and the cut is safe,
 * its findings are copied to *whole_piece (NULL: not wanted). */
static int cut_matters_memo(guard_memo *m, const char *text, size_t len, size_t cut, int inner_left, found *whole_piece)
{
    size_t from = cut > WINDOW ? cut - WINDOW : 0;
    size_t to = len - cut > WINDOW ? cut + WINDOW : len;
    /* The verdict depends on which half is inside the long string and on whether the outer one
     * is a whole piece (judged from the window's findings then): both go into the hash. */
    int outer_whole = whole_piece && (inner_left ? to == len : from == 0);
    uint64_t mode = (uint64_t)(inner_left | outer_whole << 1) << 56;
    XXH128_hash_t h = XXH3_128bits_withSeed(text + from, to - from, m->seed ^ mode ^ (uint64_t)(cut - from));
    cut_entry *e = &m->cut[h.low64 % CUT_SLOTS];
    if (e->used && e->len == to - from && e->at == cut - from && XXH128_isEqual(e->h, h)) {
        m->cuts_known++;
    } else {
        m->cuts_checked++;
        e->used = 0;
        e->outer = (found){.shift = 0};
        e->matters = cut_matters(m, text, len, cut, inner_left, outer_whole, &e->outer);
        e->h = h;
        e->len = to - from;
        e->at = cut - from;
        e->used = 1;
    }
    if (outer_whole && !e->matters)
        *whole_piece = e->outer;
    return e->matters;
}

const char *guard_memo_redact_into(guard_memo *m, const char *text, size_t len, const hashed_span *known,
                                   size_t nknown, textbuf *o, hashed_span *span, size_t max_spans,
                                   size_t *nspans)
{
    spans sp = {span, 0, span ? max_spans : 0};
    textbuf_reset(o);
    writer w = {o, text, 0, !text}; /* no text: "", written in o */
    int key_open = 0;
    if (!text)
        len = 0;
    if (!m || len < GUARD_MEMO_MIN)
        goto whole;
    /* The long strings (the known spans that are whole strings stepped over, not read), or the
     * whole text when it has none. */
    size_t from[MAX_CUTS], to[MAX_CUTS];
    size_t n = json_long_strings_known(text, len, GUARD_MEMO_MIN, known, nknown, from, to, MAX_CUTS);
    if (n == 0) {
        from[0] = 0;
        to[n++] = len;
    }
    /* The head before the first long string and the tail after the last, when short: redacted
     * from the findings of their cut's window (head.n == SIZE_MAX: not known, scanned). */
    found head = {.n = SIZE_MAX}, tail = {.n = SIZE_MAX};
    for (size_t k = 0; k < n; k++)
        if ((from[k] > 0 && cut_matters_memo(m, text, len, from[k], 0, k == 0 ? &head : NULL)) ||
            (to[k] < len && cut_matters_memo(m, text, len, to[k], 1, k == n - 1 ? &tail : NULL)))
            goto whole_counted;
    size_t at = 0, j = 0;
    for (size_t k = 0; k < n; k++) {
        while (j < nknown && known[j].at < from[k])
            j++;
        int is_known = j < nknown && known[j].at == from[k] && known[j].len == to[k] - from[k];
        const quick_hash *h = is_known ? &known[j].h : NULL;
        if (k == 0 && head.n != SIZE_MAX)
            replay_piece(m, &w, text, from[0], &head, &key_open);
        else
            redact_piece(&w, text + at, from[k] - at, &key_open);
        if (key_open || memo_piece(m, &w, &sp, text + from[k], to[k] - from[k], h) != 0)
            goto whole_counted;
        at = to[k];
    }
    if (tail.n != SIZE_MAX)
        replay_piece(m, &w, text + at, len - at, &tail, &key_open);
    else
        redact_piece(&w, text + at, len - at, &key_open);
    goto done;
whole_counted:
    m->whole++;
whole:
    /* guard_redact(), written here: the same scan and the same labels. */
    textbuf_reset(o);
    w = (writer){o, text, 0, !text};
    sp.n = 0;
    redact_piece(&w, text, len, &key_open);
done:
    if (nspans)
        *nspans = o->failed ? 0 : sp.n;
    if (!w.changed)
        return text;
    if (textbuf_reserve(o, 0) == 0)
        o->s[o->len] = '\0';
    return o->failed ? NULL : o->s;
}
