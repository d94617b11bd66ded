/* Where the automatic cache marks go (engine/cache/policy.c): the system prompt and the newest
 * block of a conversation whatever the estimate, a chain of marks when the conversation grew
 * by more than the API's 20-block lookback since its last written prefix, at most 4 marks,
 * the script's own marks and the API's automatic caching left alone. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "check.h"

/* Only the minimum matters to the policy; the prices to its premium accounting. */
static model_info sonnet46 = {.id = "claude-sonnet-4-6", .input = 3, .output = 15,
                             .cache_write_5m = 3.75, .cache_write_1h = 6, .cache_read = 0.3,
                             .has_price = 1, .min_cache_tokens = 2048};

static void add_block(claude_block **blocks, size_t *n, const char *text)
{
    claude_block *b = realloc(*blocks, (*n + 1) * sizeof *b);
    if (!b || block_set(&b[*n], text, strlen(text), NYX_MARK_NONE) != 0)
        abort();
    *blocks = b;
    (*n)++;
}

/* Appends a message of nblocks text blocks. */
static void add_msg(claude_request *r, int role, int nblocks, const char *text)
{
    claude_message *m = realloc(r->messages, (r->nmessages + 1) * sizeof *m);
    if (!m)
        abort();
    r->messages = m;
    m = &r->messages[r->nmessages++];
    memset(m, 0, sizeof *m);
    m->role = role;
    for (int i = 0; i < nblocks; i++)
        add_block(&m->blocks, &m->nblocks, text);
}

/* A chat: a short system prompt (far below the minimum by any estimate), then turns user,
 * assistant, user... with `extra` more blocks in the last user message. */
static void chat(claude_request *r, int turns, int extra)
{
    request_free(r); /* a request is reused: what it held goes */
    request_init(r);
    r->model = strdup("claude-sonnet-4-6");
    r->max_tokens = 60;
    add_block(&r->system, &r->nsystem, "You are brief.");
    for (int t = 1; t <= turns; t++) {
        if (t > 1)
            add_msg(r, NYX_ROLE_ASSISTANT, 1, "An answer.");
        add_msg(r, NYX_ROLE_USER, t == turns ? 1 + extra : 1, "A question?");
    }
}

/* The mark of the block at index k in prefix order (system, then messages). */
static int mark_at(const claude_request *r, size_t k)
{
    if (k < r->nsystem)
        return r->system[k].mark;
    k -= r->nsystem;
    for (size_t i = 0; i < r->nmessages; i++) {
        if (k < r->messages[i].nblocks)
            return r->messages[i].blocks[k].mark;
        k -= r->messages[i].nblocks;
    }
    return -1;
}

static size_t nblocks(const claude_request *r)
{
    size_t n = r->nsystem;
    for (size_t i = 0; i < r->nmessages; i++)
        n += r->messages[i].nblocks;
    return n;
}

static int marks(const claude_request *r)
{
    int n = 0;
    for (size_t k = 0; k < nblocks(r); k++)
        n += mark_at(r, k) != NYX_MARK_NONE;
    return n;
}

/* The marks of r, where `at` says them: " K" a 5m mark at block K, " -K" none there. */
static void marks_at_(int line, const claude_request *r, const char *at)
{
    for (const char *p = at; *p;) {
        while (*p == ' ')
            p++;
        int want = *p == '-' ? NYX_MARK_NONE : NYX_MARK_5M;
        char *end;
        long k = labs(strtol(p, &end, 10));
        if (end == p)
            break;
        if (mark_at(r, (size_t)k) != want) {
            check_fail_at(__FILE__, line);
            fprintf(stderr, "mark at %ld is %d, expected %d\n", k, mark_at(r, (size_t)k), want);
        }
        p = end;
    }
}
#define MARKS_AT(r, at) marks_at_(__LINE__, r, at)

static int place(cache_policy *p, claude_request *r, double shared_ttl, double now, cache_expect *ex)
{
    error_info err = cleared_error();
    return cache_place_marks(p, r, &sonnet46, shared_ttl, now, ex, &err);
}

static void test_chat_turns(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    /* The first turn: the system prompt and the newest message, though both are far below
     * the minimum (a mark there costs nothing; the estimate may be short). */
    claude_request r = {0};
    chat(&r, 1, 0);
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    MARKS_AT(&r, "0 1");
    CHECK_INT(ex.marks, 2);
    cache_response_began(p, &r, &sonnet46, 1);
    /* Every later turn of 30 (2 blocks a turn): the system and the newest message only,
     * nothing in between, as each turn finds the one before within the lookback. */
    for (int turn = 2; turn <= 30; turn++) {
        chat(&r, turn, 0);
        CHECK_INT(place(p, &r, 300, turn, &ex), 0);
        CHECK_INT(mark_at(&r, 0), NYX_MARK_5M);
        CHECK_INT(mark_at(&r, nblocks(&r) - 1), NYX_MARK_5M);
        CHECK_INT(marks(&r), 2);
        CHECK_INT(ex.marks, 2);
        cache_response_began(p, &r, &sonnet46, turn + 0.5);
    }
    /* A conversation sent at turn 20, then at turn 31 (22 blocks more): a link 19 blocks
     * after turn 20's newest message keeps what turn 20 wrote in reach. */
    cache_policy_free(p);
    p = cache_policy_new(NULL);
    chat(&r, 20, 0);
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    cache_response_began(p, &r, &sonnet46, 0.5);
    chat(&r, 31, 0); /* 22 blocks more */
    CHECK_INT(place(p, &r, 300, 1, &ex), 0);
    CHECK_INT(marks(&r), 3);
    CHECK_INT(mark_at(&r, 39 + 19), NYX_MARK_5M);
    /* A shared context kept an hour: the system's mark is 1h, the conversation's 5m (longer
     * first, as the API wants); cache = "1h" makes them all 1h. */
    chat(&r, 3, 0);
    CHECK_INT(place(p, &r, 3600, 2, &ex), 0);
    CHECK_INT(mark_at(&r, 0), NYX_MARK_1H);
    CHECK_INT(mark_at(&r, nblocks(&r) - 1), NYX_MARK_5M);
    chat(&r, 3, 0);
    r.cache_mode = NYX_CACHE_1H;
    CHECK_INT(place(p, &r, 300, 2, &ex), 0);
    CHECK_INT(mark_at(&r, 0), NYX_MARK_1H);
    CHECK_INT(mark_at(&r, nblocks(&r) - 1), NYX_MARK_1H);
    /* An empty final assistant turn (a prefill) cannot carry a mark: the block before does. */
    chat(&r, 2, 0);
    add_msg(&r, NYX_ROLE_ASSISTANT, 1, "");
    CHECK_INT(place(p, &r, 300, 2, &ex), 0);
    CHECK_INT(mark_at(&r, nblocks(&r) - 1), NYX_MARK_NONE);
    CHECK_INT(mark_at(&r, nblocks(&r) - 2), NYX_MARK_5M);
    request_free(&r);
    /* No system prompt: the newest message alone. */
    request_init(&r);
    add_msg(&r, NYX_ROLE_USER, 1, "Hello");
    CHECK_INT(place(p, &r, 300, 2, &ex), 0);
    CHECK_INT(mark_at(&r, 0), NYX_MARK_5M);
    CHECK_INT(ex.marks, 1);
    request_free(&r);
    cache_policy_free(p);
}

static void test_single_prompt(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    claude_request r = {0};
    /* A prompt, not a conversation: it is not expected again, so only the system is marked
     * (a mark on the prompt would add its write premium for nothing). */
    chat(&r, 1, 0);
    r.single_prompt = 1;
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    MARKS_AT(&r, "0 -1");
    request_free(&r);
    /* Without a system prompt, auto marks nothing; cache = true marks the prompt. */
    request_init(&r);
    add_msg(&r, NYX_ROLE_USER, 1, "Hello");
    r.single_prompt = 1;
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    CHECK_INT(marks(&r), 0);
    r.cache_mode = NYX_CACHE_ON;
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    CHECK_INT(mark_at(&r, 0), NYX_MARK_5M);
    request_free(&r);
    cache_policy_free(p);
}

/* A first turn written at t=0, then a request that grew by `grown` blocks since: returns the
 * request, marked at time now. */
static void grown_by(cache_policy *p, claude_request *r, int grown, double now, cache_expect *ex)
{
    claude_request first = {0};
    chat(&first, 1, 0);
    CHECK_INT(place(p, &first, 300, 0, ex), 0);
    cache_response_began(p, &first, &sonnet46, 0);
    request_free(&first);
    /* user (block 1, written), assistant (block 2), user of grown - 1 blocks */
    chat(r, 2, grown - 2);
    CHECK_INT((long)nblocks(r), 2 + grown);
    CHECK_INT(place(p, r, 300, now, ex), 0);
}

static void test_lookback_chain(void)
{
    cache_expect ex;
    claude_request r = {0};
    /* Links are kept 19 blocks apart, one short of the API's 20-block lookback, so that either
     * reading of it (counting the mark's own block or not) finds the entry. A request grown by
     * `grown` blocks since the written prefix (block 1), marked at `now`: */
    static const struct {
        int grown;
        double now;
        int marks, expect; /* expect: ex.marks, -1 unchecked */
        const char *at;
    } cases[] = {
        /* 19: the newest mark finds it, no link */
        {19, 1, 2, -1, "20"},
        /* 20 (the lookback itself): one link, 19 blocks after the written prefix */
        {20, 1, 3, 3, "0 20 21"},
        /* 50: two links (20, 39), the newest at 51, and the system: 4 marks */
        {50, 1, 4, -1, "0 20 39 51"},
        /* 70: three links; the system gives up its slot, still 4 marks */
        {70, 1, 4, 4, "-0 20 39 58 71"},
        /* 77: no 4 marks can reach it, so nothing is read either way: the system and the newest */
        {77, 1, 2, -1, "0 78"},
        /* once the written prefix has expired (5 minutes), no link */
        {30, 301, 2, -1, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ROW("grown %d at %g", cases[i].grown, cases[i].now);
        cache_policy *p = cache_policy_new(NULL);
        grown_by(p, &r, cases[i].grown, cases[i].now, &ex);
        CHECK_INT(marks(&r), cases[i].marks);
        if (cases[i].expect >= 0)
            CHECK_INT(ex.marks, cases[i].expect);
        MARKS_AT(&r, cases[i].at);
        cache_policy_free(p);
    }
    CHECK_ROW_END();
    cache_policy *p = cache_policy_new(NULL);
    /* The first message changed: the prefix written at its end is another one, and the chain
     * starts from the system prompt's (block 0). */
    claude_request first = {0};
    chat(&first, 1, 0);
    CHECK_INT(place(p, &first, 300, 0, &ex), 0);
    cache_response_began(p, &first, &sonnet46, 0);
    request_free(&first);
    chat(&r, 2, 28);
    free(r.messages[0].blocks[0].text);
    r.messages[0].blocks[0].text = strdup("Another question?");
    r.messages[0].blocks[0].len = strlen(r.messages[0].blocks[0].text);
    CHECK_INT(place(p, &r, 300, 1, &ex), 0);
    CHECK_INT(marks(&r), 3);
    MARKS_AT(&r, "19 31");
    request_free(&r);
    cache_policy_free(p);
}

/* The API's automatic caching written at t=0 (cache = "api"), then nyx's own marks: the
 * prefix the top-level mark wrote is known too. */
static void test_api_mode(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    claude_request r = {0};
    chat(&r, 1, 0);
    r.cache_mode = NYX_CACHE_API;
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    CHECK_INT(r.top_level_cache, 1);
    CHECK_INT(marks(&r), 0);
    CHECK_INT(ex.marks, 1);
    cache_response_began(p, &r, &sonnet46, 0);
    chat(&r, 2, 28); /* 30 blocks after block 1 */
    CHECK_INT(place(p, &r, 300, 1, &ex), 0);
    CHECK_INT(mark_at(&r, 20), NYX_MARK_5M);
    /* With 4 marks of the script's own, the automatic one would be a fifth. */
    chat(&r, 3, 0);
    r.cache_mode = NYX_CACHE_API;
    for (size_t i = 0; i < r.nmessages - 1; i++)
        r.messages[i].blocks[0].mark = NYX_MARK_5M;
    error_info err = cleared_error();
    CHECK_INT(cache_place_marks(p, &r, &sonnet46, 300, 1, &ex, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    request_free(&r);
    cache_policy_free(p);
}

static void test_script_marks(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    claude_request r = {0};
    /* One mark of the script's own: its plan, nothing added. */
    chat(&r, 2, 0);
    r.messages[0].blocks[0].mark = NYX_MARK_5M;
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    CHECK_INT(marks(&r), 1);
    CHECK_INT(ex.marks, 1);
    /* A mark inside the tools counts as the script's. */
    chat(&r, 2, 0);
    r.tools_json = strdup("[{\"name\":\"get\",\"input_schema\":{\"type\":\"object\"},"
                          "\"cache_control\":{\"type\":\"ephemeral\"}}]");
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    CHECK_INT(marks(&r), 0);
    CHECK_INT(ex.marks, 1);
    /* cache = false: nothing. */
    chat(&r, 2, 0);
    r.cache_mode = NYX_CACHE_OFF;
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    CHECK_INT(marks(&r), 0);
    request_free(&r);
    cache_policy_free(p);
}

/* Tools before the system prompt are covered by its mark; without a system prompt the last
 * tool gets one, which gives way to a chain of links like the system's. */
static void test_tools(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    claude_request r = {0};
    chat(&r, 2, 0);
    r.tools_json = strdup("[{\"name\":\"get\",\"input_schema\":{\"type\":\"object\"}}]");
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    CHECK_INT(r.tools_mark, NYX_MARK_NONE);
    CHECK_INT(mark_at(&r, 0), NYX_MARK_5M);
    request_free(&r);
    request_init(&r);
    r.tools_json = strdup("[{\"name\":\"get\",\"input_schema\":{\"type\":\"object\"}}]");
    add_msg(&r, NYX_ROLE_USER, 1, "A question?");
    CHECK_INT(place(p, &r, 3600, 0, &ex), 0);
    CHECK_INT(r.tools_mark, NYX_MARK_1H);
    CHECK_INT(mark_at(&r, 0), NYX_MARK_5M);
    CHECK_INT(ex.marks, 2);
    cache_response_began(p, &r, &sonnet46, 0);
    /* 70 blocks later: three links and the newest, the tools' mark given up. */
    add_msg(&r, NYX_ROLE_ASSISTANT, 1, "An answer.");
    add_msg(&r, NYX_ROLE_USER, 69, "A question?");
    r.messages[0].blocks[0].mark = NYX_MARK_NONE; /* as the script sends it again */
    CHECK_INT(place(p, &r, 300, 1, &ex), 0);
    CHECK_INT(r.tools_mark, NYX_MARK_NONE);
    CHECK_INT(ex.marks, 4);
    MARKS_AT(&r, "19 38 57 70");
    request_free(&r);
    cache_policy_free(p);
}

/* What the rate limiter may leave uncharged: a conversation's prefix the engine wrote, once it
 * reaches the minimum (below it the API wrote nothing). */
static void test_known_tokens(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    claude_request r = {0};
    chat(&r, 1, 0);
    CHECK_INT(place(p, &r, 300, 0, &ex), 0);
    cache_response_began(p, &r, &sonnet46, 0);
    chat(&r, 2, 0);
    CHECK_INT(cache_known_tokens(p, &r, &sonnet46, 1), 0); /* a few tokens: nothing written */
    /* A long first question: ~9,000 bytes, ~2,250 tokens at the default estimate. */
    size_t n = 9000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    for (int turn = 1; turn <= 2; turn++) {
        chat(&r, turn, 0);
        free(r.messages[0].blocks[0].text);
        r.messages[0].blocks[0].text = strdup(big);
        r.messages[0].blocks[0].len = n;
        if (turn == 1) {
            CHECK_INT(place(p, &r, 300, 2, &ex), 0);
            cache_response_began(p, &r, &sonnet46, 2);
        } else {
            int64_t want = cache_estimate_tokens(p, &sonnet46, strlen("You are brief.") + n);
            CHECK(want >= 2048);
            CHECK_INT(cache_known_tokens(p, &r, &sonnet46, 3), want);
            CHECK_INT(cache_known_tokens(p, &r, &sonnet46, 2 + 301), 0); /* expired */
        }
        request_free(&r);
    }
    free(big);
    cache_policy_free(p);
}

/* A system prompt split at a paragraph (shared part, then the rest) is split the same way
 * when it is sent again whole, so it reads what it wrote. */
static void test_split_again(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    size_t n = 20000;
    char *text = malloc(n + 32);
    for (size_t i = 0; i < n; i++)
        text[i] = "The plan keeps the prefix. "[i % 27];
    strcpy(text + n, "\n\nRespond as: CFO");
    size_t first_len = 0;
    for (int call = 0; call < 2; call++) {
        claude_request r = {0};
        request_init(&r);
        add_block(&r.system, &r.nsystem, text);
        add_msg(&r, NYX_ROLE_USER, 1, "Go?");
        r.single_prompt = 1;
        CHECK_INT(place(p, &r, 300, call, &ex), 0);
        CHECK_INT(r.nsystem, 2);
        CHECK_INT(r.system[0].mark, NYX_MARK_5M);
        CHECK_INT(r.system[1].mark, NYX_MARK_5M);
        if (call == 0)
            first_len = r.system[0].len;
        CHECK_INT(r.system[0].len, first_len);
        CHECK_INT(ex.expect_hit, call == 1);
        cache_response_began(p, &r, &sonnet46, call + 0.5);
        request_free(&r);
    }
    CHECK_INT(first_len, n + 2);
    free(text);
    cache_policy_free(p);
}

/* Many different system prompts remembered: a new one is read once to find which of them it
 * starts with (and once more for what the API holds), not once for each remembered prompt
 * shorter than it; the one it does start with is still found. */
static void test_many_prompts(void)
{
    cache_policy *p = cache_policy_new(NULL);
    cache_expect ex;
    size_t n = 12000;
    char *text = malloc(n + 64);
    for (size_t i = 0; i < n; i++)
        text[i] = "Answer the customer with care. "[i % 31];
    text[n] = '\0';
    char *prompt = malloc(n + 64);
    for (int k = 0; k < 201; k++) {
        /* Customers 0..199 differ from their first bytes; 200 is customer 7 with a question after. */
        snprintf(prompt, 64, "Customer %03d.\n", k == 200 ? 7 : k);
        strcat(prompt, text);
        if (k == 200)
            strcat(prompt, "\n\nAnd one more thing.");
        claude_request r = {0};
        request_init(&r);
        add_block(&r.system, &r.nsystem, prompt);
        add_msg(&r, NYX_ROLE_USER, 1, "Go?");
        r.single_prompt = 1;
        unsigned long long before = cache_prefix_bytes_read(p);
        CHECK_INT(place(p, &r, 300, k, &ex), 0);
        int64_t known = cache_known_tokens(p, &r, &sonnet46, k + 0.25);
        unsigned long long read = cache_prefix_bytes_read(p) - before;
        if (k == 200) {
            size_t len = strlen(prompt);
            CHECK(read <= 2 * len); /* 200 remembered prompts: some 200 times that, hashed each */
            CHECK_INT(r.nsystem, 2); /* split where customer 7's prompt ended */
            CHECK_INT(r.system[0].len, strlen(prompt) - strlen("\n\nAnd one more thing."));
            CHECK_INT(ex.expect_hit, 1);
            CHECK(known > 0);
        }
        cache_response_began(p, &r, &sonnet46, k + 0.5);
        request_free(&r);
    }
    free(prompt);
    free(text);
    cache_policy_free(p);
}

int main(void)
{
    test_chat_turns();
    test_single_prompt();
    test_lookback_chain();
    test_api_mode();
    test_script_marks();
    test_tools();
    test_known_tokens();
    test_split_again();
    test_many_prompts();
    CHECK_DONE();
}
