#ifndef NYX_CLI_H
#define NYX_CLI_H
#include "nyx.h"

#include <signal.h>
#include <stdio.h>

/* Each subcommand takes argv[0] = its own name. */
int cli_run(int argc, char **argv);
int cli_ask(int argc, char **argv);
int cli_batch(int argc, char **argv);
int cli_sim(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_log(int argc, char **argv);
int cli_thoughts(int argc, char **argv);
int cli_budget(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_stop(int argc, char **argv);
int cli_prune(int argc, char **argv);
int cli_templates(int argc, char **argv);
int cli_render(int argc, char **argv);
int cli_config(int argc, char **argv);
int cli_models(int argc, char **argv);
int cli_report(int argc, char **argv);
/* nyx log --raw ID (cmd_log_raw.c) */
int cli_log_raw(int argc, char **argv);

/* nyx run --watch, on an engine that is set up, keeping status (NULL: none) drawn; returns
 * the exit status. */
struct cli_status;
int cli_run_watch(nyx_engine *e, const char *script, int argc, char **argv,
                  volatile sig_atomic_t *interrupted, struct cli_status *status);

/* An engine with notices on stderr and the database (NULL: the default) set; NULL after
 * printing why not. */
nyx_engine *cli_open(const char *db);
/* cli_open for a command that only reads (stats, log, report, config get, models...), which
 * makes no database. When reads_records, a SQLite file given with --db (db) that does not exist
 * is refused, said on stderr as command: opening it made an empty database there and read
 * "(nothing recorded)", so a misspelt path looked like an empty history and left a file behind.
 * Otherwise (templates and models, which read the template directories and the model table as
 * well), and for the configured database (NYX_DB, else ./nyx.db) not made yet, the command
 * reads an empty database in memory: a fresh setup's nyx models or nyx config list works and
 * leaves no file. The open makes no tables where there are none (nyx_set "read_only"): a
 * PostgreSQL database that does not hold nyx's tables fails as a missing file does. */
nyx_engine *cli_open_reading(const char *command, const char *db, int reads_records);

/* Whether the database a command would open (db, else NYX_DB, else ./nyx.db) is a SQLite file
 * that does not exist, said on stderr as command: nyx prune has nothing to prune there and
 * must not make one. A
 * URI (postgresql://, file:) or ":memory:" is not checked. */
int cli_db_missing(const char *command, const char *db);

/* Whether a --var value is k=v with a non-empty k; when not, says so on stderr as command
 * ("nyx ask") and returns 0: one rule for every command that takes --var. */
int cli_var_ok(const char *command, const char *kv);
/* Whether the value of a --var k=v is UTF-8, which it must be where it goes into a request (nyx
 * ask, nyx batch submit: a script run by nyx run may take bytes); when not, says so on stderr as
 * command, naming --var k and the first bad byte, and returns 0: the call's own refusal came
 * later and named the rendered prompt, not the --var that put the byte there. */
int cli_var_utf8(const char *command, const char *kv);
/* Sets each --var k=v as the setting var.k, in order: 0, 1 when one is not k=v (said on stderr
 * by cli_var_ok), -1 when nyx_set refused one (nyx_errmsg(e) says why). */
int cli_set_vars(nyx_engine *e, const char *command, const char *const *vars, int n);

/* An option of a command read by cli_parse_args: with value, it takes the next argument;
 * without, it is a flag that sets *flag to 1 (flag NULL: accepted and ignored). */
typedef struct cli_opt {
    const char *name, *alias; /* "--quiet", "-q" (alias NULL: none) */
    const char **value;
    int *flag;
} cli_opt;
/* A command that takes one NAME, --var k=v, --db FILE, -h/--help and opts (ending in {NULL}). */
typedef struct cli_args {
    const char *command;     /* "nyx ask", for "unexpected argument" */
    const char *var_command; /* for cli_var_ok; NULL: --var values are checked later */
    int var_utf8;            /* each --var value must be UTF-8 (cli_var_utf8): it goes into a request */
    void (*help)(FILE *out);
    const cli_opt *opts;
    int stop_at_dashdash;    /* "--" ends the arguments; those after it start at rest */
    const char *name, *db;   /* read: NULL when not given */
    const char **vars;       /* the --var values in order, NULL-terminated; cli_args_free */
    int nvars, rest;
} cli_args;
/* Says on stderr, as command ("nyx log"), that the argument arg is not one it takes, or, when
 * it is an option that takes a value (takes_value) given last (last), that it needs one: a
 * missing value is named as such, not as an unexpected option. */
void cli_bad_arg(const char *command, const char *arg, int takes_value, int last);
/* Reads argv[first..]: -1 to go on (free a with cli_args_free), else the exit status, after
 * printing help (0) or what was wrong (2), or when out of memory (1). */
int cli_parse_args(cli_args *a, int argc, char **argv, int first);
void cli_args_free(cli_args *a);

/* Running Lua to its end (drive.c). cli_catch_signals: SIGINT and SIGTERM set cli_interrupted
 * (the signal) and stop e's Lua code running then (nyx_interrupt) instead of ending the
 * process; a second ends it. cli_close closes e, which signals no longer reach. cli_drive: turns the loop for what nyx_load_*
 * started (rc its answer) until it ends or a caught signal cancels everything in flight,
 * keeping status (NULL: none) drawn; returns the last answer (NYX_OK: it ended).
 * cli_records_whole: finishes the records (nyx_finish_records) and returns code, or 1 in
 * place of 0 when some were lost. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_signals(nyx_engine *e);
void cli_close(nyx_engine *e);
int cli_drive(nyx_engine *e, int rc, struct cli_status *status);
/* How many calls in flight cli_drive's cancel finished (cancelled, to be logged). */
extern long long cli_cancelled;
int cli_records_whole(nyx_engine *e, int code);
/* A failure of a command's own Lua chunk (nyx ask, nyx batch: chunk is its name), on stderr
 * after who: as a person reads it, without Lua's traceback, the place in the command's (or
 * the library's) Lua where it was raised (those are no script of the user's), or nyx's error
 * type ("not_found: "), which no other command's message carries (an API error's stays). */
void cli_chunk_error(const char *who, const char *chunk, const char *msg);

/* Whether a template or model name can go into an embedded chunk as a Lua string literal as it
 * is: 1 to 200 letters, digits and "._-@/:", nothing that needs quoting. */
int cli_plain_name(const char *s);

/* Whether spec is a template name as the template library reads one (templates_parse_spec):
 * 1 to 128 letters, digits, '_', '-' and '.' (not first), then, when versioned, "@V" with V a
 * whole number >= 1 optional. NULL when it is, else what is wrong, for a message after the
 * command's name: such an argument is bad usage (exit 2), where a name that is right but not
 * found is a failure (exit 1), and nyx.h's template functions return NYX_EINVAL for both. */
const char *cli_template_name_error(const char *spec, int versioned);

/* The whole file at path, NUL-terminated (malloc'd; *len its bytes), or NULL when it cannot be
 * opened or read. */
char *cli_read_file(const char *path, size_t *len);

/* Prints engine notices to stderr. */
void cli_notice(void *ud, int level, const char *msg);

#endif
