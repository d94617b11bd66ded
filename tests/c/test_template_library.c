/* The template library: search path order, versions (kept for unchanged content, new for
 * changed content, NAME@V), edits seen on the next use (also within one mtime tick, and
 * through the hot-reload hook), broken edits, partials through the library, templates
 * created in the database, errors and warnings, the bandit, recording, listings and diff. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core/engine.h"
#include "sim_engine.h"
#include "template/library.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[512], dir_cwd[600], dir_p1[600], dir_p2[600];

/* ---- helpers ---- */

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][800];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 800, "%s/%s", dir, name);
    return p;
}

/* Sets a file's mtime (and atime) to sec.nsec: to make two contents look alike to stat. */
static void set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

typedef struct logbook {
    char msgs[32][600];
    int n;
} logbook;

static void log_fn(void *ud, int level, const char *msg)
{
    logbook *lb = ud;
    (void)level;
    if (lb->n < 32)
        snprintf(lb->msgs[lb->n++], sizeof lb->msgs[0], "%s", msg);
}

static int logged(const logbook *lb, const char *needle)
{
    int n = 0;
    for (int i = 0; i < lb->n; i++)
        n += strstr(lb->msgs[i], needle) != NULL;
    return n;
}

/* Renders spec with the variables given as "k=v" strings; returns the text (static). */
static const char *render(nyx_engine *e, const char *spec, int *version, error_info *err,
                          const char *const *pairs)
{
    static char out[4096];
    error_info scratch;
    if (!err)
        err = &scratch;
    error_clear(err);
    tvalue *vars = templates_vars_from_pairs(pairs, err);
    char *text = NULL;
    size_t len = 0;
    int rc = vars ? templates_render(e->templates, spec, vars, &text, &len, version, err) : -1;
    tvalue_free(vars);
    if (rc != 0)
        return NULL;
    snprintf(out, sizeof out, "%s", text);
    free(text);
    return out;
}

static const char *R(nyx_engine *e, const char *spec, int *version)
{
    return render(e, spec, version, NULL, NULL);
}

/* ---- search path ---- */

static void test_search_order(nyx_engine *e)
{
    int v = 0;
    write_file(path_in(dir_p2, "order.md"), "p2");
    CHECK_STR(R(e, "order", &v), "p2");
    write_file(path_in(dir_p1, "order.md"), "p1");
    CHECK_STR(R(e, "order", &v), "p1");
    write_file(path_in(dir_cwd, "templates/order.md"), "cwd");
    CHECK_STR(R(e, "order", &v), "cwd");
    tpl_info info;
    error_info err;
    CHECK_INT(templates_get(e->templates, "order", &info, &err), 0);
    CHECK_STR(info.source, "./templates/order.md");
    CHECK_STR(info.name, "order");
    unlink(path_in(dir_cwd, "templates/order.md"));
    CHECK_STR(R(e, "order", &v), "p1");
    /* p1's content was seen before: it keeps its version. */
    CHECK_INT(v, 2);
    /* The source tree's templates come after NYX_TEMPLATE_PATH. */
    CHECK_INT(templates_get(e->templates, "council_persona", &info, &err), 0);
    CHECK(strstr(info.source, "/templates/council_persona.md") != NULL);
    CHECK(strncmp(info.source, dir_p1, strlen(dir_p1)) != 0);
    write_file(path_in(dir_p2, "council_persona.md"), "shadowed {{name}}");
    const char *pairs[] = {"name=CFO", NULL};
    CHECK_STR(render(e, "council_persona", NULL, NULL, pairs), "shadowed CFO");
    unlink(path_in(dir_p2, "council_persona.md"));
    const char *persona[] = {"name=CFO", "focus=Judge cash.", NULL};
    const char *text = render(e, "council_persona", NULL, NULL, persona);
    CHECK(text && strncmp(text, "You are the CFO on this council.\nJudge cash.\n", 44) == 0);
}

/* ---- versions ---- */

static void test_versions(nyx_engine *e)
{
    const char *p = path_in(dir_p1, "ver.md");
    int v = 0;
    write_file(p, "A {{x}}");
    const char *x[] = {"x=1", NULL};
    CHECK_STR(render(e, "ver", &v, NULL, x), "A 1");
    CHECK_INT(v, 1);
    CHECK_STR(render(e, "ver", &v, NULL, x), "A 1");
    CHECK_INT(v, 1);
    write_file(p, "BB {{x}}");
    CHECK_STR(render(e, "ver", &v, NULL, x), "BB 1");
    CHECK_INT(v, 2);
    write_file(p, "A {{x}}"); /* back to the first content: its version again */
    CHECK_STR(render(e, "ver", &v, NULL, x), "A 1");
    CHECK_INT(v, 1);
    CHECK_INT(templates_last_version(e->templates, "ver"), 1);

    /* NAME@V from the database. */
    CHECK_STR(render(e, "ver@2", &v, NULL, x), "BB 1");
    CHECK_INT(v, 2);
    CHECK_INT(templates_last_version(e->templates, "ver"), 2);
    CHECK_STR(render(e, "ver@1", &v, NULL, x), "A 1");
    error_info err;
    CHECK(render(e, "ver@9", &v, &err, x) == NULL);
    CHECK_ERROR(err, "not_found", "template ver has no version 9");
    const char *bad[] = {"../etc/passwd", "a/b", "ver@0", "ver@x", ".hidden", "", "ver@-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(render(e, bad[i], &v, &err, x) == NULL);
        CHECK_STR(err.type, "invalid_argument");
    }
    CHECK(render(e, "nosuch", &v, &err, x) == NULL);
    CHECK_STR(err.type, "not_found");
    CHECK(strstr(err.message, "nosuch.md") != NULL && strstr(err.message, dir_p2) != NULL);

    /* Two writes of the same size in one mtime tick: the content is compared again. */
    write_file(p, "tick-1");
    struct stat st;
    stat(p, &st);
    CHECK_STR(R(e, "ver", &v), "tick-1");
    CHECK_INT(v, 3);
    write_file(p, "tick-2");
    set_mtime(p, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    CHECK_STR(R(e, "ver", &v), "tick-2");
    CHECK_INT(v, 4);

    /* An old mtime is trusted: an edit that keeps size and mtime is seen only through the
     * hot-reload hook. */
    write_file(p, "old-1");
    set_mtime(p, 1000000000, 0);
    CHECK_STR(R(e, "ver", &v), "old-1");
    write_file(p, "old-2");
    set_mtime(p, 1000000000, 0);
    CHECK_STR(R(e, "ver", &v), "old-1");
    CHECK(e->on_template_change != NULL);
    e->on_template_change(e, p);
    CHECK_STR(R(e, "ver", &v), "old-2");
}

static void test_broken_edit(nyx_engine *e, logbook *lb)
{
    const char *p = path_in(dir_p1, "fragile.md");
    int v = 0;
    write_file(p, "---\nvariables:\n  who: {required: true}\n---\nHello {{who}}\n");
    const char *who[] = {"who=Ada", NULL};
    CHECK_STR(render(e, "fragile", &v, NULL, who), "Hello Ada\n");
    int good = v;
    CHECK(good >= 1);
    write_file(p, "---\nvariables:\n  who: {required: true}\n---\nHello {{#who}} {{who}}\n");
    int before = logged(lb, "never closed");
    CHECK_STR(render(e, "fragile", &v, NULL, who), "Hello Ada\n");
    CHECK_INT(v, good);
    CHECK_STR(render(e, "fragile", &v, NULL, who), "Hello Ada\n");
    CHECK_INT(logged(lb, "never closed"), before + 1); /* reported once, with file:line */
    char where[700];
    snprintf(where, sizeof where, "%s:5:", p);
    CHECK(logged(lb, where) >= 1);
    write_file(p, "---\nvariables:\n  who: {required: true}\n---\nHi {{who}}\n");
    CHECK_STR(render(e, "fragile", &v, NULL, who), "Hi Ada\n");
    CHECK_INT(v, good + 1);
    /* Emptied (an editor between truncating the file and writing it): the same. */
    write_file(p, "");
    CHECK_STR(render(e, "fragile", &v, NULL, who), "Hi Ada\n");
    CHECK_INT(v, good + 1);
    CHECK_INT(logged(lb, "the file is empty"), 1);
    write_file(p, "---\nvariables:\n  who: {required: true}\n---\nHi {{who}}\n");
    CHECK_STR(render(e, "fragile", &v, NULL, who), "Hi Ada\n");
    CHECK_INT(v, good + 1);

    /* Errors and warnings of a render. */
    error_info err;
    CHECK(render(e, "fragile", &v, &err, NULL) == NULL);
    CHECK_STR(err.type, "invalid_argument");
    snprintf(where, sizeof where, "%s:5: missing required variable 'who'", p);
    CHECK(strstr(err.message, where) != NULL);
    const char *extra[] = {"who=Ada", "mood=calm", NULL};
    CHECK_STR(render(e, "fragile", &v, NULL, extra), "Hi Ada\n");
    CHECK_STR(render(e, "fragile", &v, NULL, extra), "Hi Ada\n");
    CHECK_INT(logged(lb, "variable 'mood' is given but not declared"), 1);

    /* A file that never parsed is an error with its file:line. */
    write_file(path_in(dir_p1, "never.md"), "x\n{{/nope}}\n");
    CHECK(R(e, "never", &v) == NULL);
    CHECK(render(e, "never", &v, &err, NULL) == NULL);
    CHECK(strstr(err.message, "never.md:2:") != NULL);
    write_file(path_in(dir_p1, "blank.md"), "");
    CHECK(render(e, "blank", &v, &err, NULL) == NULL);
    CHECK_STR(err.type, "invalid_argument");
    CHECK(strstr(err.message, "blank.md: the file is empty") != NULL);
}

/* ---- partials ---- */

static void test_partials(nyx_engine *e)
{
    int v = 0;
    write_file(path_in(dir_cwd, "templates/outer.md"), "[{{> inner}}]");
    write_file(path_in(dir_p2, "inner.md"), "in {{who}}");
    const char *who[] = {"who=me", NULL};
    CHECK_STR(render(e, "outer", &v, NULL, who), "[in me]");
    write_file(path_in(dir_p2, "inner.md"), "inside {{who}}");
    CHECK_STR(render(e, "outer", &v, NULL, who), "[inside me]");
    /* A partial by version. */
    write_file(path_in(dir_cwd, "templates/pinned.md"), "<{{> inner@1}}>");
    CHECK_STR(render(e, "pinned", &v, NULL, who), "<in me>");
    /* A partial that is missing, and one that does not parse. */
    error_info err;
    write_file(path_in(dir_cwd, "templates/lost.md"), "a\n{{> nowhere}}");
    CHECK(render(e, "lost", &v, &err, NULL) == NULL);
    CHECK(strstr(err.message, "lost.md:2: partial 'nowhere' not found") != NULL);
    write_file(path_in(dir_cwd, "templates/usesbad.md"), "{{> badpart}}");
    write_file(path_in(dir_p1, "badpart.md"), "{{#open}}");
    CHECK(render(e, "usesbad", &v, &err, NULL) == NULL);
    CHECK(strstr(err.message, "badpart.md:1:") != NULL);
    /* A template including itself stops at the depth limit. */
    write_file(path_in(dir_p1, "loop.md"), "x{{> loop}}");
    CHECK(render(e, "loop", &v, &err, NULL) == NULL);
    CHECK_STR(err.type, "invalid_argument");
}

/* ---- templates created in the database ---- */

static void test_created(nyx_engine *e)
{
    error_info err;
    int v = 0;
    CHECK_INT(templates_create(e->templates, "dbonly", "DB {{x}}", 8, &v, &err), 0);
    CHECK_INT(v, 1);
    CHECK_INT(templates_create(e->templates, "dbonly", "DB {{x}}", 8, &v, &err), 0);
    CHECK_INT(v, 1);
    const char *x[] = {"x=y", NULL};
    CHECK_STR(render(e, "dbonly", &v, NULL, x), "DB y");
    tpl_info info;
    CHECK_INT(templates_get(e->templates, "dbonly", &info, &err), 0);
    CHECK_STR(info.source, "database");
    CHECK_INT(info.version, 1);
    CHECK_INT(templates_create(e->templates, "dbonly", "DB2 {{x}}", 9, &v, &err), 0);
    CHECK_INT(v, 2);
    CHECK_STR(render(e, "dbonly", &v, NULL, x), "DB2 y");
    CHECK_INT(v, 2);
    /* A file of that name serves before the database. */
    write_file(path_in(dir_cwd, "templates/dbonly.md"), "FILE {{x}}");
    CHECK_STR(render(e, "dbonly", &v, NULL, x), "FILE y");
    CHECK_INT(v, 3);
    unlink(path_in(dir_cwd, "templates/dbonly.md"));
    CHECK_STR(render(e, "dbonly", &v, NULL, x), "FILE y"); /* now the latest stored */
    /* Text that does not parse is refused, nothing is stored. */
    CHECK_INT(templates_create(e->templates, "dbonly", "{{#a}}", 6, &v, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(templates_create(e->templates, "dbonly@2", "x", 1, &v, &err), -1);
    CHECK_INT(templates_create(e->templates, "no/slash", "x", 1, &v, &err), -1);
    CHECK_STR(render(e, "dbonly@2", &v, NULL, x), "DB2 y");
}

/* ---- recording and the bandit ---- */

/* Rows as text: "name=value name=value\n" a row. */
typedef struct rows {
    char text[8192];
    int n;
} rows;

static int collect(void *ud, int ncols, const char *const *names, const char *const *values,
                   const char *types)
{
    (void)types;
    rows *r = ud;
    size_t len = strlen(r->text);
    for (int i = 0; i < ncols; i++) {
        snprintf(r->text + len, sizeof r->text - len, "%s=%s%s", names[i],
                 values[i] ? values[i] : "NULL", i + 1 < ncols ? " " : "\n");
        len = strlen(r->text);
    }
    r->n++;
    return 0;
}

static void test_record(nyx_engine *e)
{
    error_info err;
    int v = 0;
    CHECK_INT(templates_create(e->templates, "judged", "one", 3, &v, &err), 0);
    CHECK_INT(templates_create(e->templates, "judged", "two", 3, &v, &err), 0);
    CHECK_INT(templates_record(e->templates, "judged", 1, &err), -1); /* nothing used yet */
    CHECK_STR(err.type, "invalid_argument");
    CHECK_STR(R(e, "judged@1", &v), "one");
    CHECK_INT(templates_record(e->templates, "judged", 1, &err), 0);
    CHECK_INT(templates_record(e->templates, "judged@2", 0, &err), 0);
    claude_usage u = {.input_tokens = 10, .output_tokens = 5, .cache_read_input_tokens = 100};
    char judged[] = "judged", judged2[] = "judged@2", nosuch[] = "nosuch_template";
    CHECK_INT(templates_call_finished(e->templates, judged, 0, 1, &u, 0.25, 12, 1), 1);
    CHECK_INT(templates_call_finished(e->templates, judged2, 0, 0, &u, 0.5, 12, 0), 2);
    CHECK_STR(judged2, "judged"); /* the version is cut off for the caller's log row */
    CHECK_INT(templates_call_finished(e->templates, judged, 2, -1, NULL, -1, -1, 0), 2);
    CHECK_INT(templates_call_finished(e->templates, nosuch, 0, 1, &u, 0, 0, 0), 0);
    rows r = {{0}, 0};
    CHECK_INT(templates_stats(e->templates, "judged", collect, &r, &err), 0);
    CHECK_STR(r.text, "version=1 uses=2 successes=2 failures=0 success_rate=1.0 tokens=115 cost_usd=0.25"
                      " avg_latency_ms=6.0 cache_hit_rate=0.5\n"
                      "version=2 uses=3 successes=0 failures=2 success_rate=0.0 tokens=115 cost_usd=0.5"
                      " avg_latency_ms=4.0 cache_hit_rate=0.0\n");
}

static void count_picks(nyx_engine *e, const char *name, int n, int *counts /* [3] */)
{
    error_info err;
    counts[0] = counts[1] = counts[2] = 0;
    for (int i = 0; i < n; i++) {
        int v = 0;
        if (templates_pick(e->templates, name, &v, &err) != 0 || v < 1 || v > 2) {
            counts[0]++;
            continue;
        }
        counts[v]++;
        CHECK_INT(templates_last_version(e->templates, name), v);
    }
}

static void test_bandit(nyx_engine *e)
{
    error_info err;
    int v = 0, c[3];
    CHECK_INT(templates_create(e->templates, "arms", "first", 5, &v, &err), 0);
    CHECK_INT(templates_create(e->templates, "arms", "second", 6, &v, &err), 0);
    templates_seed(e->templates, 42);
    /* No outcomes yet: both versions are tried. */
    count_picks(e, "arms", 200, c);
    CHECK_INT(c[0], 0);
    CHECK(c[1] > 50 && c[2] > 50);
    /* The same seed gives the same choices. */
    int seq[2][40];
    for (int round = 0; round < 2; round++) {
        templates_seed(e->templates, 7);
        for (int i = 0; i < 40; i++)
            CHECK_INT(templates_pick(e->templates, "arms", &seq[round][i], &err), 0);
    }
    CHECK(memcmp(seq[0], seq[1], sizeof seq[0]) == 0);
    /* Version 2 succeeds more: it is preferred, and version 1 is still tried. */
    for (int i = 0; i < 30; i++) {
        CHECK_INT(templates_record(e->templates, "arms@1", i < 9, &err), 0);
        CHECK_INT(templates_record(e->templates, "arms@2", i < 24, &err), 0);
    }
    templates_seed(e->templates, 42);
    count_picks(e, "arms", 1000, c);
    CHECK_INT(c[0], 0);
    CHECK(c[2] > 850);
    CHECK(c[1] >= 10);
    fprintf(stderr, "bandit by success: v1 %d, v2 %d\n", c[1], c[2]);

    /* The same success rate, one version ten times as expensive: the cheaper one wins. */
    CHECK_INT(templates_create(e->templates, "costly", "dear", 4, &v, &err), 0);
    CHECK_INT(templates_create(e->templates, "costly", "cheap", 5, &v, &err), 0);
    claude_usage u = {.input_tokens = 100, .output_tokens = 10};
    for (int i = 0; i < 200; i++) {
        char dear[] = "costly@1", cheap[] = "costly@2";
        templates_call_finished(e->templates, dear, 0, i % 2, &u, 0.01, 5, 0);
        templates_call_finished(e->templates, cheap, 0, i % 2, &u, 0.001, 5, 0);
    }
    count_picks(e, "costly", 1000, c);
    CHECK(c[2] > 850);
    CHECK(c[1] >= 10);
    fprintf(stderr, "bandit by cost: v1 %d, v2 %d\n", c[1], c[2]);
    CHECK_INT(templates_pick(e->templates, "costly@1", &v, &err), -1);
    CHECK_INT(templates_pick(e->templates, "nosuch", &v, &err), -1);
    CHECK_STR(err.type, "not_found");
}

/* ---- listings, diff, variables ---- */

static void test_listings(nyx_engine *e)
{
    error_info err;
    rows r;
    memset(&r, 0, sizeof r);
    CHECK_INT(templates_list(e->templates, collect, &r, &err), 0);
    CHECK(strstr(r.text, "name=dbonly version=3 versions=3 source=database") != NULL);
    CHECK(strstr(r.text, "name=order version=2 versions=3 source=") != NULL);
    CHECK(strstr(r.text, "name=council_persona version=") != NULL);
    CHECK(strstr(r.text, "name=never version=NULL versions=0 source=NULL description=error: ") !=
          NULL);
    /* Sorted by name. */
    CHECK(strstr(r.text, "name=arms") < strstr(r.text, "name=council_context"));

    memset(&r, 0, sizeof r);
    int v = 0;
    CHECK_STR(R(e, "ver", &v), "old-2");
    CHECK_INT(templates_history(e->templates, "ver", collect, &r, &err), 0);
    CHECK_INT(r.n, v);
    char want[64];
    snprintf(want, sizeof want, "version=%d hash=", v);
    CHECK(strstr(r.text, want) != NULL);
    CHECK(strstr(r.text, "current=*\n") != NULL);
    CHECK(strstr(r.text, "version=1 hash=") && strstr(r.text, "size=7 current=\n"));
    CHECK_INT(templates_history(e->templates, "nosuch", collect, &r, &err), -1);
    CHECK_STR(err.type, "not_found");
    CHECK_INT(templates_history(e->templates, "ver@1", collect, &r, &err), -1);

    char *d = templates_diff(e->templates, "ver", 1, 2, &err);
    CHECK_STR(d, "--- ver@1\n+++ ver@2\n@@ -1,1 +1,1 @@\n-A {{x}}\n+BB {{x}}\n");
    free(d);
    d = templates_diff(e->templates, "ver", 1, 1, &err);
    CHECK_STR(d, "--- ver@1\n+++ ver@1\n");
    free(d);
    CHECK(templates_diff(e->templates, "ver", 1, 99, &err) == NULL);
    CHECK_STR(err.type, "not_found");
}

static void test_text_diff(void)
{
    const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n";
    const char *b = "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n15\n16\n";
    char *d = text_diff(a, b, "a", "b");
    CHECK_STR(d, "--- a\n+++ b\n"
                 "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n"
                 "@@ -11,5 +11,5 @@\n 11\n 12\n 13\n-14\n 15\n+16\n");
    free(d);
    d = text_diff("", "x\ny", "a", "b");
    CHECK_STR(d, "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
    free(d);
    d = text_diff("same\n", "same\n", "a", "b");
    CHECK_STR(d, "--- a\n+++ b\n");
    free(d);
}

static void test_vars(void)
{
    error_info err;
    const char *pairs[] = {"a=1", "b=x=y", "a=2", "a=3", "c=", NULL};
    tvalue *m = templates_vars_from_pairs(pairs, &err);
    CHECK(m != NULL);
    CHECK_INT(tvalue_kind(tvalue_map_get(m, "a")), TVALUE_LIST);
    CHECK_INT(tvalue_kind(tvalue_map_get(m, "b")), TVALUE_STRING);
    template_def *t = template_parse("{{#a}}<{{.}}>{{/a}} {{b}} [{{c}}]", 33, "t", &err);
    char *out = NULL;
    size_t len = 0;
    CHECK_INT(template_render(t, m, NULL, NULL, NULL, NULL, &out, &len, &err), 0);
    CHECK_STR(out, "<1><2><3> x=y []");
    free(out);
    template_free(t);
    tvalue_free(m);
    const char *bad[] = {"novalue", NULL};
    CHECK(templates_vars_from_pairs(bad, &err) == NULL);
    CHECK_STR(err.type, "invalid_argument");
    const char *bad2[] = {"=x", NULL};
    CHECK(templates_vars_from_pairs(bad2, &err) == NULL);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/nyx-tpl-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(dir_cwd, sizeof dir_cwd, "%s/cwd", base);
    snprintf(dir_p1, sizeof dir_p1, "%s/p1", base);
    snprintf(dir_p2, sizeof dir_p2, "%s/p2", base);
    mkdir(dir_cwd, 0700);
    mkdir(path_in(dir_cwd, "templates"), 0700);
    mkdir(dir_p1, 0700);
    mkdir(dir_p2, 0700);
    char tpath[1400];
    snprintf(tpath, sizeof tpath, "%s::%s", dir_p1, dir_p2);
    setenv("NYX_TEMPLATE_PATH", tpath, 1);
    setenv("NYX_DB", ":memory:", 1);
    if (chdir(dir_cwd) != 0) {
        perror("chdir");
        return 1;
    }
    nyx_engine *e = open_engine();
    if (!e)
        return 1;
    logbook lb;
    memset(&lb, 0, sizeof lb);
    nyx_set_log(e, log_fn, &lb);

    test_search_order(e);
    test_versions(e);
    test_broken_edit(e, &lb);
    test_partials(e);
    test_created(e);
    test_record(e);
    test_bandit(e);
    test_listings(e);
    test_text_diff();
    test_vars();

    nyx_close(e);
    remove_tree(base);
    CHECK_DONE();
}
