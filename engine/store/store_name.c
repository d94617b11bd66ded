/* Which database a name means, when it is neither a PostgreSQL URI nor a file: a name meant
 * for PostgreSQL but misspelt ("postgressql://", "Postgresql://", "pgsql:", libpq's
 * "host=... dbname=..." form) would otherwise be taken as a SQLite file path, created (with its
 * password in the file's name) or reported in messages that print the whole name. */
#include "store_backend.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The length of name's URI scheme (RFC 3986: a letter, then letters, digits, + - .) when a
 * colon follows it, else 0. One letter is a drive, not a scheme. */
static size_t scheme_len(const char *name)
{
    if (!isalpha((unsigned char)name[0]))
        return 0;
    size_t n = 1;
    while (isalnum((unsigned char)name[n]) || name[n] == '+' || name[n] == '-' || name[n] == '.')
        n++;
    return n >= 2 && name[n] == ':' ? n : 0;
}

/* 1 when a scheme reads as PostgreSQL's: pg..., postgres..., psql..., whatever the case. */
static int pg_like(const char *scheme, size_t n)
{
    return (n >= 2 && strncasecmp(scheme, "pg", 2) == 0) || (n >= 7 && strncasecmp(scheme, "postgre", 7) == 0) ||
           (n >= 4 && strncasecmp(scheme, "psql", 4) == 0);
}

/* 1 when the scheme (n bytes) is word, in any case when anycase, else exactly. */
static int is_word(const char *scheme, size_t n, const char *word, int anycase)
{
    return n == strlen(word) && (anycase ? strncasecmp(scheme, word, n) : strncmp(scheme, word, n)) == 0;
}

/* 1 when name opens with one of libpq's keywords and '=' (its keyword/value form). */
static int libpq_keywords(const char *name)
{
    static const char *const keys[] = {"host", "hostaddr", "port", "dbname", "user", "password",
                                       "passfile", "service", "sslmode", "options", "connect_timeout",
                                       "application_name", "target_session_attrs", NULL};
    while (isspace((unsigned char)*name))
        name++;
    for (const char *const *k = keys; *k; k++) {
        size_t n = strlen(*k);
        if (strncmp(name, *k, n) != 0)
            continue;
        const char *p = name + n;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '=')
            return 1;
    }
    return 0;
}

int store_name_check(const char *name, error_info *err)
{
    if (!name || store_uri_is_pg(name) || strncmp(name, "file:", 5) == 0)
        return 0;
    /* The messages name the scheme alone: what follows may hold a password. */
    if (libpq_keywords(name)) {
        store_invalid(err, "cannot open the database: it is given in libpq's keyword=value form, which "
                           "nyx does not read; give the URI form, postgresql://USER@HOST:PORT/DBNAME "
                           "(options such as ?sslmode=require after it)");
        return -1;
    }
    size_t n = scheme_len(name);
    if (!n || !(name[n + 1] == '/' || pg_like(name, n)))
        return 0;
    char scheme[32];
    snprintf(scheme, sizeof scheme, "%.*s", n < 24 ? (int)n : 24, name);
    const char *hint = "";
    if (is_word(name, n, "postgresql", 0) || is_word(name, n, "postgres", 0))
        hint = " (two slashes after it: postgresql://)";
    else if (is_word(name, n, "postgresql", 1) || is_word(name, n, "postgres", 1))
        hint = " (in lower case: postgresql://)";
    store_invalid(err, "cannot open the database: %s%s: is not a scheme nyx reads%s; a PostgreSQL database is "
                       "postgresql://USER@HOST:PORT/DBNAME (or postgres://), a SQLite database a file path "
                       "or a file: URI",
                  scheme, n < 24 ? "" : "...", hint);
    return -1;
}
