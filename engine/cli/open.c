/* The engine a command works with: notices on stderr, --db applied. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_var_ok(const char *command, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (eq && eq != kv)
        return 1;
    fprintf(stderr, "%s: --var needs k=v, got \"%s\"\n", command, kv);
    return 0;
}

int cli_var_utf8(const char *command, const char *kv)
{
    const char *eq = strchr(kv, '=');
    const char *v = eq ? eq + 1 : kv;
    long bad = nyx_utf8_check(v, strlen(v));
    if (bad < 0)
        return 1;
    fprintf(stderr, "%s: --var %.*s is not valid UTF-8 (its byte %ld is 0x%02X)\n", command,
            eq ? (int)(eq - kv) > 80 ? 80 : (int)(eq - kv) : 0, kv, bad + 1, (unsigned)(unsigned char)v[bad]);
    return 0;
}

int cli_set_vars(nyx_engine *e, const char *command, const char *const *vars, int n)
{
    for (int i = 0; i < n; i++) {
        if (!cli_var_ok(command, vars[i]))
            return 1;
        const char *eq = strchr(vars[i], '=');
        char key[256];
        snprintf(key, sizeof key, "var.%.*s", (int)(eq - vars[i]), vars[i]);
        if (nyx_set(e, key, eq + 1) != NYX_OK)
            return -1;
    }
    return 0;
}

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

int cli_plain_name(const char *s)
{
    if (!*s || strlen(s) > 200)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._-@/:", *s)))
            return 0;
    return 1;
}

const char *cli_template_name_error(const char *spec, int versioned)
{
    const char *at = strrchr(spec, '@');
    size_t n = at ? (size_t)(at - spec) : strlen(spec);
    if (at && !versioned)
        return "give the template name without '@VERSION'";
    if (at) {
        long v = 0;
        const char *d = at + 1;
        for (; *d >= '0' && *d <= '9' && v <= 1000000000; d++)
            v = v * 10 + (*d - '0');
        if (d == at + 1 || *d || v < 1 || v > 1000000000)
            return "the version after '@' must be a whole number >= 1";
    }
    int ok = n > 0 && n <= 128 && spec[0] != '.';
    for (size_t i = 0; ok && i < n; i++)
        ok = (spec[i] >= 'a' && spec[i] <= 'z') || (spec[i] >= 'A' && spec[i] <= 'Z') || (spec[i] >= '0' && spec[i] <= '9') ||
             spec[i] == '_' || spec[i] == '-' || spec[i] == '.';
    return ok ? NULL : "a template name is 1 to 128 letters, digits, '_', '-' and '.' (not first)";
}

/* 1 when db opens with a URI scheme ("file:", "pgsql:", "postgresql:/") or holds '=' (libpq's
 * keyword=value form): not a path to look for, and perhaps holding a password not to print;
 * opening it says what it is. */
static int uri_like(const char *db)
{
    size_t n = 0;
    if (isalpha((unsigned char)db[0]))
        while (isalnum((unsigned char)db[n]) || db[n] == '+' || db[n] == '-' || db[n] == '.')
            n++;
    return (n >= 2 && db[n] == ':') || strchr(db, '=') != NULL;
}

/* The database the engine opens: --db, else NYX_DB, else ./nyx.db (config_db); *named when
 * it was given on the command line. */
static const char *database_of(const char *db, int *named)
{
    const char *env = getenv("NYX_DB");
    *named = db != NULL;
    return db ? db : env && *env ? env : "nyx.db";
}

/* A plain path to a SQLite file that is not there (a URI or ":memory:" is not checked). */
static int file_missing(const char *path)
{
    struct stat st;
    return !uri_like(path) && strcmp(path, ":memory:") != 0 && stat(path, &st) != 0 && errno == ENOENT;
}

static void say_missing(const char *command, const char *path, const char *why)
{
    fprintf(stderr, "%s: no database at %.200s%s (%s: check the path)\n", command, path,
            strlen(path) > 200 ? "..." : "", why);
}

int cli_db_missing(const char *command, const char *db)
{
    int named;
    const char *path = database_of(db, &named);
    if (!file_missing(path))
        return 0;
    say_missing(command, path, "nothing to prune");
    return 1;
}

nyx_engine *cli_open(const char *db)
{
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e) {
        fprintf(stderr, "nyx: %s\n", msg ? msg : "cannot start");
        nyx_free(msg);
        return NULL;
    }
    nyx_set_log(e, cli_notice, NULL);
    if (db && nyx_set(e, "db", db) != NYX_OK) {
        fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return NULL;
    }
    return e;
}

nyx_engine *cli_open_reading(const char *command, const char *db, int reads_records)
{
    int named;
    const char *path = database_of(db, &named);
    if (file_missing(path)) {
        if (named && reads_records) {
            say_missing(command, path, "a command that only reads makes none");
            return NULL;
        }
        db = ":memory:"; /* the configured database not made yet: nothing recorded, none made */
    }
    nyx_engine *e = cli_open(db);
    if (e && nyx_set(e, "read_only", "1") != NYX_OK) {
        fprintf(stderr, "nyx: %s\n", nyx_errmsg(e));
        nyx_close(e);
        return NULL;
    }
    return e;
}
