#define _DEFAULT_SOURCE /* inotify_init1 flags, realpath */
#include "watch.h"
#include "base/array.h"

#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a directory watch reports: entries written, created, moved in or out, deleted, and the
 * directory itself going away. IN_MODIFY is left out on purpose: IN_CLOSE_WRITE ends a write,
 * and a burst of IN_MODIFY would only restart the debounce. */
#define DIR_MASK                                                                                  \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |      \
     IN_MOVE_SELF | IN_ONLYDIR)

/* A burst that never goes quiet is still delivered after this many debounce delays. */
#define MAX_DELAYS 10

typedef struct wdir {
    int wd;     /* -1 while not watched (the directory was deleted or moved away) */
    char *real; /* its absolute path, to watch it again */
    int refs;   /* interests that use it */
} wdir;

typedef struct interest {
    char *path; /* as given to watch_add */
    char *name; /* a file interest: its name in dir; NULL: the whole directory */
    wdir *dir;
    watch_fn fn;
    void *ud;
    int pending;  /* a file interest changed since the last delivery */
    char **names; /* a directory interest: entries changed since the last delivery */
    size_t nnames, capnames;
} interest;

struct file_watch {
    event_loop *loop;
    int fd;
    double debounce_s;
    wdir **dirs;
    size_t ndirs, capdirs;
    interest **items;
    size_t nitems, capitems;
    loop_timer *timer;
    int64_t burst_us; /* when the pending burst began */
    int lost_dirs;    /* some directory has wd == -1 */
};

/* ---- directories ---- */

static wdir *find_wd(file_watch *w, int wd)
{
    for (size_t i = 0; i < w->ndirs; i++)
        if (w->dirs[i]->wd == wd)
            return w->dirs[i];
    return NULL;
}

static wdir *get_dir(file_watch *w, const char *path)
{
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    for (size_t i = 0; i < w->ndirs; i++)
        if (strcmp(w->dirs[i]->real, real) == 0) {
            free(real);
            w->dirs[i]->refs++;
            return w->dirs[i];
        }
    wdir **dirs = array_room(w->dirs, w->ndirs, &w->capdirs, sizeof *dirs, 8);
    if (!dirs) {
        free(real);
        errno = ENOMEM;
        return NULL;
    }
    w->dirs = dirs;
    wdir *d = calloc(1, sizeof *d);
    if (!d) {
        free(real);
        errno = ENOMEM;
        return NULL;
    }
    d->wd = inotify_add_watch(w->fd, real, DIR_MASK);
    if (d->wd < 0) {
        int saved = errno;
        free(real);
        free(d);
        errno = saved;
        return NULL;
    }
    d->real = real;
    d->refs = 1;
    w->dirs[w->ndirs++] = d;
    return d;
}

/* ---- interests ---- */

static void free_interest(interest *it)
{
    for (size_t i = 0; i < it->nnames; i++)
        free(it->names[i]);
    free(it->names);
    free(it->path);
    free(it->name);
    free(it);
}

static void add_name(interest *it, const char *name)
{
    for (size_t i = 0; i < it->nnames; i++)
        if (strcmp(it->names[i], name) == 0)
            return;
    char **n = array_room(it->names, it->nnames, &it->capnames, sizeof *n, 4);
    if (!n)
        return; /* this entry's change is lost; the next one is not */
    it->names = n;
    char *copy = strdup(name);
    if (copy)
        it->names[it->nnames++] = copy;
}

/* Marks every interest of d (all of them when d is NULL) as changed: their directory went
 * away, or the kernel's queue overflowed. A directory interest reports its own path. */
static void mark_all(file_watch *w, const wdir *d)
{
    for (size_t i = 0; i < w->nitems; i++) {
        interest *it = w->items[i];
        if (d && it->dir != d)
            continue;
        if (it->name)
            it->pending = 1;
        else
            add_name(it, "");
    }
}

/* ---- delivery ---- */

static void deliver_dir(interest *it)
{
    char **names = it->names;
    size_t n = it->nnames;
    it->names = NULL;
    it->nnames = it->capnames = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(it->path) + strlen(names[i]) + 2;
        char *full = malloc(len);
        if (full) {
            if (names[i][0])
                snprintf(full, len, "%s/%s", it->path, names[i]);
            else
                snprintf(full, len, "%s", it->path);
            it->fn(it->ud, full);
            free(full);
        }
        free(names[i]);
    }
    free(names);
}

static void flush(void *ud)
{
    file_watch *w = ud;
    w->timer = NULL;
    if (w->lost_dirs) {
        /* A directory that was replaced (or came back) is watched again. */
        w->lost_dirs = 0;
        for (size_t i = 0; i < w->ndirs; i++) {
            wdir *d = w->dirs[i];
            if (d->wd < 0 && (d->wd = inotify_add_watch(w->fd, d->real, DIR_MASK)) < 0)
                w->lost_dirs = 1;
        }
    }
    /* Callbacks may add interests: the array may move, index it each time. */
    for (size_t i = 0; i < w->nitems; i++) {
        interest *it = w->items[i];
        if (it->name && it->pending) {
            it->pending = 0;
            it->fn(it->ud, it->path);
        } else if (!it->name && it->nnames > 0) {
            deliver_dir(it);
        }
    }
}

static void schedule(file_watch *w)
{
    int64_t now = clock_now_us();
    if (!w->timer)
        w->burst_us = now;
    int64_t due = now + (int64_t)(w->debounce_s * 1e6);
    int64_t latest = w->burst_us + (int64_t)(MAX_DELAYS * w->debounce_s * 1e6);
    if (due > latest)
        due = latest;
    loop_timer_cancel(w->loop, w->timer);
    /* A background timer: a pending delivery does not keep nyx_poll busy. */
    w->timer = loop_timer_add_background(w->loop, (double)(due - now) / 1e6, flush, w);
}

/* Returns 1 when the event concerns some interest. */
static int handle(file_watch *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        mark_all(w, NULL);
        return 1;
    }
    wdir *d = find_wd(w, ev->wd);
    if (!d)
        return 0;
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
        /* A moved directory would still be followed under its new name: stop that. */
        if (ev->mask & IN_MOVE_SELF)
            inotify_rm_watch(w->fd, d->wd);
        d->wd = -1;
        w->lost_dirs = 1;
        mark_all(w, d);
        return 1;
    }
    if (ev->len == 0 || !ev->name[0])
        return 0;
    int hit = 0;
    for (size_t i = 0; i < w->nitems; i++) {
        interest *it = w->items[i];
        if (it->dir != d)
            continue;
        if (!it->name) {
            add_name(it, ev->name);
            hit = 1;
        } else if (strcmp(it->name, ev->name) == 0) {
            it->pending = 1;
            hit = 1;
        }
    }
    return hit;
}

static void on_readable(void *ud)
{
    file_watch *w = ud;
    union {
        struct inotify_event ev; /* aligns the buffer for the events in it */
        char buf[8192];
    } u;
    int hit = 0;
    for (;;) {
        ssize_t n = read(w->fd, u.buf, sizeof u.buf);
        if (n <= 0)
            break; /* EAGAIN: drained */
        for (char *p = u.buf; p < u.buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            hit |= handle(w, ev);
            p += sizeof *ev + ev->len;
        }
    }
    if (hit)
        schedule(w);
}

/* ---- public ---- */

file_watch *watch_new(event_loop *loop, double debounce_s)
{
    file_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->loop = loop;
    w->debounce_s = debounce_s > 0 ? debounce_s : 0.05;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        int saved = errno;
        free(w);
        errno = saved;
        return NULL;
    }
    if (loop_watch_fd(loop, w->fd, on_readable, w) != 0) {
        close(w->fd);
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    return w;
}

void watch_free(file_watch *w)
{
    if (!w)
        return;
    loop_unwatch_fd(w->loop, w->fd);
    loop_timer_cancel(w->loop, w->timer);
    close(w->fd); /* removes every kernel watch */
    for (size_t i = 0; i < w->nitems; i++)
        free_interest(w->items[i]);
    free(w->items);
    for (size_t i = 0; i < w->ndirs; i++) {
        free(w->dirs[i]->real);
        free(w->dirs[i]);
    }
    free(w->dirs);
    free(w);
}

static interest *find_interest(file_watch *w, const char *path, watch_fn fn, void *ud)
{
    for (size_t i = 0; i < w->nitems; i++) {
        interest *it = w->items[i];
        if (it->fn == fn && it->ud == ud && strcmp(it->path, path) == 0)
            return it;
    }
    return NULL;
}

int watch_add(file_watch *w, const char *path, watch_fn fn, void *ud)
{
    if (!w || !path || !*path || !fn) {
        errno = EINVAL;
        return -1;
    }
    if (find_interest(w, path, fn, ud))
        return 0;
    interest **items = array_room(w->items, w->nitems, &w->capitems, sizeof *items, 16);
    if (!items) {
        errno = ENOMEM;
        return -1;
    }
    w->items = items;
    interest *it = calloc(1, sizeof *it);
    if (!it || !(it->path = strdup(path))) {
        free(it);
        errno = ENOMEM;
        return -1;
    }
    struct stat st;
    char *dirpath = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        dirpath = strdup(path);
    } else {
        /* A file, present or not: watched through its directory, by name. */
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        if (!*base) {
            free_interest(it);
            errno = ENOTDIR;
            return -1;
        }
        if (!(it->name = strdup(base))) {
            free_interest(it);
            errno = ENOMEM;
            return -1;
        }
        dirpath = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    }
    if (!dirpath) {
        free(dirpath);
        free_interest(it);
        errno = ENOMEM;
        return -1;
    }
    it->dir = get_dir(w, dirpath);
    int saved = errno;
    free(dirpath);
    if (!it->dir) {
        free_interest(it);
        errno = saved;
        return -1;
    }
    it->fn = fn;
    it->ud = ud;
    w->items[w->nitems++] = it;
    return 0;
}

void watch_counts(const file_watch *w, int *interests, int *directories)
{
    if (interests)
        *interests = w ? (int)w->nitems : 0;
    if (directories)
        *directories = w ? (int)w->ndirs : 0;
}
