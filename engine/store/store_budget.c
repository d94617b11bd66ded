/* Budgets, the part every backend shares: checking arguments, naming reservations and
 * their holders, status, limits, and reaping the reservations of holders gone (told alive or
 * not here, released through the backend's settle). The reserve and settle transactions are
 * the backend's (store_sqlite_budget.c, store_pg_budget.c). */
#define _POSIX_C_SOURCE 200809L
#include "store_backend.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/array.h"
#include "base/clock.h"
#include "base/text.h"

#define HOST_SIZE 256

/* 1 when process pid is alive on this host (or exists and belongs to another user), 0 when
 * no such process exists. */
static int pid_alive(int64_t pid)
{
    /* kill(0) and kill(-1) address process groups: such a pid says nothing, keep it. */
    if (pid <= 0 || (int64_t)(pid_t)pid != pid)
        return 1;
    if (kill((pid_t)pid, 0) == 0)
        return 1;
    return errno == EPERM; /* exists, owned by someone else */
}

/* The reservations a reap releases, read from the holds' rows: those older than max_age_s
 * (when > 0) and those made on host by a process that no longer runs. orphans_take is the
 * row callback that collects their ids (oom set when a copy failed). */
typedef struct orphans {
    double now, max_age_s;
    const char *host;
    char **ids;
    size_t n, cap;
    int oom;
} orphans;

static int orphans_take(void *ud, int ncols, const char *const *names, const char *const *values,
                        const char *types)
{
    (void)ncols;
    (void)names;
    (void)types;
    orphans *o = ud;
    int old = o->max_age_s > 0 && values[3] && strtod(values[3], NULL) < o->now - o->max_age_s;
    int dead = values[1] && values[2] && strcmp(values[2], o->host) == 0 &&
               !pid_alive(strtoll(values[1], NULL, 10));
    if (!values[0] || !(old || dead))
        return 0;
    char **ids = array_room(o->ids, o->n, &o->cap, sizeof *ids, 16);
    if (ids)
        o->ids = ids; /* kept before the copy: a grown array is the only one left */
    if (!ids || !(ids[o->n] = text_dup(values[0]))) {
        o->oom = 1;
        return 1;
    }
    o->n++;
    return 0;
}

static void orphans_free(orphans *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->ids[i]);
    free(o->ids);
}

static void host_name(char *out, size_t n)
{
    if (gethostname(out, n) != 0)
        out[0] = '\0';
    out[n - 1] = '\0'; /* POSIX leaves a truncated name unterminated */
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Unique across processes and hosts without coordination: pid, microseconds, a
 * process-wide counter (two stores in one process), and a hash of the host name.
 * At most 37 characters: "r" + 8 + "-" + 13 + "-" + 4 + "-" + 8. */
static void reservation_id(char *out, size_t n, int64_t pid, const char *host)
{
    static atomic_uint counter;
    unsigned c = atomic_fetch_add(&counter, 1u) & 0xffffu;
    snprintf(out, n, "r%llx-%llx-%04x-%08x", (unsigned long long)pid & 0xffffffffull,
             (unsigned long long)(clock_wall_s() * 1e6), c, (unsigned)fnv1a(host));
}

/* "$0.40", "$0.000123", "$12.50": at least cents, at most micro-dollars. */
static void usd(char *out, size_t n, double v)
{
    snprintf(out, n, "$%.6f", v);
    char *dot = strchr(out, '.');
    if (!dot)
        return;
    char *end = out + strlen(out) - 1;
    while (end > dot + 2 && *end == '0')
        *end-- = '\0';
}

int store_budget_refused(error_info *err, const store_scope *scope, double spent,
                         double reserved, double amount)
{
    char l[32], sp[32], re[32], am[32];
    usd(l, sizeof l, scope->limit_usd);
    usd(sp, sizeof sp, spent);
    usd(re, sizeof re, reserved);
    usd(am, sizeof am, amount);
    int rc = store_fail_as(err, "budget_exceeded",
                           "budget exceeded in scope %s: limit %s, spent %s, reserved %s, "
                           "this call needs up to %s",
                           scope->scope, l, sp, re, am);
    /* Retryable: it fits once the reservations still pending settle (they settle at their
     * actual cost, which is at most what they reserved). */
    err->retryable = reserved > 0 && spent + amount <= scope->limit_usd;
    return rc;
}

static int finite_nonneg(double v) { return v >= 0 && !isinf(v); }

/* Checks a reservation's arguments and names it: r (with host in host) and its id. */
static int prepare_reservation(store_db *s, const store_scope *scopes, size_t n,
                               double amount_usd, char *reservation_id_out, size_t id_size,
                               store_reservation *r, char *host, int keep_id, error_info *err)
{
    if (!s || (n > 0 && !scopes) || !reservation_id_out)
        return store_invalid(err, "cannot reserve budget: no store, no scopes or no place for "
                                  "the reservation id");
    if (id_size < STORE_RESERVATION_ID_SIZE)
        return store_invalid(err, "cannot reserve budget: the reservation id needs %d bytes, "
                                  "the buffer has %zu",
                             STORE_RESERVATION_ID_SIZE, id_size);
    if (!finite_nonneg(amount_usd))
        return store_invalid(err, "cannot reserve budget: amount %g is not a finite amount >= 0",
                             amount_usd);
    for (size_t i = 0; i < n; i++) {
        const char *name = scopes[i].scope;
        if (!name || !*name)
            return store_invalid(err, "cannot reserve budget: scope %zu has no name", i);
        if (strchr(name, '\n')) /* the separator in budget_holds.scopes */
            return store_invalid(err, "cannot reserve budget: scope name \"%.64s\" holds a "
                                      "newline",
                                 name);
        if (!isfinite(scopes[i].limit_usd))
            return store_invalid(err, "cannot reserve budget: scope %s has limit %g (give a "
                                      "finite limit, or < 0 for none)",
                                 name, scopes[i].limit_usd);
        for (size_t j = 0; j < i; j++)
            if (strcmp(scopes[j].scope, name) == 0)
                return store_invalid(err, "cannot reserve budget: scope %s is given twice", name);
    }
    if (!s->ops->budget_reserve)
        return store_unsupported(s, "reserve budget", err);
    host_name(host, HOST_SIZE);
    *r = (store_reservation){.amount_usd = amount_usd, .created_at = clock_wall_s(),
                             .pid = (int64_t)getpid(), .host = host, .id = reservation_id_out};
    if (!keep_id || !memchr(reservation_id_out, '\0', id_size) || !*reservation_id_out)
        reservation_id(reservation_id_out, id_size, r->pid, host);
    return 0;
}

static int reserve_scrubbed(store_db *s, const store_scope *scopes, size_t n, double amount_usd,
                            char *reservation_id_out, size_t id_size, int *refused, error_info *err);

/* The scopes with their names through the store's filter: clean[] holds them when there is
 * one (n at most STORE_SCRUB_MAX). Returns the scopes to use, or NULL with err. */
static const store_scope *scrub_scopes(const store_db *s, store_scrubbed *sc, const store_scope *scopes,
                                       size_t n, store_scope clean[STORE_SCRUB_MAX], error_info *err)
{
    if (!s || !s->filter || !scopes)
        return scopes;
    if (n > STORE_SCRUB_MAX) {
        store_invalid(err, "cannot reserve budget: %zu scopes, at most %d", n, STORE_SCRUB_MAX);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        clean[i] = (store_scope){store_scrub(s, sc, scopes[i].scope, 1), scopes[i].limit_usd};
    return store_scrub_failed(sc, err) == 0 ? clean : NULL;
}

int store_budget_reserve(store_db *s, const store_scope *scopes, size_t n, double amount_usd,
                         char *reservation_id_out, size_t id_size, int *refused, error_info *err)
{
    if (refused)
        *refused = -1;
    store_scrubbed sc = {0};
    store_scope clean[STORE_SCRUB_MAX];
    const store_scope *use = scrub_scopes(s, &sc, scopes, n, clean, err);
    if (!use && scopes)
        return -1;
    int rc = reserve_scrubbed(s, use, n, amount_usd, reservation_id_out, id_size, refused, err);
    store_scrub_free(&sc);
    return rc;
}

static int reserve_scrubbed(store_db *s, const store_scope *scopes, size_t n, double amount_usd,
                            char *reservation_id_out, size_t id_size, int *refused, error_info *err)
{
    char host[HOST_SIZE], id[STORE_RESERVATION_ID_SIZE];
    store_reservation r;
    if (prepare_reservation(s, scopes, n, amount_usd, id, id_size < sizeof id ? id_size : sizeof id,
                            &r, host, 0, err) != 0)
        return -1;
    if (n > 0 && s->ops->budget_reserve(s, scopes, n, &r, refused, err) != 0)
        return -1;
    memcpy(reservation_id_out, id, strlen(id) + 1);
    return 0;
}

static int reserve_async(store_db *s, const store_scope *scopes, size_t n, double amount_usd,
                         char *reservation_id, size_t id_size, int again, store_done_fn done,
                         void *ud, error_info *err)
{
    char host[HOST_SIZE];
    store_reservation r;
    if (prepare_reservation(s, scopes, n, amount_usd, reservation_id, id_size, &r, host, again, err) != 0)
        return -1;
    store_scrubbed sc = {0};
    store_scope clean[STORE_SCRUB_MAX];
    const store_scope *use = scrub_scopes(s, &sc, scopes, n, clean, err);
    if (!use && scopes)
        return -1;
    int rc = 0;
    if (n > 0 && s->ops->budget_reserve_async) {
        rc = s->ops->budget_reserve_async(s, use, n, &r, done, ud, err);
    } else {
        /* A store that answers at once (SQLite), or nothing to reserve: done before returning,
         * a refusal or a failed transaction included, as a store answering later would. */
        int refused = -1;
        if (n > 0 && s->ops->budget_reserve(s, use, n, &r, &refused, err) != 0)
            done(ud, -1, refused, err);
        else
            done(ud, 0, -1, NULL);
    }
    store_scrub_free(&sc);
    return rc;
}

int store_budget_reserve_async(store_db *s, const store_scope *scopes, size_t n,
                               double amount_usd, char *reservation_id, size_t id_size,
                               store_done_fn done, void *ud, error_info *err)
{
    return reserve_async(s, scopes, n, amount_usd, reservation_id, id_size, 0, done, ud, err);
}

int store_budget_reserve_again_async(store_db *s, const store_scope *scopes, size_t n,
                                     double amount_usd, char *reservation_id, size_t id_size,
                                     store_done_fn done, void *ud, error_info *err)
{
    return reserve_async(s, scopes, n, amount_usd, reservation_id, id_size, 1, done, ud, err);
}

int store_budget_settle(store_db *s, const char *reservation_id, double actual_usd,
                        error_info *err)
{
    if (!s || !reservation_id || !*reservation_id)
        return store_invalid(err, "cannot settle a reservation: no store or no reservation id");
    if (!finite_nonneg(actual_usd))
        return store_invalid(err, "cannot settle reservation %s: actual cost %g is not a finite "
                                  "amount >= 0",
                             reservation_id, actual_usd);
    if (!s->ops->budget_settle)
        return store_unsupported(s, "settle a reservation", err);
    return s->ops->budget_settle(s, reservation_id, actual_usd, clock_wall_s(), err);
}

#define STATUS(D)                                                                          \
    "SELECT scope, limit_usd, spent_usd, reserved_usd,"                                    \
    " CASE WHEN limit_usd IS NULL THEN NULL ELSE limit_usd - spent_usd - reserved_usd END"  \
    " AS remaining_usd, " D##_ISO("updated_at") " AS updated_at"                            \
    " FROM budgets ORDER BY scope" D##_COLLATE_C
static const store_sql SQL_STATUS = STORE_SQL(STATUS);

int store_budget_status(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn)
        return store_invalid(err, "cannot query budgets: no store or no row callback");
    store_stmt st = {&SQL_STATUS, "query budgets", 0, NULL, NULL};
    return store_exec(s, &st, fn, ud, err);
}

int store_budget_status_async(store_db *s, store_row_fn fn, void *ud, store_done_fn done,
                              void *done_ud, error_info *err)
{
    if (!s || !fn || !done)
        return store_invalid(err, "cannot query budgets: no store or no callback");
    store_stmt st = {&SQL_STATUS, "query budgets", 0, NULL, NULL};
    return store_exec_async(s, &st, fn, ud, done, done_ud, err);
}

int store_budget_reap(store_db *s, double max_age_s, error_info *err)
{
    if (!s)
        return store_invalid(err, "cannot reap reservations: no store");
    if (isnan(max_age_s))
        return store_invalid(err, "cannot reap reservations: max_age_s is not a number");
    if (!s->ops->budget_settle)
        return store_unsupported(s, "reap reservations", err);
    char host[HOST_SIZE];
    host_name(host, sizeof host);
    double now = clock_wall_s();
    static const store_sql SQL_HOLDERS =
        STORE_SQL_SAME("SELECT id, pid, host, created_at FROM budget_holds");
    store_stmt st = {&SQL_HOLDERS, "reap budget reservations", 0, NULL, NULL};
    orphans o = {.now = now, .max_age_s = max_age_s, .host = host};
    int rc = store_exec(s, &st, orphans_take, &o, err);
    if (rc == 0 && o.oom) {
        store_fail(err, "store: cannot reap budget reservations: out of memory");
        rc = -1;
    }
    /* Each release is a settle of nothing, a transaction of its own: one interrupted leaves
     * the rest for the next reap, and one settled meanwhile by its holder is not settled
     * again (a settle of a reservation already settled does nothing). */
    for (size_t i = 0; rc == 0 && i < o.n; i++)
        rc = s->ops->budget_settle(s, o.ids[i], 0, now, err);
    size_t released = o.n;
    orphans_free(&o);
    if (rc != 0)
        return -1;
    return released > (size_t)0x7fffffff ? 0x7fffffff : (int)released;
}
