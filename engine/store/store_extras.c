/* Later additions to the store's public functions (store.h): argument checks and the
 * queries, written once for every backend. The stored exchange of one interaction (`nyx log
 * --raw ID`: what was sent and what came back, as the storage mode kept them, with its
 * attempts and outcome), whether an id is stored, and a budget scope's displayed limit and
 * reset. (The parts no request names any more go with store_prune: store_prune.c.) */
#include "store_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

#define EXCHANGE(D)                                                                        \
    "SELECT id, " D##_ISO("created_at") " AS created_at, session, agent,"                   \
    " COALESCE(model_served, model_requested) AS model, status, error_type,"               \
    " error_message, request_id, attempts, attempts_json,"                                 \
    " prompt_text AS request, response_text AS response, request_parts"                    \
    " FROM llm_interactions WHERE id = ?1"
static const store_sql SQL_EXCHANGE = STORE_SQL(EXCHANGE);

static const store_sql SQL_EXISTS = STORE_SQL_SAME("SELECT 1 FROM llm_interactions WHERE id = ?1");

static const store_sql SQL_CONTENT_GET = STORE_SQL_SAME("SELECT body FROM llm_content WHERE hash = ?1");

/* RETURNING: *found from the rows, the same on every backend. */
static const store_sql SQL_BUDGET_RESET = STORE_SQL_SAME(
    "UPDATE budgets SET spent_usd = 0, updated_at = ?2 WHERE scope = ?1 RETURNING scope");

/* A scope without a row is left alone (store.h): its first reservation makes it. */
static const store_sql SQL_BUDGET_LIMIT = STORE_SQL_SAME(
    "UPDATE budgets SET limit_usd = ?2, updated_at = ?3 WHERE scope = ?1");

/* A part of a stored request, for store_content_join (ud: the store). */
static int fetch_part(void *ud, const char *hash, char **body, error_info *err)
{
    store_db *s = ud;
    store_stmt st = {&SQL_CONTENT_GET, "read a part of a stored request", 1,
                     (store_val[]){sv_text(hash)}, NULL};
    int rc = store_exec_text(s, &st, body, err);
    if (rc == 1 && *body)
        return 0;
    if (rc >= 0)
        store_fail_as(err, "not_found", "store: a part of a stored request (%.16s...) is missing",
                      hash);
    free(*body);
    *body = NULL;
    return -1;
}

typedef struct exchange_rows {
    store_db *s;
    store_row_fn fn;
    void *ud;
    error_info *err;
    int failed;
} exchange_rows;

/* The backend's row carries request_parts: a request stored in parts is joined into the
 * request column, and the row goes on without the recipe's column. */
static int exchange_row(void *ud, int ncols, const char *const *names, const char *const *values,
                        const char *types)
{
    exchange_rows *x = ud;
    int parts = rows_col(ncols, names, "request_parts"), request = rows_col(ncols, names, "request");
    const char **n = malloc((size_t)ncols * sizeof *n), **v = malloc((size_t)ncols * sizeof *v);
    char *t = malloc((size_t)ncols);
    if (parts < 0 || request < 0 || !n || !v || !t) {
        free(n);
        free(v);
        free(t);
        store_fail(x->err, parts < 0 || request < 0 ? "store: an exchange row is not as the store reads it"
                                                    : "store: cannot read an exchange: out of memory");
        x->failed = 1;
        return 1;
    }
    char *joined = NULL;
    if (values[parts] && store_content_join(values[parts], fetch_part, x->s, &joined, x->err) != 0) {
        free(n);
        free(v);
        free(t);
        x->failed = 1;
        return 1;
    }
    int k = 0;
    for (int i = 0; i < ncols; i++) {
        if (i == parts)
            continue;
        n[k] = names[i];
        t[k] = i == request && joined ? ROW_TEXT : types[i];
        v[k++] = i == request && joined ? joined : values[i];
    }
    int rc = x->fn(x->ud, k, n, v, t);
    free(joined);
    free(n);
    free(v);
    free(t);
    return rc;
}

int store_query_exchange(store_db *s, const char *id, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn || !id || !*id)
        return store_invalid(err, "cannot read an exchange: no store, no id or no row callback");
    exchange_rows x = {s, fn, ud, err, 0};
    char what[128];
    snprintf(what, sizeof what, "read the exchange %.64s", id);
    store_stmt st = {&SQL_EXCHANGE, what, 1, (store_val[]){sv_text(id)}, NULL};
    int rc = store_exec(s, &st, exchange_row, &x, err);
    return x.failed ? -1 : rc;
}

int store_interaction_exists(store_db *s, const char *id, int *found, error_info *err)
{
    if (!s || !id || !*id || !found)
        return store_invalid(err, "cannot look for an interaction: no store, no id or nowhere to answer");
    store_stmt st = {&SQL_EXISTS, "look for an interaction", 1, (store_val[]){sv_text(id)}, NULL};
    int64_t one = 0;
    int rc = store_exec_int(s, &st, &one, err);
    *found = rc == 1;
    return rc < 0 ? -1 : 0;
}

int store_budget_reset(store_db *s, const char *scope, int *found, error_info *err)
{
    *found = 0;
    if (!s || !scope || !*scope)
        return store_invalid(err, "cannot reset a budget: no store or no scope");
    store_scrubbed sc = {0};
    scope = store_scrub(s, &sc, scope, 1);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    char what[160];
    snprintf(what, sizeof what, "reset budget scope %.64s", scope);
    store_stmt st = {&SQL_BUDGET_RESET, what, 2,
                     (store_val[]){sv_text(scope), sv_real(clock_wall_s())}, NULL};
    char *hit = NULL;
    int rc = store_exec_text(s, &st, &hit, err);
    free(hit);
    *found = rc == 1;
    rc = rc < 0 ? -1 : 0;
    store_scrub_free(&sc);
    return rc;
}

int store_budget_set_limit(store_db *s, const char *scope, double limit_usd, error_info *err)
{
    if (!s || !scope || !*scope || isnan(limit_usd))
        return store_invalid(err, "cannot set a budget limit: no store, no scope or no number");
    store_scrubbed sc = {0};
    scope = store_scrub(s, &sc, scope, 1);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    char what[160];
    snprintf(what, sizeof what, "set the limit of budget scope %.64s", scope);
    store_val v[] = {sv_text(scope), sv_real_or_null(limit_usd >= 0, limit_usd),
                     sv_real(clock_wall_s())};
    store_stmt st = {&SQL_BUDGET_LIMIT, what, 3, v, NULL};
    int rc = store_exec_quiet(s, &st, err);
    store_scrub_free(&sc);
    return rc;
}
