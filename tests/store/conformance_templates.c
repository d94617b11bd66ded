/* engine/store prompt templates: versions by content, reading by version, list and history,
 * usage statistics with exact arithmetic, and processes storing the same content at once,
 * on each backend. */
#include "conformance.h"

static int put_version(store_db *s, const char *name, const char *content, const char *hash)
{
    int v = -1;
    error_info err = cleared_error();
    if (store_template_put(s, name, content, "[\"who\"]", hash, &v, &err) != 0) {
        fprintf(stderr, "put %s: %s\n", name, err.message);
        return -1;
    }
    return v;
}

/* "content@version", or "error <type>: <message>". */
static const char *get(store_db *s, const char *name, int version, char *buf, size_t n)
{
    char *content = (char *)"untouched";
    int v = -1;
    error_info err = cleared_error();
    if (store_template_get(s, name, version, &content, &v, &err) != 0) {
        snprintf(buf, n, "error %.40s: %.180s", err.type, err.message);
        if (content)
            snprintf(buf, n, "error: content not NULL");
    } else {
        snprintf(buf, n, "%s@%d", content, v);
        free(content);
    }
    return buf;
}

static void test_versions(store_db *s)
{
    error_info err = cleared_error();
    char b[256];

    CHECK_INT(put_version(s, "greet", "Hello {{who}}", "h-a"), 1);
    CHECK_INT(put_version(s, "greet", "Hello {{who}}", "h-a"), 1); /* unchanged */
    CHECK_INT(put_version(s, "greet", "Hi {{who}}!", "h-b"), 2);
    CHECK_INT(put_version(s, "greet", "Hello {{who}}", "h-a"), 1); /* back to the first */
    CHECK_INT(put_version(s, "greet", "Hey {{who}}", "h-c"), 3);
    /* Same hash, other text (a collision, or a caller's bug): a new version, not a merge. */
    CHECK_INT(put_version(s, "greet", "Howdy {{who}}", "h-c"), 4);
    /* Names are independent. */
    CHECK_INT(put_version(s, "summarize", "Summarize: {{text}}", "h-a"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM prompt_templates"), 5);
    CHECK_INT(raw_int("SELECT count(*) FROM prompt_templates WHERE name = 'greet' AND"
                      " version = 2 AND variables = '[\"who\"]' AND hash = 'h-b'"),
              1);

    CHECK_STR(get(s, "greet", 0, b, sizeof b), "Howdy {{who}}@4");
    CHECK_STR(get(s, "greet", 1, b, sizeof b), "Hello {{who}}@1");
    CHECK_STR(get(s, "greet", 2, b, sizeof b), "Hi {{who}}!@2");
    CHECK_STR(get(s, "summarize", 0, b, sizeof b), "Summarize: {{text}}@1");
    CHECK_STR(get(s, "greet", 9, b, sizeof b),
              "error not_found: template greet has no version 9 (nyx templates history greet lists its "
              "versions)");
    CHECK_STR(get(s, "nope", 0, b, sizeof b), "error not_found: store: template nope not found");

    /* version_out may be NULL. */
    char *content = NULL;
    CHECK_INT(store_template_get(s, "greet", 3, &content, NULL, &err), 0);
    CHECK_STR(content, "Hey {{who}}");
    free(content);

    /* An empty template is a template. */
    CHECK_INT(put_version(s, "empty", "", "h-empty"), 1);
    CHECK_STR(get(s, "empty", 0, b, sizeof b), "@1");

    rowtext t = {.skip = ",updated_at,"};
    CHECK_INT(store_template_list(s, to_text, &t, &err), 0);
    CHECK_STR(t.s, "empty|1|1\n"
                   "greet|4|4\n"
                   "summarize|1|1\n");
    rows r = {0};
    CHECK_INT(store_template_list(s, collect, &r, &err), 0);
    CHECK_STR(colnames(&r), "name,latest_version,versions,updated_at");
    const char *upd = cell(&r, 0, "updated_at");
    CHECK(upd && strlen(upd) == 24 && upd[10] == 'T' && upd[23] == 'Z');
    rows_free(&r);

    /* Sizes in bytes: "héllo" is six. */
    CHECK_INT(put_version(s, "greet", "h\xc3\xa9llo", "h-d"), 5);
    memset(&t, 0, sizeof t);
    t.skip = ",created_at,";
    CHECK_INT(store_template_history(s, "greet", to_text, &t, &err), 0);
    CHECK_STR(t.s, "1|h-a|13\n"
                   "2|h-b|11\n"
                   "3|h-c|11\n"
                   "4|h-c|13\n"
                   "5|h-d|6\n");
    memset(&t, 0, sizeof t);
    CHECK_INT(store_template_history(s, "nope", to_text, &t, &err), 0);
    CHECK_STR(t.s, "");
    /* created_at is an ISO time. */
    memset(&t, 0, sizeof t);
    t.skip = ",version,hash,size,";
    CHECK_INT(store_template_history(s, "summarize", to_text, &t, &err), 0);
    CHECK(strlen(t.s) == 25 && t.s[10] == 'T' && t.s[23] == 'Z');

    /* A use, then a judgement of it: the outcome moves, the use is not counted again. */
    CHECK_INT(store_template_usage(s, "summarize", 1, 1, 10, 5, 0.5, 100, 1, &err), 0);
    CHECK_INT(store_template_judge(s, "summarize", 1, 1, 0, &err), 0);
    memset(&t, 0, sizeof t);
    t.skip = ",success_rate,cost_usd,avg_latency_ms,cache_hit_rate,";
    CHECK_INT(store_template_stats(s, "summarize", to_text, &t, &err), 0);
    CHECK_STR(t.s, "1|1|0|1|15\n");

    /* Bad arguments. */
    int v = 0;
    CHECK_INT(store_template_put(s, "", "x", NULL, "h", &v, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_template_put(s, "x", NULL, NULL, "h", &v, &err), -1);
    CHECK_INT(store_template_put(s, "x", "x", NULL, NULL, &v, &err), -1);
    CHECK_INT(store_template_put(s, "x", "x", NULL, "", &v, &err), -1);
    CHECK_INT(store_template_put(s, "x", "x", NULL, "h", NULL, &err), -1);
    content = (char *)"untouched";
    CHECK_INT(store_template_get(s, "greet", -1, &content, NULL, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK(content == NULL);
    CHECK_INT(store_template_get(s, "greet", 1, NULL, NULL, &err), -1);
    CHECK_INT(store_template_list(s, NULL, NULL, &err), -1);
    CHECK_INT(store_template_history(s, NULL, to_text, &t, &err), -1);
    CHECK_INT(raw_int("SELECT count(*) FROM prompt_templates WHERE name = 'x'"), 0);
}

static void test_usage(store_db *s)
{
    error_info err = cleared_error();
    CHECK_INT(put_version(s, "task", "Do {{x}}", "h1"), 1);
    CHECK_INT(put_version(s, "task", "Please do {{x}}", "h2"), 2);

    /* v1: a success, a failure, one of unknown outcome. */
    CHECK_INT(store_template_usage(s, "task", 1, 1, 100, 50, 0.25, 200, 1, &err), 0);
    CHECK_INT(store_template_usage(s, "task", 1, 0, 200, 100, 0.5, 400, 0, &err), 0);
    CHECK_INT(store_template_usage(s, "task", 1, -1, 300, 0, 0.125, 300, 1, &err), 0);
    /* v3 was used (a file not yet stored), never stored. */
    CHECK_INT(store_template_usage(s, "task", 3, -1, 10, 5, 0, 0, 0, &err), 0);
    /* Another template's use does not mix in. */
    CHECK_INT(store_template_usage(s, "other", 1, 1, 999, 999, 9, 9, 1, &err), 0);

    rowtext t = {0};
    CHECK_INT(store_template_stats(s, "task", to_text, &t, &err), 0);
    /* version|uses|successes|failures|success_rate|tokens|cost_usd|avg_latency_ms|cache_hit_rate */
    CHECK_STR(t.s, "1|3|1|1|0.5|750|0.875|300.0|0.666666666666667\n"
                   "2|0|0|0|NULL|0|0.0|NULL|NULL\n"
                   "3|1|0|0|NULL|15|0.0|0.0|0.0\n");
    rows r = {0};
    CHECK_INT(store_template_stats(s, "task", collect, &r, &err), 0);
    CHECK_STR(colnames(&r), "version,uses,successes,failures,success_rate,tokens,cost_usd,"
                            "avg_latency_ms,cache_hit_rate");
    rows_free(&r);

    /* A script's own judgement later, as nyx.templates.record would: one more use. */
    CHECK_INT(store_template_usage(s, "task", 2, 1, 0, 0, 0, 0, 0, &err), 0);
    CHECK_INT(store_template_usage(s, "task", 2, 1, 0, 0, 0, 0, 0, &err), 0);
    CHECK_INT(store_template_usage(s, "task", 2, 0, 0, 0, 0, 0, 0, &err), 0);
    memset(&t, 0, sizeof t);
    CHECK_INT(store_template_stats(s, "task", to_text, &t, &err), 0);
    CHECK_STR(t.s, "1|3|1|1|0.5|750|0.875|300.0|0.666666666666667\n"
                   "2|3|2|1|0.666666666666667|0|0.0|0.0|0.0\n"
                   "3|1|0|0|NULL|15|0.0|0.0|0.0\n");
    /* A judgement of a use already counted changes its outcome, not the uses. */
    CHECK_INT(store_template_judge(s, "task", 2, 1, 0, &err), 0);
    memset(&t, 0, sizeof t);
    CHECK_INT(store_template_stats(s, "task", to_text, &t, &err), 0);
    CHECK_STR(t.s, "1|3|1|1|0.5|750|0.875|300.0|0.666666666666667\n"
                   "2|3|1|2|0.333333333333333|0|0.0|0.0|0.0\n"
                   "3|1|0|0|NULL|15|0.0|0.0|0.0\n");
    CHECK_INT(store_template_judge(s, "task", 2, -1, 1, &err), 0);
    CHECK_INT(store_template_judge(s, "task", 2, 1, 2, &err), -1);
    memset(&t, 0, sizeof t);
    CHECK_INT(store_template_stats(s, "task", to_text, &t, &err), 0);
    CHECK_STR(t.s, "1|3|1|1|0.5|750|0.875|300.0|0.666666666666667\n"
                   "2|3|2|2|0.5|0|0.0|0.0|0.0\n"
                   "3|1|0|0|NULL|15|0.0|0.0|0.0\n");
    memset(&t, 0, sizeof t);
    CHECK_INT(store_template_stats(s, "nothing", to_text, &t, &err), 0);
    CHECK_STR(t.s, "");

    /* Bad arguments count nothing. */
    struct {
        int version, success;
        long long in, out;
        double cost, latency;
        const char *msg;
    } bad[] = {
        {0, 1, 0, 0, 0, 0, "version 0 (>= 1)"},
        {1, 2, 0, 0, 0, 0, "success 2 (give 1, 0 or -1 for unknown)"},
        {1, 1, -1, 0, 0, 0, "negative tokens"},
        {1, 1, 0, -5, 0, 0, "negative tokens"},
        {1, 1, 0, 0, -0.5, 0, "must be finite and >= 0"},
        {1, 1, 0, 0, NAN, 0, "must be finite and >= 0"},
        {1, 1, 0, 0, 0, -1, "must be finite and >= 0"},
        {1, 1, 0, 0, 0, INFINITY, "must be finite and >= 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ROW("bad[%zu]", i);
        error_clear(&err);
        CHECK_INT(store_template_usage(s, "task", bad[i].version, bad[i].success, bad[i].in,
                                       bad[i].out, bad[i].cost, bad[i].latency, 0, &err),
                  -1);
        CHECK_STR(err.type, "invalid_argument");
        CHECK_CONTAINS(err.message, bad[i].msg);
    }
    CHECK_ROW_END();
    CHECK_INT(store_template_usage(s, "", 1, 1, 0, 0, 0, 0, 0, &err), -1);
    CHECK_INT(store_template_stats(s, "task", NULL, NULL, &err), -1);
    CHECK_INT(raw_int("SELECT sum(uses) FROM template_usage WHERE name = 'task'"), 7);
}

/* ---- processes storing the same new contents at once ---- */

#define NCHILD 4
#define NCONTENT 20

static void test_processes(void)
{
    store_close(open_db()); /* created, then closed: no connection crosses fork() */
    int go[2], out[2];
    CHECK_INT(pipe(go), 0);
    CHECK_INT(pipe(out), 0);
    fflush(NULL);
    pid_t kids[NCHILD];
    for (int k = 0; k < NCHILD; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            close(go[1]);
            close(out[0]);
            error_info e;
            store_db *c = store_open_opts(db_uri, NULL, &e);
            char byte;
            int versions[NCONTENT] = {0};
            if (read(go[0], &byte, 1) != 1 || !c)
                _exit(2);
            for (int i = 0; i < NCONTENT; i++) {
                char content[32], hash[16];
                snprintf(content, sizeof content, "content %d", i);
                snprintf(hash, sizeof hash, "h%d", i);
                if (store_template_put(c, "shared", content, NULL, hash, &versions[i], &e) != 0) {
                    fprintf(stderr, "put: %s\n", e.message);
                    _exit(3);
                }
            }
            store_close(c);
            _exit(write(out[1], versions, sizeof versions) == (ssize_t)sizeof versions ? 0 : 4);
        }
        CHECK(kids[k] > 0);
    }
    close(go[0]);
    close(out[1]);
    char start[NCHILD];
    memset(start, 'g', sizeof start);
    CHECK_INT(write(go[1], start, sizeof start), NCHILD);
    close(go[1]);
    int seen[NCHILD][NCONTENT];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < NCHILD; k++)
        CHECK_INT(read(out[0], seen[k], sizeof seen[k]), sizeof seen[k]);
    close(out[0]);
    for (int k = 0; k < NCHILD; k++) {
        int st = -1;
        CHECK_INT(waitpid(kids[k], &st, 0), kids[k]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    /* Every process got the same version for each content, and each content is stored once. */
    for (int i = 0; i < NCONTENT; i++)
        for (int k = 1; k < NCHILD; k++)
            CHECK_INT(seen[k][i], seen[0][i]);
    CHECK_INT(raw_int("SELECT count(*) FROM prompt_templates WHERE name = 'shared'"), NCONTENT);
    CHECK_INT(raw_int("SELECT count(DISTINCT content) FROM prompt_templates"), NCONTENT);
    CHECK_INT(raw_int("SELECT max(version) FROM prompt_templates"), NCONTENT);
}

CONFORMANCE_SUITE("store-templates",
    {"versions", .on_db = test_versions},
    {"usage", .on_db = test_usage},
    {"processes", .fn = test_processes})
