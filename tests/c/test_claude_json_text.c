/* The memo of JSON literals: a body built with it is byte for byte the body built without,
 * a long text sent again is escaped once, and texts that differ are never mixed up. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claude/json_text.h"
#include "claude/request.h"

/* A long text with everything JSON must escape: quotes, backslashes, control bytes, UTF-8. */
static char *long_text(size_t size, char last)
{
    static const char piece[] = "He said \"refunds\\returns\" take 5 days.\n\tNo caf\xc3\xa9 \x01 \xe2\x82\xac. ";
    char *s = malloc(size + 1);
    for (size_t i = 0; i < size; i++)
        s[i] = piece[i % (sizeof piece - 1)];
    s[size - 1] = last;
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

/* The body with the memo must be the body without it. */
static void same_body(claude_json_texts *jt, const char *system, const char *question, int mark)
{
    claude_request r;
    request(&r, system, question, mark);
    error_info err = cleared_error();
    size_t a_len = 0, b_len = 0;
    char *a = claude_request_json_memo(&r, jt, &a_len, &err);
    char *b = claude_request_json(&r, &b_len, &err);
    CHECK(a && b);
    if (a && b) {
        CHECK_INT(a_len, b_len);
        CHECK_INT(a_len, strlen(a));
        CHECK(strcmp(a, b) == 0);
    }
    free(a);
    free(b);
    request_free(&r);
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
    CHECK_INT(found, 2);
    /* Same length, same hash bucket or not: the other text gets its own literal. */
    same_body(jt, other, "question 4", NYX_MARK_5M);
    same_body(jt, one, "question 5", NYX_MARK_5M);
    claude_json_texts_counts(jt, &made, &found);
    CHECK_INT(made, 2);
    CHECK_INT(found, 3);
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
            error_info err;
            error_clear(&err);
            size_t a_len = 0, b_len = 0;
            char *a = claude_request_json_memo(&r, fresh, &a_len, &err);
            char *b = claude_request_json(&r, &b_len, &err);
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
    free(one);
    free(other);
    claude_json_texts_free(jt);
    return check_failures;
}
