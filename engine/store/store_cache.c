/* The response cache's second layer (llm_cache), shared by every process on the database:
 * argument checks, then the backend (store_sqlite_cache.c). The key is computed by
 * engine/cache; the store only keeps what it is given. */
#include "store_backend.h"

#include <math.h>

#include "base/clock.h"

/* now <= 0 means the current time; NaN and infinities are refused. */
static int check_now(double *now, const char *what, error_info *err)
{
    if (!isfinite(*now))
        return store_invalid(err, "cannot %s: now is not a finite time", what);
    if (*now <= 0)
        *now = clock_wall_s();
    return 0;
}

int store_cache_get(store_db *s, const char *key, double now, char **response_json,
                    error_info *err)
{
    if (response_json)
        *response_json = NULL;
    if (!s || !key || !*key || !response_json)
        return store_invalid(err, "cannot read the response cache: no store, no key or no "
                                  "place for the response");
    if (check_now(&now, "read the response cache", err) != 0)
        return -1;
    if (!s->ops->cache_get)
        return store_unsupported(s, "read the response cache", err);
    return s->ops->cache_get(s, key, now, response_json, err);
}

int store_cache_get_async(store_db *s, const char *key, double now, store_text_fn done,
                          void *ud, error_info *err)
{
    if (!s || !s->ops->cache_get_async) {
        char *json = NULL;
        if (store_cache_get(s, key, now, &json, err) != 0)
            return -1;
        done(ud, 0, json, NULL);
        return 0;
    }
    if (!key || !*key || !done)
        return store_invalid(err, "cannot read the response cache: no key or no callback");
    if (check_now(&now, "read the response cache", err) != 0)
        return -1;
    return s->ops->cache_get_async(s, key, now, done, ud, err);
}

int store_cache_put(store_db *s, const char *key, const char *model, const char *response_json,
                    double now, double ttl_s, error_info *err)
{
    if (!s || !key || !*key || !response_json)
        return store_invalid(err, "cannot write the response cache: no store, no key or no "
                                  "response");
    if (check_now(&now, "write the response cache", err) != 0)
        return -1;
    if (isnan(ttl_s))
        return store_invalid(err, "cannot write the response cache: ttl is not a number");
    if (!s->ops->cache_put)
        return store_unsupported(s, "write the response cache", err);
    return s->ops->cache_put(s, key, model, response_json, now, ttl_s, err);
}

int store_cache_purge(store_db *s, double now, error_info *err)
{
    if (!s)
        return store_invalid(err, "cannot purge the response cache: no store");
    if (check_now(&now, "purge the response cache", err) != 0)
        return -1;
    if (!s->ops->cache_purge)
        return store_unsupported(s, "purge the response cache", err);
    return s->ops->cache_purge(s, now, err);
}
