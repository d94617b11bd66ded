/* Circuit breakers, one per key (a model id): after a run of failures, or too high a failure
 * share over a sliding window, calls to the key fail fast without touching the network; after a
 * cool-down one probe is let through, and its outcome closes or re-opens the breaker.
 * No clock and no threads inside: every function that depends on time takes `now`, monotonic
 * seconds from the caller. */
#ifndef NYX_RESILIENCE_BREAKER_H
#define NYX_RESILIENCE_BREAKER_H

#include <stdint.h>

typedef struct breaker_config {
    int failures_to_open; /* consecutive failures that open it; default 5; <= 0: rule off */
    double window_s;      /* sliding window for the failure share; default 60; must be > 0 */
    double failure_rate;  /* opens when the share of failures exceeds this; default 0.5;
                             must be >= 0; >= 1: rule off */
    int min_calls;        /* calls in the window before the share counts; default 10 */
    double cooldown_s;    /* open -> half-open after this; default 30; must be >= 0 */
} breaker_config;

/* Fills c with the defaults above. */
void breaker_config_default(breaker_config *c);

typedef enum { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

/* "closed", "open", "half_open"; "unknown" for any other value. Static text. */
const char *breaker_state_name(breaker_state s);

typedef struct breakers breakers;

/* Creates a set of breakers, all closed, sharing one configuration (copied; NULL = defaults).
 * Returns the set (free with breakers_free()), or NULL when out of memory or when the
 * configuration is invalid (window_s not > 0, failure_rate < 0, cooldown_s < 0, or any of
 * them not finite). */
breakers *breakers_new(const breaker_config *c);

/* Frees the set; NULL does nothing. */
void breakers_free(breakers *b);

/* Whether a call to key may go now.
 * Closed: 1. Open: 0 until the cool-down has passed; the first call after it turns the breaker
 * half-open and is the probe (1). Half-open: 0 while the probe is out, so exactly one call goes.
 * A NULL b (breakers disabled) or an unknown key: 1. Never allocates. */
int breaker_allow(breakers *b,     /* the set */
                  const char *key, /* model id */
                  double now       /* monotonic seconds */
);

/* Records the outcome of a call that breaker_allow() let through. failure = 1 for a transient
 * server-side failure (5xx, 529, timeout, connection error: the caller decides), 0 when the
 * server answered properly.
 * Closed: opens after failures_to_open consecutive failures, or when the window holds at least
 * min_calls calls and the failure share exceeds failure_rate. Half-open: the outcome is taken
 * as the probe's: success closes (with a fresh window), failure re-opens (new cool-down).
 * Open: ignored (late outcomes of calls sent before it opened).
 * The window is 10 buckets of window_s/10, so it covers the last 0.9 to 1.0 x window_s.
 * Creates the key on first use; when memory runs out the outcome is lost. */
void breaker_record(breakers *b,     /* the set */
                    const char *key, /* model id */
                    int failure,     /* 1 failure, 0 success */
                    double now       /* monotonic seconds */
);

/* A call that breaker_allow() let through ended with no verdict on the server (cancelled,
 * refused before it was sent, ...). If it was the half-open probe, the next breaker_allow()
 * lets another probe go; without this, a lost probe would keep the breaker half-open for ever.
 * Otherwise does nothing. */
void breaker_release(breakers *b, const char *key);

/* Calls fn(ud, key, from, to) after every state change, from inside breaker_allow() or
 * breaker_record(); key is the set's copy, valid during the call. fn NULL: no callback. */
void breakers_on_change(breakers *b,
                        void (*fn)(void *ud, const char *key, breaker_state from,
                                   breaker_state to),
                        void *ud /* passed back to fn */
);

/* The state of key: BREAKER_CLOSED for an unknown key. An open breaker whose cool-down has
 * passed still reads BREAKER_OPEN until breaker_allow() half-opens it. */
breaker_state breaker_get(const breakers *b, const char *key);

/* Seconds until an open breaker may half-open: > 0 while its cool-down runs, 0 if it is not
 * open or the cool-down is over. (Half-open with the probe out also reads 0.) */
double breaker_retry_in(const breakers *b, const char *key, double now);

/* Takes a ticket for a request being sent now (after breaker_allow said yes); 0 when the key
 * has too many in flight to track, which then judges its outcome on arrival. */
uint64_t breaker_send(breakers *b, const char *key, double now);

/* The outcome of a ticketed request: verdict 1 failure, 0 success, -1 no verdict (cancelled,
 * never sent). Outcomes are applied in the order the requests were sent; one waits for
 * earlier requests still in flight until a request sent 5 s after them has been answered, or
 * for 60 s at most. */
void breaker_outcome(breakers *b, const char *key, uint64_t ticket, int verdict, double now);

#endif
