/* Long prompt texts shared through a pool: blocks with the same bytes share one copy, blocks
 * with other bytes never do, cutting a shared text leaves the others whole, and the copies
 * outlive the pool as long as a block holds them. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claude/types.h"

#include <xxhash.h>

static char *text(size_t n, char last)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    s[n - 1] = last;
    s[n] = '\0';
    return s;
}

int main(void)
{
    text_pool *pool = text_pool_new();
    CHECK(pool != NULL);
    char *one = text(5000, '1'), *again = text(5000, '1'), *other = text(5000, '2');
    claude_request r;
    request_init(&r);
    r.system = calloc(5, sizeof *r.system);
    CHECK_INT(block_set_pooled(&r.system[0], pool, one, 5000, NYX_MARK_5M), 0);
    CHECK_INT(block_set_pooled(&r.system[1], pool, again, 5000, NYX_MARK_NONE), 0);
    CHECK_INT(block_set_pooled(&r.system[2], pool, other, 5000, NYX_MARK_NONE), 0);
    CHECK_INT(block_set_pooled(&r.system[3], pool, "short", 5, NYX_MARK_NONE), 0);
    CHECK_INT(block_set_pooled(&r.system[4], NULL, one, 5000, NYX_MARK_NONE), 0);
    r.nsystem = 5;
    /* The same bytes from two different strings: one copy. */
    CHECK(r.system[0].shared != NULL && r.system[0].text == r.system[1].text);
    CHECK(r.system[0].text != one);
    CHECK(r.system[2].text != r.system[0].text && strcmp(r.system[2].text, other) == 0);
    CHECK(r.system[3].shared == NULL && strcmp(r.system[3].text, "short") == 0);
    CHECK(r.system[4].shared == NULL && strcmp(r.system[4].text, one) == 0);
    CHECK_INT(r.system[0].mark, NYX_MARK_5M);
    CHECK_INT(r.system[1].len, 5000);
    /* A block's hash is its text's, shared or not (the cache policy keys prefixes on it). */
    CHECK(block_hash(&r.system[0]) == XXH3_64bits(one, 5000));
    CHECK(block_hash(&r.system[4]) == block_hash(&r.system[0]));
    CHECK(block_hash(&r.system[2]) != block_hash(&r.system[0]));
    /* A literal kept with a shared text is seen by every block sharing it, and by no other. */
    CHECK(block_literal(&r.system[0]) == NULL);
    claude_literal *lit = claude_literal_new("\"kept\"", 6), *second = claude_literal_new("\"again\"", 7);
    CHECK_INT(block_keep_literal(&r.system[0], lit), 0);
    CHECK(block_literal(&r.system[1]) == lit);
    CHECK_INT(block_keep_literal(&r.system[1], second), -1); /* already kept: stays the caller's */
    CHECK_INT(block_keep_literal(&r.system[4], second), -1); /* not shared */
    CHECK(block_literal(&r.system[2]) == NULL && block_literal(&r.system[4]) == NULL);
    claude_literal_release(second);
    /* Cutting one leaves the other whole. */
    CHECK_INT(block_truncate(&r.system[0], 100), 0);
    CHECK(r.system[0].shared == NULL);
    CHECK_INT(r.system[0].len, 100);
    CHECK_INT(strlen(r.system[0].text), 100);
    CHECK(strncmp(r.system[0].text, one, 100) == 0);
    CHECK(block_hash(&r.system[0]) == XXH3_64bits(one, 100)); /* the cut text's own */
    CHECK(block_literal(&r.system[0]) == NULL);
    CHECK_INT(strlen(r.system[1].text), 5000);
    CHECK(strcmp(r.system[1].text, one) == 0);
    CHECK_INT(block_truncate(&r.system[1], 6000), -1);
    /* The pool goes first; the blocks keep their texts. */
    text_pool_free(pool);
    CHECK(strcmp(r.system[1].text, one) == 0);
    CHECK(strcmp(r.system[2].text, other) == 0);
    request_free(&r);
    /* More distinct texts than the pool remembers: each still right. */
    pool = text_pool_new();
    claude_block b[40];
    for (int i = 0; i < 40; i++) {
        char *t = text(2000, (char)('A' + i));
        CHECK_INT(block_set_pooled(&b[i], pool, t, 2000, NYX_MARK_NONE), 0);
        CHECK(strcmp(b[i].text, t) == 0);
        free(t);
    }
    text_pool_free(pool);
    for (int i = 0; i < 40; i++)
        CHECK_INT(b[i].text[1999], 'A' + i);
    claude_request r2;
    request_init(&r2);
    r2.system = malloc(sizeof b);
    memcpy(r2.system, b, sizeof b);
    r2.nsystem = 40;
    request_free(&r2);
    free(one);
    free(again);
    free(other);
    return check_failures;
}
