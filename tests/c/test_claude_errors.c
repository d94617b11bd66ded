/* HTTP failures as error_info values: types per status, body precedence, retry decisions. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claude/errors.h"

static const struct {
    int status;
    const char *type;
    int retryable;
} statuses[] = {
    {400, "invalid_request_error", 0}, {401, "authentication_error", 0},
    {402, "billing_error", 0},         {403, "permission_error", 0},
    {404, "not_found_error", 0},       {408, "timeout_error", 1},
    {409, "conflict_error", 1},        {413, "request_too_large", 0},
    {429, "rate_limit_error", 1},      {500, "api_error", 1},
    {502, "api_error", 1},             {503, "api_error", 1},
    {504, "timeout_error", 1},         {529, "overloaded_error", 1},
    {599, "api_error", 1},             {418, "invalid_request_error", 0},
    {422, "invalid_request_error", 0},
};

static void test_status_table(void)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        error_info err;
        claude_error_from_http(statuses[i].status, NULL, 0, NULL, &err);
        CHECK_STR(err.type, statuses[i].type);
        CHECK_INT(err.status, statuses[i].status);
        CHECK_INT(err.retryable, statuses[i].retryable);
        CHECK_INT(claude_status_retryable(statuses[i].status), statuses[i].retryable);
        CHECK_NEAR(err.retry_after_s, -1, 0);
        CHECK_INT(err.should_retry, -1);
        CHECK_STR(err.request_id, "");
    }
    error_info err;
    claude_error_from_http(503, "", 0, NULL, &err);
    CHECK_STR(err.message, "HTTP 503 with an empty body");
    CHECK_INT(claude_status_retryable(200), 0);
    CHECK_INT(claude_status_retryable(600), 0);
    CHECK_INT(claude_status_retryable(0), 0);
}

static void test_body_wins(void)
{
    const char *body = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                       "\"message\":\"Overloaded\"},\"request_id\":\"req_body\"}";
    error_info err;
    claude_error_from_http(500, body, strlen(body), NULL, &err); /* body type beats status */
    CHECK_STR(err.type, "overloaded_error");
    CHECK_STR(err.message, "Overloaded");
    CHECK_STR(err.request_id, "req_body");
    CHECK_INT(err.status, 500);
    CHECK_INT(err.retryable, 1);

    claude_headers h;
    claude_headers_init(&h);
    const char *line = "request-id: req_header\r\n";
    claude_headers_feed(&h, line, strlen(line), 0);
    claude_error_from_http(500, body, strlen(body), &h, &err);
    CHECK_STR(err.request_id, "req_header");

    body = "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\"}}";
    claude_error_from_http(404, body, strlen(body), NULL, &err);
    CHECK_STR(err.type, "not_found_error");
    CHECK_STR(err.message, "HTTP 404 not_found_error");

    /* An answer cannot pass for a failure nyx found itself (its code and policy would follow) */
    body = "{\"type\":\"error\",\"error\":{\"type\":\"budget_exceeded\",\"message\":\"spent\"}}";
    claude_error_from_http(400, body, strlen(body), NULL, &err);
    CHECK_STR(err.type, "api_error");
    CHECK_STR(err.message, "the API answered with error type \"budget_exceeded\", which is not one of its own: spent");
    CHECK_INT(err.status, 400);
    CHECK_INT(err.retryable, 0);
    body = "{\"type\":\"error\",\"error\":{\"type\":\"stopped\"}}";
    claude_error_from_http(403, body, strlen(body), NULL, &err);
    CHECK_STR(err.type, "api_error");
    CHECK_STR(err.message, "the API answered with error type \"stopped\", which is not one of its own: HTTP 403 stopped");
    body = "{\"type\":\"error\",\"error\":{\"type\":\"quota_error\",\"message\":\"q\"}}";
    claude_error_from_http(400, body, strlen(body), NULL, &err); /* a type the API may add later */
    CHECK_STR(err.type, "quota_error");
    CHECK_STR(err.message, "q");
    cJSON *event = cJSON_Parse("{\"type\":\"error\",\"error\":{\"type\":\"network_error\",\"message\":\"m\"}}");
    claude_error_from_json(event, &err);
    cJSON_Delete(event);
    CHECK_STR(err.type, "api_error");
    CHECK_STR(err.message, "the API answered with error type \"network_error\", which is not one of its own: m");
    CHECK_INT(err.retryable, 1); /* api_error's */

    body = "{\"message\":\"upstream\"}"; /* JSON, but not the API's error shape */
    claude_error_from_http(502, body, strlen(body), NULL, &err);
    CHECK_STR(err.type, "api_error");
    CHECK_STR(err.message, "HTTP 502: {\"message\":\"upstream\"}");
}

static void test_headers_decide(void)
{
    claude_headers h;
    claude_headers_init(&h);
    const char *l1 = "x-should-retry: false\r\n", *l2 = "retry-after: 7\r\n";
    claude_headers_feed(&h, l1, strlen(l1), 0);
    claude_headers_feed(&h, l2, strlen(l2), 0);
    error_info err;
    claude_error_from_http(529, NULL, 0, &h, &err);
    CHECK_INT(err.retryable, 0);
    CHECK_INT(err.should_retry, 0);
    CHECK_NEAR(err.retry_after_s, 7, 0);
    h.should_retry = 1;
    claude_error_from_http(400, NULL, 0, &h, &err);
    CHECK_INT(err.retryable, 1);
    CHECK_INT(err.should_retry, 1);
}

static void expect_429(const char *message, int with_retry_after, int retryable)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"%s\"}}",
             message);
    claude_headers h;
    claude_headers_init(&h);
    if (with_retry_after)
        h.retry_after_s = 20;
    error_info err;
    claude_error_from_http(429, body, strlen(body), &h, &err);
    CHECK_STR(err.type, "rate_limit_error");
    CHECK_STR(err.message, message);
    if (err.retryable != retryable)
        fprintf(stderr, "  for message: %s\n", message);
    CHECK_INT(err.retryable, retryable);
}

static void test_spend_limit(void)
{
    expect_429("Number of request tokens has exceeded your per-minute rate limit", 0, 1);
    expect_429("You have reached your specified workspace API usage limits.", 0, 0);
    expect_429("Your monthly Spend Limit has been reached", 0, 0);
    expect_429("spending limit reached for this organization", 0, 0);
    expect_429("Your credit balance is too low to access the Anthropic API.", 0, 0);
    expect_429("You have reached your specified workspace API usage limits.", 1, 1);
}

static void test_non_json_body(void)
{
    size_t n = 10u * 1024u * 1024u;
    char *big = malloc(n);
    if (!big)
        abort();
    const char *head = "<html>\r\n<head><title>502 Bad Gateway</title></head>\n\t<body>\x01\xff";
    memset(big, 'x', n);
    memcpy(big, head, strlen(head));
    error_info err;
    claude_error_from_http(502, big, n, NULL, &err);
    free(big);
    CHECK_STR(err.type, "api_error");
    CHECK_INT(err.retryable, 1);
    CHECK(strncmp(err.message,
                  "HTTP 502: <html> <head><title>502 Bad Gateway</title></head> <body>??xxx",
                  72) == 0);
    CHECK(strlen(err.message) <= 220);
    CHECK(strcmp(err.message + strlen(err.message) - 3, "...") == 0);

    const char *small = "Service Unavailable";
    claude_error_from_http(503, small, strlen(small), NULL, &err);
    CHECK_STR(err.message, "HTTP 503: Service Unavailable");
}

static void test_transport(void)
{
    error_info err;
    claude_error_transport(&err, 1, "Operation timed out after 600000 milliseconds");
    CHECK_STR(err.type, "timeout");
    CHECK_STR(err.message, "Operation timed out after 600000 milliseconds");
    CHECK_INT(err.retryable, 1);
    CHECK_INT(err.status, 0);
    claude_error_transport(&err, 0, NULL);
    CHECK_STR(err.type, "network_error");
    CHECK_STR(err.message, "network error");
    CHECK_INT(err.retryable, 1);
    CHECK_NEAR(err.retry_after_s, -1, 0);
}

static void test_type_retryable(void)
{
    CHECK_INT(claude_error_type_retryable("overloaded_error"), 1);
    CHECK_INT(claude_error_type_retryable("api_error"), 1);
    CHECK_INT(claude_error_type_retryable("rate_limit_error"), 1);
    CHECK_INT(claude_error_type_retryable("timeout_error"), 1);
    CHECK_INT(claude_error_type_retryable("invalid_request_error"), 0);
    CHECK_INT(claude_error_type_retryable(NULL), 0);
}

int main(void)
{
    test_status_table();
    test_body_wins();
    test_headers_decide();
    test_spend_limit();
    test_non_json_body();
    test_transport();
    test_type_retryable();
    CHECK_DONE();
}
