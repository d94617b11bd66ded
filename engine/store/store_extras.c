/* Later additions to the store's public functions (store.h): argument checks, then the
 * backend. The stored exchange of one interaction (`nyx log --raw`), and a budget scope's
 * displayed limit (soft budgets). */
#include "store_backend.h"

#include <math.h>

int store_query_exchange(nyx_store *s, const char *id, store_row_fn fn, void *ud, nyx_error *err)
{
    if (!s || !fn || !id || !*id)
        return store_invalid(err, "cannot read an exchange: no store, no id or no row callback");
    if (!s->ops->query_exchange)
        return store_unsupported(s, "read a stored exchange", err);
    return s->ops->query_exchange(s, id, fn, ud, err);
}

int store_budget_reset(nyx_store *s, const char *scope, int *found, nyx_error *err)
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

int store_budget_set_limit(nyx_store *s, const char *scope, double limit_usd, nyx_error *err)
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
