/* store_query_exchange: argument checks, then the backend (store.h). */
#include "store_backend.h"

int store_query_exchange(nyx_store *s, const char *id, store_row_fn fn, void *ud, nyx_error *err)
{
    if (!s || !fn || !id || !*id)
        return store_invalid(err, "cannot read an exchange: no store, no id or no row callback");
    if (!s->ops->query_exchange)
        return store_unsupported(s, "read a stored exchange", err);
    return s->ops->query_exchange(s, id, fn, ud, err);
}
