/*
 * nyx.h — the public face of libnyx: an engine that calls the Claude Messages API with
 * prompt caching, exact cost accounting, retries and durable logging, and hosts Lua 5.4
 * scripts that orchestrate it.
 *
 * A host creates one engine, loads a script, and then either calls nyx_run() (blocking until
 * the script is done) or calls nyx_poll() from its own frame loop, which never blocks longer
 * than asked. Every function reports failure as a value; the engine never prints or exits.
 *
 * Threads. libnyx is single-threaded today: call nyx_open and every function that takes an
 * engine from one thread, the one that opened it; the host's callbacks (log, output, debug
 * writer, tools, query rows) run on that thread, inside the call that causes them: from one,
 * nyx_poll and nyx_run return NYX_EINVAL (the engine is in the middle of a turn), so does
 * a load from the log function while the engine starts (nyx_provider says "none" there), and
 * so does nyx_close, which closes nothing there (the engine is below the function, in use).
 * Engines on two threads at once are not supported (nyx_open sets up libcurl, whose global
 * setup is not thread-safe in every version). The exceptions say so where they are declared:
 * nyx_strerror and nyx_free may be called from any thread, nyx_interrupt from a signal
 * handler or any thread while the engine is open, and the simulator's nyx_sim_*
 * from any thread, each nyx_sim from one at a time. nyx_versions takes no engine but is not
 * thread-safe (libcurl and cJSON fill static buffers).
 */
#ifndef NYX_H
#define NYX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Only the functions marked NYX_API are exported from the shared library; everything else in
 * libnyx is internal and may change between any two versions. */
#if defined(__GNUC__) || defined(__clang__)
#define NYX_API __attribute__((visibility("default")))
#else
#define NYX_API
#endif

#define NYX_VERSION "0.1.0"
#define NYX_VERSION_NUM 0x000100 /* 0xMMmmpp */

typedef struct nyx_engine nyx_engine;

/* Result codes. */
enum nyx_code {
    NYX_OK = 0,     /* success; from nyx_poll: all scripts finished, nothing in flight */
    NYX_AGAIN,      /* from nyx_poll: work remains, call again */
    NYX_EINVAL,     /* a bad argument or option value */
    NYX_ENOMEM,     /* out of memory */
    NYX_ECONFIG,    /* the environment or configuration is malformed */
    NYX_ESCRIPT,    /* a script failed: nyx_errmsg() has file:line and a traceback */
    NYX_EIO,        /* a file, database or network resource failed */
    NYX_EDEADLOCK,  /* scripts are waiting on something that can never happen */
    NYX_CHANGED,    /* from nyx_poll: a file nyx_watch_script() watches changed */
    NYX_CODE_LAST   /* sentinel */
};

/* Writes the versions of the libraries this build runs on (libcurl with its TLS library,
 * SQLite, Lua, cJSON, libmicrohttpd, libpq, xxHash) into buf, like snprintf: returns the
 * length the whole text needs; buf holds at most size - 1 of it and a NUL (none when buf is
 * NULL). Not thread-safe: one thread at a time. */
NYX_API size_t nyx_versions(char *buf, size_t size);

/* Starts a budget scope's spending again from 0 ("session:NAME", "agent:NAME",
 * "agent:NAME/2026-12-06", "day:2026-12-06", ...: the names `nyx budget` lists), for every
 * process on the database; reservations still pending stay, and the reset is audited.
 * Returns NYX_OK, NYX_EINVAL when the database has no such scope, NYX_EIO (nyx_errmsg). */
NYX_API int nyx_budget_reset(nyx_engine *engine, const char *scope);

/* Fixed text for a result code. Any thread. */
NYX_API const char *nyx_strerror(int code);

/* Where text[0..len) stops being UTF-8, which every text nyx sends must be (a request is JSON,
 * which the API reads only as UTF-8; nyx refuses a call whose text is not, naming the field):
 * the offset of the first byte that begins no well-formed sequence (RFC 3629: no overlong
 * form, no surrogate, nothing above U+10FFFF, none cut short at the end), or -1 when every byte
 * does, and for NULL. A host can check what it passes in first. Any thread. */
NYX_API long nyx_utf8_check(const char *text, /* the bytes; a NUL among them is U+0000 */
                            size_t len        /* how many */
);

/* Writes v as nyx writes a number in JSON (request bodies, stored replies, nyx.json_encode, the
 * command line's output): the fewest of 15, 16 or 17 significant digits that read back as the
 * same double ("0.1", "0.30000000000000004", "1e+21"), into buf, NUL-terminated; 32 bytes are
 * always enough. Returns the text's length, or -1 when v is not finite (JSON has no such
 * number), buf is NULL or size is too small. Any thread. */
NYX_API int nyx_json_number(double v,   /* the number */
                            char *buf,  /* where its text goes */
                            size_t size /* buf's size in bytes */
);

/*
 * Creates an engine configured from the environment (ANTHROPIC_API_KEY, NYX_DB, ...).
 * Returns NULL on failure and, when errmsg is not NULL, a message to free with nyx_free().
 */
NYX_API nyx_engine *nyx_open(char **errmsg /* error message written here */);

/* Cancels what is in flight, records it, and frees everything: NYX_OK (also for NULL, which
 * does nothing). From inside a function the engine runs (the log, output or debug writer
 * function, a tool's function, a query's row function) it returns NYX_EINVAL and frees
 * nothing, the engine being in the middle of the call that ran it (nyx_errmsg says so; the
 * work goes on): a host that decides there to quit sets a flag, and closes the engine after
 * that call (nyx_poll, nyx_run, nyx_query, ...) returned. */
NYX_API int nyx_close(nyx_engine *engine);

/*
 * The end of a run's records: waits (10 s at most) for the writes on their way to the
 * database, makes one last try to write the records that wait in memory for it (storage was
 * down or locked), and spills those still waiting, durably, for the next engine on this
 * machine that opens the database to write in: to "<database>-pending" beside a SQLite file
 * database (with its permission bits), or for PostgreSQL to a file in NYX_SPILL_DIR (default
 * $XDG_STATE_HOME/nyx, else ~/.local/state/nyx) named by a hash of the connection target,
 * never its password. A call still waiting for its record (strict durability) fails with
 * store_error saying where the record went. Returns how many records were lost in all: never
 * written because the queue overflowed, or still waiting for a database that has no spill
 * (":memory:") or whose spill file could not be written. Those are reported through the log function and, when the database takes it, in an
 * audit event ("records_lost"). A host that must not lose records calls it before nyx_close
 * and treats a count above 0 as a failure (`nyx run` exits 1). From inside a function the
 * engine runs (the log or output function, a tool's) it waits for the database alone, on
 * PostgreSQL as on SQLite: no timer fires, no script or tool runs under it.
 */
NYX_API long long nyx_finish_records(nyx_engine *engine);

/*
 * Sets an option before the engine starts, which the first nyx_load_file, nyx_load_string,
 * nyx_poll, nyx_run or nyx_provider does. Keys: "db" (database path or URI), "provider"
 * ("sim" or "anthropic"), "base_url", "api_key", "lua_path" (extra Lua search path), "debug"
 * ("0"/"1"), "reload" (a boolean, on by default; "0", "false" or "off" turns hot reload off:
 * no file is watched), "read_only" (a boolean, off by default; on: the engine opens its
 * database to read it, and makes no tables where there are none: a PostgreSQL database that
 * does not hold nyx's tables fails to open, NYX_EIO, "no database at ...", rather than being
 * given them; a SQLite file opens as ever, so check that it exists; nyx's commands that only
 * read set it), and at any time "var.NAME" (a value scripts read as nyx.vars.NAME, at
 * once, scripts already loaded too; a NAME set twice holds the list of its values).
 * Returns NYX_OK or NYX_EINVAL (nyx_errmsg says why).
 */
NYX_API int nyx_set(nyx_engine *engine, const char *key, const char *value);

/*
 * Loads a Lua script and starts it as a task; it runs until its first wait. argc/argv become
 * the script's `arg` table. Returns NYX_OK, or NYX_ESCRIPT / NYX_EIO with nyx_errmsg(), or
 * NYX_ECONFIG when the engine cannot start (the first load starts it: the provider, its key
 * and URL, the network settings; nyx_errmsg says which).
 */
NYX_API int nyx_load_file(nyx_engine *engine, const char *path, int argc, char **argv);

/* As nyx_load_file, for a chunk held in memory; name appears in error messages. */
NYX_API int nyx_load_string(nyx_engine *engine, const char *chunk, const char *name);

/*
 * One bounded turn of the engine: waits at most timeout_ms for network, timers and watched
 * files, then resumes the scripts that can go on. With timeout_ms 0 (a host's frame; a
 * negative one is 0: there is no "wait forever", as poll(2) has) it does not wait, and starts
 * no more work once 400 us have passed, leaving the rest for the next call (nyx_timeout_ms()
 * is 0 then); one piece of work always runs.
 * Returns NYX_AGAIN while scripts or requests remain, NYX_OK when everything finished,
 * NYX_ESCRIPT when a script task failed (the others keep running; call again to go on),
 * NYX_CHANGED once after a file that nyx_watch_script() watches changed (work may remain),
 * NYX_ECONFIG when the engine cannot start (as nyx_load_file), NYX_EDEADLOCK when tasks wait
 * on something that can never happen, NYX_EIO when the network layer failed.
 */
NYX_API int nyx_poll(nyx_engine *engine, int timeout_ms);

/*
 * For a host with its own poller (select, poll, epoll, a game engine's event loop): a
 * descriptor that becomes readable whenever the engine has work (a network answer, a watched
 * file, a database reply), and the milliseconds until its next timer is due (0: now; -1: no
 * timer). Wait on both, then call nyx_poll(engine, 0); ask for the timeout again after each
 * turn, as it changes. The descriptor stays the same until nyx_close(); never read from it.
 * Returns -1 from nyx_fd only for a NULL engine.
 */
NYX_API int nyx_fd(nyx_engine *engine);
NYX_API int nyx_timeout_ms(nyx_engine *engine);

/*
 * Tools implemented by the host. A registered tool is named in any script's tool list as a
 * string (nyx.call{tools = {"move", ...}}, or a template's `tools:`), beside tools defined in
 * Lua with nyx.tool (a Lua tool of the same name wins). When the model asks for it, fn runs
 * inside a later nyx_poll, on the host's thread and with no script running, and gets the call's
 * id and its input as a JSON object. fn may answer at once or keep the id and answer in a later
 * frame with nyx_tool_result (a game finishes an action over several frames); meanwhile
 * nyx_poll returns NYX_AGAIN and the script's tool loop waits. A call whose script is cancelled
 * or stopped is forgotten: nyx_tool_result for it returns NYX_EINVAL. nyx_poll from fn returns
 * NYX_EINVAL.
 */
typedef void (*nyx_tool_fn)(void *ud,              /* passed to nyx_tool_register */
                            nyx_engine *engine,
                            long long call,        /* the call's id, for nyx_tool_result */
                            const char *input_json /* the model's input, valid during fn */);

/*
 * Registers a tool under name (^[a-zA-Z0-9_-]{1,64}$, the API's rule). schema_json is its input
 * as a JSON Schema of "type": "object" (NULL: no input); a top-level "description" in it is the
 * tool's description, which the model reads to choose it.
 * Returns NYX_OK, or NYX_EINVAL (a NULL name or fn, a name the API refuses, schema_json not
 * JSON or not an object schema, a name already registered; nyx_errmsg names the field) or
 * NYX_ENOMEM.
 */
NYX_API int nyx_tool_register(nyx_engine *engine, const char *name, const char *schema_json, nyx_tool_fn fn,
                              void *ud /* passed back to fn */);

/*
 * Answers a call of a host tool, from fn or in any later frame. content is what the model
 * reads (text; JSON is fine); is_error non-zero makes it a tool_result with is_error, which the
 * model reads as a failure. The script resumes at the next nyx_poll (or this one, when called
 * from fn). Returns NYX_OK, or NYX_EINVAL when no call of that id waits (answered already,
 * cancelled, never made).
 */
NYX_API int nyx_tool_result(nyx_engine *engine, long long call, const char *content /* NULL: "" */,
                            int is_error);

/* Loops over nyx_poll (each turn waiting up to a second) until it returns anything but
 * NYX_AGAIN, and returns that: NYX_OK when everything finished, NYX_ESCRIPT when a script
 * failed (call again to go on with the others), NYX_CHANGED after a watched file changed
 * (nyx_watch_script), or nyx_poll's failures (NYX_ECONFIG, NYX_EDEADLOCK, NYX_EIO). */
NYX_API int nyx_run(nyx_engine *engine);

/*
 * Hot reload. While a script runs, the engine watches every Lua module it loaded from a file
 * (and ./templates): an edited module is loaded again and its table updated in place, so the
 * next use sees the new functions, while sessions, budgets, statistics, breaker and cache
 * state stay as they were. An edit that fails to load leaves the old version serving and is
 * reported once, with file and line, through the log function (nyx_set_log).
 *
 * nyx_watch_script also watches path (the script the host loads): after it changes, or a
 * module reloads, or a file appears in ./lua, nyx_poll returns NYX_CHANGED once; a host that
 * wants to run the script again calls nyx_stop_scripts(), polls until nyx_poll returns
 * NYX_OK, and loads it again (what `nyx run --watch` does). After this call nyx_poll waits
 * up to its timeout for changes even when no work remains.
 * Returns NYX_OK, NYX_EINVAL, or NYX_EIO when the file cannot be watched (nyx_errmsg says why).
 */
NYX_API int nyx_watch_script(nyx_engine *engine, const char *path /* a script file */);

/*
 * Cancels every script task: what each one waits on (a call, a sleep, a task, an event) fails
 * with type "cancelled", so the scripts unwind at their next turn; calls are logged. A script
 * that catches the error and waits again is cancelled again by the next call. Engine state
 * stays. A script that does not catch it ends as a failure: nyx_poll returns NYX_ESCRIPT for
 * it (nyx_errmsg holds "cancelled"), then NYX_OK once all have unwound. NULL does nothing.
 */
NYX_API void nyx_stop_scripts(nyx_engine *engine);

/*
 * Emergency stop: new calls fail with type "stopped" and calls in flight are cancelled and
 * logged, in this process and in every process sharing the database (within a second).
 * nyx_resume clears it. Both return NYX_OK or NYX_EIO (nyx_errmsg says why). reason (NULL:
 * "no reason given") is one line of UTF-8 of at most 255 bytes, else NYX_EINVAL and no stop.
 * When the database cannot be reached or refuses the stop (a role that may not write),
 * nyx_stop still stops this process and returns NYX_EIO (the other processes were not told),
 * and nyx_resume leaves the stop in place (NYX_EIO).
 */
NYX_API int nyx_stop(nyx_engine *engine, const char *reason);
NYX_API int nyx_resume(nyx_engine *engine);

/* Asks every in-flight call to stop: they fail with type "cancelled" and are logged. reason
 * (NULL: "cancelled by the host") is in their error. A tool loop waiting for a tool's answer
 * (a host tool's nyx_tool_result) has no request in flight: it goes on once answered, and
 * nyx_stop_scripts ends it. */
NYX_API void nyx_cancel_all(nyx_engine *engine, const char *reason);
/* Stops the Lua code running at this moment, if any, at its next instruction: it raises an
 * error of type "cancelled" ("interrupted") where it is, as a task's failure. For a script
 * stuck in a loop that never waits (so nyx_poll never returns to see a cancellation). Safe to
 * call from a signal handler (it takes no lock and allocates nothing) or from another thread
 * while the engine is open (the engine's thread waits the few instructions an interrupt under
 * way takes before it lets a Lua thread end); the host then calls nyx_cancel_all from its own
 * loop for the calls in flight, as nyx run does on Ctrl-C. */
NYX_API void nyx_interrupt(nyx_engine *engine);

/*
 * The detail of the last failure. The string belongs to the engine and is valid until the
 * next call on this engine.
 */
NYX_API const char *nyx_errmsg(const nyx_engine *engine);

/* "sim" when calls go to the built-in simulator, "anthropic" otherwise. Owned by the engine.
 * Asking starts the engine (the provider is chosen then): nyx_set takes no more options after
 * it. "none" when it cannot start (nyx_errmsg says why) and for NULL. */
NYX_API const char *nyx_provider(nyx_engine *engine);

/* Log levels passed to the log function. */
enum nyx_log_level { NYX_LOG_DEBUG = 0, NYX_LOG_INFO, NYX_LOG_WARN, NYX_LOG_ERROR };

/*
 * Routes the engine's notices (which provider is used, unknown prices, degraded storage) to
 * the host. Without one, notices are dropped. msg is valid only during the call.
 */
NYX_API void nyx_set_log(nyx_engine *engine, void (*fn)(void *ud, int level, const char *msg),
                 void *ud /* passed back to fn */);

/*
 * The model table's date ("YYYY-MM-DD", the latest date of the built-in table and
 * NYX_MODELS; NULL when none), written to *date (valid while the engine lives).
 * Returns 1 when the table is older than 60 days (prices or models may have changed),
 * else 0. Query kind "models" lists the table: one row per model, or with option
 * name=ID one row per field of that model (field, value).
 */
NYX_API int nyx_models_date(nyx_engine *engine, const char **date);

/*
 * Reads the database (the one nyx_set "db" names, else NYX_DB, else ./nyx.db) without
 * starting a provider. kind: "stats", "log", "thoughts", "iterations" (one row per call made as
 * a tool loop's iteration under a thought node: thought, iteration, tool_calls, stop_reason,
 * tokens, cost), "budget" or "audit". options: NULL or a NULL-terminated list of "key=value":
 * session=NAME, since=YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z] (UTC) or an age (7d, 12h, 15m, 90s), last=N,
 * by=total|model|session|agent|template|day (stats; day: the UTC date), kind=KIND (audit: one
 * kind of event), format=json (each row arrives as one column "json" holding one JSON object;
 * a value is a number when the database holds a number, a string when it holds text: a
 * session named "007" stays "007"). fn receives each row; values may be NULL and are valid
 * only during the call; returning non-zero stops the query (nyx_query still returns NYX_OK).
 * Template kinds: "templates" (every template in the template directories or the database:
 * name, version, versions, source, description), "template_history" and "template_stats"
 * (option name=NAME: one row per version; see nyx_template_render for versions).
 * "config": one row per setting (see nyx_config_get): key, value (NULL when none), source.
 * "exchange" (option id=INTERACTION_ID): the stored exchange of one call, one row or none:
 * id, created_at, session, agent, model, status, error_type, error_message, request_id,
 * attempts, attempts_json, request (the request body as the storage mode kept it: full,
 * redacted, or NULL for "none"), response (the response text, likewise).
 * "models": the model table (see nyx_models_date). "reprice" (session=, since=): by model,
 * the stored calls priced with the table as loaded now beside what was recorded: model,
 * calls, recorded_usd, table_usd, difference_usd, unpriced_calls (`nyx stats --reprice`).
 * Returns NYX_OK, NYX_EINVAL for an unknown kind or a bad option, or NYX_EIO (nyx_errmsg says
 * why).
 */
typedef int (*nyx_row_fn)(void *ud, int ncols, const char *const *names, const char *const *values);
NYX_API int nyx_query(nyx_engine *engine, const char *kind, const char *const *options, nyx_row_fn fn,
              void *ud);

/*
 * Keeps the database bounded (`nyx prune`): deletes the interactions logged before `before`,
 * the Message Batches made before it whose results are all logged before it and whose
 * reservations are settled (with their request rows), the shared parts of stored requests no
 * remaining interaction names, and the response-cache entries already expired. Kept whatever
 * their age: the interactions of a batch still waiting for results, budgets (their spending
 * is kept apart from the interactions), sessions, thought nodes, templates, audit events,
 * settings and the emergency stop. The deletes go in bounded pieces, each its own
 * transaction, so processes logging to the same SQLite file are held off for milliseconds at a
 * time, never for the whole prune. A SQLite file does not shrink: its freed pages are reused by
 * new rows (VACUUM returns them to the file system). It returns when it is done (about a second
 * for 100,000 calls on SQLite, bench/bench_prune.c): a host calls it outside its frames.
 * fn (may be NULL) gets one row, text as nyx_query's rows: interactions, interaction_bytes (their
 * stored texts), batches, parts, part_bytes, cache_rows, cache_bytes, longest_write_ms (the
 * longest single write), dry_run, before_s (the instant before meant, seconds since the epoch).
 * Returns NYX_OK, NYX_EINVAL for a `before` that is not a time, or NYX_EIO (nyx_errmsg says
 * why; what was deleted before the failure stays deleted).
 */
NYX_API int nyx_prune(nyx_engine *engine,
                      const char *before, /* a UTC day, instant or age (30d), as nyx_query's since= */
                      int dry_run,        /* non-zero: delete nothing, count what would go */
                      nyx_row_fn fn,      /* the row of counts; may be NULL */
                      void *ud            /* passed to fn */
);

/*
 * The built-in Claude simulator, served over HTTP on 127.0.0.1 (what `nyx sim` runs).
 * options: NULL or a NULL-terminated list of "key=value" strings: ttft_ms, token_ms, rpm,
 * itpm, otpm, seed, api_key, faults (a JSON fault list). port 0 picks a free port.
 * Returns NULL on failure with errmsg (free with nyx_free()).
 * Unlike the engine's functions, these may be called from any thread (a test starts the
 * simulator on one and runs the engine on another); use each nyx_sim from one thread at a
 * time. The simulator serves on threads of its own.
 */
typedef struct nyx_sim nyx_sim;
NYX_API nyx_sim *nyx_sim_start(int port, const char *const *options, char **errmsg);
/* Checks options as nyx_sim_start reads them, starting nothing: NYX_OK, or NYX_EINVAL with
 * errmsg (free with nyx_free()) naming the bad option or fault rule. */
NYX_API int nyx_sim_check_options(const char *const *options, char **errmsg);
NYX_API int nyx_sim_port(const nyx_sim *sim); /* -1 for NULL */
NYX_API void nyx_sim_stop(nyx_sim *sim); /* NULL does nothing */

/*
 * Prompt templates. A name finds NAME.md in ./templates, then in each directory of
 * NYX_TEMPLATE_PATH, then in the installed templates, then the latest version stored in the
 * database; "NAME@V" is version V from the database. Every distinct content is a version
 * (recorded when first seen): an unchanged file keeps its version.
 */

/*
 * Renders a template. Variables given but not declared by it are reported once each
 * through the log function.
 * Returns NYX_OK with *out (free with nyx_free()), NYX_EINVAL for an unknown template or
 * version, a syntax error or a missing required variable (nyx_errmsg names it with the
 * template's file:line), or NYX_EIO (the database failed).
 */
NYX_API int nyx_template_render(nyx_engine *engine,
                        const char *name,         /* "NAME" or "NAME@V" */
                        const char *const *vars,  /* NULL or NULL-terminated "key=value"
                                                     strings; a key given twice is a list */
                        char **out,               /* rendered text written here */
                        int *version);            /* version rendered written here; may be NULL;
                                                     0 when no database versions it */

/*
 * Finds a template without rendering it.
 * Returns NYX_OK with *text (its whole source; free with nyx_free()), or NYX_EINVAL /
 * NYX_EIO as nyx_template_render.
 */
NYX_API int nyx_template_get(nyx_engine *engine,
                     const char *name,   /* "NAME" or "NAME@V" */
                     char **text,        /* the template's text written here */
                     int *version,       /* its version written here; may be NULL */
                     char **source);     /* its file, or "database", written here (free with
                                            nyx_free()); may be NULL */

/*
 * Compares two stored versions of a template line by line, in unified style ("--- NAME@V1",
 * "+++ NAME@V2", hunks "@@ -a,b +c,d @@" of " ", "-" and "+" lines; no hunk when equal).
 * Returns NYX_OK with *out (free with nyx_free()), or NYX_EINVAL / NYX_EIO.
 */
NYX_API int nyx_template_diff(nyx_engine *engine,
                      const char *name,  /* the template's name, without "@" */
                      int v1,            /* the version shown as "-" */
                      int v2,            /* the version shown as "+" */
                      char **out);       /* the diff written here */

/*
 * Operator settings kept in the database (table system_config), shared by every process on
 * it. Keys: cache.ttl.ephemeral, cache.ttl.persistent, cache.ttl.shared_context (seconds);
 * budget.daily_usd, budget.monthly_usd, budget.session_usd (USD); budget.hard (true: a budget
 * over its limit refuses calls; false: it warns and raises an "alert" event instead) and
 * budget.daily_hard, budget.monthly_hard, budget.session_hard, budget.agent_hard (each
 * defaults to budget.hard); alert.latency_ms, alert.error_rate, alert.cache_hit_rate_floor
 * (thresholds that raise "alert" events); templates.writers (comma-separated agent names
 * allowed to create or change templates; unset: anyone).
 * Precedence: a call's own argument, then the environment (each key's variable, e.g.
 * LLM_DAILY_BUDGET_USD), then the database, then the default.
 */

/*
 * The value in force of a setting and where it came from.
 * Returns NYX_OK with *value (free with nyx_free(); NULL when the setting has none, e.g. no
 * budget) and *source ("environment", "database" or "default"; static), NYX_EINVAL for an
 * unknown key, or NYX_EIO when the database cannot be read (nyx_errmsg says why).
 */
NYX_API int nyx_config_get(nyx_engine *engine,
                   const char *key,     /* e.g. "budget.daily_usd" */
                   char **value,        /* the value as text written here */
                   const char **source); /* where it came from written here; may be NULL */

/*
 * Stores a setting in the database after checking it against the key's type (numbers and
 * their range, booleans true/false, lists of names); records a "config_set" audit event.
 * The engine applies it at once, and other processes on the database within a second.
 * Returns NYX_OK, NYX_EINVAL for an unknown key or a malformed value (nyx_errmsg names the
 * key and the reason), or NYX_EIO.
 */
NYX_API int nyx_config_set(nyx_engine *engine,
                   const char *key,    /* e.g. "budget.hard" */
                   const char *value); /* the value as text; NULL removes the key */

/*
 * Where the debug view goes. With NYX_DEBUG=1 (or nyx_set "debug" "1") every HTTP exchange
 * of a call is written as text: the request (method, URL, headers, body) and the response
 * (status, headers, body or the SSE text), the API key masked and bodies redacted as the
 * storage mode (NYX_STORAGE_MODE) says — "none" shows sizes only. When NYX_DEBUG_FILE names
 * a file, the engine appends to it; otherwise the text goes to fn (`nyx run` installs one
 * that writes to stderr). Without either, nothing is written. text is valid only during the
 * call and is not NUL-terminated at len. fn NULL removes the writer.
 */
NYX_API void nyx_set_debug_writer(nyx_engine *engine,
                          void (*fn)(void *ud, const char *text, size_t len),
                          void *ud); /* passed back to fn */

/*
 * Live progress, for a host that shows it while scripts run (`nyx run` keeps a status line).
 * Every number is this engine's since nyx_open, from API-reported usage; reading them costs
 * no I/O, so a host may ask on every turn of its loop.
 */
typedef struct nyx_progress_info {
    int calls_in_flight;       /* calls sent or waiting (retries, rate limits, budget) */
    long long calls_done;      /* calls finished: answered, failed or cancelled */
    long long errors;          /* of those, failed */
    double spent_usd;          /* what the finished calls cost */
    double saved_usd;          /* what prompt caching saved on them */
    double cache_hit_rate;     /* share of answered calls that read the prompt cache, 0..1 */
    double budget_remaining;   /* share left of the budget nearest to its limit, 0..1, as the
                                  ledger said after the last call; -1: no budget applies */
    char budget_scope[160];    /* that budget's scope ("day:2026-12-06", "session:NAME"); "" */
    char text[256];            /* what scripts said (nyx.progress: the script's own words, a
                                  council's personas answered, ...), joined by " | "; "" none */
} nyx_progress_info;

/* Fills *out. Returns NYX_OK, or NYX_EINVAL for a NULL argument. */
NYX_API int nyx_progress(nyx_engine *engine, nyx_progress_info *out);

/*
 * Where the scripts' print() goes: to fn, one call per print with the whole line (its
 * trailing newline included), so a host that draws on the terminal can move its own output
 * out of the way first. text is valid only during the call and is not NUL-terminated at
 * len. fn NULL (the default): standard output, as stock Lua prints. io.write is not routed.
 */
NYX_API void nyx_set_output(nyx_engine *engine, void (*fn)(void *ud, const char *text, size_t len),
                            void *ud); /* passed back to fn */

/* Frees memory that the engine handed out (error messages). NULL does nothing. Any thread. */
NYX_API void nyx_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
