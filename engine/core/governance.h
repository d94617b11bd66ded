/* Governance, the engine's limits on what calls may spend and do: budget limits and the
 * reservations waiting on the ledger (budget.c), the rate limiter, the circuit breakers, and
 * the emergency stop. The engine holds one; admission (call.c) asks it. */
#ifndef NYX_GOVERNANCE_H
#define NYX_GOVERNANCE_H

#include "loop.h"

#include <stddef.h>
#include <stdint.h>

struct ratelimiter;
struct breakers;
struct budget_request;

typedef struct budget_limit {
    char *scope;
    double limit_usd; /* < 0: none set here */
    int alerted;      /* thresholds already announced, one bit each */
    int per;          /* an agent's window: BUDGET_PER_DAY, _MONTH or _TOTAL (budget.h) */
} budget_limit;

typedef struct governance {
    struct budget_request *budget_waiting; /* reservations waiting for the store (budget.c) */
    loop_timer *budget_timer;
    double budget_wait_s;
    struct budget_request *budget_settling; /* refused only for reservations still pending */
    loop_timer *settle_timer;
    budget_limit *limits; /* set by nyx.budget.limit, or kept for the alerts of a scope */
    size_t nlimits;
    struct ratelimiter *limiter;
    struct breakers *breakers;
    int64_t breaker_opens;
    loop_timer *stop_watch; /* looks for stops given by other processes (engine.c) */
    int stopped;            /* emergency stop: new calls fail with "stopped" */
    char stop_reason[256];
} governance;

/* The limit kept for scope, or NULL. */
budget_limit *governance_limit(const governance *g, const char *scope);
/* A new limit slot for scope (no limit, no alerts yet); NULL when out of memory. */
budget_limit *governance_add_limit(governance *g, const char *scope);
void governance_free_limits(governance *g);
/* Whether reason can be a stop's reason: it is stored for every process on the database and
 * ends every refused call's error, so it is one line of UTF-8 text that fits stop_reason
 * whole (cut, it would read as another reason, or end inside a character). Returns 0, or -1
 * with why (a message naming the problem) filled. NULL is "no reason given". */
int governance_reason_check(const char *reason, char *why, size_t size);

/* Sets the stop with its reason ("no reason given" when there is none); returns 1 when it
 * was already stopped. */
int governance_stop(governance *g, const char *reason);

#endif
