#define _POSIX_C_SOURCE 200809L
/* The front matter: a fixed, tiny subset of YAML read line by line.
 *
 *   ---
 *   description: Shared context for a council session
 *   model: claude-sonnet-4-5
 *   variables:
 *     company: {required: true, description: "The company under discussion"}
 *     tone: {default: "plain"}
 *     notes:
 *       description: Free-form notes
 *       default: ""
 *   ---
 *
 *   output: {"type": "object", "properties": {"verdict": {"type": "string"}}}
 *   tools: [search, weather]
 *
 * Top-level keys are description, model, output (a JSON Schema on one line), tools (a flow
 * list of tool names) and variables; each variable takes required, default
 * and description, either as a one-line {flow map} or as indented lines. Scalars are plain,
 * "double-quoted" (with \" \\ \n \t \r escapes) or 'single-quoted' ('' is a quote); " #"
 * starts a comment. Anything else is an error naming the line, so a typo never silently drops
 * a declaration. */
#include "template_int.h"
#include "base/array.h"
#include "base/json_print.h"
#include "base/text.h"
#include "claude/schema.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fm {
    template_def *t;
    error_info *err;
    int line;
} fm;

static int fm_fail(fm *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fm_fail(fm *f, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_set(f->err, "invalid_argument", 0, "%s:%d: front matter: %s", f->t->origin, f->line,
                  msg);
    return -1;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static const char *skip_blank(const char *p, const char *end)
{
    while (p < end && is_blank(*p))
        p++;
    return p;
}

/* Reads key ':' at p; returns 0 with [*k, *klen] and p after the colon, or -1. */
static int read_key(fm *f, const char **pp, const char *end, const char **k, size_t *klen)
{
    const char *p = *pp;
    const char *s = p;
    while (p < end && text_word_char(*p))
        p++;
    if (p == s)
        return fm_fail(f, "expected 'name:' but found \"%.*s\"", (int)(end - s), s);
    const char *e = p;
    p = skip_blank(p, end);
    if (p == end || *p != ':')
        return fm_fail(f, "expected ':' after '%.*s'", (int)(e - s), s);
    *k = s;
    *klen = (size_t)(e - s);
    *pp = p + 1;
    return 0;
}

static int key_is(const char *k, size_t klen, const char *word)
{
    return strlen(word) == klen && memcmp(k, word, klen) == 0;
}

/* Reads one scalar at p into a new string. In a flow map a plain scalar ends at ',' or '}';
 * in a block it ends at the end of the line or at " #". *quoted tells which kind it was. */
static int read_scalar(fm *f, const char **pp, const char *end, int flow, char **out, int *quoted)
{
    const char *p = skip_blank(*pp, end);
    *out = NULL;
    *quoted = 0;
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        char *buf = malloc((size_t)(end - p) + 1);
        if (!buf)
            return tpl_oom(f->err, f->t);
        size_t n = 0;
        for (;;) {
            if (p == end) {
                free(buf);
                return fm_fail(f, "unterminated %s-quoted string", q == '"' ? "double" : "single");
            }
            char c = *p++;
            if (c == q) {
                if (q == '\'' && p < end && *p == '\'') {
                    buf[n++] = '\'';
                    p++;
                    continue;
                }
                break;
            }
            if (q == '"' && c == '\\') {
                if (p == end) {
                    free(buf);
                    return fm_fail(f, "unterminated double-quoted string");
                }
                char e = *p++;
                switch (e) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case '"': c = '"'; break;
                case '\\': c = '\\'; break;
                case '/': c = '/'; break;
                default:
                    free(buf);
                    return fm_fail(f, "unknown escape '\\%c' in a double-quoted string", e);
                }
            }
            buf[n++] = c;
        }
        buf[n] = '\0';
        *out = buf;
        *quoted = 1;
        *pp = p;
        return 0;
    }
    /* A plain value that YAML reads as something else (a flow list or map, a block scalar, an
     * anchor, alias or tag) was kept as its text: "model: [claude-haiku-5-5]" served the model
     * "[claude-haiku-5-5]" and "description: >" the description ">". Said, with the line. */
    if (p < end && strchr("[]{}|>&*!%@`", *p))
        return fm_fail(f, "a value written plain cannot begin with '%c', which YAML reads as "
                          "something other than text; quote it (\"%c...\") or drop the '%c'",
                       *p, *p, *p);
    const char *s = p;
    while (p < end) {
        if (flow && (*p == ',' || *p == '}'))
            break;
        if (*p == '#' && (p == s || is_blank(p[-1])))
            break;
        p++;
    }
    const char *e = p;
    while (e > s && is_blank(e[-1]))
        e--;
    char *buf = malloc((size_t)(e - s) + 1);
    if (!buf)
        return tpl_oom(f->err, f->t);
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    *out = buf;
    *pp = p;
    return 0;
}

/* After a value: only blanks and an optional comment may remain on the line. */
static int expect_line_end(fm *f, const char *p, const char *end)
{
    p = skip_blank(p, end);
    if (p < end && *p != '#')
        return fm_fail(f, "unexpected \"%.*s\" after the value", (int)(end - p), p);
    return 0;
}

/* A block scalar that must be present: key: value [# comment] */
static int read_block_value(fm *f, const char *p, const char *end, const char *key, char **out)
{
    int quoted;
    if (read_scalar(f, &p, end, 0, out, &quoted) != 0)
        return -1;
    if (!quoted && (*out)[0] == '\0') {
        free(*out);
        *out = NULL;
        return fm_fail(f, "'%s:' needs a value (write \"\" for an empty string)", key);
    }
    if (expect_line_end(f, p, end) != 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* output: the rest of the line, a JSON object (the schema), kept compact. */
static int read_output(fm *f, const char *p, const char *end)
{
    p = skip_blank(p, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\r'))
        end--;
    cJSON *schema = cJSON_ParseWithLength(p, (size_t)(end - p));
    if (!cJSON_IsObject(schema)) {
        cJSON_Delete(schema);
        return fm_fail(f, "'output:' must be a JSON Schema object on one line");
    }
    /* A schema structured outputs refuse would fail every call made with the template, each
     * after it was sent: refused here, where the file is read, so an edit that breaks it keeps
     * the version before serving, as any other error in the file does. */
    error_info bad;
    error_clear(&bad);
    if (claude_schema_check(schema, "output", 0, &bad) != 0) {
        cJSON_Delete(schema);
        return strcmp(bad.type, "out_of_memory") == 0 ? tpl_oom(f->err, f->t) : fm_fail(f, "%s", bad.message);
    }
    char *text = json_print(schema);
    cJSON_Delete(schema);
    if (!text)
        return tpl_oom(f->err, f->t);
    f->t->output_json = strdup(text);
    cJSON_free(text);
    return f->t->output_json ? 0 : tpl_oom(f->err, f->t);
}

/* tools: [name, name, ...], names as the API allows them (^[a-zA-Z0-9_-]{1,64}$). */
static int read_tools(fm *f, const char *p, const char *end)
{
    p = skip_blank(p, end);
    if (p == end || *p != '[')
        return fm_fail(f, "'tools:' must be a list of tool names: [name, name]");
    char joined[1024];
    size_t n = 0;
    p++;
    for (;;) {
        p = skip_blank(p, end);
        const char *s = p;
        while (p < end && text_word_char(*p))
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || len > 64 || n + len + 1 >= sizeof joined)
            return fm_fail(f, "'tools:' holds a name that is not a tool name (letters, digits, '_' "
                              "or '-', at most 64)");
        if (n)
            joined[n++] = ',';
        memcpy(joined + n, s, len);
        n += len;
        p = skip_blank(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ']')
            break;
        return fm_fail(f, "'tools:' must be a list of tool names: [name, name]");
    }
    joined[n] = '\0';
    if (expect_line_end(f, p + 1, end) != 0)
        return -1;
    f->t->tools = strdup(joined);
    return f->t->tools ? 0 : tpl_oom(f->err, f->t);
}

static int parse_bool(const char *s, int *b)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *b = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *b = 0;
            return 0;
        }
    }
    return -1;
}

/* Seen-property bits, to reject a property given twice. */
enum { P_REQUIRED = 1, P_DEFAULT = 2, P_DESCRIPTION = 4 };

/* Applies "key: value" to variable v; value is owned and consumed. */
static int set_property(fm *f, tpl_var *v, int *seen, const char *k, size_t klen, char *value,
                        int quoted)
{
    int bit;
    if (key_is(k, klen, "required"))
        bit = P_REQUIRED;
    else if (key_is(k, klen, "default"))
        bit = P_DEFAULT;
    else if (key_is(k, klen, "description"))
        bit = P_DESCRIPTION;
    else {
        free(value);
        return fm_fail(f, "unknown property '%.*s' of variable '%s' (expected required, default "
                          "or description)",
                       (int)klen, k, v->name);
    }
    if (*seen & bit) {
        free(value);
        return fm_fail(f, "property '%.*s' of variable '%s' is given twice", (int)klen, k, v->name);
    }
    *seen |= bit;
    if (bit == P_REQUIRED) {
        int b = 0;
        int bad = quoted || parse_bool(value, &b) != 0;
        if (bad) {
            int rc = fm_fail(f, "required of variable '%s' must be true or false, not \"%s\"",
                             v->name, value);
            free(value);
            return rc;
        }
        free(value);
        v->required = b;
        return 0;
    }
    if (!quoted && value[0] == '\0') {
        free(value);
        return fm_fail(f, "'%.*s:' of variable '%s' needs a value (write \"\" for an empty string)",
                       (int)klen, k, v->name);
    }
    if (bit == P_DEFAULT)
        v->def = value;
    else
        v->desc = value;
    return 0;
}

/* {key: value, key: value} after a variable's name, to the end of the line. */
static int parse_flow_map(fm *f, tpl_var *v, const char *p, const char *end)
{
    int seen = 0;
    p = skip_blank(p + 1, end); /* past '{' */
    if (p < end && *p == '}')
        return expect_line_end(f, p + 1, end);
    for (;;) {
        const char *k;
        size_t klen;
        p = skip_blank(p, end);
        if (read_key(f, &p, end, &k, &klen) != 0)
            return -1;
        char *value;
        int quoted;
        if (read_scalar(f, &p, end, 1, &value, &quoted) != 0)
            return -1;
        if (set_property(f, v, &seen, k, klen, value, quoted) != 0)
            return -1;
        p = skip_blank(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}')
            return expect_line_end(f, p + 1, end);
        return fm_fail(f, "expected ',' or '}' in the properties of variable '%s'", v->name);
    }
}

static tpl_var *add_var(fm *f, const char *name, size_t len)
{
    template_def *t = f->t;
    for (size_t i = 0; i < t->nvars; i++)
        if (strlen(t->vars[i].name) == len && memcmp(t->vars[i].name, name, len) == 0) {
            fm_fail(f, "variable '%.*s' is declared twice (first at line %d)", (int)len, name,
                    t->vars[i].decl_line);
            return NULL;
        }
    tpl_var *vars = array_room(t->vars, t->nvars, &t->capvars, sizeof *vars, 8);
    if (!vars) {
        tpl_oom(f->err, f->t);
        return NULL;
    }
    t->vars = vars;
    char *n = malloc(len + 1);
    if (!n) {
        tpl_oom(f->err, f->t);
        return NULL;
    }
    memcpy(n, name, len);
    n[len] = '\0';
    tpl_var *v = &t->vars[t->nvars++];
    *v = (tpl_var){.name = n, .nlen = len, .hash = tv_hash(n, len), .decl_line = f->line};
    return v;
}

/* Builds the defaults and declared maps the renderer looks names up in. */
static int build_maps(fm *f)
{
    template_def *t = f->t;
    if (t->nvars == 0)
        return 0;
    t->declared = tvalue_map();
    if (!t->declared)
        return tpl_oom(f->err, f->t);
    for (size_t i = 0; i < t->nvars; i++) {
        const tpl_var *v = &t->vars[i];
        if (tvalue_map_set(t->declared, v->name, tvalue_bool(1)) != 0)
            return tpl_oom(f->err, f->t);
        if (!v->def)
            continue;
        if (!t->defaults && !(t->defaults = tvalue_map()))
            return tpl_oom(f->err, f->t);
        if (tvalue_map_set(t->defaults, v->name, tvalue_string(v->def, strlen(v->def))) != 0)
            return tpl_oom(f->err, f->t);
    }
    return 0;
}

/* The line [*ls, *le) starting at pos, without its '\n' and a trailing '\r'; returns the
 * position after the line. */
static size_t next_line(const char *text, size_t len, size_t pos, const char **ls, const char **le)
{
    const char *s = text + pos;
    const char *nl = memchr(s, '\n', len - pos);
    const char *e = nl ? nl : text + len;
    *ls = s;
    *le = e > s && e[-1] == '\r' ? e - 1 : e;
    return nl ? (size_t)(nl - text) + 1 : len;
}

static int is_fence(const char *s, const char *e)
{
    if (e - s < 3 || memcmp(s, "---", 3) != 0)
        return 0;
    return skip_blank(s + 3, e) == e;
}

static int has_fence(const char *text, size_t len, size_t pos)
{
    while (pos < len) {
        const char *a, *b;
        pos = next_line(text, len, pos, &a, &b);
        if (is_fence(a, b))
            return 1;
    }
    return 0;
}

int tpl_front_matter(template_def *t, size_t *body_off, int *body_line, error_info *err)
{
    fm f = {.t = t, .err = err, .line = 1};
    size_t pos = 0;
    if (t->len >= 3 && memcmp(t->text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 byte-order mark is not part of the text */
    *body_off = pos;
    *body_line = 1;
    const char *ls, *le;
    size_t after = next_line(t->text, t->len, pos, &ls, &le);
    if (!is_fence(ls, le))
        return 0;
    pos = after;
    /* Look for the closing fence first: a missing one is the likelier fault than the first
     * line that fails to parse. */
    if (!has_fence(t->text, t->len, pos))
        return fm_fail(&f, "the front matter opened by '---' is never closed (expected a line "
                           "'---' before the body)");
    enum { TOP, VARIABLES } section = TOP;
    int seen_desc = 0, seen_model = 0, seen_vars = 0, seen_output = 0, seen_tools = 0;
    int var_indent = -1, prop_indent = -1, props_seen = 0, var_flow = 0;
    tpl_var *cur = NULL;
    for (;;) {
        f.line++;
        pos = next_line(t->text, t->len, pos, &ls, &le);
        if (is_fence(ls, le))
            break;
        const char *p = ls;
        while (p < le && *p == ' ')
            p++;
        if (p < le && *p == '\t')
            return fm_fail(&f, "tabs are not allowed in indentation; use spaces");
        int indent = (int)(p - ls);
        const char *q = skip_blank(p, le);
        if (q == le || *q == '#')
            continue; /* blank line or comment */
        const char *k;
        size_t klen;
        if (indent == 0) {
            section = TOP;
            cur = NULL;
            if (read_key(&f, &p, le, &k, &klen) != 0)
                return -1;
            if (key_is(k, klen, "description") || key_is(k, klen, "model")) {
                int is_desc = k[0] == 'd';
                int *seen = is_desc ? &seen_desc : &seen_model;
                if (*seen)
                    return fm_fail(&f, "'%.*s' is given twice", (int)klen, k);
                *seen = 1;
                char *value;
                if (read_block_value(&f, p, le, is_desc ? "description" : "model", &value) != 0)
                    return -1;
                if (is_desc)
                    t->description = value;
                else
                    t->model = value;
            } else if (key_is(k, klen, "output") || key_is(k, klen, "tools")) {
                int is_output = k[0] == 'o';
                int *seen = is_output ? &seen_output : &seen_tools;
                if (*seen)
                    return fm_fail(&f, "'%.*s' is given twice", (int)klen, k);
                *seen = 1;
                if ((is_output ? read_output(&f, p, le) : read_tools(&f, p, le)) != 0)
                    return -1;
            } else if (key_is(k, klen, "variables")) {
                if (seen_vars)
                    return fm_fail(&f, "'variables' is given twice");
                seen_vars = 1;
                if (expect_line_end(&f, p, le) != 0)
                    return -1;
                section = VARIABLES;
                var_indent = -1;
            } else {
                return fm_fail(&f, "unknown key '%.*s' (expected description, model, output, tools or "
                                   "variables)",
                               (int)klen, k);
            }
            continue;
        }
        if (section != VARIABLES)
            return fm_fail(&f, "unexpected indented line (only the entries under 'variables:' "
                               "are indented)");
        if (var_indent < 0)
            var_indent = indent;
        if (indent == var_indent) {
            if (read_key(&f, &p, le, &k, &klen) != 0)
                return -1;
            if (!(cur = add_var(&f, k, klen)))
                return -1;
            prop_indent = -1;
            props_seen = 0;
            var_flow = 0;
            p = skip_blank(p, le);
            if (p < le && *p == '{') {
                var_flow = 1;
                if (parse_flow_map(&f, cur, p, le) != 0)
                    return -1;
            } else if (p < le && *p != '#') {
                return fm_fail(&f, "expected {required: ..., default: ..., description: ...} or "
                                   "indented properties after '%s:'",
                               cur->name);
            }
        } else if (indent > var_indent) {
            if (!cur)
                return fm_fail(&f, "unexpected indentation");
            if (var_flow)
                return fm_fail(&f, "variable '%s' already has its properties in { }", cur->name);
            if (prop_indent < 0)
                prop_indent = indent;
            if (indent != prop_indent)
                return fm_fail(&f, "inconsistent indentation in the properties of variable '%s'",
                               cur->name);
            if (read_key(&f, &p, le, &k, &klen) != 0)
                return -1;
            char *value;
            int quoted;
            if (read_scalar(&f, &p, le, 0, &value, &quoted) != 0)
                return -1;
            if (expect_line_end(&f, p, le) != 0) {
                free(value);
                return -1;
            }
            if (set_property(&f, cur, &props_seen, k, klen, value, quoted) != 0)
                return -1;
        } else {
            return fm_fail(&f, "inconsistent indentation under 'variables:'");
        }
    }
    *body_off = pos;
    *body_line = f.line + 1;
    return build_maps(&f);
}
