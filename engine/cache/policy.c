#define _POSIX_C_SOURCE 200809L
#include "policy.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAX_MARKS 4
#define MAX_PREFIXES 256   /* written prefixes remembered, across models */
#define MAX_RECENT 8       /* recent system prompts kept for shared-prefix discovery */
#define MAX_RECENT_BYTES (1u << 20)
#define DEFAULT_BYTES_PER_TOKEN 4.0

typedef struct prefix_entry {
    const nyx_model *model;
    uint64_t hash;          /* of the system text up to the mark */
    size_t len;
    int64_t tokens;         /* estimated */
    double usable_at;       /* once the response that wrote it began; 0 = still pending */
    double expires_at;
    double ttl_s;
    double premium_usd;     /* paid to write it, above the plain input price */
    int64_t reads;
} prefix_entry;

typedef struct recent_prompt {
    const nyx_model *model;
    char *text;
    size_t len;
} recent_prompt;

typedef struct calibration {
    const nyx_model *model;
    double bytes_per_token;
    int64_t samples;
} calibration;

struct cache_policy {
    const nyx_models *models;
    prefix_entry prefixes[MAX_PREFIXES];
    size_t nprefixes;
    recent_prompt recent[MAX_RECENT];
    size_t next_recent;
    calibration *calib;
    size_t ncalib;
};

cache_policy *cache_policy_new(const nyx_models *models)
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

static const calibration *find_calibration(const cache_policy *p, const nyx_model *m)
{
    for (size_t i = 0; i < p->ncalib; i++)
        if (p->calib[i].model == m)
            return &p->calib[i];
    return NULL;
}

int64_t cache_estimate_tokens(const cache_policy *p, const nyx_model *m, size_t bytes)
{
    const calibration *c = m ? find_calibration(p, m) : NULL;
    double ratio = c ? c->bytes_per_token : DEFAULT_BYTES_PER_TOKEN;
    return (int64_t)((double)bytes / ratio);
}

int cache_calibration(const cache_policy *p, const nyx_model *m, double *bytes_per_token,
                      int64_t *samples)
{
    const calibration *c = find_calibration(p, m);
    *bytes_per_token = c ? c->bytes_per_token : DEFAULT_BYTES_PER_TOKEN;
    *samples = c ? c->samples : 0;
    return c != NULL;
}

const nyx_model *cache_calibration_at(const cache_policy *p, size_t i, double *bytes_per_token,
                                      int64_t *samples)
{
    if (i >= p->ncalib)
        return NULL;
    *bytes_per_token = p->calib[i].bytes_per_token;
    *samples = p->calib[i].samples;
    return p->calib[i].model;
}

static void calibrate(cache_policy *p, const nyx_model *m, size_t bytes, int64_t tokens)
{
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
        c->samples = 0;
    }
    double observed = (double)bytes / (double)tokens;
    /* Early samples move the estimate quickly; later ones smooth out noise. */
    double weight = c->samples < 4 ? 0.5 : 0.1;
    c->bytes_per_token = c->bytes_per_token * (1.0 - weight) + observed * weight;
    c->samples++;
}

static size_t request_bytes(const nyx_request *req)
{
    size_t n = req->tools_json ? strlen(req->tools_json) : 0;
    for (size_t i = 0; i < req->nsystem; i++)
        n += req->system[i].len;
    for (size_t i = 0; i < req->nmessages; i++)
        for (size_t j = 0; j < req->messages[i].nblocks; j++)
            n += req->messages[i].blocks[j].len;
    return n;
}

/* ---- remembered prefixes ---- */

static uint64_t hash_prefix(const nyx_model *m, const char *text, size_t len)
{
    return XXH3_64bits_withSeed(text, len, (uint64_t)(uintptr_t)m);
}

/* The longest remembered prefix (shorter than len, unless whole) that text starts with. */
static const prefix_entry *longest_known(const cache_policy *p, const nyx_model *m,
                                         const char *text, size_t len, int allow_whole)
{
    const prefix_entry *best = NULL;
    for (size_t i = 0; i < p->nprefixes; i++) {
        const prefix_entry *e = &p->prefixes[i];
        if (e->model != m || e->len > len || (e->len == len && !allow_whole))
            continue;
        if (best && e->len <= best->len)
            continue;
        if (hash_prefix(m, text, e->len) == e->hash)
            best = e;
    }
    return best;
}

static prefix_entry *remember_prefix(cache_policy *p, const nyx_model *m, const char *text,
                                     size_t len, int64_t tokens, double ttl_s)
{
    uint64_t h = hash_prefix(m, text, len);
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
static size_t shared_with_recent(const cache_policy *p, const nyx_model *m, const char *text,
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

static void remember_recent(cache_policy *p, const nyx_model *m, const char *text, size_t len)
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
    for (size_t k = len; k > min_len; k--)
        if (k >= 2 && text[k - 1] == '\n' && text[k - 2] == '\n' && k < len)
            return k;
    return 0;
}

/* ---- placing marks ---- */

static int count_user_marks(const nyx_request *req)
{
    int n = req->top_level_cache ? 1 : 0;
    for (size_t i = 0; i < req->nsystem; i++)
        n += req->system[i].mark != NYX_MARK_NONE;
    for (size_t i = 0; i < req->nmessages; i++)
        for (size_t j = 0; j < req->messages[i].nblocks; j++)
            n += req->messages[i].blocks[j].mark != NYX_MARK_NONE;
    return n;
}

static int split_system(nyx_request *req, size_t at, int mark)
{
    nyx_block *b = realloc(req->system, 2 * sizeof *b);
    if (!b)
        return -1;
    req->system = b;
    nyx_block tail;
    if (nyx_block_set(&tail, b[0].text + at, b[0].len - at, b[0].mark) != 0)
        return -1;
    b[0].len = at;
    b[0].text[at] = '\0';
    b[0].mark = mark;
    b[1] = tail;
    req->nsystem = 2;
    return 0;
}

/* Marks for a system prompt given as one unmarked string; returns marks added. */
static int mark_system(cache_policy *p, nyx_request *req, const nyx_model *m, int mark,
                       int slots, int force, double now, cache_expect *ex)
{
    nyx_block *s = &req->system[0];
    int64_t min = m ? m->min_cache_tokens : 1024;
    int64_t total = cache_estimate_tokens(p, m, s->len);
    if (!force && total < min)
        return 0;
    size_t min_len = (size_t)((double)min * (double)s->len / (double)(total > 0 ? total : 1));
    const prefix_entry *known = m ? longest_known(p, m, s->text, s->len, 1) : NULL;
    size_t split = 0;
    if (known && known->len < s->len)
        split = known->len;
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
    ex->prefix_hash = hash_prefix(m, req->system[0].text, req->system[0].len);
    ex->est_prefix_tokens = total;
    return added;
}

/* In a conversation, the history before the newest user turn is stable: marking its end lets
 * the next turn read everything up to there. */
static int mark_history(cache_policy *p, nyx_request *req, const nyx_model *m, int force)
{
    if (req->nmessages < 3)
        return 0;
    nyx_message *stable = &req->messages[req->nmessages - 2];
    if (stable->nblocks == 0)
        return 0;
    if (!force) {
        size_t bytes = 0;
        for (size_t i = 0; i < req->nsystem; i++)
            bytes += req->system[i].len;
        for (size_t i = 0; i + 1 < req->nmessages; i++)
            for (size_t j = 0; j < req->messages[i].nblocks; j++)
                bytes += req->messages[i].blocks[j].len;
        if (cache_estimate_tokens(p, m, bytes) < (m ? m->min_cache_tokens : 1024))
            return 0;
    }
    stable->blocks[stable->nblocks - 1].mark = NYX_MARK_5M;
    return 1;
}

int cache_place_marks(cache_policy *p, nyx_request *req, const nyx_model *m, double shared_ttl_s,
                      double now, cache_expect *ex, nyx_error *err)
{
    memset(ex, 0, sizeof *ex);
    int marks = count_user_marks(req);
    if (marks > MAX_MARKS) {
        nyx_error_set(err, "invalid_argument", 0,
                      "the request carries %d cache marks; the API allows at most %d", marks,
                      MAX_MARKS);
        return -1;
    }
    ex->marks = marks;
    if (req->cache_mode == NYX_CACHE_OFF || marks > 0)
        return 0; /* the script's own marks are the plan */
    int force = req->cache_mode == NYX_CACHE_ON || req->cache_mode == NYX_CACHE_1H;
    int shared_mark = req->cache_mode == NYX_CACHE_1H || shared_ttl_s > 300 ? NYX_MARK_1H : NYX_MARK_5M;
    int slots = MAX_MARKS;
    if (req->nsystem == 1 && req->system[0].len > 0) {
        int added = mark_system(p, req, m, shared_mark, slots - 1, force, now, ex);
        if (added < 0) {
            nyx_error_set(err, "out_of_memory", 0, "out of memory placing cache marks");
            return -1;
        }
        slots -= added;
        ex->marks += added;
    } else if (req->nsystem > 1 && (force || cache_estimate_tokens(p, m, request_bytes(req)) >=
                                                  (m ? m->min_cache_tokens : 1024))) {
        req->system[req->nsystem - 1].mark = shared_mark;
        slots--;
        ex->marks++;
    }
    if (slots > 0)
        ex->marks += mark_history(p, req, m, force);
    if (ex->marks == 0 && force && req->nmessages > 0) {
        nyx_message *last = &req->messages[req->nmessages - 1];
        if (last->nblocks > 0) {
            last->blocks[last->nblocks - 1].mark = shared_mark;
            ex->marks++;
        }
    }
    return 0;
}

/* ---- learning from the response ---- */

static double ttl_of(int mark) { return mark == NYX_MARK_1H ? 3600.0 : 300.0; }

void cache_response_began(cache_policy *p, const nyx_request *req, const nyx_model *m, double now)
{
    if (!m || req->nsystem == 0)
        return;
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
        prefix_entry *e = remember_prefix(p, m, text, len, cache_estimate_tokens(p, m, len),
                                          ttl_of(req->system[i].mark));
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

static prefix_entry *find_entry(cache_policy *p, const nyx_model *m, uint64_t hash, size_t len)
{
    for (size_t i = 0; i < p->nprefixes; i++)
        if (p->prefixes[i].model == m && p->prefixes[i].hash == hash && p->prefixes[i].len == len)
            return &p->prefixes[i];
    return NULL;
}

/* The entry a call's write premium goes to: its first marked system prefix, which is the
 * shared part when the policy split a prompt (the tail is the call's own). */
static prefix_entry *written_entry(cache_policy *p, const nyx_request *req, const nyx_model *m)
{
    if (req->nsystem == 0 || req->nsystem > 2 || req->system[0].mark == NYX_MARK_NONE)
        return NULL;
    return find_entry(p, m, hash_prefix(m, req->system[0].text, req->system[0].len), req->system[0].len);
}

const char *cache_miss_name(int reason)
{
    static const char *const names[] = {"none", "expired", "concurrent_write", "evicted"};
    return reason >= 0 && reason < CACHE_MISS_KINDS ? names[reason] : "unknown";
}

int cache_observe(cache_policy *p, const nyx_request *req, const nyx_model *m, const nyx_usage *u,
                  const cache_expect *ex, double now)
{
    int64_t total = u->input_tokens + u->cache_read_input_tokens + u->cache_creation_input_tokens;
    calibrate(p, m, request_bytes(req), total);
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
