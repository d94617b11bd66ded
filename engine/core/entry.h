/* What engine/api/api.c calls behind nyx.h's entry points: functions over an opaque engine,
 * each doing what nyx.h says of its public twin once api.c has checked the arguments. The
 * api layer includes this and core/host_api.h, never core/engine.h. */
#ifndef NYX_ENTRY_H
#define NYX_ENTRY_H

#include "nyx.h"

#include <stddef.h>

const char *engine_strerror(int code);
nyx_engine *engine_open(char **errmsg);
void engine_close(nyx_engine *e);
int engine_set(nyx_engine *e, const char *key, const char *value);
void engine_set_log(nyx_engine *e, void (*fn)(void *, int, const char *), void *ud);
const char *engine_provider(nyx_engine *e);
int engine_poll(nyx_engine *e, int timeout_ms);
int engine_timeout_ms(nyx_engine *e);
int engine_emergency_stop(nyx_engine *e, const char *reason);
int engine_resume(nyx_engine *e);
int engine_budget_reset(nyx_engine *e, const char *scope);
/* nyx_finish_records: waits for the writes, flushes, spills what still waits (beside a
 * database file, or in NYX_SPILL_DIR for PostgreSQL: pending_spill.h), returns the records
 * lost in all. */
long long engine_finish_records(nyx_engine *e);
int engine_watch_script(nyx_engine *e, const char *path); /* engine_watch.c */
/* templates.c */
int engine_template_render(nyx_engine *e, const char *name, const char *const *vars, char **out,
                           int *version);
int engine_template_get(nyx_engine *e, const char *name, char **text, int *version, char **source);
int engine_template_diff(nyx_engine *e, const char *name, int v1, int v2, char **out);
/* query.c */
int query_run(nyx_engine *e, const char *kind, const char *const *options, nyx_row_fn fn, void *ud);
int query_models_date(nyx_engine *e, const char **date);
/* prune.c */
int engine_prune(nyx_engine *e, const char *before, int dry_run, nyx_row_fn fn, void *ud);
/* progress.c */
int progress_read(nyx_engine *e, nyx_progress_info *out);
void progress_set_output(nyx_engine *e, void (*fn)(void *ud, const char *text, size_t len), void *ud);
size_t versions_text(char *buf, size_t size); /* versions.c */

#endif
