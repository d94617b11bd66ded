/* The template library's state, shared by library.c (lookup, cache, render) and
 * library_pick.c (choosing and recording). Nothing outside engine/template includes this. */
#ifndef NYX_TEMPLATE_LIBRARY_INT_H
#define NYX_TEMPLATE_LIBRARY_INT_H

#include "library.h"
#include "template_int.h"

#include <sys/types.h>
#include <time.h>

/* One template the library holds: the current content of a name, or a pinned NAME@V. */
typedef struct tpl_entry {
    char *name;
    int version;     /* 0: not versioned (no database) */
    int pinned;      /* NAME@V from the database: never changes */
    char *path;      /* the file it was read from; NULL when from the database */
    dev_t dev;       /* the file as it was when read */
    ino_t ino;
    off_t size;
    time_t mtime_s;
    long mtime_ns;
    int racy;        /* modified close to when it was read: compare the bytes on next use */
    int stale;       /* the hot-reload watcher reported a change */
    template_def *t;
} tpl_entry;

typedef struct last_use {
    char *name;
    int version;
    /* The last use recorded since then by a call made with template= (the one a judgement
     * annotates): its version and outcome (1, 0, -1). */
    int has_use, use_version, use_outcome;
} last_use;

struct tpl_library {
    tpl_host host;
    char **dirs;          /* the search path, in order */
    size_t ndirs;
    size_t path_first, path_end; /* dirs[path_first..path_end) are NYX_TEMPLATE_PATH's */
    int path_checked;     /* those were looked at (templates_check_path) */
    tpl_entry **entries;
    size_t n, cap;
    template_def **retired; /* replaced while a render was running: freed when it ends */
    size_t nretired, capretired;
    int rendering;
    last_use *last;       /* the version last rendered or picked, per name */
    size_t nlast;
    uint64_t rng;         /* templates_pick's generator (splitmix64) */
    int store_failed;     /* the database could not be opened: do not try again */
    error_info partial_err; /* why a partial could not be resolved during the render */
    int partial_failed;
};

/* The owner's database, opened on first use; NULL (said once) when unavailable. */
store_db *templates_store(tpl_library *lib);
/* Splits "NAME" or "NAME@V" into name (size bytes) and *version (0 without "@V"), checking
 * the name. Returns 0 or -1 with err "invalid_argument". */
int templates_parse_spec(const char *spec, char *name, size_t size, int *version,
                         error_info *err);
/* Says once, through the host's log, each directory of NYX_TEMPLATE_PATH that is not one; at
 * the first lookup or listing, not at templates_new: the engine creates the library while it
 * opens, before its host has set where notices go. */
void templates_check_path(tpl_library *lib);
/* The entry serving spec, loaded or refreshed as needed. Returns 0 or -1 with err. */
int templates_resolve(tpl_library *lib, const char *spec, tpl_entry **out, error_info *err);
/* Says a warning once per key through the owner's log (printf-style). */
void templates_warn(tpl_library *lib, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* err "out_of_memory", "out of memory <what>" ("caching a template"); returns -1. */
int templates_oom(error_info *err, const char *what);
void templates_set_last(tpl_library *lib, const char *name, int version);
/* The entry of name in lib->last, created (version 0) when missing; NULL out of memory. */
last_use *templates_last_entry(tpl_library *lib, const char *name);

#endif
