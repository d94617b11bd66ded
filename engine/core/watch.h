/* A file watcher on inotify, driven by the engine's loop: no polling of the disk.
 *
 * A caller registers interest in a file or a directory with a callback. The watcher puts one
 * inotify watch on each directory involved (a file is watched through its directory, so a file
 * that an editor replaces by rename, or deletes and creates again, stays watched without a new
 * watch), gathers the events of a burst, and once the burst has been quiet for the debounce
 * delay calls each interested callback once per changed path, from a loop timer: never inside
 * a network callback. A watched directory that is itself deleted or moved is watched again at
 * the next delivery if its path exists by then. Linux only (inotify). */
#ifndef NYX_WATCH_H
#define NYX_WATCH_H

#include "loop.h"

typedef struct file_watch file_watch;

/* A watched path changed (written and closed, created, moved in, deleted or moved away).
 * path: for a file interest the path as given to watch_add; for a directory interest that
 * path, "/", and the changed entry's name. Valid only during the call. The callback may add
 * interests. */
typedef void (*watch_fn)(void *ud, const char *path);

/* A watcher whose descriptor is watched by loop; debounce_s <= 0 picks 0.05 s.
 * Returns NULL when inotify is unavailable (errno says why) or out of memory. */
file_watch *watch_new(event_loop *loop, double debounce_s);

/* Stops watching and frees everything; no callback runs after it. NULL does nothing. */
void watch_free(file_watch *w);

/* Calls fn(ud, path) after path changes. path names a directory (every entry directly in it
 * is watched, not sub-directories) or a file, which need not exist yet but whose directory
 * must. Adding the same path, fn and ud twice adds one interest.
 * Returns 0, or -1 with errno (ENOENT: no such directory; ENOSPC: inotify's watch limit). */
int watch_add(file_watch *w, const char *path, watch_fn fn, void *ud);

/* Number of interests and of kernel watches (one per directory), for tests and statistics. */
void watch_counts(const file_watch *w, int *interests, int *directories);

/* ---- the engine's watcher (engine_watch.c) ---- */

struct nyx_engine;

/* The engine's watcher, created on first use. NULL when hot reload is off (nyx_set "reload"
 * "0") or inotify is unavailable, which is said once through the engine's log. */
file_watch *engine_watch(struct nyx_engine *e);

/* Watches ./templates and each directory of NYX_TEMPLATE_PATH that exists: a change calls
 * e->on_template_change when set. Idempotent. */
void engine_watch_templates(struct nyx_engine *e);

/* Something a script depends on changed: when the host asked (nyx_watch_script), the next
 * nyx_poll returns NYX_CHANGED. */
void engine_note_change(struct nyx_engine *e, const char *path);

/* The timeout nyx_poll may wait: watched descriptors alone do not make it wait, unless the
 * host waits for changes (nyx_watch_script). */
int engine_poll_wait(struct nyx_engine *e, int timeout_ms);

#endif
