/* The template library of an engine: finds templates by name, keeps them compiled, knows the
 * version of each content, renders them (partials through the library too), chooses among a
 * template's versions by how they did, and records how each version did.
 *
 * Lookup of NAME (a template "NAME.md"), first match wins:
 *   1. ./templates
 *   2. each directory of NYX_TEMPLATE_PATH (colon-separated; the engine's cfg.template_path)
 *   3. the source tree's templates/ (NYX_SOURCE_TEMPLATES_DIR), then the installed one
 *      (NYX_INSTALL_TEMPLATES_DIR)
 *   4. the database: the latest version stored under NAME (nyx.templates.create, or a file
 *      seen earlier and since removed).
 * "NAME@V" is version V as stored in the database (prompt_templates).
 *
 * Versions: every distinct content seen (a file, a create) is recorded with
 * store_template_put, keyed by its hash (template_hash, 16 hex digits): an unchanged file
 * keeps its version, a changed one gets the next. A file is re-read when its size, mtime or
 * inode changed (one stat per directory searched, on each use), when the hot-reload watcher
 * says so (e->on_template_change), and while its mtime is too recent to tell two writes in
 * the same clock tick apart. An edit that does not parse keeps the previous version serving
 * and is reported once (engine_warn_once) with its file:line.
 * Without a database (none configured, or it failed to open) templates still render, with
 * version 0 ("not versioned"), and that is said once.
 *
 * Usage: calls made with template= record a use per version (templates_call_finished);
 * templates_record adds a script's judgement: of the use recorded just before by a call made
 * with template= (its outcome replaced, not a second use), else a use of its own.
 * templates_pick chooses a version (Thompson sampling on the success rate with a cost
 * penalty, plus a fixed share of uniform exploration); its choice is kept in memory only, as
 * the version last used of that name, which a later record or template= call credits.
 *
 * Logic only: nothing here knows Lua. All functions take the engine; the library is created
 * on first use and freed by nyx_close (templates_free). Errors fill err with a type:
 * "invalid_argument" (bad name, syntax error, missing required variable with file:line),
 * "not_found" (no such template or version), "store_error", "out_of_memory". */
#ifndef NYX_TEMPLATE_LIBRARY_H
#define NYX_TEMPLATE_LIBRARY_H

#include "claude/types.h"
#include "store/store.h"
#include "template.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tpl_library tpl_library;

/* What the library asks of its owner, and nothing more: the database (opened on first use;
 * NULL, with *why saying why, when there is none) and a place for warnings that are said once
 * per key (the engine's log). */
typedef struct tpl_host {
    void *ud;
    store_db *(*store)(void *ud, const char **why);
    void (*warn_once)(void *ud, const char *key, const char *message);
} tpl_host;

/* Longest template name accepted (bytes, without "@V"). */
#define TEMPLATES_MAX_NAME 128

/* Creates a library searching "./templates", then each directory of path (colon-separated;
 * may be NULL), then the source tree's and the installed templates. seed seeds
 * templates_pick. NULL with err when out of memory. */
tpl_library *templates_new(const tpl_host *host, const char *path, uint64_t seed, error_info *err);

/* The hot-reload watcher saw path change: a NAME.md is looked at again on its next use. */
void templates_changed(tpl_library *lib, const char *path);

/* Frees the library and every template it holds; NULL does nothing. Called by nyx_close. */
void templates_free(tpl_library *lib);

/* Seeds the generator templates_pick uses (by default the seed templates_new was given),
 * so a test sees the same choices every run. */
void templates_seed(tpl_library *lib, uint64_t seed);

/* What templates_get found. The pointers belong to the library and stay valid until the next
 * templates_* call on the engine. */
typedef struct tpl_info {
    const char *name;         /* the name, without "@V" */
    int version;              /* >= 1; 0 when there is no database to version it */
    const char *source;       /* the file's path, or "database" */
    const template_def *t;    /* the compiled template */
} tpl_info;

/* Finds "NAME" (the current content, recording its version) or "NAME@V" (from the database).
 * Returns 0 with *out filled, or -1 with err. */
int templates_get(tpl_library *lib, const char *spec, tpl_info *out, error_info *err);

/* Renders "NAME" or "NAME@V" with vars (a map, or NULL). Partials {{> other}} resolve through
 * the library; variables given but not declared are reported once each through the engine's
 * log. The version rendered becomes the version last used of NAME.
 * Returns 0 with *out (free with free()), *len and *version (may be NULL), or -1 with err. */
int templates_render(tpl_library *lib, const char *spec, const tvalue *vars, char **out,
                     size_t *len, int *version, error_info *err);

/* Stores text as a version of name in the database, after checking that it parses. The same
 * text as an existing version gives that version back. The database copy serves "NAME" only
 * when no template directory holds NAME.md. Returns 0 with *version, or -1 with err. */
int templates_create(tpl_library *lib, const char *name, const char *text, size_t len,
                     int *version, error_info *err);

/* Chooses one of the versions stored for name (its current content is stored first) and
 * makes it the version last used of name. Returns 0 with *version, or -1 with err. */
int templates_pick(tpl_library *lib, const char *name, int *version, error_info *err);

/* Records a script's judgement of one use of "NAME@V", or of "NAME" meaning the version last
 * rendered or picked for NAME in this engine (an error when there is none).
 *   success: 1 success, 0 failure */
int templates_record(tpl_library *lib, const char *spec, int success, error_info *err);

/* The version last rendered or picked for name in this engine; 0 when none. */
int templates_last_version(tpl_library *lib, const char *name);

/* For the call pipeline, when a call made with template= names no model: the model hint of
 * the version the call will be credited to ("NAME@V", else the version last rendered or
 * picked, else the current one), as a new string; NULL when it has none or the template
 * cannot be found (the call then uses the default model). */
char *templates_model_for_call(tpl_library *lib, const char *name, int version);

/* For the call pipeline, when a call made with template= finishes: records one use of the
 * template's version (tokens, cost, latency, cache hit) in template_usage. name may be
 * "NAME@V": the "@V" is cut off in place, so the caller's log row and statistics carry NAME
 * and the version apart. With version <= 0 (and no "@V"), the version last used of NAME in
 * this engine is credited, else NAME's current version. Failures are reported once through
 * the log, never returned: accounting must not fail a call.
 *   success: 1 the call succeeded, 0 it failed, -1 unknown (cancelled)
 *   u: may be NULL; input tokens counted are input + cache write + cache read
 *   cost_usd, latency_ms: < 0 counts as 0
 * Returns the version credited (for the interaction's log row), 0 when none was. */
int templates_call_finished(tpl_library *lib, char *name, int version, int success,
                            const claude_usage *u, double cost_usd, double latency_ms,
                            int cache_hit);

/* ---- listings for the command line (rows as store_row_fn: names and text values) ---- */

/* One row per template name found in the template directories or the database, by name:
 * name, version (current), versions (stored), source (path or "database"), description
 * ("error: ..." when the current file does not parse and nothing older serves). */
int templates_list(tpl_library *lib, store_row_fn fn, void *ud, error_info *err);

/* store_template_history for name, after recording its current content, with a column
 * "current" ("*" on the version that "NAME" serves now). */
int templates_history(tpl_library *lib, const char *name, store_row_fn fn, void *ud,
                      error_info *err);

/* store_template_stats for name, after recording its current content. */
int templates_stats(tpl_library *lib, const char *name, store_row_fn fn, void *ud,
                    error_info *err);

/* A line diff of name@v1 against name@v2 in unified style: "--- name@v1", "+++ name@v2",
 * then hunks "@@ -a,b +c,d @@" of " " (context), "-" and "+" lines. Empty hunks when equal.
 * Returns the text (free with free()), or NULL with err. */
char *templates_diff(tpl_library *lib, const char *name, int v1, int v2, error_info *err);

/* The diff itself, on two texts (diff.c). Returns the text (free()), NULL when out of memory. */
char *text_diff(const char *a, const char *b, const char *label_a, const char *label_b);

/* Builds a map from "key=value" strings (NULL-terminated list); a key given more than once
 * becomes a list of its values, in order. Returns the map (tvalue_free), or NULL with err. */
tvalue *templates_vars_from_pairs(const char *const *pairs, error_info *err);

#endif
