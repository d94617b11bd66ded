#include "breaker.h"

#include "keytable.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define BR_SLOTS 10           /* buckets across the window */
#define BR_EMPTY INT64_MIN    /* epoch of a bucket that counts nothing */
#define BR_RING 1024          /* requests tracked in flight per key, for send order */
#define BR_PATIENCE_S 5.0     /* how much later a request may be sent and answered before
                                 outcomes stop waiting for an earlier one still out */
#define BR_BACKSTOP_S 60.0    /* and the longest they wait for one, whatever was sent since */

enum { T_IN_FLIGHT = 0, T_SUCCESS, T_FAILURE, T_NONE };

typedef struct br_key {
    breaker_state state;
    int consecutive;  /* failures in a row, closed state */
    int probe_out;    /* half-open: the probe has been let through */
    double retry_at;  /* open: monotonic time the cool-down ends */
    int64_t epoch[BR_SLOTS]; /* which window_s/10 interval each bucket counts */
    int64_t calls[BR_SLOTS], fails[BR_SLOTS];
    /* Outcomes are judged in the order requests were sent: tickets next_ticket > t > applied
     * are in flight or waiting for an earlier one. */
    uint64_t next_ticket, applied;
    double latest_answered_sent; /* the latest send time among requests with an outcome */
    unsigned char ticket_state[BR_RING];
    double ticket_sent[BR_RING];
    const char *name; /* the key table's copy */
} br_key;

struct breakers {
    breaker_config cfg;
    double slot_s; /* window_s / BR_SLOTS */
    keytable keys;
    void (*on_change)(void *ud, const char *key, breaker_state from, breaker_state to);
    void *ud;
};

void breaker_config_default(breaker_config *c)
{
    if (!c)
        return;
    c->failures_to_open = 5;
    c->window_s = 60;
    c->failure_rate = 0.5;
    c->min_calls = 10;
    c->cooldown_s = 30;
}

const char *breaker_state_name(breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

/* ---- keys ---- */

static br_key *find(const breakers *b, const char *key)
{
    return b ? keytable_find(&b->keys, key) : NULL;
}

static void window_clear(br_key *k)
{
    for (int i = 0; i < BR_SLOTS; i++) {
        k->epoch[i] = BR_EMPTY;
        k->calls[i] = k->fails[i] = 0;
    }
}

/* The key, created closed when absent; NULL when out of memory. */
static br_key *get_or_add(breakers *b, const char *key)
{
    const char *name;
    int created;
    br_key *k = keytable_get_or_add(&b->keys, key, sizeof(br_key), &name, &created);
    if (k && created) {
        k->name = name;
        k->state = BREAKER_CLOSED;
        window_clear(k);
    }
    return k;
}

breakers *breakers_new(const breaker_config *c)
{
    breaker_config cfg;
    if (c)
        cfg = *c;
    else
        breaker_config_default(&cfg);
    if (!isfinite(cfg.window_s) || cfg.window_s <= 0 || !isfinite(cfg.failure_rate) ||
        cfg.failure_rate < 0 || !isfinite(cfg.cooldown_s) || cfg.cooldown_s < 0)
        return NULL;
    breakers *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cfg = cfg;
    b->slot_s = cfg.window_s / BR_SLOTS;
    return b;
}

void breakers_free(breakers *b)
{
    if (!b)
        return;
    keytable_free(&b->keys);
    free(b);
}

void breakers_on_change(breakers *b,
                        void (*fn)(void *ud, const char *key, breaker_state from,
                                   breaker_state to),
                        void *ud)
{
    if (!b)
        return;
    b->on_change = fn;
    b->ud = ud;
}

/* ---- the sliding window ---- */

/* Index of the window_s/10 interval that holds `now`. */
static int64_t epoch_of(const breakers *b, double now)
{
    double q = floor(now / b->slot_s);
    if (!(q > -9e18 && q < 9e18)) /* NaN or beyond int64: one fixed interval */
        return 0;
    return (int64_t)q;
}

static int slot_of(int64_t epoch)
{
    int s = (int)(epoch % BR_SLOTS);
    return s < 0 ? s + BR_SLOTS : s;
}

static void window_add(const breakers *b, br_key *k, int failure, double now)
{
    int64_t e = epoch_of(b, now);
    int s = slot_of(e);
    if (k->epoch[s] != BR_EMPTY && k->epoch[s] > e)
        return; /* a `now` older than the window: counts nowhere */
    if (k->epoch[s] != e) { /* the bucket last counted an interval that has slid out */
        k->epoch[s] = e;
        k->calls[s] = k->fails[s] = 0;
    }
    k->calls[s]++;
    if (failure)
        k->fails[s]++;
}

static void window_totals(const breakers *b, const br_key *k, double now, int64_t *calls,
                          int64_t *fails)
{
    int64_t e = epoch_of(b, now);
    *calls = *fails = 0;
    for (int s = 0; s < BR_SLOTS; s++) {
        if (k->epoch[s] == BR_EMPTY || k->epoch[s] > e || k->epoch[s] <= e - BR_SLOTS)
            continue;
        *calls += k->calls[s];
        *fails += k->fails[s];
    }
}

/* ---- transitions ---- */

/* Sets the state; the callback runs last, when the key is consistent, so it may call back in. */
static void set_state(breakers *b, br_key *k, breaker_state to)
{
    breaker_state from = k->state;
    k->state = to;
    if (from != to && b->on_change)
        b->on_change(b->ud, k->name, from, to);
}

/* Opens the breaker. The window and the run of failures start afresh here; nothing is counted
 * into them until it closes again, so a closed breaker never trips on counts from before. */
static void trip(breakers *b, br_key *k, double now)
{
    k->retry_at = now + b->cfg.cooldown_s;
    k->consecutive = 0;
    k->probe_out = 0;
    window_clear(k);
    set_state(b, k, BREAKER_OPEN);
}

int breaker_allow(breakers *b, const char *key, double now)
{
    br_key *k = find(b, key);
    if (!k)
        return 1;
    switch (k->state) {
    case BREAKER_CLOSED:
        return 1;
    case BREAKER_OPEN:
        if (now < k->retry_at)
            return 0;
        k->probe_out = 1;
        set_state(b, k, BREAKER_HALF_OPEN);
        return 1;
    case BREAKER_HALF_OPEN:
        if (k->probe_out)
            return 0;
        k->probe_out = 1;
        return 1;
    }
    return 1;
}

void breaker_record(breakers *b, const char *key, int failure, double now)
{
    if (!b || !key)
        return;
    br_key *k = get_or_add(b, key);
    if (!k)
        return;
    failure = failure != 0;
    switch (k->state) {
    case BREAKER_OPEN:
        return;
    case BREAKER_HALF_OPEN:
        k->probe_out = 0;
        if (failure) {
            trip(b, k, now);
        } else {
            set_state(b, k, BREAKER_CLOSED); /* window and run still empty from trip() */
        }
        return;
    case BREAKER_CLOSED:
        break;
    }
    window_add(b, k, failure, now);
    if (!failure) {
        k->consecutive = 0;
        return;
    }
    k->consecutive++;
    if (b->cfg.failures_to_open > 0 && k->consecutive >= b->cfg.failures_to_open) {
        trip(b, k, now);
        return;
    }
    if (b->cfg.failure_rate >= 1)
        return;
    int64_t calls, fails;
    window_totals(b, k, now, &calls, &fails);
    int64_t min_calls = b->cfg.min_calls > 0 ? b->cfg.min_calls : 1;
    if (calls >= min_calls && (double)fails > b->cfg.failure_rate * (double)calls)
        trip(b, k, now);
}

void breaker_release(breakers *b, const char *key)
{
    br_key *k = find(b, key);
    if (k && k->state == BREAKER_HALF_OPEN)
        k->probe_out = 0;
}

breaker_state breaker_get(const breakers *b, const char *key)
{
    const br_key *k = find(b, key);
    return k ? k->state : BREAKER_CLOSED;
}

double breaker_retry_in(const breakers *b, const char *key, double now)
{
    const br_key *k = find(b, key);
    if (!k || k->state != BREAKER_OPEN || !(now < k->retry_at))
        return 0;
    return k->retry_at - now;
}

/* ---- outcomes in send order ----
 * Failures often come back faster than successes (a 529 is immediate, an answer takes its
 * time), so with many calls in flight the first outcomes to arrive are the failures even at a
 * modest failure rate. Judging outcomes in the order the requests were sent keeps a burst of
 * quick errors from looking like a run. A request that hangs stops holding the others back once
 * one sent BR_PATIENCE_S after it has been answered: send times, not the clock at arrival, so a
 * host that stalls before reading its answers does not turn its in-flight requests into gaps.
 * (Untracked requests, past BR_RING in flight, move no send time: BR_BACKSTOP_S bounds the
 * wait then.) */

uint64_t breaker_send(breakers *b, const char *key, double now)
{
    br_key *k = b && key ? get_or_add(b, key) : NULL;
    if (!k || k->next_ticket - k->applied >= BR_RING)
        return 0; /* untracked: its outcome is judged when it arrives */
    uint64_t t = ++k->next_ticket;
    k->ticket_state[t % BR_RING] = T_IN_FLIGHT;
    k->ticket_sent[t % BR_RING] = now;
    return t;
}

void breaker_outcome(breakers *b, const char *key, uint64_t ticket, int verdict, double now)
{
    br_key *k = find(b, key);
    if (!k || ticket == 0 || ticket <= k->applied || ticket > k->next_ticket) {
        if (verdict >= 0)
            breaker_record(b, key, verdict, now);
        else
            breaker_release(b, key);
        return;
    }
    k->ticket_state[ticket % BR_RING] = verdict > 0 ? T_FAILURE : verdict == 0 ? T_SUCCESS : T_NONE;
    if (k->ticket_sent[ticket % BR_RING] > k->latest_answered_sent)
        k->latest_answered_sent = k->ticket_sent[ticket % BR_RING];
    while (k->applied < k->next_ticket) {
        uint64_t t = k->applied + 1;
        unsigned char st = k->ticket_state[t % BR_RING];
        if (st == T_IN_FLIGHT) {
            double sent = k->ticket_sent[t % BR_RING];
            if (k->latest_answered_sent - sent < BR_PATIENCE_S && now - sent < BR_BACKSTOP_S)
                break;
            st = T_NONE; /* too slow to wait for: judged without it */
        }
        k->applied = t;
        if (st == T_NONE)
            breaker_release(b, key);
        else
            breaker_record(b, key, st == T_FAILURE, now);
        k = find(b, key); /* a state-change callback may have added keys */
        if (!k)
            return;
    }
}
