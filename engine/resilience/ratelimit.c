#include "ratelimit.h"

#include "keytable.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

enum { RL_REQ = 0, RL_IN, RL_OUT, RL_N };

typedef struct rl_bucket {
    double cfg;       /* configured per-minute limit, 0 = none */
    double srv;       /* latest limit the server reported, 0 = none */
    double cap;       /* effective limit: the lower of cfg and srv that are set; 0 = unlimited */
    double avail;     /* tokens in the bucket; negative while an oversize request's debt lasts */
    double pin_rate;  /* > 0: refill rate (per second) until pin_until, from the server's reset */
    double pin_until; /* monotonic seconds */
    double held_until; /* a 429 showed this bucket empty: nothing that needs it goes before
                          this (monotonic seconds; 0 = not held) */
} rl_bucket;

typedef struct rl_key {
    rl_bucket b[RL_N];
    double last;       /* when the buckets were last refilled */
    int started;       /* 0 until a call with a `now` has set `last` */
} rl_key;

struct ratelimiter {
    keytable keys;
};

/* Lets a wait computed as deficit / rate, then waited out, not come back as a sliver of a
 * second because the refill rounded down. */
#define RL_SLACK 1e-9

/* ---- keys ---- */

static rl_key *find(const ratelimiter *r, const char *key)
{
    return r ? keytable_find(&r->keys, key) : NULL;
}

/* The key, created (unlimited, buckets full, not held) when absent; NULL when out of memory. */
static rl_key *get_or_add(ratelimiter *r, const char *key)
{
    const char *name;
    int created;
    return keytable_get_or_add(&r->keys, key, sizeof(rl_key), &name, &created);
}

ratelimiter *ratelimit_new(void)
{
    return calloc(1, sizeof(ratelimiter));
}

void ratelimit_free(ratelimiter *r)
{
    if (!r)
        return;
    keytable_free(&r->keys);
    free(r);
}

/* ---- bucket arithmetic ---- */

static double effective_cap(double cfg, double srv)
{
    if (cfg > 0 && srv > 0)
        return cfg < srv ? cfg : srv;
    return cfg > 0 ? cfg : srv;
}

/* The refill rate in force before pin_until; the normal rate when there is no pin. */
static double pinned_rate(const rl_bucket *b)
{
    double normal = b->cap / 60.0;
    return b->pin_rate > 0 && b->pin_rate < normal ? b->pin_rate : normal;
}

/* Tokens the bucket holds at `now`, refilled since `last`. */
static double avail_at(const rl_bucket *b, double last, double now)
{
    double a = b->avail;
    if (!(now > last))
        return a;
    double t = last;
    if (b->pin_rate > 0 && t < b->pin_until) {
        double end = now < b->pin_until ? now : b->pin_until;
        a += pinned_rate(b) * (end - t);
        t = end;
    }
    a += b->cap / 60.0 * (now - t);
    return a > b->cap ? b->cap : a;
}

static void refill(rl_key *k, double now)
{
    if (!k->started) { /* buckets are as configured (full) until the first moment we know */
        k->started = 1;
        k->last = now;
        return;
    }
    if (!(now > k->last))
        return;
    for (int i = 0; i < RL_N; i++) {
        rl_bucket *b = &k->b[i];
        if (b->cap <= 0)
            continue;
        b->avail = avail_at(b, k->last, now);
        if (b->pin_rate > 0 && now >= b->pin_until)
            b->pin_rate = 0;
    }
    k->last = now;
}

/* Seconds until bucket b (state at `now` with `a` tokens) holds `need`; 0 if it does. */
static double bucket_wait(const rl_bucket *b, double a, double need, double now)
{
    if (b->cap <= 0)
        return 0;
    if (need > b->cap)
        need = b->cap; /* an oversize request goes when the bucket is full */
    double deficit = need - a;
    if (deficit <= RL_SLACK * (1.0 + need))
        return 0;
    double normal = b->cap / 60.0;
    if (b->pin_rate > 0 && now < b->pin_until) {
        double rate = pinned_rate(b), span = b->pin_until - now;
        if (rate * span >= deficit)
            return deficit / rate;
        return span + (deficit - rate * span) / normal;
    }
    return deficit / normal;
}

static double amount(int64_t n)
{
    return n > 0 ? (double)n : 0.0;
}

/* The wait for key k at now without changing anything. A held bucket stops what needs it
 * (every request needs the requests bucket), whether or not it has a limit. */
static double wait_for(const rl_key *k, const double need[RL_N], double now)
{
    double w = 0;
    for (int i = 0; i < RL_N; i++) {
        const rl_bucket *b = &k->b[i];
        if (need[i] > 0 && now < b->held_until && b->held_until - now > w)
            w = b->held_until - now;
        if (b->cap <= 0)
            continue;
        double a = k->started ? avail_at(b, k->last, now) : b->avail;
        double wi = bucket_wait(b, a, need[i], now);
        if (wi > w)
            w = wi;
    }
    return w;
}

/* ---- public ---- */

static int valid_limit(double v)
{
    return isfinite(v) && v >= 0;
}

int ratelimit_configure(ratelimiter *r, const char *key, double rpm, double input_tpm,
                        double output_tpm)
{
    if (!r || !key || !valid_limit(rpm) || !valid_limit(input_tpm) || !valid_limit(output_tpm))
        return -1;
    rl_key *k = get_or_add(r, key);
    if (!k)
        return -1;
    const double cfg[RL_N] = {rpm, input_tpm, output_tpm};
    for (int i = 0; i < RL_N; i++) {
        rl_bucket *b = &k->b[i];
        double old = b->cap;
        b->cfg = cfg[i];
        b->cap = effective_cap(b->cfg, b->srv);
        if (old <= 0 || b->avail > b->cap)
            b->avail = b->cap;
        if (b->cap <= 0)
            b->pin_rate = 0;
    }
    return 0;
}

double ratelimit_peek(const ratelimiter *r, const char *key, int64_t input_tokens,
                      int64_t output_tokens, double now)
{
    const rl_key *k = find(r, key);
    if (!k)
        return 0;
    const double need[RL_N] = {1.0, amount(input_tokens), amount(output_tokens)};
    return wait_for(k, need, now);
}

double ratelimit_acquire(ratelimiter *r, const char *key, int64_t input_tokens,
                         int64_t output_tokens, double now)
{
    rl_key *k = find(r, key);
    if (!k)
        return 0;
    const double need[RL_N] = {1.0, amount(input_tokens), amount(output_tokens)};
    double w = wait_for(k, need, now);
    if (w > 0)
        return w;
    refill(k, now);
    for (int i = 0; i < RL_N; i++)
        if (k->b[i].cap > 0)
            k->b[i].avail -= need[i];
    return 0;
}

/* Moves a bucket from what was reserved to what was used: a refund when less was used, a
 * further charge (possibly a debt) when more was. */
static void settle_bucket(rl_bucket *b, int64_t reserved, int64_t actual)
{
    if (b->cap <= 0)
        return;
    b->avail += amount(reserved) - amount(actual);
    if (b->avail > b->cap)
        b->avail = b->cap;
}

void ratelimit_settle(ratelimiter *r, const char *key, int64_t reserved_input,
                      int64_t actual_input, int64_t reserved_output, int64_t actual_output,
                      double now)
{
    rl_key *k = find(r, key);
    if (!k)
        return;
    refill(k, now);
    settle_bucket(&k->b[RL_IN], reserved_input, actual_input);
    settle_bucket(&k->b[RL_OUT], reserved_output, actual_output);
}

int64_t ratelimit_input_counted(const model_info *m, const claude_usage *u)
{
    int64_t n = u->input_tokens + u->cache_creation_input_tokens;
    if (m && m->itpm_counts_cache_reads)
        n += u->cache_read_input_tokens;
    return n > 0 ? n : 0;
}

/* The buckets a 429's headers show empty; all three when they show none. The combined
 * "tokens" headers describe the tightest token limit without naming it: empty, they hold
 * both token buckets unless the specific headers say which. */
static int empty_buckets(const claude_headers *h)
{
    if (!h)
        return (1 << RL_N) - 1;
    int mask = (h->rl_requests_remaining == 0) << RL_REQ | (h->rl_input_remaining == 0) << RL_IN |
               (h->rl_output_remaining == 0) << RL_OUT;
    if (!(mask & (1 << RL_IN | 1 << RL_OUT)) && h->rl_tokens_remaining == 0)
        mask |= 1 << RL_IN | 1 << RL_OUT;
    return mask ? mask : (1 << RL_N) - 1;
}

void ratelimit_hold(ratelimiter *r, const char *key, double seconds, const claude_headers *h,
                    double now)
{
    if (!r || !key || !isfinite(seconds) || seconds < 0 || !isfinite(now))
        return;
    rl_key *k = get_or_add(r, key);
    if (!k)
        return;
    double until = now + seconds;
    int mask = empty_buckets(h);
    for (int i = 0; i < RL_N; i++)
        if ((mask & 1 << i) && until > k->b[i].held_until)
            k->b[i].held_until = until;
}

static void observe_bucket(rl_bucket *b, int64_t limit, int64_t remaining, double reset_wall,
                           double now, double now_wall)
{
    if (limit > 0) {
        double old = b->cap;
        b->srv = (double)limit;
        b->cap = effective_cap(b->cfg, b->srv);
        if (old <= 0 || b->avail > b->cap)
            b->avail = b->cap;
    }
    if (remaining < 0 || b->cap <= 0 || !((double)remaining < b->avail))
        return;
    b->avail = (double)remaining;
    b->pin_rate = 0;
    if (reset_wall < 0 || !isfinite(now_wall) || !(reset_wall > now_wall))
        return;
    /* The server's bucket goes from `remaining` to its limit by the reset time: ours refills
     * no faster than that until then. */
    double span = reset_wall - now_wall;
    double srv_limit = b->srv > 0 ? b->srv : b->cap;
    double rate = (srv_limit - (double)remaining) / span;
    if (rate > 0 && rate < b->cap / 60.0) {
        b->pin_rate = rate;
        b->pin_until = now + span;
    }
}

void ratelimit_observe(ratelimiter *r, const char *key, const claude_headers *h, double now,
                       double now_wall)
{
    if (!r || !key || !h || !isfinite(now))
        return;
    /* The combined "tokens" headers stand for a token bucket the response says nothing
     * more specific about (they show the tightest token limit, whichever it is). */
    int has_in = h->rl_input_limit > 0 || h->rl_input_remaining >= 0;
    int has_out = h->rl_output_limit > 0 || h->rl_output_remaining >= 0;
    int has_tok = h->rl_tokens_limit > 0 || h->rl_tokens_remaining >= 0;
    int has_req = h->rl_requests_limit > 0 || h->rl_requests_remaining >= 0;
    if (!has_req && !has_in && !has_out && !has_tok)
        return; /* e.g. Foundry sends none: no key to create */
    rl_key *k = get_or_add(r, key);
    if (!k)
        return;
    refill(k, now);
    observe_bucket(&k->b[RL_REQ], h->rl_requests_limit, h->rl_requests_remaining,
                   h->rl_requests_reset, now, now_wall);
    if (has_in)
        observe_bucket(&k->b[RL_IN], h->rl_input_limit, h->rl_input_remaining,
                       h->rl_input_reset, now, now_wall);
    else if (has_tok)
        observe_bucket(&k->b[RL_IN], h->rl_tokens_limit, h->rl_tokens_remaining,
                       h->rl_tokens_reset, now, now_wall);
    if (has_out)
        observe_bucket(&k->b[RL_OUT], h->rl_output_limit, h->rl_output_remaining,
                       h->rl_output_reset, now, now_wall);
    else if (has_tok)
        observe_bucket(&k->b[RL_OUT], h->rl_tokens_limit, h->rl_tokens_remaining,
                       h->rl_tokens_reset, now, now_wall);
}

int ratelimit_get(const ratelimiter *r, const char *key, ratelimit_state *out)
{
    const rl_key *k = find(r, key);
    if (!k || !out)
        return -1;
    out->rpm = k->b[RL_REQ].cap;
    out->input_tpm = k->b[RL_IN].cap;
    out->output_tpm = k->b[RL_OUT].cap;
    out->requests_avail = k->b[RL_REQ].cap > 0 ? k->b[RL_REQ].avail : 0;
    out->input_avail = k->b[RL_IN].cap > 0 ? k->b[RL_IN].avail : 0;
    out->output_avail = k->b[RL_OUT].cap > 0 ? k->b[RL_OUT].avail : 0;
    out->requests_held_until = k->b[RL_REQ].held_until;
    out->input_held_until = k->b[RL_IN].held_until;
    out->output_held_until = k->b[RL_OUT].held_until;
    out->held_until = 0;
    for (int i = 0; i < RL_N; i++)
        if (k->b[i].held_until > out->held_until)
            out->held_until = k->b[i].held_until;
    return 0;
}
