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

/* Sets a limit for a scope ("session:NAME", "agent:NAME", "day", "month"); < 0 removes it. */
int budget_set_limit(nyx_engine *e, const char *scope, double limit_usd);

/* Reserves amount in every scope; 0, or -1 with err ("budget_exceeded" names the scope).
 * A soft scope (budget.hard / budget.<kind>_hard false in the settings) that would go over
 * its limit does not refuse: the first time, it logs a warning, raises an "alert" event
 * (kind "budget_soft_limit") and records a "budget_soft_exceeded" audit event; the call is
 * reserved past the limit, which the ledger keeps showing. */
int budget_reserve(nyx_engine *e, const budget_scopes *s, double amount_usd, char *id, size_t id_size,
                   nyx_error *err);

/* After a call settled: raises alerts for thresholds its scopes crossed. */
void budget_check_alerts(nyx_engine *e, const budget_scopes *s);

void budget_free(nyx_engine *e);

#endif
