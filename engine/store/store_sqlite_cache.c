/* The response cache's second layer in SQLite (llm_cache).
 *
 * A lookup reads first and writes only on a hit: a miss (the common case while a cache
 * fills) takes no write lock, so it never waits for another process's batch; a hit counts
 * itself with a one-row UPDATE. */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>

static const char SQL_GET[] = "SELECT response_json FROM llm_cache"
                              " WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)";

static const char SQL_HIT[] = "UPDATE llm_cache SET hits = hits + 1 WHERE key = ?1";

/* A new response for a key is a new entry: its hits start again. */
static const char SQL_PUT[] =
    "INSERT INTO llm_cache (key, model, response_json, created_at, expires_at, hits)"
    " VALUES (?1, ?2, ?3, ?4, ?5, 0)"
    " ON CONFLICT (key) DO UPDATE SET model = excluded.model,"
    " response_json = excluded.response_json, created_at = excluded.created_at,"
    " expires_at = excluded.expires_at, hits = 0";

/* NULL expires_at (no expiry) never compares true. */
static const char SQL_PURGE[] = "DELETE FROM llm_cache WHERE expires_at <= ?1";

int store_sqlite_cache_get(store_db *s, const char *key, double now, char **response_json,
                           error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *get = store_sqlite_stmt(q, SL_CACHE_GET, SQL_GET, err);
    sqlite3_stmt *hit = get ? store_sqlite_stmt(q, SL_CACHE_HIT, SQL_HIT, err) : NULL;
    if (!hit)
        return -1;
    sq_binder b = {get, SQLITE_OK};
    sqb_text(&b, 1, key);
    sqb_real(&b, 2, now);
    int found = store_sqlite_read_text(q, &b, "read the response cache in", response_json, err);
    if (found <= 0)
        return found;
    b = (sq_binder){hit, SQLITE_OK};
    sqb_text(&b, 1, key);
    if (store_sqlite_write(q, &b, "count a response cache hit in", err) != 0) {
        free(*response_json);
        *response_json = NULL;
        return -1;
    }
    return 0;
}

int store_sqlite_cache_put(store_db *s, const char *key, const char *model,
                           const char *response_json, double now, double ttl_s, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_CACHE_PUT, SQL_PUT, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_text(&b, 1, key);
    sqb_text(&b, 2, model);
    sqb_text(&b, 3, response_json);
    sqb_real(&b, 4, now);
    sqb_real_or_null(&b, 5, ttl_s > 0, now + ttl_s);
    return store_sqlite_write(q, &b, "write the response cache in", err);
}

int store_sqlite_cache_purge(store_db *s, double now, error_info *err)
{
    sq *q = sq_of(s);
    sqlite3_stmt *st = store_sqlite_stmt(q, SL_CACHE_PURGE, SQL_PURGE, err);
    if (!st)
        return -1;
    sq_binder b = {st, SQLITE_OK};
    sqb_real(&b, 1, now);
    if (store_sqlite_write(q, &b, "purge the response cache in", err) != 0)
        return -1;
    return sqlite3_changes(q->db);
}
