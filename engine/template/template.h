/* Prompt templates: a short front matter (description, model hint, declared variables) and a
 * mustache-style body, compiled once into a token list and rendered from a tree of values.
 *
 * Body syntax: {{name}} and {{a.b}} (dotted lookup), {{.}} (the current item),
 * {{#name}}...{{/name}} (a list repeats per item; another true value renders once),
 * {{^name}}...{{/name}} (renders when the value is missing, false or empty),
 * {{> partial}} (another template, found through a callback), {{! comment }}.
 * {{{name}}} and {{&name}} are accepted as synonyms of {{name}}: there is no HTML escaping.
 * A value is never read as template syntax. A section, inverted, comment or partial tag alone
 * on its line removes that line; a standalone partial's indentation is applied to its lines.
 *
 * A parsed template is immutable: several threads may render the same one at once. */
#ifndef NYX_TEMPLATE_H
#define NYX_TEMPLATE_H

#include "claude/types.h"

#include <stddef.h>
#include <stdint.h>

/* How deep {{> partial}} may nest before rendering fails (recursive partials). */
#define TEMPLATE_MAX_PARTIAL_DEPTH 10
/* How deep sections may nest in one template. */
#define TEMPLATE_MAX_SECTION_DEPTH 100

typedef struct template_def template_def;

/* ---- templates ---- */

/* Parses front matter and body into a compiled template.
 * Returns the template (free with template_free), or NULL with err set: type
 * "invalid_argument" and a message "origin:line: problem" (unclosed or mismatched section,
 * malformed tag, bad front matter), or "out_of_memory". */
template_def *template_parse(const char *text,   /* the whole file; need not be NUL-terminated */
                             size_t len,         /* bytes of text */
                             const char *origin, /* file name used in messages; NULL: "template" */
                             error_info *err);    /* filled on failure; may be NULL */

/* Frees a template; NULL does nothing. */
void template_free(template_def *t);

/* The front matter's description, or NULL when none. Valid as long as t. */
const char *template_description(const template_def *t);
/* The front matter's model hint ("model:"), or NULL when none. Valid as long as t. */
const char *template_model_hint(const template_def *t);
/* Front matter `output:` (a JSON Schema on one line, returned compact) and `tools:` (a flow
 * list of tool names, returned joined by ','); NULL when not given. */
const char *template_output_schema(const template_def *t);
const char *template_tools(const template_def *t);
/* The origin given to template_parse. Valid as long as t. */
const char *template_origin(const template_def *t);
/* The text given to template_parse (a NUL-terminated copy); *len gets its length when len is
 * not NULL. Valid as long as t. */
const char *template_text(const template_def *t, size_t *len);
/* XXH3-64 of the whole text given to template_parse: equal texts give equal hashes, so the hash
 * identifies a version. */
uint64_t template_hash(const template_def *t);

/* Number of variables the front matter declares, in declaration order. */
size_t template_nvars(const template_def *t);
/* Name of declared variable i; NULL when i >= template_nvars(t). Valid as long as t. */
const char *template_var_name(const template_def *t, size_t i);
/* 1 when variable i is declared required: true; 0 otherwise or when i is out of range. */
int template_var_required(const template_def *t, size_t i);
/* Default value of variable i, or NULL when it has none or i is out of range. */
const char *template_var_default(const template_def *t, size_t i);
/* Description of variable i ("description:" in its declaration), or NULL. */
const char *template_var_description(const template_def *t, size_t i);
/* Line of the first use of variable i in the body, or of its declaration when the body never
 * uses it; 0 when i is out of range. */
int template_var_line(const template_def *t, size_t i);

/* ---- values ---- */

/* A value given to a render: a string, a boolean, a list or a map with string keys.
 * The caller builds the tree (the Lua binding converts tables into it) and frees the root. */
typedef struct tvalue tvalue;

enum tvalue_kind { TVALUE_STRING = 0, TVALUE_BOOL, TVALUE_LIST, TVALUE_MAP };

/* Constructors: each returns a new value (free with tvalue_free, or hand it to a map or list,
 * which then owns it), or NULL when out of memory. tvalue_string copies len bytes of s (s may
 * be NULL when len is 0); the bytes may be anything, including "{{". */
tvalue *tvalue_map(void);
tvalue *tvalue_list(void);
tvalue *tvalue_string(const char *s, size_t len);
tvalue *tvalue_bool(int b);

/* Sets key (NUL-terminated, copied) in map to v, replacing and freeing any previous value.
 * The map owns v in every case: on failure v is freed. So nesting constructors is safe:
 * tvalue_map_set(m, "k", tvalue_string("x", 1)) fails cleanly when the inner call did.
 * Returns 0, or -1 when map is not a map, key or v is NULL, or memory ran out. */
int tvalue_map_set(tvalue *map, const char *key, tvalue *v /* owned */);
/* Appends v to list; owns v in every case as tvalue_map_set does. Returns 0 or -1. */
int tvalue_list_push(tvalue *list, tvalue *v /* owned */);
/* Frees v and everything it holds; NULL does nothing. */
void tvalue_free(tvalue *v);

/* The kind of v (enum tvalue_kind); -1 for NULL. */
int tvalue_kind(const tvalue *v);
/* The value under key in map, or NULL (missing, or map is not a map). Belongs to map. */
const tvalue *tvalue_map_get(const tvalue *map, const char *key);

/* ---- rendering ---- */

/* Finds the template for {{> name}}; returns NULL when there is none. The template returned
 * must stay valid until template_render returns; the caller of template_render owns it. */
typedef const template_def *(*template_partial_fn)(void *ud, const char *name);
/* Receives one warning; msg is valid only during the call. */
typedef void (*template_warn_fn)(void *ud, const char *msg);

/* Renders t with vars into a new NUL-terminated string.
 * Lookup: a name is searched in the innermost section's value, then outwards to vars, then
 * in the front-matter defaults (of the partial being rendered, then of its includers). A
 * missing name renders nothing; a string renders as is, a boolean as "true"/"false"; a list or
 * map in {{name}} is an error (iterate it with a section).
 * Errors (return -1, *out NULL, err "invalid_argument" unless noted): a required variable with
 * no value and no default ("origin:line: missing required variable 'x'", line of its first
 * use); a partial the callback does not find; partials nested deeper than
 * TEMPLATE_MAX_PARTIAL_DEPTH; a list or map in {{name}}; "out_of_memory".
 * Warnings (through warn, after a successful render, when warn is not NULL): each top-level
 * key of vars that neither t nor any partial it rendered declares, when any of them declares
 * variables.
 * Returns 0 with *out (free with free()) and *out_len (bytes before the NUL). */
int template_render(const template_def *t,
                    const tvalue *vars,           /* a map, or NULL for none */
                    template_partial_fn partial,  /* may be NULL: then any {{> x}} fails */
                    void *partial_ud,             /* passed to partial */
                    template_warn_fn warn,        /* may be NULL: warnings are dropped */
                    void *warn_ud,                /* passed to warn */
                    char **out,                   /* rendered text written here */
                    size_t *out_len,              /* its length written here */
                    error_info *err);              /* filled on failure; may be NULL */

#endif
