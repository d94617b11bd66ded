/* The prompt-cache store and the API's billing rules over it.
 * An entry is a cumulative prefix key written at a breakpoint; it is usable from the moment
 * the response that wrote it begins and lives for its TTL from then, refreshed by each hit.
 * Lookup walks back at most 20 blocks before each breakpoint; the longest usable entry is
 * the hit (A). Billing: read A, 1h write B-A, 5m write C-B (see sim_cache_plan). */
#include "sim_core.h"

#include <stdlib.h>
#include <string.h>

#define LOOKBACK 20
#define MIN_SWEEP 1024

typedef struct entry {
    uint64_t key[2];
    int64_t usable_at;  /* monotonic us */
    int64_t expires_at;
    int64_t ttl;
    struct entry *next;
} entry;

struct sim_cache {
    entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t max;
    size_t sweep_at; /* sweep expired entries when count reaches it */
};

sim_cache *sim_cache_new(size_t max_entries)
{
    sim_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nbuckets = 256;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->max = max_entries ? max_entries : 1000000;
    c->sweep_at = MIN_SWEEP;
    return c;
}

void sim_cache_clear(sim_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        entry *e = c->buckets[i];
        while (e) {
            entry *next = e->next;
            free(e);
            e = next;
        }
        c->buckets[i] = NULL;
    }
    c->count = 0;
    c->sweep_at = MIN_SWEEP;
}

void sim_cache_free(sim_cache *c)
{
    if (!c)
        return;
    sim_cache_clear(c);
    free(c->buckets);
    free(c);
}

size_t sim_cache_size(const sim_cache *c) { return c ? c->count : 0; }

static entry **slot(const sim_cache *c, const uint64_t key[2])
{
    entry **p = &c->buckets[key[0] & (c->nbuckets - 1)];
    while (*p && ((*p)->key[0] != key[0] || (*p)->key[1] != key[1]))
        p = &(*p)->next;
    return p;
}

static entry *find(const sim_cache *c, const uint64_t key[2]) { return *slot(c, key); }

static int usable(const entry *e, int64_t now)
{
    return e && e->usable_at <= now && e->expires_at > now;
}

/* Removes every entry that expires at or before limit. */
static void remove_if(sim_cache *c, int64_t limit)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        entry **p = &c->buckets[i];
        while (*p) {
            if ((*p)->expires_at <= limit) {
                entry *dead = *p;
                *p = dead->next;
                free(dead);
                c->count--;
            } else {
                p = &(*p)->next;
            }
        }
    }
}

static void grow(sim_cache *c)
{
    size_t n = c->nbuckets * 2;
    entry **nb = calloc(n, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++) {
        entry *e = c->buckets[i];
        while (e) {
            entry *next = e->next;
            entry **b = &nb[e->key[0] & (n - 1)];
            e->next = *b;
            *b = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = nb;
    c->nbuckets = n;
}

/* Keeps memory bounded: expired entries go first; at the cap, the soonest to expire. */
static void make_room(sim_cache *c, int64_t now)
{
    if (c->count >= c->sweep_at) {
        remove_if(c, now);
        c->sweep_at = c->count * 2 > MIN_SWEEP ? c->count * 2 : MIN_SWEEP;
    }
    if (c->count >= c->max) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t i = 0; i < c->nbuckets; i++)
            for (entry *e = c->buckets[i]; e; e = e->next) {
                lo = e->expires_at < lo ? e->expires_at : lo;
                hi = e->expires_at > hi ? e->expires_at : hi;
            }
        remove_if(c, lo + (hi - lo) / 8);
    }
    if (c->count >= c->nbuckets)
        grow(c);
}

void sim_cache_plan(const sim_cache *c, const sim_req *r, int64_t now_us, sim_plan *p)
{
    int64_t a = 0, b, cc;
    memset(p, 0, sizeof *p);
    p->hit = -1;
    for (size_t i = 0; i < r->nblocks; i++) {
        if (r->blocks[i].mark == SIM_MARK_NONE)
            continue;
        size_t lo = i >= LOOKBACK ? i - LOOKBACK : 0;
        for (size_t j = i + 1; j-- > lo;) {
            if (usable(find(c, r->blocks[j].key), now_us)) {
                if (r->blocks[j].cum > a) {
                    a = r->blocks[j].cum;
                    p->hit = (long)j;
                }
                break;
            }
        }
    }
    b = cc = a;
    for (size_t i = 0; i < r->nblocks; i++) {
        const sim_block *blk = &r->blocks[i];
        if (blk->mark == SIM_MARK_NONE || blk->cum < r->min_cache || blk->cum <= a)
            continue;
        if (blk->cum > cc)
            cc = blk->cum;
        if (blk->mark == SIM_MARK_1H && blk->cum > b)
            b = blk->cum;
    }
    p->usage.cache_read = a;
    p->usage.cache_write_1h = b - a;
    p->usage.cache_write_5m = cc - b;
    p->usage.cache_creation = cc - a;
    p->usage.input_tokens = r->total - cc;
}

int sim_cache_commit(sim_cache *c, const sim_req *r, const sim_plan *p, int64_t now_us,
                     int64_t usable_at_us)
{
    int rc = 0;
    if (p->hit >= 0 && (size_t)p->hit < r->nblocks) {
        entry *e = find(c, r->blocks[p->hit].key);
        if (e && e->expires_at < now_us + e->ttl)
            e->expires_at = now_us + e->ttl;
    }
    for (size_t i = 0; i < r->nblocks; i++) {
        const sim_block *blk = &r->blocks[i];
        if (blk->mark == SIM_MARK_NONE || blk->cum < r->min_cache ||
            blk->cum <= p->usage.cache_read)
            continue;
        int64_t ttl = blk->mark == SIM_MARK_1H ? SIM_TTL_1H_US : SIM_TTL_5M_US;
        make_room(c, now_us);
        entry **s = slot(c, blk->key);
        entry *e = *s;
        if (e && e->expires_at > now_us) {
            /* Written again before its writer began or while live: keep the earliest start. */
            if (usable_at_us < e->usable_at)
                e->usable_at = usable_at_us;
            if (ttl > e->ttl)
                e->ttl = ttl;
            if (e->expires_at < usable_at_us + ttl)
                e->expires_at = usable_at_us + ttl;
            continue;
        }
        if (!e) {
            if (!(e = calloc(1, sizeof *e))) {
                rc = -1;
                continue;
            }
            e->key[0] = blk->key[0];
            e->key[1] = blk->key[1];
            *s = e;
            c->count++;
        }
        e->usable_at = usable_at_us;
        e->ttl = ttl;
        e->expires_at = usable_at_us + ttl;
    }
    return rc;
}
