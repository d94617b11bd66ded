/* Message Batches as the API answers them: the batch object's counts and times, a results
 * file's lines and each result as a call's outcome (claude/batch_result.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claude/batch_result.h"
#include "claude/response.h"

static cJSON *parse(const char *json)
{
    cJSON *o = claude_json_parse(json, strlen(json));
    if (!o)
        abort();
    return o;
}

static void test_batch_object(void)
{
    cJSON *o = parse("{\"id\":\"msgbatch_1\",\"processing_status\":\"ended\",\"request_counts\":"
                     "{\"processing\":0,\"succeeded\":3,\"errored\":1,\"canceled\":2,\"expired\":4},"
                     "\"created_at\":\"2025-08-21T12:40:59Z\",\"expires_at\":\"2025-08-22T12:40:59+00:00\"}");
    claude_batch_info b;
    error_info err;
    error_clear(&err);
    CHECK_INT(claude_batch_read(o, &b, &err), 0);
    CHECK_STR(b.id, "msgbatch_1");
    CHECK_STR(b.processing_status, "ended");
    const long want[CLAUDE_BATCH_NCOUNTS] = {0, 3, 1, 2, 4};
    for (int i = 0; i < CLAUDE_BATCH_NCOUNTS; i++)
        CHECK_INT(b.counts[i], want[i]);
    CHECK_NEAR(b.created_at, 1755780059, 0);
    CHECK_NEAR(b.expires_at, 1755780059 + 86400, 0);
    cJSON_Delete(o);

    /* Without request_counts (or with nulls) the counts are 0: reading the missing numbers
     * converted NaN to a long, undefined behaviour. Times that do not read are NAN. */
    const char *sparse[] = {"{\"id\":\"b\",\"processing_status\":\"in_progress\",\"created_at\":\"soon\"}",
                            "{\"request_counts\":null,\"expires_at\":5}",
                            "{\"request_counts\":{\"processing\":null,\"errored\":7}}", "[]", "\"batch\""};
    for (size_t i = 0; i < sizeof sparse / sizeof sparse[0]; i++) {
        o = parse(sparse[i]);
        CHECK_INT(claude_batch_read(o, &b, &err), 0);
        CHECK_INT(b.counts[0], 0);
        CHECK_INT(b.counts[1], 0);
        CHECK_INT(b.counts[2], i == 2 ? 7 : 0);
        CHECK(isnan(b.created_at) && isnan(b.expires_at));
        cJSON_Delete(o);
    }
    CHECK(claude_batch_read(NULL, &b, &err) == 0 && b.id == NULL && b.processing_status == NULL);

    /* A count that is no count is named, and out is left as it was. */
    static const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"request_counts\":{\"succeeded\":-1}}", "malformed batch: request_counts.succeeded must be an integer from 0 to 2147483647"},
        {"{\"request_counts\":{\"errored\":1.5}}", "malformed batch: request_counts.errored must be an integer from 0 to 2147483647"},
        {"{\"request_counts\":{\"canceled\":1e300}}", "malformed batch: request_counts.canceled must be an integer from 0 to 2147483647"},
        {"{\"request_counts\":{\"expired\":2147483648}}", "malformed batch: request_counts.expired must be an integer from 0 to 2147483647"},
        {"{\"request_counts\":{\"processing\":\"3\"}}", "malformed batch: request_counts.processing must be an integer from 0 to 2147483647"},
        {"{\"request_counts\":[1,2]}", "malformed batch: request_counts is not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = parse(bad[i].json);
        memset(&b, 0x5a, sizeof b);
        claude_batch_info before = b;
        CHECK_INT(claude_batch_read(o, &b, &err), -1);
        CHECK_STR(err.type, "api_error");
        CHECK_STR(err.message, bad[i].message);
        CHECK(memcmp(&b, &before, sizeof b) == 0);
        cJSON_Delete(o);
    }
    o = parse("{\"request_counts\":{\"expired\":2147483647}}");
    CHECK_INT(claude_batch_read(o, &b, &err), 0);
    CHECK_INT(b.counts[4], 2147483647L);
    cJSON_Delete(o);
}

static void test_lines(void)
{
    const char *cid;
    const cJSON *res;
    const char *line = "{\"custom_id\":\"r1\",\"result\":{\"type\":\"canceled\"}}\r";
    cJSON *o = claude_batch_line(line, strlen(line), &cid, &res);
    CHECK(o != NULL);
    CHECK_STR(cid, "r1");
    CHECK(cJSON_IsObject(res));
    cJSON_Delete(o);
    const char *odd[] = {"{\"custom_id\":5,\"result\":[]}", "{\"custom_id\":\"a\"} x", "", "{\"custom_id\":\"a\""};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        o = claude_batch_line(odd[i], strlen(odd[i]), &cid, &res);
        CHECK(cid == NULL && res == NULL);
        CHECK((o != NULL) == (i == 0));
        cJSON_Delete(o);
    }
}

/* A result's outcome: the type and message, or a response; "" type means the response. */
static void expect(const char *json, const char *type, int status, const char *message)
{
    cJSON *o = parse(json);
    claude_response r;
    response_init(&r);
    error_info err;
    error_clear(&err);
    claude_batch_result(o, &r, &err);
    CHECK_STR(err.type, type);
    if (type[0]) {
        CHECK_INT(err.status, status);
        CHECK_STR(err.message, message);
        CHECK(r.text == NULL);
    } else {
        CHECK_STR(r.text, message);
    }
    response_free(&r);
    cJSON_Delete(o);
}

static void test_results(void)
{
    expect("{\"type\":\"succeeded\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
           "\"model\":\"m\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}],\"stop_reason\":\"end_turn\","
           "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}",
           "", 0, "Hi");
    expect("{\"type\":\"succeeded\"}", "api_error", 0, "a batch result without its message");
    expect("{\"type\":\"succeeded\",\"message\":[]}", "api_error", 0, "malformed Messages response: not a JSON object");
    expect("{\"type\":\"errored\",\"error\":{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
           "\"message\":\"max_tokens: too many\"}}}",
           "invalid_request_error", 400, "max_tokens: too many");
    /* An empty type left the error empty, which the engine read as an answer with no text. */
    expect("{\"type\":\"errored\",\"error\":{\"error\":{\"type\":\"\",\"message\":\"\"}}}", "api_error", 400,
           "the request failed in its batch");
    expect("{\"type\":\"errored\"}", "api_error", 400, "the request failed in its batch");
    expect("{\"type\":\"errored\",\"error\":{\"error\":{\"type\":\"batch_expired\",\"message\":\"x\"}}}",
           "api_error", 400, "the API answered with error type \"batch_expired\", which is not one of its own: x");
    expect("{\"type\":\"canceled\"}", "batch_canceled", 0, "the batch was cancelled before this request was processed");
    expect("{\"type\":\"expired\"}", "batch_expired", 0, "the batch expired before this request was processed");
    /* A type of no kind the API names was read as expired. */
    expect("{\"type\":\"pending\"}", "api_error", 0,
           "malformed batch result: its type \"pending\" is none of succeeded, errored, canceled and expired");
    expect("{\"type\":7}", "api_error", 0, "malformed batch result: its type is missing or not a string");
    expect("{}", "api_error", 0, "malformed batch result: its type is missing or not a string");
}

int main(void)
{
    test_batch_object();
    test_lines();
    test_results();
    CHECK_DONE();
}
