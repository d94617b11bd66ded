/* Later additions to the store's public functions (store.h): argument checks, then the
 * backend. The stored exchange of one interaction (`nyx log --raw`), and a budget scope's
 * displayed limit (soft budgets). */
#include "store_backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct exchange_rows {
    store_db *s;
    store_row_fn fn;
    void *ud;
    error_info *err;
    int failed;
} exchange_rows;

static int fetch_part(void *ud, const char *hash, char **body, error_info *err)
{
    store_db *s = ud;
    return s->ops->content_get(s, hash, body, err);
}

/* The backend's row carries request_parts: a request stored in parts is joined into the
 * request column, and the row goes on without the recipe's column. */
static int exchange_row(void *ud, int ncols, const char *const *names, const char *const *values,
                        const char *types)
{
    exchange_rows *x = ud;
    int parts = -1, request = -1;
    for (int i = 0; i < ncols; i++) {
        if (strcmp(names[i], "request_parts") == 0)
            parts = i;
        else if (strcmp(names[i], "request") == 0)
            request = i;
    }
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
    if (!s->ops->query_exchange || !s->ops->content_get)
        return store_unsupported(s, "read a stored exchange", err);
    exchange_rows x = {s, fn, ud, err, 0};
    int rc = s->ops->query_exchange(s, id, exchange_row, &x, err);
    return x.failed ? -1 : rc;
}

int store_content_purge(store_db *s, long long *removed, error_info *err)
{
    long long n = 0;
    if (removed)
        *removed = 0;
    if (!s)
        return store_invalid(err, "cannot purge stored parts: no store");
    if (!s->ops->content_purge)
        return store_unsupported(s, "purge stored parts", err);
    if (s->ops->content_purge(s, &n, err) != 0)
        return -1;
    if (removed)
        *removed = n;
    return 0;
}

int store_budget_reset(store_db *s, const char *scope, int *found, error_info *err)
{
    *found = 0;
    if (!s || !scope || !*scope)
        return store_invalid(err, "cannot reset a budget: no store or no scope");
    if (!s->ops->budget_reset)
        return store_unsupported(s, "reset a budget", err);
    store_scrubbed sc = {0};
    scope = store_scrub(s, &sc, scope, 1);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    int rc = s->ops->budget_reset(s, scope, found, err);
    store_scrub_free(&sc);
    return rc;
}

int store_budget_set_limit(store_db *s, const char *scope, double limit_usd, error_info *err)
{
    if (!s || !scope || !*scope || isnan(limit_usd))
        return store_invalid(err, "cannot set a budget limit: no store, no scope or no number");
    if (!s->ops->budget_set_limit)
        return store_unsupported(s, "set a budget limit", err);
    store_scrubbed sc = {0};
    scope = store_scrub(s, &sc, scope, 1);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    int rc = s->ops->budget_set_limit(s, scope, limit_usd, err);
    store_scrub_free(&sc);
    return rc;
}
