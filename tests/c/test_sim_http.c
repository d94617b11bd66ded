/* The simulator over HTTP: a server on an ephemeral loopback port, driven with libcurl.
 * Caching and usage, parallel writes, SSE framing, errors, every fault, rate limits. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "check.h"
#include "base/clock.h"
#include "sim/sim.h"
#include "sim_client.h"
#include "sim_models.h"

#define MODEL "claude-sonnet-4-5"

static int port;

/* Checks an error response: status, type, request ids in the header and the body. */
static void expect_error(const resp *r, long status, const char *type)
{
    char h[128];
    CHECK_INT(r->rc, CURLE_OK);
    CHECK_INT(r->status, status);
    cJSON *d = json_of(r);
    CHECK_STR(str(d, "type"), "error");
    CHECK_STR(str(d, "error.type"), type);
    CHECK(str(d, "error.message") != NULL);
    const char *rid = header(r, "request-id", h, sizeof h);
    CHECK(rid && strncmp(rid, "req_sim_", 8) == 0);
    CHECK_STR(str(d, "request_id"), rid);
    CHECK_STR(header(r, "content-type", h, sizeof h), "application/json");
    cJSON_Delete(d);
}

/* ---- request bodies ---- */

/* A body with a system prompt of about sys_tokens (marked with ttl unless NULL) and one user
 * message; salt makes distinct prefixes. malloc'd. */
static char *body(const char *model, int sys_tokens, const char *ttl, int salt, int stream,
                  int max_tokens)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddNumberToObject(o, "max_tokens", max_tokens);
    if (stream)
        cJSON_AddTrueToObject(o, "stream");
    char *text = malloc((size_t)sys_tokens * 8 + 64);
    size_t at = (size_t)sprintf(text, "Salt %d.", salt);
    static const char *w[] = {"cache", "plan", "model", "the", "a", "keeps", "fast", "text"};
    for (int i = 0; i < sys_tokens; i++)
        at += (size_t)sprintf(text + at, " %s", w[(i * 5 + salt) % 8]);
    cJSON *sys = cJSON_AddArrayToObject(o, "system");
    cJSON *blk = cJSON_CreateObject();
    cJSON_AddStringToObject(blk, "type", "text");
    cJSON_AddStringToObject(blk, "text", text);
    if (ttl) {
        cJSON *cc = cJSON_AddObjectToObject(blk, "cache_control");
        cJSON_AddStringToObject(cc, "type", "ephemeral");
        cJSON_AddStringToObject(cc, "ttl", ttl);
    }
    cJSON_AddItemToArray(sys, blk);
    free(text);
    cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", "Summarise the notes above in plain words");
    cJSON_AddItemToArray(msgs, m);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static long long count_tokens(const char *b)
{
    resp r = {0};
    cJSON *o = cJSON_Parse(b);
    cJSON_DeleteItemFromObject(o, "max_tokens");
    cJSON_DeleteItemFromObject(o, "stream");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    post("/v1/messages/count_tokens", s, &r);
    free(s);
    CHECK_INT(r.status, 200);
    cJSON *d = json_of(&r);
    long long n = num(d, "input_tokens");
    CHECK_INT(cJSON_GetArraySize(d), 1);
    cJSON_Delete(d);
    resp_free(&r);
    return n;
}

static void control(const char *method, const char *path, const char *json)
{
    resp r = {0};
    request q = {method, path, json, 0, 0};
    http(&q, &r);
    if (r.status != 200) {
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, r.status, r.body ? r.body : "");
        check_failures++;
    }
    resp_free(&r);
}

/* ---- tests ---- */

static void test_auth_and_validation(void)
{
    resp r = {0};
    char *b = body(MODEL, 50, NULL, 1, 0, 100);
    request q = {"POST", "/v1/messages", b, NO_KEY, 0};
    http(&q, &r);
    expect_error(&r, 401, "authentication_error");
    q.flags = BAD_KEY;
    http(&q, &r);
    expect_error(&r, 401, "authentication_error");
    q.flags = NO_VERSION;
    http(&q, &r);
    expect_error(&r, 400, "invalid_request_error");
    CHECK(strstr(r.body, "anthropic-version") != NULL);
    free(b);

    b = body("claude-nope-1", 50, NULL, 1, 0, 100);
    post("/v1/messages", b, &r);
    expect_error(&r, 404, "not_found_error");
    CHECK(strstr(r.body, "claude-nope-1") != NULL);
    free(b);

    post("/v1/messages", "{\"model\":", &r);
    expect_error(&r, 400, "invalid_request_error");
    post("/v1/messages",
         "{\"model\":\"" MODEL "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    expect_error(&r, 400, "invalid_request_error");
    CHECK(strstr(r.body, "max_tokens") != NULL);

    /* Five cache_control marks. */
    const char *five =
        "{\"model\":\"" MODEL "\",\"max_tokens\":10,\"cache_control\":{\"type\":\"ephemeral\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}},"
        "{\"type\":\"text\",\"text\":\"b\",\"cache_control\":{\"type\":\"ephemeral\"}},"
        "{\"type\":\"text\",\"text\":\"c\",\"cache_control\":{\"type\":\"ephemeral\"}},"
        "{\"type\":\"text\",\"text\":\"d\",\"cache_control\":{\"type\":\"ephemeral\"}},"
        "{\"type\":\"text\",\"text\":\"e\"}]}]}";
    post("/v1/messages", five, &r);
    expect_error(&r, 400, "invalid_request_error");
    CHECK(strstr(r.body, "A maximum of 4 blocks with cache_control") != NULL);

    /* Over max_body (64 KiB in this run). */
    char *big = malloc(100000);
    memset(big, 'x', 99999);
    big[99999] = '\0';
    memcpy(big, "{\"model\":\"", 10);
    post("/v1/messages", big, &r);
    expect_error(&r, 413, "request_too_large");
    free(big);

    request get = {"GET", "/v1/nothing", NULL, 0, 0};
    http(&get, &r);
    CHECK_INT(r.status, 404);
    resp_free(&r);
}

static void usage_of(const resp *r, long long *in, long long *read, long long *write,
                     long long *w1h, long long *out)
{
    cJSON *d = json_of(r);
    *in = num(d, "usage.input_tokens");
    *read = num(d, "usage.cache_read_input_tokens");
    *write = num(d, "usage.cache_creation_input_tokens");
    *w1h = num(d, "usage.cache_creation.ephemeral_1h_input_tokens");
    *out = num(d, "usage.output_tokens");
    CHECK_INT(*write, num(d, "usage.cache_creation.ephemeral_5m_input_tokens") + *w1h);
    cJSON_Delete(d);
}

/* What a model refuses is a 400 as the API gives it; fast mode and the region are reported
 * in usage. */
#define TOOLS "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],"

static void test_model_params(void)
{
    static const struct {
        const char *model, *extra, *field; /* field NULL: accepted */
    } cases[] = {
        {"claude-haiku-5-5", "\"temperature\":0.5", "temperature"},
        {"claude-haiku-5-5", "\"top_p\":0.9", "top_p"},
        {"claude-haiku-5-5", "\"top_k\":5", "top_k"},
        {"claude-haiku-5-5", "\"thinking\":{\"type\":\"disabled\"}", "thinking"},
        {"claude-haiku-5-5", "\"temperature\":1", NULL},
        {"claude-haiku-4-5", "\"temperature\":0.5", NULL},
        {"claude-haiku-4-5", "\"speed\":\"fast\"", "speed"},
        {"claude-haiku-5-5", "\"speed\":\"warp\"", "speed"},
        /* a forced tool_choice while thinking: asked for, or a model that always thinks */
        {"claude-haiku-4-5", TOOLS "\"thinking\":{\"type\":\"adaptive\"},\"tool_choice\":{\"type\":\"any\"}", "tool_choice"},
        {"claude-haiku-4-5", TOOLS "\"thinking\":{\"type\":\"adaptive\"},\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\"}", "tool_choice"},
        {"claude-haiku-5-5", TOOLS "\"tool_choice\":{\"type\":\"any\"}", "tool_choice"},
        {"claude-haiku-4-5", TOOLS "\"tool_choice\":{\"type\":\"any\"}", NULL},
        {"claude-haiku-4-5", TOOLS "\"thinking\":{\"type\":\"disabled\"},\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\"}", NULL},
        {"claude-haiku-5-5", TOOLS "\"tool_choice\":{\"type\":\"auto\"}", NULL},
        {MODEL, TOOLS "\"thinking\":{\"type\":\"adaptive\"},\"tool_choice\":{\"type\":\"any\"}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ROW("%s {%s}", cases[i].model, cases[i].extra);
        char doc[512];
        snprintf(doc, sizeof doc,
                 "{\"model\":\"%s\",\"max_tokens\":10,%s,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                 cases[i].model, cases[i].extra);
        resp r = {0};
        post("/v1/messages", doc, &r);
        if (cases[i].field) {
            expect_error(&r, 400, "invalid_request_error");
            CHECK(r.body && strstr(r.body, cases[i].field) != NULL);
        } else {
            CHECK_INT(r.status, 200);
        }
        resp_free(&r);
    }
    CHECK_ROW_END();
    resp r = {0};
    post("/v1/messages",
         "{\"model\":\"claude-haiku-5-5\",\"max_tokens\":10,\"speed\":\"fast\",\"inference_geo\":\"us\","
         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
         &r);
    CHECK_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "\"speed\":\"fast\"") && strstr(r.body, "\"inference_geo\":\"us\"") &&
          strstr(r.body, "\"service_tier\":\"standard\""));
    resp_free(&r);
    post("/v1/messages",
         "{\"model\":\"claude-haiku-5-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
         &r);
    CHECK(r.body && strstr(r.body, "\"speed\":\"standard\"") && strstr(r.body, "\"inference_geo\":\"global\""));
    resp_free(&r);
}

static void test_caching(void)
{
    resp r = {0};
    long long in, rd, wr, w1h, out;
    char h[64];

    /* Below the minimum: no cache activity, no failure. */
    char *small = body(MODEL, 300, "5m", 2, 0, 100);
    long long total = count_tokens(small);
    CHECK(total > 300 && total < 1024);
    post("/v1/messages", small, &r);
    CHECK_INT(r.status, 200);
    usage_of(&r, &in, &rd, &wr, &w1h, &out);
    CHECK_INT(rd, 0);
    CHECK_INT(wr, 0);
    CHECK_INT(in, total);
    free(small);

    /* Above: the first call writes, the second reads; the parts add up to the total. */
    char *b = body(MODEL, 1500, "5m", 3, 0, 100);
    total = count_tokens(b);
    post("/v1/messages", b, &r);
    CHECK_INT(r.status, 200);
    CHECK(header(&r, "request-id", h, sizeof h) != NULL);
    usage_of(&r, &in, &rd, &wr, &w1h, &out);
    CHECK_INT(rd, 0);
    CHECK(wr > 1024);
    CHECK_INT(w1h, 0);
    CHECK_INT(in + rd + wr, total);
    long long prefix = wr;
    cJSON *d = json_of(&r);
    CHECK_STR(str(d, "type"), "message");
    CHECK_STR(str(d, "role"), "assistant");
    CHECK_STR(str(d, "model"), MODEL);
    CHECK_STR(str(d, "stop_reason"), "end_turn");
    CHECK(strncmp(str(d, "id"), "msg_sim_", 8) == 0);
    const char *text = str(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "content"), 0), "text");
    CHECK(text && strncmp(text, "As Salt 3.", 10) == 0);
    CHECK(out >= 20 && out <= 100);
    cJSON_Delete(d);
    post("/v1/messages", b, &r);
    usage_of(&r, &in, &rd, &wr, &w1h, &out);
    CHECK_INT(rd, prefix);
    CHECK_INT(wr, 0);
    CHECK_INT(in + rd + wr, total);

    /* count_tokens neither reads nor writes: a fresh prefix still writes after it. */
    char *b2 = body(MODEL, 1500, "5m", 4, 0, 100);
    count_tokens(b2);
    post("/v1/messages", b2, &r);
    usage_of(&r, &in, &rd, &wr, &w1h, &out);
    CHECK_INT(rd, 0);
    CHECK(wr > 1024);

    /* The alias reports the canonical id and shares its cache. */
    char *alias = body("sonnet", 1500, "5m", 4, 0, 100);
    post("/v1/messages", alias, &r);
    d = json_of(&r);
    CHECK_STR(str(d, "model"), MODEL);
    CHECK(num(d, "usage.cache_read_input_tokens") > 1024);
    cJSON_Delete(d);
    free(alias);

    /* 1h TTL: the write is billed in the 1h bucket. */
    char *hour = body(MODEL, 1500, "1h", 5, 0, 100);
    post("/v1/messages", hour, &r);
    usage_of(&r, &in, &rd, &wr, &w1h, &out);
    CHECK(wr > 1024);
    CHECK_INT(w1h, wr);
    free(hour);

    /* max_tokens cuts. */
    char *cut = body(MODEL, 1500, "5m", 3, 0, 5);
    post("/v1/messages", cut, &r);
    d = json_of(&r);
    CHECK_STR(str(d, "stop_reason"), "max_tokens");
    CHECK_INT(num(d, "usage.output_tokens"), 5);
    cJSON_Delete(d);
    free(cut);

    /* The log saw it all. */
    request q = {"GET", "/sim/requests", NULL, 0, 0};
    http(&q, &r);
    d = json_of(&r);
    cJSON *reqs = cJSON_GetObjectItem(d, "requests");
    CHECK(cJSON_GetArraySize(reqs) >= 5);
    CHECK_INT(num(d, "count"), cJSON_GetArraySize(reqs));
    cJSON *last = cJSON_GetArrayItem(reqs, cJSON_GetArraySize(reqs) - 1);
    CHECK_STR(str(last, "model"), MODEL);
    CHECK_INT(num(last, "status"), 200);
    CHECK_INT(num(last, "max_tokens"), 5);
    CHECK_INT(num(last, "cache_read"), prefix);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(last, "fault")));
    cJSON_Delete(d);

    /* Reset forgets the cache. */
    control("POST", "/sim/reset", NULL);
    post("/v1/messages", b, &r);
    usage_of(&r, &in, &rd, &wr, &w1h, &out);
    CHECK_INT(rd, 0);
    CHECK_INT(wr, prefix);
    resp_free(&r);
    free(b);
    free(b2);
}

/* n requests at once through curl multi. */
static void parallel(const char *const *bodies, int n, resp *out)
{
    CURLM *m = curl_multi_init();
    CURL **easy = calloc((size_t)n, sizeof *easy);
    struct curl_slist **hs = calloc((size_t)n, sizeof *hs);
    for (int i = 0; i < n; i++) {
        request q = {"POST", "/v1/messages", bodies[i], 0, 0};
        easy[i] = make_easy(&q, &out[i], &hs[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)))
        for (int i = 0; i < n; i++)
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy[i])
                out[i].rc = msg->data.result;
    for (int i = 0; i < n; i++) {
        curl_multi_remove_handle(m, easy[i]);
        finish_easy(easy[i], &out[i], hs[i]);
    }
    curl_multi_cleanup(m);
    free(easy);
    free(hs);
}

static void test_parallel(void)
{
    control("POST", "/sim/config", "{\"ttft_ms\":150}");
    char *b = body(MODEL, 1500, "5m", 6, 0, 50);
    const char *bodies[3] = {b, b, b};
    resp r[3] = {{0}};
    parallel(bodies, 3, r);
    long long first_write = -1;
    for (int i = 0; i < 3; i++) {
        long long in, rd, wr, w1h, out;
        CHECK_INT(r[i].rc, CURLE_OK);
        CHECK_INT(r[i].status, 200);
        usage_of(&r[i], &in, &rd, &wr, &w1h, &out);
        CHECK_INT(rd, 0); /* all miss... */
        CHECK(wr > 1024); /* ...and all pay the write */
        if (first_write < 0)
            first_write = wr;
        CHECK_INT(wr, first_write);
        CHECK(r[i].secs >= 0.14);
        resp_free(&r[i]);
    }
    /* Once a response has begun, the entry is there. */
    resp one = {0};
    post("/v1/messages", b, &one);
    long long in, rd, wr, w1h, out;
    usage_of(&one, &in, &rd, &wr, &w1h, &out);
    CHECK_INT(rd, first_write);
    resp_free(&one);
    free(b);

    /* A hundred connections at once, each waiting its ttft: all served, concurrently. */
    control("POST", "/sim/config", "{\"ttft_ms\":200}");
    enum { N = 100 };
    char *many[N];
    resp rs[N];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < N; i++)
        many[i] = body(MODEL, 20, NULL, 100 + i, i % 2, 30);
    int64_t t0 = clock_now_us();
    parallel((const char *const *)many, N, rs);
    double took = (double)(clock_now_us() - t0) / 1e6;
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ok += rs[i].rc == CURLE_OK && rs[i].status == 200;
        resp_free(&rs[i]);
        free(many[i]);
    }
    CHECK_INT(ok, N);
    CHECK(took < 5.0); /* serial would take 20 s */
    control("POST", "/sim/config", "{\"ttft_ms\":0}");
}

/* Splits an SSE body into events; returns the count. names/datas point into body. */
static int sse_events(char *b, char **names, char **datas, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *frame = strtok_r(b, "\n", &save); frame && n < max;
         frame = strtok_r(NULL, "\n", &save)) {
        if (strncmp(frame, "event: ", 7) == 0) {
            names[n] = frame + 7;
            datas[n] = NULL;
        } else if (strncmp(frame, "data: ", 6) == 0 && names[n]) {
            datas[n] = frame + 6;
            n++;
            names[n] = NULL;
        }
    }
    return n;
}

static void test_stream(void)
{
    control("POST", "/sim/config", "{\"ttft_ms\":30,\"token_ms\":1}");
    char *plain = body(MODEL, 1500, "5m", 7, 0, 300);
    char *streamed = body(MODEL, 1500, "5m", 7, 1, 300);
    long long total = count_tokens(plain);
    resp r = {0};
    post("/v1/messages", plain, &r);
    cJSON *pd = json_of(&r);
    long long out = num(pd, "usage.output_tokens");
    CHECK(r.secs >= 0.03 + 0.001 * (double)out - 0.005);

    post("/v1/messages", streamed, &r);
    char h[128];
    CHECK_INT(r.rc, CURLE_OK);
    CHECK_INT(r.status, 200);
    CHECK(header(&r, "content-type", h, sizeof h) && strncmp(h, "text/event-stream", 17) == 0);
    CHECK(header(&r, "request-id", h, sizeof h) != NULL);
    CHECK(r.body && strstr(r.body, "event: message_start\ndata: {") == r.body);
    char *names[512] = {0}, *datas[512];
    int n = sse_events(r.body, names, datas, 511);
    CHECK(n >= 7);
    CHECK_STR(names[0], "message_start");
    CHECK_STR(names[1], "content_block_start");
    CHECK_STR(names[n - 3], "content_block_stop");
    CHECK_STR(names[n - 2], "message_delta");
    CHECK_STR(names[n - 1], "message_stop");
    char text[4096] = "";
    int deltas = 0, pings = 0;
    for (int i = 0; i < n; i++) {
        cJSON *d = cJSON_Parse(datas[i]);
        CHECK(d != NULL);
        CHECK_STR(str(d, "type"), names[i]); /* the type repeats the event name */
        if (i == 0) {
            /* Same prompt as the plain call, which wrote: this one reads. */
            CHECK_INT(num(d, "message.usage.cache_read_input_tokens"),
                      num(pd, "usage.cache_creation_input_tokens"));
            CHECK_INT(num(d, "message.usage.cache_creation_input_tokens"), 0);
            CHECK_INT(num(d, "message.usage.input_tokens") +
                          num(d, "message.usage.cache_read_input_tokens"),
                      total);
            CHECK_STR(str(d, "message.model"), MODEL);
            CHECK(cJSON_IsArray(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "message"), "content")));
        }
        if (strcmp(names[i], "content_block_delta") == 0) {
            deltas++;
            CHECK_STR(str(d, "delta.type"), "text_delta");
            strncat(text, str(d, "delta.text"), sizeof text - strlen(text) - 1);
        }
        pings += strcmp(names[i], "ping") == 0;
        if (strcmp(names[i], "message_delta") == 0) {
            CHECK_STR(str(d, "delta.stop_reason"), "end_turn");
            CHECK_INT(num(d, "usage.output_tokens"), out);
        }
        cJSON_Delete(d);
    }
    CHECK(deltas >= 2);
    CHECK(pings >= 1);
    CHECK_STR(text, str(cJSON_GetArrayItem(cJSON_GetObjectItem(pd, "content"), 0), "text"));
    cJSON_Delete(pd);
    resp_free(&r);
    free(plain);
    free(streamed);
    control("POST", "/sim/config", "{\"ttft_ms\":0,\"token_ms\":0}");
}

static void fault(const char *json) { control("POST", "/sim/faults", json); }

static void test_error_faults(void)
{
    static const struct {
        const char *fault;
        long status;
        const char *type;
    } cases[] = {
        {"rate_limit", 429, "rate_limit_error"},
        {"spend_limit", 429, "rate_limit_error"},
        {"server_error", 500, "api_error"},
        {"overloaded", 529, "overloaded_error"},
        {"bad_request", 400, "invalid_request_error"},
        {"unauthorized", 401, "authentication_error"},
        {"not_found", 404, "not_found_error"},
        {"too_large", 413, "request_too_large"},
    };
    char *b = body(MODEL, 30, NULL, 8, 0, 20);
    char h[64];
    resp r = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ROW("%s", cases[i].fault);
        char json[200];
        snprintf(json, sizeof json, "{\"faults\":[{\"fault\":\"%s\",\"retry_after\":2}]}",
                 cases[i].fault);
        fault(json);
        post("/v1/messages", b, &r);
        expect_error(&r, cases[i].status, cases[i].type);
        const char *ra = header(&r, "retry-after", h, sizeof h);
        if (strcmp(cases[i].fault, "spend_limit") == 0) {
            CHECK(ra == NULL);
            CHECK(strstr(r.body, "spend limit") != NULL);
        } else {
            CHECK_STR(ra, "2");
        }
        post("/v1/messages", b, &r); /* count 1 by default: the next one is fine */
        CHECK_INT(r.status, 200);
    }
    CHECK_ROW_END();

    /* Count, model filter, x-should-retry, retry-after-ms, a custom message. */
    fault("{\"faults\":[{\"fault\":\"server_error\",\"count\":2,\"model\":\"claude-haiku-4-5\"},"
          "{\"fault\":\"overloaded\",\"count\":2,\"should_retry\":false,\"retry_after_ms\":250,"
          "\"message\":\"busy now\"}]}");
    for (int i = 0; i < 3; i++) {
        post("/v1/messages", b, &r);
        if (i < 2) {
            expect_error(&r, 529, "overloaded_error");
            CHECK_STR(header(&r, "x-should-retry", h, sizeof h), "false");
            CHECK_STR(header(&r, "retry-after-ms", h, sizeof h), "250");
            CHECK(strstr(r.body, "busy now") != NULL);
        } else {
            CHECK_INT(r.status, 200);
        }
    }
    control("DELETE", "/sim/faults", NULL); /* the haiku rule goes too */
    char *haiku = body("claude-haiku-4-5", 30, NULL, 8, 0, 20);
    post("/v1/messages", haiku, &r);
    CHECK_INT(r.status, 200);
    free(haiku);

    /* Until cleared (count 0). */
    fault("{\"fault\":\"overloaded\",\"count\":0}");
    for (int i = 0; i < 3; i++) {
        post("/v1/messages", b, &r);
        CHECK_INT(r.status, 529);
    }
    control("DELETE", "/sim/faults", NULL);

    /* Rejected rules. */
    request q = {"POST", "/sim/faults", "{\"faults\":[{\"fault\":\"meteor\"}]}", 0, 0};
    http(&q, &r);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    free(b);
}

static void test_connection_faults(sim_server *s)
{
    char *b = body(MODEL, 30, NULL, 9, 0, 40);
    char *sb = body(MODEL, 30, NULL, 9, 1, 40);
    resp r = {0};
    error_info err = cleared_error();

    /* reset: the connection closes without a response. */
    CHECK_INT(sim_add_faults_json(s, "{\"faults\":[{\"fault\":\"reset\"}]}", &err), 0);
    post("/v1/messages", b, &r);
    CHECK_INT(r.rc, CURLE_GOT_NOTHING);

    /* hang forever: the client times out. */
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"hang\"}", &err), 0);
    request q = {"POST", "/v1/messages", b, 0, 200};
    http(&q, &r);
    CHECK_INT(r.rc, CURLE_OPERATION_TIMEDOUT);
    /* The server notices the client gave up and releases the request (logged with status 0). */
    int released = 0;
    for (int i = 0; i < 100 && !released; i++) {
        request g = {"GET", "/sim/requests", NULL, 0, 0};
        http(&g, &r);
        cJSON *log = json_of(&r);
        cJSON *reqs = cJSON_GetObjectItem(log, "requests");
        cJSON *e = cJSON_GetArrayItem(reqs, cJSON_GetArraySize(reqs) - 1);
        released = str(e, "fault") && strcmp(str(e, "fault"), "hang") == 0 && num(e, "status") == 0;
        cJSON_Delete(log);
        if (!released) {
            struct timespec pause = {0, 20 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    CHECK(released);
    /* a short hang, then served */
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"hang\",\"hang_ms\":120}", &err), 0);
    post("/v1/messages", b, &r);
    CHECK_INT(r.status, 200);
    CHECK(r.secs >= 0.11);

    /* malformed */
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"malformed\"}", &err), 0);
    post("/v1/messages", b, &r);
    CHECK_INT(r.rc, CURLE_OK);
    CHECK_INT(r.status, 200);
    cJSON *d = json_of(&r);
    CHECK(d == NULL);
    cJSON_Delete(d);
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"malformed\"}", &err), 0);
    post("/v1/messages", sb, &r);
    CHECK_INT(r.rc, CURLE_OK);
    {
        char *names[256] = {0}, *datas[256];
        int n = sse_events(r.body, names, datas, 255);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_Parse(datas[i]);
            bad += e == NULL;
            cJSON_Delete(e);
        }
        CHECK_INT(bad, 1);
    }

    /* cut: the body stops partway; the stream after 3 events, without message_stop. */
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"cut\"}", &err), 0);
    post("/v1/messages", b, &r);
    CHECK(r.rc != CURLE_OK);
    CHECK(r.len > 0);
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"cut\",\"after_events\":3}", &err), 0);
    post("/v1/messages", sb, &r);
    CHECK(r.rc != CURLE_OK);
    CHECK(r.body && strstr(r.body, "message_start") && !strstr(r.body, "message_stop"));
    {
        char *names[16] = {0}, *datas[16];
        CHECK_INT(sse_events(r.body, names, datas, 15), 3);
    }

    /* stream_error: a 200 that carries an error event after message_start. */
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"stream_error\"}", &err), 0);
    post("/v1/messages", sb, &r);
    CHECK_INT(r.rc, CURLE_OK);
    CHECK_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "event: message_start") == r.body);
    CHECK(strstr(
              r.body,
              "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"") !=
          NULL);
    CHECK(strstr(r.body, "message_stop") == NULL);

    /* The log names each fault. */
    request g = {"GET", "/sim/requests", NULL, 0, 0};
    http(&g, &r);
    static const char *expect[] = {"reset",     "hang", "hang", "malformed",
                                   "malformed", "cut",  "cut",  "stream_error"};
    d = json_of(&r);
    cJSON *reqs = cJSON_GetObjectItem(d, "requests");
    int n = cJSON_GetArraySize(reqs);
    CHECK(n >= 8);
    for (int i = 0; i < 8 && n >= 8; i++) {
        cJSON *e = cJSON_GetArrayItem(reqs, n - 8 + i);
        CHECK_STR(str(e, "fault"), expect[i]);
    }
    CHECK_INT(num(cJSON_GetArrayItem(reqs, n - 8), "status"), 0);
    cJSON_Delete(d);
    resp_free(&r);

    /* Bad JSON through the C entry point. */
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"nope\"}", &err), -1);
    CHECK(strstr(err.message, "nope") != NULL);
    free(b);
    free(sb);
}

static void test_rate_limits(void)
{
    control("POST", "/sim/reset", NULL);
    control("POST", "/sim/config", "{\"rpm\":2}");
    char *b = body(MODEL, 30, NULL, 10, 0, 20);
    resp r = {0};
    char h[64];
    for (int i = 0; i < 2; i++) {
        post("/v1/messages", b, &r);
        CHECK_INT(r.status, 200);
        CHECK_STR(header(&r, "anthropic-ratelimit-requests-limit", h, sizeof h), "2");
        CHECK_INT(
            atoi(header(&r, "anthropic-ratelimit-requests-remaining", h, sizeof h) ? h : "-1"),
            1 - i);
        const char *reset = header(&r, "anthropic-ratelimit-requests-reset", h, sizeof h);
        CHECK(reset && strlen(reset) == 20 && reset[4] == '-' && reset[10] == 'T' &&
              reset[19] == 'Z');
    }
    post("/v1/messages", b, &r);
    expect_error(&r, 429, "rate_limit_error");
    const char *ra = header(&r, "retry-after", h, sizeof h);
    CHECK(ra && atoi(ra) >= 1 && atoi(ra) <= 30);
    CHECK_STR(header(&r, "anthropic-ratelimit-requests-remaining", h, sizeof h), "0");
    /* Another model has its own limit. */
    char *haiku = body("claude-haiku-4-5", 30, NULL, 10, 0, 20);
    post("/v1/messages", haiku, &r);
    CHECK_INT(r.status, 200);
    free(haiku);

    /* Input tokens: cache reads do not count. */
    control("POST", "/sim/config", "{\"rpm\":0,\"itpm\":3000}");
    char *cached = body(MODEL, 2000, "5m", 11, 0, 20);
    post("/v1/messages", cached, &r); /* writes ~2000: counted */
    CHECK_INT(r.status, 200);
    CHECK_STR(header(&r, "anthropic-ratelimit-input-tokens-limit", h, sizeof h), "3000");
    CHECK(header(&r, "anthropic-ratelimit-requests-limit", h, sizeof h) == NULL);
    post("/v1/messages", cached, &r); /* reads: a handful of tokens counted */
    CHECK_INT(r.status, 200);
    char *fresh = body(MODEL, 2000, "5m", 12, 0, 20);
    post("/v1/messages", fresh, &r); /* ~2000 uncached do not fit in what is left */
    expect_error(&r, 429, "rate_limit_error");
    CHECK(strstr(r.body, "input tokens") != NULL);
    CHECK(header(&r, "retry-after", h, sizeof h) && atoi(h) >= 1);

    /* Output tokens count at max_tokens on admission. */
    control("POST", "/sim/config", "{\"itpm\":0,\"otpm\":100}");
    char *greedy = body(MODEL, 30, NULL, 13, 0, 101);
    post("/v1/messages", greedy, &r);
    expect_error(&r, 429, "rate_limit_error");
    control("POST", "/sim/config", "{\"otpm\":0}");
    post("/v1/messages", greedy, &r);
    CHECK_INT(r.status, 200);
    CHECK(header(&r, "anthropic-ratelimit-output-tokens-limit", h, sizeof h) == NULL);
    resp_free(&r);
    free(greedy);
    free(cached);
    free(fresh);
    free(b);
}

/* ---- stop while requests hang ---- */

typedef struct hung {
    resp r;
    char url_body[4096];
} hung;

static void *hang_client(void *arg)
{
    hung *h = arg;
    request q = {"POST", "/v1/messages", h->url_body, 0, 10000};
    http(&q, &h->r);
    return NULL;
}

static void test_stop_with_hangs(void)
{
    error_info err = cleared_error();
    sim_options o;
    sim_options_default(&o);
    o.ttft_ms = 5000; /* streams that would take a long time */
    sim_server *s = sim_server_start(&models, &o, 0, &err);
    REQUIRE(s != NULL);
    int saved = port;
    port = sim_server_port(s);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"hang\",\"count\":2}", &err), 0);
    hung h[3];
    memset(h, 0, sizeof h);
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        char *b = body(MODEL, 30, NULL, 20 + i, i == 2, 20);
        snprintf(h[i].url_body, sizeof h[i].url_body, "%s", b);
        free(b);
        CHECK_INT(pthread_create(&t[i], NULL, hang_client, &h[i]), 0);
    }
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    int64_t t0 = clock_now_us();
    sim_server_stop(s);
    double took = (double)(clock_now_us() - t0) / 1e6;
    CHECK(took < 1.0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK(h[i].r.rc != CURLE_OK || h[i].r.status == 0);
        CHECK(h[i].r.secs < 2.0);
        resp_free(&h[i].r);
    }
    sim_server_stop(NULL);
    port = saved;
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
}

/* A request held by a hang holds up nothing else: the server answers others meanwhile (a
 * wait suspends its connection; no thread sleeps). test_parallel shows the same of the waits
 * for a first token, plain and streamed. */
static void test_waits_hold_nothing_up(void)
{
    error_info err = cleared_error();
    sim_options o;
    sim_options_default(&o);
    sim_server *s = sim_server_start(&models, &o, 0, &err);
    REQUIRE(s != NULL);
    int saved = port;
    port = sim_server_port(s);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
    CHECK_INT(sim_add_faults_json(s, "{\"fault\":\"hang\",\"count\":1}", &err), 0);
    hung h[1];
    memset(h, 0, sizeof h);
    pthread_t t[1];
    char *b = body(MODEL, 30, NULL, 40, 0, 20);
    snprintf(h[0].url_body, sizeof h[0].url_body, "%s", b);
    CHECK_INT(pthread_create(&t[0], NULL, hang_client, &h[0]), 0);
    int held = 0;
    resp r = {0};
    for (int i = 0; i < 500 && !held; i++) {
        request g = {"GET", "/sim/hanging", NULL, 0, 0};
        http(&g, &r);
        cJSON *d = json_of(&r);
        held = num(d, "hanging") == 1;
        cJSON_Delete(d);
        if (!held) {
            struct timespec pause = {0, 10 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    CHECK(held);
    /* While it hangs (for as long as its client waits, 10 s), another is answered. */
    request q = {"POST", "/v1/messages", b, 0, 3000};
    http(&q, &r);
    CHECK_INT(r.rc, CURLE_OK);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    sim_server_stop(s); /* ends the hang */
    pthread_join(t[0], NULL);
    CHECK(h[0].r.rc != CURLE_OK || h[0].r.status == 0);
    resp_free(&h[0].r);
    free(b);
    port = saved;
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    error_info err = cleared_error();
    sim_options o;
    sim_options_default(&o);
    o.api_key = KEY;
    o.max_body = 64 * 1024;
    o.seed = 1;
    sim_server *s = sim_server_start(&models, &o, 0, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "start: %s\n", err.message);
        CHECK_DONE();
    }
    port = sim_server_port(s);
    CHECK(port > 0);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);

    /* A second server cannot take the same port. */
    sim_server *dup = sim_server_start(&models, &o, port, &err);
    CHECK(dup == NULL);
    CHECK_STR(err.type, "sim_listen");

    test_auth_and_validation();
    test_model_params();
    test_caching();
    test_parallel();
    test_stream();
    test_error_faults();
    test_connection_faults(s);
    test_rate_limits();
    sim_server_stop(s);
    test_stop_with_hangs();
    test_waits_hold_nothing_up();
    curl_global_cleanup();
    CHECK_DONE();
}
