/* The name of the PostgreSQL database a URI leads to, without its secrets (store.h,
 * store_target_id): what the records spilled at close are filed under on this machine, so the
 * next process that opens the same database finds them, and one that opens another does not.
 *
 * The URI is read by libpq's own parser (percent-escapes, query parameters, lists of hosts),
 * and what it leaves out is what libpq would take instead: the PG* variables, then its built-in
 * defaults (port 5432, the user's login name, the database named as the user). The password,
 * and every parameter that changes how rather than where (sslmode, timeouts, the application
 * name), are left out: a URI with a new password must still find the records spilled under the
 * old one. The service file is not read; a "service" parameter is kept as a part of the name. */
#include "store_backend.h"

#include <libpq-fe.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Where the connection goes, in a fixed order: each adds its name and value to the hash. */
static const char *const where[] = {"service", "host", "hostaddr", "port", "dbname", "user", "options"};
#define NWHERE (sizeof where / sizeof where[0])

static const char *value_of(const PQconninfoOption *opts, const char *key)
{
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

int store_pg_target_id(const char *uri, char out[STORE_TARGET_ID_SIZE])
{
    char *parse_err = NULL;
    PQconninfoOption *given = PQconninfoParse(uri, &parse_err);
    PQfreemem(parse_err); /* it may quote the URI, password and all: never shown */
    if (!given)
        return -1;
    PQconninfoOption *defaults = PQconndefaults();
    const char *values[NWHERE];
    for (size_t i = 0; i < NWHERE; i++) {
        values[i] = value_of(given, where[i]);
        if (!values[i])
            values[i] = value_of(defaults, where[i]);
    }
    /* libpq's default database is the user's name. */
    if (!values[4])
        values[4] = values[5];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, 11, (const uint8_t *)"postgresql");
    for (size_t i = 0; i < NWHERE; i++) {
        const char *v = values[i] ? values[i] : "";
        /* name, NUL, value, NUL: no two lists of values hash alike by shifting a boundary */
        sha256_update(&ctx, strlen(where[i]) + 1, (const uint8_t *)where[i]);
        sha256_update(&ctx, strlen(v) + 1, (const uint8_t *)v);
    }
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof md, md);
    PQconninfoFree(given);
    PQconninfoFree(defaults);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * SHA256_DIGEST_SIZE] = '\0';
    return 0;
}
