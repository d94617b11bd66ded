/* Internal header of the Lua bindings: how the binding files find their engine and share
 * tasks and error tables. Bindings convert and yield; the logic they call lives in C layers
 * that know nothing of Lua. */
#ifndef NYX_LNYX_H
#define NYX_LNYX_H

#include "core/host_api.h"
#include "base/rows.h"

#include <lauxlib.h>
#include <lua.h>

#define NYX_TASK_MT "nyx.task"
#define NYX_EVENT_MT "nyx.event"
#define NYX_SESSION_MT "nyx.session"
#define NYX_ERROR_MT "nyx.error"

typedef struct lnyx_task lnyx_task;

/* The engine that this Lua state belongs to. */
nyx_engine *lnyx_engine(lua_State *L);

/* Registers the engine for L's global state (host mode: the engine owns the state). */
void lnyx_bind_engine(lua_State *L, nyx_engine *e);

/* Pushes a nyx error table for err (type, status, message, retryable, request_id, ...) with a
 * metatable whose __tostring gives "where type: message". */
void lnyx_push_error(lua_State *L, const error_info *err);
/* Pushes the text of the value raised at index i: a string as it is, a table without
 * __tostring as "type: message", anything else as tostring says. Never raises: a __tostring
 * that fails gives a text saying so (it runs where an error could not be caught). */
void lnyx_push_error_text(lua_State *L, int i);
/* A call's result as nyx.call returns it (text, model, usage with cost_usd, interaction_id...). */
struct call_outcome;
void lnyx_push_result(lua_State *L, const struct call_outcome *r);
/* Raises a nyx error table; `where` is taken from the calling Lua function. */
int lnyx_raise(lua_State *L, const error_info *err);
/* luaL_checklstring, luaL_checkstring, luaL_optstring, luaL_checknumber, luaL_checktype and
 * luaL_checkudata in Lua's own wording, raised as invalid_argument error tables. */
const char *lnyx_checklstring(lua_State *L, int arg, size_t *len);
#define lnyx_checkstring(L, arg) lnyx_checklstring((L), (arg), NULL)
const char *lnyx_optstring(lua_State *L, int arg, const char *def);
lua_Number lnyx_checknumber(lua_State *L, int arg);
/* A name (of a scope, a profile, a rate-limit key): a non-empty string without NUL bytes,
 * which C would silently cut; what names it in the error. */
const char *lnyx_checkname(lua_State *L, int arg, const char *what);
void lnyx_checktype(lua_State *L, int arg, int t);
void *lnyx_checkudata(lua_State *L, int arg, const char *tname);
/* Raises a nyx error table of type with a formatted message, for failures that have no
 * error_info of their own (out of memory, a wait where none may happen). */
int lnyx_fail(lua_State *L, const char *type, const char *fmt, ...);
/* Raises an invalid_argument error in Lua's own wording: bad argument #arg to 'fname' (msg). */
int lnyx_argerror(lua_State *L, int arg, const char *fmt, ...);
/* Raises an invalid_argument error for a key of the options table at arg that is not one of
 * names[0..n): "unknown option 'budjet_usd'; did you mean 'budget_usd'?", or, for a key that
 * is not a string, "options are named". A misspelt option would otherwise be read as absent:
 * a budget, a schema or a timeout silently not applied. The key is at index key. */
int lnyx_unknown_option(lua_State *L, int arg, int key, const char *const *names, size_t n);
/* Every key of the options table at arg one of names[0..n) (else lnyx_unknown_option). A table
 * with a metatable is not walked: its __index may hold options its keys do not show. */
void lnyx_check_options(lua_State *L, int arg, const char *const *names, size_t n);

/* Rows from a store query appended to the array on top of L's stack, one table per row
 * (integer and real columns as numbers, text as strings, NULL as absent: the types the
 * database gave). ud points to an lnyx_rows. */
typedef struct lnyx_rows {
    lua_State *L;
    int n;
} lnyx_rows;
int lnyx_push_row(void *ud, int ncols, const char *const *names, const char *const *values,
                  const char *types);

/* ---- tasks ---- */

/* Something a task can wait on: a call, a timer, another task, an event. */
typedef struct lnyx_op {
    int done;
    int cancelled;                      /* ended by a task's cancellation */
    lnyx_task *waiter;                  /* the task to resume, or NULL */
    void (*cancel)(struct lnyx_op *op); /* stops the operation; it then completes */
} lnyx_op;

/* Marks op done and resumes its waiter at the end of the loop's turn. */
void lnyx_complete(lnyx_op *op);
/* Waits until op is done: yields when L is a task, otherwise turns the loop until then.
 * Calls k(L, LUA_OK, ctx) once op is done and returns what k returns. */
int lnyx_wait(lua_State *L, lnyx_op *op, lua_KContext ctx, lua_KFunction k);
/* A task waiting on the database (lstore.c). The store answers from the loop, perhaps after
 * the task was cancelled or collected, so the answer lands in memory that the store and the
 * Lua side share; whichever lets go last frees it. */
typedef struct lnyx_store_wait {
    lnyx_op op;
    int holders; /* the Lua side, and the store until it answers */
    int rc;      /* the store's answer: 0, or -1 with err */
    error_info err;
    int64_t id;        /* store_thought_add_async */
    rowset rows; /* store_budget_status_async */
} lnyx_store_wait;
/* Pushes a userdata holding a new wait for the _async store call made next, which holds it (ud)
 * until it answers through one of these done functions; raises out of memory.
 * lnyx_store_not_started: the call returned -1 and will not answer. */
lnyx_store_wait *lnyx_store_wait_new(lua_State *L);
void lnyx_store_not_started(lnyx_store_wait *w);
void lnyx_store_done(void *ud, int rc, int refused, const error_info *err);
void lnyx_store_got_id(void *ud, int rc, int64_t id, const error_info *err);
/* In the wait's continuation: raises cancelled or the store's error, else returns 0. */
int lnyx_store_check(lua_State *L, lnyx_store_wait *w);

/* Raises the "cancelled" error in the waiting task after op was cancelled. */
int lnyx_raise_cancelled(lua_State *L);
/* Runs a function from a callback (stream deltas, log) without yielding. Leaves one value:
 * the function's first result, or the error message when it raised (rc != LUA_OK). */
int lnyx_callback(lua_State *L, int ref, int nargs);
/* lnyx_callback, leaving a raised value as it was raised (not turned into text). */
int lnyx_callback_value(lua_State *L, int ref, int nargs);
/* Starts a task for the function at the top of L with nargs arguments under it. main: its
 * failure stops nyx_poll with NYX_ESCRIPT. Pushes the task object. */
lnyx_task *lnyx_spawn(lua_State *L, int nargs, int main);

/* ---- building values (lpush.c) ---- */

/* t[k] = v on the table at the top of the stack; lnyx_set_str leaves a NULL v out. */
void lnyx_set_int(lua_State *L, const char *k, long long v);
void lnyx_set_num(lua_State *L, const char *k, double v);
void lnyx_set_str(lua_State *L, const char *k, const char *v);
/* Keys set on every one of many tables (a call's result): lua_setfield would find each C
 * string's Lua string again per table (a cache lookup with strcmp, or hashing it anew); a key
 * set names them once and its strings are made once per Lua state, kept in the registry under
 * the set's address. Keys are named by their index in names. */
typedef struct lnyx_keys {
    const char *const *names;
    int n;
} lnyx_keys;
/* Pushes the set's array of key strings; returns its (absolute) stack index. */
int lnyx_push_keys(lua_State *L, const lnyx_keys *ks);
/* t[names[k]] = v on the table at the top of the stack (no metamethods: a table made here);
 * keys: the index lnyx_push_keys returned. lnyx_key_set pops the value on top, above t;
 * lnyx_key_str leaves a NULL v out. */
void lnyx_key_set(lua_State *L, int keys, int k);
void lnyx_key_int(lua_State *L, int keys, int k, long long v);
void lnyx_key_num(lua_State *L, int keys, int k, double v);
void lnyx_key_bool(lua_State *L, int keys, int k, int v);
void lnyx_key_str(lua_State *L, int keys, int k, const char *v);
/* Pushes a zero-filled userdata of size bytes (nuvalue user values) whose metatable tname,
 * made on first use, runs gc when Lua collects it. */
void *lnyx_new_udata(lua_State *L, size_t size, int nuvalue, const char *tname, lua_CFunction gc);
/* The metatable tname (made if new): methods as its __index, gc as its __gc. Leaves the
 * stack as it was. */
void lnyx_new_class(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc);

/* Cancels every task that waits (nyx_stop_scripts); returns how many. */
int lnyx_cancel_tasks(lua_State *L);

/* Behind nyx_load_file, nyx_load_string (host.c) and nyx_stop_scripts (lreload.c). */
int lnyx_load_file(nyx_engine *e, const char *path, int argc, char **argv);
int lnyx_load_string(nyx_engine *e, const char *chunk, const char *name);
void lnyx_stop_scripts(nyx_engine *e);
/* nyx_set "var.NAME" after a script loaded the nyx module: the value joins nyx.vars, which
 * the module built when it was loaded. 0, or -1 out of memory. */
int lnyx_var_added(nyx_engine *e, const char *name, const char *value);

/* Hot reload (lreload.c): records the file of each module `require` loads from a file and,
 * in a host, watches it. Idempotent. */
void lnyx_reload_install(lua_State *L);

/* ---- JSON (ljson.c) ---- */

#include <cjson/cJSON.h>

/* The Lua value at idx as JSON (objects with sorted keys; a 1..n table is an array); skip
 * names a key of the top-level table to leave out, or NULL. field names the value in errors.
 * Raises invalid_argument (a function, NaN, a cycle...) or out_of_memory. */
cJSON *lnyx_to_json(lua_State *L, int idx, const char *field, const char *skip);
/* The same as unformatted text (free with free()). */
char *lnyx_to_json_text(lua_State *L, int idx, const char *field, const char *skip);
/* Pushes v as a Lua value (null: nil). */
void lnyx_push_json(lua_State *L, const cJSON *v);
/* The same, a string of v whose bytes are s itself (the same pointer) pushed as the string
 * at index idx rather than copied again (a reply's text and its text block). */
void lnyx_push_json_sharing(lua_State *L, const cJSON *v, const char *s, int idx);

/* __gc of a userdata holding one cJSON * (freed with it), for trees built across raises. */
int lnyx_json_slot_gc(lua_State *L);

/* The module's entry point (lengine.c): stock lua5.4 finds it by name in core.so. */
NYX_API int luaopen_nyx_core(lua_State *L);

int lnyx_open_json(lua_State *L);    /* adds json_encode, json_decode */
int lnyx_open_tasks(lua_State *L);   /* adds spawn, sleep, event to the table on top */
int lnyx_open_call(lua_State *L);    /* adds call, estimate */
int lnyx_open_batch(lua_State *L);   /* adds batch_open (lbatch.c) */
/* The batch of a handle at idx, or NULL when it is none (lbatch.c). */
struct batch_job *lnyx_batch_of(lua_State *L, int idx);
int lnyx_open_errors(lua_State *L);  /* adds raise */
int lnyx_open_session(lua_State *L); /* adds session, stats */
int lnyx_open_reload(lua_State *L);  /* adds reload */
int lnyx_open_budget(lua_State *L);  /* adds budget, on */
int lnyx_open_templates(lua_State *L); /* adds templates */
int lnyx_open_guard(lua_State *L);   /* adds guard_scan, guard_redact */
int lnyx_open_config(lua_State *L);  /* adds config (get, set, list) */
int lnyx_open_debug(lua_State *L);
int lnyx_open_cost(lua_State *L);   /* adds tokens, price */
int lnyx_open_otel(lua_State *L);    /* adds otel_tool */
int lnyx_open_tools(lua_State *L);   /* adds host_tool, host_tool_call (ltools.c) */
int lnyx_open_audit(lua_State *L);   /* adds audit */   /* adds set_debug_writer */

#endif
