/* The backend interface of engine/store: what a backend (store_sqlite.c now, a PostgreSQL
 * one later) implements. Callers never include this; they use store.h, whose functions in
 * store.c check arguments and then call through the ops table.
 *
 * Adding a backend: write store_<name>.c with one `const store_backend_ops`, declare it
 * below, and select it by URI in store.c's store_open_opts(). Arguments reaching an op have
 * already been checked by store.c (non-NULL store, required fields present, status valid).
 * Every op fills err on failure with type "store_error" (or "invalid_argument").
 */
#ifndef NYX_STORE_BACKEND_H
#define NYX_STORE_BACKEND_H

#include "store.h"

typedef struct store_backend_ops {
    const char *name;
    /* Connects, migrates the schema, sets s->impl. On failure s->impl stays NULL. */
    int (*open)(nyx_store *s, const char *uri, const store_options *opts, nyx_error *err);
    void (*close)(nyx_store *s);
    int (*schema_version)(const nyx_store *s);
    int (*is_readonly)(const nyx_store *s);
    int (*log_interaction)(nyx_store *s, const nyx_interaction *it, nyx_error *err);
    int (*batch_begin)(nyx_store *s, nyx_error *err);
    int (*batch_commit)(nyx_store *s, nyx_error *err);
    int (*batch_rollback)(nyx_store *s, nyx_error *err);
    int (*session_upsert)(nyx_store *s, const char *name, double budget_usd, nyx_error *err);
    int (*session_end)(nyx_store *s, const char *name, nyx_error *err);
    int (*thought_add)(nyx_store *s, const char *session, int64_t parent, const char *label,
                       int64_t *id_out, nyx_error *err);
    int (*query_stats)(nyx_store *s, const store_filter *f, store_row_fn fn, void *ud,
                       nyx_error *err);
    int (*query_log)(nyx_store *s, const store_filter *f, store_row_fn fn, void *ud,
                     nyx_error *err);
    int (*query_thoughts)(nyx_store *s, const char *session, store_row_fn fn, void *ud,
                          nyx_error *err);
    /* Later issues add their ops here (budget reserve/settle/release in one transaction,
     * templates, response cache, control flag, audit), and store.c gains the matching
     * public functions; backends that lack one leave it NULL and store.c reports it. */
} store_backend_ops;

struct nyx_store {
    const store_backend_ops *ops;
    void *impl; /* the backend's own state */
};

extern const store_backend_ops store_sqlite_ops;

/* Fills err (if not NULL) with type "store_error"; printf-style. */
void store_fail(nyx_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
