/* Request bodies: exact bytes for representative calls, every validation error, stability. */
#include <stdlib.h>
#include <string.h>

#include "body_json.h"
#include "check.h"
#include "claude/body.h"
#include "claude/json_text.h"
#include "claude/request.h"

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p)
        abort();
    memcpy(p, s, n);
    return p;
}

/* *field holds a copy of text (NULL: none) instead of what it held. */
static void set(char **field, const char *text)
{
    free(*field);
    *field = text ? dup(text) : NULL;
}

static void add_block(claude_block **blocks, size_t *n, const char *text, int mark)
{
    claude_block *b = realloc(*blocks, (*n + 1) * sizeof **blocks);
    if (!b || block_set(&b[*n], text, strlen(text), mark))
        abort();
    *blocks = b;
    (*n)++;
}

/* Appends a message with one block; returns its index for add_block on further blocks. */
static size_t add_msg(claude_request *r, int role, const char *text, int mark)
{
    claude_message *m = realloc(r->messages, (r->nmessages + 1) * sizeof *m);
    if (!m)
        abort();
    r->messages = m;
    claude_message *msg = &m[r->nmessages];
    msg->role = role;
    msg->blocks = NULL;
    msg->nblocks = 0;
    if (text)
        add_block(&msg->blocks, &msg->nblocks, text, mark);
    return r->nmessages++;
}

static void base(claude_request *r)
{
    request_free(r); /* a request is reused: what it held goes */
    request_init(r);
    r->model = dup("claude-sonnet-4-5");
    r->max_tokens = 1024;
    add_msg(r, NYX_ROLE_USER, "Hello", NYX_MARK_NONE);
}

/* Builds r and compares to the expected body; also checks the reported length. */
static void expect_body(const claude_request *r, const char *want)
{
    error_info err = cleared_error();
    size_t len = 0;
    char *body = body_json(r, NULL, &len, &err);
    CHECK_STR(body, want);
    CHECK_STR(err.type, "");
    if (body)
        CHECK_INT(len, strlen(body));
    free(body);
}

static void expect_invalid(const claude_request *r, const char *message)
{
    error_info err = cleared_error();
    char *body = body_json(r, NULL, NULL, &err);
    CHECK(body == NULL);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_STR(err.message, message);
    CHECK_INT(err.retryable, 0);
    free(body);
}

/* A request that must build (its bytes checked elsewhere); a failure names the caller's line. */
static void expect_builds_(int line, const claude_request *r)
{
    error_info err = cleared_error();
    char *body = body_json(r, NULL, NULL, &err);
    if (!body) {
        check_fail_at(__FILE__, line);
        fprintf(stderr, "the request does not build: %s\n", err.message);
    }
    free(body);
}
#define expect_builds(r) expect_builds_(__LINE__, r)

/* A request whose one system block is len bytes, 'p' but for its last two (tail), shared through
 * pool (which checks the text as it takes it): at byte utf8_bad (-1: none) not UTF-8, and it
 * builds (message NULL) or is refused with message. Failures name the text's end. */
static void expect_pooled(text_pool *pool, size_t len, const char tail[2], long utf8_bad, const char *message)
{
    CHECK_ROW("%zu bytes ending in 0x%02X 0x%02X", len, (unsigned char)tail[0], (unsigned char)tail[1]);
    char *bytes = malloc(len);
    REQUIRE(bytes != NULL);
    memset(bytes, 'p', len - 2);
    memcpy(bytes + len - 2, tail, 2);
    claude_request r = {0};
    base(&r);
    r.system = calloc(1, sizeof *r.system);
    REQUIRE(r.system != NULL);
    CHECK_INT(block_set_pooled(&r.system[0], pool, bytes, len, NYX_MARK_NONE), 0);
    r.nsystem = 1;
    CHECK(r.system[0].shared != NULL);
    CHECK_INT(block_utf8_bad(&r.system[0]), utf8_bad);
    if (message)
        expect_invalid(&r, message);
    else
        expect_builds(&r);
    request_free(&r);
    free(bytes);
    CHECK_ROW_END();
}

/* The start of base()'s body, and its one message. */
#define BASE_HEAD "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,"
#define HELLO "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]"
#define FIVE_MARKS                                                                                  \
    "at most 4 cache marks are allowed (tools, system, messages and top-level cache_control together), got 5"

/* The minimal request; a plain system prompt is a string, a marked one a list of blocks. */
static void test_minimal_and_system(void)
{
    claude_request r = {0};
    base(&r);
    expect_body(&r, BASE_HEAD HELLO "}");
    add_block(&r.system, &r.nsystem, "You are terse.", NYX_MARK_NONE);
    expect_body(&r, BASE_HEAD "\"system\":\"You are terse.\"," HELLO "}");
    base(&r);
    add_block(&r.system, &r.nsystem, "Rules.", NYX_MARK_5M);
    expect_body(&r, BASE_HEAD "\"system\":[{\"type\":\"text\",\"text\":\"Rules.\","
                              "\"cache_control\":{\"type\":\"ephemeral\"}}]," HELLO "}");
    request_free(&r);
}

static void test_marks_5m_and_1h(void)
{
    claude_request r = {0};
    request_init(&r);
    r.model = dup("claude-opus-4-6");
    r.max_tokens = 64;
    add_block(&r.system, &r.nsystem, "Long policy.", NYX_MARK_1H);
    add_block(&r.system, &r.nsystem, "Persona.", NYX_MARK_NONE);
    size_t m0 = add_msg(&r, NYX_ROLE_USER, "Document text.", NYX_MARK_5M);
    add_block(&r.messages[m0].blocks, &r.messages[m0].nblocks, "Question one?", NYX_MARK_NONE);
    add_msg(&r, NYX_ROLE_ASSISTANT, "Answer one.", NYX_MARK_NONE);
    add_msg(&r, NYX_ROLE_USER, "Question two?", NYX_MARK_5M);
    expect_body(&r,
                "{\"model\":\"claude-opus-4-6\",\"max_tokens\":64,"
                "\"system\":[{\"type\":\"text\",\"text\":\"Long policy.\","
                "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}},"
                "{\"type\":\"text\",\"text\":\"Persona.\"}],"
                "\"messages\":["
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Document text.\","
                "\"cache_control\":{\"type\":\"ephemeral\"}},"
                "{\"type\":\"text\",\"text\":\"Question one?\"}]},"
                "{\"role\":\"assistant\",\"content\":\"Answer one.\"},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Question two?\","
                "\"cache_control\":{\"type\":\"ephemeral\"}}]}]}");
    request_free(&r);
}

static void test_optional_fields(void)
{
    claude_request r = {0};
    base(&r);
    r.temperature = 0.5;
    r.stop_sequences = calloc(2, sizeof *r.stop_sequences);
    if (!r.stop_sequences)
        abort();
    r.stop_sequences[0] = dup("\n\nHuman:");
    r.stop_sequences[1] = dup("END");
    r.nstop = 2;
    r.user_id = dup("user-42");
    r.stream = 1;
    r.top_level_cache = 1;
    expect_body(&r, BASE_HEAD HELLO ",\"temperature\":0.5,\"stop_sequences\":[\"\\n\\nHuman:\",\"END\"],"
                    "\"metadata\":{\"user_id\":\"user-42\"},\"stream\":true,"
                    "\"cache_control\":{\"type\":\"ephemeral\"}}");
    r.temperature = 0.0; /* zero is a value, not "unset" */
    r.stream = 0;
    r.top_level_cache = 0;
    r.nstop = 0;
    set(&r.user_id, NULL);
    expect_body(&r, BASE_HEAD HELLO ",\"temperature\":0}");
    r.nstop = 2; /* restore so request_free releases them */
    request_free(&r);
}

static void test_tools_passthrough(void)
{
    claude_request r = {0};
    base(&r);
    r.tools_json = dup("[ {\"name\": \"get_weather\", \"description\": \"Weather\",\n"
                       "   \"input_schema\": {\"type\": \"object\", \"properties\": "
                       "{\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]},\n"
                       "   \"cache_control\": {\"type\": \"ephemeral\", \"ttl\": \"1h\"}} ]");
    expect_body(&r, BASE_HEAD HELLO ",\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\","
                    "\"input_schema\":{\"type\":\"object\",\"properties\":"
                    "{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]},"
                    "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}]}");
    /* The tool's 1h mark comes first in prefix order, so a 5m system mark after it is fine
     * and a 1h one after a 5m tool is not. */
    add_block(&r.system, &r.nsystem, "S", NYX_MARK_5M);
    expect_builds(&r);
    set(&r.tools_json, "[{\"name\":\"t\",\"cache_control\":{\"type\":\"ephemeral\"}}]");
    r.system[0].mark = NYX_MARK_1H;
    expect_invalid(&r, "system[0] has a 1h cache mark after a 5m mark (longer TTLs must come "
                       "first)");
    request_free(&r);
}

/* The cache policy's mark on the last tool (tools_mark): added to the body, counted among the
 * 4, and not doubled on a tool that has its own. */
static void test_tools_mark(void)
{
    claude_request r = {0};
    base(&r);
    r.tools_json = dup("[{\"name\":\"a\"},{\"name\":\"b\"}]");
    r.tools_mark = NYX_MARK_1H;
    expect_body(&r, BASE_HEAD HELLO ",\"tools\":[{\"name\":\"a\"},{\"name\":\"b\",\"cache_control\":"
                    "{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}]}");
    add_block(&r.system, &r.nsystem, "s1", NYX_MARK_5M);
    add_block(&r.system, &r.nsystem, "s2", NYX_MARK_5M);
    add_block(&r.system, &r.nsystem, "s3", NYX_MARK_5M);
    expect_builds(&r); /* exactly 4 */
    r.messages[0].blocks[0].mark = NYX_MARK_5M;
    expect_invalid(&r, FIVE_MARKS);
    r.messages[0].blocks[0].mark = NYX_MARK_NONE;
    set(&r.tools_json, "[{\"name\":\"b\",\"cache_control\":{\"type\":\"ephemeral\"}}]");
    r.tools_mark = NYX_MARK_5M; /* the tool's own mark stands: 4 marks, not 5 */
    r.system[0].mark = NYX_MARK_NONE;
    r.messages[0].blocks[0].mark = NYX_MARK_5M;
    error_info err;
    char *body = body_json(&r, NULL, NULL, &err);
    CHECK(body && strstr(body, "\"name\":\"b\",\"cache_control\":{\"type\":\"ephemeral\"}}]") != NULL);
    free(body);
    /* A 1h mark on the last tool after a 5m one on an earlier tool. */
    set(&r.tools_json, "[{\"name\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"name\":\"b\"}]");
    r.tools_mark = NYX_MARK_1H;
    expect_invalid(&r, "the last tool's 1h cache mark follows a 5m mark");
    request_free(&r);
}

/* A name given twice is refused where the list reaches its second tool, naming the first:
 * before a cache mark that comes after it, after one that comes before. A list of 20,000 tools,
 * whose names were compared pair by pair (7.6 s), is sorted: the last tool naming the first's
 * name is found, and no name twice lets it build. */
static void test_tools_named_twice(void)
{
    claude_request r = {0};
    base(&r);
    r.tools_json = dup("[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"b\"},{\"name\":\"a\"}]");
    expect_invalid(&r, "the tools name \"b\" twice (tools[1] and tools[2]): the API takes each tool name once");
    set(&r.tools_json, "[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"a\"},{\"name\":\"b\"}]");
    expect_invalid(&r, "the tools name \"a\" twice (tools[0] and tools[2]): the API takes each tool name once");
    set(&r.tools_json, "[{\"name\":\"x\"},7,{\"name\":\"x\"},{\"name\":\"x\"}]");
    expect_invalid(&r, "the tools name \"x\" twice (tools[0] and tools[2]): the API takes each tool name once");
    set(&r.tools_json, "[{\"name\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"name\":\"b\","
                       "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}},{\"name\":\"a\"}]");
    expect_invalid(&r, "tools[1] has a 1h cache mark after a 5m mark");
    set(&r.tools_json, "[{\"name\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"name\":\"a\","
                       "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}]");
    expect_invalid(&r, "the tools name \"a\" twice (tools[0] and tools[1]): the API takes each tool name once");
    r.index_base = 1;
    expect_invalid(&r, "the tools name \"a\" twice (tools[1] and tools[2]): the API takes each tool name once");
    r.index_base = 0;

    enum { MANY = 20000 };
    char *many = malloc(MANY * 24 + 32);
    REQUIRE(many);
    size_t n = 0;
    many[n++] = '[';
    for (int i = 0; i < MANY; i++)
        n += (size_t)sprintf(many + n, "%s{\"name\":\"t%d\"}", i ? "," : "", i);
    strcpy(many + n, "]");
    free(r.tools_json);
    r.tools_json = many;
    expect_builds(&r);
    size_t ntools = 0;
    CHECK_INT(claude_tools_marks(many, &ntools), 0);
    CHECK_INT(ntools, MANY);
    sprintf(many + n, ",{\"name\":\"t0\"}]");
    expect_invalid(&r, "the tools name \"t0\" twice (tools[0] and tools[20000]): the API takes each tool name once");
    CHECK_INT(claude_tools_marks(many, &ntools), -1);
    request_free(&r);
}

/* The tree's other kinds of node: JSON blocks as given (a marked one parsed and gaining its
 * mark), a thinking budget, output_config and tool_choice passed through; a second build of
 * the same request, with the nodes' room reused, gives the same bytes. */
static void test_json_blocks_and_options(void)
{
    claude_request r = {0};
    base(&r);
    add_block(&r.messages[0].blocks, &r.messages[0].nblocks, "{\"type\":\"text\",\"text\":\"a\"}", NYX_MARK_NONE);
    add_block(&r.messages[0].blocks, &r.messages[0].nblocks, "{\"type\":\"text\",\"text\":\"b\"}", NYX_MARK_1H);
    r.messages[0].blocks[1].kind = NYX_BLOCK_JSON;
    r.messages[0].blocks[2].kind = NYX_BLOCK_JSON;
    r.max_tokens = 4096;
    r.thinking = NYX_THINKING_BUDGET;
    r.thinking_budget = 2048;
    r.effort = dup("low");
    r.output_schema_json = dup("{\"type\":\"object\"}");
    r.tool_choice_json = dup("{\"type\":\"auto\"}");
    r.tools_json = dup("[{\"name\":\"t\"}]");
    const char *want = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
                       "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hello\"},"
                       "{\"type\":\"text\",\"text\":\"a\"},"
                       "{\"type\":\"text\",\"text\":\"b\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}]}],"
                       "\"tools\":[{\"name\":\"t\"}],\"tool_choice\":{\"type\":\"auto\"},"
                       "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},"
                       "\"output_config\":{\"effort\":\"low\",\"format\":{\"type\":\"json_schema\","
                       "\"schema\":{\"type\":\"object\"}}}}";
    expect_body(&r, want);
    claude_json_texts *jt = claude_json_texts_new();
    REQUIRE(jt != NULL);
    for (int i = 0; i < 2; i++) {
        error_info err = cleared_error();
        size_t len = 0;
        char *body = body_json(&r, jt, &len, &err);
        CHECK_STR(body, want);
        CHECK_INT(len, strlen(want));
        free(body);
    }
    claude_json_texts_free(jt);
    request_free(&r);
}

static void test_escaping(void)
{
    claude_request r = {0};
    base(&r);
    free(r.messages[0].blocks[0].text);
    const char *text = "She said \"hi\"\\\t\x01 caf\xc3\xa9";
    block_set(&r.messages[0].blocks[0], text, strlen(text), NYX_MARK_NONE);
    expect_body(&r, BASE_HEAD "\"messages\":[{\"role\":\"user\",\"content\":"
                    "\"She said \\\"hi\\\"\\\\\\t\\u0001 caf\xc3\xa9\"}]}");
    request_free(&r);
}

static void test_stable(void)
{
    claude_request r = {0};
    base(&r);
    add_block(&r.system, &r.nsystem, "a", NYX_MARK_1H);
    add_msg(&r, NYX_ROLE_ASSISTANT, "b", NYX_MARK_5M);
    add_msg(&r, NYX_ROLE_USER, "c", NYX_MARK_NONE);
    r.tools_json = dup("[{\"b\":1,\"a\":2.5e0}]");
    r.temperature = 0.7;
    error_info err;
    size_t l1 = 0, l2 = 0;
    char *b1 = body_json(&r, NULL, &l1, &err);
    char *b2 = body_json(&r, NULL, &l2, &err);
    CHECK(b1 && b2);
    CHECK_INT(l1, l2);
    if (b1 && b2)
        CHECK(memcmp(b1, b2, l1) == 0);
    /* tool keys keep their order; numbers are printed canonically */
    CHECK(b1 && strstr(b1, "\"tools\":[{\"b\":1,\"a\":2.5}],\"temperature\":0.7}") != NULL);
    free(b1);
    free(b2);
    request_free(&r);
}

static void test_validation(void)
{
    claude_request r = {0};
    base(&r);
    set(&r.model, NULL);
    expect_invalid(&r, "model must be a non-empty string");
    r.model = dup("");
    expect_invalid(&r, "model must be a non-empty string");

    base(&r);
    r.max_tokens = 0;
    expect_invalid(&r, "max_tokens must be a positive integer");
    r.max_tokens = -5;
    expect_invalid(&r, "max_tokens must be a positive integer");
    r.max_tokens = 10;
    r.temperature = 1.5;
    expect_invalid(&r, "temperature must be between 0 and 1");
    request_free(&r);

    request_init(&r);
    r.model = dup("m");
    r.max_tokens = 1;
    expect_invalid(&r, "messages must contain at least one message");
    add_msg(&r, NYX_ROLE_ASSISTANT, "hi", NYX_MARK_NONE);
    expect_invalid(&r, "messages[0].role must be user");
    r.messages[0].role = NYX_ROLE_USER;
    add_msg(&r, 7, "x", NYX_MARK_NONE);
    expect_invalid(&r, "messages[1].role must be user or assistant");
    r.messages[1].role = NYX_ROLE_ASSISTANT;
    add_msg(&r, NYX_ROLE_USER, NULL, NYX_MARK_NONE);
    expect_invalid(&r, "messages[2] must have at least one block");
    add_block(&r.messages[2].blocks, &r.messages[2].nblocks, "ok", 9);
    expect_invalid(&r, "messages[2].content[0].mark must be none, 5m or 1h, got 9");
    r.messages[2].blocks[0].mark = NYX_MARK_NONE;
    free(r.messages[2].blocks[0].text);
    r.messages[2].blocks[0].text = NULL;
    expect_invalid(&r, "messages[2].content[0].text is missing");
    block_set(&r.messages[2].blocks[0], "a\0b", 3, NYX_MARK_NONE);
    expect_invalid(&r, "messages[2].content[0].text contains a NUL byte");

    base(&r);
    add_block(&r.system, &r.nsystem, "x\0y", NYX_MARK_NONE);
    r.system[0].len = 3;
    expect_invalid(&r, "system[0].text contains a NUL byte");

    /* The same for a long text shared through a pool (whose NUL is looked for when pooled),
     * with the NUL at its last byte; its twin without one builds. */
    text_pool *pool = text_pool_new();
    REQUIRE(pool != NULL);
    expect_pooled(pool, 3000, "p\0", -1, "system[0].text contains a NUL byte");
    expect_pooled(pool, 3000, "pq", -1, NULL);
    text_pool_free(pool);

    base(&r);
    r.stop_sequences = calloc(1, sizeof *r.stop_sequences);
    r.nstop = 1;
    expect_invalid(&r, "stop_sequences[0] is missing");

    base(&r);
    r.tools_json = dup("[{\"name\":");
    expect_invalid(&r, "tools must be valid JSON");
    set(&r.tools_json, "[] trailing");
    expect_invalid(&r, "tools must be valid JSON");
    set(&r.tools_json, "{\"name\":\"t\"}");
    expect_invalid(&r, "tools must be a JSON array");
    request_free(&r);
}

/* Every text the body carries must be UTF-8 (JSON that the API can read): the first that is not
 * is named, with its first bad byte counted from 1, inside JSON passed through too. */
static void test_text_encoding(void)
{
    claude_request r = {0};
    base(&r);
    free(r.messages[0].blocks[0].text);
    block_set(&r.messages[0].blocks[0], "caf\xe9", 4, NYX_MARK_NONE);
    expect_invalid(&r, "messages[0].content[0].text is not valid UTF-8 (its byte 4 is 0xE9)");
    r.single_prompt = 1;
    expect_invalid(&r, "prompt is not valid UTF-8 (its byte 4 is 0xE9)");
    error_info err = cleared_error();
    CHECK_INT(claude_request_check_text(&r, &err), -1);
    CHECK_ERROR(err, "invalid_argument", "prompt is not valid UTF-8 (its byte 4 is 0xE9)");

    base(&r);
    add_msg(&r, NYX_ROLE_ASSISTANT, "fine: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", NYX_MARK_NONE);
    add_block(&r.messages[1].blocks, &r.messages[1].nblocks, "cut \xc3", NYX_MARK_NONE);
    expect_invalid(&r, "messages[1].content[1].text is not valid UTF-8 (its byte 5 is 0xC3)");

    base(&r);
    add_block(&r.system, &r.nsystem, "ok", NYX_MARK_NONE);
    add_block(&r.system, &r.nsystem, "surrogate \xed\xa0\x80", NYX_MARK_5M);
    expect_invalid(&r, "system[1].text is not valid UTF-8 (its byte 11 is 0xED)");

    /* An API block is JSON: the string inside it is named. */
    base(&r);
    add_block(&r.messages[0].blocks, &r.messages[0].nblocks,
              "{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":\"text\",\"text\":\"caf\xe9\"}]}",
              NYX_MARK_NONE);
    r.messages[0].blocks[1].kind = NYX_BLOCK_JSON;
    expect_invalid(&r, "messages[0].content[1].content[0].text is not valid UTF-8 (its byte 4 is 0xE9)");

    base(&r);
    r.tools_json = dup("[{\"name\":\"t\",\"input_schema\":{}},{\"name\":\"u\",\"description\":\"d\xe9\",\"input_schema\":{}}]");
    expect_invalid(&r, "tools[1].description is not valid UTF-8 (its byte 2 is 0xE9)");
    set(&r.tools_json, "[{\"name\":\"t\",\"input_schema\":{\"properties\":{\"k\xf8\":{}}}}]");
    expect_invalid(&r, "tools[0].input_schema.properties has a key that is not valid UTF-8 (its byte 2 is 0xF8)");
    set(&r.tools_json, NULL);
    r.tool_choice_json = dup("{\"type\":\"tool\",\"name\":\"\xc0\xae\"}");
    expect_invalid(&r, "tool_choice.name is not valid UTF-8 (its byte 1 is 0xC0)");
    set(&r.tool_choice_json, NULL);
    r.output_schema_json = dup("{\"type\":\"object\",\"description\":\"\xf4\x90\x80\x80\"}");
    expect_invalid(&r, "output.description is not valid UTF-8 (its byte 1 is 0xF4)");
    set(&r.output_schema_json, NULL);
    r.stop_sequences = calloc(2, sizeof *r.stop_sequences);
    r.stop_sequences[0] = dup("END");
    r.stop_sequences[1] = dup("\xff");
    r.nstop = 2;
    expect_invalid(&r, "stop_sequences[1] is not valid UTF-8 (its byte 1 is 0xFF)");
    r.stop_sequences[1][0] = '.';
    r.user_id = dup("u\x80");
    expect_invalid(&r, "user_id is not valid UTF-8 (its byte 2 is 0x80)");
    r.user_id[1] = '2';
    set(&r.model, "claude\xa0");
    expect_invalid(&r, "model is not valid UTF-8 (its byte 7 is 0xA0)");
    /* The engine checks before the cache policy splits a text, and says so: not read again. */
    r.text_checked = 1;
    expect_builds(&r);

    /* A long text shared through a pool is checked when pooled (its answer kept with it), the
     * bad byte at its very end; its twin that ends in a whole character builds. */
    request_free(&r);
    text_pool *pool = text_pool_new();
    REQUIRE(pool != NULL);
    expect_pooled(pool, 5000, "p\xc3", 4999, "system[0].text is not valid UTF-8 (its byte 5000 is 0xC3)");
    expect_pooled(pool, 5000, "\xc3\xa9", -1, NULL);
    text_pool_free(pool);
}

static void test_mark_limits(void)
{
    claude_request r = {0};
    base(&r);
    r.messages[0].blocks[0].mark = NYX_MARK_5M;
    add_block(&r.system, &r.nsystem, "s1", NYX_MARK_1H);
    add_block(&r.system, &r.nsystem, "s2", NYX_MARK_1H);
    add_block(&r.system, &r.nsystem, "s3", NYX_MARK_5M);
    expect_builds(&r); /* exactly 4: allowed */
    r.top_level_cache = 1; /* the automatic mark takes a fifth slot */
    expect_invalid(&r, FIVE_MARKS);
    r.top_level_cache = 0;
    add_msg(&r, NYX_ROLE_ASSISTANT, "a", NYX_MARK_5M);
    expect_invalid(&r, FIVE_MARKS);

    base(&r); /* 1h after 5m inside the messages */
    add_msg(&r, NYX_ROLE_ASSISTANT, "a", NYX_MARK_5M);
    add_msg(&r, NYX_ROLE_USER, "b", NYX_MARK_1H);
    expect_invalid(&r, "messages[2].content[0] has a 1h cache mark after a 5m mark (longer TTLs "
                       "must come first)");
    r.messages[1].blocks[0].mark = NYX_MARK_1H; /* 1h, 1h: fine */
    expect_builds(&r);
    r.top_level_cache = 1; /* automatic 5m mark on a last block marked 1h: the API says 400 */
    expect_invalid(&r, "top-level cache_control (5m) conflicts with the 1h mark on the last "
                       "block");
    r.messages[2].blocks[0].mark = NYX_MARK_5M;
    expect_builds(&r);

    base(&r); /* 5m system mark, then 1h in a message */
    add_block(&r.system, &r.nsystem, "s", NYX_MARK_5M);
    r.messages[0].blocks[0].mark = NYX_MARK_1H;
    expect_invalid(&r, "messages[0].content[0] has a 1h cache mark after a 5m mark (longer TTLs "
                       "must come first)");
    request_free(&r);
}

int main(void)
{
    test_minimal_and_system();
    test_marks_5m_and_1h();
    test_optional_fields();
    test_tools_passthrough();
    test_tools_mark();
    test_tools_named_twice();
    test_json_blocks_and_options();
    test_escaping();
    test_stable();
    test_validation();
    test_text_encoding();
    test_mark_limits();
    expect_invalid(NULL, "request is missing");
    CHECK_DONE();
}
