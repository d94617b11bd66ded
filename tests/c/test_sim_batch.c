/* The simulator's Message Batches over HTTP: creation and its validation, per-request errors,
 * results in an order of their own matched by custom_id with usage.service_tier "batch",
 * prompt caching inside a batch, cancel, expiry, list with pagination and delete. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "sim/sim.h"
#include "sim_client.h"
#include "sim_models.h"

#define MODEL "claude-sonnet-4-5"

/* One request to the batches endpoint; the body parsed as JSON (NULL for JSONL or errors). */
static cJSON *req(const char *method, const char *path, const char *body, resp *r)
{
    char at_path[160];
    snprintf(at_path, sizeof at_path, "/v1/messages/batches%s", path);
    request q = {method, at_path, body, 0, 0};
    http(&q, r);
    CHECK_INT(r->rc, CURLE_OK);
    return json_of(r);
}

/* A request about one batch, to "/<id><tail>", with no body. */
static cJSON *on(const char *method, const char *id, const char *tail, resp *r)
{
    char path[160];
    snprintf(path, sizeof path, "/%s%s", id ? id : "", tail);
    return req(method, path, NULL, r);
}

static double count(const cJSON *batch, const char *what)
{
    return cJSON_GetNumberValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(batch, "request_counts"), what));
}

static sim_server *start_max(double delay_ms, double expiry_ms, size_t max_body)
{
    sim_options o;
    sim_options_default(&o);
    o.max_body = max_body;
    o.batch_delay_ms = delay_ms;
    o.batch_expiry_ms = expiry_ms;
    error_info err;
    sim_server *s = sim_server_start(&models, &o, 0, &err);
    CHECK(s != NULL);
    if (s)
        snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", sim_server_port(s));
    return s;
}

static sim_server *start(double delay_ms, double expiry_ms) { return start_max(delay_ms, expiry_ms, 0); }

#define P(content) "{\"model\":\"" MODEL "\",\"max_tokens\":40,\"messages\":[{\"role\":\"user\",\"content\":\"" content "\"}]}"

static void test_create_and_results(void)
{
    sim_server *s = start(0, 0);
    resp r = {0};
    cJSON *b = req("POST", "",
                   "{\"requests\":[{\"custom_id\":\"r1\",\"params\":" P("first") "},"
                   "{\"custom_id\":\"r2\",\"params\":{\"model\":\"claude-nope\",\"max_tokens\":5,"
                   "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}},"
                   "{\"custom_id\":\"r3\",\"params\":" P("third") "},"
                   "{\"custom_id\":\"r4\",\"params\":{\"model\":\"" MODEL "\",\"max_tokens\":5,\"stream\":true,"
                   "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}]}",
                   &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(str(b, "type"), "message_batch");
    CHECK_STR(str(b, "processing_status"), "ended"); /* no delay: processed at once */
    CHECK_INT(count(b, "succeeded"), 2);
    CHECK_INT(count(b, "errored"), 2);
    CHECK(strncmp(str(b, "id") ? str(b, "id") : "", "msgbatch_", 9) == 0);
    CHECK(str(b, "results_url") != NULL);
    free(r.body);
    resp rr = {0};
    cJSON_Delete(on("GET", str(b, "id"), "/results", &rr));
    CHECK_INT(rr.status, 200);
    /* JSONL: one line per request, each custom id once, not in submission order. */
    int seen[5] = {0}, lines = 0, first = 0;
    for (char *line = rr.body, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        const char *id = str(o, "custom_id");
        int k = id && id[0] == 'r' ? id[1] - '0' : 0;
        CHECK(k >= 1 && k <= 4);
        if (k >= 1 && k <= 4)
            seen[k]++;
        if (lines++ == 0)
            first = k;
        const cJSON *res = cJSON_GetObjectItem(o, "result");
        if (k == 1 || k == 3) {
            CHECK_STR(str(res, "type"), "succeeded");
            const cJSON *u = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "message"), "usage");
            CHECK_STR(str(u, "service_tier"), "batch");
            CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(u, "output_tokens")) > 0);
        } else if (k == 2 || k == 4) {
            CHECK_STR(str(res, "type"), "errored");
            const cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "error"), "error");
            CHECK_STR(str(e, "type"), k == 2 ? "not_found_error" : "invalid_request_error");
        }
        cJSON_Delete(o);
    }
    CHECK_INT(lines, 4);
    CHECK(seen[1] == 1 && seen[2] == 1 && seen[3] == 1 && seen[4] == 1);
    CHECK(first != 1); /* the order is the simulator's own, as the API promises none */
    free(rr.body);
    cJSON_Delete(b);
    sim_server_stop(s);
}

static void test_validation(void)
{
    sim_server *s = start(0, 0);
    static const char *const bad[] = {
        "{\"requests\":[]}",
        "{\"requests\":[{\"custom_id\":\"a\",\"params\":" P("x") "},{\"custom_id\":\"a\",\"params\":" P("y") "}]}",
        "{\"requests\":[{\"custom_id\":\"has space\",\"params\":" P("x") "}]}",
        "{\"requests\":[{\"custom_id\":\"a\"}]}",
        "not json",
        /* not UTF-8: the whole batch is unreadable JSON to the API, not one request of it */
        "{\"requests\":[{\"custom_id\":\"a\",\"params\":" P("caf\xe9") "}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp r = {0};
        cJSON *o = req("POST", "", bad[i], &r);
        CHECK_INT(r.status, 400);
        CHECK_STR(str(cJSON_GetObjectItem(o, "error"), "type"), "invalid_request_error");
        cJSON_Delete(o);
        free(r.body);
    }
    resp r = {0};
    cJSON_Delete(req("GET", "/msgbatch_nope", NULL, &r));
    CHECK_INT(r.status, 404);
    free(r.body);
    sim_server_stop(s);
}

/* Two requests sharing a long system prompt marked with the 1-hour TTL: the second reads what
 * the first wrote, at batch prices. */
static void test_cache_inside(void)
{
    sim_server *s = start(0, 0);
    char *sys = malloc(9000);
    size_t n = 0;
    while (n < 8000)
        n += (size_t)snprintf(sys + n, 9000 - n, "shared rules number %zu apply. ", n);
    char *body = malloc(20000);
    snprintf(body, 20000,
             "{\"requests\":[{\"custom_id\":\"a\",\"params\":{\"model\":\"" MODEL "\",\"max_tokens\":20,"
             "\"system\":[{\"type\":\"text\",\"text\":\"%s\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],"
             "\"messages\":[{\"role\":\"user\",\"content\":\"one\"}]}},"
             "{\"custom_id\":\"b\",\"params\":{\"model\":\"" MODEL "\",\"max_tokens\":20,"
             "\"system\":[{\"type\":\"text\",\"text\":\"%s\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],"
             "\"messages\":[{\"role\":\"user\",\"content\":\"two\"}]}}]}",
             sys, sys);
    resp r = {0};
    cJSON *b = req("POST", "", body, &r);
    free(r.body);
    resp rr = {0};
    cJSON_Delete(on("GET", str(b, "id"), "/results", &rr));
    CHECK(rr.body && strstr(rr.body, "\"ephemeral_1h_input_tokens\":0") != NULL); /* b reads */
    CHECK(rr.body && strstr(rr.body, "\"cache_read_input_tokens\":0,") != NULL);  /* a writes */
    int reads = 0;
    for (char *p = rr.body; p && (p = strstr(p, "\"cache_read_input_tokens\":")); p++)
        reads += atoi(p + strlen("\"cache_read_input_tokens\":")) > 1000;
    CHECK_INT(reads, 1);
    free(rr.body);
    cJSON_Delete(b);
    free(sys);
    free(body);
    sim_server_stop(s);
}

static void test_cancel_list_delete(void)
{
    sim_server *s = start(3600.0 * 1000.0, 0); /* an hour: nothing ends on its own here */
    resp r = {0};
    cJSON *b1 = req("POST", "", "{\"requests\":[{\"custom_id\":\"a\",\"params\":" P("x") "}]}", &r);
    cJSON *b = req("POST", "",
                   "{\"requests\":[{\"custom_id\":\"a\",\"params\":" P("x") "},{\"custom_id\":\"b\",\"params\":" P("y") "}]}",
                   &r);
    CHECK_STR(str(b, "processing_status"), "in_progress");
    CHECK_INT(count(b, "processing"), 2);
    const char *id = str(b, "id") ? str(b, "id") : "";
    cJSON_Delete(on("GET", id, "/results", &r));
    CHECK_INT(r.status, 400); /* no results while processing */
    cJSON_Delete(on("DELETE", id, "", &r));
    CHECK_INT(r.status, 400); /* nor delete */

    cJSON *l = req("GET", "?limit=1", NULL, &r);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(l, "data")), 1);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(l, "has_more")));
    CHECK_STR(str(l, "first_id"), id); /* newest first */
    char next[160];
    snprintf(next, sizeof next, "?limit=5&after_id=%s", id);
    cJSON *l2 = req("GET", next, NULL, &r);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(l2, "data")), 1);
    CHECK_STR(str(l2, "first_id"), str(b1, "id"));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(l2, "has_more")));

    cJSON *c = on("POST", id, "/cancel", &r);
    CHECK_STR(str(c, "processing_status"), "canceling");
    CHECK(str(c, "cancel_initiated_at") != NULL);
    cJSON *g = on("GET", id, "", &r);
    CHECK_STR(str(g, "processing_status"), "ended");
    CHECK_INT(count(g, "canceled"), 2);
    cJSON_Delete(on("GET", id, "/results", &r));
    CHECK(r.body && strstr(r.body, "{\"custom_id\":\"a\",\"result\":{\"type\":\"canceled\"}}") != NULL);
    cJSON *d = on("DELETE", id, "", &r);
    CHECK_STR(str(d, "type"), "message_batch_deleted");
    cJSON_Delete(on("GET", id, "", &r));
    CHECK_INT(r.status, 404);
    cJSON_Delete(req("GET", "?limit=0", NULL, &r));
    CHECK_INT(r.status, 400);
    free(r.body);
    cJSON_Delete(b1);
    cJSON_Delete(b);
    cJSON_Delete(l);
    cJSON_Delete(l2);
    cJSON_Delete(c);
    cJSON_Delete(g);
    cJSON_Delete(d);
    sim_server_stop(s);
}

/* A batch may hold up to 256 MB, beyond the limit of one Messages request. */
static void test_batch_body_limit(void)
{
    sim_server *s = start_max(0, 0, 2000);
    char *body = malloc(20000);
    size_t n = (size_t)snprintf(body, 20000, "{\"requests\":[");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(body + n, 20000 - n, "%s{\"custom_id\":\"r%d\",\"params\":" P("some words here") "}",
                              i ? "," : "", i);
    snprintf(body + n, 20000 - n, "]}");
    CHECK(strlen(body) > 4000);
    resp r = {0};
    cJSON *b = req("POST", "", body, &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(count(b, "succeeded"), 40);
    cJSON_Delete(b);
    free(r.body);
    free(body);
    sim_server_stop(s);
}

static void test_expiry(void)
{
    sim_server *s = start(3600.0 * 1000.0, 1); /* expires after 1 ms, long before processing */
    resp r = {0};
    cJSON *b = req("POST", "", "{\"requests\":[{\"custom_id\":\"a\",\"params\":" P("x") "}]}", &r);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    cJSON *g = on("GET", str(b, "id"), "", &r);
    free(r.body);
    CHECK_STR(str(g, "processing_status"), "ended");
    CHECK_INT(count(g, "expired"), 1);
    cJSON_Delete(b);
    cJSON_Delete(g);
    sim_server_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_create_and_results();
    test_validation();
    test_cache_inside();
    test_cancel_list_delete();
    test_expiry();
    test_batch_body_limit();
    curl_global_cleanup();
    return check_failures;
}
