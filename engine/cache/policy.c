#define _GNU_SOURCE /* memrchr */
#include "policy.h"

#include "claude/request.h"

#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#define MAX_MARKS 4
#define LOOKBACK 20        /* blocks the API looks back from a mark for an earlier entry */
/* How far apart the policy keeps a mark and the entry it should find: one short of the
 * lookback, so that either reading of "20 blocks back" (counting the mark's own block or
 * not) finds it. A link costs nothing. */
#define SPAN (LOOKBACK - 1)
#define MAX_PREFIXES 256   /* written prefixes remembered, across models */
#define MAX_WRITTEN 512    /* written block prefixes (conversations) remembered */
#define MAX_RECENT 8       /* recent system prompts kept for shared-prefix discovery */
#define MAX_RECENT_BYTES (1u << 20)
#define DEFAULT_BYTES_PER_TOKEN 4.0

typedef struct prefix_entry {
    const model_info *model;
    uint64_t hash;          /* of the system text up to the mark */
    size_t len;
    int64_t tokens;         /* estimated */
    double usable_at;       /* once the response that wrote it began; 0 = still pending */
    double expires_at;
    double ttl_s;
    double premium_usd;     /* paid to write it, above the plain input price */
    int64_t reads;
} prefix_entry;

/* A prefix of whole blocks (tools, system, messages) that a mark of this engine wrote. */
typedef struct block_entry {
    const model_info *model;
    uint64_t hash;      /* cumulative, through the block (see block_hashes) */
    size_t block;       /* the block's index in prefix order, tools not counted */
    double expires_at;
} block_entry;

typedef struct recent_prompt {
    const model_info *model;
    char *text;
    size_t len;
} recent_prompt;

typedef struct calibration {
    const model_info *model;
    double bytes_per_token;
    /* Of the bytes of the texts it came from, the share that may each be a token and the
     * share beyond ASCII (base/text_shape.h), averaged as the ratio is: what the ratio vouches
     * for, and no more (cache_estimate_tokens_max). */
    double other_share;
    double nonascii_share;
    int64_t samples;
} calibration;

struct cache_policy {
    const model_table *models;
    prefix_entry prefixes[MAX_PREFIXES];
    size_t nprefixes;
    recent_prompt recent[MAX_RECENT];
    size_t next_recent;
    calibration *calib;
    size_t ncalib;
    block_entry written[MAX_WRITTEN];
    size_t nwritten;
    unsigned long long prefix_bytes; /* read to hash remembered prefixes (prefix_hashes) */
};

cache_policy *cache_policy_new(const model_table *models)
{
    cache_policy *p = calloc(1, sizeof *p);
    if (p)
        p->models = models;
    return p;
}

void cache_policy_free(cache_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < MAX_RECENT; i++)
        free(p->recent[i].text);
    free(p->calib);
    free(p);
}

/* ---- token estimates ---- */

static const calibration *find_calibration(const cache_policy *p, const model_info *m)
{
    for (size_t i = 0; i < p->ncalib; i++)
        if (p->calib[i].model == m)
            return &p->calib[i];
    return NULL;
}

int64_t cache_estimate_tokens(const cache_policy *p, const model_info *m, size_t bytes)
{
    const calibration *c = m ? find_calibration(p, m) : NULL;
    double ratio = c ? c->bytes_per_token : DEFAULT_BYTES_PER_TOKEN;
    return (int64_t)((double)bytes / ratio);
}

/* The most tokens a request may hold, which a budget reserves for, so never short of what the
 * API then bills:
 * - Before any usage of the model was seen: a token for every byte that may be one of its own
 *   (text_shape.h: digits, marks, line breaks, a word begun after a mark), and one for every 2
 *   of the other bytes (words, other scripts' characters, the JSON around the texts), which
 *   is as many as the API's tokenizers give words and other scripts.
 * - Once calibrated: the ratio seen less a fifth, for the bytes the ratio vouches for. It was
 *   learnt from the texts of earlier calls and holds for text like them: for each byte of
 *   words, as many bytes that may each be a token, and as many beyond ASCII, as came with a
 *   byte of words there. What a text has beyond that (the digits and marks of base64 or code
 *   after prose, a CJK text after English, a text of marks alone) is counted as before
 *   calibration. Without this, English calls taught 4.3 bytes a token, the margin made it
 *   3.5, and 3 MB of base64 was reserved for 0.85M tokens where the simulator billed 1.2M. */
#define MAX_TOKENS_BYTES_PER_TOKEN 2.0
#define CALIBRATED_MARGIN 1.2

int64_t cache_estimate_tokens_max(const cache_policy *p, const model_info *m, const text_shape *texts,
                                  size_t bytes)
{
    const calibration *c = m ? find_calibration(p, m) : NULL;
    double all = (double)(bytes > texts->bytes ? bytes : texts->bytes);
    double other = (double)texts->other, nonascii = (double)texts->nonascii;
    if (!c)
        return (int64_t)((all - other) / MAX_TOKENS_BYTES_PER_TOKEN + other) + 1;
    /* As many bytes of each kind as came with this text's bytes of words in the texts the
     * ratio was learnt from; none when those texts had next to no words. */
    double plain = (double)texts->bytes - other - nonascii;
    double plain_share = 1.0 - c->other_share - c->nonascii_share;
    double per_plain = plain_share > 0.01 ? plain / plain_share : 0;
    double extra_other = other - c->other_share * per_plain;
    double extra_nonascii = nonascii - c->nonascii_share * per_plain;
    if (extra_other < 0)
        extra_other = 0;
    if (extra_nonascii < 0)
        extra_nonascii = 0;
    double vouched = all - extra_other - extra_nonascii;
    return (int64_t)(vouched * CALIBRATED_MARGIN / c->bytes_per_token + extra_other +
                     extra_nonascii / MAX_TOKENS_BYTES_PER_TOKEN) + 1;
}

const model_info *cache_calibration_at(const cache_policy *p, size_t i, double *bytes_per_token,
                                      int64_t *samples)
{
    if (i >= p->ncalib)
        return NULL;
    *bytes_per_token = p->calib[i].bytes_per_token;
    *samples = p->calib[i].samples;
    return p->calib[i].model;
}

static void calibrate(cache_policy *p, const model_info *m, const text_shape *texts, int64_t tokens)
{
    size_t bytes = texts->bytes;
    if (!m || tokens <= 0 || bytes == 0)
        return;
    calibration *c = (calibration *)find_calibration(p, m);
    if (!c) {
        calibration *grown = realloc(p->calib, (p->ncalib + 1) * sizeof *grown);
        if (!grown)
            return;
        p->calib = grown;
        c = &p->calib[p->ncalib++];
        c->model = m;
        c->bytes_per_token = DEFAULT_BYTES_PER_TOKEN;
        /* Nothing vouched for until seen: the shares start at none and grow as the ratio
         * moves from its default, so the first calls do not vouch for more than they saw. */
        c->other_share = 0;
        c->nonascii_share = 0;
        c->samples = 0;
    }
    double observed = (double)bytes / (double)tokens;
    /* Early samples move the estimate quickly; later ones smooth out noise. */
    double weight = c->samples < 4 ? 0.5 : 0.1;
    c->bytes_per_token = c->bytes_per_token * (1.0 - weight) + observed * weight;
    c->other_share = c->other_share * (1.0 - weight) + (double)texts->other / (double)bytes * weight;
    c->nonascii_share = c->nonascii_share * (1.0 - weight) + (double)texts->nonascii / (double)bytes * weight;
    c->samples++;
}

/* ---- remembered prefixes ---- */

/* A prefix's key: the XXH3-64 of its text (what block_hash() keeps with a shared text), mixed
 * with the model. A prefix that is a whole block is keyed from the block's hash, without
 * reading its text again. */
static uint64_t prefix_key(const model_info *m, uint64_t text_hash)
{
    return XXH3_64bits_withSeed(&text_hash, sizeof text_hash, (uint64_t)(uintptr_t)m);
}

/* Every read of a system text to hash a prefix of it goes through here or prefix_hashes, and
 * is counted (cache_prefix_bytes_read). */
static uint64_t hash_prefix(cache_policy *p, const model_info *m, const char *text, size_t len)
{
    p->prefix_bytes += len;
    return prefix_key(m, XXH3_64bits(text, len));
}

static uint64_t hash_block_prefix(const model_info *m, const claude_block *b)
{
    return prefix_key(m, block_hash(b));
}

static int by_len(const void *a, const void *b)
{
    size_t x = (*(const prefix_entry *const *)a)->len, y = (*(const prefix_entry *const *)b)->len;
    return x < y ? -1 : x > y;
}

/* Which of the entries e[0..n) text starts with (match[i] 1 or 0), e sorted by length, all
 * within text: one pass over text, the hash of each length taken from the running state on
 * the way. Hashing text again at each entry's length read it once for every remembered
 * prompt shorter than it (up to 256), so a service sending many prompts of about the same
 * length read each of them up to 256 times a call. */
static void prefix_hashes(cache_policy *p, const model_info *m, const char *text, const prefix_entry *const *e,
                          size_t n, unsigned char *match)
{
    XXH3_state_t st;
    if (XXH3_64bits_reset(&st) != XXH_OK) {
        for (size_t i = 0; i < n; i++) /* cannot fail for the default secret; hash each then */
            match[i] = hash_prefix(p, m, text, e[i]->len) == e[i]->hash;
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i]->len > at && XXH3_64bits_update(&st, text + at, e[i]->len - at) == XXH_OK)
            at = e[i]->len;
        match[i] = at == e[i]->len && prefix_key(m, XXH3_64bits_digest(&st)) == e[i]->hash;
    }
    p->prefix_bytes += at;
}

/* The longest remembered prefix, shorter than len, that text starts with. */
static const prefix_entry *longest_known(cache_policy *p, const model_info *m, const char *text, size_t len)
{
    const prefix_entry *cand[MAX_PREFIXES];
    unsigned char match[MAX_PREFIXES];
    size_t n = 0;
    for (size_t i = 0; i < p->nprefixes; i++)
        if (p->prefixes[i].model == m && p->prefixes[i].len < len)
            cand[n++] = &p->prefixes[i];
    qsort(cand, n, sizeof *cand, by_len);
    prefix_hashes(p, m, text, cand, n, match);
    for (size_t i = n; i-- > 0;)
        if (match[i])
            return cand[i];
    return NULL;
}

unsigned long long cache_prefix_bytes_read(const cache_policy *p) { return p ? p->prefix_bytes : 0; }

static prefix_entry *remember_prefix(cache_policy *p, const model_info *m, uint64_t h,
                                     size_t len, int64_t tokens, double ttl_s)
{
    prefix_entry *slot = NULL;
    for (size_t i = 0; i < p->nprefixes; i++)
        if (p->prefixes[i].model == m && p->prefixes[i].hash == h && p->prefixes[i].len == len)
            return &p->prefixes[i];
    if (p->nprefixes < MAX_PREFIXES) {
        slot = &p->prefixes[p->nprefixes++];
    } else { /* replace the one that expires first */
        slot = &p->prefixes[0];
        for (size_t i = 1; i < MAX_PREFIXES; i++)
            if (p->prefixes[i].expires_at < slot->expires_at)
                slot = &p->prefixes[i];
    }
    *slot = (prefix_entry){m, h, len, tokens, 0, 0, ttl_s, 0, 0};
    return slot;
}

/* The longest prefix a recent prompt shares with text, cut back to the end of a line or word
 * so that every prompt of the same pattern splits at the same place. */
static size_t shared_with_recent(const cache_policy *p, const model_info *m, const char *text,
                                 size_t len)
{
    size_t best = 0;
    for (size_t i = 0; i < MAX_RECENT; i++) {
        const recent_prompt *r = &p->recent[i];
        if (!r->text || r->model != m)
            continue;
        size_t n = r->len < len ? r->len : len, k = 0;
        while (k < n && r->text[k] == text[k])
            k++;
        if (k > best)
            best = k;
    }
    if (best >= len)
        return len;
    while (best > 0 && text[best - 1] != '\n' && text[best - 1] != ' ')
        best--;
    return best;
}

static void remember_recent(cache_policy *p, const model_info *m, const char *text, size_t len)
{
    if (len > MAX_RECENT_BYTES)
        return;
    for (size_t i = 0; i < MAX_RECENT; i++)
        if (p->recent[i].model == m && p->recent[i].len == len && memcmp(p->recent[i].text, text, len) == 0)
            return;
    recent_prompt *r = &p->recent[p->next_recent];
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    free(r->text);
    *r = (recent_prompt){m, copy, len};
    p->next_recent = (p->next_recent + 1) % MAX_RECENT;
}

/* The last paragraph break before the end whose prefix is long enough to cache: a first
 * prompt of a pattern (shared context, then a varying instruction) is split there, so the
 * next prompt of the pattern finds the shared part already written, at no extra cost (a
 * write is billed up to the last mark either way). */
static size_t last_paragraph(const char *text, size_t len, size_t min_len)
{
    /* The newest '\n' at i (min_len <= i <= len - 2) with another before it ends the break at
     * i + 1; memrchr finds each candidate a vector at a time, since a long prompt without a
     * break (the common case) is otherwise read a byte at a time on every call. */
    size_t n = len >= 1 && len - 1 > min_len ? len - 1 - min_len : 0;
    while (n > 0) {
        const char *nl = memrchr(text + min_len, '\n', n);
        if (!nl)
            return 0;
        size_t i = (size_t)(nl - text);
        if (i >= 1 && text[i - 1] == '\n')
            return i + 1;
        n = i - min_len;
    }
    return 0;
}

static prefix_entry *find_entry(cache_policy *p, const model_info *m, uint64_t hash, size_t len);

/* ---- written block prefixes ---- */

static size_t count_blocks(const claude_request *req)
{
    size_t n = req->nsystem;
    for (size_t i = 0; i < req->nmessages; i++)
        n += req->messages[i].nblocks;
    return n;
}

/* A block by its index in prefix order: system blocks, then message blocks. */
static claude_block *block_at(const claude_request *req, size_t k)
{
    if (k < req->nsystem)
        return &req->system[k];
    k -= req->nsystem;
    for (size_t i = 0; i < req->nmessages; i++) {
        if (k < req->messages[i].nblocks)
            return &req->messages[i].blocks[k];
        k -= req->messages[i].nblocks;
    }
    return NULL;
}

/* The hash h extended by a part: a tag, a length and the hash of the bytes (not the bytes: a
 * block's hash is kept with its shared text, so a long prompt is not read again here on every
 * call). */
static uint64_t chain(uint64_t h, char tag, size_t len, uint64_t bytes_hash)
{
    uint64_t part[3] = {(uint64_t)(unsigned char)tag, (uint64_t)len, bytes_hash};
    return XXH3_64bits_withSeed(part, sizeof part, h);
}

/* The cumulative hash through each block, in prefix order, of what the API keys its cache
 * on: the model, the tools, the block texts and the role boundaries, not the marks. Block
 * boundaries count, as they do for the API: a text split in two is another prefix.
 * Returns an array of count_blocks(req) hashes: local (LOCAL_HASHES of them) when they fit,
 * else malloc'd (free it when it is not local); NULL when out of memory. */
#define LOCAL_HASHES 16
static uint64_t *block_hashes(const claude_request *req, const model_info *m, uint64_t local[LOCAL_HASHES])
{
    size_t n = count_blocks(req);
    uint64_t *h = n <= LOCAL_HASHES ? local : malloc(n * sizeof *h);
    if (!h)
        return NULL;
    uint64_t at = (uint64_t)(uintptr_t)m;
    if (req->tools_json) {
        size_t len = strlen(req->tools_json);
        at = chain(at, 'T', len, XXH3_64bits(req->tools_json, len));
    }
    size_t k = 0;
    for (size_t i = 0; i < req->nsystem; i++)
        h[k++] = at = chain(at, 's', req->system[i].len, block_hash(&req->system[i]));
    for (size_t i = 0; i < req->nmessages; i++) {
        const claude_message *msg = &req->messages[i];
        at = chain(at, msg->role == NYX_ROLE_USER ? 'u' : 'a', 0, 0);
        for (size_t j = 0; j < msg->nblocks; j++)
            h[k++] = at = chain(at, 't', msg->blocks[j].len, block_hash(&msg->blocks[j]));
    }
    return h;
}

/* The index of the newest block whose prefix this engine wrote and is still alive; -1 if none. */
static long newest_written(const cache_policy *p, const model_info *m, const uint64_t *h, size_t n,
                           double now)
{
    long best = -1;
    for (size_t i = 0; i < p->nwritten; i++) {
        const block_entry *e = &p->written[i];
        if (e->model == m && e->block < n && (long)e->block > best && e->expires_at > now &&
            h[e->block] == e->hash)
            best = (long)e->block;
    }
    return best;
}

static void remember_block(cache_policy *p, const model_info *m, uint64_t hash, size_t block,
                           double expires_at)
{
    block_entry *slot = NULL;
    for (size_t i = 0; i < p->nwritten && !slot; i++)
        if (p->written[i].model == m && p->written[i].hash == hash && p->written[i].block == block)
            slot = &p->written[i];
    if (slot) {
        if (slot->expires_at < expires_at)
            slot->expires_at = expires_at;
        return;
    }
    if (p->nwritten < MAX_WRITTEN) {
        slot = &p->written[p->nwritten++];
    } else { /* replace the one that expires first */
        slot = &p->written[0];
        for (size_t i = 1; i < MAX_WRITTEN; i++)
            if (p->written[i].expires_at < slot->expires_at)
                slot = &p->written[i];
    }
    *slot = (block_entry){m, hash, block, expires_at};
}

/* ---- placing marks ---- */

/* The marks the script placed (the API's top-level one included); the number of tools in
 * *ntools. */
static int count_user_marks(const claude_request *req, size_t *ntools)
{
    int n = req->top_level_cache ? 1 : 0;
    int tools = claude_tools_marks(req->tools_json, ntools);
    if (tools > 0) /* invalid tools fail when the body is built, naming the problem */
        n += tools;
    for (size_t i = 0; i < req->nsystem; i++)
        n += req->system[i].mark != NYX_MARK_NONE;
    for (size_t i = 0; i < req->nmessages; i++)
        for (size_t j = 0; j < req->messages[i].nblocks; j++)
            n += req->messages[i].blocks[j].mark != NYX_MARK_NONE;
    return n;
}

static int split_system(claude_request *req, size_t at, int mark)
{
    claude_block *b = realloc(req->system, 2 * sizeof *b);
    if (!b)
        return -1;
    req->system = b;
    claude_block tail;
    if (block_set(&tail, b[0].text + at, b[0].len - at, b[0].mark) != 0)
        return -1;
    if (block_truncate(&b[0], at) != 0) {
        free(tail.text);
        return -1;
    }
    b[0].mark = mark;
    b[1] = tail;
    req->nsystem = 2;
    return 0;
}

/* Marks for a system prompt given as one unmarked string; returns marks added. The whole
 * prompt is marked whatever its estimated length: below the model's minimum the API ignores
 * the mark at no cost, and the estimate may be short. */
static int mark_system(cache_policy *p, claude_request *req, const model_info *m, int mark,
                       int slots, int force, double now, cache_expect *ex)
{
    claude_block *s = &req->system[0];
    int64_t min = m ? m->min_cache_tokens : 1024;
    int64_t total = cache_estimate_tokens(p, m, s->len);
    size_t min_len = (size_t)((double)min * (double)s->len / (double)(total > 0 ? total : 1));
    /* The longest remembered prefix short of the whole prompt, and the whole prompt: one sent
     * before is split where it was then, so that it reads what it wrote. */
    const prefix_entry *inner = m ? longest_known(p, m, s->text, s->len) : NULL;
    const prefix_entry *whole = m ? find_entry(p, m, hash_block_prefix(m, s), s->len) : NULL;
    const prefix_entry *known = whole ? whole : inner;
    size_t split = 0;
    if (inner && inner->len < s->len)
        split = inner->len;
    else if (!known && m)
        split = shared_with_recent(p, m, s->text, s->len);
    if (!known && (split <= min_len || split >= s->len))
        split = last_paragraph(s->text, s->len, min_len);
    if (split <= min_len && !force)
        split = 0;
    ex->placed_at = now;
    if (known) {
        ex->expect_hit = known->usable_at > 0 && known->usable_at <= now && known->expires_at > now;
        ex->written_at = known->usable_at;
        ex->known_hash = known->hash;
        ex->known_len = known->len;
    }
    int added = 0;
    if (split > 0 && split < s->len && slots >= 2) {
        if (split_system(req, split, mark) != 0)
            return -1;
        s = &req->system[1];
        added++;
    }
    s->mark = mark;
    added++;
    return added;
}

/* The newest block that can carry a mark (the API refuses one on an empty text or a
 * thinking block), at or
 * before index k; -1 when none. */
static long markable_at_or_before(const claude_request *req, long k)
{
    for (; k >= 0; k--)
        if (block_at(req, (size_t)k)->len > 0 && !block_at(req, (size_t)k)->no_mark)
            return k;
    return -1;
}

/* Marks the newest block, so the next turn of a conversation reads everything sent so far,
 * and, when more than SPAN blocks separate it from the newest prefix this engine wrote,
 * a chain of marks from there, each within the lookback of the one before, so the written
 * prefix is still found. The chain takes slots from the tools' and the system's marks when
 * it must; a gap that even 3 links cannot bridge has nothing readable, so it gets none.
 * Returns the number of marks in the request afterwards. */
static int mark_messages(cache_policy *p, claude_request *req, const model_info *m, int mark,
                         int marks, double now)
{
    size_t n = count_blocks(req);
    long newest = markable_at_or_before(req, (long)n - 1);
    if (newest < 0)
        return marks;
    uint64_t local[LOCAL_HASHES];
    uint64_t *h = block_hashes(req, m, local);
    long w = h ? newest_written(p, m, h, n, now) : -1;
    if (h != local)
        free(h);
    long links = w >= 0 && newest - w > SPAN ? (newest - w - 1) / SPAN : 0;
    if (links > MAX_MARKS - 1)
        links = 0;
    if (links > MAX_MARKS - 1 - marks && req->tools_mark != NYX_MARK_NONE) {
        req->tools_mark = NYX_MARK_NONE;
        marks--;
    }
    for (size_t i = 0; i < req->nsystem && links > MAX_MARKS - 1 - marks; i++)
        if (req->system[i].mark != NYX_MARK_NONE) {
            req->system[i].mark = NYX_MARK_NONE;
            marks--;
        }
    for (long i = 1; i <= links; i++) {
        size_t at = (size_t)(w + i * SPAN);
        /* A thinking block takes no mark: the next block (its turn's text or tool call) does,
         * still within the lookback of the link before. */
        if (block_at(req, at)->no_mark && at + 1 < n)
            at++;
        claude_block *b = block_at(req, at);
        if (b->mark == NYX_MARK_NONE && b->len > 0 && !b->no_mark) {
            b->mark = mark;
            marks++;
        }
    }
    claude_block *last = block_at(req, (size_t)newest);
    if (last->mark == NYX_MARK_NONE) {
        last->mark = mark;
        marks++;
    }
    return marks;
}

int cache_place_marks(cache_policy *p, claude_request *req, const model_info *m, double shared_ttl_s,
                      double now, cache_expect *ex, error_info *err)
{
    memset(ex, 0, sizeof *ex);
    if (req->cache_mode == NYX_CACHE_API)
        req->top_level_cache = 1; /* the API places its one mark itself */
    size_t ntools;
    req->tools_mark = NYX_MARK_NONE;
    int marks = count_user_marks(req, &ntools);
    if (marks > MAX_MARKS) {
        error_set(err, "invalid_argument", 0,
                      "the request carries %d cache marks; the API allows at most %d", marks,
                      MAX_MARKS);
        return -1;
    }
    ex->marks = marks;
    if (req->cache_mode == NYX_CACHE_OFF || req->cache_mode == NYX_CACHE_API || marks > 0)
        return 0; /* the script's own marks are the plan */
    int force = req->cache_mode == NYX_CACHE_ON || req->cache_mode == NYX_CACHE_1H;
    int shared_mark = req->cache_mode == NYX_CACHE_1H || shared_ttl_s > 300 ? NYX_MARK_1H : NYX_MARK_5M;
    /* The conversation is no shared context: 5 minutes, unless the call asked for an hour. */
    int own_mark = req->cache_mode == NYX_CACHE_1H ? NYX_MARK_1H : NYX_MARK_5M;
    if (req->nsystem == 1 && req->system[0].len > 0) {
        int added = mark_system(p, req, m, shared_mark, MAX_MARKS - 1, force, now, ex);
        if (added < 0) {
            error_set(err, "out_of_memory", 0, "out of memory placing cache marks");
            return -1;
        }
        ex->marks += added;
    } else if (req->nsystem > 1) {
        for (size_t i = req->nsystem; i-- > 0;)
            if (req->system[i].len > 0) {
                req->system[i].mark = shared_mark;
                ex->marks++;
                break;
            }
    }
    /* Tools come before the system prompt: its mark covers them. Without one, the last tool's
     * mark keeps them read when what follows changes. */
    if (ex->marks == 0 && ntools > 0) {
        req->tools_mark = shared_mark;
        ex->marks++;
    }
    /* A conversation's newest turn is read by the next one. A single prompt is not expected
     * again: marking it would only add the write premium, unless it is all there is and the
     * call asked for caching. */
    if (!req->single_prompt || (force && ex->marks == 0))
        ex->marks = mark_messages(p, req, m, own_mark, ex->marks, now);
    return 0;
}

/* ---- learning from the response ---- */

static double ttl_of(int mark) { return mark == NYX_MARK_1H ? 3600.0 : 300.0; }

/* Remembers the marked system prefixes (as text, for shared-prefix discovery, expected hits
 * and write premiums). A prefix estimated below the model's minimum was not written: it is
 * not expected to be read. */
static void remember_system(cache_policy *p, const claude_request *req, const model_info *m, double now)
{
    size_t len = 0;
    for (size_t i = 0; i < req->nsystem; i++) {
        len += req->system[i].len;
        if (req->system[i].mark == NYX_MARK_NONE)
            continue;
        /* The system blocks are one contiguous text only when split by this policy. */
        if (req->nsystem > 2)
            break;
        const char *text = req->system[0].text;
        char *joined = NULL;
        if (i == 1) {
            joined = malloc(len);
            if (!joined)
                return;
            memcpy(joined, req->system[0].text, req->system[0].len);
            memcpy(joined + req->system[0].len, req->system[1].text, req->system[1].len);
            text = joined;
        }
        int64_t tokens = cache_estimate_tokens(p, m, len);
        uint64_t h = 0;
        if (tokens >= m->min_cache_tokens)
            h = joined ? hash_prefix(p, m, text, len) : hash_block_prefix(m, &req->system[0]);
        prefix_entry *e = tokens >= m->min_cache_tokens
                              ? remember_prefix(p, m, h, len, tokens, ttl_of(req->system[i].mark))
                              : NULL;
        if (e) {
            if (e->usable_at == 0 || e->expires_at <= now)
                e->usable_at = now;
            e->expires_at = now + e->ttl_s;
        }
        if (i == req->nsystem - 1)
            remember_recent(p, m, text, len);
        free(joined);
    }
}

/* Remembers the prefix of whole blocks each mark wrote, the API's top-level one included. One
 * below the minimum is remembered too: every block before it is below the minimum as well, so
 * it can hide no readable entry. */
static void remember_blocks(cache_policy *p, const claude_request *req, const model_info *m, double now)
{
    size_t n = count_blocks(req);
    uint64_t local[LOCAL_HASHES];
    uint64_t *h = n ? block_hashes(req, m, local) : NULL;
    if (!h)
        return;
    long last = markable_at_or_before(req, (long)n - 1);
    for (size_t k = 0; k < n; k++) {
        int mark = block_at(req, k)->mark;
        if (mark == NYX_MARK_NONE && req->top_level_cache && (long)k == last)
            mark = NYX_MARK_5M;
        if (mark != NYX_MARK_NONE)
            remember_block(p, m, h[k], k, now + ttl_of(mark));
    }
    if (h != local)
        free(h);
}

void cache_response_began(cache_policy *p, const claude_request *req, const model_info *m, double now)
{
    if (!m)
        return;
    remember_system(p, req, m, now);
    remember_blocks(p, req, m, now);
}

static prefix_entry *find_entry(cache_policy *p, const model_info *m, uint64_t hash, size_t len)
{
    for (size_t i = 0; i < p->nprefixes; i++)
        if (p->prefixes[i].model == m && p->prefixes[i].hash == hash && p->prefixes[i].len == len)
            return &p->prefixes[i];
    return NULL;
}

/* The entry a call's write premium goes to: its first marked system prefix, which is the
 * shared part when the policy split a prompt (the tail is the call's own). */
static prefix_entry *written_entry(cache_policy *p, const claude_request *req, const model_info *m)
{
    if (req->nsystem == 0 || req->nsystem > 2 || req->system[0].mark == NYX_MARK_NONE)
        return NULL;
    return find_entry(p, m, hash_block_prefix(m, &req->system[0]), req->system[0].len);
}

const char *cache_miss_name(int reason)
{
    static const char *const names[] = {"none", "expired", "concurrent_write", "evicted"};
    return reason >= 0 && reason < CACHE_MISS_KINDS ? names[reason] : "unknown";
}

int cache_observe(cache_policy *p, const claude_request *req, const model_info *m, const claude_usage *u,
                  const cache_expect *ex, double now)
{
    int64_t total = u->input_tokens + u->cache_read_input_tokens + u->cache_creation_input_tokens;
    text_shape texts;
    request_shape(req, &texts);
    calibrate(p, m, &texts, total);
    prefix_entry *known = ex->known_len ? find_entry(p, m, ex->known_hash, ex->known_len) : NULL;
    if (known && u->cache_read_input_tokens > 0)
        known->reads++;
    cache_response_began(p, req, m, now);
    if (m && m->has_price && u->cache_creation_input_tokens > 0) {
        prefix_entry *w = written_entry(p, req, m);
        int64_t w1h = u->cache_creation_1h, w5m = u->cache_creation_input_tokens - w1h;
        if (w && w != known)
            w->premium_usd += ((double)w5m * (m->cache_write_5m - m->input) +
                               (double)w1h * (m->cache_write_1h - m->input)) / 1e6;
    }
    if (!(ex->expect_hit && u->cache_read_input_tokens == 0 && u->cache_creation_input_tokens > 0))
        return CACHE_MISS_NONE;
    if (known && known->expires_at <= ex->placed_at + 1.0)
        return CACHE_MISS_EXPIRED;
    /* Written moments ago and never confirmed by a read: the API may not have had it yet. */
    if ((!known || known->reads == 0) && ex->placed_at - ex->written_at < 0.1)
        return CACHE_MISS_CONCURRENT;
    return CACHE_MISS_EVICTED;
}

double cache_unread_premium(const cache_policy *p)
{
    double sum = 0;
    for (size_t i = 0; i < p->nprefixes; i++)
        if (p->prefixes[i].reads == 0)
            sum += p->prefixes[i].premium_usd;
    return sum;
}

/* ---- what the API holds now (for the rate limiter) ---- */

/* The tokens through the newest prefix of whole blocks this engine wrote for req's
 * conversation, when they reach the model's minimum (below it the API wrote nothing). */
static int64_t known_blocks_tokens(const cache_policy *p, const claude_request *req,
                                   const model_info *m, double now)
{
    size_t n = count_blocks(req);
    uint64_t local[LOCAL_HASHES];
    uint64_t *h = n ? block_hashes(req, m, local) : NULL;
    if (!h)
        return 0;
    long w = newest_written(p, m, h, n, now);
    if (h != local)
        free(h);
    if (w < 0)
        return 0;
    size_t bytes = req->tools_json ? strlen(req->tools_json) : 0;
    for (size_t k = 0; k <= (size_t)w; k++)
        bytes += block_at(req, k)->len;
    int64_t tokens = cache_estimate_tokens(p, m, bytes);
    return tokens >= m->min_cache_tokens ? tokens : 0;
}

int64_t cache_known_tokens(cache_policy *p, const claude_request *req, const model_info *m, double now)
{
    if (!p || !m)
        return 0;
    int64_t best = known_blocks_tokens(p, req, m, now);
    if (req->nsystem == 0)
        return best;
    size_t total = 0;
    for (size_t i = 0; i < req->nsystem; i++)
        total += req->system[i].len;
    const char *text = req->system[0].text;
    char *joined = NULL;
    if (req->nsystem > 1) { /* the entries are hashes of the system text as one string */
        if (!(joined = malloc(total ? total : 1)))
            return best;
        size_t at = 0;
        for (size_t i = 0; i < req->nsystem; i++) {
            memcpy(joined + at, req->system[i].text, req->system[i].len);
            at += req->system[i].len;
        }
        text = joined;
    }
    /* The common entry, the first block whole, is keyed without reading its text; the others
     * are hashed in one pass (prefix_hashes). */
    uint64_t first = 0;
    int have_first = 0;
    const prefix_entry *cand[MAX_PREFIXES];
    unsigned char match[MAX_PREFIXES];
    size_t n = 0;
    for (size_t i = 0; i < p->nprefixes; i++) {
        const prefix_entry *e = &p->prefixes[i];
        if (e->model != m || e->len > total || e->tokens <= best || !(e->usable_at > 0) ||
            e->usable_at > now || e->expires_at <= now)
            continue;
        if (e->len != req->system[0].len) {
            cand[n++] = e;
            continue;
        }
        if (!have_first) {
            first = hash_block_prefix(m, &req->system[0]);
            have_first = 1;
        }
        if (first == e->hash && e->tokens > best)
            best = e->tokens;
    }
    qsort(cand, n, sizeof *cand, by_len);
    prefix_hashes(p, m, text, cand, n, match);
    for (size_t i = 0; i < n; i++)
        if (match[i] && cand[i]->tokens > best)
            best = cand[i]->tokens;
    free(joined);
    return best;
}
