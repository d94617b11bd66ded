/* The error-type table (base/error.c): each type once, its code round-trips, the public
 * functions return the table's code, and retryable is what the retry policy acts on. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include "base/error.h"
#include "claude/errors.h"
#include "nyx.h"
#include "resilience/retry.h"

#include <stdio.h>
#include <stdlib.h>

static void test_names_and_codes(void)
{
    size_t n = 0;
    const error_kind *k = error_kinds(&n);
    CHECK(n > 10);
    for (size_t i = 0; i < n; i++) {
        CHECK(error_kind_of(k[i].type) == &k[i]); /* each name once */
        CHECK(k[i].code != NYX_OK);
        CHECK(!k[i].retryable || k[i].fallback); /* what may pass on retry may pass on another model */
        error_info err = cleared_error();
        error_set(&err, k[i].type, 0, "x");
        CHECK_INT(error_code(&err), k[i].code);
    }
    CHECK(error_kind_of("no_such_type") == NULL);
    CHECK(error_kind_of(NULL) == NULL);
    error_info other = cleared_error();
    error_set(&other, "no_such_type", 0, "x");
    CHECK_INT(error_code(&other), NYX_EIO); /* unknown: a failure of the world */
}

/* An API error with no HTTP status (an SSE error event) gets the table's retryable, and the
 * retry policy retries exactly those. */
static void test_retryable_is_the_policy(void)
{
    size_t n = 0;
    const error_kind *k = error_kinds(&n);
    retry_policy p = {.max_retries = 3};
    for (size_t i = 0; i < n; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"m\"}}",
                 k[i].type);
        cJSON *root = cJSON_Parse(body);
        error_info err;
        claude_error_from_json(root, &err);
        cJSON_Delete(root);
        /* nyx's own types are never taken from an answer (error_type_from_api) */
        const error_kind *answered = k[i].from_api ? &k[i] : error_kind_of("api_error");
        CHECK_STR(err.type, answered->type);
        CHECK_INT(err.retryable, answered->retryable);
        CHECK_INT(retry_allowed(&p, &err, 0), answered->retryable);
        CHECK_INT(retry_allowed(&p, &err, 3), 0);
        error_info own = cleared_error();
        error_set(&own, k[i].type, 0, "m");
        own.retryable = claude_error_type_retryable(own.type);
        CHECK_INT(own.retryable, k[i].retryable);
        CHECK_INT(retry_allowed(&p, &own, 0), k[i].retryable);
        CHECK_INT(retry_allowed(&p, &own, 3), 0);
    }
    error_info t;
    claude_error_transport(&t, 1, NULL);
    CHECK_INT(t.retryable, error_kind_of(t.type)->retryable);
    CHECK_INT(t.retryable, 1);
    claude_error_transport(&t, 0, "refused");
    CHECK_INT(t.retryable, error_kind_of("network_error")->retryable);
    claude_error_tls(&t, "h", "expired", NULL, NULL);
    CHECK_INT(t.retryable, error_kind_of("tls_error")->retryable);
}

/* An HTTP failure without x-should-retry gets the type its status stands for, that type is in
 * the table, and the table's retryable is the status's: a 409 (conflict_error) answered by HTTP
 * is retried exactly as the same type arriving in a stream's error event is. */
/* Which types an answer may carry: the table's API rows and, for types the API adds later,
 * any it does not know named as the API names them; never one of nyx's own. */
static void test_types_from_api(void)
{
    size_t n = 0;
    const error_kind *k = error_kinds(&n);
    size_t own = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(error_type_from_api(k[i].type), k[i].from_api);
        own += !k[i].from_api;
    }
    CHECK(own >= 10);
    CHECK_INT(error_type_from_api("invalid_request_error"), 1);
    CHECK_INT(error_type_from_api("request_too_large"), 1);
    CHECK_INT(error_type_from_api("some_future_error"), 1);
    CHECK_INT(error_type_from_api("budget_exceeded"), 0);
    CHECK_INT(error_type_from_api("network_error"), 0);
    CHECK_INT(error_type_from_api("store_error"), 0);
    CHECK_INT(error_type_from_api("batch_expired"), 0);
    CHECK_INT(error_type_from_api("max_iterations"), 0);
    CHECK_INT(error_type_from_api("_error"), 0);
    CHECK_INT(error_type_from_api(""), 0);
    CHECK_INT(error_type_from_api(NULL), 0);
}

static void test_statuses_are_table_types(void)
{
    for (int status = 400; status <= 599; status++) {
        error_info err;
        claude_error_from_http(status, NULL, 0, NULL, &err);
        const error_kind *k = error_kind_of(err.type);
        if (!k) {
            fprintf(stderr, "HTTP %d: type %s is not in the table\n", status, err.type);
            check_fail_at(__FILE__, __LINE__);
            continue;
        }
        if (err.retryable != k->retryable || claude_status_retryable(status) != k->retryable) {
            fprintf(stderr, "HTTP %d (%s): retryable %d, the table says %d\n", status, err.type,
                    err.retryable, k->retryable);
            check_fail_at(__FILE__, __LINE__);
        }
    }
    CHECK_INT(error_kind_of("conflict_error") != NULL, 1);
    CHECK_INT(claude_error_type_retryable("conflict_error"), 1);
    CHECK_INT(claude_status_retryable(0), 0);
    CHECK_INT(claude_status_retryable(200), 0);
    CHECK_INT(claude_status_retryable(399), 0);
    CHECK_INT(claude_status_retryable(600), 0);
}

/* The public functions answer with the table's code for the type they failed with. */
static void test_public_codes(void)
{
    char dir[] = "/tmp/nyx_errors_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char db[600];
    snprintf(db, sizeof db, "%s/e.db", dir);
    setenv("NYX_DB", db, 1);
    nyx_engine *e = nyx_open(NULL);
    REQUIRE(e != NULL);
    CHECK_INT(nyx_config_set(e, "no.such.key", "1"), error_kind_of("invalid_argument")->code);
    CHECK_INT(nyx_config_set(e, "cache.ttl.ephemeral", "soon"), error_kind_of("invalid_argument")->code);
    char *text = NULL;
    CHECK_INT(nyx_template_get(e, "no_such_template_here", &text, NULL, NULL), error_kind_of("not_found")->code);
    CHECK(text == NULL);
    nyx_close(e);
    CHECK_INT(remove_tree(dir), 0);
}

int main(void)
{
    test_names_and_codes();
    test_retryable_is_the_policy();
    test_types_from_api();
    test_statuses_are_table_types();
    test_public_codes();
    return check_failures;
}
