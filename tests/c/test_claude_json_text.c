/* The memo of JSON literals: a body built with it is byte for byte the body built without (in
 * one piece, or in pieces joined again), a long text sent again is escaped once, texts that
 * differ are never mixed up, and bodies in pieces share the literal and outlive the memo's. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "base/textbuf.h"
#include "body_json.h"
#include "check.h"
#include "claude/body.h"
#include "claude/json_text.h"
#include "claude/request.h"

/* A long text with everything JSON must escape: quotes, backslashes, control bytes, UTF-8 (a
 * character the end would cut is left out: a request's texts are UTF-8). */
static char *long_text(size_t size, char last)
{
    static const char piece[] = "He said \"refunds\\returns\" take 5 days.\n\tNo caf\xc3\xa9 \x01 \xe2\x82\xac. ";
    char *s = malloc(size + 1);
    for (size_t i = 0; i < size; i++)
        s[i] = piece[i % (sizeof piece - 1)];
    s[size - 1] = last;
    for (size_t i = size - 1; i > 0 && ((unsigned char)s[i - 1] & 0x80); i--)
        s[i - 1] = '.';
    s[size] = '\0';
    return s;
}

static void request(claude_request *r, const char *system, const char *question, int mark)
{
    request_init(r);
    r->model = strdup("claude-haiku-5-5");
    r->max_tokens = 16;
    r->system = calloc(1, sizeof *r->system);
    r->messages = calloc(1, sizeof *r->messages);
    r->messages[0].blocks = calloc(1, sizeof(claude_block));
    if (!r->model || !r->system || !r->messages || !r->messages[0].blocks ||
        block_set(&r->system[0], system, strlen(system), mark) ||
        block_set(&r->messages[0].blocks[0], question, strlen(question), NYX_MARK_NONE))
        abort();
    r->nsystem = 1;
    r->nmessages = 1;
    r->messages[0].nblocks = 1;
    r->messages[0].role = NYX_ROLE_USER;
}

/* The body with the memo must be the body without it, and so must the body in pieces once in
 * one piece again. */
static void same_body(claude_json_texts *jt, const char *system, const char *question, int mark)
{
    claude_request r;
    request(&r, system, question, mark);
    error_info err = cleared_error();
    size_t a_len = 0, b_len = 0;
    char *a = body_json(&r, jt, &a_len, &err);
    char *b = body_json(&r, NULL, &b_len, &err);
    CHECK(a && b);
    if (a && b) {
        CHECK_INT(a_len, b_len);
        CHECK_INT(a_len, strlen(a));
        CHECK(strcmp(a, b) == 0);
    }
    claude_body parts;
    CHECK_INT(claude_request_body(&r, jt, &parts, &err), 0);
    char *c = claude_body_flatten(&parts);
    CHECK(c != NULL);
    if (b && c) {
        CHECK_INT(parts.len, b_len);
        CHECK_INT(strlen(c), b_len);
        CHECK(strcmp(c, b) == 0);
    }
    free(a);
    free(b);
    free(c);
    claude_body_free(&parts);
    request_free(&r);
}

/* Bodies in pieces with the same system prompt hold its literal once, shared with the memo,
 * and keep it after the memo has let it go. */
static void shared_pieces(const char *system)
{
    claude_json_texts *jt = claude_json_texts_new();
    claude_request r1, r2;
    request(&r1, system, "question 1", NYX_MARK_5M);
    request(&r2, system, "question 2", NYX_MARK_5M);
    error_info err = cleared_error();
    claude_body p1, p2;
    char *want1 = body_json(&r1, NULL, NULL, &err), *want2 = body_json(&r2, NULL, NULL, &err);
    CHECK(jt && want1 && want2);
    CHECK_INT(claude_request_body(&r1, jt, &p1, &err), 0);
    CHECK_INT(claude_request_body(&r2, jt, &p2, &err), 0);
    CHECK_INT(p1.npieces, 1);
    CHECK_INT(p2.npieces, 1);
    if (p1.npieces == 1 && p2.npieces == 1) {
        CHECK(p1.pieces[0].lit == p2.pieces[0].lit);
        CHECK_INT(p1.pieces[0].lit->refs, 3); /* the memo's and the two bodies' */
        CHECK(p1.pieces[0].lit->len > strlen(system));
        CHECK(p1.own_len < 200); /* the body's own bytes: model, question, marks */
    }
    /* Long texts enough to push the system prompt out of the memo. */
    for (char c = 'c'; c < 'c' + 12; c++) {
        char *t = long_text(2000, c);
        claude_request o;
        request(&o, t, "q", NYX_MARK_5M);
        claude_body po;
        CHECK_INT(claude_request_body(&o, jt, &po, &err), 0);
        claude_body_free(&po);
        request_free(&o);
        free(t);
    }
    if (p1.npieces == 1)
        CHECK_INT(p1.pieces[0].lit->refs, 2);
    claude_json_texts_free(jt);
    char *got1 = claude_body_flatten(&p1), *got2 = claude_body_flatten(&p2);
    CHECK(got1 && want1 && strcmp(got1, want1) == 0);
    CHECK(got2 && want2 && strcmp(got2, want2) == 0);
    claude_body_free(&p1);
    CHECK(p1.own == NULL && p1.npieces == 0 && claude_body_flatten(&p1) == NULL);
    char *again = claude_body_flatten(&p2); /* the other body's reference keeps the literal */
    CHECK(again && want2 && strcmp(again, want2) == 0);
    free(again);
    /* One buffer written over, body after body (a record's, call_account.c): each time exactly
     * that body, a longer one before leaving nothing behind. */
    claude_request r3;
    request(&r3, "a short system prompt", "a question a good deal longer than the first two", NYX_MARK_5M);
    claude_body p3;
    char *want3 = body_json(&r3, NULL, NULL, &err);
    CHECK_INT(claude_request_body(&r3, NULL, &p3, &err), 0);
    textbuf tb = {0};
    const claude_body *order[] = {&p2, &p3, &p2, &p3};
    const char *wants[] = {want2, want3, want2, want3};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(claude_body_flatten_into(order[i], &tb, NULL, 0, NULL), 0);
        CHECK(wants[i] && tb.s && strcmp(tb.s, wants[i]) == 0);
        CHECK_INT(tb.len, wants[i] ? strlen(wants[i]) : 0);
    }
    /* Where each literal went, with its hash: the bytes there are the literal's. */
    hashed_span sp[4];
    size_t ns = 99;
    CHECK_INT(claude_body_flatten_into(&p2, &tb, sp, 4, &ns), 0);
    CHECK_INT(ns, p2.npieces);
    for (size_t k = 0; k < ns && k < p2.npieces; k++) {
        CHECK_INT(sp[k].len, p2.pieces[k].lit->len);
        CHECK(sp[k].at + sp[k].len <= tb.len && memcmp(tb.s + sp[k].at, p2.pieces[k].lit->text, sp[k].len) == 0);
        quick_hash h = quick_hash_of(tb.s + sp[k].at, sp[k].len);
        CHECK(h.lo == sp[k].h.lo && h.hi == sp[k].h.hi);
    }
    CHECK_INT(claude_body_flatten_into(&p2, &tb, sp, 0, &ns), 0); /* no more than asked */
    CHECK_INT(ns, 0);
    tb.failed = 1; /* a failure before does not stick */
    CHECK_INT(claude_body_flatten_into(&p3, &tb, NULL, 0, NULL), 0);
    CHECK(want3 && tb.s && strcmp(tb.s, want3) == 0);
    CHECK_INT(claude_body_flatten_into(&p1, &tb, NULL, 0, NULL), -1); /* freed: no body */
    free(tb.s);
    free(want3);
    claude_body_free(&p3);
    request_free(&r3);
    claude_body_free(&p2);
    free(got1);
    free(got2);
    free(want1);
    free(want2);
    request_free(&r1);
    request_free(&r2);
}

/* A shared text's literal kept with the text goes into bodies in pieces as a reference too, and
 * a body keeps it after the request, the text and the pool are gone. */
static void pooled_pieces(const char *system)
{
    text_pool *pool = text_pool_new();
    claude_json_texts *jt = claude_json_texts_new();
    claude_request r[2];
    claude_body p[2];
    char *want[2];
    error_info err = cleared_error();
    for (int i = 0; i < 2; i++) {
        request(&r[i], "x", i ? "question 2" : "question 1", NYX_MARK_5M);
        free(r[i].system[0].text);
        CHECK_INT(block_set_pooled(&r[i].system[0], pool, system, strlen(system), NYX_MARK_5M), 0);
        want[i] = body_json(&r[i], NULL, NULL, &err);
        CHECK(want[i] != NULL);
        CHECK_INT(claude_request_body(&r[i], jt, &p[i], &err), 0);
        CHECK_INT(p[i].npieces, 1);
    }
    if (p[0].npieces == 1 && p[1].npieces == 1) {
        CHECK(p[0].pieces[0].lit == block_literal(&r[0].system[0]));
        CHECK(p[1].pieces[0].lit == p[0].pieces[0].lit);
        CHECK_INT(p[0].pieces[0].lit->refs, 3); /* the shared text's and the two bodies' */
    }
    for (int i = 0; i < 2; i++)
        request_free(&r[i]);
    text_pool_free(pool);
    claude_json_texts_free(jt);
    for (int i = 0; i < 2; i++) {
        char *got = claude_body_flatten(&p[i]);
        CHECK(got && want[i] && strcmp(got, want[i]) == 0);
        free(got);
        claude_body_free(&p[i]);
        free(want[i]);
    }
}

/* Bodies flattened one after another into one buffer that remembers its literals
 * (claude_body_flatten_kept, a call's record): each time exactly that body, whether its
 * literal was in place or moved (a question of another length before it), or is another
 * literal, of a text as long, made while the buffer listed the one before. */
static void kept_pieces(const char *system, const char *system2)
{
    claude_json_texts *jt = claude_json_texts_new();
    const char *questions[] = {"question 1", "question 2", "a question a good deal longer", "question 3"};
    claude_request r[4];
    claude_body p[4];
    char *want[4];
    error_info err = cleared_error();
    for (int i = 0; i < 4; i++) {
        request(&r[i], system, questions[i], NYX_MARK_5M);
        want[i] = body_json(&r[i], NULL, NULL, &err);
        CHECK(want[i] != NULL);
        CHECK_INT(claude_request_body(&r[i], jt, &p[i], &err), 0);
        CHECK_INT(p[i].npieces, 1);
    }
    textbuf tb = {0};
    claude_body_flat f = {.buf = &tb};
    const int order[] = {0, 1, 2, 1, 3, 0};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        int i = order[k];
        hashed_span sp[2];
        size_t ns = 0;
        CHECK_INT(claude_body_flatten_kept(&p[i], &f, sp, 2, &ns), 0);
        CHECK(want[i] && tb.s && strcmp(tb.s, want[i]) == 0);
        CHECK_INT(tb.len, want[i] ? strlen(want[i]) : 0);
        CHECK_INT(ns, 1);
        CHECK(ns == 1 && memcmp(tb.s + sp[0].at, p[i].pieces[0].lit->text, sp[0].len) == 0);
        CHECK_INT(f.nkept, 1);
    }
    claude_literal *lit = p[0].pieces[0].lit;
    CHECK_INT(lit->refs, 6); /* the memo's, the four bodies' and the buffer's */
    /* Written otherwise: forgotten first, then written whole again. */
    claude_body_flat_forget(&f);
    CHECK_INT(lit->refs, 5);
    textbuf_reset(&tb);
    textbuf_put(&tb, want[2], strlen(want[2]));
    CHECK_INT(claude_body_flatten_kept(&p[1], &f, NULL, 0, NULL), 0);
    CHECK(want[1] && tb.s && strcmp(tb.s, want[1]) == 0);
    /* The buffer's reference is the last: another literal made now of a text as long is not at
     * its address, so it is not taken for the bytes in place. */
    for (int i = 0; i < 4; i++) {
        claude_body_free(&p[i]);
        request_free(&r[i]);
    }
    claude_json_texts_free(jt);
    CHECK_INT(lit->refs, 1);
    claude_request o;
    request(&o, system2, questions[1], NYX_MARK_5M);
    char *want_o = body_json(&o, NULL, NULL, &err);
    claude_json_texts *jt2 = claude_json_texts_new();
    claude_body po;
    CHECK_INT(claude_request_body(&o, jt2, &po, &err), 0);
    CHECK_INT(po.npieces, 1);
    CHECK_INT(claude_body_flatten_kept(&po, &f, NULL, 0, NULL), 0);
    CHECK(want_o && tb.s && strcmp(tb.s, want_o) == 0);
    CHECK_INT(claude_body_flatten_kept(&p[0], &f, NULL, 0, NULL), -1); /* freed: no body */
    CHECK_INT(f.nkept, 0);
    claude_body_free(&po);
    claude_json_texts_free(jt2);
    request_free(&o);
    free(want_o);
    for (int i = 0; i < 4; i++)
        free(want[i]);
    free(tb.s);
}

int main(void)
{
    claude_json_texts *jt = claude_json_texts_new();
    CHECK(jt != NULL);
    char *one = long_text(15000, 'a'), *other = long_text(15000, 'b');
    unsigned long made, found;
    same_body(jt, one, "question 1", NYX_MARK_5M);
    same_body(jt, one, "question 2", NYX_MARK_5M);
    same_body(jt, one, "question 3", NYX_MARK_NONE); /* a lone unmarked block: a plain string */
    claude_json_texts_counts(jt, &made, &found);
    CHECK_INT(made, 1);
    CHECK_INT(found, 5); /* same_body builds each body twice: in one piece, in pieces */
    /* Same length, same hash bucket or not: the other text gets its own literal. */
    same_body(jt, other, "question 4", NYX_MARK_5M);
    same_body(jt, one, "question 5", NYX_MARK_5M);
    claude_json_texts_counts(jt, &made, &found);
    CHECK_INT(made, 2);
    CHECK_INT(found, 8);
    /* Short texts are not remembered; more long texts than slots push the oldest out. */
    same_body(jt, "short", "q", NYX_MARK_5M);
    for (char c = 'c'; c < 'c' + 12; c++) {
        char *t = long_text(2000, c);
        same_body(jt, t, "q", NYX_MARK_5M);
        free(t);
    }
    claude_json_texts_counts(jt, &made, &found);
    CHECK_INT(made, 14);
    same_body(jt, one, "again", NYX_MARK_5M); /* evicted: made again, still the same body */
    claude_json_texts_counts(jt, &made, &found);
    CHECK_INT(made, 15);
    same_body(NULL, one, "no memo", NYX_MARK_5M);
    /* A pooled text's literal is kept with the text: made once for every request that shares
     * it, found without reading the text, and the body is still the body without any memo. */
    text_pool *pool = text_pool_new();
    claude_json_texts *fresh = claude_json_texts_new();
    for (int i = 0; i < 3; i++) {
        for (int mark = NYX_MARK_NONE; mark <= NYX_MARK_5M; mark++) {
            claude_request r;
            request(&r, "x", "question", mark);
            free(r.system[0].text);
            CHECK_INT(block_set_pooled(&r.system[0], pool, other, strlen(other), mark), 0);
            CHECK(r.system[0].shared != NULL);
            error_info err = cleared_error();
            size_t a_len = 0, b_len = 0;
            char *a = body_json(&r, fresh, &a_len, &err);
            char *b = body_json(&r, NULL, &b_len, &err);
            CHECK(a && b && a_len == b_len && strcmp(a, b) == 0);
            CHECK(block_literal(&r.system[0]) != NULL);
            free(a);
            free(b);
            request_free(&r);
        }
    }
    claude_json_texts_counts(fresh, &made, &found);
    CHECK_INT(made, 1);
    CHECK_INT(found, 5);
    claude_json_texts_free(fresh);
    text_pool_free(pool);
    shared_pieces(one);
    pooled_pieces(other);
    kept_pieces(one, other);
    free(one);
    free(other);
    claude_json_texts_free(jt);
    return check_failures;
}
