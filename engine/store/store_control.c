/* Operator-facing state shared by every process on the database: control flags (the
 * emergency stop), configuration, and the audit trail. Argument checks, then the backend. */
#include "store_backend.h"

#include <stdlib.h>

static int check_key(const store_db *s, const char *key, const char *what, error_info *err)
{
    if (!s || !key || !*key)
        return store_invalid(err, "cannot %s: no store or no key", what);
    return 0;
}

int store_control_set(store_db *s, const char *key, const char *value, error_info *err)
{
    if (check_key(s, key, "set a control flag", err) != 0)
        return -1;
    if (!s->ops->control_set)
        return store_unsupported(s, "set a control flag", err);
    return s->ops->control_set(s, key, value, err);
}

int store_control_get(store_db *s, const char *key, char **value, error_info *err)
{
    if (value)
        *value = NULL;
    if (check_key(s, key, "read a control flag", err) != 0)
        return -1;
    if (!value)
        return store_invalid(err, "cannot read control flag %s: no place for the value", key);
    if (!s->ops->control_get)
        return store_unsupported(s, "read a control flag", err);
    return s->ops->control_get(s, key, value, err);
}

int store_changed(store_db *s, int *changed, error_info *err)
{
    if (!s || !changed)
        return store_invalid(err, "cannot check for changes: no store or no place for the answer");
    if (!s->ops->changed)
        return store_unsupported(s, "check for changes", err);
    return s->ops->changed(s, changed, err);
}

int store_config_set(store_db *s, const char *key, const char *value, error_info *err)
{
    if (check_key(s, key, "set a configuration key", err) != 0)
        return -1;
    if (!s->ops->config_set)
        return store_unsupported(s, "set a configuration key", err);
    return s->ops->config_set(s, key, value, err);
}

int store_config_get(store_db *s, const char *key, char **value, error_info *err)
{
    if (value)
        *value = NULL;
    if (check_key(s, key, "read a configuration key", err) != 0)
        return -1;
    if (!value)
        return store_invalid(err, "cannot read configuration key %s: no place for the value",
                             key);
    if (!s->ops->config_get)
        return store_unsupported(s, "read a configuration key", err);
    return s->ops->config_get(s, key, value, err);
}

int store_config_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn)
        return store_invalid(err, "cannot list the configuration: no store or no row callback");
    if (!s->ops->config_list)
        return store_unsupported(s, "list the configuration", err);
    return s->ops->config_list(s, fn, ud, err);
}

int store_config_list_async(store_db *s, store_row_fn fn, void *ud, store_done_fn done,
                            void *done_ud, error_info *err)
{
    if (!s || !fn || !done)
        return store_invalid(err, "cannot list the configuration: no store or no callback");
    if (!s->ops->config_list_async) {
        if (store_config_list(s, fn, ud, err) < 0)
            return -1;
        done(done_ud, 0, -1, NULL);
        return 0;
    }
    return s->ops->config_list_async(s, fn, ud, done, done_ud, err);
}

int store_control_get_async(store_db *s, const char *key, store_text_fn done, void *ud,
                            error_info *err)
{
    if (check_key(s, key, "read a control flag", err) != 0)
        return -1;
    if (!done)
        return store_invalid(err, "cannot read control flag %s: no callback", key);
    if (!s->ops->control_get_async) {
        char *value = NULL;
        if (store_control_get(s, key, &value, err) != 0)
            return -1;
        done(ud, 0, value, NULL);
        return 0;
    }
    return s->ops->control_get_async(s, key, done, ud, err);
}

int store_audit(store_db *s, const char *kind, const char *session, const char *agent,
                const char *detail, error_info *err)
{
    if (!s || !kind || !*kind)
        return store_invalid(err, "cannot record an audit event: no store or no kind");
    if (!s->ops->audit)
        return store_unsupported(s, "record an audit event", err);
    store_scrubbed sc = {0};
    session = store_scrub(s, &sc, session, 1);
    agent = store_scrub(s, &sc, agent, 1);
    detail = store_scrub(s, &sc, detail, 0);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    int rc = s->ops->audit(s, kind, session, agent, detail, err);
    store_scrub_free(&sc);
    return rc;
}

int store_query_audit(store_db *s, const store_filter *f, store_row_fn fn, void *ud,
                      error_info *err)
{
    if (!s || !fn)
        return store_invalid(err, "cannot query the audit trail: no store or no row callback");
    if (f && f->last < 0)
        return store_invalid(err, "cannot query: last must be 0 (all) or a positive count");
    if (!s->ops->query_audit)
        return store_unsupported(s, "query the audit trail", err);
    store_scrubbed sc = {0};
    store_filter clean;
    if (store_scrub_filter(s, &sc, f, &clean, err) != 0)
        return -1;
    int rc = s->ops->query_audit(s, f ? &clean : NULL, fn, ud, err);
    store_scrub_free(&sc);
    return rc;
}
