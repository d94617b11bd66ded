/* The response cache keeps a reply's blocks as parsed: an entry served from memory and one
 * read back from its persistent text give the script the same blocks, and a record the same
 * bytes, as the reply they came from. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cache/response_cache.h"
#include "check.h"
#include "claude/response.h"

static const char BODY[] =
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\","
    "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm \\u00e9\",\"signature\":\"s\"},"
    "{\"type\":\"text\",\"text\":\"Let me check \\\"it\\\".\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"weather\",\"input\":{\"city\":\"Paris\",\"n\":2.5,"
    "\"tags\":[true,null]}}],"
    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":4}}";

/* The record's text of blocks: cJSON's print of the parsed reply. */
static char *printed_reply(void)
{
    claude_response r;
    response_init(&r);
    error_info err = cleared_error();
    if (claude_parse_message(BODY, strlen(BODY), &r, &err) != 0)
        return NULL;
    char *s = strdup(response_content_json(&r));
    response_free(&r);
    return s;
}

static void test_memory_and_store(void)
{
    char *want = printed_reply();
    REQUIRE(want != NULL);
    claude_response r;
    response_init(&r);
    error_info err = cleared_error();
    REQUIRE(claude_parse_message(BODY, strlen(BODY), &r, &err) == 0);

    response_cache *rc = response_cache_new(4, 60);
    REQUIRE(rc != NULL);
    CHECK_INT(response_cache_put(rc, "k", &r, 0), 0);
    claude_response hit;
    CHECK_INT(response_cache_get(rc, "k", 1, &hit), 1);
    /* Its own copy of the blocks, as parsed: the script reads them, a record prints them. */
    CHECK(hit.content != NULL && hit.content != r.content);
    CHECK(cJSON_Compare(hit.content, r.content, 1));
    CHECK(hit.content_json == NULL);
    CHECK_STR(response_content_json(&hit), want);
    CHECK_STR(hit.text, r.text);
    response_free(&hit);

    /* The persistent layer holds them as text and gives back blocks that print the same. */
    char *json = response_to_json(&r);
    REQUIRE(json != NULL);
    claude_response back;
    CHECK_INT(response_from_json(json, &back), 0);
    CHECK(cJSON_IsArray(back.content) && cJSON_Compare(back.content, r.content, 1));
    CHECK_STR(response_content_json(&back), want);
    CHECK_STR(back.stop_reason, "tool_use");
    response_free(&back);
    free(json);

    /* A stored entry whose blocks are not a JSON array is not served. */
    CHECK_INT(response_from_json("{\"text\":\"t\",\"content\":\"[{\\\"type\\\"\"}", &back), -1);
    CHECK(back.content == NULL && back.text == NULL);
    /* One without blocks is served as its text. */
    CHECK_INT(response_from_json("{\"text\":\"t\"}", &back), 0);
    CHECK(back.content == NULL && response_content_json(&back) == NULL);
    CHECK_STR(back.text, "t");
    response_free(&back);

    response_cache_free(rc);
    response_free(&r);
    free(want);
}

int main(void)
{
    test_memory_and_store();
    return check_failures;
}
