/* The simulator's pure logic: tokenizer, validation, prefix hashing, cache accounting,
 * replies, fault rules, rate limits, SSE framing and the request log. No sockets. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sim/sim_core.h"
#include "sim/sim_faults.h"
#include "sim/sim_log.h"
#include "sim/sim_ratelimit.h"
#include "sim/sim_stream.h"
#include "sim_models.h"

#define SEC 1000000LL

/* ---- request builders ---- */

/* Deterministic prose of about n tokens (each word is 1 token: at most 5 letters). */
static char *prose(int n, int salt)
{
    static const char *w[] = {"cache", "tokens", "model", "the", "a", "plan", "keeps", "prefix"};
    char *s = malloc((size_t)n * 8 + 8);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const char *x = w[(i * 7 + salt) % 8];
        if (strcmp(x, "tokens") == 0 || strcmp(x, "prefix") == 0)
            x = "word";
        o += (size_t)sprintf(s + o, "%s%s", i ? " " : "", x);
    }
    s[o] = '\0';
    return s;
}

static cJSON *text_block(const char *text, const char *ttl /* NULL none, "5m", "1h" */)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "text");
    cJSON_AddStringToObject(b, "text", text);
    if (ttl) {
        cJSON *cc = cJSON_AddObjectToObject(b, "cache_control");
        cJSON_AddStringToObject(cc, "type", "ephemeral");
        if (strcmp(ttl, "5m") != 0)
            cJSON_AddStringToObject(cc, "ttl", ttl);
    }
    return b;
}

static cJSON *base(const char *model, int max_tokens)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddNumberToObject(o, "max_tokens", max_tokens);
    cJSON_AddArrayToObject(o, "messages");
    return o;
}

static cJSON *user(cJSON *body)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddItemToArray(cJSON_GetObjectItem(body, "messages"), m);
    return cJSON_AddArrayToObject(m, "content");
}

static int parse(cJSON *body, sim_req *r, error_info *err, int count_only)
{
    char *text = cJSON_PrintUnformatted(body);
    error_clear(err);
    sim_req_free(r); /* a request is reused: what it held goes */
    int rc = sim_req_parse(r, text, strlen(text), &models, NULL, count_only, err);
    free(text);
    cJSON_Delete(body);
    return rc;
}

static int parse_text(const char *json, sim_req *r, error_info *err)
{
    error_clear(err);
    sim_req_free(r);
    return sim_req_parse(r, json, strlen(json), &models, NULL, 0, err);
}

/* A request: system text (marked with sys_ttl), then one user message of a big first
 * block (marked with ttl) and `extra` small blocks, the last marked when last_ttl. */
static cJSON *req_body(const char *model, int big, const char *ttl, int extra, const char *last_ttl)
{
    cJSON *b = base(model, 100);
    cJSON *content = user(b);
    char *p = prose(big, 1);
    cJSON_AddItemToArray(content, text_block(p, ttl));
    free(p);
    for (int i = 0; i < extra; i++) {
        char small[32];
        snprintf(small, sizeof small, "note %d", i);
        cJSON_AddItemToArray(content, text_block(small, i == extra - 1 ? last_ttl : NULL));
    }
    return b;
}

/* ---- tokenizer ---- */

static void test_tokenizer(void)
{
    CHECK_INT(sim_count_tokens("", 0), 0);
    CHECK_INT(sim_count_tokens("Hello", 5), 1);
    CHECK_INT(sim_count_tokens("Hello, world!", 13), 4); /* Hello , ␣world ! */
    CHECK_INT(sim_count_tokens("understanding", 13), 3); /* under stand ing */
    CHECK_INT(sim_count_tokens("12345", 5), 2);          /* 123 45 */
    CHECK_INT(sim_count_tokens("a  b", 4), 3);           /* a, two spaces, b */
    CHECK_INT(sim_count_tokens("line\n\nnext", 10), 3);
    CHECK_INT(sim_count_tokens("caf\xc3\xa9", 5), 2); /* caf é */
    const char *prose_text =
        "Prompt caching is a powerful feature that optimizes your API usage by allowing "
        "resuming from specific prefixes in your prompts. This approach significantly reduces "
        "processing time and costs for repetitive tasks or prompts with consistent elements.";
    size_t n = strlen(prose_text);
    int64_t t = sim_count_tokens(prose_text, n);
    CHECK(t != (int64_t)(n / 4));
    CHECK((double)n / (double)t > 3.5 && (double)n / (double)t < 5.0);
    /* Cutting after k tokens keeps exactly k. */
    const char *mixed = "As  a test, 2024: caf\xc3\xa9 \tand   more!\n\nWords-with-dashes";
    size_t ml = strlen(mixed);
    int64_t mt = sim_count_tokens(mixed, ml);
    for (int64_t k = 0; k <= mt; k++)
        CHECK_INT(sim_count_tokens(mixed, sim_token_prefix(mixed, ml, k)), k);
    CHECK_INT(sim_token_prefix(mixed, ml, mt + 5), ml);
}

/* ---- validation ---- */

#define H5 "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,"
#define HI "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define UC "\"messages\":[{\"role\":\"user\",\"content\":"

static void expect_error(const char *json, int status, const char *type, const char *needle)
{
    sim_req r = {0};
    error_info err;
    CHECK_INT(parse_text(json, &r, &err), -1);
    CHECK_INT(err.status, status);
    CHECK_STR(err.type, type);
    if (!strstr(err.message, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\" (body %s)\n", err.message, needle, json);
        check_failures++;
    }
    CHECK(r.blocks == NULL && r.model == NULL);
    sim_req_free(&r);
}

static void test_validation(void)
{
    const char *ir = "invalid_request_error";
    expect_error("{", 400, ir, "JSON");
    expect_error("[1]", 400, ir, "JSON");
    expect_error("{\"max_tokens\":5," HI, 400, ir, "model: Field required");
    expect_error("{\"model\":7,\"max_tokens\":5,\"messages\":[]}", 400, ir, "model:");
    expect_error("{\"model\":\"claude-sonnet-4-5\"," HI, 400, ir, "max_tokens: Field required");
    expect_error("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":0," HI, 400, ir, "max_tokens");
    expect_error("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1.5," HI, 400, ir,
                 "max_tokens: Input should be a valid integer");
    expect_error("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5}", 400, ir,
                 "messages: Field required");
    expect_error(H5 "\"messages\":[]}", 400, ir, "at least one message");
    expect_error(H5 "\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}", 400, ir,
                 "first message must use the \"user\" role");
    expect_error(H5 "\"messages\":[{\"role\":\"bot\",\"content\":\"hi\"}]}", 400, ir,
                 "messages.0.role");
    expect_error(H5 UC "5}]}", 400, ir, "messages.0.content");
    expect_error(H5 UC "\"hi\"}],\"tools\":[{\"name\":\"a\",\"input_schema\":{\"type\":\"object\"}},"
                 "{\"name\":\"a\",\"input_schema\":{\"type\":\"object\"}}]}", 400, ir, "tools: Tool names must be unique.");
    /* Bytes that are not UTF-8 make the body unreadable JSON to the API, wherever they are. */
    expect_error(H5 UC "\"caf\xe9\"}]}", 400, ir, "not valid JSON: invalid UTF-8 byte 0xE9: line 1 column 86 (char 85)");
    expect_error(H5 "\"system\":\"\xed\xa0\x80\"," UC "\"hi\"}]}", 400, ir, "invalid UTF-8 byte 0xED");
    expect_error(H5 UC "\"hi\"}],\"stop_sequences\":[\"\xc3\"]}", 400, ir, "invalid UTF-8 byte 0xC3");
    expect_error(H5 UC "\"hi\"}],\n\"metadata\":{\"user_id\":\"\xf8\x88\x80\x80\x80\"}}", 400, ir,
                 "invalid UTF-8 byte 0xF8: line 2 column 24");
    sim_req ok = {0};
    error_info fine;
    CHECK_INT(parse_text(H5 UC "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}]}", &ok, &fine), 0);
    sim_req_free(&ok);
    expect_error(H5 UC "\"\"}]}", 400, ir, "non-empty content");
    expect_error(H5 UC "[{\"type\":\"text\",\"text\":\"\"}]}]}", 400, ir,
                 "text content blocks must be non-empty");
    expect_error(H5 UC "[{\"type\":\"video\"}]}]}", 400, ir, "messages.0.content.0.type");
    expect_error(H5 "\"system\":5," HI, 400, ir, "system");
    expect_error(H5 "\"system\":[{\"type\":\"image\"}]," HI, 400, ir, "system.0.type");
    expect_error(H5 "\"stream\":\"yes\"," HI, 400, ir, "stream");
    expect_error(H5 "\"foo\":1," HI, 400, ir, "foo: Extra inputs are not permitted");
    expect_error(
        H5 UC "[{\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":\"persistent\"}}]}]}",
        400, ir, "cache_control.type");
    expect_error(H5 UC "[{\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":"
                       "\"ephemeral\",\"ttl\":\"2h\"}}]}]}",
                 400, ir, "ttl");
    expect_error("{\"model\":\"claude-opus-9\",\"max_tokens\":5," HI, 404, "not_found_error",
                 "model: claude-opus-9");

    /* Five marks: four explicit and a top-level one. */
    cJSON *b = base("claude-sonnet-4-5", 10);
    cJSON *content = user(b);
    for (int i = 0; i < 5; i++)
        cJSON_AddItemToArray(content, text_block("block", i < 4 ? "5m" : NULL));
    cJSON *top = cJSON_AddObjectToObject(b, "cache_control");
    cJSON_AddStringToObject(top, "type", "ephemeral");
    sim_req r = {0};
    error_info err;
    CHECK_INT(parse(b, &r, &err, 0), -1);
    CHECK_INT(err.status, 400);
    CHECK(strstr(err.message,
                 "A maximum of 4 blocks with cache_control may be provided. Found 5.") != NULL);

    /* Four explicit marks with a top-level mark on an already marked last block: no-op. */
    b = base("claude-sonnet-4-5", 10);
    content = user(b);
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToArray(content, text_block("block", "5m"));
    top = cJSON_AddObjectToObject(b, "cache_control");
    cJSON_AddStringToObject(top, "type", "ephemeral");
    CHECK_INT(parse(b, &r, &err, 0), 0);

    /* A conflicting top-level TTL. */
    b = base("claude-sonnet-4-5", 10);
    cJSON_AddItemToArray(user(b), text_block("block", "5m"));
    top = cJSON_AddObjectToObject(b, "cache_control");
    cJSON_AddStringToObject(top, "type", "ephemeral");
    cJSON_AddStringToObject(top, "ttl", "1h");
    CHECK_INT(parse(b, &r, &err, 0), -1);
    CHECK_INT(err.status, 400);

    /* 1h after 5m. */
    b = base("claude-sonnet-4-5", 10);
    content = user(b);
    cJSON_AddItemToArray(content, text_block("first", "5m"));
    cJSON_AddItemToArray(content, text_block("second", "1h"));
    CHECK_INT(parse(b, &r, &err, 0), -1);
    CHECK(strstr(err.message, "ttl='1h'") != NULL);
    sim_req_free(&r);

    /* count_tokens needs no max_tokens; consecutive user turns are allowed. */
    CHECK_INT(parse_text("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":3,\"messages\":[{"
                         "\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
                         "\"b\"},{\"role\":\"assistant\",\"content\":\"\"}]}",
                         &r, &err),
              0);
    sim_req_free(&r);
    error_clear(&err);
    const char *ct = "{\"model\":\"sonnet\"," HI;
    CHECK_INT(sim_req_parse(&r, ct, strlen(ct), &models, NULL, 1, &err), 0);
    CHECK_STR(r.model, "sonnet");
    CHECK_STR(r.canonical, "claude-sonnet-4-5");
    /* "hi": 1 token + block 1 + message 3 + trailer 3 */
    CHECK_INT(r.total, 8);
    sim_req_free(&r);
}

/* ---- prefix blocks ---- */

#define BLOCKS_JSON                                                                                \
    "{\"model\":\"%s\",\"max_tokens\":50,"                                                         \
    "\"tools\":[{\"name\":\"get\",\"input_schema\":{\"type\":\"object\"}%s}],"                     \
    "\"system\":[{\"type\":\"text\",\"text\":\"You are a careful tutor.\"}],"                      \
    "\"messages\":[{\"role\":\"user\",\"content\":\"What is a cache?\"},"                          \
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"A store.\"}]},"            \
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"%s\","                          \
    "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"5m\"}}]}]}"

static int parse_blocks(const char *model, int tool_mark, const char *last, sim_req *r)
{
    char json[1024];
    error_info err;
    snprintf(json, sizeof json, BLOCKS_JSON, model,
             tool_mark ? ",\"cache_control\":{\"type\":\"ephemeral\"}" : "", last);
    return parse_text(json, r, &err);
}

static int same_key(const sim_block *a, const sim_block *b)
{
    return a->key[0] == b->key[0] && a->key[1] == b->key[1];
}

static void test_blocks(void)
{
    sim_req r = {0}, r2 = {0};
    CHECK_INT(parse_blocks("claude-sonnet-4-5", 1, "More.", &r), 0);
    CHECK_INT(r.nblocks, 5);
    CHECK_INT(r.blocks[0].kind, SIM_KIND_TOOL);
    CHECK_INT(r.blocks[0].mark, SIM_MARK_5M);
    CHECK_INT(r.blocks[1].kind, SIM_KIND_SYSTEM);
    CHECK_INT(r.blocks[2].kind, SIM_KIND_USER);
    CHECK_INT(r.blocks[3].kind, SIM_KIND_ASSISTANT);
    CHECK_INT(r.blocks[4].mark, SIM_MARK_5M);
    int64_t sum = 0;
    for (size_t i = 0; i < r.nblocks; i++) {
        sum += r.blocks[i].tokens;
        CHECK_INT(r.blocks[i].cum, sum);
    }
    CHECK_INT(r.total, sum + SIM_TOK_TRAILER);
    /* "You are a careful tutor.": You ␣are ␣a ␣caref ul ␣tutor . = 7, + block 1 + system 3 */
    CHECK_INT(r.blocks[1].tokens, 11);
    CHECK_STR(r.persona, "You are a careful tutor.");
    CHECK_STR(r.topic, "More.");

    /* Same prefix, different later text: equal keys up to the change, not after. */
    CHECK_INT(parse_blocks("claude-sonnet-4-5", 1, "Less.", &r2), 0);
    for (int i = 0; i < 4; i++)
        CHECK(same_key(&r.blocks[i], &r2.blocks[i]));
    CHECK(!same_key(&r.blocks[4], &r2.blocks[4]));

    /* Moving a mark does not change the keys; another model does. */
    CHECK_INT(parse_blocks("claude-sonnet-4-5", 0, "More.", &r2), 0);
    CHECK_INT(r2.blocks[0].mark, SIM_MARK_NONE);
    for (int i = 0; i < 5; i++)
        CHECK(same_key(&r.blocks[i], &r2.blocks[i]));
    CHECK_INT(parse_blocks("claude-haiku-4-5", 1, "More.", &r2), 0);
    for (int i = 0; i < 5; i++)
        CHECK(!same_key(&r.blocks[i], &r2.blocks[i]));
    CHECK_INT(r.total, r2.total);
    sim_req_free(&r2);
    sim_req_free(&r);

    /* Role boundaries count: two user turns differ from one turn of two blocks. */
    sim_req a = {0}, b = {0};
    error_info err;
    CHECK_INT(parse_text(H5 UC "\"x\"},{\"role\":\"user\",\"content\":\"y\"}]}", &a, &err), 0);
    CHECK_INT(
        parse_text(H5 UC
                   "[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"text\",\"text\":\"y\"}]}]}",
                   &b, &err),
        0);
    CHECK(same_key(&a.blocks[0], &b.blocks[0]));
    CHECK(!same_key(&a.blocks[1], &b.blocks[1]));
    sim_req_free(&a);
    sim_req_free(&b);
}

/* ---- cache accounting ---- */

static void plan_commit(sim_cache *c, const sim_req *r, int64_t now, sim_plan *p)
{
    sim_cache_plan(c, r, now, p);
    CHECK_INT(sim_cache_commit(c, r, p, now, now), 0);
}

static void check_sum(const sim_req *r, const sim_plan *p)
{
    CHECK_INT(p->usage.input_tokens + p->usage.cache_read + p->usage.cache_creation, r->total);
    CHECK_INT(p->usage.cache_creation, p->usage.cache_write_5m + p->usage.cache_write_1h);
}

static void test_cache_basic(void)
{
    sim_cache *c = sim_cache_new(0);
    sim_req r = {0};
    error_info err;
    sim_plan p;

    /* Below the minimum: nothing cached, nothing fails. */
    CHECK_INT(parse(req_body("claude-sonnet-4-5", 500, "5m", 0, NULL), &r, &err, 0), 0);
    plan_commit(c, &r, 0, &p);
    CHECK_INT(p.usage.cache_read, 0);
    CHECK_INT(p.usage.cache_creation, 0);
    CHECK_INT(p.usage.input_tokens, r.total);
    CHECK_INT(sim_cache_size(c), 0);

    /* The same prompt on a model with a higher minimum: still below it. */
    CHECK_INT(parse(req_body("claude-haiku-4-5", 2000, "5m", 0, NULL), &r, &err, 0), 0);
    plan_commit(c, &r, 0, &p);
    CHECK_INT(p.usage.cache_creation, 0);

    /* Above: the first call writes, the second reads. */
    CHECK_INT(parse(req_body("claude-sonnet-4-5", 2000, "5m", 0, NULL), &r, &err, 0), 0);
    int64_t prefix = r.blocks[0].cum;
    plan_commit(c, &r, 0, &p);
    CHECK_INT(p.hit, -1);
    CHECK_INT(p.usage.cache_read, 0);
    CHECK_INT(p.usage.cache_write_5m, prefix);
    CHECK_INT(p.usage.cache_write_1h, 0);
    CHECK_INT(p.usage.input_tokens, SIM_TOK_TRAILER);
    check_sum(&r, &p);
    plan_commit(c, &r, 10 * SEC, &p);
    CHECK_INT(p.hit, 0);
    CHECK_INT(p.usage.cache_read, prefix);
    CHECK_INT(p.usage.cache_creation, 0);
    check_sum(&r, &p);

    /* Same text on another model: no sharing. */
    CHECK_INT(parse(req_body("claude-haiku-4-5", 2000, "5m", 0, NULL), &r, &err, 0), 0);
    sim_cache_plan(c, &r, 10 * SEC, &p);
    CHECK_INT(p.usage.cache_read, 0);

    /* An alias shares with its canonical model. */
    CHECK_INT(parse(req_body("sonnet", 2000, "5m", 0, NULL), &r, &err, 0), 0);
    sim_cache_plan(c, &r, 10 * SEC, &p);
    CHECK_INT(p.usage.cache_read, prefix);
    sim_req_free(&r);
    sim_cache_free(c);
}

/* Commits n distinct one-message prompts, cached however small, the i-th at i * step. */
static void commit_tiny(sim_cache *c, int n, int64_t step)
{
    sim_req r = {0};
    error_info err;
    sim_plan p;
    for (int i = 0; i < n; i++) {
        char json[200];
        snprintf(json, sizeof json,
                 H5 "\"messages\":[{\"role\":\"user\","
                    "\"content\":\"n%d\"}],\"cache_control\":{\"type\":\"ephemeral\"}}",
                 i);
        CHECK_INT(sim_req_parse(&r, json, strlen(json), &models, NULL, 0, &err), 0);
        r.min_cache = 1; /* cache even tiny prompts */
        plan_commit(c, &r, (int64_t)i * step, &p);
        sim_req_free(&r);
    }
}

static void test_cache_ttl(void)
{
    sim_cache *c = sim_cache_new(0);
    sim_req r = {0};
    error_info err;
    sim_plan p;
    CHECK_INT(parse(req_body("claude-sonnet-4-5", 1500, "5m", 0, NULL), &r, &err, 0), 0);
    int64_t t0 = 1000 * SEC;
    plan_commit(c, &r, t0, &p);
    sim_cache_plan(c, &r, t0 + 299 * SEC, &p);
    CHECK_INT(p.usage.cache_read, r.blocks[0].cum);
    sim_cache_plan(c, &r, t0 + 301 * SEC, &p);
    CHECK_INT(p.usage.cache_read, 0);
    CHECK_INT(p.usage.cache_creation, r.blocks[0].cum);

    /* A hit refreshes the TTL from the hit. */
    sim_cache_clear(c);
    plan_commit(c, &r, t0, &p);
    plan_commit(c, &r, t0 + 200 * SEC, &p);
    CHECK_INT(p.usage.cache_read, r.blocks[0].cum);
    sim_cache_plan(c, &r, t0 + 450 * SEC, &p);
    CHECK_INT(p.usage.cache_read, r.blocks[0].cum);
    sim_cache_plan(c, &r, t0 + 501 * SEC, &p);
    CHECK_INT(p.usage.cache_read, 0);

    /* An entry is usable only once its writer's response began. */
    sim_cache_clear(c);
    sim_cache_plan(c, &r, t0, &p);
    CHECK_INT(sim_cache_commit(c, &r, &p, t0, t0 + SEC / 10), 0);
    sim_cache_plan(c, &r, t0 + SEC / 20, &p); /* a parallel call: misses and pays the write */
    CHECK_INT(p.usage.cache_read, 0);
    CHECK_INT(p.usage.cache_creation, r.blocks[0].cum);
    CHECK_INT(sim_cache_commit(c, &r, &p, t0 + SEC / 20, t0 + SEC / 20 + SEC / 10), 0);
    CHECK_INT(sim_cache_size(c), 1);
    sim_cache_plan(c, &r, t0 + SEC / 5, &p);
    CHECK_INT(p.usage.cache_read, r.blocks[0].cum);
    sim_req_free(&r);

    /* Expired entries are evicted: memory stays bounded. */
    sim_cache_clear(c);
    commit_tiny(c, 5000, 10 * SEC);
    CHECK(sim_cache_size(c) <= 2048);
    sim_cache_free(c);

    /* At the entry cap, the soonest to expire make room. */
    c = sim_cache_new(100);
    commit_tiny(c, 1000, 1);
    CHECK(sim_cache_size(c) <= 100);
    sim_cache_free(c);
}

static void test_cache_1h(void)
{
    sim_cache *c = sim_cache_new(0);
    error_info err;
    sim_plan p;
    /* system (1h mark) 1200 tokens, then user text with a 5m mark. */
    char *sys = prose(1200, 2), *msg = prose(400, 3);
    cJSON *b = base("claude-sonnet-4-5", 64);
    cJSON *system = cJSON_AddArrayToObject(b, "system");
    cJSON_AddItemToArray(system, text_block(sys, "1h"));
    cJSON_AddItemToArray(user(b), text_block(msg, "5m"));
    char *json = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    sim_req r = {0};
    CHECK_INT(parse_text(json, &r, &err), 0);
    int64_t B = r.blocks[0].cum, C = r.blocks[1].cum;
    int64_t t0 = 0;
    plan_commit(c, &r, t0, &p);
    CHECK_INT(p.usage.cache_read, 0);
    CHECK_INT(p.usage.cache_write_1h, B);
    CHECK_INT(p.usage.cache_write_5m, C - B);
    CHECK_INT(p.usage.cache_creation, C);
    check_sum(&r, &p);
    /* 10 minutes later the 5m entry is gone and the 1h one is not. */
    plan_commit(c, &r, t0 + 600 * SEC, &p);
    CHECK_INT(p.usage.cache_read, B);
    CHECK_INT(p.usage.cache_write_1h, 0);
    CHECK_INT(p.usage.cache_write_5m, C - B);
    check_sum(&r, &p);
    /* Right after: everything reads. */
    plan_commit(c, &r, t0 + 601 * SEC, &p);
    CHECK_INT(p.usage.cache_read, C);
    CHECK_INT(p.usage.cache_creation, 0);
    /* Past an hour without a hit on the 1h entry... but it was hit at 600 s: alive to 4200 s. */
    sim_cache_plan(c, &r, t0 + 4000 * SEC, &p);
    CHECK_INT(p.usage.cache_read, B);
    sim_cache_plan(c, &r, t0 + 4300 * SEC, &p);
    CHECK_INT(p.usage.cache_read, 0);
    sim_req_free(&r);
    free(json);
    free(sys);
    free(msg);
    sim_cache_free(c);
}

static void test_cache_lookback(void)
{
    sim_cache *c = sim_cache_new(0);
    error_info err;
    sim_plan p;
    sim_req r = {0};
    /* Write the big first block. */
    CHECK_INT(parse(req_body("claude-sonnet-4-5", 1500, "5m", 0, NULL), &r, &err, 0), 0);
    int64_t A = r.blocks[0].cum;
    plan_commit(c, &r, 0, &p);
    /* 20 more blocks, only the last marked: found 20 blocks back. */
    CHECK_INT(parse(req_body("claude-sonnet-4-5", 1500, NULL, 20, "5m"), &r, &err, 0), 0);
    CHECK_INT(r.nblocks, 21);
    sim_cache_plan(c, &r, SEC, &p);
    CHECK_INT(p.hit, 0);
    CHECK_INT(p.usage.cache_read, A);
    CHECK_INT(p.usage.cache_creation, r.blocks[20].cum - A);
    check_sum(&r, &p);
    /* 21 more: beyond the lookback, a miss that writes the whole prefix. */
    CHECK_INT(parse(req_body("claude-sonnet-4-5", 1500, NULL, 21, "5m"), &r, &err, 0), 0);
    sim_cache_plan(c, &r, SEC, &p);
    CHECK_INT(p.hit, -1);
    CHECK_INT(p.usage.cache_read, 0);
    CHECK_INT(p.usage.cache_creation, r.blocks[21].cum);
    /* With a second mark kept on the first block, the longest hit wins. */
    CHECK_INT(parse(req_body("claude-sonnet-4-5", 1500, "5m", 30, "5m"), &r, &err, 0), 0);
    sim_cache_plan(c, &r, SEC, &p);
    CHECK_INT(p.usage.cache_read, A);
    CHECK_INT(sim_cache_commit(c, &r, &p, SEC, SEC), 0);
    sim_cache_plan(c, &r, 2 * SEC, &p);
    CHECK_INT(p.usage.cache_read, r.blocks[30].cum);
    CHECK_INT(p.usage.input_tokens, SIM_TOK_TRAILER);
    sim_req_free(&r);
    sim_cache_free(c);
}

/* The API's automatic caching: a top-level cache_control is a mark on the last block that can
 * carry one, and caches exactly as that mark would. */
static void test_cache_top_level(void)
{
    sim_cache *c = sim_cache_new(0);
    error_info err;
    sim_plan p, q;
    sim_req top = {0}, own = {0};
    char *big = prose(1500, 4);
    char json[16384];
    /* A chat turn: user, assistant, user; once with the top-level mark, once marked by hand. */
    snprintf(json, sizeof json,
             H5 UC "\"%s\"},{\"role\":\"assistant\",\"content\":\"An answer.\"},"
                   "{\"role\":\"user\",\"content\":\"More?\"}],"
                   "\"cache_control\":{\"type\":\"ephemeral\"}}",
             big);
    CHECK_INT(parse_text(json, &top, &err), 0);
    snprintf(json, sizeof json,
             H5 UC "\"%s\"},{\"role\":\"assistant\",\"content\":\"An answer.\"},"
                   "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                   "\"More?\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}",
             big);
    CHECK_INT(parse_text(json, &own, &err), 0);
    CHECK_INT(top.nblocks, 3);
    CHECK_INT(top.blocks[2].mark, SIM_MARK_5M);
    CHECK_INT(top.blocks[0].mark + top.blocks[1].mark, SIM_MARK_NONE);
    sim_cache_plan(c, &top, 0, &p);
    sim_cache_plan(c, &own, 0, &q);
    CHECK_INT(p.usage.cache_creation, top.blocks[2].cum);
    CHECK_INT(p.usage.cache_creation, q.usage.cache_creation);
    CHECK_INT(p.usage.input_tokens, q.usage.input_tokens);
    CHECK_INT(sim_cache_commit(c, &top, &p, 0, 0), 0);
    sim_cache_plan(c, &own, SEC, &q); /* what one wrote, the other reads */
    CHECK_INT(q.usage.cache_read, top.blocks[2].cum);
    sim_req_free(&own);

    /* It passes over a thinking block, which cannot carry a mark of its own. */
    snprintf(json, sizeof json,
             H5 UC "\"%s\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
                   "\"text\":\"Plan.\"},{\"type\":\"thinking\",\"thinking\":\"hmm\","
                   "\"signature\":\"sig\"}]}],\"cache_control\":{\"type\":\"ephemeral\"}}",
             big);
    CHECK_INT(parse_text(json, &top, &err), 0);
    CHECK_INT(top.nblocks, 3);
    CHECK_INT(top.blocks[1].mark, SIM_MARK_5M);
    CHECK_INT(top.blocks[2].mark, SIM_MARK_NONE);
    snprintf(json, sizeof json,
             H5 UC "\"q\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
                   "\"thinking\":\"hmm\",\"signature\":\"sig\",\"cache_control\":{\"type\":"
                   "\"ephemeral\"}},{\"type\":\"text\",\"text\":\"Plan.\"}]}]}");
    CHECK_INT(parse_text(json, &top, &err), -1);
    CHECK_INT(err.status, 400);
    CHECK(strstr(err.message, "thinking.cache_control") != NULL);
    sim_req_free(&top);
    free(big);
    sim_cache_free(c);
}

/* ---- replies ---- */

static void test_reply(void)
{
    sim_req r = {0};
    error_info err;
    sim_reply a, b;
    const char *json =
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1000,\"system\":\"a patient "
        "teacher of physics\",\"messages\":[{\"role\":\"user\",\"content\":\"Explain "
        "why the sky is blue please\"}]}";
    CHECK_INT(parse_text(json, &r, &err), 0);
    CHECK_INT(sim_reply_make(&r, &a), 0);
    CHECK_INT(sim_reply_make(&r, &b), 0);
    CHECK_STR(a.text, b.text);
    const char *head = "As a patient teacher of physics, regarding Explain why the sky is blue:";
    CHECK(strncmp(a.text, head, strlen(head)) == 0);
    CHECK(a.output_tokens >= 20 && a.output_tokens <= 200);
    CHECK_INT(sim_count_tokens(a.text, a.len), a.output_tokens);
    CHECK_INT(a.output_tokens, 20 + (int64_t)(r.hash % 181));
    CHECK_STR(a.stop_reason, "end_turn");
    CHECK(a.stop_sequence == NULL);
    CHECK(a.text[a.len - 1] == '.');
    sim_reply_free(&b);
    /* max_tokens cuts. */
    r.max_tokens = 7;
    CHECK_INT(sim_reply_make(&r, &b), 0);
    CHECK_INT(b.output_tokens, 7);
    CHECK_STR(b.stop_reason, "max_tokens");
    CHECK(strncmp(a.text, b.text, b.len) == 0);
    sim_reply_free(&b);
    /* A stop sequence within reach. */
    r.max_tokens = 1000;
    r.stops = calloc(2, sizeof *r.stops);
    r.stops[0] = strdup("zzz-never");
    r.stops[1] = strdup("regarding");
    r.nstops = 2;
    CHECK_INT(sim_reply_make(&r, &b), 0);
    CHECK_STR(b.stop_reason, "stop_sequence");
    CHECK_STR(b.stop_sequence, "regarding");
    CHECK_STR(b.text, "As a patient teacher of physics, ");
    sim_reply_free(&b);
    /* ...but not when max_tokens ends the reply first. */
    r.max_tokens = 3;
    CHECK_INT(sim_reply_make(&r, &b), 0);
    CHECK_STR(b.stop_reason, "max_tokens");
    sim_reply_free(&b);
    sim_reply_free(&a);
    sim_req_free(&r);

    /* Different prompts, different replies. */
    CHECK_INT(parse_text("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":500,\"messages\":[{"
                         "\"role\":\"user\",\"content\":\"one\"}]}",
                         &r, &err),
              0);
    CHECK_INT(sim_reply_make(&r, &a), 0);
    sim_req_free(&r);
    CHECK_INT(parse_text("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":500,\"messages\":[{"
                         "\"role\":\"user\",\"content\":\"two\"}]}",
                         &r, &err),
              0);
    CHECK_INT(sim_reply_make(&r, &b), 0);
    CHECK(strcmp(a.text, b.text) != 0);
    CHECK(strncmp(a.text, "As your assistant, regarding one:", 33) == 0);
    sim_reply_free(&a);
    sim_reply_free(&b);
    sim_req_free(&r);

    char *e = sim_json_error("overloaded_error", "Overloaded", "req_sim_9");
    CHECK_STR(e, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                 "\"Overloaded\"},\"request_id\":\"req_sim_9\"}");
    free(e);
}

/* ---- faults ---- */

static void test_faults(void)
{
    sim_faults *f = sim_faults_new(42);
    error_info err;
    sim_fault out;
    const char *j =
        "{\"faults\":[{\"fault\":\"overloaded\",\"count\":2,\"model\":\"claude-haiku-4-5\"},"
        "{\"fault\":\"rate_limit\",\"retry_after\":3,\"should_retry\":true},"
        "{\"fault\":\"cut\",\"after_events\":4,\"stream\":true,\"count\":0}]}";
    CHECK_INT(sim_faults_add_json(f, j, strlen(j), &err), 3);
    CHECK_INT(sim_faults_match(f, "claude-haiku-4-5", "claude-haiku-4-5", SIM_EP_MESSAGES, 0, &out),
              1);
    CHECK_INT(out.kind, SIM_FAULT_OVERLOADED);
    /* Other model: the next rule. */
    CHECK_INT(sim_faults_match(f, "sonnet", "claude-sonnet-4-5", SIM_EP_MESSAGES, 0, &out), 1);
    CHECK_INT(out.kind, SIM_FAULT_RATE_LIMIT);
    CHECK_NEAR(out.retry_after_s, 3, 1e-9);
    CHECK_INT(out.should_retry, 1);
    CHECK_INT(sim_faults_match(f, "claude-haiku-4-5", "claude-haiku-4-5", SIM_EP_MESSAGES, 0, &out),
              1);
    CHECK_INT(out.kind, SIM_FAULT_OVERLOADED);
    /* Both used up: only streaming requests match the cut rule, forever. */
    CHECK_INT(sim_faults_match(f, "claude-haiku-4-5", "claude-haiku-4-5", SIM_EP_MESSAGES, 0, &out),
              0);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(sim_faults_match(f, "x", "x", SIM_EP_MESSAGES, 1, &out), 1);
        CHECK_INT(out.kind, SIM_FAULT_CUT);
        CHECK_INT(out.after_events, 4);
    }
    CHECK_INT(sim_faults_match(f, "x", "x", SIM_EP_COUNT_TOKENS, 1, &out), 0);
    CHECK_INT(sim_faults_count(f), 1);
    sim_faults_clear(f);
    CHECK_INT(sim_faults_count(f), 0);

    /* Bad rules add nothing. */
    const char *bad1 = "{\"faults\":[{\"fault\":\"hang\"},{\"fault\":\"explode\"}]}";
    CHECK_INT(sim_faults_add_json(f, bad1, strlen(bad1), &err), -1);
    CHECK(strstr(err.message, "explode") != NULL);
    CHECK_INT(sim_faults_count(f), 0);
    const char *bad2 = "{\"fault\":\"hang\",\"hang_msec\":5}";
    CHECK_INT(sim_faults_add_json(f, bad2, strlen(bad2), &err), -1);
    const char *bad3 = "{\"fault\":\"hang\",\"probability\":2}";
    CHECK_INT(sim_faults_add_json(f, bad3, strlen(bad3), &err), -1);
    CHECK_INT(sim_faults_add_json(f, "nope", 4, &err), -1);
    CHECK(strstr(err.message, "not valid JSON at line 1, column 1") != NULL);
    /* Text after the rules is not taken as the rules alone. */
    const char *bad4 = "[{\"fault\":\"hang\"}] [{\"fault\":\"overloaded\"}]";
    CHECK_INT(sim_faults_add_json(f, bad4, strlen(bad4), &err), -1);
    CHECK(strstr(err.message, "more text after the value at line 1, column 20") != NULL);
    CHECK_INT(sim_faults_count(f), 0);

    /* Probability: seeded, so the same seed fails the same requests. */
    int first[200], hits = 0;
    for (int round = 0; round < 2; round++) {
        sim_faults_clear(f);
        sim_faults_seed(f, 7);
        const char *p = "{\"fault\":\"server_error\",\"probability\":0.3}";
        CHECK_INT(sim_faults_add_json(f, p, strlen(p), &err), 1);
        for (int i = 0; i < 200; i++) {
            int m = sim_faults_match(f, "m", "m", SIM_EP_MESSAGES, 0, &out);
            if (round == 0) {
                first[i] = m;
                hits += m;
            } else {
                CHECK_INT(m, first[i]);
            }
        }
    }
    CHECK(hits > 35 && hits < 85);
    CHECK_STR(sim_fault_name(SIM_FAULT_STREAM_ERROR), "stream_error");
    CHECK(sim_fault_name(SIM_FAULT_NONE) == NULL);
    sim_faults_free(f);
}

/* ---- rate limits ---- */

static void test_ratelimit(void)
{
    sim_rl *rl = sim_rl_new();
    sim_rl_result res;
    CHECK_INT(sim_rl_admit(rl, "m", 1000000, 1000000, 0, &res), 0);
    CHECK_INT(res.admitted, 1);
    CHECK_INT(sim_rl_enabled(rl), 0);
    sim_rl_set_limits(rl, 2, 1000, 600);
    CHECK_INT(sim_rl_admit(rl, "m", 100, 100, 10.0, &res), 0);
    CHECK_INT(res.admitted, 1);
    CHECK_INT(res.state[SIM_RL_REQUESTS].limit, 2);
    CHECK_INT(res.state[SIM_RL_REQUESTS].remaining, 1);
    CHECK_INT(res.state[SIM_RL_INPUT].remaining, 900);
    CHECK_INT(res.state[SIM_RL_OUTPUT].remaining, 500);
    CHECK_NEAR(res.state[SIM_RL_REQUESTS].reset_s, 30.0, 1e-6);
    CHECK_INT(sim_rl_admit(rl, "m", 100, 100, 10.0, &res), 0);
    CHECK_INT(res.admitted, 1);
    CHECK_INT(sim_rl_admit(rl, "m", 100, 100, 10.0, &res), 0);
    CHECK_INT(res.admitted, 0);
    CHECK_INT(res.limited_by, SIM_RL_REQUESTS);
    CHECK_NEAR(res.retry_after_s, 30.0, 1e-6);
    /* Another model has its own buckets. */
    CHECK_INT(sim_rl_admit(rl, "other", 100, 100, 10.0, &res), 0);
    CHECK_INT(res.admitted, 1);
    /* Half a minute later one request has refilled. */
    CHECK_INT(sim_rl_admit(rl, "m", 100, 100, 40.0, &res), 0);
    CHECK_INT(res.admitted, 1);
    /* Input tokens: 1000/min, 700 left + refill; ask for more than that. */
    sim_rl_set_limits(rl, 0, 1000, 0);
    CHECK_INT(sim_rl_admit(rl, "m", 900, 0, 0, &res), 0);
    CHECK_INT(sim_rl_admit(rl, "m", 400, 0, 0, &res), 0);
    CHECK_INT(res.admitted, 0);
    CHECK_INT(res.limited_by, SIM_RL_INPUT);
    CHECK_NEAR(res.retry_after_s, 18.0, 1e-6); /* 300 tokens at 1000/60 per second */
    CHECK_INT(res.state[SIM_RL_REQUESTS].limit, 0);
    /* Output: refunds give back what was not generated. */
    sim_rl_set_limits(rl, 0, 0, 100);
    CHECK_INT(sim_rl_admit(rl, "m", 0, 100, 0, &res), 0);
    CHECK_INT(sim_rl_admit(rl, "m", 0, 50, 0, &res), 0);
    CHECK_INT(res.admitted, 0);
    sim_rl_refund(rl, "m", 60, 0);
    CHECK_INT(sim_rl_admit(rl, "m", 0, 50, 0, &res), 0);
    CHECK_INT(res.admitted, 1);
    /* More than the bucket holds never fits. */
    CHECK_INT(sim_rl_admit(rl, "m", 0, 1000, 0, &res), 0);
    CHECK_INT(res.admitted, 0);
    CHECK_NEAR(res.retry_after_s, 60.0, 1e-9);
    sim_rl_free(rl);
}

/* ---- SSE framing ---- */

static cJSON *event_data(const sim_chunk *ch, const char *name)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "event: %s\ndata: ", name);
    if (strncmp(ch->data, prefix, strlen(prefix)) != 0 || ch->len < 2 ||
        strcmp(ch->data + ch->len - 2, "\n\n") != 0) {
        fprintf(stderr, "bad frame for %s: %.*s\n", name, (int)ch->len, ch->data);
        check_failures++;
        return NULL;
    }
    return cJSON_ParseWithLength(ch->data + strlen(prefix), ch->len - strlen(prefix));
}

static void test_stream(void)
{
    sim_req r = {0};
    error_info err;
    sim_reply rep;
    CHECK_INT(parse_text("{\"model\":\"sonnet\",\"max_tokens\":400,\"stream\":true,\"messages\":[{"
                         "\"role\":\"user\",\"content\":\"Tell me about caches\"}]}",
                         &r, &err),
              0);
    CHECK_INT(r.stream, 1);
    CHECK_INT(sim_reply_make(&r, &rep), 0);
    sim_usage u = {.input_tokens = 5,
                   .cache_read = 100,
                   .cache_write_5m = 20,
                   .cache_write_1h = 10,
                   .cache_creation = 30,
                   .output_tokens = rep.output_tokens};
    sim_body b;
    CHECK_INT(sim_body_stream(&b, "msg_sim_1", r.canonical, &rep, &u, SIM_FAULT_NONE, -1, 40, 2),
              0);
    CHECK(b.n >= 8);
    CHECK_INT(b.declared_len, -1);
    CHECK_INT(b.fail_at_end, 0);
    cJSON *d = event_data(&b.chunks[0], "message_start");
    CHECK(d != NULL);
    CHECK_INT(b.chunks[0].delay_us, 40000);
    cJSON *msg = cJSON_GetObjectItem(d, "message");
    CHECK_STR(cJSON_GetObjectItem(msg, "id")->valuestring, "msg_sim_1");
    CHECK_STR(cJSON_GetObjectItem(msg, "model")->valuestring, "claude-sonnet-4-5");
    cJSON *usage = cJSON_GetObjectItem(msg, "usage");
    CHECK_INT(cJSON_GetObjectItem(usage, "input_tokens")->valueint, 5);
    CHECK_INT(cJSON_GetObjectItem(usage, "cache_read_input_tokens")->valueint, 100);
    CHECK_INT(cJSON_GetObjectItem(usage, "cache_creation_input_tokens")->valueint, 30);
    cJSON *cc = cJSON_GetObjectItem(usage, "cache_creation");
    CHECK_INT(cJSON_GetObjectItem(cc, "ephemeral_5m_input_tokens")->valueint, 20);
    CHECK_INT(cJSON_GetObjectItem(cc, "ephemeral_1h_input_tokens")->valueint, 10);
    cJSON_Delete(d);
    d = event_data(&b.chunks[1], "content_block_start");
    cJSON_Delete(d);
    d = event_data(&b.chunks[2], "ping");
    cJSON_Delete(d);
    /* Deltas rebuild the text; their delays add up to token_ms per token. */
    char *text = calloc(1, rep.len + 1);
    int64_t delay = 0;
    size_t i = 3;
    for (; i < b.n && strncmp(b.chunks[i].data, "event: content_block_stop", 25) != 0; i++) {
        if (strncmp(b.chunks[i].data, "event: ping", 11) == 0)
            continue;
        d = event_data(&b.chunks[i], "content_block_delta");
        cJSON *delta = cJSON_GetObjectItem(d, "delta");
        CHECK_STR(cJSON_GetObjectItem(delta, "type")->valuestring, "text_delta");
        strcat(text, cJSON_GetObjectItem(delta, "text")->valuestring);
        delay += b.chunks[i].delay_us;
        cJSON_Delete(d);
    }
    CHECK_STR(text, rep.text);
    CHECK_INT(delay, rep.output_tokens * 2000);
    free(text);
    CHECK_INT(b.n - i, 3);
    d = event_data(&b.chunks[i + 1], "message_delta");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "delta"), "stop_reason")->valuestring,
              "end_turn");
    CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "usage"), "output_tokens")->valueint,
              rep.output_tokens);
    cJSON_Delete(d);
    d = event_data(&b.chunks[i + 2], "message_stop");
    cJSON_Delete(d);
    size_t full = b.n;
    sim_body_free(&b);

    /* cut after 4 events, and never past the last-but-one. */
    CHECK_INT(sim_body_stream(&b, "m", "x", &rep, &u, SIM_FAULT_CUT, 4, 0, 0), 0);
    CHECK_INT(b.n, 4);
    CHECK_INT(b.fail_at_end, 1);
    sim_body_free(&b);
    CHECK_INT(sim_body_stream(&b, "m", "x", &rep, &u, SIM_FAULT_CUT, 1000, 0, 0), 0);
    CHECK_INT(b.n, full - 1);
    sim_body_free(&b);
    /* stall after 2 events: the third waits hang_ms more, every event is sent; never past the
     * last event (message_stop), and a day when hang_ms is not given. */
    CHECK_INT(sim_body_stream(&b, "m", "x", &rep, &u, SIM_FAULT_STALL, 2, 0, 0), 0);
    sim_body_stall(&b, 2, 1500);
    CHECK_INT(b.n, full);
    CHECK_INT(b.fail_at_end, 0);
    CHECK_INT(b.chunks[1].delay_us, 0);
    CHECK_INT(b.chunks[2].delay_us, 1500000);
    sim_body_stall(&b, 1000, -1);
    CHECK_INT(b.chunks[full - 1].delay_us, INT64_C(86400000000));
    sim_body_free(&b);
    /* stream_error: message_start then an error event. */
    CHECK_INT(sim_body_stream(&b, "m", "x", &rep, &u, SIM_FAULT_STREAM_ERROR, -1, 0, 0), 0);
    CHECK_INT(b.n, 2);
    d = event_data(&b.chunks[1], "error");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "error"), "type")->valuestring,
              "overloaded_error");
    cJSON_Delete(d);
    sim_body_free(&b);
    /* malformed: one data line does not parse. */
    CHECK_INT(sim_body_stream(&b, "m", "x", &rep, &u, SIM_FAULT_MALFORMED, -1, 0, 0), 0);
    d = event_data(&b.chunks[3], "content_block_delta");
    CHECK(d == NULL);
    sim_body_free(&b);

    /* Plain bodies. */
    CHECK_INT(sim_body_message(&b, "msg_sim_2", "claude-sonnet-4-5", &rep, &u, SIM_FAULT_NONE), 0);
    CHECK_INT(b.n, 1);
    CHECK_INT(b.declared_len, (int64_t)b.chunks[0].len);
    d = cJSON_ParseWithLength(b.chunks[0].data, b.chunks[0].len);
    CHECK(d != NULL);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "content"), 0), "text")
                  ->valuestring,
              rep.text);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(d, "stop_sequence")));
    cJSON_Delete(d);
    sim_body_free(&b);
    CHECK_INT(sim_body_message(&b, "m", "x", &rep, &u, SIM_FAULT_MALFORMED), 0);
    d = cJSON_ParseWithLength(b.chunks[0].data, b.chunks[0].len);
    CHECK(d == NULL);
    CHECK_INT(b.fail_at_end, 0);
    sim_body_free(&b);
    CHECK_INT(sim_body_message(&b, "m", "x", &rep, &u, SIM_FAULT_STALL), 0);
    sim_body_stall(&b, -1, 200); /* a plain reply: its headers, then its body 200 ms later */
    CHECK_INT(b.n, 1);
    CHECK_INT(b.chunks[0].delay_us, 200000);
    CHECK_INT(b.declared_len, (int64_t)b.chunks[0].len);
    sim_body_free(&b);
    CHECK_INT(sim_body_message(&b, "m", "x", &rep, &u, SIM_FAULT_CUT), 0);
    CHECK_INT(b.fail_at_end, 1);
    CHECK((int64_t)b.chunks[0].len < b.declared_len);
    sim_body_free(&b);
    sim_reply_free(&rep);
    sim_req_free(&r);
}

/* ---- request log ---- */

static void test_log(void)
{
    sim_log *l = sim_log_new();
    for (int i = 1; i <= SIM_LOG_MAX + 5; i++) {
        sim_log_entry e = {.n = i,
                           .path = "/v1/messages",
                           .model = i % 2 ? "m" : NULL,
                           .status = 200,
                           .fault = i == 3 ? "hang" : NULL};
        CHECK_INT(sim_log_add(l, &e), 0);
    }
    char *j = sim_log_json(l, SIM_LOG_MAX + 2);
    cJSON *d = cJSON_Parse(j);
    CHECK_INT(cJSON_GetObjectItem(d, "count")->valueint, SIM_LOG_MAX + 5);
    cJSON *reqs = cJSON_GetObjectItem(d, "requests");
    CHECK_INT(cJSON_GetArraySize(reqs), 3);
    CHECK_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "n")->valueint, SIM_LOG_MAX + 3);
    cJSON_Delete(d);
    free(j);
    sim_log_clear(l);
    j = sim_log_json(l, 0);
    CHECK_STR(j, "{\"requests\":[],\"count\":0}");
    free(j);
    sim_log_free(l);
}

int main(void)
{
    test_tokenizer();
    test_validation();
    test_blocks();
    test_cache_basic();
    test_cache_ttl();
    test_cache_1h();
    test_cache_lookback();
    test_cache_top_level();
    test_reply();
    test_faults();
    test_ratelimit();
    test_stream();
    test_log();
    CHECK_DONE();
}
