/* The simulator's memo of token counts (sim_token_memo.c): a remembered count is given only to
 * the very text it was counted for, however alike another text is (same length, same prefix,
 * same hash slot), requests parsed with the memo count exactly as without it, and the memo
 * stays within its bounds of texts and bytes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sim/sim_core.h"

static int64_t min_tokens(void *ud, const char *model)
{
    (void)ud;
    return strcmp(model, "claude-sonnet-4-5") == 0 ? 1024 : -1;
}

static const sim_models models = {min_tokens, NULL, NULL, NULL};

/* len bytes of prose, different for each salt, NUL-terminated. */
static char *text_of(size_t len, unsigned salt)
{
    static const char *w[] = {"orders", "ship", "in", "five", "days", "refund", "the", "tax"};
    char *s = malloc(len + 1);
    size_t o = 0;
    unsigned x = salt * 2654435761u + 1;
    while (o < len) {
        x = x * 1103515245u + 12345u;
        const char *word = w[(x >> 16) % 8];
        for (size_t i = 0; word[i] && o < len; i++)
            s[o++] = word[i];
        if (o < len)
            s[o++] = (x >> 8) % 7 ? ' ' : '.';
    }
    s[len] = '\0';
    return s;
}

static void test_same_length_and_prefix(void)
{
    sim_token_memo *m = sim_token_memo_new();
    CHECK(m != NULL);
    char *a = text_of(15000, 1);
    size_t n = strlen(a);
    memcpy(a + n - 5, "abcde", 5); /* one token */
    int64_t ta = sim_count_tokens(a, n);
    CHECK_INT(sim_token_memo_count(m, a, n), ta);
    CHECK_INT(sim_token_memo_count(m, a, n), ta); /* now from the memo */
    char *b = strdup(a);
    memcpy(b + n - 5, "ab,de", 5); /* three tokens: same length, same first 14,997 bytes */
    int64_t tb = sim_count_tokens(b, n);
    CHECK(tb != ta);
    CHECK_INT(sim_token_memo_count(m, b, n), tb);
    CHECK_INT(sim_token_memo_count(m, a, n), ta);
    CHECK_INT(sim_token_memo_count(m, b, n), tb);
    /* A prefix of a remembered text is a different text. */
    CHECK_INT(sim_token_memo_count(m, a, n - 3), sim_count_tokens(a, n - 3));
    size_t entries, bytes;
    sim_token_memo_size(m, &entries, &bytes);
    CHECK_INT(entries, 3);
    CHECK_INT(bytes, 3 * n - 3);
    /* Short texts are counted, not remembered. */
    CHECK_INT(sim_token_memo_count(m, a, SIM_MEMO_MIN_LEN - 1), sim_count_tokens(a, SIM_MEMO_MIN_LEN - 1));
    sim_token_memo_size(m, &entries, &bytes);
    CHECK_INT(entries, 3);
    /* No memo: counted every time. */
    CHECK_INT(sim_token_memo_count(NULL, b, n), tb);
    free(a);
    free(b);
    sim_token_memo_free(m);
}

static void test_bounds(void)
{
    sim_token_memo *m = sim_token_memo_new();
    size_t entries, bytes;
    char *first = text_of(2000, 100);
    CHECK_INT(sim_token_memo_count(m, first, 2000), sim_count_tokens(first, 2000));
    for (unsigned i = 0; i < SIM_MEMO_ENTRIES + 10; i++) {
        char *t = text_of(2000 + i, 200 + i);
        CHECK_INT(sim_token_memo_count(m, t, 2000 + i), sim_count_tokens(t, 2000 + i));
        free(t);
        sim_token_memo_size(m, &entries, &bytes);
        CHECK(entries <= SIM_MEMO_ENTRIES);
    }
    CHECK_INT(entries, SIM_MEMO_ENTRIES);
    /* The oldest went first and still counts right. */
    CHECK_INT(sim_token_memo_count(m, first, 2000), sim_count_tokens(first, 2000));
    free(first);
    /* Big texts: the bytes held stay within the bound; one beyond a quarter is not held. */
    size_t big = SIM_MEMO_BYTES / 4;
    for (unsigned i = 0; i < 6; i++) {
        char *t = text_of(big - i, 300 + i);
        CHECK_INT(sim_token_memo_count(m, t, big - i), sim_count_tokens(t, big - i));
        free(t);
        sim_token_memo_size(m, &entries, &bytes);
        CHECK(bytes <= SIM_MEMO_BYTES);
    }
    CHECK(bytes > SIM_MEMO_BYTES / 2);
    size_t before = entries;
    char *huge = text_of(big + 1, 400);
    CHECK_INT(sim_token_memo_count(m, huge, big + 1), sim_count_tokens(huge, big + 1));
    free(huge);
    sim_token_memo_size(m, &entries, &bytes);
    CHECK_INT(entries, before);
    sim_token_memo_free(m);
}

/* A request with this system prompt, as JSON. */
static char *request(const char *system)
{
    const char *head = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,\"system\":\"";
    const char *tail = "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    size_t n = strlen(head) + strlen(system) + strlen(tail) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s%s", head, system, tail);
    return s;
}

static void test_requests(void)
{
    sim_token_memo *m = sim_token_memo_new();
    char *sys = text_of(15000, 7);
    char *alike = strdup(sys);
    memcpy(alike + 14000, "12345", 5); /* same length and prefix, two tokens there */
    char *texts[] = {sys, alike, sys, alike};
    for (int i = 0; i < 4; i++) {
        char *json = request(texts[i]);
        sim_req with, without;
        error_info err = cleared_error();
        CHECK_INT(sim_req_parse(&with, json, strlen(json), &models, m, 0, &err), 0);
        CHECK_INT(sim_req_parse(&without, json, strlen(json), &models, NULL, 0, &err), 0);
        CHECK_INT(with.total, without.total);
        CHECK_INT(with.nblocks, without.nblocks);
        for (size_t k = 0; k < with.nblocks && k < without.nblocks; k++)
            CHECK_INT(with.blocks[k].tokens, without.blocks[k].tokens);
        /* system overhead 3 + block 1 + text; message 3 + block 1 + "hi" 1; trailer 3 */
        CHECK_INT(with.total, 3 + 1 + sim_count_tokens(texts[i], 15000) + 3 + 1 + 1 + 3);
        sim_req_free(&with);
        sim_req_free(&without);
        free(json);
    }
    size_t entries, bytes;
    sim_token_memo_size(m, &entries, &bytes);
    CHECK_INT(entries, 2);
    free(sys);
    free(alike);
    sim_token_memo_free(m);
}

int main(void)
{
    test_same_length_and_prefix();
    test_bounds();
    test_requests();
    CHECK_DONE();
}
