#define _POSIX_C_SOURCE 200809L
/* nyx report: one self-contained HTML file from the database — Chart.js (Debian's
 * libjs-chart.js) embedded, the data as JSON rows from nyx_query, nothing fetched when the
 * page is opened. The numbers are the queries `nyx stats` runs, so its totals are nyx stats'. */
#include "cli.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHARTJS_DEFAULT "/usr/share/javascript/chart.js/chart.min.js"

static void help(FILE *out)
{
    fprintf(out,
            "usage: nyx report [--since DATE] [--session NAME] [--out FILE] [--db FILE]\n\n"
            "Writes one HTML file (default report.html) that opens in a browser without a network:\n"
            "cost per day with and without caching, cache hit rate per day against\n"
            "alert.cache_hit_rate_floor, latency p50/p95 per model, calls and cost by model, agent,\n"
            "template, session and day, the most expensive sessions, budgets and errors by type;\n"
            "tables sort by a click on a column. Totals are those of nyx stats with the same filters.\n"
            "  --since DATE    from that UTC day or instant: 2026-12-01 or 2026-12-01T09:30:00\n"
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

static int write_query(nyx_engine *e, FILE *f, const char *key, const char *kind, const char *by,
                       const char *session, const char *since)
{
    char opt_by[32], opt_session[512], opt_since[128];
    const char *opts[5];
    int n = 0;
    opts[n++] = "format=json";
    if (by) {
        snprintf(opt_by, sizeof opt_by, "by=%s", by);
        opts[n++] = opt_by;
    }
    if (session) {
        snprintf(opt_session, sizeof opt_session, "session=%s", session);
        opts[n++] = opt_session;
    }
    if (since) {
        snprintf(opt_since, sizeof opt_since, "since=%s", since);
        opts[n++] = opt_since;
    }
    opts[n] = NULL;
    fprintf(f, "%s\"%s\":[", strcmp(key, "total") == 0 ? "" : ",", key);
    rows_out o = {f, 0};
    int rc = nyx_query(e, kind, opts, write_row, &o);
    fputc(']', f);
    if (rc != NYX_OK)
        fprintf(stderr, "nyx report: %s\n", nyx_errmsg(e));
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
    if (value && end && end != value && *end == '\0')
        fprintf(f, ",\"floor\":%.17g", d);
    else
        fputs(",\"floor\":null", f);
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
            fprintf(stderr, "nyx report: unexpected argument \"%s\"\n", argv[i]);
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
    nyx_engine *e = cli_open(db);
    if (!e) {
        free(chart);
        return 1;
    }
    /* Written beside the target and renamed over it: a failed report leaves no half page. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "nyx report: cannot write %s\n", tmp);
        free(chart);
        nyx_close(e);
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
                 {"budget", "budget", NULL},  {"log", "log", NULL}};
    int rc = NYX_OK;
    for (size_t i = 0; rc == NYX_OK && i < sizeof parts / sizeof parts[0]; i++) {
        int is_budget = strcmp(parts[i].kind, "budget") == 0; /* takes no filter */
        rc = write_query(e, f, parts[i].key, parts[i].kind, parts[i].by, is_budget ? NULL : session,
                         is_budget ? NULL : since);
    }
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
            fprintf(stderr, "nyx report: cannot write %s\n", out);
        remove(tmp);
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}
