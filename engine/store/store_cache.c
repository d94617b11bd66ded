/* The response cache's second layer (llm_cache), shared by every process on the database:
 * argument checks and the queries, written once for every backend. The key is computed by
 * engine/cache; the store only keeps what it is given.
 *
 * A SQLite lookup reads first and writes only on a hit: a miss (the common case while a
 * cache fills) takes no write lock, so it never waits for another process's batch; a hit
 * counts itself with a one-row UPDATE. PostgreSQL counts the hit in the lookup's statement:
 * a miss changes and locks nothing. */
#include "store_backend.h"

#include <math.h>
#include <stdlib.h>

#include "base/clock.h"

#define SQ_CACHE_GET(cond) "SELECT response_json FROM llm_cache WHERE " cond
#define PG_CACHE_GET(cond) "UPDATE llm_cache SET hits = hits + 1 WHERE " cond " RETURNING response_json"
#define CACHE_GET(D) D##_CACHE_GET("key = ?1 AND (expires_at IS NULL OR expires_at > ?2)")
static const store_sql SQL_GET = STORE_SQL(CACHE_GET);

/* The hit's count where the lookup did not make it. */
static const store_sql SQL_HIT = {{"UPDATE llm_cache SET hits = hits + 1 WHERE key = ?1", NULL}};

/* A new response for a key is a new entry: its hits start again. */
static const store_sql SQL_PUT = STORE_SQL_SAME(
    "INSERT INTO llm_cache (key, model, response_json, created_at, expires_at, hits)"
    " VALUES (?1, ?2, ?3, ?4, ?5, 0)"
    " ON CONFLICT (key) DO UPDATE SET model = excluded.model,"
    " response_json = excluded.response_json, created_at = excluded.created_at,"
    " expires_at = excluded.expires_at, hits = 0");

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
    store_stmt st = {&SQL_GET, "read the response cache", 2,
                     (store_val[]){sv_text(key), sv_real(now)}, NULL};
    int found = store_exec_text(s, &st, response_json, err);
    if (found <= 0 || !store_sql_has(s, &SQL_HIT))
        return found < 0 ? -1 : 0;
    store_stmt hit = {&SQL_HIT, "count a response cache hit", 1, (store_val[]){sv_text(key)},
                      NULL};
    if (store_exec_write(s, &hit, NULL, err) != 0) {
        free(*response_json);
        *response_json = NULL;
        return -1;
    }
    return 0;
}

int store_cache_get_async(store_db *s, const char *key, double now, store_text_fn done,
                          void *ud, error_info *err)
{
    /* Answered in the loop only where the lookup counts its own hit. */
    if (!s || !s->ops->submit || store_sql_has(s, &SQL_HIT)) {
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
    store_stmt st = {&SQL_GET, "read the response cache", 2,
                     (store_val[]){sv_text(key), sv_real(now)}, NULL};
    return store_exec_text_async(s, &st, done, ud, err);
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
    store_val v[] = {sv_text(key), sv_text(model), sv_text(response_json), sv_real(now),
                     sv_real_or_null(ttl_s > 0, now + ttl_s)};
    store_stmt st = {&SQL_PUT, "write the response cache", 5, v, NULL};
    return store_exec_quiet(s, &st, err);
}
