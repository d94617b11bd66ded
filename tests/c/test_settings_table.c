/* The settings table (core/config.c) walked whole: every setting is refused with its name
 * when malformed or out of range, whether it comes from the environment, `nyx config` or
 * nyx_set, and the precedence holds for each key: nyx_set over the environment over the
 * database over the default. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include "core/config.h"
#include "core/host_api.h"
#include "core/settings.h"
#include "nyx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/nyx_settings_XXXXXX";

static nyx_engine *open_engine(char **msg)
{
    *msg = NULL;
    return nyx_open(msg);
}

/* A value d refuses, or NULL when every text is acceptable (free text). */
static const char *malformed(const setting_def *d)
{
    switch (d->kind) {
    case SET_COUNT: return "2.5";
    case SET_NUMBER: return "plenty";
    case SET_BOOL: return "maybe";
    case SET_LIST: return "alice,,bob";
    case SET_CHOICE: return "neither";
    case SET_TEXT: return d->choices ? "neither" : NULL;
    }
    return NULL;
}

/* Two acceptable values, as canonical text. */
static void good(const setting_def *d, int which, char *out, size_t n)
{
    switch (d->kind) {
    case SET_COUNT:
    case SET_NUMBER: snprintf(out, n, "%.15g", d->min + (d->max - d->min) / (which ? 4 : 2)); break;
    case SET_BOOL: snprintf(out, n, "%s", which ? "true" : "false"); break;
    case SET_LIST: snprintf(out, n, "%s", which ? "carol" : "alice,bob"); break;
    default: {
        const char *c = d->choices, *bar = strchr(c, '|');
        if (which)
            snprintf(out, n, "%s", strrchr(c, '|') + 1);
        else
            snprintf(out, n, "%.*s", (int)(bar - c), c);
    }
    }
}

/* Refused at nyx_open, naming the variable. */
static void expect_env_refused(const setting_def *d, const char *value)
{
    setenv(d->env, value, 1);
    char *msg = NULL;
    nyx_engine *e = open_engine(&msg);
    CHECK(e == NULL);
    if (!msg || !strstr(msg, d->env))
        fprintf(stderr, "%s=%s: %s\n", d->env, value, msg ? msg : "(opened)");
    CHECK(msg && strstr(msg, d->env));
    nyx_free(msg);
    nyx_close(e);
    unsetenv(d->env);
}

static void test_environment_refusals(void)
{
    size_t n = 0;
    const setting_def *defs = setting_defs(&n);
    int walked = 0;
    for (size_t i = 0; i < n; i++) {
        const setting_def *d = &defs[i];
        if (!d->env)
            continue;
        const char *bad = malformed(d);
        if (bad)
            expect_env_refused(d, bad);
        if (d->kind == SET_NUMBER || d->kind == SET_COUNT) {
            char over[64];
            snprintf(over, sizeof over, "%.15g", d->max * 10 + 1);
            expect_env_refused(d, over);
            snprintf(over, sizeof over, "%.15g", d->min - 1);
            expect_env_refused(d, over);
        }
        walked++;
    }
    CHECK(walked > 40);
}

static void expect_source(nyx_engine *e, const char *key, const char *value, const char *source)
{
    char *v = NULL;
    const char *src = NULL;
    CHECK_INT(nyx_config_get(e, key, &v, &src), NYX_OK);
    if (!v || strcmp(v, value) != 0 || !src || strcmp(src, source) != 0)
        fprintf(stderr, "%s: %s from %s, expected %s from %s\n", key, v ? v : "(none)", src ? src : "?",
                value, source);
    CHECK(v && strcmp(v, value) == 0);
    CHECK(src && strcmp(src, source) == 0);
    nyx_free(v);
}

/* Each key of the database: refused by nyx config naming it, its range enforced, and the
 * environment above the database above the default. */
static void test_keys(void)
{
    size_t n = 0;
    const setting_def *defs = setting_defs(&n);
    int keys = 0;
    for (size_t i = 0; i < n; i++) {
        const setting_def *d = &defs[i];
        if (!d->key)
            continue;
        keys++;
        char *msg = NULL;
        nyx_engine *e = open_engine(&msg);
        REQUIRE(e != NULL);
        const char *bad = malformed(d);
        CHECK_INT(nyx_config_set(e, d->key, bad), NYX_EINVAL);
        CHECK(strstr(nyx_errmsg(e), d->key) != NULL);
        if (d->kind == SET_NUMBER) {
            char over[64];
            snprintf(over, sizeof over, "%.15g", d->max * 10 + 1);
            CHECK_INT(nyx_config_set(e, d->key, over), NYX_EINVAL);
            CHECK(strstr(nyx_errmsg(e), "at most") != NULL);
            snprintf(over, sizeof over, "%.15g", d->min_open ? d->min : d->min - 1);
            CHECK_INT(nyx_config_set(e, d->key, over), NYX_EINVAL);
        }
        char v0[64], v1[64];
        good(d, 0, v0, sizeof v0);
        good(d, 1, v1, sizeof v1);
        CHECK_INT(nyx_config_set(e, d->key, v0), NYX_OK);
        expect_source(e, d->key, v0, "database");
        nyx_close(e);
        if (d->env) {
            setenv(d->env, v1, 1);
            e = open_engine(&msg);
            CHECK(e != NULL);
            if (e)
                expect_source(e, d->key, v1, "environment");
            nyx_close(e);
            unsetenv(d->env);
        }
        e = open_engine(&msg);
        REQUIRE(e != NULL);
        expect_source(e, d->key, v0, "database");
        CHECK_INT(nyx_config_set(e, d->key, NULL), NYX_OK);
        char *v = NULL;
        const char *src = NULL;
        CHECK_INT(nyx_config_get(e, d->key, &v, &src), NYX_OK);
        CHECK(src && strcmp(src, "default") == 0);
        CHECK((v == NULL) == (d->def == NULL && d->kind != SET_BOOL));
        nyx_free(v);
        nyx_close(e);
    }
    CHECK(keys >= 16);
}

/* nyx_set: the table's parser, above the environment. */
static void test_nyx_set(void)
{
    setenv("NYX_PROVIDER", "anthropic", 1);
    char *msg = NULL;
    nyx_engine *e = open_engine(&msg);
    unsetenv("NYX_PROVIDER");
    REQUIRE(e != NULL);
    CHECK_STR(engine_cfg(e)->provider, "anthropic");
    CHECK_INT(nyx_set(e, "provider", "sim"), NYX_OK);
    CHECK_STR(engine_cfg(e)->provider, "sim");
    CHECK_INT(nyx_set(e, "provider", "elsewhere"), NYX_EINVAL);
    CHECK(strstr(nyx_errmsg(e), "provider") != NULL);
    CHECK_STR(engine_cfg(e)->provider, "sim");
    CHECK_INT(nyx_set(e, "debug", "maybe"), NYX_EINVAL);
    CHECK(strstr(nyx_errmsg(e), "debug") != NULL);
    CHECK_INT(nyx_set(e, "debug", "yes"), NYX_OK);
    CHECK_INT(engine_cfg(e)->debug, 1);
    CHECK_INT(nyx_set(e, "no_such_option", "1"), NYX_EINVAL);
    CHECK_STR(nyx_errmsg(e), "nyx_set: unknown option \"no_such_option\"");
    CHECK_INT(nyx_set(e, "provder", "sim"), NYX_EINVAL); /* a slip is named with what was meant */
    CHECK_STR(nyx_errmsg(e), "nyx_set: unknown option \"provder\"; did you mean \"provider\"?");
    nyx_close(e);
}

/* Every variable of the library is a row of the table, read through it: nyx.config.get (and
 * config_lookup) gives the engine's value, NYX_TIMEOUT_PROFILES and NYX_DEBUG_FILE included,
 * which engine.c and debug.c once read with getenv of their own. */
static void test_variables_in_the_table(void)
{
    char debug_file[300];
    snprintf(debug_file, sizeof debug_file, "%s/debug.log", dir);
    setenv("NYX_TIMEOUT_PROFILES", "quick=5,council=120", 1);
    setenv("NYX_DEBUG_FILE", debug_file, 1);
    setenv("NYX_TEMPLATE_PATH", dir, 1);
    char *msg = NULL;
    nyx_engine *e = open_engine(&msg);
    unsetenv("NYX_TIMEOUT_PROFILES");
    unsetenv("NYX_DEBUG_FILE");
    unsetenv("NYX_TEMPLATE_PATH");
    REQUIRE(e != NULL);
    const char *names[] = {"NYX_TIMEOUT_PROFILES", "NYX_DEBUG_FILE", "NYX_TEMPLATE_PATH"};
    const char *want[] = {"quick=5,council=120", debug_file, dir};
    for (size_t i = 0; i < 3; i++) {
        config_value v;
        int found = config_lookup(engine_cfg(e), names[i], &v) == 0;
        if (!found)
            fprintf(stderr, "%s is no row of the settings table\n", names[i]);
        CHECK(found);
        CHECK(!found || v.kind == CONFIG_STRING);
        if (found && v.kind == CONFIG_STRING)
            CHECK_STR(v.string, want[i]);
    }
    nyx_close(e);

    /* Every literal getenv of nyx's prefixes under engine/ names a row, or one of the few
     * variables config.c lists as read elsewhere (the API key, NYX_LUA_DIR, NYX_CHARTJS). */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "grep -rhoE 'getenv\\(\"[A-Za-z0-9_]+\"\\)' %s/engine --include='*.c'",
             NYX_SOURCE_DIR);
    FILE *grep = popen(cmd, "r");
    REQUIRE(grep != NULL);
    size_t n = 0, seen = 0;
    const setting_def *defs = setting_defs(&n);
    char line[200];
    while (fgets(line, sizeof line, grep)) {
        char name[100];
        if (sscanf(line, "getenv(\"%99[A-Za-z0-9_]\")", name) != 1)
            continue;
        if (strncmp(name, "NYX_", 4) != 0 && strncmp(name, "LLM_", 4) != 0 &&
            strncmp(name, "CLAUDE_", 7) != 0 && strncmp(name, "ANTHROPIC_", 10) != 0)
            continue; /* another program's (TERM) */
        seen++;
        int known = 0;
        for (size_t i = 0; i < n && !known; i++)
            known = defs[i].env && strcmp(defs[i].env, name) == 0;
        size_t nelsewhere = 0;
        const char *const *elsewhere = config_env_elsewhere(&nelsewhere);
        for (size_t i = 0; i < nelsewhere && !known; i++)
            known = strcmp(elsewhere[i], name) == 0;
        if (!known)
            fprintf(stderr, "getenv(\"%s\") under engine/ is no row of the settings table\n", name);
        CHECK(known);
    }
    CHECK_INT(pclose(grep), 0);
    CHECK(seen >= 4);
}

/* README's configuration table is where a user looks a variable up: every variable of the
 * settings table has a row there, but those of the database's keys, which the keys list before
 * it names. */
static void test_readme_names_every_variable(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/README.md", NYX_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    CHECK_INT(fclose(f), 0);
    const char *start = strstr(text, "| variable | meaning | default |");
    REQUIRE(start != NULL);
    const char *end = strstr(start, "\n\n");
    size_t table_len = end ? (size_t)(end - start) : strlen(start);
    size_t n = 0;
    const setting_def *defs = setting_defs(&n);
    for (size_t i = 0; i < n; i++) {
        if (!defs[i].env)
            continue;
        char quoted[120];
        snprintf(quoted, sizeof quoted, "`%s`", defs[i].env);
        const char *at = strstr(defs[i].key ? text : start, quoted);
        int listed = at && (defs[i].key || (size_t)(at - start) < table_len);
        if (!listed)
            fprintf(stderr, "%s has no row in README.md's configuration table\n", defs[i].env);
        CHECK(listed);
    }
}

/* A number's canonical text, the one `nyx config list` shows and the database keeps: spaces
 * around it gone, its shortest digits, and 0 never written "-0". */
static void test_canonical_numbers(void)
{
    const setting_def *d = setting_by_key("budget.daily_usd");
    REQUIRE(d != NULL);
    static const char *const in[] = {"-0", " 1e-3 ", "0.10", "-0.0e5"}, *const out[] = {"0", "0.001", "0.1", "0"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        error_info err = cleared_error();
        char *canon = setting_check(d, d->key, in[i], &err);
        CHECK_STR(canon ? canon : "(refused)", out[i]);
        free(canon);
    }
}

int main(void)
{
    test_canonical_numbers();
    if (!mkdtemp(dir))
        return 1;
    char db[200];
    snprintf(db, sizeof db, "%s/s.db", dir);
    setenv("NYX_DB", db, 1);
    test_environment_refusals();
    test_keys();
    test_nyx_set();
    test_variables_in_the_table();
    test_readme_names_every_variable();
    CHECK_INT(remove_tree(dir), 0);
    return check_failures;
}
