/* Rendering a compiled template: one pass over the tokens, appending to one growing buffer.
 * Section contexts live on the C stack (a linked chain of frames), names are found with the
 * hashes the compiler stored, so a render allocates nothing but its output. */
#include "template_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The chain of section values, innermost first. */
typedef struct rctx {
    const tvalue *v;
    const struct rctx *up;
} rctx;

/* The chain of templates being rendered (partials), innermost first: defaults come from it. */
typedef struct tframe {
    const template_def *t;
    const struct tframe *up;
} tframe;

/* Partials remembered for the unknown-variable warning; past this many, warnings are skipped
 * rather than risk a false one. */
#define MAX_VISITED 16

/* Partials can multiply work exponentially (a partial included twice, ten levels deep):
 * a render stops with an error past these bounds instead of running away. */
#define MAX_OUTPUT (16u << 20)
#define MAX_STEPS 4000000L

typedef struct rst {
    char *buf;
    size_t len, cap;
    long steps;
    template_partial_fn partial;
    void *partial_ud;
    error_info *err;
    const tframe *tf;
    int depth;                                  /* partials entered */
    const char *ind[TEMPLATE_MAX_PARTIAL_DEPTH]; /* indentation of standalone partials */
    size_t indlen[TEMPLATE_MAX_PARTIAL_DEPTH];
    int nind;
    int bol; /* at the start of a line (kept only while some indentation applies) */
    const template_def *visited[MAX_VISITED];
    int nvisited, visited_overflow;
} rst;

static int r_fail(rst *r, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int r_fail(rst *r, const char *type, const char *fmt, ...)
{
    char msg[sizeof r->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_set(r->err, type, 0, "%s", msg);
    return -1;
}

static int grow(rst *r, size_t n)
{
    if (r->len + n > MAX_OUTPUT)
        return r_fail(r, "invalid_argument", "template_render: the output would pass %u bytes",
                      MAX_OUTPUT);
    size_t cap = r->cap ? r->cap : 256;
    while (cap - r->len <= n) {
        if (cap > SIZE_MAX / 2)
            return r_fail(r, "out_of_memory", "template_render: output too large");
        cap *= 2;
    }
    char *buf = realloc(r->buf, cap);
    if (!buf)
        return r_fail(r, "out_of_memory", "template_render: out of memory");
    r->buf = buf;
    r->cap = cap;
    return 0;
}

/* Appends n bytes; always leaves room for the final NUL. */
static inline int put(rst *r, const char *s, size_t n)
{
    if (r->cap - r->len <= n && grow(r, n) != 0)
        return -1;
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    return 0;
}

static int put_indent(rst *r)
{
    for (int i = 0; i < r->nind; i++)
        if (put(r, r->ind[i], r->indlen[i]) != 0)
            return -1;
    r->bol = 0;
    return 0;
}

/* Template text: inside an indented partial, each line that has content gets the indentation. */
static int emit_text(rst *r, const char *s, size_t n)
{
    if (!r->nind)
        return put(r, s, n);
    while (n) {
        int empty_line = s[0] == '\n' || (s[0] == '\r' && n > 1 && s[1] == '\n');
        if (r->bol && !empty_line && put_indent(r) != 0)
            return -1;
        const char *nl = memchr(s, '\n', n);
        size_t m = nl ? (size_t)(nl - s) + 1 : n;
        if (put(r, s, m) != 0)
            return -1;
        if (nl)
            r->bol = 1;
        s += m;
        n -= m;
    }
    return 0;
}

/* A value is copied as bytes: never indented inside, never read as syntax. */
static int emit_bytes(rst *r, const char *s, size_t n)
{
    if (n && r->nind && r->bol && put_indent(r) != 0)
        return -1;
    return put(r, s, n);
}

/* A name's first segment, searched outwards through the sections, then in the defaults. */
static const tvalue *find_top(const rst *r, const rctx *ctx, const char *key, size_t klen,
                              uint64_t hash)
{
    for (const rctx *c = ctx; c; c = c->up) {
        const tvalue *v = tv_map_find(c->v, key, klen, hash);
        if (v)
            return v;
    }
    for (const tframe *f = r->tf; f; f = f->up) {
        const tvalue *v = tv_map_find(f->t->defaults, key, klen, hash);
        if (v)
            return v;
    }
    return NULL;
}

static const tvalue *lookup(const rst *r, const template_def *t, const rctx *ctx,
                            const tpl_tok *k)
{
    if (!k->nseg)
        return ctx ? ctx->v : NULL;
    const tpl_seg *g = &t->segs[k->seg];
    const tvalue *v = find_top(r, ctx, t->text + g->off, g->len, g->hash);
    for (uint32_t i = 1; i < k->nseg && v; i++)
        v = tv_map_find(v, t->text + g[i].off, g[i].len, g[i].hash);
    return v;
}

static int truthy(const tvalue *v)
{
    if (!v)
        return 0;
    switch (v->kind) {
    case TVALUE_STRING: return v->u.str.len > 0;
    case TVALUE_BOOL: return v->u.b;
    case TVALUE_LIST: return v->u.list.n > 0;
    case TVALUE_MAP: return v->u.map.n > 0;
    default: return 0;
    }
}

static int emit_value(rst *r, const template_def *t, const tpl_tok *k, const tvalue *v)
{
    switch (v->kind) {
    case TVALUE_STRING: return emit_bytes(r, v->u.str.s, v->u.str.len);
    case TVALUE_BOOL: return v->u.b ? emit_bytes(r, "true", 4) : emit_bytes(r, "false", 5);
    default:
        return r_fail(r, "invalid_argument",
                      "%s:%u: {{%.*s}} is a %s; render its contents with {{#%.*s}}...{{/%.*s}}",
                      t->origin, k->line, (int)k->len, t->text + k->off,
                      v->kind == TVALUE_LIST ? "list" : "map", (int)k->len, t->text + k->off,
                      (int)k->len, t->text + k->off);
    }
}

/* Required variables of t that have no default must resolve from where t is rendered. */
static int check_required(rst *r, const template_def *t, const rctx *ctx, const template_def *from,
                          const tpl_tok *at)
{
    for (size_t i = 0; i < t->nvars; i++) {
        const tpl_var *v = &t->vars[i];
        if (!v->required || v->def || find_top(r, ctx, v->name, v->nlen, v->hash))
            continue;
        int line = template_var_line(t, i);
        if (from)
            return r_fail(r, "invalid_argument",
                          "%s:%d: missing required variable '%s' (no value given and no default; "
                          "partial '%s' included from %s:%u)",
                          t->origin, line, v->name, at->pname, from->origin, at->line);
        return r_fail(r, "invalid_argument",
                      "%s:%d: missing required variable '%s' (no value given and no default)",
                      t->origin, line, v->name);
    }
    return 0;
}

static int render_range(rst *r, const template_def *t, const rctx *ctx, size_t from, size_t to);

static int render_partial(rst *r, const template_def *t, const rctx *ctx, const tpl_tok *k)
{
    if (r->depth >= TEMPLATE_MAX_PARTIAL_DEPTH)
        return r_fail(r, "invalid_argument",
                      "%s:%u: {{> %s}} nests partials deeper than %d (does a partial include "
                      "itself?)",
                      t->origin, k->line, k->pname, TEMPLATE_MAX_PARTIAL_DEPTH);
    const template_def *p = r->partial ? r->partial(r->partial_ud, k->pname) : NULL;
    if (!p)
        return r_fail(r, "invalid_argument", "%s:%u: partial '%s' not found", t->origin, k->line,
                      k->pname);
    if (check_required(r, p, ctx, t, k) != 0)
        return -1;
    int seen = 0;
    for (int i = 0; i < r->nvisited && !seen; i++)
        seen = r->visited[i] == p;
    if (!seen) {
        if (r->nvisited < MAX_VISITED)
            r->visited[r->nvisited++] = p;
        else
            r->visited_overflow = 1;
    }
    tframe f = {.t = p, .up = r->tf};
    r->tf = &f;
    r->depth++;
    int indented = k->len > 0;
    if (indented) {
        r->ind[r->nind] = t->text + k->off;
        r->indlen[r->nind] = k->len;
        r->nind++;
        r->bol = 1; /* a standalone tag's line was cut: output is at a line start */
    }
    int rc = render_range(r, p, ctx, 0, p->ntok);
    if (indented)
        r->nind--;
    r->depth--;
    r->tf = f.up;
    return rc;
}

static int render_range(rst *r, const template_def *t, const rctx *ctx, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (++r->steps > MAX_STEPS)
            return r_fail(r, "invalid_argument",
                          "%s: rendering takes more than %ld steps (partials nested in loops?)",
                          t->origin, MAX_STEPS);
        const tpl_tok *k = &t->toks[i];
        switch (k->op) {
        case TOK_TEXT:
            if (emit_text(r, t->text + k->off, k->len) != 0)
                return -1;
            break;
        case TOK_VAR: {
            const tvalue *v = lookup(r, t, ctx, k);
            if (v && emit_value(r, t, k, v) != 0)
                return -1;
            break;
        }
        case TOK_SECTION: {
            const tvalue *v = lookup(r, t, ctx, k);
            if (truthy(v)) {
                if (v->kind == TVALUE_LIST) {
                    for (size_t j = 0; j < v->u.list.n; j++) {
                        rctx c = {.v = v->u.list.items[j], .up = ctx};
                        if (render_range(r, t, &c, i + 1, k->jump) != 0)
                            return -1;
                    }
                } else {
                    rctx c = {.v = v, .up = ctx};
                    if (render_range(r, t, &c, i + 1, k->jump) != 0)
                        return -1;
                }
            }
            i = k->jump;
            break;
        }
        case TOK_INVERTED:
            if (!truthy(lookup(r, t, ctx, k)) && render_range(r, t, ctx, i + 1, k->jump) != 0)
                return -1;
            i = k->jump;
            break;
        case TOK_PARTIAL:
            if (render_partial(r, t, ctx, k) != 0)
                return -1;
            break;
        default: /* TOK_END: ranges stop before their end, so never reached */
            break;
        }
    }
    return 0;
}

static int declared_by(const template_def *t, const tv_entry *e)
{
    return tv_map_find(t->declared, e->key, e->klen, e->hash) != NULL;
}

static void warn_unknown(const rst *r, const template_def *t, const tvalue *vars,
                         template_warn_fn warn, void *warn_ud)
{
    if (!vars || r->visited_overflow)
        return;
    int any = t->declared != NULL;
    for (int i = 0; i < r->nvisited && !any; i++)
        any = r->visited[i]->declared != NULL;
    if (!any)
        return;
    for (size_t i = 0; i < vars->u.map.n; i++) {
        const tv_entry *e = &vars->u.map.e[i];
        int known = declared_by(t, e);
        for (int j = 0; j < r->nvisited && !known; j++)
            known = declared_by(r->visited[j], e);
        if (known)
            continue;
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s: variable '%s' is given but not declared in the front matter%s", t->origin,
                 e->key, r->nvisited ? " (nor in the partials rendered)" : "");
        warn(warn_ud, msg);
    }
}

int template_render(const template_def *t, const tvalue *vars, template_partial_fn partial,
                    void *partial_ud, template_warn_fn warn, void *warn_ud, char **out,
                    size_t *out_len, error_info *err)
{
    error_info scratch;
    if (!err)
        err = &scratch;
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!t || !out || !out_len) {
        error_set(err, "invalid_argument", 0, "template_render: %s is NULL",
                      !t ? "the template" : !out ? "out" : "out_len");
        return -1;
    }
    if (vars && vars->kind != TVALUE_MAP) {
        error_set(err, "invalid_argument", 0, "%s: template_render: vars must be a map",
                      t->origin);
        return -1;
    }
    tframe root = {.t = t, .up = NULL};
    rst r = {.partial = partial, .partial_ud = partial_ud, .err = err, .tf = &root};
    rctx top = {.v = vars, .up = NULL};
    const rctx *ctx = vars ? &top : NULL;
    /* Most of the output is the template's own text: start near that size. */
    if (grow(&r, t->len + t->len / 4 + 64) != 0)
        return -1;
    if (check_required(&r, t, ctx, NULL, NULL) != 0 || render_range(&r, t, ctx, 0, t->ntok) != 0) {
        free(r.buf);
        return -1;
    }
    r.buf[r.len] = '\0';
    if (warn)
        warn_unknown(&r, t, vars, warn, warn_ud);
    *out = r.buf;
    *out_len = r.len;
    return 0;
}
