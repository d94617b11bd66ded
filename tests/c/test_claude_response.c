/* Non-streaming Messages responses: real-shaped bodies, usage variants, malformed input. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claude/response.h"

static const char FULL[] =
    "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5-20250929\","
    "\"content\":[{\"type\":\"text\",\"text\":\"Hello\"},{\"type\":\"text\",\"text\":\", world\"}],"
    "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":2048,"
    "\"cache_read_input_tokens\":4096,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,"
    "\"ephemeral_1h_input_tokens\":1024},\"output_tokens\":6,\"service_tier\":\"standard\","
    "\"server_tool_use\":null}}";

/* Parses from an exactly-sized heap copy, so ASan catches any read past len. */
static int parse(const char *body, size_t len, claude_response *out, error_info *err)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, body, len);
    int rc = claude_parse_message(copy, len, out, err);
    free(copy);
    return rc;
}

static void expect_malformed(const char *body, const char *message)
{
    claude_response r;
    response_init(&r);
    error_info err = cleared_error();
    CHECK_INT(parse(body, strlen(body), &r, &err), -1);
    CHECK_STR(err.type, "api_error");
    CHECK_STR(err.message, message);
    CHECK_INT(err.retryable, 0);
    CHECK(r.id == NULL && r.text == NULL);
    response_free(&r);
}

static void test_full(void)
{
    claude_response r;
    response_init(&r);
    error_info err = cleared_error();
    CHECK_INT(parse(FULL, strlen(FULL), &r, &err), 0);
    CHECK_STR(r.id, "msg_01XFDUDYJgAACzvnptvVoYEL");
    CHECK_STR(r.model, "claude-sonnet-4-5-20250929");
    CHECK_STR(r.stop_reason, "end_turn");
    CHECK(r.stop_sequence == NULL);
    CHECK_STR(r.text, "Hello, world");
    CHECK_INT(r.text_len, 12);
    /* Two text blocks: the text is their join, a string of its own. */
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(r.content, 0), "text")->valuestring != r.text);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(r.content, 1), "text")->valuestring, ", world");
    /* What the content holds, read while parsing, so the call's accounting need not again. */
    CHECK_INT(r.content_known, 1);
    CHECK_INT(r.content_not_text, 0);
    CHECK_INT(r.content_tool_uses, 0);
    CHECK_INT(r.usage.input_tokens, 12);
    CHECK_INT(r.usage.output_tokens, 6);
    CHECK_INT(r.usage.cache_creation_input_tokens, 2048);
    CHECK_INT(r.usage.cache_read_input_tokens, 4096);
    CHECK_INT(r.usage.cache_creation_5m, 1024);
    CHECK_INT(r.usage.cache_creation_1h, 1024);
    CHECK_INT(r.usage.has_cache_creation_detail, 1);
    CHECK_STR(err.type, ""); /* untouched on success */
    response_free(&r);
}

static void test_null_cache_fields(void)
{
    const char *body =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-haiku-4-5\","
        "\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"max_tokens\","
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1,"
        "\"cache_creation_input_tokens\":null,\"cache_read_input_tokens\":null,"
        "\"cache_creation\":null}}";
    claude_response r;
    response_init(&r);
    error_info err;
    CHECK_INT(parse(body, strlen(body), &r, &err), 0);
    CHECK_INT(r.usage.input_tokens, 5);
    CHECK_INT(r.usage.output_tokens, 1);
    CHECK_INT(r.usage.cache_creation_input_tokens, 0);
    CHECK_INT(r.usage.cache_read_input_tokens, 0);
    CHECK_INT(r.usage.has_cache_creation_detail, 0);
    CHECK_STR(r.stop_reason, "max_tokens");
    /* One text block: the text is its string, not a copy, and prints as the block's text. */
    const cJSON *block_text = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(r.content, 0), "text");
    CHECK(cJSON_IsString(block_text) && block_text->valuestring == r.text);
    CHECK_STR(r.text, "ok");
    CHECK_INT(r.text_len, 2);
    CHECK_STR(response_content_json(&r), "[{\"type\":\"text\",\"text\":\"ok\"}]");
    response_free(&r); /* both freed once (the valgrind and ASan runs see a double free) */

    /* counters simply missing */
    body = "{\"id\":\"m\",\"model\":\"x\",\"content\":[],\"usage\":{}}";
    response_init(&r);
    CHECK_INT(parse(body, strlen(body), &r, &err), 0);
    CHECK_INT(r.usage.input_tokens, 0);
    CHECK_INT(r.usage.output_tokens, 0);
    CHECK(r.text != NULL);
    CHECK_STR(r.text, "");
    CHECK_INT(r.text_len, 0);
    CHECK(r.stop_reason == NULL);
    response_free(&r);
}

static void test_tool_use_and_stop_sequence(void)
{
    const char *body =
        "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-opus-4-6\","
        "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"abc\"},"
        "{\"type\":\"text\",\"text\":\"Let me check.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
        "\"input\":{\"city\":\"Paris\"}},{\"type\":\"text\",\"text\":\" \\u00e9\\n\"}],"
        "\"stop_reason\":\"tool_use\",\"stop_sequence\":\"END\","
        "\"usage\":{\"input_tokens\":100,\"output_tokens\":50}}";
    claude_response r;
    response_init(&r);
    error_info err;
    CHECK_INT(parse(body, strlen(body), &r, &err), 0);
    CHECK_STR(r.text, "Let me check. \xc3\xa9\n");
    CHECK_INT(r.text_len, 17);
    CHECK_STR(r.stop_reason, "tool_use");
    CHECK_STR(r.stop_sequence, "END");
    CHECK_INT(r.usage.has_cache_creation_detail, 0);
    CHECK_INT(r.content_known, 1);
    CHECK_INT(r.content_not_text, 1); /* a thinking block and a tool call */
    CHECK_INT(r.content_tool_uses, 1);
    /* The blocks are kept as parsed, not printed again: their text (what a record of blocks
     * stores) is cJSON's print of them, made when first asked for, and once. */
    CHECK(cJSON_IsArray(r.content) && cJSON_GetArraySize(r.content) == 4);
    CHECK(r.content_json == NULL);
    const char *json = response_content_json(&r);
    CHECK_STR(json, "[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"abc\"},"
                    "{\"type\":\"text\",\"text\":\"Let me check.\"},"
                    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
                    "\"input\":{\"city\":\"Paris\"}},{\"type\":\"text\",\"text\":\" \xc3\xa9\\n\"}]");
    CHECK(response_content_json(&r) == json);
    response_free(&r);
    CHECK(r.content == NULL && r.content_json == NULL);
}

static void test_replaces_and_keeps_request_id(void)
{
    claude_response r;
    response_init(&r);
    error_info err;
    CHECK_INT(parse(FULL, strlen(FULL), &r, &err), 0);
    r.request_id = malloc(8);
    if (!r.request_id)
        abort();
    memcpy(r.request_id, "req_abc", 8);
    const char *second = "{\"id\":\"msg_2\",\"model\":\"m2\",\"content\":[{\"type\":\"text\","
                         "\"text\":\"x\"}],\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
    CHECK_INT(parse(second, strlen(second), &r, &err), 0); /* ASan: old fields freed */
    CHECK_STR(r.id, "msg_2");
    CHECK_STR(r.text, "x");
    CHECK(r.stop_reason == NULL);
    CHECK_INT(r.usage.cache_read_input_tokens, 0);
    CHECK_STR(r.request_id, "req_abc");
    /* a failed parse leaves everything as it was */
    CHECK_INT(parse("{", 1, &r, &err), -1);
    CHECK_STR(r.id, "msg_2");
    CHECK_STR(r.request_id, "req_abc");
    response_free(&r);
}

static void test_error_body(void)
{
    const char *body = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                       "\"message\":\"Overloaded\"},\"request_id\":\"req_011\"}";
    claude_response r;
    response_init(&r);
    error_info err;
    CHECK_INT(parse(body, strlen(body), &r, &err), -1);
    CHECK_STR(err.type, "overloaded_error");
    CHECK_STR(err.message, "Overloaded");
    CHECK_STR(err.request_id, "req_011");
    CHECK_INT(err.retryable, 1);
    body = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
           "\"message\":\"bad\"}}";
    CHECK_INT(parse(body, strlen(body), &r, &err), -1);
    CHECK_STR(err.type, "invalid_request_error");
    CHECK_INT(err.retryable, 0);
    body = "{\"type\":\"error\"}";
    CHECK_INT(parse(body, strlen(body), &r, &err), -1);
    CHECK_STR(err.type, "api_error");
    CHECK_STR(err.message, "the API reported an error");
    CHECK(r.id == NULL);
    response_free(&r);
}

/* A body that is not a Messages response, and the message naming what is wrong with it. */
#define MALFORMED "malformed Messages response: "
#define NOT_COUNT " must be a non-negative integer"
#define UP_TO_USAGE "{\"id\":\"m\",\"model\":\"x\",\"content\":[],"

static void test_malformed(void)
{
    static const struct {
        const char *body, *message;
    } cases[] = {
        {"", MALFORMED "empty body"},
        {"<html>502 Bad Gateway</html>", MALFORMED "not valid JSON"},
        {"[1,2]", MALFORMED "not a JSON object"},
        {UP_TO_USAGE "\"usage\":{}} junk", MALFORMED "not valid JSON"},
        {"{\"type\":\"completion\",\"id\":\"m\"}", MALFORMED "type is not \"message\""},
        {"{\"id\":7,\"model\":\"x\",\"content\":[],\"usage\":{}}", MALFORMED "id is missing or not a string"},
        {"{\"id\":\"m\",\"content\":[],\"usage\":{}}", MALFORMED "model is missing or not a string"},
        {"{\"id\":\"m\",\"model\":\"x\",\"usage\":{}}", MALFORMED "content is missing or not an array"},
        {"{\"id\":\"m\",\"model\":\"x\",\"content\":{},\"usage\":{}}",
         MALFORMED "content is missing or not an array"},
        {"{\"id\":\"m\",\"model\":\"x\",\"content\":[\"hi\"],\"usage\":{}}",
         MALFORMED "a content block has no type"},
        {"{\"id\":\"m\",\"model\":\"x\",\"content\":[{\"type\":\"text\",\"text\":3}],\"usage\":{}}",
         MALFORMED "a text block has no text string"},
        {"{\"id\":\"m\",\"model\":\"x\",\"stop_reason\":1,\"content\":[],\"usage\":{}}",
         MALFORMED "stop_reason is not a string"},
        {"{\"id\":\"m\",\"model\":\"x\",\"content\":[]}", MALFORMED "usage is missing or not an object"},
        {UP_TO_USAGE "\"usage\":{\"input_tokens\":\"12\"}}", MALFORMED "usage.input_tokens" NOT_COUNT},
        {UP_TO_USAGE "\"usage\":{\"output_tokens\":-1}}", MALFORMED "usage.output_tokens" NOT_COUNT},
        {UP_TO_USAGE "\"usage\":{\"cache_read_input_tokens\":1.5}}",
         MALFORMED "usage.cache_read_input_tokens" NOT_COUNT},
        {UP_TO_USAGE "\"usage\":{\"input_tokens\":1e999}}", MALFORMED "usage.input_tokens" NOT_COUNT},
        {UP_TO_USAGE "\"usage\":{\"cache_creation\":\"lots\"}}",
         MALFORMED "usage.cache_creation is not an object"},
        {UP_TO_USAGE "\"usage\":{\"cache_creation\":{\"ephemeral_1h_input_tokens\":true}}}",
         MALFORMED "usage.cache_creation.ephemeral_1h_input_tokens" NOT_COUNT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ROW("%s", cases[i].body);
        expect_malformed(cases[i].body, cases[i].message);
    }
    CHECK_ROW_END();

    claude_response r;
    response_init(&r);
    error_info err;
    CHECK_INT(claude_parse_message(NULL, 10, &r, &err), -1);
    CHECK_STR(err.type, "api_error");
}

/* Every truncation of a valid body must fail cleanly. */
static void test_truncated(void)
{
    size_t n = strlen(FULL);
    int failures = 0;
    for (size_t cut = 0; cut < n; cut++) {
        claude_response r;
        response_init(&r);
        error_info err;
        if (parse(FULL, cut, &r, &err) != -1 || strcmp(err.type, "api_error") != 0)
            failures++;
        response_free(&r);
    }
    CHECK_INT(failures, 0);
}

static void test_usage_replace(void)
{
    cJSON *full = cJSON_Parse("{\"input_tokens\":10,\"output_tokens\":1,"
                              "\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":30,"
                              "\"cache_creation\":{\"ephemeral_5m_input_tokens\":20}}");
    cJSON *delta = cJSON_Parse("{\"output_tokens\":15,\"input_tokens\":null,"
                               "\"cache_read_input_tokens\":31}");
    CHECK(full && delta);
    cJSON *empty = cJSON_CreateObject();
    error_info err;
    claude_usage u;
    memset(&u, 0x55, sizeof u);
    CHECK_INT(claude_usage_read(full, &u, 0, "usage", &err), 0);
    CHECK_INT(u.input_tokens, 10);
    CHECK_INT(u.cache_creation_5m, 20);
    CHECK_INT(u.cache_creation_1h, 0);
    CHECK_INT(u.has_cache_creation_detail, 1);
    CHECK_INT(claude_usage_read(delta, &u, 1, "usage", &err), 0);
    CHECK_INT(u.input_tokens, 10); /* null: kept */
    CHECK_INT(u.output_tokens, 15);
    CHECK_INT(u.cache_creation_input_tokens, 20);
    CHECK_INT(u.cache_read_input_tokens, 31); /* replaced, not 61 */
    CHECK_INT(u.has_cache_creation_detail, 1);
    CHECK_INT(claude_usage_read(empty, &u, 0, "usage", &err), 0);
    CHECK_INT(u.output_tokens, 0);
    CHECK_STR(u.speed, "");

    /* what changes the price: fast mode, US residency, the batch tier */
    cJSON *mods = cJSON_Parse("{\"input_tokens\":1,\"output_tokens\":2,\"speed\":\"fast\","
                              "\"inference_geo\":\"us\",\"service_tier\":\"batch\"}");
    CHECK(mods != NULL);
    CHECK_INT(claude_usage_read(mods, &u, 0, "usage", &err), 0);
    CHECK_STR(u.speed, "fast");
    CHECK_STR(u.inference_geo, "us");
    CHECK_STR(u.service_tier, "batch");
    cJSON *later = cJSON_Parse("{\"output_tokens\":9}"); /* a delta keeps them */
    CHECK_INT(claude_usage_read(later, &u, 1, "usage", &err), 0);
    CHECK_STR(u.speed, "fast");
    CHECK_INT(u.output_tokens, 9);
    cJSON *odd = cJSON_Parse("{\"speed\":\"a-value-longer-than-the-field-holds\",\"inference_geo\":7}");
    CHECK_INT(claude_usage_read(odd, &u, 0, "usage", &err), 0);
    CHECK_STR(u.speed, "");
    CHECK_STR(u.inference_geo, "");
    cJSON_Delete(mods);
    cJSON_Delete(later);
    cJSON_Delete(odd);
    cJSON_Delete(full);
    cJSON_Delete(delta);
    cJSON_Delete(empty);
}

static void test_json_parse(void)
{
    cJSON *j = claude_json_parse("{\"a\":1}  \r\n", 11);
    CHECK(j != NULL);
    cJSON_Delete(j);
    CHECK(claude_json_parse("{\"a\":1} x", 9) == NULL);
    CHECK(claude_json_parse("{\"a\":1}{}", 9) == NULL);
    CHECK(claude_json_parse("", 0) == NULL);
    CHECK(claude_json_parse(NULL, 3) == NULL);
}

/* The members are found in one walk: a name given twice is read from its first member (as
 * cJSON_GetObjectItemCaseSensitive reads it), whichever the names' order, and members nyx does
 * not read, before or between them, change nothing. */
static void test_member_order_and_repeats(void)
{
    const char *body =
        "{\"usage\":{\"cache_creation\":{\"ephemeral_1h_input_tokens\":7,\"ephemeral_5m_input_tokens\":3,"
        "\"ephemeral_1h_input_tokens\":\"bad\"},\"output_tokens\":2,\"speed\":\"fast\",\"x\":1,"
        "\"input_tokens\":4,\"input_tokens\":-1,\"speed\":\"standard\"},"
        "\"stop_reason\":\"end_turn\",\"stop_reason\":7,\"extra\":{\"id\":\"no\"},"
        "\"content\":[{\"text\":\"hi\",\"type\":\"text\"}],\"model\":\"m\",\"id\":\"first\",\"id\":\"second\"}";
    claude_response r;
    response_init(&r);
    error_info err = cleared_error();
    CHECK_INT(parse(body, strlen(body), &r, &err), 0);
    CHECK_STR(r.id, "first");
    CHECK_STR(r.model, "m");
    CHECK_STR(r.stop_reason, "end_turn");
    CHECK_STR(r.text, "hi");
    CHECK_INT(r.usage.input_tokens, 4);
    CHECK_INT(r.usage.output_tokens, 2);
    CHECK_STR(r.usage.speed, "fast");
    CHECK_INT(r.usage.cache_creation_5m, 3);
    CHECK_INT(r.usage.cache_creation_1h, 7);
    response_free(&r);
    /* and the first of a bad counter given twice fails, naming it */
    body = "{\"id\":\"m\",\"model\":\"x\",\"content\":[],\"usage\":{\"output_tokens\":1.5,\"output_tokens\":1}}";
    CHECK_INT(parse(body, strlen(body), &r, &err), -1);
    CHECK_STR(err.message, "malformed Messages response: usage.output_tokens must be a non-negative integer");
}

/* A text cut short stops inside a value; one that is whole, valid or not, does not. */
static void test_json_unfinished(void)
{
    static const struct {
        const char *text;
        int unfinished;
    } cases[] = {
        {"", 1},
        {"  \n", 1},
        {"{\"id\":\"m\",\"content\":[{\"type\":\"text\",\"text\":\"hel", 1},
        {"{\"id\":\"m\",\"content\":[", 1},
        {"{\"a\":\"say \\\"}\\\" and ", 1}, /* quotes and braces escaped inside a string */
        {"{\"a\":\"ends on a backslash \\", 1},
        {"[1,{}", 1},
        {"{\"id\":\"m\"}", 0},
        {"{\"a\":\"}\"}", 0},
        {"<html>502 Bad Gateway</html>", 0},
        {"{\"a\":1}}", 0},
        {"null", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ROW("%s", cases[i].text);
        CHECK_INT(claude_json_unfinished(cases[i].text, strlen(cases[i].text)), cases[i].unfinished);
    }
    CHECK_ROW_END();
    CHECK_INT(claude_json_unfinished(NULL, 0), 1);
}

int main(void)
{
    test_json_unfinished();
    test_full();
    test_null_cache_fields();
    test_tool_use_and_stop_sequence();
    test_replaces_and_keeps_request_id();
    test_error_body();
    test_malformed();
    test_truncated();
    test_usage_replace();
    test_json_parse();
    test_member_order_and_repeats();
    CHECK_DONE();
}
