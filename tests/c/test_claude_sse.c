/* Streaming: the same stream split every way gives the same response; errors, cuts, limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claude/response.h"
#include "claude/sse.h"

static const char STREAM[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\","
    "\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
    "\"model\":\"claude-sonnet-4-5-20250929\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_creation_input_tokens\":2048,\"cache_read_input_tokens\":4096,"
    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":2048,\"ephemeral_1h_input_tokens\":0},"
    "\"output_tokens\":1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    ": a comment line, as proxies send to keep connections open\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data:{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\", w\\u00f6rld\\n\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"city\\\": \\\"Pa\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"ris\\\"}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":15}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

#define WANT_TEXT "Hello, w\xc3\xb6rld\n"

typedef struct seen {
    int starts;
    int calls;
    char text[256];
    size_t len;
} seen;

static void on_start(void *ud) { ((seen *)ud)->starts++; }

/* Collects text (or thinking) as it streams. */
static void on_text(void *ud, const char *text, size_t len)
{
    seen *s = ud;
    s->calls++;
    if (s->len + len < sizeof s->text) {
        memcpy(s->text + s->len, text, len);
        s->len += len;
        s->text[s->len] = '\0';
    }
}

/* Feeds body in pieces of chunk bytes (0: all at once); returns finish's result. */
static int run(const char *body, size_t n, size_t chunk, claude_response *r, seen *sn,
               error_info *err)
{
    claude_stream_hooks hooks = {.on_start = on_start, .on_text = on_text, .ud = sn};
    memset(sn, 0, sizeof *sn);
    response_init(r);
    error_clear(err);
    claude_stream *s = claude_stream_new(r, &hooks);
    if (!s)
        return -2;
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n;) {
        size_t k = chunk && chunk < n - off ? chunk : n - off;
        /* exact-size heap copy so ASan sees reads past the chunk */
        char *piece = malloc(k);
        if (!piece)
            abort();
        memcpy(piece, body + off, k);
        rc = claude_stream_feed(s, piece, k, err);
        free(piece);
        off += k;
    }
    if (rc == 0)
        rc = claude_stream_finish(s, err);
    claude_stream_free(s);
    return rc;
}

static void check_full(claude_response *r, const seen *sn)
{
    CHECK_STR(r->id, "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
    CHECK_STR(r->model, "claude-sonnet-4-5-20250929");
    CHECK_STR(r->stop_reason, "tool_use");
    CHECK(r->stop_sequence == NULL);
    CHECK_STR(r->text, WANT_TEXT);
    CHECK_INT(r->text_len, strlen(WANT_TEXT));
    CHECK_INT(r->usage.input_tokens, 25);
    CHECK_INT(r->usage.output_tokens, 15); /* replaced by message_delta, not 1 + 15 */
    CHECK_INT(r->usage.cache_creation_input_tokens, 2048);
    CHECK_INT(r->usage.cache_read_input_tokens, 4096);
    CHECK_INT(r->usage.cache_creation_5m, 2048);
    CHECK_INT(r->usage.has_cache_creation_detail, 1);
    CHECK_INT(sn->starts, 1);
    CHECK_STR(sn->text, WANT_TEXT);
    /* Every block in order; the tool input joined from its pieces and parsed once, whole. */
    CHECK_STR(response_content_json(r), "[{\"type\":\"text\",\"text\":\"Hello, w\xc3\xb6rld\\n\"},"
                               "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
                               "\"input\":{\"city\":\"Paris\"}}]");
}

#define EV(json) "data: " json "\n\n"
static const char THINKING[] =
    EV("{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":{}}}")
    EV("{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me \"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"think.\"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"sig1\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":0}")
    EV("{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{}}}")
    EV("{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": [1,\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":1}")
    EV("{\"type\":\"message_stop\"}");

static void test_thinking_and_broken_input(void)
{
    claude_response r;
    seen sn;
    error_info err;
    memset(&sn, 0, sizeof sn);
    response_init(&r);
    error_clear(&err);
    claude_stream_hooks hooks = {.on_thinking = on_text, .ud = &sn}; /* collects thinking alike */
    claude_stream *s = claude_stream_new(&r, &hooks);
    /* The thinking streams to its hook; the tool input never completes: the stream fails at
     * content_block_stop instead of passing half an object on. */
    CHECK_INT(claude_stream_feed(s, THINKING, strlen(THINKING), &err), -1);
    CHECK_STR(sn.text, "Let me think.");
    CHECK_ERROR(err, "api_error", "tool input");
    CHECK(r.content == NULL && r.content_json == NULL);
    claude_stream_free(s);
    response_free(&r);
}

static void test_whole_and_bytewise(void)
{
    claude_response r;
    seen sn;
    error_info err;
    size_t n = strlen(STREAM);
    CHECK_INT(run(STREAM, n, 0, &r, &sn, &err), 0);
    check_full(&r, &sn);
    CHECK_INT(sn.calls, 2);
    response_free(&r);

    CHECK_INT(run(STREAM, n, 1, &r, &sn, &err), 0);
    check_full(&r, &sn);
    response_free(&r);

    /* every two-piece split */
    int bad = 0;
    for (size_t cut = 1; cut < n; cut++) {
        claude_stream *s;
        response_init(&r);
        s = claude_stream_new(&r, NULL);
        if (!s || claude_stream_feed(s, STREAM, cut, &err) ||
            claude_stream_feed(s, STREAM + cut, n - cut, &err) || claude_stream_finish(s, &err) ||
            strcmp(r.text, WANT_TEXT) != 0 || r.usage.output_tokens != 15 ||
            !r.stop_reason || strcmp(r.stop_reason, "tool_use") != 0)
            bad++;
        claude_stream_free(s);
        response_free(&r);
    }
    CHECK_INT(bad, 0);
}

/* Rewrites every \n of text as sep. */
static char *with_endings(const char *text, const char *sep, size_t *len)
{
    size_t n = strlen(text), k = strlen(sep), o = 0;
    char *out = malloc(n * k + 1);
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') {
            memcpy(out + o, sep, k);
            o += k;
        } else {
            out[o++] = text[i];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

static void test_line_endings(void)
{
    const char *seps[] = {"\r\n", "\r"};
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        char *body = with_endings(STREAM, seps[i], &n);
        size_t chunks[] = {0, 1, 2, 3, 7, 64};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            claude_response r;
            seen sn;
            error_info err;
            CHECK_INT(run(body, n, chunks[c], &r, &sn, &err), 0);
            check_full(&r, &sn);
            response_free(&r);
        }
        free(body);
    }
}

static void test_error_after_content(void)
{
    const char *body =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":"
        "{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"partial\"}}\n\n"
        "event: error\n"
        "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    claude_response r;
    response_init(&r);
    claude_stream *s = claude_stream_new(&r, NULL);
    CHECK(s != NULL);
    error_info err = cleared_error();
    CHECK_INT(claude_stream_feed(s, body, strlen(body), &err), -1);
    CHECK_STR(err.type, "overloaded_error");
    CHECK_STR(err.message, "Overloaded");
    CHECK_INT(err.retryable, 1);
    CHECK_INT(err.status, 0);
    CHECK_STR(r.text, "partial");
    error_info again = cleared_error();
    CHECK_INT(claude_stream_feed(s, "\n", 1, &again), -1); /* dead stream stays dead */
    CHECK_STR(again.type, "overloaded_error");
    error_clear(&again);
    CHECK_INT(claude_stream_finish(s, &again), -1);
    CHECK_STR(again.type, "overloaded_error");
    claude_stream_free(s);
    response_free(&r);

    /* a non-transient error type is not retryable; an error without event: line still counts */
    body = "data: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
           "\"message\":\"no\"}}\n\n";
    response_init(&r);
    s = claude_stream_new(&r, NULL);
    CHECK_INT(claude_stream_feed(s, body, strlen(body), &err), -1);
    CHECK_STR(err.type, "invalid_request_error");
    CHECK_INT(err.retryable, 0);
    claude_stream_free(s);
    response_free(&r);
}

static void test_message_delta_replaces(void)
{
    const char *body =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":"
        "{\"input_tokens\":10,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":200,"
        "\"output_tokens\":1}}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},\"usage\":"
        "{\"output_tokens\":20,\"input_tokens\":12,\"cache_read_input_tokens\":null}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\","
        "\"stop_sequence\":\"END\"},\"usage\":{\"output_tokens\":25,"
        "\"cache_creation_input_tokens\":100}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    claude_response r;
    seen sn;
    error_info err;
    CHECK_INT(run(body, strlen(body), 0, &r, &sn, &err), 0);
    CHECK_INT(r.usage.output_tokens, 25);
    CHECK_INT(r.usage.input_tokens, 12);
    CHECK_INT(r.usage.cache_creation_input_tokens, 100);
    CHECK_INT(r.usage.cache_read_input_tokens, 200);
    CHECK_INT(r.usage.has_cache_creation_detail, 0);
    CHECK_STR(r.stop_reason, "stop_sequence");
    CHECK_STR(r.stop_sequence, "END");
    CHECK_STR(r.text, "");
    CHECK_INT(sn.calls, 0);
    response_free(&r);
}

/* A second message_stop (a broken stream: the API sends one) leaves the first one's blocks. */
static void test_second_stop(void)
{
    static const char again[] = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    char body[sizeof STREAM + sizeof again];
    snprintf(body, sizeof body, "%s%s", STREAM, again);
    claude_response r;
    seen sn;
    error_info err;
    CHECK_INT(run(body, strlen(body), 0, &r, &sn, &err), 0);
    check_full(&r, &sn);
    response_free(&r);
}

static void test_cut_before_stop(void)
{
    const char *cut = strstr(STREAM, "event: message_delta");
    claude_response r;
    seen sn;
    error_info err;
    CHECK_INT(run(STREAM, (size_t)(cut - STREAM), 5, &r, &sn, &err), -1);
    CHECK_STR(err.type, "network_error");
    CHECK_STR(err.message, "stream ended before message_stop");
    CHECK_INT(err.retryable, 1);
    CHECK_STR(r.text, WANT_TEXT); /* the partial text is kept for the caller to judge */
    response_free(&r);

    /* message_stop without its closing blank line is an incomplete event */
    size_t n = strlen(STREAM) - 1;
    CHECK_INT(run(STREAM, n, 0, &r, &sn, &err), -1);
    CHECK_STR(err.type, "network_error");
    response_free(&r);

    CHECK_INT(run("", 0, 0, &r, &sn, &err), -1); /* nothing at all */
    CHECK(r.text != NULL);
    CHECK_STR(r.text, "");
    response_free(&r);
}

static void expect_fail(const char *body, const char *type, const char *message)
{
    claude_response r;
    seen sn;
    error_info err;
    CHECK_INT(run(body, strlen(body), 0, &r, &sn, &err), -1);
    CHECK_STR(err.type, type);
    CHECK_STR(err.message, message);
    CHECK_INT(err.retryable, 0);
    response_free(&r);
}

static void test_malformed(void)
{
    expect_fail("event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                "\"delta\":\n\n",
                "api_error", "malformed JSON in SSE event 'content_block_delta'");
    expect_fail("event: message_start\ndata: [1]\n\n", "api_error",
                "malformed JSON in SSE event 'message_start'");
    expect_fail("data: nonsense\n\n", "api_error", "malformed JSON in SSE event '(unnamed)'");
    expect_fail("event: message_start\ndata: {\"type\":\"message_start\"}\n\n", "api_error",
                "malformed SSE event 'message_start'");
    expect_fail("event: content_block_delta\ndata: {\"delta\":{\"type\":\"text_delta\"}}\n\n",
                "api_error", "malformed SSE event (text_delta without text) 'content_block_delta'");
    expect_fail("event: message_delta\ndata: {\"delta\":{},"
                "\"usage\":{\"output_tokens\":\"9\"}}\n\n",
                "api_error", "malformed message_delta: usage.output_tokens must be a "
                             "non-negative integer");
}

static const char ODD[] =
        "\xEF\xBB\xBF" /* a BOM before the first line is allowed */
        "event: future_event\ndata: {this is not even json\n\n"
        "data: {\"type\":\"future_event_2\",\"x\":1}\n\n"
        "id: 7\nretry: 1000\nevent: ping\n\n" /* no data: nothing dispatched */
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\n"
        "data:  \"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":{\"input_tokens\":1}}}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
        "\"text\":\"Hi\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"thinking_delta\","
        "\"thinking\":\"x\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"\"}}\n\n"
        "event: a_very_long_event_name_that_is_not_one_of_ours_at_all\ndata: {\n\n"
        "data: {\"type\":\"message_stop\"}\n\n";

static void test_unknown_and_odd_fields(void)
{
    /* as sent, then with \r\n endings fed byte by byte: a chunk boundary between \r and \n
     * must not end the multi-line message_start early */
    size_t o;
    char *crlf = with_endings(ODD, "\r\n", &o);
    const char *bodies[] = {ODD, crlf};
    size_t lens[] = {strlen(ODD), o};
    for (int i = 0; i < 2; i++) {
        claude_response r;
        seen sn;
        error_info err;
        CHECK_INT(run(bodies[i], lens[i], (size_t)i, &r, &sn, &err), 0);
        CHECK_STR(r.id, "m");
        CHECK_INT(r.usage.input_tokens, 1);
        CHECK_STR(r.text, "Hi");
        CHECK_INT(sn.calls, 1); /* the initial text; the empty delta delivers nothing */
        response_free(&r);
    }
    free(crlf);
}

static void test_event_limit(void)
{
    claude_response r;
    response_init(&r);
    claude_stream *s = claude_stream_new(&r, NULL);
    CHECK(s != NULL);
    size_t chunk = 1u << 20;
    char *buf = malloc(chunk);
    if (!buf)
        abort();
    memset(buf, 'a', chunk);
    error_info err;
    int rc = claude_stream_feed(s, "event: content_block_delta\ndata: ", 33, &err);
    size_t fed = 0;
    while (rc == 0 && fed < 20u * chunk) {
        rc = claude_stream_feed(s, buf, chunk, &err);
        fed += chunk;
    }
    CHECK_INT(rc, -1);
    CHECK(fed <= 17u * chunk);
    CHECK_STR(err.type, "api_error");
    CHECK_STR(err.message, "SSE event larger than 16 MiB");
    claude_stream_free(s);
    response_free(&r);

    /* the limit counts all data lines of one event, not each line alone */
    response_init(&r);
    s = claude_stream_new(&r, NULL);
    memcpy(buf, "data: ", 6);
    buf[chunk - 1] = '\n';
    rc = 0;
    for (int i = 0; rc == 0 && i < 20; i++)
        rc = claude_stream_feed(s, buf, chunk, &err);
    CHECK_INT(rc, -1);
    CHECK_STR(err.message, "SSE event larger than 16 MiB");
    claude_stream_free(s);
    response_free(&r);
    free(buf);
}

static void test_misc(void)
{
    error_info err;
    CHECK_INT(claude_stream_feed(NULL, "x", 1, &err), -1);
    CHECK_INT(claude_stream_finish(NULL, &err), -1);
    claude_stream_free(NULL);
    CHECK(claude_stream_new(NULL, NULL) == NULL);
}

/* A hook that stops the stream: the rest of the chunk is not read, even in one piece. */
static int stop_after_first(void *ud) { return ((seen *)ud)->calls >= 1; }

static void test_stopped_by_owner(void)
{
    seen sn;
    memset(&sn, 0, sizeof sn);
    claude_response r;
    response_init(&r);
    error_info err = cleared_error();
    claude_stream_hooks hooks = {.on_start = on_start, .on_text = on_text, .stopped = stop_after_first, .ud = &sn};
    claude_stream *s = claude_stream_new(&r, &hooks);
    REQUIRE(s != NULL);
    CHECK_INT(claude_stream_feed(s, STREAM, strlen(STREAM), &err), 0);
    CHECK_INT(sn.calls, 1);
    CHECK_STR(sn.text, "Hello");
    CHECK_STR(r.text, "Hello");
    CHECK(r.stop_reason == NULL);
    claude_stream_free(s);
    response_free(&r);
}

/* A stream's blocks assemble into what the same answer in one piece parses into: text with the
 * citations its citations_delta events carry, a thinking block with its signature, a tool input
 * in pieces, a block that comes whole (redacted_thinking), the stop and the usage. The engine sends
 * a long answer as a stream and hands the caller this as the answer it asked for unstreamed. */
#define CITE(n) "{\"type\":\"web_search_result_location\",\"url\":\"https://e.x/" #n "\",\"cited_text\":\"c" #n "\"}"
static const char CITED[] =
    EV("{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"content\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}")
    EV("{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hm.\"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"sig1\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":0}")
    EV("{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"abc\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":1}")
    EV("{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"text\",\"text\":\"\",\"citations\":null}}")
    EV("{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"citations_delta\",\"citation\":" CITE(1) "}}")
    EV("{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"Paris \"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"citations_delta\",\"citation\":" CITE(2) "}}")
    EV("{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"is big.\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":2}")
    EV("{\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{}}}")
    EV("{\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": [1,\"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" 2]}\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":3}")
    EV("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":30}}")
    EV("{\"type\":\"message_stop\"}");
static const char CITED_WHOLE[] =
    "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\",\"content\":["
    "{\"type\":\"thinking\",\"thinking\":\"Hm.\",\"signature\":\"sig1\"},"
    "{\"type\":\"redacted_thinking\",\"data\":\"abc\"},"
    "{\"type\":\"text\",\"text\":\"Paris is big.\",\"citations\":[" CITE(1) "," CITE(2) "]},"
    "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{\"a\":[1,2]}}],"
    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":30}}";

static void test_stream_assembles_the_whole_answer(void)
{
    claude_response streamed, whole;
    seen sn;
    error_info err;
    CHECK_INT(run(CITED, strlen(CITED), 7, &streamed, &sn, &err), 0);
    response_init(&whole);
    CHECK_INT(claude_parse_message(CITED_WHOLE, strlen(CITED_WHOLE), &whole, &err), 0);
    CHECK_STR(response_content_json(&streamed), response_content_json(&whole));
    CHECK_STR(streamed.text, whole.text);
    CHECK_STR(streamed.text, "Paris is big.");
    CHECK_STR(streamed.stop_reason, whole.stop_reason);
    CHECK(streamed.stop_sequence == NULL && whole.stop_sequence == NULL);
    CHECK_INT(streamed.usage.input_tokens, whole.usage.input_tokens);
    CHECK_INT(streamed.usage.output_tokens, whole.usage.output_tokens);
    response_free(&streamed);
    response_free(&whole);
}

/* A text or thinking block that starts without its field gets it at its stop, from its deltas:
 * setting it replaced a member that was not there and the stream failed as out of memory. */
static const char NO_FIELD[] =
    EV("{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}")
    EV("{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hm.\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":0}")
    EV("{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\"}}")
    EV("{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}")
    EV("{\"type\":\"content_block_stop\",\"index\":1}")
    EV("{\"type\":\"message_stop\"}");

static void test_block_without_its_field(void)
{
    claude_response r;
    seen sn;
    error_info err;
    CHECK_INT(run(NO_FIELD, strlen(NO_FIELD), 0, &r, &sn, &err), 0);
    CHECK_STR(err.type, "");
    CHECK_STR(r.text, "Hi");
    CHECK_STR(response_content_json(&r), "[{\"type\":\"thinking\",\"thinking\":\"Hm.\"},{\"type\":\"text\",\"text\":\"Hi\"}]");
    response_free(&r);
}

int main(void)
{
    test_stopped_by_owner();
    test_whole_and_bytewise();
    test_thinking_and_broken_input();
    test_stream_assembles_the_whole_answer();
    test_block_without_its_field();
    test_line_endings();
    test_error_after_content();
    test_message_delta_replaces();
    test_cut_before_stop();
    test_second_stop();
    test_malformed();
    test_unknown_and_odd_fields();
    test_event_limit();
    test_misc();
    CHECK_DONE();
}
