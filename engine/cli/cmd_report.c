#define _POSIX_C_SOURCE 200809L
/* nyx report: one self-contained HTML file from the database — Chart.js (Debian's
 * libjs-chart.js) embedded, the data as JSON rows from nyx_query, nothing fetched when the
 * page is opened. The numbers are the queries `nyx stats` runs, so its totals are nyx stats'. */
#include "cli.h"
#include "report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CHARTJS_DEFAULT "/usr/share/javascript/chart.js/chart.min.js"

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx report [--since DATE] [--session NAME] [--out FILE] [--db FILE]\n\n"
            "Writes one HTML file (default report.html) that opens in a browser without a network:\n"
            "cost per day with and without caching, cache hit rate per day against\n"
            "alert.cache_hit_rate_floor, latency p50/p95 per model, calls and cost by model, agent,\n"
            "template, session and day (what caching saved; batch calls and what they saved), the\n"
            "most expensive sessions, budgets and errors by type;\n"
            "tables sort by a click on a column. Totals are those of nyx stats with the same filters.\n"
            "  --since DATE    from that UTC day, instant or age: 2026-12-01, 2026-12-01T09:30:00.057Z, 7d\n"
            "  --session NAME  only that session's calls\n"
            "Charts use Chart.js from Debian's libjs-chart.js (" CHARTJS_DEFAULT "),\n"
            "or the file NYX_CHARTJS names.\n");
}

/* Writes JSON rows as an array; '<' becomes \\u003c so no text can close the script element. */
typedef struct rows_out {
    FILE *f;
    int n;
} rows_out;

static int write_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ncols;
    (void)names;
    rows_out *o = ud;
    if (o->n++)
        fputc(',', o->f);
    for (const char *p = values[0]; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", o->f);
        else
            fputc(*p, o->f);
    }
    return 0;
}

/* A query's options: format=json, then the grouping and the report's filters where given. */
typedef struct query_opts {
    char by[32], session[512], since[128];
    const char *list[5];
} query_opts;

static const char **query_opts_make(query_opts *o, const char *by, const char *session, const char *since)
{
    int n = 0;
    o->list[n++] = "format=json";
    if (by) {
        snprintf(o->by, sizeof o->by, "by=%s", by);
        o->list[n++] = o->by;
    }
    if (session) {
        snprintf(o->session, sizeof o->session, "session=%s", session);
        o->list[n++] = o->session;
    }
    if (since) {
        snprintf(o->since, sizeof o->since, "since=%s", since);
        o->list[n++] = o->since;
    }
    o->list[n] = NULL;
    return o->list;
}

static int write_query(nyx_engine *e, FILE *f, const char *key, const char *kind, const char *by,
                       const char *session, const char *since)
{
    query_opts qo;
    const char **opts = query_opts_make(&qo, by, session, since);
    fprintf(f, "%s\"%s\":[", strcmp(key, "total") == 0 ? "" : ",", key);
    rows_out o = {f, 0};
    int rc = nyx_query(e, kind, opts, write_row, &o);
    fputc(']', f);
    if (rc != NYX_OK)
        fprintf(stderr, "nyx report: %s\n", nyx_errmsg(e));
    return rc;
}

/* ---- latency per model and errors per type ----
 * Read from every call of the log and written as their few rows, not embedded as the log
 * itself for the page to count: that made the page grow by some 240 bytes a call (24 MB at
 * 100,000 calls, more than a browser opens comfortably), where these rows stay a few. */
typedef struct model_latency {
    char *model;
    double *ms;
    size_t n, cap;
} model_latency;

typedef struct error_count {
    char *type;
    long n;
} error_count;

typedef struct log_summary {
    model_latency *m;
    size_t nm;
    error_count *e;
    size_t ne;
    int failed; /* out of memory */
} log_summary;

static model_latency *model_of(log_summary *s, const char *model)
{
    for (size_t i = 0; i < s->nm; i++)
        if (strcmp(s->m[i].model, model) == 0)
            return &s->m[i];
    model_latency *m = realloc(s->m, (s->nm + 1) * sizeof *m);
    if (!m)
        return NULL;
    s->m = m;
    m[s->nm] = (model_latency){strdup(model), NULL, 0, 0};
    if (!m[s->nm].model)
        return NULL;
    return &m[s->nm++];
}

static int count_error(log_summary *s, const char *type)
{
    for (size_t i = 0; i < s->ne; i++)
        if (strcmp(s->e[i].type, type) == 0) {
            s->e[i].n++;
            return 0;
        }
    error_count *e = realloc(s->e, (s->ne + 1) * sizeof *e);
    if (!e)
        return -1;
    s->e = e;
    e[s->ne] = (error_count){strdup(type), 1};
    if (!e[s->ne].type)
        return -1;
    s->ne++;
    return 0;
}

static int add_latency(model_latency *m, double ms)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        double *d = realloc(m->ms, cap * sizeof *d);
        if (!d)
            return -1;
        m->ms = d;
        m->cap = cap;
    }
    m->ms[m->n++] = ms;
    return 0;
}

/* One row of the log (a JSON object): an answered call's latency under its model, a failed
 * call under its error type (its status when it has none). */
static int summarise_row(void *ud, int ncols, const char *const *names, const char *const *values)
{
    (void)ncols;
    (void)names;
    log_summary *s = ud;
    cJSON *row = cJSON_Parse(values[0]);
    if (!row) {
        s->failed = 1;
        return 0;
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(row, "status");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(row, "model");
    const cJSON *latency = cJSON_GetObjectItemCaseSensitive(row, "latency_ms");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(row, "error_type");
    const char *st = cJSON_IsString(status) ? status->valuestring : "";
    if (strcmp(st, "ok") == 0) {
        if (cJSON_IsNumber(latency)) {
            model_latency *m = model_of(s, cJSON_IsString(model) ? model->valuestring : "null");
            if (!m || add_latency(m, latency->valuedouble) != 0)
                s->failed = 1;
        }
    } else if (count_error(s, cJSON_IsString(type) ? type->valuestring : st) != 0) {
        s->failed = 1;
    }
    cJSON_Delete(row);
    return 0;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int by_model(const void *a, const void *b)
{
    return strcmp(((const model_latency *)a)->model, ((const model_latency *)b)->model);
}

static int by_type(const void *a, const void *b)
{
    return strcmp(((const error_count *)a)->type, ((const error_count *)b)->type);
}

/* The q-quantile of n sorted values: the value at rank ceil(q n). */
static double quantile(const double *sorted, size_t n, double q)
{
    double rank = ceil(q * (double)n) - 1;
    size_t i = rank < 0 ? 0 : (size_t)rank;
    return sorted[i < n ? i : n - 1];
}

/* A JSON number as nyx writes it (nyx_json_number: %.17g wrote 0.1 as 0.10000000000000001), or
 * null when it is not finite. */
static void write_json_number(FILE *f, double d)
{
    char t[32];
    fputs(nyx_json_number(d, t, sizeof t) > 0 ? t : "null", f);
}

/* A JSON string; '<' as \u003c, like the rows (write_row). */
static void write_json_string(FILE *f, const char *text)
{
    cJSON *str = cJSON_CreateString(text);
    char *printed = str ? cJSON_PrintUnformatted(str) : NULL;
    for (const char *p = printed ? printed : "null"; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", f);
        else
            fputc(*p, f);
    }
    cJSON_free(printed);
    cJSON_Delete(str);
}

static void log_summary_free(log_summary *s)
{
    for (size_t i = 0; i < s->nm; i++) {
        free(s->m[i].model);
        free(s->m[i].ms);
    }
    for (size_t i = 0; i < s->ne; i++)
        free(s->e[i].type);
    free(s->m);
    free(s->e);
}

/* "latency":[{group, calls, p50, p95, max} a model], "errors":[{group, calls} a type], sorted by
 * name, from the log with the report's filters. */
static int write_log_summary(nyx_engine *e, FILE *f, const char *session, const char *since)
{
    query_opts qo;
    const char **opts = query_opts_make(&qo, NULL, session, since);
    log_summary s = {0};
    int rc = nyx_query(e, "log", opts, summarise_row, &s);
    if (rc != NYX_OK)
        fprintf(stderr, "nyx report: %s\n", nyx_errmsg(e));
    else if (s.failed) {
        fprintf(stderr, "nyx report: out of memory reading the log\n");
        rc = NYX_ENOMEM;
    }
    if (rc == NYX_OK) {
        if (s.nm) /* no rows, no array: qsort may not be given NULL */
            qsort(s.m, s.nm, sizeof *s.m, by_model);
        if (s.ne)
            qsort(s.e, s.ne, sizeof *s.e, by_type);
        fputs(",\"latency\":[", f);
        for (size_t i = 0; i < s.nm; i++) {
            model_latency *m = &s.m[i];
            qsort(m->ms, m->n, sizeof *m->ms, by_double);
            fputs(i ? ",{\"group\":" : "{\"group\":", f);
            write_json_string(f, m->model);
            fprintf(f, ",\"calls\":%zu,\"p50\":", m->n);
            write_json_number(f, quantile(m->ms, m->n, 0.5));
            fputs(",\"p95\":", f);
            write_json_number(f, quantile(m->ms, m->n, 0.95));
            fputs(",\"max\":", f);
            write_json_number(f, m->ms[m->n - 1]);
            fputc('}', f);
        }
        fputs("],\"errors\":[", f);
        for (size_t i = 0; i < s.ne; i++) {
            fputs(i ? ",{\"group\":" : "{\"group\":", f);
            write_json_string(f, s.e[i].type);
            fprintf(f, ",\"calls\":%ld}", s.e[i].n);
        }
        fputc(']', f);
    }
    log_summary_free(&s);
    return rc;
}

/* Text for the HTML page itself (the session name in the heading). */
static void write_html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* The hit-rate floor as a JSON number, or null when none is set or it is not a number. */
static void write_floor(nyx_engine *e, FILE *f)
{
    char *value = NULL;
    char *end = NULL;
    double d = 0;
    if (nyx_config_get(e, "alert.cache_hit_rate_floor", &value, NULL) == NYX_OK && value) {
        d = strtod(value, &end);
    }
    fputs(",\"floor\":", f);
    if (value && end && end != value && *end == '\0')
        write_json_number(f, d);
    else
        fputs("null", f);
    nyx_free(value);
}

int cli_report(int argc, char **argv)
{
    const char *since = NULL, *session = NULL, *out = "report.html", *db = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            since = argv[++i];
        } else if (strcmp(argv[i], "--session") == 0 && i + 1 < argc) {
            session = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else {
            cli_bad_arg("nyx report", argv[i],
                        strcmp(argv[i], "--since") == 0 || strcmp(argv[i], "--session") == 0 ||
                            strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--db") == 0,
                        i + 1 == argc);
            help(stderr);
            return 2;
        }
    }
    const char *chart_path = getenv("NYX_CHARTJS");
    if (!chart_path || !*chart_path)
        chart_path = CHARTJS_DEFAULT;
    size_t chart_len = 0;
    char *chart = cli_read_file(chart_path, &chart_len);
    if (!chart) {
        fprintf(stderr, "nyx report: cannot read Chart.js at %s (install Debian's libjs-chart.js, or set "
                        "NYX_CHARTJS to a copy of chart.min.js)\n", chart_path);
        return 1;
    }
    /* Written beside the target and renamed over it: a failed report leaves no half page. The
     * error names the file asked for and why (it named the .tmp file, without a reason), and a
     * directory is refused before the page is made (the rename failed only after). */
    char tmp[4096];
    struct stat st;
    const char *why = (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", out) >= sizeof tmp ? "the name is too long"
                      : stat(out, &st) == 0 && S_ISDIR(st.st_mode)                  ? "it is a directory"
                                                                                    : NULL;
    FILE *f = why ? NULL : fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "nyx report: cannot write %.200s%s: %s\n", out, strlen(out) > 200 ? "..." : "",
                why ? why : strerror(errno));
        free(chart);
        return 1;
    }
    nyx_engine *e = cli_open_reading("nyx report", db, 1);
    if (!e) {
        fclose(f);
        remove(tmp);
        free(chart);
        return 1;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M UTC", &tm);
    fputs(cli_report_head, f);
    fputs("</head>\n<body>\n<h1>nyx report</h1>\n<p class=\"sub\">", f);
    fprintf(f, "made %s", stamp);
    if (session) {
        fputs(" &middot; session ", f);
        write_html_text(f, session);
    }
    if (since) {
        fputs(" &middot; since ", f);
        write_html_text(f, since);
    }
    fputs("</p>\n", f);
    fputs(cli_report_body, f);
    fputs("<script type=\"application/json\" id=\"nyx-data\">{", f);
    static const struct {
        const char *key, *kind, *by;
    } parts[] = {{"total", "stats", "total"}, {"day", "stats", "day"},      {"model", "stats", "model"},
                 {"agent", "stats", "agent"}, {"template", "stats", "template"}, {"session", "stats", "session"},
                 {"budget", "budget", NULL}};
    int rc = NYX_OK;
    for (size_t i = 0; rc == NYX_OK && i < sizeof parts / sizeof parts[0]; i++) {
        int is_budget = strcmp(parts[i].kind, "budget") == 0; /* takes no filter */
        rc = write_query(e, f, parts[i].key, parts[i].kind, parts[i].by, is_budget ? NULL : session,
                         is_budget ? NULL : since);
    }
    if (rc == NYX_OK)
        rc = write_log_summary(e, f, session, since);
    write_floor(e, f);
    fputs("}</script>\n<script>\n", f);
    fwrite(chart, 1, chart_len, f);
    fputs("\n</script>\n<script>\n", f);
    fputs(cli_report_script, f);
    fputs("</script>\n</body>\n</html>\n", f);
    free(chart);
    int write_failed = ferror(f);
    if (fclose(f) != 0)
        write_failed = 1;
    nyx_close(e);
    if (rc != NYX_OK || write_failed || rename(tmp, out) != 0) {
        if (rc == NYX_OK)
            fprintf(stderr, "nyx report: cannot write %.200s%s: %s\n", out, strlen(out) > 200 ? "..." : "",
                    strerror(errno));
        remove(tmp);
        return rc == NYX_EINVAL ? 2 : 1; /* a filter the query refused (--since): usage, as in nyx stats */
    }
    printf("wrote %s\n", out);
    return 0;
}
