/* Rendering a compiled prompt template: a 10 KB body with 50 declared variables (each used
 * twice), a list section and an inverted section, rendered many times from the same values.
 * Prints "template_render_10kb_50vars_us: X" (mean per render) and the one-off parse time. */
#define _POSIX_C_SOURCE 200809L
#include "template/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NVARS 50

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap * 2 : 16384;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

/* Front matter declaring v00..v49 (every fifth with a default), then about 10 KB of prose. */
static char *make_template(size_t *out_len)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char line[256];
    int ok = append(&buf, &len, &cap, "---\ndescription: benchmark template\nvariables:\n") == 0;
    for (int i = 0; i < NVARS && ok; i++) {
        if (i % 5 == 4)
            snprintf(line, sizeof line, "  v%02d: {default: \"default value %d\"}\n", i, i);
        else
            snprintf(line, sizeof line, "  v%02d: {required: true}\n", i);
        ok = append(&buf, &len, &cap, line) == 0;
    }
    ok = ok && append(&buf, &len, &cap, "  items: {}\n  absent: {}\n---\n") == 0;
    const char *prose = "The council weighs the proposal against the figures in the briefing, "
                        "and each member states the reason that matters most to their role.\n";
    for (int i = 0; ok && len < 10 * 1024; i++) {
        snprintf(line, sizeof line, "Point %d concerns {{v%02d}} and its effect on {{v%02d}}. ",
                 i, i % NVARS, (i * 7 + 3) % NVARS);
        ok = append(&buf, &len, &cap, line) == 0 && append(&buf, &len, &cap, prose) == 0;
        if (ok && i % 10 == 9)
            ok = append(&buf, &len, &cap, "{{#items}}\n- {{name}}: {{note}}\n{{/items}}\n") == 0;
    }
    ok = ok && append(&buf, &len, &cap, "{{^absent}}\nNo further remarks.\n{{/absent}}\n") == 0;
    if (!ok) {
        free(buf);
        return NULL;
    }
    *out_len = len;
    return buf;
}

static tvalue *make_vars(void)
{
    tvalue *m = tvalue_map();
    tvalue *items = tvalue_list();
    int ok = m && items;
    char key[16], val[64];
    for (int i = 0; i < NVARS && ok; i++) {
        snprintf(key, sizeof key, "v%02d", i);
        snprintf(val, sizeof val, "value number %d of the run", i);
        ok = tvalue_map_set(m, key, tvalue_string(val, strlen(val))) == 0;
    }
    for (int i = 0; i < 4 && ok; i++) {
        tvalue *it = tvalue_map();
        snprintf(val, sizeof val, "member %d", i);
        ok = tvalue_map_set(it, "name", tvalue_string(val, strlen(val))) == 0 &&
             tvalue_map_set(it, "note", tvalue_string("agrees with caveats", 19)) == 0 &&
             tvalue_list_push(items, it) == 0;
    }
    if (ok)
        ok = tvalue_map_set(m, "items", items) == 0;
    else
        tvalue_free(items);
    if (!ok) {
        tvalue_free(m);
        return NULL;
    }
    return m;
}

static void on_warning(void *ud, const char *msg)
{
    (void)msg;
    ++*(int *)ud;
}

int main(int argc, char **argv)
{
    int renders = argc > 1 && strcmp(argv[1], "--short") == 0 ? 2000 : 100000;
    size_t len = 0;
    char *text = make_template(&len);
    tvalue *vars = make_vars();
    if (!text || !vars) {
        fprintf(stderr, "bench_template: out of memory\n");
        return 1;
    }
    error_info err;
    error_clear(&err);
    double t0 = now_s();
    template_def *t = template_parse(text, len, "bench.md", &err);
    double parse_us = (now_s() - t0) * 1e6;
    if (!t) {
        fprintf(stderr, "bench_template: %s\n", err.message);
        return 1;
    }
    int warnings = 0;
    size_t out_len = 0, total = 0;
    t0 = now_s();
    for (int i = 0; i < renders; i++) {
        char *out = NULL;
        if (template_render(t, vars, NULL, NULL, on_warning, &warnings, &out, &out_len, &err) != 0) {
            fprintf(stderr, "bench_template: %s\n", err.message);
            return 1;
        }
        total += out_len;
        free(out);
    }
    double us = (now_s() - t0) * 1e6 / renders;
    if (warnings) {
        fprintf(stderr, "bench_template: %d unexpected warnings\n", warnings);
        return 1;
    }
    printf("template_parse_10kb_50vars_us: %.2f\n", parse_us);
    printf("template_render_10kb_50vars_us: %.2f\n", us);
    printf("template_render_output_bytes: %zu (template %zu bytes)\n", total / (size_t)renders, len);
    template_free(t);
    tvalue_free(vars);
    free(text);
    return 0;
}
