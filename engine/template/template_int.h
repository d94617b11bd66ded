/* Layouts shared by the template layer's files (front matter, compiler, values, renderer).
 * Nothing outside engine/template includes this. */
#ifndef NYX_TEMPLATE_INT_H
#define NYX_TEMPLATE_INT_H

#include "template.h"

#include <stddef.h>
#include <stdint.h>

/* ---- values ---- */

typedef struct tv_entry {
    char *key;
    size_t klen;
    uint64_t hash;
    tvalue *v;
} tv_entry;

struct tvalue {
    int kind; /* enum tvalue_kind */
    union {
        struct {
            char *s; /* NUL-terminated copy */
            size_t len;
        } str;
        int b;
        struct {
            tvalue **items;
            size_t n, cap;
        } list;
        struct {
            tv_entry *e;     /* in insertion order */
            size_t n, cap;
            uint32_t *slots; /* open addressing: entry index + 1, 0 when empty */
            size_t nslots;   /* a power of two, at least twice n */
        } map;
    } u;
};

/* The hash every key and every compiled name segment uses. */
uint64_t tv_hash(const char *s, size_t len);
/* Looks up a key given by bytes and its tv_hash; NULL when missing or map is not a map. */
const tvalue *tv_map_find(const tvalue *map, const char *key, size_t klen, uint64_t hash);

/* ---- compiled templates ---- */

enum { TOK_TEXT = 0, TOK_VAR, TOK_SECTION, TOK_INVERTED, TOK_END, TOK_PARTIAL };

/* One segment of a dotted name, pointing into the template's text. */
typedef struct tpl_seg {
    uint32_t off, len;
    uint64_t hash;
} tpl_seg;

typedef struct tpl_tok {
    uint8_t op;
    uint32_t line;      /* where the tag (or text) starts */
    uint32_t off, len;  /* TEXT: the bytes; VAR/SECTION/INVERTED/END: the name as written;
                           PARTIAL: its indentation when standalone (len 0 otherwise) */
    uint32_t seg, nseg; /* VAR/SECTION/INVERTED: the name's segments; nseg 0 means "." */
    uint32_t jump;      /* SECTION/INVERTED: index of the matching END */
    char *pname;        /* PARTIAL: the partial's name, NUL-terminated, owned */
} tpl_tok;

typedef struct tpl_var {
    char *name, *def, *desc; /* owned; def and desc may be NULL */
    size_t nlen;
    uint64_t hash; /* tv_hash of name */
    int required;
    int decl_line; /* line of the declaration in the front matter */
    int use_line;  /* first use in the body, 0 when unused */
} tpl_var;

struct template_def {
    char *text; /* NUL-terminated copy of the whole source; tokens point into it */
    size_t len;
    char *origin;
    uint64_t hash;
    char *description, *model;
    char *output_json; /* front matter output: a JSON Schema, compact; NULL when none */
    char *tools;       /* front matter tools: names joined by ','; NULL when none */
    tpl_var *vars;
    size_t nvars, capvars;
    tvalue *defaults; /* map: name -> default string; NULL when no variable has one */
    tvalue *declared; /* map: name -> true for every declared variable; NULL when none */
    tpl_tok *toks;
    size_t ntok, captok;
    tpl_seg *segs;
    size_t nsegs, capsegs;
};

/* Parses the front matter at the start of t->text (if any) into t. Sets *body_off to the
 * first byte of the body and *body_line to its line. Returns 0 or -1 with err. */
int tpl_front_matter(template_def *t, size_t *body_off, int *body_line, error_info *err);
/* err "out_of_memory", "ORIGIN: out of memory", while t is parsed; returns -1. */
int tpl_oom(error_info *err, const template_def *t);

#endif
