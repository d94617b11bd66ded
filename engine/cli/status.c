#define _POSIX_C_SOURCE 200809L
/* The live status line of `nyx run` on a terminal: one line on stderr, redrawn at most ten
 * times a second from nyx_progress. Whatever else reaches the terminal while it is shown (the
 * engine's notices, the script's print, the debug view) clears it first; the next turn draws
 * it again, so nothing is written over or into it. */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MIN_INTERVAL_S 0.1 /* ten redraws a second at most */

struct cli_status {
    nyx_engine *e;
    int colour;      /* NO_COLOR and TERM=dumb draw plain text */
    int dumb;        /* TERM=dumb: no escape sequences at all, spaces clear the line */
    int shown;       /* the line is on the screen */
    size_t shown_len; /* its visible width, for clearing a dumb terminal */
    double last_draw;
    char line[512];  /* the text last drawn (without escapes) */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

cli_status *cli_status_new(nyx_engine *e, int quiet)
{
    if (quiet || !isatty(STDERR_FILENO))
        return NULL;
    cli_status *s = calloc(1, sizeof *s);
    if (!s)
        return NULL; /* no status line is no failure */
    const char *term = getenv("TERM");
    s->e = e;
    s->dumb = term && strcmp(term, "dumb") == 0;
    s->colour = !s->dumb && !env_set("NO_COLOR");
    s->last_draw = -1;
    return s;
}

static size_t columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        return ws.ws_col;
    return 80;
}

/* The text of the line: what runs, what it cost and saved, the cache, the nearest budget,
 * and the script's own words. */
static void compose(const nyx_progress_info *p, char *out, size_t size)
{
    int n = snprintf(out, size, "nyx: %d in flight, %lld done", p->calls_in_flight, p->calls_done);
    if (p->errors > 0 && n >= 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, ", %lld error%s", p->errors, p->errors == 1 ? "" : "s");
    if (n >= 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, " | $%.4f, saved $%.4f | cache %.0f%%", p->spent_usd,
                      p->saved_usd, p->cache_hit_rate * 100);
    if (p->text[0] && n >= 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, " | %s", p->text);
    if (p->budget_remaining >= 0 && n >= 0 && (size_t)n < size) {
        /* "day:2026-12-06" says "day" well enough on one line; sessions and agents keep names */
        const char *scope = p->budget_scope;
        int len = (int)strlen(scope);
        if (strncmp(scope, "day:", 4) == 0 || strncmp(scope, "month:", 6) == 0)
            len = (int)(strchr(scope, ':') - scope);
        snprintf(out + n, size - (size_t)n, " | budget %.*s %.0f%% left", len, scope,
                 p->budget_remaining * 100);
    }
}

void cli_status_clear(cli_status *s)
{
    if (!s || !s->shown)
        return;
    if (s->dumb) {
        fputc('\r', stderr);
        for (size_t i = 0; i < s->shown_len; i++)
            fputc(' ', stderr);
        fputc('\r', stderr);
    } else {
        fputs("\r\033[K", stderr);
    }
    fflush(stderr);
    s->shown = 0;
}

void cli_status_tick(cli_status *s)
{
    if (!s)
        return;
    double t = now_s();
    if (s->last_draw >= 0 && t - s->last_draw < MIN_INTERVAL_S)
        return;
    nyx_progress_info p;
    if (nyx_progress(s->e, &p) != NYX_OK)
        return;
    char line[sizeof s->line];
    compose(&p, line, sizeof line);
    if (s->shown && strcmp(line, s->line) == 0)
        return;
    /* One column short of the width: a line that fills it would wrap, and \r could not
     * take it back. Control characters from the script's text would move the cursor. */
    size_t width = columns() - 1, len = 0;
    for (; line[len] && len < width; len++)
        if ((unsigned char)line[len] < 0x20 || line[len] == 0x7f)
            line[len] = ' ';
    line[len] = 0;
    size_t old = s->shown ? s->shown_len : 0;
    if (s->dumb) {
        fprintf(stderr, "\r%s", line);
        for (size_t i = len; i < old; i++)
            fputc(' ', stderr);
    } else if (s->colour) {
        fprintf(stderr, "\r\033[2m%s\033[0m\033[K", line);
    } else {
        fprintf(stderr, "\r%s\033[K", line);
    }
    fflush(stderr);
    memcpy(s->line, line, len + 1);
    s->shown = 1;
    s->shown_len = len > old ? len : old;
    s->last_draw = t;
}

void cli_status_free(cli_status *s)
{
    cli_status_clear(s);
    free(s);
}

void cli_status_notice(void *ud, int level, const char *msg)
{
    cli_status_clear(ud);
    cli_notice(NULL, level, msg);
}

void cli_status_print(void *ud, const char *text, size_t len)
{
    cli_status_clear(ud);
    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

void cli_status_debug(void *ud, const char *text, size_t len)
{
    cli_status_clear(ud);
    fwrite(text, 1, len, stderr);
}
