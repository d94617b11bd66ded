#define _POSIX_C_SOURCE 200809L
#include "budget.h"

#include "base/clock.h"
#include "engine.h"
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const double thresholds[] = {0.5, 0.8, 1.0};
#define SOFT_ALERTED (1 << 8) /* budget_limit.alerted: the soft limit was reported */

static double limit_of(const nyx_engine *e, const char *scope)
{
    const budget_limit *l = governance_limit(&e->gov, scope);
    return l ? l->limit_usd : -1;
}

double budget_limit_set(const nyx_engine *e, const char *scope) { return limit_of(e, scope); }

static budget_limit *find_limit(const nyx_engine *e, const char *scope) { return governance_limit(&e->gov, scope); }

/* The ledger's name of a scope now: "day" is today's "day:2026-12-06", "month" this month's,
 * an agent's carries its window; others are their own name. */
void budget_scope_now(const nyx_engine *e, const char *scope, char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (strcmp(scope, "day") == 0) {
        strftime(out, n, "day:%Y-%m-%d", &tm);
    } else if (strcmp(scope, "month") == 0) {
        strftime(out, n, "month:%Y-%m", &tm);
    } else if (strncmp(scope, "agent:", 6) == 0) {
        const budget_limit *l = find_limit(e, scope);
        int per = l ? l->per : BUDGET_PER_DAY;
        char window[16] = "";
        if (per == BUDGET_PER_DAY)
            strftime(window, sizeof window, "/%Y-%m-%d", &tm);
        else if (per == BUDGET_PER_MONTH)
            strftime(window, sizeof window, "/%Y-%m", &tm);
        snprintf(out, n, "%s%s", scope, window);
    } else {
        snprintf(out, n, "%s", scope);
    }
}

int budget_set_limit_per(nyx_engine *e, const char *scope, double limit_usd, int per)
{
    if (per < 0)
        per = strncmp(scope, "agent:", 6) == 0 ? BUDGET_PER_DAY : BUDGET_PER_TOTAL;
    budget_limit *l = find_limit(e, scope);
    int changed = 1;
    if (l) {
        changed = l->limit_usd != limit_usd || l->per != per;
    } else {
        if (!(l = governance_add_limit(&e->gov, scope)))
            return -1;
    }
    l->limit_usd = limit_usd;
    l->per = per;
    /* -2 marks a slot kept only for alerts (alert_slot): no limit of its own to show. */
    if (changed && limit_usd > -2 && e->storage.db) {
        char name[200];
        budget_scope_now(e, scope, name, sizeof name);
        error_info err;
        error_clear(&err);
        store_budget_set_limit(e->storage.db, name, limit_usd, &err);
    }
    return 0;
}

static void add(const nyx_engine *e, budget_scopes *out, const char *name, double limit)
{
    if (limit < 0 || out->n >= BUDGET_MAX_SCOPES)
        return;
    snprintf(out->names[out->n], sizeof out->names[out->n], "%s", name);
    out->scopes[out->n].scope = out->names[out->n];
    out->scopes[out->n].limit_usd = limit;
    out->soft[out->n] = !settings_budget_hard(e, name);
    out->n++;
}

void budget_scopes_for(nyx_engine *e, const char *session, const char *agent, budget_scopes *out)
{
    out->n = 0;
    char name[160];
    if (session) {
        const call_session *s = engine_session(e, session, 0);
        double limit = s && s->budget_usd >= 0 ? s->budget_usd : e->cfg.session_budget_usd;
        snprintf(name, sizeof name, "session:%s", session);
        double set = limit_of(e, name);
        add(e, out, name, set >= 0 ? set : limit);
    }
    /* A window's name (the date, by strftime) is made only for a scope with a limit: most
     * calls have none, and add() would drop the name. */
    if (agent) {
        char key[160];
        snprintf(key, sizeof key, "agent:%s", agent);
        double limit = limit_of(e, key);
        if (!(limit < 0)) { /* as add() judges it */
            budget_scope_now(e, key, name, sizeof name);
            add(e, out, name, limit);
        }
    }
    double day = limit_of(e, "day"), month = limit_of(e, "month");
    day = day >= 0 ? day : e->cfg.daily_budget_usd;
    month = month >= 0 ? month : e->cfg.monthly_budget_usd;
    if (!(day < 0)) {
        budget_scope_now(e, "day", name, sizeof name);
        add(e, out, name, day);
    }
    if (!(month < 0)) {
        budget_scope_now(e, "month", name, sizeof name);
        add(e, out, name, month);
    }
}

static budget_limit *alert_slot(nyx_engine *e, const char *scope);

/* A soft scope went over its limit: say so once per scope, then let the call go. */
static void soft_exceeded(const budget_request *r, const char *scope, double limit, const char *why)
{
    nyx_engine *e = r->e;
    budget_limit *slot = alert_slot(e, scope);
    if (slot && (slot->alerted & SOFT_ALERTED))
        return;
    if (slot)
        slot->alerted |= SOFT_ALERTED;
    char msg[700];
    snprintf(msg, sizeof msg, "budget %s is over its soft limit of $%.4f; calls go on (%s)", scope, limit, why);
    engine_field f[] = {{"kind", "budget_soft_limit", 0}, {"scope", scope, 0}, {"threshold", NULL, limit},
                        {"limit_usd", NULL, limit}, {"message", msg, 0}};
    engine_emit(e, "alert", f, sizeof f / sizeof f[0]);
    engine_log(e, NYX_LOG_WARN, "nyx: %s", msg);
    error_info aerr;
    error_clear(&aerr);
    store_audit(e->storage.db, "budget_soft_exceeded", r->session, r->agent, why, &aerr);
}

static void submit(budget_request *r);

#define WAIT_FIRST_S 0.02 /* a lock held for a commit is gone by then */
#define WAIT_MAX_S 0.5

static void retry_waiting(void *ud);

/* The store could not answer now: the request joins the queue the timer retries, in order. */
static void wait_for_store(budget_request *r)
{
    nyx_engine *e = r->e;
    budget_request **at = &e->gov.budget_waiting;
    while (*at && !r->retrying) /* one tried again keeps its place at the head */
        at = &(*at)->next_waiting;
    r->waiting = 1;
    r->retrying = 0;
    r->next_waiting = *at;
    *at = r;
    if (!e->gov.budget_timer) {
        e->gov.budget_wait_s = e->gov.budget_wait_s > 0 ? e->gov.budget_wait_s : WAIT_FIRST_S;
        e->gov.budget_timer = loop_timer_add(e->loop, e->gov.budget_wait_s, retry_waiting, e);
    }
}

#define SETTLE_POLL_S 0.25 /* reservations of other processes settle unseen: look again */

static void retry_settling(void *ud);

/* Refused only because reservations still pending fill the scope: the request waits for a
 * settle (this engine's own wake it at once, another process's are seen on a timer). */
static void wait_for_settle(budget_request *r)
{
    nyx_engine *e = r->e;
    budget_request **at = &e->gov.budget_settling;
    while (*at)
        at = &(*at)->next_waiting;
    r->waiting = 2;
    r->next_waiting = NULL;
    *at = r;
    if (!e->gov.settle_timer)
        e->gov.settle_timer = loop_timer_add(e->loop, SETTLE_POLL_S, retry_settling, e);
}

static void retry_settling(void *ud)
{
    nyx_engine *e = ud;
    e->gov.settle_timer = NULL;
    budget_request *list = e->gov.budget_settling;
    e->gov.budget_settling = NULL;
    while (list) {
        budget_request *r = list;
        list = r->next_waiting;
        r->waiting = 0;
        r->next_waiting = NULL;
        submit(r);
    }
}

void budget_settled(nyx_engine *e)
{
    if (!e->gov.budget_settling || !e->loop)
        return;
    if (e->gov.settle_timer)
        loop_timer_cancel(e->loop, e->gov.settle_timer);
    e->gov.settle_timer = loop_timer_add(e->loop, 0, retry_settling, e);
}

static void unlink_waiting(budget_request *r)
{
    budget_request **head = r->waiting == 2 ? &r->e->gov.budget_settling : &r->e->gov.budget_waiting;
    for (budget_request **at = head; *at; at = &(*at)->next_waiting)
        if (*at == r) {
            *at = r->next_waiting;
            break;
        }
    r->waiting = 0;
    r->next_waiting = NULL;
}

/* The head is tried first; only when it gets through are the others sent after it, so a
 * store that is still unavailable costs one attempt per turn of the timer, not one per call. */
static void retry_waiting(void *ud)
{
    nyx_engine *e = ud;
    e->gov.budget_timer = NULL;
    budget_request *head = e->gov.budget_waiting;
    if (!head)
        return;
    unlink_waiting(head);
    /* The next turn, should the store still be unavailable, comes later. */
    e->gov.budget_wait_s = e->gov.budget_wait_s * 2 > WAIT_MAX_S ? WAIT_MAX_S : e->gov.budget_wait_s * 2;
    head->retrying = 1;
    submit(head);
    head->retrying = 0;
    if (head->waiting)
        return;
    e->gov.budget_wait_s = 0;
    while (e->gov.budget_waiting && !e->gov.budget_timer) {
        budget_request *r = e->gov.budget_waiting;
        unlink_waiting(r);
        submit(r);
    }
}

void budget_withdraw(budget_request *r)
{
    if (!r->waiting)
        return;
    int settling = r->waiting == 2;
    unlink_waiting(r);
    if (!r->e->gov.budget_waiting && r->e->gov.budget_timer) {
        loop_timer_cancel(r->e->loop, r->e->gov.budget_timer);
        r->e->gov.budget_timer = NULL;
    }
    if (!r->e->gov.budget_settling && r->e->gov.settle_timer) {
        loop_timer_cancel(r->e->loop, r->e->gov.settle_timer);
        r->e->gov.settle_timer = NULL;
    }
    error_info err;
    error_clear(&err);
    error_set(&err, "cancelled", 0,
                  settling ? "the call was cancelled while its budget waited for pending reservations to settle"
                           : "the call was cancelled while its budget waited for the database");
    r->done(r->ud, -1, &err);
}

static int store_unavailable(const nyx_engine *e, const budget_request *r, const error_info *err)
{
    return e->storage.db && e->loop && err && err->retryable && strcmp(err->type, "store_error") == 0 &&
           clock_now_s() < r->deadline;
}

static void answered(void *ud, int rc, int refused, const error_info *err)
{
    budget_request *r = ud;
    nyx_engine *e = r->e;
    if (rc != 0 && refused < 0 && store_unavailable(e, r, err)) {
        r->again = 1;
        wait_for_store(r);
        return;
    }
    if (rc == 0) {
        /* The ledger keeps showing the soft limits set aside for this reservation. */
        error_info lerr;
        error_clear(&lerr);
        for (size_t i = 0; r->dropped && i < r->s->n; i++)
            if (r->scopes[i].limit_usd < 0 && r->s->scopes[i].limit_usd >= 0)
                store_budget_set_limit(e->storage.db, r->s->names[i], r->s->scopes[i].limit_usd, &lerr);
        r->done(r->ud, 0, NULL);
        return;
    }
    if (refused < 0 || !e->storage.db || !r->s->soft[refused] || r->scopes[refused].limit_usd < 0) {
        if (refused >= 0 && e->storage.db && e->loop && err && err->retryable && !r->no_settle_wait &&
            clock_now_s() < r->deadline) {
            wait_for_settle(r);
            return;
        }
        if (refused >= 0 && e->storage.db) {
            error_info aerr;
            error_clear(&aerr);
            store_audit(e->storage.db, "budget_refused", r->session, r->agent, err->message, &aerr);
        }
        error_info final = *err;
        if (refused >= 0)
            final.retryable = 0; /* the wait for pending reservations is over */
        r->done(r->ud, -1, &final);
        return;
    }
    /* Soft: reserved without its limit this time; each pass drops one, so this ends. */
    soft_exceeded(r, r->s->names[refused], r->scopes[refused].limit_usd, err->message);
    r->scopes[refused].limit_usd = -1;
    r->dropped = 1;
    submit(r);
}

static void submit(budget_request *r)
{
    error_info err;
    error_clear(&err);
    /* After a lost answer the same id again: the database may have committed it. */
    int (*reserve)(store_db *, const store_scope *, size_t, double, char *, size_t, store_done_fn,
                   void *, error_info *) = r->again ? store_budget_reserve_again_async : store_budget_reserve_async;
    if (reserve(r->e->storage.db, r->scopes, r->s->n, r->amount_usd, r->id, r->id_size, answered, r, &err) != 0)
        answered(r, -1, -1, &err);
}

void budget_reserve(budget_request *r)
{
    memcpy(r->scopes, r->s->scopes, r->s->n * sizeof r->scopes[0]);
    r->dropped = 0;
    r->waiting = 0;
    r->again = 0;
    /* Behind the ones already waiting, so the store sees reservations in the calls' order. */
    if (r->e->gov.budget_waiting && clock_now_s() < r->deadline)
        wait_for_store(r);
    else
        submit(r);
}

typedef struct alert_scan {
    nyx_engine *e;
    budget_scopes s; /* a copy: the answer may come after the call is gone */
    double nearest;  /* the smallest share left among s's scopes, for nyx_progress; -1 */
    char nearest_scope[160];
} alert_scan;

static budget_limit *alert_slot(nyx_engine *e, const char *scope)
{
    budget_limit *l = governance_limit(&e->gov, scope);
    if (l)
        return l;
    /* Limits from the environment get a slot on first use, to remember their alerts. */
    if (budget_set_limit_per(e, scope, -2, -1) != 0)
        return NULL;
    return &e->gov.limits[e->gov.nlimits - 1];
}

static int scan_row(void *ud, int ncols, const char *const *names, const char *const *values,
                    const char *types)
{
    (void)types;
    alert_scan *a = ud;
    const char *scope = rows_value(ncols, names, values, "scope");
    const char *limit_usd = rows_value(ncols, names, values, "limit_usd");
    const char *spent_usd = rows_value(ncols, names, values, "spent_usd");
    double limit = limit_usd ? atof(limit_usd) : -1, spent = spent_usd ? atof(spent_usd) : 0;
    if (!scope || limit <= 0)
        return 0;
    size_t k = 0;
    while (k < a->s.n && strcmp(a->s.names[k], scope) != 0)
        k++;
    if (k == a->s.n)
        return 0;
    double left = spent >= limit ? 0 : (limit - spent) / limit;
    if (a->nearest < 0 || left < a->nearest) {
        a->nearest = left;
        snprintf(a->nearest_scope, sizeof a->nearest_scope, "%s", scope);
    }
    budget_limit *slot = alert_slot(a->e, scope);
    if (!slot)
        return 0;
    for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++) {
        int bit = 1 << t;
        if (spent + 1e-12 < thresholds[t] * limit || (slot->alerted & bit))
            continue;
        slot->alerted |= bit;
        engine_field f[] = {{"scope", scope, 0}, {"threshold", NULL, thresholds[t]},
                            {"spent_usd", NULL, spent}, {"limit_usd", NULL, limit}};
        engine_emit(a->e, "budget_alert", f, sizeof f / sizeof f[0]);
        if (a->e->cfg.cost_alerts)
            engine_log(a->e, NYX_LOG_WARN, "nyx: budget %s reached %.0f%%: $%.4f of $%.4f", scope,
                       thresholds[t] * 100, spent, limit);
    }
    return 0;
}

static void scanned(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused;
    (void)err; /* alerts are best effort: the next settle looks again */
    alert_scan *a = ud;
    if (rc == 0 && a->nearest >= 0) {
        a->e->progress.budget_remaining = a->nearest;
        snprintf(a->e->progress.budget_scope, sizeof a->e->progress.budget_scope, "%s", a->nearest_scope);
    }
    free(ud);
}

void budget_check_alerts(nyx_engine *e, const budget_scopes *s)
{
    if (!e->storage.db || s->n == 0)
        return;
    alert_scan *a = malloc(sizeof *a);
    if (!a)
        return;
    a->e = e;
    a->s = *s;
    /* The rows name the scopes as stored (personal data in a name is redacted there). */
    for (size_t k = 0; k < a->s.n; k++)
        store_name_as_stored(e->storage.db, s->names[k], a->s.names[k], sizeof a->s.names[k]);
    a->nearest = -1;
    a->nearest_scope[0] = 0;
    error_info err;
    error_clear(&err);
    if (store_budget_status_async(e->storage.db, scan_row, a, scanned, a, &err) != 0)
        free(a);
}

void budget_free(nyx_engine *e)
{
    while (e->gov.budget_waiting)
        budget_withdraw(e->gov.budget_waiting);
    while (e->gov.budget_settling)
        budget_withdraw(e->gov.budget_settling);
    governance_free_limits(&e->gov);
}
