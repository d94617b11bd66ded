/* What only PostgreSQL does its own way: store_changed() from the notifications of
 * nyx_control, and the shared parts of stored requests. */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* Runs sql and copies column 0 of its first row into *value (NULL for SQL NULL). Returns 1
 * (a row), 0 (none: *value NULL) or -1 with err filled. */
static int read_text(pg *p, const char *what, const char *sql, int nparams,
                     const char *const *values, char **value, error_info *err)
{
    *value = NULL;
    PGresult *res = pg_exec(p, what, sql, nparams, values, err);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found && !PQgetisnull(res, 0, 0) && !(*value = store_strdup(PQgetvalue(res, 0, 0)))) {
        store_fail(err, "store: cannot %s in %s: out of memory", what, p->label);
        found = -1;
    }
    PQclear(res);
    return found;
}

/* No round trip: the notifications were read by store_pump() (or by any statement's wait),
 * and a new connection starts with notified set, since a stop may have come while it was
 * away, so the first call reports 1. Unlike SQLite's data_version, this store's own writes
 * to control and system_config count too (it hears its own notifications), and writes to
 * other tables do not. */
int store_pg_changed(store_db *s, int *changed, error_info *err)
{
    (void)err;
    pg *p = pg_of(s);
    *changed = p->notified != 0;
    p->notified = 0;
    return 0;
}

/* ---- the shared parts of stored requests ---- */

int store_pg_content_get(store_db *s, const char *hash, char **body, error_info *err)
{
    const char *v[] = {hash};
    int rc = read_text(pg_of(s), "read a part of a stored request",
                       "SELECT body FROM llm_content WHERE hash = $1::text", 1, v, body, err);
    if (rc == 1 && *body)
        return 0;
    if (rc >= 0)
        store_fail_as(err, "not_found", "store: a part of a stored request (%.16s...) is missing from %s",
                      hash, pg_of(s)->label);
    free(*body);
    *body = NULL;
    return -1;
}

int store_pg_content_purge(store_db *s, long long *removed, error_info *err)
{
    PGresult *res = pg_exec(pg_of(s), "purge the parts of stored requests",
                            "SELECT nyx_content_purge()", 0, NULL, err);
    if (!res)
        return -1;
    *removed = PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}
