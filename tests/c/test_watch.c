#define _DEFAULT_SOURCE /* mkdtemp */
/* The file watcher: bursts delivered once, files replaced by rename stay watched, directory
 * interests name the changed entry, a deleted directory is watched again when it returns,
 * callbacks may add interests. */
#include "check.h"
#include "core/engine.h"
#include "core/loop.h"
#include "core/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct rec {
    int count;
    char last[4096];
    char all[8192]; /* every path delivered, one per line */
} rec;

static void on_change(void *ud, const char *path)
{
    rec *r = ud;
    r->count++;
    snprintf(r->last, sizeof r->last, "%s", path);
    size_t n = strlen(r->all);
    snprintf(r->all + n, sizeof r->all - n, "%s\n", path);
}

static char dir[256];

static const char *at(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* Turns the loop until *count reaches target (or a generous bound), then a few more turns so
 * that a delivery too many would be seen; returns *count then. */
static int settle(event_loop *loop, const int *count, int target)
{
    for (int i = 0; i < 500 && *count < target; i++)
        loop_poll(loop, 20);
    for (int i = 0; i < 5; i++)
        loop_poll(loop, 30);
    return *count;
}

static void reset(rec *r) { memset(r, 0, sizeof *r); }

/* A callback that adds another interest while the watcher delivers. */
static file_watch *the_watch;
static rec added;
static void add_on_change(void *ud, const char *path)
{
    on_change(ud, path);
    CHECK_INT(watch_add(the_watch, at("late.lua"), on_change, &added), 0);
}

/* ---- the engine's watcher: the template hook, nyx_watch_script, reload off ---- */

static int template_calls;
static char template_path[512];

static void on_template(nyx_engine *e, const char *path)
{
    (void)e;
    template_calls++;
    snprintf(template_path, sizeof template_path, "%s", path);
}

static void engine_hooks(void)
{
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || chdir(dir) != 0) {
        CHECK(!"cannot change directory");
        return;
    }
    CHECK_INT(mkdir("templates", 0700), 0);
    nyx_engine *e = nyx_open(NULL);
    CHECK(e != NULL);
    if (e) {
        e->on_template_change = on_template;
        engine_watch_templates(e);
        write_file("templates/brief.md", "hello {{name}}\n");
        for (int i = 0; i < 500 && template_calls == 0; i++)
            loop_poll(e->loop, 20);
        CHECK_INT(template_calls, 1);
        CHECK_STR(template_path, "./templates/brief.md");
        CHECK_INT(e->script.changed, 0); /* nobody asked for NYX_CHANGED */

        CHECK_INT(nyx_watch_script(e, "script.lua"), NYX_OK); /* need not exist yet */
        write_file("script.lua", "print(1)\n");
        for (int i = 0; i < 500 && !e->script.changed; i++)
            loop_poll(e->loop, 20);
        CHECK_INT(e->script.changed, 1);
        CHECK_INT(nyx_watch_script(e, "nodir/script.lua"), NYX_EIO);
        nyx_close(e);
    }
    /* Hot reload off: nothing is watched. */
    e = nyx_open(NULL);
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(nyx_set(e, "reload", "0"), NYX_OK);
        CHECK(engine_watch(e) == NULL);
        CHECK_INT(nyx_watch_script(e, "script.lua"), NYX_EIO);
        nyx_close(e);
    }
    /* "reload" reads a boolean as every setting does: "false" and "off" are off too (they
     * left it on), and a word that is no boolean is refused naming the key. */
    const char *offs[] = {"false", "off", "no"};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        e = nyx_open(NULL);
        CHECK(e != NULL);
        if (!e)
            continue;
        CHECK_INT(nyx_set(e, "reload", offs[i]), NYX_OK);
        CHECK(engine_watch(e) == NULL);
        CHECK_INT(nyx_watch_script(e, "script.lua"), NYX_EIO);
        CHECK_INT(nyx_set(e, "reload", "maybe"), NYX_EINVAL);
        CHECK(strstr(nyx_errmsg(e), "reload") != NULL);
        nyx_close(e);
    }
    CHECK_INT(chdir(cwd), 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/nyx-watch.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    event_loop *loop = loop_new();
    file_watch *w = watch_new(loop, 0.02);
    CHECK(w != NULL);
    if (!w)
        CHECK_DONE();
    the_watch = w;

    write_file(at("a.lua"), "return 1\n");
    rec file = {0}, folder = {0}, missing = {0};
    CHECK_INT(watch_add(w, at("a.lua"), on_change, &file), 0);
    CHECK_INT(watch_add(w, dir, on_change, &folder), 0);
    CHECK_INT(watch_add(w, at("later.lua"), on_change, &missing), 0); /* need not exist yet */
    CHECK_INT(watch_add(w, at("a.lua"), on_change, &file), 0);        /* the same: one interest */
    CHECK_INT(watch_add(w, at("nodir/x.lua"), on_change, &file), -1); /* its directory must exist */
    int interests = 0, dirs = 0;
    watch_counts(w, &interests, &dirs);
    CHECK_INT(interests, 3);
    CHECK_INT(dirs, 1); /* one kernel watch serves the directory and both files */

    /* A burst of writes is one delivery. */
    for (int i = 0; i < 5; i++)
        write_file(at("a.lua"), "return 2\n");
    CHECK_INT(settle(loop, &file.count, 1), 1);
    CHECK_STR(file.last, at("a.lua"));
    CHECK_INT(folder.count, 1);
    CHECK_STR(folder.last, at("a.lua"));
    CHECK_INT(missing.count, 0);

    /* An editor's save: write a temporary file, rename it over the original. Twice, to show
     * the watch survives the first replacement. */
    for (int round = 1; round <= 2; round++) {
        reset(&file);
        reset(&folder);
        write_file(at("a.lua.tmp"), "return 3\n");
        CHECK_INT(rename(at("a.lua.tmp"), at("a.lua")), 0);
        CHECK_INT(settle(loop, &file.count, 1), 1);
        CHECK_STR(file.last, at("a.lua"));
        CHECK_INT(folder.count, 2); /* the temporary file, then a.lua */
        CHECK(strstr(folder.all, at("a.lua.tmp")) != NULL);
    }

    /* Deleted, then created again. */
    reset(&file);
    CHECK_INT(unlink(at("a.lua")), 0);
    CHECK_INT(settle(loop, &file.count, 1), 1);
    reset(&file);
    write_file(at("a.lua"), "return 4\n");
    CHECK_INT(settle(loop, &file.count, 1), 1);

    /* A file that did not exist when watched. */
    write_file(at("later.lua"), "return 5\n");
    CHECK_INT(settle(loop, &missing.count, 1), 1);
    CHECK_STR(missing.last, at("later.lua"));

    /* Another file of the directory: the directory interest only. */
    reset(&file);
    reset(&folder);
    write_file(at("notes.txt"), "x");
    settle(loop, &folder.count, 1);
    CHECK_INT(file.count, 0);
    CHECK_INT(folder.count, 1);
    CHECK_STR(folder.last, at("notes.txt"));

    /* A sub-directory deleted and created again is watched again (here the event that brings
     * it back is its creation, seen by the directory interest above). */
    rec sub = {0};
    CHECK_INT(mkdir(at("sub"), 0700), 0);
    write_file(at("sub/x.lua"), "return 1\n");
    settle(loop, &folder.count, 2);
    CHECK_INT(watch_add(w, at("sub/x.lua"), on_change, &sub), 0);
    watch_counts(w, &interests, &dirs);
    CHECK_INT(dirs, 2);
    CHECK_INT(unlink(at("sub/x.lua")), 0);
    CHECK_INT(rmdir(at("sub")), 0);
    settle(loop, &sub.count, 1);
    CHECK(sub.count >= 1);
    reset(&sub);
    int before = folder.count;
    CHECK_INT(mkdir(at("sub"), 0700), 0);
    settle(loop, &folder.count, before + 1); /* the flush that watches sub again */
    write_file(at("sub/x.lua"), "return 2\n");
    CHECK_INT(settle(loop, &sub.count, 1), 1);
    CHECK_STR(sub.last, at("sub/x.lua"));

    /* Callbacks may add interests while the watcher delivers. */
    rec adder = {0};
    reset(&added);
    CHECK_INT(watch_add(w, at("trigger.lua"), add_on_change, &adder), 0);
    write_file(at("trigger.lua"), "x");
    CHECK_INT(settle(loop, &adder.count, 1), 1);
    write_file(at("late.lua"), "x");
    CHECK_INT(settle(loop, &added.count, 1), 1);
    CHECK_STR(added.last, at("late.lua"));

    watch_free(w);
    watch_free(NULL);
    loop_free(loop);

    engine_hooks();
    remove_tree(dir);
    CHECK_DONE();
}
