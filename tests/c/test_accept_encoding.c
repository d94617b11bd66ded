/* The Accept-Encoding header of a call (core/provider.c, net_accept_encoding) is the one libcurl
 * makes for CURLOPT_ACCEPT_ENCODING "", sent once, and a compressed answer is still decoded: nyx
 * puts the header in its own list so that libcurl does not format it twice for every request,
 * and keeps CURLOPT_ACCEPT_ENCODING set for the decoding. A server on a loopback port answers
 * every request with a gzip body and keeps what it received; plain libcurl's request is the
 * reference. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "nyx.h"
#include "sim_engine.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] =
    "{\"id\":\"msg_gzip\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
    "\"content\":[{\"type\":\"text\",\"text\":\"unpacked\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}";

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_le(unsigned char *p, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* reply as a gzip member (RFC 1952) holding one stored deflate block (RFC 1951): what a
 * server sends for Content-Encoding: gzip, made without a compressor. Returns its length. */
static size_t gzip_stored(unsigned char *out, const char *text, size_t n)
{
    static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    memcpy(out, head, sizeof head);
    unsigned char *p = out + sizeof head;
    *p++ = 1; /* the last block, stored */
    put_le(p, (uint32_t)n, 2);
    put_le(p + 2, (uint32_t)(~n & 0xffffu), 2);
    memcpy(p + 4, text, n);
    p += 4 + n;
    put_le(p, crc32_of((const unsigned char *)text, n), 4);
    put_le(p + 4, (uint32_t)n, 4);
    return (size_t)(p + 8 - out);
}

static int listener = -1;
static char seen[2][4096]; /* the head of each request received, by arrival */
static int nseen;

/* Reads one request (head and body, by its Content-Length), keeps its head, answers with the
 * gzip reply and closes the connection. */
static void serve_one(int fd)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof buf - 1) {
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0)
            return;
        len += (size_t)r;
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
            size_t body = 0;
            for (const char *p = strstr(buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n"))
                if (strncasecmp(p + 2, "content-length:", 15) == 0)
                    body = (size_t)atol(p + 17);
            if (len >= (size_t)(end + 4 - buf) + body)
                break;
        }
    }
    if (!end)
        return;
    if (nseen < 2)
        snprintf(seen[nseen++], sizeof seen[0], "%.*s", (int)(end + 2 - buf), buf);
    unsigned char body[sizeof reply + 64];
    size_t n = gzip_stored(body, reply, sizeof reply - 1);
    char head[256];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Encoding: gzip\r\n"
                     "request-id: req_gzip\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     n);
    if (send(fd, head, (size_t)h, MSG_NOSIGNAL) == h)
        (void)!send(fd, body, n, MSG_NOSIGNAL);
}

static void *server(void *ud)
{
    (void)ud;
    for (int i = 0; i < 2; i++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            return NULL;
        serve_one(fd);
        close(fd);
    }
    return NULL;
}

/* The value of the request head's Accept-Encoding lines, and how many there were. */
static int accept_encoding(const char *head, char *value, size_t size)
{
    int n = 0;
    value[0] = '\0';
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "accept-encoding:", 16) != 0)
            continue;
        const char *v = p + 18, *e = strstr(v, "\r\n");
        while (*v == ' ')
            v++;
        snprintf(value, size, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
        n++;
    }
    return n;
}

static size_t keep(char *data, size_t size, size_t n, void *ud)
{
    char *out = ud;
    size_t have = strlen(out), len = size * n;
    if (have + len < 1024) {
        memcpy(out + have, data, len);
        out[have + len] = '\0';
    }
    return len;
}

static const char script[] =
    "local nyx = require 'nyx'\n"
    "local r = assert(nyx.call{ model = 'claude-sonnet-4-5', prompt = 'pack it', max_tokens = 5 })\n"
    "assert(r.text == 'unpacked', 'the gzip answer was not decoded: ' .. tostring(r.text))\n"
    "assert(r.request_id == 'req_gzip', tostring(r.request_id))\n";

int main(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    CHECK(bind(listener, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(listener, 4) == 0 &&
          getsockname(listener, (struct sockaddr *)&sa, &sl) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, server, NULL) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));

    /* The reference: libcurl's own header for CURLOPT_ACCEPT_ENCODING "", and its decoding. */
    char curl_body[1024] = "", messages[96];
    snprintf(messages, sizeof messages, "%s/v1/messages", url);
    CURL *h = curl_easy_init();
    CHECK(h != NULL);
    if (h) {
        curl_easy_setopt(h, CURLOPT_URL, messages);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, curl_body);
        CHECK_INT((int)curl_easy_perform(h), (int)CURLE_OK);
        curl_easy_cleanup(h);
    }
    CHECK_STR(curl_body, reply);

    nyx_engine *e = open_anthropic_at(url, "gzip-key");
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(nyx_load_string(e, script, "=gzip"), NYX_OK);
        CHECK_INT(run_all(e), NYX_OK);
        nyx_close(e);
    }
    shutdown(listener, SHUT_RDWR); /* a server still waiting (a request that never came) stops */
    pthread_join(th, NULL);
    close(listener);

    CHECK_INT(nseen, 2);
    char theirs[256], ours[256];
    CHECK_INT(accept_encoding(seen[0], theirs, sizeof theirs), 1);
    CHECK_CONTAINS(theirs, "gzip");
    /* once, and word for word libcurl's */
    CHECK_INT(accept_encoding(seen[1], ours, sizeof ours), 1);
    CHECK_STR(ours, theirs);
    CHECK_DONE();
}
