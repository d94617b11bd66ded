/* nyx_query: the database read for the command line and hosts, as rows or JSON lines. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include "engine.h"

#include "base/clock.h"
#include "base/json_print.h"
#include "cost/accept.h"
#include "query.h"
#include "query_models.h"
#include "settings.h"
#include "store/store.h"
#include "template/library.h"

#include <ctype.h>
#include <errno.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct json_rows {
    nyx_row_fn fn;
    void *ud;
    nyx_engine *e;
} json_rows;

/* The host's function for one row. */
static int host_row(json_rows *j, int ncols, const char *const *names, const char *const *values)
{
    engine_host_fn_enter(j->e);
    int rc = j->fn(j->ud, ncols, names, values);
    engine_host_fn_leave(j->e);
    return rc;
}

/* Each value as the database typed it: an integer or real column is a JSON number, text
 * (a session named "007") a string, a yes or no (ROW_BOOL) true or false. */
static cJSON *json_value(const char *value, char type)
{
    if (!value)
        return cJSON_CreateNull();
    if (type == ROW_INT || type == ROW_REAL)
        return cJSON_CreateNumber(strtod(value, NULL));
    if (type == ROW_BOOL)
        return cJSON_CreateBool(*value && strcmp(value, "0") != 0 && strcmp(value, "false") != 0);
    return cJSON_CreateString(value);
}

static int to_json(void *ud, int ncols, const char *const *names, const char *const *values,
                   const char *types)
{
    json_rows *j = ud;
    cJSON *obj = cJSON_CreateObject();
    for (int i = 0; obj && i < ncols; i++) {
        cJSON *v = json_value(values[i], types[i]);
        /* A row with a column missing would read as a row without it: out of memory stops. */
        if (!v || !cJSON_AddItemToObject(obj, names[i], v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            obj = NULL;
        }
    }
    char *text = obj ? json_print(obj) : NULL;
    cJSON_Delete(obj);
    if (!text)
        return 1;
    static const char *const json_name[] = {"json"};
    const char *row[] = {text};
    int rc = host_row(j, 1, json_name, row);
    cJSON_free(text);
    return rc;
}

/* A host's rows are text (nyx.h's nyx_row_fn). */
static int to_host(void *ud, int ncols, const char *const *names, const char *const *values,
                   const char *types)
{
    (void)types;
    json_rows *j = ud;
    return host_row(j, ncols, names, values);
}

/* An age before now (30d, 12h, 15m, 90s): 0 with *out the instant, or -1. Up to ten thousand
 * years, so the instant stays a date. */
static int parse_age(const char *v, double *out)
{
    static const struct {
        char unit;
        double seconds;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    char *end;
    if (!isdigit((unsigned char)v[0]))
        return -1;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (errno == 0 && end[0] == units[i].unit && end[1] == '\0' && (double)n * units[i].seconds <= 3.2e11) {
            *out = clock_wall_s() - (double)n * units[i].seconds;
            return 0;
        }
    return -1;
}

/* A UTC day (2026-12-01), an instant to the minute or second (2026-12-01T09:30, ...T09:30:00),
 * or an instant as nyx prints it (2026-12-01T09:30:00.057Z, from nyx log or nyx audit): a
 * printed instant was rounded to the millisecond, so it starts half a millisecond earlier and
 * the row it was copied from is counted. Or an age (parse_age). */
int query_parse_since(const char *v, double *out)
{
    if (parse_age(v, out) == 0)
        return 0;
    static const char *const forms[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(v, forms[i], &tm);
        if (!end)
            continue;
        double frac = 0;
        if (i == 0 && end[0] == '.' && isdigit((unsigned char)end[1])) {
            double unit = 0.1;
            for (end++; isdigit((unsigned char)*end); end++, unit /= 10)
                frac += (*end - '0') * unit;
            frac -= 0.0005;
        }
        if (i < 2 && *end == 'Z')
            end++;
        if (*end)
            continue;
        *out = (double)timegm(&tm) + frac;
        return 0;
    }
    return -1;
}

int query_run(nyx_engine *e, const char *kind, const char *const *options, nyx_row_fn fn, void *ud)
{
    store_filter f;
    memset(&f, 0, sizeof f);
    int json = 0;
    const char *name = ""; /* name=: the template of template_history and template_stats */
    const char *id = NULL; /* id=: the interaction of "exchange" */
    for (size_t i = 0; options && options[i]; i++) {
        const char *o = options[i], *v = strchr(o, '=');
        if (!v) {
            engine_set_error(e, "query option \"%.60s\" is not key=value", o);
            return NYX_EINVAL;
        }
        v++;
        size_t k = (size_t)(v - 1 - o);
        if (k == 7 && strncmp(o, "session", k) == 0)
            f.session = v;
        else if (k == 4 && strncmp(o, "name", k) == 0)
            name = v;
        else if (k == 2 && strncmp(o, "id", k) == 0)
            id = v;
        else if (k == 2 && strncmp(o, "by", k) == 0)
            f.group_by = v;
        else if (k == 4 && strncmp(o, "kind", k) == 0)
            f.kind = v;
        else if (k == 6 && strncmp(o, "format", k) == 0 && strcmp(v, "json") == 0)
            json = 1;
        else if (k == 4 && strncmp(o, "last", k) == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n <= 0 || n > 1000000000) {
                engine_set_error(e, "last must be a whole number from 1 to 1000000000, got \"%.40s\"", v);
                return NYX_EINVAL;
            }
            f.last = (int)n;
        } else if (k == 5 && strncmp(o, "since", k) == 0) {
            if (query_parse_since(v, &f.since) != 0) {
                engine_set_error(e, "since must be " QUERY_TIME_FORMS ", got \"%.40s\"", v);
                return NYX_EINVAL;
            }
        } else {
            engine_set_error(e, "unknown query option \"%.60s\"", o);
            return NYX_EINVAL;
        }
    }
    /* The template kinds reach the database through the template library, which goes on
     * without it (the template directories); the model table needs it only for the minimums
     * learned. A database that is not there (one that does not hold nyx's tables, opened to
     * read: nyx_set "read_only") fails the other kinds. */
    int store_optional = strcmp(kind, "models") == 0 || strncmp(kind, "template", 8) == 0;
    if (!store_optional && engine_open_store(e) != 0)
        return NYX_EIO;
    if (strcmp(kind, "models") == 0 && !e->storage.db)
        engine_open_store(e); /* without it, the table as built in */
    json_rows j = {fn, ud, e};
    store_row_fn row = json ? to_json : to_host;
    void *row_ud = &j;
    error_info err;
    error_clear(&err);
    int rc;
    if (strcmp(kind, "stats") == 0)
        rc = store_query_stats(e->storage.db, &f, row, row_ud, &err);
    else if (strcmp(kind, "log") == 0)
        rc = store_query_log(e->storage.db, &f, row, row_ud, &err);
    else if (strcmp(kind, "audit") == 0)
        rc = store_query_audit(e->storage.db, &f, row, row_ud, &err);
    else if (strcmp(kind, "budget") == 0)
        rc = store_budget_status(e->storage.db, row, row_ud, &err);
    else if (strcmp(kind, "thoughts") == 0)
        rc = store_query_thoughts(e->storage.db, f.session, row, row_ud, &err);
    else if (strcmp(kind, "iterations") == 0)
        rc = store_query_iterations(e->storage.db, f.session, row, row_ud, &err);
    else if (strcmp(kind, "templates") == 0)
        rc = templates_list(e->templates, row, row_ud, &err);
    else if (strcmp(kind, "template_history") == 0)
        rc = templates_history(e->templates, name, row, row_ud, &err);
    else if (strcmp(kind, "template_stats") == 0)
        rc = templates_stats(e->templates, name, row, row_ud, &err);
    else if (strcmp(kind, "config") == 0)
        rc = settings_list(e, row, row_ud, &err);
    else if (strcmp(kind, "reprice") == 0)
        rc = query_reprice(e, &f, row, row_ud, &err);
    else if (strcmp(kind, "models") == 0) {
        settings_load(e, &err); /* minimums learned and kept in the database; the table serves without */
        error_clear(&err);
        rc = query_models(e, name, row, row_ud, &err);
    }
    else if (strcmp(kind, "exchange") == 0) {
        if (!id || !*id) {
            engine_set_error(e, "the exchange query needs the option id=INTERACTION_ID");
            return NYX_EINVAL;
        }
        rc = store_query_exchange(e->storage.db, id, row, row_ud, &err);
    } else {
        engine_set_error(e, "unknown query \"%.40s\" (stats, log, thoughts, iterations, budget, audit, templates, "
                            "template_history, template_stats, config, models, reprice or exchange)", kind);
        return NYX_EINVAL;
    }
    if (rc < 0) {
        engine_set_error(e, "%s", err.message);
        return error_code(&err);
    }
    return NYX_OK;
}

int query_models_date(nyx_engine *e, const char **date)
{
    *date = e && e->provider.models ? models_date(e->provider.models) : NULL;
    return e && e->provider.models && accept_table_stale(e->provider.models, clock_wall_s(), NYX_MODELS_STALE_DAYS);
}
