/* Compiling a template body into tokens, and the template's accessors. The compiler scans
 * the text once; rendering then walks the tokens and never looks at the source again:
 * text tokens are (offset, length) pairs, names are pre-split into hashed segments, sections
 * know where their end is, and standalone lines are already cut out. */
#define _POSIX_C_SOURCE 200809L
#include "template_int.h"
#include "base/array.h"
#include "base/text.h"
#include "base/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct cmp {
    template_def *t;
    error_info *err;
    size_t body;      /* first byte of the body */
    size_t cur;       /* position up to which lines are counted */
    int cur_line;     /* line of cur */
    uint32_t open[TEMPLATE_MAX_SECTION_DEPTH];
    int depth;
} cmp;

static int cmp_fail(cmp *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cmp_fail(cmp *c, int line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_set(c->err, "invalid_argument", 0, "%s:%d: %s", c->t->origin, line, msg);
    return -1;
}

int tpl_oom(error_info *err, const template_def *t)
{
    error_set(err, "out_of_memory", 0, "%s: out of memory", t->origin);
    return -1;
}

/* Line of pos; positions are asked in increasing order, so counting is linear overall. */
static int line_at(cmp *c, size_t pos)
{
    const char *s = c->t->text;
    for (size_t i = c->cur; i < pos; i++)
        if (s[i] == '\n')
            c->cur_line++;
    c->cur = pos;
    return c->cur_line;
}

static tpl_tok *add_tok(cmp *c, int op, int line)
{
    template_def *t = c->t;
    tpl_tok *toks = array_room(t->toks, t->ntok, &t->captok, sizeof *toks, 32);
    if (!toks) {
        tpl_oom(c->err, c->t);
        return NULL;
    }
    t->toks = toks;
    tpl_tok *k = &t->toks[t->ntok++];
    *k = (tpl_tok){.op = (uint8_t)op, .line = (uint32_t)line};
    return k;
}

static int add_text(cmp *c, size_t from, size_t to, int line)
{
    if (to <= from)
        return 0;
    /* Adjacent text (around a removed comment) merges into one copy at render time. */
    template_def *t = c->t;
    if (t->ntok && t->toks[t->ntok - 1].op == TOK_TEXT) {
        tpl_tok *prev = &t->toks[t->ntok - 1];
        if (prev->off + prev->len == from) {
            prev->len += (uint32_t)(to - from);
            return 0;
        }
    }
    tpl_tok *k = add_tok(c, TOK_TEXT, line);
    if (!k)
        return -1;
    k->off = (uint32_t)from;
    k->len = (uint32_t)(to - from);
    return 0;
}

/* Splits the name [s, e) into hashed segments of token k. */
static int compile_name(cmp *c, tpl_tok *k, size_t s, size_t e, int line)
{
    template_def *t = c->t;
    const char *txt = t->text;
    k->off = (uint32_t)s;
    k->len = (uint32_t)(e - s);
    k->seg = (uint32_t)t->nsegs;
    k->nseg = 0;
    if (e - s == 1 && txt[s] == '.')
        return 0;
    size_t a = s;
    for (;;) {
        size_t b = a;
        while (b < e && text_word_char(txt[b]))
            b++;
        if (b == a || (b < e && txt[b] != '.') || (b == e - 1 && txt[b] == '.'))
            return cmp_fail(c, line,
                            "invalid name '%.*s' in a tag (names are letters, digits, '_' and "
                            "'-', joined by '.'; to output a literal '{{', pass it in a variable)",
                            (int)(e - s), txt + s);
        tpl_seg *segs = array_room(t->segs, t->nsegs, &t->capsegs, sizeof *segs, 32);
        if (!segs)
            return tpl_oom(c->err, c->t);
        t->segs = segs;
        t->segs[t->nsegs++] =
            (tpl_seg){.off = (uint32_t)a, .len = (uint32_t)(b - a), .hash = tv_hash(txt + a, b - a)};
        k->nseg++;
        if (b == e)
            return 0;
        a = b + 1;
    }
}

static const char *find2(const char *s, size_t from, size_t to, const char *pat, size_t plen)
{
    for (size_t i = from; i + plen <= to; i++) {
        const char *p = memchr(s + i, pat[0], to - i);
        if (!p)
            return NULL;
        i = (size_t)(p - s);
        if (i + plen <= to && memcmp(p, pat, plen) == 0)
            return p;
    }
    return NULL;
}

static int compile_body(cmp *c, size_t pos)
{
    template_def *t = c->t;
    const char *s = t->text;
    size_t len = t->len;
    size_t text_start = pos;
    int text_line = line_at(c, pos);
    /* The end of the line holding the tag being read: found once per line, not once per tag
     * (a long line of tags was scanned to its end for each one: quadratic). */
    size_t eol = 0;
    int eol_known = 0;
    for (;;) {
        const char *open = find2(s, text_start, len, "{{", 2);
        if (!open)
            break;
        size_t p = (size_t)(open - s);
        int line = line_at(c, p);
        char sigil = p + 2 < len ? s[p + 2] : '\0';
        int op;
        const char *close_pat = "}}";
        size_t cs = p + 3;
        switch (sigil) {
        case '#': op = TOK_SECTION; break;
        case '^': op = TOK_INVERTED; break;
        case '/': op = TOK_END; break;
        case '>': op = TOK_PARTIAL; break;
        case '!': op = -1; break; /* comment */
        case '&': op = TOK_VAR; break;
        case '{': op = TOK_VAR; close_pat = "}}}"; break;
        case '=':
            return cmp_fail(c, line, "set-delimiter tags {{=...=}} are not supported");
        default: op = TOK_VAR; cs = p + 2; break;
        }
        size_t clen = strlen(close_pat);
        /* Only comments may span lines: an unclosed tag is reported where it opens. */
        size_t limit = len;
        if (op != -1) {
            if (!eol_known || eol < p) {
                const char *nl = memchr(s + p, '\n', len - p);
                eol = nl ? (size_t)(nl - s) : len;
                eol_known = 1;
            }
            limit = eol;
        }
        const char *close = cs <= limit ? find2(s, cs, limit, close_pat, clen) : NULL;
        if (!close)
            return cmp_fail(c, line, "tag '%.*s' is not closed with '%s'%s",
                            (int)((limit - p) > 20 ? 20 : (limit - p)), s + p, close_pat,
                            op == -1 ? "" : " on the same line");
        size_t ce = (size_t)(close - s);
        size_t tag_end = ce + clen;
        while (cs < ce && (s[cs] == ' ' || s[cs] == '\t'))
            cs++;
        while (ce > cs && (s[ce - 1] == ' ' || s[ce - 1] == '\t'))
            ce--;

        /* Standalone: only blanks before the tag on its line and after it up to the newline. */
        size_t ls = p, next = tag_end;
        int standalone = 0;
        if (op != TOK_VAR) {
            while (ls > c->body && (s[ls - 1] == ' ' || s[ls - 1] == '\t'))
                ls--;
            if (ls == c->body || s[ls - 1] == '\n') {
                size_t j = tag_end;
                while (j < len && (s[j] == ' ' || s[j] == '\t'))
                    j++;
                if (j == len)
                    standalone = 1, next = j;
                else if (s[j] == '\n')
                    standalone = 1, next = j + 1;
                else if (s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
                    standalone = 1, next = j + 2;
            }
        }
        if (add_text(c, text_start, standalone ? ls : p, text_line) != 0)
            return -1;

        if (op != -1 && cs == ce)
            return cmp_fail(c, line, "empty tag '%.*s'", (int)(tag_end - p), s + p);
        tpl_tok *k;
        switch (op) {
        case -1:
            break;
        case TOK_VAR:
            if (!(k = add_tok(c, TOK_VAR, line)) || compile_name(c, k, cs, ce, line) != 0)
                return -1;
            break;
        case TOK_SECTION:
        case TOK_INVERTED:
            if (c->depth == TEMPLATE_MAX_SECTION_DEPTH)
                return cmp_fail(c, line, "sections nested deeper than %d",
                                TEMPLATE_MAX_SECTION_DEPTH);
            if (!(k = add_tok(c, op, line)) || compile_name(c, k, cs, ce, line) != 0)
                return -1;
            c->open[c->depth++] = (uint32_t)(t->ntok - 1);
            break;
        case TOK_END: {
            if (c->depth == 0)
                return cmp_fail(c, line, "closing tag {{/%.*s}} without an open section",
                                (int)(ce - cs), s + cs);
            uint32_t oi = c->open[c->depth - 1];
            const tpl_tok *o = &t->toks[oi];
            if (o->len != ce - cs || memcmp(s + o->off, s + cs, ce - cs) != 0)
                return cmp_fail(c, line,
                                "closing tag {{/%.*s}} does not match {{%c%.*s}} opened at line %u",
                                (int)(ce - cs), s + cs, o->op == TOK_SECTION ? '#' : '^',
                                (int)o->len, s + o->off, o->line);
            c->depth--;
            if (!(k = add_tok(c, TOK_END, line)))
                return -1;
            k->off = (uint32_t)cs;
            k->len = (uint32_t)(ce - cs);
            k->jump = oi;
            t->toks[oi].jump = (uint32_t)(t->ntok - 1);
            break;
        }
        case TOK_PARTIAL: {
            for (size_t i = cs; i < ce; i++)
                if (s[i] == ' ' || s[i] == '\t' || s[i] == '{' || s[i] == '}')
                    return cmp_fail(c, line, "invalid partial name '%.*s'", (int)(ce - cs),
                                    s + cs);
            if (!(k = add_tok(c, TOK_PARTIAL, line)))
                return -1;
            if (!(k->pname = malloc(ce - cs + 1)))
                return tpl_oom(c->err, c->t);
            memcpy(k->pname, s + cs, ce - cs);
            k->pname[ce - cs] = '\0';
            if (standalone) {
                k->off = (uint32_t)ls;
                k->len = (uint32_t)(p - ls);
            }
            break;
        }
        }
        text_start = next;
        text_line = line_at(c, next);
    }
    if (add_text(c, text_start, len, text_line) != 0)
        return -1;
    if (c->depth) {
        const tpl_tok *o = &t->toks[c->open[c->depth - 1]];
        return cmp_fail(c, (int)o->line, "section {{%c%.*s}} is never closed",
                        o->op == TOK_SECTION ? '#' : '^', (int)o->len, s + o->off);
    }
    return 0;
}

/* First body line that uses each declared variable, for "missing variable" messages. */
static void note_uses(template_def *t)
{
    for (size_t i = 0; i < t->ntok; i++) {
        const tpl_tok *k = &t->toks[i];
        if ((k->op != TOK_VAR && k->op != TOK_SECTION && k->op != TOK_INVERTED) || !k->nseg)
            continue;
        const tpl_seg *g = &t->segs[k->seg];
        for (size_t v = 0; v < t->nvars; v++) {
            tpl_var *var = &t->vars[v];
            if (!var->use_line && var->nlen == g->len &&
                memcmp(var->name, t->text + g->off, g->len) == 0)
                var->use_line = (int)k->line;
        }
    }
}

template_def *template_parse(const char *text, size_t len, const char *origin, error_info *err)
{
    error_info scratch;
    if (!err)
        err = &scratch;
    if (!origin)
        origin = "template";
    if (!text && len) {
        error_set(err, "invalid_argument", 0, "%s: template_parse: text is NULL", origin);
        return NULL;
    }
    if (len >= UINT32_MAX) {
        error_set(err, "invalid_argument", 0, "%s: template is larger than 4 GiB", origin);
        return NULL;
    }
    /* A template is text: a NUL byte (a binary file, or one saved as UTF-16, which has one in
     * every other byte) ended it there once stored, the rest dropped unseen. */
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul) {
        int line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        error_set(err, "invalid_argument", 0,
                  "%s:%d: a NUL byte: a template is UTF-8 text (is the file binary, or saved as UTF-16?)", origin,
                  line);
        return NULL;
    }
    /* Nor other bytes than UTF-8 (a file saved as Latin-1 or Windows-1252): every call made from
     * it would be refused, as the API takes only UTF-8. Named where it is, once, here. */
    long bad = utf8_bad(text, len);
    if (bad >= 0) {
        int line = 1;
        long col = 1;
        for (long i = 0; i < bad; i++, col++)
            if (text[i] == '\n') {
                line++;
                col = 0;
            }
        error_set(err, "invalid_argument", 0,
                  "%s:%d: byte %ld of the line is 0x%02X, not UTF-8: a template is UTF-8 text (is the file saved as "
                  "Latin-1 or Windows-1252?)",
                  origin, line, col, (unsigned char)text[bad]);
        return NULL;
    }
    template_def *t = calloc(1, sizeof *t);
    if (!t || !(t->origin = strdup(origin)) || !(t->text = malloc(len + 1))) {
        error_set(err, "out_of_memory", 0, "%s: out of memory", origin);
        template_free(t);
        return NULL;
    }
    if (len)
        memcpy(t->text, text, len);
    t->text[len] = '\0';
    t->len = len;
    t->hash = XXH3_64bits(t->text, len);
    size_t body;
    int body_line;
    if (tpl_front_matter(t, &body, &body_line, err) != 0) {
        template_free(t);
        return NULL;
    }
    cmp c = {.t = t, .err = err, .body = body, .cur = body, .cur_line = body_line};
    if (compile_body(&c, body) != 0) {
        template_free(t);
        return NULL;
    }
    note_uses(t);
    return t;
}

void template_free(template_def *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ntok; i++)
        if (t->toks[i].op == TOK_PARTIAL)
            free(t->toks[i].pname);
    free(t->toks);
    free(t->segs);
    for (size_t i = 0; i < t->nvars; i++) {
        free(t->vars[i].name);
        free(t->vars[i].def);
        free(t->vars[i].desc);
    }
    free(t->vars);
    tvalue_free(t->defaults);
    tvalue_free(t->declared);
    free(t->description);
    free(t->model);
    free(t->output_json);
    free(t->tools);
    free(t->origin);
    free(t->text);
    free(t);
}

const char *template_description(const template_def *t) { return t ? t->description : NULL; }
const char *template_model_hint(const template_def *t) { return t ? t->model : NULL; }
const char *template_output_schema(const template_def *t) { return t ? t->output_json : NULL; }
const char *template_tools(const template_def *t) { return t ? t->tools : NULL; }
const char *template_origin(const template_def *t) { return t ? t->origin : NULL; }
uint64_t template_hash(const template_def *t) { return t ? t->hash : 0; }
size_t template_nvars(const template_def *t) { return t ? t->nvars : 0; }

const char *template_text(const template_def *t, size_t *len)
{
    if (len)
        *len = t ? t->len : 0;
    return t ? t->text : NULL;
}

static const tpl_var *var_at(const template_def *t, size_t i)
{
    return t && i < t->nvars ? &t->vars[i] : NULL;
}

const char *template_var_name(const template_def *t, size_t i)
{
    const tpl_var *v = var_at(t, i);
    return v ? v->name : NULL;
}

int template_var_required(const template_def *t, size_t i)
{
    const tpl_var *v = var_at(t, i);
    return v ? v->required : 0;
}

const char *template_var_default(const template_def *t, size_t i)
{
    const tpl_var *v = var_at(t, i);
    return v ? v->def : NULL;
}

const char *template_var_description(const template_def *t, size_t i)
{
    const tpl_var *v = var_at(t, i);
    return v ? v->desc : NULL;
}

int template_var_line(const template_def *t, size_t i)
{
    const tpl_var *v = var_at(t, i);
    return v ? (v->use_line ? v->use_line : v->decl_line) : 0;
}
