/* Template parsing and rendering: every syntax element, whitespace, partials, front matter,
 * errors with their file:line, warnings, hashing, and the templates shipped in templates/. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "template/template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- helpers ---- */

static tvalue *S(const char *s) { return tvalue_string(s, strlen(s)); }

/* A map from alternating key, value pairs; values are tvalue* (owned). NULL-terminated. */
static tvalue *M(const char *key, ...)
{
    tvalue *m = tvalue_map();
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *)) {
        tvalue *v = va_arg(ap, tvalue *);
        if (tvalue_map_set(m, k, v) != 0)
            check_failures++;
    }
    va_end(ap);
    return m;
}

/* A list of tvalue* (owned), NULL-terminated. */
static tvalue *L(tvalue *first, ...)
{
    tvalue *l = tvalue_list();
    va_list ap;
    va_start(ap, first);
    for (tvalue *v = first; v; v = va_arg(ap, tvalue *))
        if (tvalue_list_push(l, v) != 0)
            check_failures++;
    va_end(ap);
    return l;
}

/* Partials by name, for the render callback. */
typedef struct partials {
    const char *names[8];
    template_def *t[8];
    int n;
    int calls;
} partials;

static const template_def *find_partial(void *ud, const char *name)
{
    partials *p = ud;
    p->calls++;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->t[i];
    return NULL;
}

static void add_partial(partials *p, const char *name, const char *text)
{
    error_info err = cleared_error();
    template_def *t = template_parse(text, strlen(text), name, &err);
    if (!t) {
        fprintf(stderr, "partial %s: %s\n", name, err.message);
        check_failures++;
        return;
    }
    p->names[p->n] = name;
    p->t[p->n++] = t;
}

static void free_partials(partials *p)
{
    for (int i = 0; i < p->n; i++)
        template_free(p->t[i]);
    p->n = 0;
}

/* Warnings collected into one string, one per line. */
typedef struct warnings {
    char text[2048];
    int n;
} warnings;

static void collect_warning(void *ud, const char *msg)
{
    warnings *w = ud;
    size_t len = strlen(w->text);
    snprintf(w->text + len, sizeof w->text - len, "%s\n", msg);
    w->n++;
}

static char last_error[600];

/* Parses and renders text; returns the output (static buffer) or NULL with last_error set. */
static const char *render_full(const char *text, const tvalue *vars, partials *p, warnings *w)
{
    static char out_copy[8192];
    error_info err = cleared_error();
    last_error[0] = '\0';
    template_def *t = template_parse(text, strlen(text), "t.md", &err);
    if (!t) {
        snprintf(last_error, sizeof last_error, "%s", err.message);
        return NULL;
    }
    char *out = (char *)"sentinel";
    size_t len = 99;
    int rc = template_render(t, vars, p ? find_partial : NULL, p, w ? collect_warning : NULL, w,
                             &out, &len, &err);
    template_free(t);
    if (rc != 0) {
        CHECK(out == NULL);
        CHECK_INT(len, 0);
        snprintf(last_error, sizeof last_error, "%s", err.message);
        return NULL;
    }
    CHECK_INT(strlen(out), len);
    snprintf(out_copy, sizeof out_copy, "%s", out);
    free(out);
    return out_copy;
}

static const char *render(const char *text, const tvalue *vars)
{
    return render_full(text, vars, NULL, NULL);
}

/* Expects parsing to fail with exactly msg. */
static void check_parse_error(const char *text, size_t len, const char *msg, int line)
{
    error_info err = cleared_error();
    template_def *t = template_parse(text, len, "bad.md", &err);
    if (t) {
        check_fail_at(__FILE__, line);
        fprintf(stderr, "parse succeeded, expected \"%s\"\n", msg);
        template_free(t);
        return;
    }
    if (strcmp(err.type, "invalid_argument") != 0 || strcmp(err.message, msg) != 0) {
        check_fail_at(__FILE__, line);
        fprintf(stderr, "error [%s] \"%s\", expected \"%s\"\n", err.type, err.message, msg);
    }
}
#define PARSE_ERROR(text, msg) check_parse_error(text, strlen(text), msg, __LINE__)
#define PARSE_ERROR_LEN(text, len, msg) check_parse_error(text, len, msg, __LINE__)

/* ---- variables ---- */

static void test_variables(void)
{
    tvalue *v = M("name", S("Ada"), "n", S("3"), "flag", tvalue_bool(1), "off", tvalue_bool(0),
                  "a", M("b", M("c", S("deep"), NULL), NULL), NULL);
    CHECK_STR(render("Hello {{name}}!", v), "Hello Ada!");
    CHECK_STR(render("{{ name }}|{{{name}}}|{{&name}}|{{{ name }}}", v), "Ada|Ada|Ada|Ada");
    CHECK_STR(render("[{{missing}}]", v), "[]");
    CHECK_STR(render("{{flag}} {{off}}", v), "true false");
    CHECK_STR(render("{{a.b.c}}/{{a.x}}/{{a.b.c.d}}/{{nope.b}}", v), "deep///");
    CHECK_STR(render("no tags at all\n", v), "no tags at all\n");
    CHECK_STR(render("", v), "");
    CHECK_STR(render("{{n}}{{n}}{{n}}", v), "333");
    /* Lone braces are text. */
    CHECK_STR(render("{ } }} {x} {{name}}}", v), "{ } }} {x} Ada}");
    /* vars may be NULL. */
    CHECK_STR(render("a{{x}}b", NULL), "ab");
    /* A list or map in {{name}} is an error naming it. */
    tvalue *l = M("items", L(S("x"), NULL), NULL);
    CHECK(render("\n{{items}}", l) == NULL);
    CHECK_STR(last_error, "t.md:2: {{items}} is a list; render its contents with "
                          "{{#items}}...{{/items}}");
    CHECK(render("{{a}}", v) == NULL);
    CHECK_STR(last_error, "t.md:1: {{a}} is a map; render its contents with {{#a}}...{{/a}}");
    tvalue_free(l);
    tvalue_free(v);
}

static void test_values_are_literal(void)
{
    tvalue *v = M("x", S("{{y}} {{#s}}in{{/s}} {{> p}} {{! c}} {{"), "y", S("Y"),
                  "s", tvalue_bool(1), NULL);
    partials p = {0};
    add_partial(&p, "p", "PARTIAL");
    CHECK_STR(render_full("<{{x}}>", v, &p, NULL), "<{{y}} {{#s}}in{{/s}} {{> p}} {{! c}} {{>");
    CHECK_INT(p.calls, 0);
    /* In a section too, and for {{.}}. */
    tvalue *w = M("l", L(S("{{y}}"), S("}}"), NULL), "y", S("Y"), NULL);
    CHECK_STR(render("{{#l}}[{{.}}]{{/l}}", w), "[{{y}}][}}]");
    /* Bytes pass through untouched, including a NUL inside a value. */
    tvalue *z = M("z", tvalue_string("a\0b", 3), NULL);
    error_info err;
    template_def *t = template_parse("<{{z}}>", 7, "z.md", &err);
    char *out = NULL;
    size_t len = 0;
    CHECK(t != NULL);
    CHECK_INT(template_render(t, z, NULL, NULL, NULL, NULL, &out, &len, &err), 0);
    CHECK_INT(len, 5);
    CHECK(out && memcmp(out, "<a\0b>", 6) == 0);
    free(out);
    template_free(t);
    tvalue_free(z);
    tvalue_free(w);
    tvalue_free(v);
    free_partials(&p);
}

/* ---- sections ---- */

static void test_sections(void)
{
    tvalue *v = M("list", L(S("a"), S("b"), S("c"), NULL), "empty", tvalue_list(),
                  "yes", tvalue_bool(1), "no", tvalue_bool(0), "str", S("text"), "blank", S(""),
                  "map", M("k", S("v"), NULL), "emptymap", tvalue_map(),
                  "people", L(M("name", S("Ann"), "role", S("CFO"), NULL),
                              M("name", S("Bo"), NULL), NULL),
                  "role", S("outer"), NULL);
    CHECK_STR(render("{{#list}}<{{.}}>{{/list}}", v), "<a><b><c>");
    CHECK_STR(render("{{#empty}}x{{/empty}}", v), "");
    CHECK_STR(render("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}", v), "Y");
    CHECK_STR(render("{{#str}}[{{.}}|{{str}}]{{/str}}{{#blank}}B{{/blank}}", v), "[text|text]");
    CHECK_STR(render("{{#missing}}M{{/missing}}", v), "");
    CHECK_STR(render("{{#map}}{{k}}{{/map}}{{#emptymap}}E{{/emptymap}}", v), "v");
    /* Names not found on the item come from the enclosing contexts. */
    CHECK_STR(render("{{#people}}{{name}}={{role}};{{/people}}", v), "Ann=CFO;Bo=outer;");
    /* Nested sections: lists in lists, and a section inside a list item. */
    tvalue *n = M("rows", L(M("cells", L(S("1"), S("2"), NULL), NULL),
                            M("cells", L(S("3"), NULL), NULL), M("cells", tvalue_list(), NULL),
                            NULL),
                  "sep", S(","), NULL);
    CHECK_STR(render("{{#rows}}({{#cells}}{{.}}{{sep}}{{/cells}}){{/rows}}", n),
              "(1,2,)(3,)()");
    CHECK_STR(render("{{#rows}}{{#cells}}{{#sep}}[{{.}}]{{/sep}}{{/cells}}{{/rows}}", n),
              "[,][,][,]");
    /* The same name open twice, nested. */
    tvalue *d = M("a", M("a", M("x", S("inner"), NULL), "x", S("mid"), NULL), NULL);
    CHECK_STR(render("{{#a}}{{x}}{{#a}}{{x}}{{/a}}{{/a}}", d), "midinner");
    /* Dotted names in sections. */
    CHECK_STR(render("{{#a.a}}{{x}}{{/a.a}}{{^a.b}}none{{/a.b}}", d), "innernone");
    tvalue_free(d);
    tvalue_free(n);
    tvalue_free(v);
}

static void test_inverted(void)
{
    tvalue *v = M("list", L(S("a"), NULL), "empty", tvalue_list(), "yes", tvalue_bool(1),
                  "no", tvalue_bool(0), "str", S("s"), "blank", S(""), "emptymap", tvalue_map(),
                  NULL);
    CHECK_STR(render("{{^missing}}1{{/missing}}{{^no}}2{{/no}}{{^empty}}3{{/empty}}"
                     "{{^blank}}4{{/blank}}{{^emptymap}}5{{/emptymap}}",
                     v),
              "12345");
    CHECK_STR(render("{{^list}}1{{/list}}{{^yes}}2{{/yes}}{{^str}}3{{/str}}", v), "");
    CHECK_STR(render("{{#list}}has{{/list}}{{^list}}none{{/list}}", v), "has");
    CHECK_STR(render("{{#empty}}has{{/empty}}{{^empty}}none{{/empty}}", v), "none");
    tvalue_free(v);
}

static void test_comments(void)
{
    CHECK_STR(render("a{{! a comment }}b", NULL), "ab");
    CHECK_STR(render("a{{!}}b{{! {{x }}c", NULL), "abc");
    /* A comment ends at the first "}}", as in mustache. */
    CHECK_STR(render("a{{! {{x}} }}c", NULL), "a }}c");
    CHECK_STR(render("line 1\n{{! standalone }}\nline 2\n", NULL), "line 1\nline 2\n");
    CHECK_STR(render("line 1\n  {{! multi\n line\n comment }}  \nline 2\n", NULL),
              "line 1\nline 2\n");
    /* Lines keep counting through a multi-line comment. */
    CHECK(render("{{! one\ntwo\nthree }}\n{{#x}}", NULL) == NULL);
    CHECK_STR(last_error, "t.md:4: section {{#x}} is never closed");
}

/* ---- whitespace ---- */

static void test_standalone(void)
{
    tvalue *v = M("items", L(S("a"), S("b"), NULL), "t", tvalue_bool(1), NULL);
    CHECK_STR(render("Items:\n{{#items}}\n- {{.}}\n{{/items}}\nEnd\n", v), "Items:\n- a\n- b\nEnd\n");
    /* Indented tags and trailing blanks are standalone too; so is CRLF. */
    CHECK_STR(render("Items:\r\n  {{#items}}  \r\n- {{.}}\r\n\t{{/items}}\r\nEnd", v),
              "Items:\r\n- a\r\n- b\r\nEnd");
    /* Inverted, at the start and end of the body. */
    CHECK_STR(render("{{^none}}\nx\n{{/none}}", v), "x\n");
    CHECK_STR(render("{{#t}}\n{{#t}}\nin\n{{/t}}\n{{/t}}\n", v), "in\n");
    /* Not standalone: other text or another tag on the line. */
    CHECK_STR(render(" {{#t}}x{{/t}} \n", v), " x \n");
    CHECK_STR(render("a {{#t}}\nb\n{{/t}} c\n", v), "a \nb\n c\n");
    CHECK_STR(render("{{#t}}{{/t}}\nx", v), "\nx");
    /* Variables are never standalone: their line stays. */
    CHECK_STR(render("a\n{{missing}}\nb", v), "a\n\nb");
    tvalue_free(v);
}

/* ---- partials ---- */

static void test_partials(void)
{
    partials p = {0};
    add_partial(&p, "greet", "Hello, {{name}}!");
    add_partial(&p, "block", "first {{name}}\nsecond\n\nlast\n");
    add_partial(&p, "outer", "<\n  {{> block}}\n>\n");
    add_partial(&p, "self", "[{{> self}}]");
    add_partial(&p, "node", "{{name}}{{#child}}({{> node}}){{/child}}");
    add_partial(&p, "defs",
                "---\nvariables:\n  tone: {default: \"calm\"}\n  who: {required: true}\n---\n"
                "{{who}} is {{tone}}");
    tvalue *v = M("name", S("Ada"), NULL);
    CHECK_STR(render_full("{{> greet}} / {{>greet}}", v, &p, NULL), "Hello, Ada! / Hello, Ada!");
    /* A standalone partial takes its indentation onto each of its lines (not empty ones). */
    CHECK_STR(render_full("List:\n  {{> block}}\nend\n", v, &p, NULL),
              "List:\n  first Ada\n  second\n\n  last\nend\n");
    CHECK_STR(render_full("  {{> outer}}\n", v, &p, NULL),
              "  <\n    first Ada\n    second\n\n    last\n  >\n");
    /* The partial sees the section's context. */
    tvalue *people = M("people", L(M("name", S("Ann"), NULL), M("name", S("Bo"), NULL), NULL),
                       NULL);
    CHECK_STR(render_full("{{#people}}{{> greet}} {{/people}}", people, &p, NULL),
              "Hello, Ann! Hello, Bo! ");
    /* Recursion that the data ends is fine... */
    tvalue *tree = M("name", S("a"), "child",
                     M("name", S("b"), "child", M("name", S("c"), "child", tvalue_bool(0), NULL), NULL),
                     NULL);
    CHECK_STR(render_full("{{> node}}", tree, &p, NULL), "a(b(c))");
    /* ...up to 10 levels of partials; the 11th is refused. */
    /* A leaf must say it has no child: a missing name is looked up in the enclosing
     * contexts, as mustache does, and would find its parent's child again. */
    tvalue *deep = M("name", S("0"), "child", tvalue_bool(0), NULL);
    for (int i = 1; i < 11; i++) {
        char n[4];
        snprintf(n, sizeof n, "%d", i);
        deep = M("name", S(n), "child", deep, NULL);
    }
    /* deep has 11 names: the body plus 10 partial levels would need 11 partials. */
    CHECK(render_full("{{> node}}", deep, &p, NULL) == NULL);
    CHECK_STR(last_error, "node:1: {{> node}} nests partials deeper than 10 (does a partial "
                          "include itself?)");
    const tvalue *ten = tvalue_map_get(deep, "child");
    CHECK_STR(render_full("{{> node}}", ten, &p, NULL),
              "9(8(7(6(5(4(3(2(1(0)))))))))");
    CHECK(render_full("x\n{{> self}}", v, &p, NULL) == NULL);
    CHECK_STR(last_error, "self:1: {{> self}} nests partials deeper than 10 (does a partial "
                          "include itself?)");
    /* Unknown partial, and no callback at all. */
    CHECK(render_full("\n\n{{> nowhere}}", v, &p, NULL) == NULL);
    CHECK_STR(last_error, "t.md:3: partial 'nowhere' not found");
    CHECK(render_full("{{> greet}}", v, NULL, NULL) == NULL);
    CHECK_STR(last_error, "t.md:1: partial 'greet' not found");
    /* A partial's own defaults and required variables. */
    tvalue *who = M("who", S("Bo"), NULL);
    CHECK_STR(render_full("{{> defs}}", who, &p, NULL), "Bo is calm");
    CHECK(render_full("\n{{> defs}}", v, &p, NULL) == NULL);
    CHECK_STR(last_error, "defs:6: missing required variable 'who' (no value given and no "
                          "default; partial 'defs' included from t.md:2)");
    /* Partial names with paths. */
    add_partial(&p, "shared/footer.md", "-- footer");
    CHECK_STR(render_full("{{> shared/footer.md }}", v, &p, NULL), "-- footer");
    tvalue_free(who);
    tvalue_free(deep);
    tvalue_free(tree);
    tvalue_free(people);
    tvalue_free(v);
    free_partials(&p);
}

/* ---- front matter, defaults, required ---- */

static const char *const FM =
    "---\n"                                                           /* 1 */
    "# a comment line\n"                                              /* 2 */
    "description: Shared context for a council session\n"            /* 3 */
    "model: claude-sonnet-4-5   # a hint\n"                           /* 4 */
    "variables:\n"                                                    /* 5 */
    "  company: {required: true, description: \"The company\"}\n"    /* 6 */
    "  tone: {default: \"plain\"}\n"                                  /* 7 */
    "  personas: {required: false}\n"                                 /* 8 */
    "  quoted: {default: 'it''s \"here\"', required: no}\n"           /* 9 */
    "  bare:\n"                                                       /* 10 */
    "  block:\n"                                                      /* 11 */
    "    required: true\n"                                            /* 12 */
    "    default: \"a\\tb\\n\"\n"                                     /* 13 */
    "    description: A block-style declaration\n"                   /* 14 */
    "---\n"                                                           /* 15 */
    "Company: {{company}}\n"                                          /* 16 */
    "Tone: {{tone}}\n"                                                /* 17 */
    "{{#personas}}\n"                                                 /* 18 */
    "- {{name}}\n"                                                    /* 19 */
    "{{/personas}}\n"                                                 /* 20 */
    "{{quoted}}|{{block}}";                                           /* 21 */

static void test_front_matter(void)
{
    error_info err = cleared_error();
    template_def *t = template_parse(FM, strlen(FM), "council.md", &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK_STR(template_description(t), "Shared context for a council session");
    CHECK_STR(template_model_hint(t), "claude-sonnet-4-5");
    CHECK_STR(template_origin(t), "council.md");
    size_t len = 0;
    CHECK_STR(template_text(t, &len), FM);
    CHECK_INT(len, strlen(FM));
    CHECK_INT(template_nvars(t), 6);
    const char *names[] = {"company", "tone", "personas", "quoted", "bare", "block"};
    for (size_t i = 0; i < 6; i++)
        CHECK_STR(template_var_name(t, i), names[i]);
    CHECK_INT(template_var_required(t, 0), 1);
    CHECK_INT(template_var_required(t, 1), 0);
    CHECK_INT(template_var_required(t, 2), 0);
    CHECK_INT(template_var_required(t, 3), 0);
    CHECK_INT(template_var_required(t, 5), 1);
    CHECK(template_var_default(t, 0) == NULL);
    CHECK_STR(template_var_default(t, 1), "plain");
    CHECK_STR(template_var_default(t, 3), "it's \"here\"");
    CHECK_STR(template_var_default(t, 5), "a\tb\n");
    CHECK_STR(template_var_description(t, 0), "The company");
    CHECK(template_var_description(t, 1) == NULL);
    CHECK_STR(template_var_description(t, 5), "A block-style declaration");
    CHECK_INT(template_var_line(t, 0), 16); /* first use */
    CHECK_INT(template_var_line(t, 2), 18);
    CHECK_INT(template_var_line(t, 4), 10); /* never used: its declaration */
    CHECK(template_var_name(t, 6) == NULL);
    CHECK_INT(template_var_required(t, 6), 0);
    CHECK(template_var_default(t, 99) == NULL);
    CHECK_INT(template_var_line(t, 6), 0);

    /* Defaults fill in; given values win; the body starts after the closing fence. */
    tvalue *v = M("company", S("Northwind"), "personas", L(M("name", S("CFO"), NULL), NULL), NULL);
    char *out = NULL;
    CHECK_INT(template_render(t, v, NULL, NULL, NULL, NULL, &out, &len, &err), 0);
    CHECK_STR(out, "Company: Northwind\nTone: plain\n- CFO\nit's \"here\"|a\tb\n");
    free(out);
    CHECK_INT(tvalue_map_set(v, "tone", S("blunt")), 0);
    CHECK_INT(tvalue_map_set(v, "block", S("B")), 0);
    CHECK_INT(template_render(t, v, NULL, NULL, NULL, NULL, &out, &len, &err), 0);
    CHECK_STR(out, "Company: Northwind\nTone: blunt\n- CFO\nit's \"here\"|B");
    free(out);

    /* A missing required variable names itself and the file:line of its first use. */
    tvalue *none = M("tone", S("x"), NULL);
    out = (char *)"x";
    CHECK_INT(template_render(t, none, NULL, NULL, NULL, NULL, &out, &len, &err), -1);
    CHECK(out == NULL);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_STR(err.message, "council.md:16: missing required variable 'company' (no value given "
                           "and no default)");
    CHECK_INT(template_render(t, NULL, NULL, NULL, NULL, NULL, &out, &len, &err), -1);
    CHECK_STR(err.message, "council.md:16: missing required variable 'company' (no value given "
                           "and no default)");
    /* A value that is present but empty or false is a value. */
    tvalue *empty = M("company", S(""), NULL);
    CHECK_INT(template_render(t, empty, NULL, NULL, NULL, NULL, &out, &len, &err), 0);
    CHECK_STR(out, "Company: \nTone: plain\nit's \"here\"|a\tb\n");
    free(out);
    tvalue_free(empty);
    tvalue_free(none);
    tvalue_free(v);
    template_free(t);

    /* Required and never used: the error names the declaration line. */
    const char *unused = "---\nvariables:\n  a: {required: true}\n---\nbody";
    CHECK(render(unused, NULL) == NULL);
    CHECK_STR(last_error, "t.md:3: missing required variable 'a' (no value given and no default)");
    /* Front matter only, empty front matter, and no front matter but a rule later. */
    CHECK_STR(render("---\n---\n", NULL), "");
    CHECK_STR(render("---\r\ndescription: x\r\n---\r\nbody\r\n", NULL), "body\r\n");
    /* Quoted, a value may begin with what YAML reads as a list or block scalar; so may a later word. */
    CHECK_STR(render("---\ndescription: \"[draft] notes\"\nvariables:\n  a: {default: '>x'}\n---\n{{a}}", NULL), ">x");
    CHECK_STR(render("---\ndescription: notes [draft] | > ok\n---\nb", NULL), "b");
    CHECK_STR(render("text\n---\nmore", NULL), "text\n---\nmore");
    CHECK_STR(render("\xEF\xBB\xBF---\n---\nafter BOM", NULL), "after BOM");
}

static void test_unknown_warning(void)
{
    const char *decl = "---\nvariables:\n  a: {}\n---\n{{a}}{{> p}}";
    partials p = {0};
    add_partial(&p, "p", "---\nvariables:\n  b: {}\n---\n{{b}}");
    add_partial(&p, "plain", "{{c}}");
    tvalue *v = M("a", S("A"), "b", S("B"), "zeta", S("?"), "c", S("C"), NULL);
    warnings w = {{0}, 0};
    CHECK_STR(render_full(decl, v, &p, &w), "AB");
    CHECK_INT(w.n, 2);
    CHECK_STR(w.text, "t.md: variable 'zeta' is given but not declared in the front matter (nor "
                      "in the partials rendered)\n"
                      "t.md: variable 'c' is given but not declared in the front matter (nor in "
                      "the partials rendered)\n");
    /* A template that declares nothing warns about nothing. */
    memset(&w, 0, sizeof w);
    CHECK_STR(render_full("{{a}}{{> plain}}", v, &p, &w), "AC");
    CHECK_INT(w.n, 0);
    /* Without partials the message says so; a failed render warns about nothing. */
    memset(&w, 0, sizeof w);
    CHECK_STR(render_full("---\nvariables:\n  a: {}\n  b: {}\n  c: {}\n---\n", v, &p, &w), "");
    CHECK_STR(w.text, "t.md: variable 'zeta' is given but not declared in the front matter\n");
    memset(&w, 0, sizeof w);
    CHECK(render_full("---\nvariables:\n  a: {}\n---\n{{> nowhere}}", v, &p, &w) == NULL);
    CHECK_INT(w.n, 0);
    tvalue_free(v);
    free_partials(&p);
}

/* ---- malformed templates ---- */

static void test_malformed(void)
{
    PARSE_ERROR("a\nb {{#list}}\nc", "bad.md:2: section {{#list}} is never closed");
    PARSE_ERROR("{{#a}}\n{{^b}}\n{{/b}}\n", "bad.md:1: section {{#a}} is never closed");
    PARSE_ERROR("{{#a}}\n  {{#b}}\n{{/a}}\n",
                "bad.md:3: closing tag {{/a}} does not match {{#b}} opened at line 2");
    PARSE_ERROR("x\n\n{{/a}}", "bad.md:3: closing tag {{/a}} without an open section");
    PARSE_ERROR("hello {{name", "bad.md:1: tag '{{name' is not closed with '}}' on the same line");
    PARSE_ERROR("a\n{{name\n}}", "bad.md:2: tag '{{name' is not closed with '}}' on the same line");
    PARSE_ERROR("{{{name}}", "bad.md:1: tag '{{{name}}' is not closed with '}}}' on the same line");
    PARSE_ERROR("x\n{{! never closed\n", "bad.md:2: tag '{{! never closed\n' is not closed with "
                                         "'}}'");
    PARSE_ERROR("{{ }}", "bad.md:1: empty tag '{{ }}'");
    PARSE_ERROR("{{#}}", "bad.md:1: empty tag '{{#}}'");
    PARSE_ERROR("{\"a\": {{\"b\": 1}}}",
                "bad.md:1: invalid name '\"b\": 1' in a tag (names are letters, digits, '_' and "
                "'-', joined by '.'; to output a literal '{{', pass it in a variable)");
    PARSE_ERROR("{{a..b}}", "bad.md:1: invalid name 'a..b' in a tag (names are letters, digits, "
                            "'_' and '-', joined by '.'; to output a literal '{{', pass it in a "
                            "variable)");
    PARSE_ERROR("{{a.}}", "bad.md:1: invalid name 'a.' in a tag (names are letters, digits, '_' "
                          "and '-', joined by '.'; to output a literal '{{', pass it in a "
                          "variable)");
    PARSE_ERROR("{{> two words}}", "bad.md:1: invalid partial name 'two words'");
    PARSE_ERROR("{{=<% %>=}}", "bad.md:1: set-delimiter tags {{=...=}} are not supported");
    /* Line numbers count the front matter. */
    PARSE_ERROR("---\ndescription: d\n---\nok\n{{/x}}",
                "bad.md:5: closing tag {{/x}} without an open section");

    /* Front matter. */
    PARSE_ERROR("---\ndescription: d\nbody", "bad.md:1: front matter: the front matter opened by "
                                            "'---' is never closed (expected a line '---' before "
                                            "the body)");
    PARSE_ERROR("---\n", "bad.md:1: front matter: the front matter opened by '---' is never "
                         "closed (expected a line '---' before the body)");
    PARSE_ERROR("---\ndescription: d\nvaraibles:\n---\n",
                "bad.md:3: front matter: unknown key 'varaibles' (expected description, model, output, "
                "tools or "
                "variables)");
    /* An output schema structured outputs refuse (claude/schema.h), named inside the file. */
    PARSE_ERROR("---\ndescription: d\noutput: {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", "
                "\"minLength\": 2}}, \"additionalProperties\": false}\n---\n",
                "bad.md:3: front matter: output.properties.a: minLength is not supported by structured outputs "
                "(no string constraints)");
    PARSE_ERROR("---\noutput: {\"type\": \"object\"}\n---\n",
                "bad.md:2: front matter: output: an object schema needs \"additionalProperties\": false "
                "(structured outputs refuse an object open to other properties)");
    PARSE_ERROR("---\nvariables:\n  a: {required: maybe}\n---\n",
                "bad.md:3: front matter: required of variable 'a' must be true or false, not "
                "\"maybe\"");
    PARSE_ERROR("---\nvariables:\n  a: {required: \"true\"}\n---\n",
                "bad.md:3: front matter: required of variable 'a' must be true or false, not "
                "\"true\"");
    PARSE_ERROR("---\nvariables:\n  a: {}\n  b: {}\n  a: {}\n---\n",
                "bad.md:5: front matter: variable 'a' is declared twice (first at line 3)");
    PARSE_ERROR("---\nvariables:\n  a: {default: \"open}\n---\n",
                "bad.md:3: front matter: unterminated double-quoted string");
    PARSE_ERROR("---\nvariables:\n  a: {default: \"x\" required: true}\n---\n",
                "bad.md:3: front matter: expected ',' or '}' in the properties of variable 'a'");
    PARSE_ERROR("---\nvariables:\n  a: {defualt: 1}\n---\n",
                "bad.md:3: front matter: unknown property 'defualt' of variable 'a' (expected "
                "required, default or description)");
    PARSE_ERROR("---\nvariables:\n  a: {default: 1, default: 2}\n---\n",
                "bad.md:3: front matter: property 'default' of variable 'a' is given twice");
    PARSE_ERROR("---\nvariables:\n  a: yes\n---\n",
                "bad.md:3: front matter: expected {required: ..., default: ..., description: "
                "...} or indented properties after 'a:'");
    PARSE_ERROR("---\nvariables:\n\ta: {}\n---\n",
                "bad.md:3: front matter: tabs are not allowed in indentation; use spaces");
    PARSE_ERROR("---\ndescription: a\n  indented: b\n---\n",
                "bad.md:3: front matter: unexpected indented line (only the entries under "
                "'variables:' are indented)");
    PARSE_ERROR("---\ndescription:\n---\n",
                "bad.md:2: front matter: 'description:' needs a value (write \"\" for an empty "
                "string)");
    PARSE_ERROR("---\nmodel: a\nmodel: b\n---\n", "bad.md:3: front matter: 'model' is given twice");
    PARSE_ERROR("---\njust text\n---\n",
                "bad.md:2: front matter: expected ':' after 'just'");
    PARSE_ERROR("---\nvariables:\n    a: {}\n  b: {}\n---\n",
                "bad.md:4: front matter: inconsistent indentation under 'variables:'");
    PARSE_ERROR("---\nvariables:\n  a:\n    required: true\n      default: x\n---\n",
                "bad.md:5: front matter: inconsistent indentation in the properties of variable "
                "'a'");
    PARSE_ERROR("---\nvariables:\n  a: {}\n    required: true\n---\n",
                "bad.md:4: front matter: variable 'a' already has its properties in { }");
    PARSE_ERROR("---\ndescription: \"a\\qb\"\n---\n",
                "bad.md:2: front matter: unknown escape '\\q' in a double-quoted string");
    PARSE_ERROR("---\ndescription: \"a\" b\n---\n",
                "bad.md:2: front matter: unexpected \"b\" after the value");
    /* YAML that this subset does not read, written plain, is refused, not kept as its text. */
    PARSE_ERROR("---\nmodel: [claude-haiku-5-5]\n---\n",
                "bad.md:2: front matter: a value written plain cannot begin with '[', which YAML reads "
                "as something other than text; quote it (\"[...\") or drop the '['");
    PARSE_ERROR("---\ndescription: >\n---\n",
                "bad.md:2: front matter: a value written plain cannot begin with '>', which YAML reads "
                "as something other than text; quote it (\">...\") or drop the '>'");
    PARSE_ERROR("---\nvariables:\n  a:\n    default: |\n---\n",
                "bad.md:4: front matter: a value written plain cannot begin with '|', which YAML reads "
                "as something other than text; quote it (\"|...\") or drop the '|'");
    PARSE_ERROR("---\nvariables:\n  a: {default: [x, y]}\n---\n",
                "bad.md:3: front matter: a value written plain cannot begin with '[', which YAML reads "
                "as something other than text; quote it (\"[...\") or drop the '['");
    PARSE_ERROR("---\nmodel: *base\n---\n",
                "bad.md:2: front matter: a value written plain cannot begin with '*', which YAML reads "
                "as something other than text; quote it (\"*...\") or drop the '*'");

    /* NULL text with a length, NULL origin. */
    error_info err = cleared_error();
    CHECK(template_parse(NULL, 3, NULL, &err) == NULL);
    CHECK_STR(err.message, "template: template_parse: text is NULL");
    template_def *t = template_parse(NULL, 0, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STR(template_origin(t), "template");
    template_free(t);
    template_free(NULL);
}

/* ---- hashing ---- */

static void test_hash(void)
{
    const char *a = "---\ndescription: v1\n---\nHello {{name}}\n";
    const char *b = "---\ndescription: v1\n---\nHello {{name}}!\n";
    error_info err;
    template_def *t1 = template_parse(a, strlen(a), "one.md", &err);
    template_def *t2 = template_parse(a, strlen(a), "other-origin.md", &err);
    template_def *t3 = template_parse(b, strlen(b), "one.md", &err);
    template_def *t4 = template_parse("", 0, "empty.md", &err);
    CHECK(t1 && t2 && t3 && t4);
    CHECK(template_hash(t1) == template_hash(t2)); /* the text alone decides */
    CHECK(template_hash(t1) != template_hash(t3));
    CHECK(template_hash(t1) == XXH3_64bits(a, strlen(a)));
    /* Stable across builds and runs: the XXH3-64 of the empty input. */
    CHECK(template_hash(t4) == 0x2D06800538D394C2ULL);
    template_free(t1);
    template_free(t2);
    template_free(t3);
    template_free(t4);
}

/* ---- values ---- */

static void test_tvalue(void)
{
    tvalue *m = tvalue_map();
    CHECK_INT(tvalue_kind(m), TVALUE_MAP);
    CHECK_INT(tvalue_kind(NULL), -1);
    CHECK_INT(tvalue_map_set(m, "k", S("one")), 0);
    CHECK_INT(tvalue_map_set(m, "k", S("two")), 0); /* replaces, frees the old value */
    CHECK_STR(render("{{k}}", m), "two");
    /* Many keys: the index grows and every key stays reachable. */
    for (int i = 0; i < 200; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "key%d", i);
        snprintf(v, sizeof v, "v%d", i);
        CHECK_INT(tvalue_map_set(m, k, S(v)), 0);
    }
    CHECK_STR(render("{{key0}} {{key57}} {{key199}} {{key200}}", m), "v0 v57 v199 ");
    CHECK_INT(tvalue_kind(tvalue_map_get(m, "key3")), TVALUE_STRING);
    CHECK(tvalue_map_get(m, "nope") == NULL);
    CHECK(tvalue_map_get(NULL, "k") == NULL);
    /* Failures take ownership: no leak under valgrind/ASan. */
    tvalue *l = tvalue_list();
    CHECK_INT(tvalue_map_set(l, "k", S("leak?")), -1);
    CHECK_INT(tvalue_map_set(m, NULL, S("leak?")), -1);
    CHECK_INT(tvalue_map_set(m, "k", NULL), -1);
    CHECK_INT(tvalue_list_push(m, S("leak?")), -1);
    CHECK_INT(tvalue_list_push(l, NULL), -1);
    CHECK_INT(tvalue_list_push(NULL, S("leak?")), -1);
    CHECK(tvalue_string(NULL, 4) == NULL);
    tvalue *e = tvalue_string(NULL, 0);
    CHECK_INT(tvalue_kind(e), TVALUE_STRING);
    tvalue_free(e);
    /* vars must be a map. */
    error_info err;
    template_def *t = template_parse("x", 1, "x.md", &err);
    char *out;
    size_t len;
    CHECK_INT(template_render(t, l, NULL, NULL, NULL, NULL, &out, &len, &err), -1);
    CHECK_STR(err.message, "x.md: template_render: vars must be a map");
    CHECK_INT(template_render(NULL, m, NULL, NULL, NULL, NULL, &out, &len, &err), -1);
    CHECK_STR(err.message, "template_render: the template is NULL");
    template_free(t);
    tvalue_free(l);
    tvalue_free(m);
    tvalue_free(NULL);
}

/* ---- shipped templates ---- */

/* templates/ of the source tree: $NYX_SOURCE_DIR, else found from this file's own path. */
static template_def *load_shipped(const char *name)
{
    char path[1024];
    const char *src = getenv("NYX_SOURCE_DIR");
    if (src) {
        snprintf(path, sizeof path, "%s/templates/%s", src, name);
    } else {
        const char *file = __FILE__;
        const char *slash = strrchr(file, '/');
        int dir = slash ? (int)(slash - file) : 0;
        snprintf(path, sizeof path, "%.*s%s../../templates/%s", dir, file, slash ? "/" : "",
                 name);
    }
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        check_failures++;
        return NULL;
    }
    error_info err = cleared_error();
    template_def *t = template_parse(text, len, name, &err);
    free(text);
    if (!t) {
        fprintf(stderr, "%s\n", err.message);
        check_failures++;
    }
    return t;
}

static char *render_t(const template_def *t, const tvalue *v, warnings *w, error_info *err)
{
    char *out = NULL;
    size_t len = 0;
    if (template_render(t, v, NULL, NULL, w ? collect_warning : NULL, w, &out, &len, err) != 0)
        return NULL;
    return out;
}

static void test_shipped(void)
{
    error_info err = cleared_error();
    warnings w = {{0}, 0};

    template_def *ctx = load_shipped("council_context.md");
    if (ctx) {
        CHECK(template_description(ctx) != NULL);
        CHECK_STR(template_model_hint(ctx), "claude-sonnet-5-5");
        CHECK_STR(template_var_name(ctx, 0), "company");
        CHECK_INT(template_var_required(ctx, 0), 1);
        for (size_t i = 0; i < template_nvars(ctx); i++)
            CHECK(template_var_description(ctx, i) != NULL);
        tvalue *v = M("company", S("Northwind Outdoor Gear"),
                      "briefing", S("Management proposes a Trail Club subscription."),
                      "data", S("| month | orders |\n| 1 | 900 |"), "as_of", S("30 September"),
                      NULL);
        char *out = render_t(ctx, v, &w, &err);
        CHECK_CONTAINS(out, "convened by the board of Northwind Outdoor Gear.");
        CHECK_CONTAINS(out, "<briefing company=\"Northwind Outdoor Gear\">\nManagement proposes "
                            "a Trail Club subscription.\n</briefing>\n\n<data title=\"Data "
                            "appendix\">\n| month | orders |\n| 1 | 900 |\n</data>\n");
        CHECK_CONTAINS(out, "current as of 30 September");
        CHECK_CONTAINS(out, "Write in English");
        CHECK(out && !strstr(out, "No data appendix"));
        CHECK(out && !strstr(out, "{{"));
        CHECK(out && out[strlen(out) - 1] == '\n');
        free(out);
        CHECK_INT(w.n, 0);
        tvalue *bare = M("company", S("Acme"), "briefing", S("B"), NULL);
        out = render_t(ctx, bare, &w, &err);
        CHECK(out && strstr(out, "No data appendix was provided") && !strstr(out, "as of"));
        free(out);
        tvalue *nocompany = M("briefing", S("B"), NULL);
        CHECK(render_t(ctx, nocompany, &w, &err) == NULL);
        CHECK(strstr(err.message, "council_context.md:") == err.message);
        CHECK(strstr(err.message, "missing required variable 'company'") != NULL);
        tvalue_free(nocompany);
        tvalue_free(bare);
        tvalue_free(v);
    }

    template_def *per = load_shipped("council_persona.md");
    if (per) {
        tvalue *v = M("name", S("CFO"), "role", S("chief financial officer"),
                      "focus", S("Judge the proposal on cash, payback and covenant risk."), NULL);
        char *out = render_t(per, v, &w, &err);
        CHECK(out && strstr(out, "You are the CFO (chief financial officer) on this council.\n"
                                 "Judge the proposal on cash, payback and covenant risk.\n\n"
                                 "Answer the board's question") == out);
        CHECK_CONTAINS(out, "under 250 words.");
        CHECK(out && !strstr(out, "stance"));
        free(out);
        CHECK_INT(tvalue_map_set(v, "stance", S("Argue against the launch.")), 0);
        CHECK_INT(tvalue_map_set(v, "max_words", S("120")), 0);
        out = render_t(per, v, &w, &err);
        CHECK(out && strstr(out, "throughout your answer: Argue against the launch.\n\nAnswer"));
        CHECK(out && strstr(out, "under 120 words."));
        free(out);
        CHECK_INT(w.n, 0);
        tvalue_free(v);
    }

    template_def *task = load_shipped("task_execution.md");
    if (task) {
        tvalue *v = M("role", S("a senior data analyst"),
                      "task", S("Find the three regions with the highest return rate."),
                      "constraints", L(S("Use only the table given."), S("Round to 0.1 %."), NULL),
                      "context", S("| region | returns |"),
                      "output_format", S("region: rate\nregion: rate\nregion: rate"),
                      "unexpected", S("x"), NULL);
        char *out = render_t(task, v, &w, &err);
        CHECK(out && strstr(out, "You are a senior data analyst.") == out);
        CHECK_CONTAINS(out, "## Constraints\n- Use only the table given.\n- Round to 0.1 %.\n"
                            "- Never invent data");
        CHECK_CONTAINS(out, "<context>\n| region | returns |\n</context>");
        CHECK_CONTAINS(out, "nothing before or after it:\nregion: rate\nregion: rate\n"
                            "region: rate\n");
        CHECK(out && !strstr(out, "None beyond"));
        CHECK(out && !strstr(out, "The task is done when"));
        free(out);
        CHECK_INT(w.n, 1);
        CHECK_STR(w.text, "task_execution.md: variable 'unexpected' is given but not declared "
                          "in the front matter\n");
        tvalue *min = M("role", S("r"), "task", S("t"), "output_format", S("o"), NULL);
        out = render_t(task, min, NULL, &err);
        CHECK(out && strstr(out, "## Constraints\n- None beyond the task itself.\n"));
        CHECK(out && !strstr(out, "## Context"));
        free(out);
        tvalue_free(min);
        tvalue_free(v);
    }
    template_free(ctx);
    template_free(per);
    template_free(task);
}

/* A line of a million tags: the end of the line was searched again for each tag, a scan to
 * the end of the text every time (quadratic: 200,000 tags on a line took 1.35 s to compile,
 * a million would take hours, past this test's timeout); now once per line. */
static void test_long_line(void)
{
    enum { TAGS = 1000000 };
    size_t len = (size_t)TAGS * 5 + 7;
    char *text = malloc(len + 1);
    REQUIRE(text != NULL);
    for (size_t i = 0; i < TAGS; i++)
        memcpy(text + i * 5, "{{x}}", 5);
    memcpy(text + (size_t)TAGS * 5, "\n{{y}}.", 7);
    text[len] = '\0';
    error_info err = cleared_error();
    template_def *t = template_parse(text, len, "long.md", &err);
    CHECK(t != NULL);
    if (t) {
        tvalue *v = M("x", S("a"), "y", S("end"), NULL);
        char *out = NULL;
        size_t n = 0;
        CHECK_INT(template_render(t, v, NULL, NULL, NULL, NULL, &out, &n, &err), 0);
        CHECK_INT(n, (size_t)TAGS + 5);
        CHECK(out && out[0] == 'a' && out[TAGS - 1] == 'a' && strcmp(out + TAGS, "\nend.") == 0);
        free(out);
        tvalue_free(v);
        template_free(t);
    }
    /* A NUL byte (a binary file, a file saved as UTF-16) is refused where it is, not kept as
     * the end of the text. */
    PARSE_ERROR_LEN("one\ntwo\0three {{x}}", 19,
                    "bad.md:2: a NUL byte: a template is UTF-8 text (is the file binary, or saved as UTF-16?)");
    /* So are bytes that are not UTF-8 (a file saved as Latin-1), named by line and byte. */
    PARSE_ERROR("one\nthe caf\xe9 {{x}}",
                "bad.md:2: byte 8 of the line is 0xE9, not UTF-8: a template is UTF-8 text (is the file saved as "
                "Latin-1 or Windows-1252?)");
    PARSE_ERROR("\xc3", "bad.md:1: byte 1 of the line is 0xC3, not UTF-8: a template is UTF-8 text (is the file "
                       "saved as Latin-1 or Windows-1252?)");
    /* A tag left open on such a line is still named where it opens. */
    memcpy(text + (size_t)TAGS * 5 - 2, "  ", 2);
    t = template_parse(text, len, "long.md", &err);
    CHECK(t == NULL);
    CHECK_CONTAINS(err.message, "is not closed with '}}' on the same line");
    template_free(t);
    free(text);
}

int main(void)
{
    test_long_line();
    test_variables();
    test_values_are_literal();
    test_sections();
    test_inverted();
    test_comments();
    test_standalone();
    test_partials();
    test_front_matter();
    test_unknown_warning();
    test_malformed();
    test_hash();
    test_tvalue();
    test_shipped();
    CHECK_DONE();
}
