/* Budgets for calls: which scopes apply (session, agent, UTC day, UTC month), the worst-case
 * reservation before a request is sent, settlement to the actual cost after, and alerts as
 * spending crosses thresholds. The ledger itself is the store's, one transaction per step,
 * so processes sharing a database cannot jointly overspend. */
#ifndef NYX_BUDGET_H
#define NYX_BUDGET_H

#include "claude/types.h"
#include "store/store.h"

#include <stddef.h>

typedef struct nyx_engine nyx_engine;

#define BUDGET_MAX_SCOPES 4

typedef struct budget_scopes {
    char names[BUDGET_MAX_SCOPES][160];
    store_scope scopes[BUDGET_MAX_SCOPES];
    unsigned char soft[BUDGET_MAX_SCOPES]; /* 1: over its limit warns and alerts, never refuses */
    size_t n;
} budget_scopes;

/* The scopes with a limit that apply to a call of this session and agent, now. */
void budget_scopes_for(nyx_engine *e, const char *session, const char *agent, budget_scopes *out);

/* An agent's budget is spent per window: a UTC day unless set otherwise. Its scope in the
 * ledger is "agent:NAME/2026-12-06" (day), "agent:NAME/2026-12" (month) or "agent:NAME". */
enum { BUDGET_PER_TOTAL = 0, BUDGET_PER_DAY = 1, BUDGET_PER_MONTH = 2 };

/* Sets a limit for a scope ("session:NAME", "agent:NAME", "day", "month"); < 0 removes it.
 * An agent's window is per (BUDGET_PER_*; < 0: a day). The ledger's row of the scope as it
 * is now (today's, this month's) gets the new limit at once, so `nyx budget` shows it. */
int budget_set_limit_per(nyx_engine *e, const char *scope, double limit_usd, int per);
/* The ledger's name of scope now (what `nyx budget` lists): "day" is "day:2026-12-06",
 * "month" "month:2026-12", an agent's scope carries its window; others are themselves. */
void budget_scope_now(const nyx_engine *e, const char *scope, char *out, size_t n);

/* The limit budget_set_limit_per gave scope in this engine, or -1. */
double budget_limit_set(const nyx_engine *e, const char *scope);

typedef void (*budget_done_fn)(void *ud, int rc, const error_info *err);

/* One reservation in progress; lives in its owner (a call) until done runs. */
typedef struct budget_request {
    nyx_engine *e;
    const budget_scopes *s;
    const char *session, *agent; /* the call's, for the audit trail; either may be NULL */
    store_scope scopes[BUDGET_MAX_SCOPES]; /* s's, with soft limits set aside as they refuse */
    double amount_usd;
    char *id;
    size_t id_size;
    int dropped;
    double deadline;  /* monotonic seconds: an unavailable store is waited for until then */
    int no_settle_wait; /* refuse rather than wait for pending reservations to settle: a batch's
                           members settle only once every member is reserved */
    budget_done_fn done;
    void *ud;
    /* Waiting for the store (budget.c): */
    struct budget_request *next_waiting;
    int waiting, retrying, again;
} budget_request;

/* Reserves amount in every scope, then calls done exactly once (before returning when the
 * store answers at once): rc 0, or -1 with err ("budget_exceeded" names the scope).
 * A soft scope (budget.hard / budget.<kind>_hard false in the settings) that would go over
 * its limit does not refuse: the first time, it logs a warning, raises an "alert" event
 * (kind "budget_soft_limit") and records a "budget_soft_exceeded" audit event; the call is
 * reserved past the limit, which the ledger keeps showing. */
void budget_reserve(budget_request *r);
/* While the store is unavailable (locked by another process, connection lost: a retryable
 * store_error), a reservation is not refused: it waits, the call with it, and is tried
 * again on a timer until r->deadline, when it fails with the store's error. The loop never
 * waits for the store. budget_withdraw ends such a wait at once (done runs with a
 * "cancelled" error); a request that is not waiting is left alone. */
void budget_withdraw(budget_request *r);

/* A hard scope that refuses only because reservations still pending fill it (the call fits
 * once they settle at their actual cost) does not refuse yet: the request waits for them,
 * until r->deadline, and is tried again after each settle of this engine (budget_settled) and
 * on a timer for other processes'. Budgets still never overshoot: it is reserved only when it
 * fits. */
void budget_settled(nyx_engine *e);

/* After a call settled: raises alerts for thresholds its scopes crossed. */
void budget_check_alerts(nyx_engine *e, const budget_scopes *s);

void budget_free(nyx_engine *e);

#endif
