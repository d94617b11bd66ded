/* The content attributes' rules without a collector: which values of
 * OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turn them on; Anthropic blocks as the
 * conventions' parts (a system as blocks, thinking as reasoning, an image as its type only,
 * never its data); redaction of every text, tool arguments included, but not of the structure;
 * a cut that never splits a character; no output for a call without a reply; out of memory at
 * any allocation is a failure with nothing half built. The spans on the wire are
 * tests/e2e/otel_content.sh's. */
#include "check.h"

#include "core/otel_content.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

static void wanted(void)
{
    CHECK_INT(otel_content_wanted(NULL), 0);
    CHECK_INT(otel_content_wanted(""), 0);
    CHECK_INT(otel_content_wanted("true"), 1);
    CHECK_INT(otel_content_wanted("TRUE"), 1);
    CHECK_INT(otel_content_wanted("1"), 1);
    CHECK_INT(otel_content_wanted("SPAN_ONLY"), 1);
    CHECK_INT(otel_content_wanted("span_and_event"), 1);
    CHECK_INT(otel_content_wanted("false"), 0);
    CHECK_INT(otel_content_wanted("NO_CONTENT"), 0);
    CHECK_INT(otel_content_wanted("EVENT_ONLY"), 0); /* nyx sends no events */
    CHECK_INT(otel_content_wanted("maybe"), -1);
}

static void blocks_as_parts(void)
{
    const char *body =
        "{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Look:\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo\"}}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"sig\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"mail\",\"input\":{\"to\":\"bob@example.org\",\"n\":2}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"sent\"}]}]}";
    claude_response resp;
    memset(&resp, 0, sizeof resp);
    resp.stop_reason = "end_turn";
    resp.content = cJSON_Parse("[{\"type\":\"text\",\"text\":\"Mailed bob@example.org.\"}]");
    otel_content m;
    CHECK_INT(otel_content_build(body, &resp, 1, &m), 0);
    CHECK_STR(m.system, "[{\"type\":\"text\",\"content\":\"Be brief.\"}]");
    CHECK_STR(m.input,
              "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Look:\"},{\"type\":\"image\"}]},"
              "{\"role\":\"assistant\",\"parts\":[{\"type\":\"reasoning\",\"content\":\"hmm\"},"
              "{\"type\":\"tool_call\",\"id\":\"toolu_1\",\"name\":\"mail\",\"arguments\":{\"to\":\"[EMAIL]\",\"n\":2}}]},"
              "{\"role\":\"user\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":\"toolu_1\",\"response\":\"sent\"}]}]");
    CHECK_STR(m.output, "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Mailed [EMAIL].\"}],"
                        "\"finish_reason\":\"end_turn\"}]");
    otel_content_free(&m);
    cJSON_Delete(resp.content);

    /* not redacted (storage mode "full"), a string content, no system, no reply */
    CHECK_INT(otel_content_build("{\"messages\":[{\"role\":\"user\",\"content\":\"to bob@example.org\"}]}", NULL, 0, &m),
              0);
    CHECK(m.system == NULL);
    CHECK(m.output == NULL);
    CHECK_STR(m.input, "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"to bob@example.org\"}]}]");
    otel_content_free(&m);

    /* a reply whose blocks are unknown: its text */
    memset(&resp, 0, sizeof resp);
    resp.text = "plain";
    CHECK_INT(otel_content_build(NULL, &resp, 1, &m), 0);
    CHECK_STR(m.output, "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"plain\"}],"
                        "\"finish_reason\":\"\"}]");
    otel_content_free(&m);
}

static void cut_at_a_character(void)
{
    /* "é" is two bytes; the limit falls inside one of them at an odd offset */
    size_t n = OTEL_CONTENT_MAX + 101;
    char *text = malloc(n + 1);
    REQUIRE(text != NULL);
    text[0] = 'x';
    for (size_t i = 1; i + 1 < n; i += 2)
        memcpy(text + i, "\xc3\xa9", 2);
    text[n] = '\0';
    claude_response resp;
    memset(&resp, 0, sizeof resp);
    resp.text = text;
    otel_content m;
    CHECK_INT(otel_content_build(NULL, &resp, 1, &m), 0);
    const char *content = m.output ? strstr(m.output, "\"content\":\"") : NULL;
    CHECK(content != NULL);
    if (content) {
        content += strlen("\"content\":\"");
        const char *end = strstr(content, "[truncated]\"");
        CHECK(end != NULL);
        if (end) {
            CHECK((size_t)(end - content) <= OTEL_CONTENT_MAX);
            CHECK((size_t)(end - content) >= OTEL_CONTENT_MAX - 1);
            CHECK(((unsigned char)end[-1] & 0xC0) == 0x80); /* ends on a whole "é" */
            CHECK(((end - content) - 1) % 2 == 0);
        }
    }
    otel_content_free(&m);
    free(text);
}

/* cJSON's allocation after allocs_left more fails, that one only (-1: none fails). */
static long allocs_left = -1;

static void *limited_malloc(size_t n)
{
    if (allocs_left == 0) {
        allocs_left = -1;
        return NULL;
    }
    if (allocs_left > 0)
        allocs_left--;
    return malloc(n);
}

/* Every allocation made to fail in turn, alone (the next succeed, as they may): the build
 * either fails with nothing left to free, or gives the whole attributes; never one with a
 * part silently missing. */
static void out_of_memory(void)
{
    const char *body =
        "{\"system\":\"Be brief.\",\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
        "\"id\":\"toolu_1\",\"name\":\"mail\",\"input\":{\"to\":\"bob\",\"cc\":[\"ann\",{\"x\":1}]}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"sent\"}]}]}";
    claude_response resp;
    memset(&resp, 0, sizeof resp);
    resp.stop_reason = "end_turn";
    resp.content = cJSON_Parse("[{\"type\":\"text\",\"text\":\"Done.\"}]");
    otel_content whole;
    CHECK_INT(otel_content_build(body, &resp, 0, &whole), 0);
    cJSON_Hooks hooks = {limited_malloc, free};
    int finished = 0;
    for (long n = 0; n < 10000 && !finished; n++) {
        cJSON_InitHooks(&hooks);
        allocs_left = n;
        otel_content m;
        int rc = otel_content_build(body, &resp, 0, &m);
        finished = allocs_left > 0; /* allocations to spare: every one has been failed before */
        allocs_left = -1;
        cJSON_InitHooks(NULL);
        if (rc == 0) {
            CHECK_STR(m.system, whole.system);
            CHECK_STR(m.input, whole.input);
            CHECK_STR(m.output, whole.output);
        } else {
            CHECK(m.system == NULL && m.input == NULL && m.output == NULL);
        }
        otel_content_free(&m);
    }
    CHECK(finished);
    otel_content_free(&whole);
    cJSON_Delete(resp.content);
}

int main(void)
{
    wanted();
    blocks_as_parts();
    cut_at_a_character();
    out_of_memory();
    return check_failures;
}
