/* A client of the simulator over HTTP (libcurl) for its tests: a request, its response's
 * status, headers and body, and values read from a JSON body by path. */
#ifndef NYX_TEST_SIM_CLIENT_H
#define NYX_TEST_SIM_CLIENT_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY "test-key"

static char base_url[64]; /* http://127.0.0.1:PORT of the server the requests go to */

/* A response; zero it before its first use (each request frees the body of the one before). */
typedef struct resp {
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    char head[8192];
    size_t hlen;
    double secs;
} resp;

static inline size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t add = sz * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

static inline size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t add = sz * n;
    if (r->hlen + add < sizeof r->head) {
        memcpy(r->head + r->hlen, p, add);
        r->hlen += add;
        r->head[r->hlen] = '\0';
    }
    return add;
}

enum { NO_KEY = 1, BAD_KEY = 2, NO_VERSION = 4 };

typedef struct request {
    const char *method, *path, *body;
    int flags;
    long timeout_ms;
} request;

static inline CURL *make_easy(const request *q, resp *r, struct curl_slist **hs)
{
    CURL *c = curl_easy_init();
    char url[sizeof base_url + 1024]; /* the address and any path a test asks for */
    snprintf(url, sizeof url, "%s%s", base_url, q->path);
    free(r->body); /* a resp is reused: its last body goes */
    memset(r, 0, sizeof *r);
    *hs = NULL;
    if (!(q->flags & NO_KEY))
        *hs = curl_slist_append(*hs, q->flags & BAD_KEY ? "x-api-key: wrong" : "x-api-key: " KEY);
    if (!(q->flags & NO_VERSION))
        *hs = curl_slist_append(*hs, "anthropic-version: 2023-06-01");
    *hs = curl_slist_append(*hs, "content-type: application/json");
    *hs = curl_slist_append(*hs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hs);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    if (q->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms ? q->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static inline void finish_easy(CURL *c, resp *r, struct curl_slist *hs)
{
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->secs);
    curl_easy_cleanup(c);
    curl_slist_free_all(hs);
}

static inline void http(const request *q, resp *r)
{
    struct curl_slist *hs;
    CURL *c = make_easy(q, r, &hs);
    r->rc = curl_easy_perform(c);
    finish_easy(c, r, hs);
}

static inline void post(const char *path, const char *body, resp *r)
{
    request q = {"POST", path, body, 0, 0};
    http(&q, r);
}

static inline void resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* The value of a response header (case-insensitive name), or NULL. */
static inline const char *header(const resp *r, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    for (const char *line = r->head; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(end - v) < n - 1 ? (size_t)(end - v) : n - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        line = end + 2;
    }
    return NULL;
}

static inline cJSON *json_of(const resp *r) { return r->body ? cJSON_Parse(r->body) : NULL; }

/* The item at "a.b.c" in o, or NULL. */
static inline const cJSON *at(const cJSON *o, const char *path)
{
    char key[64];
    for (const char *p = path; o && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        p += n + (p[n] == '.');
    }
    return o;
}

static inline long long num(const cJSON *o, const char *path)
{
    o = at(o, path);
    return o && cJSON_IsNumber(o) ? (long long)o->valuedouble : -999999;
}

static inline const char *str(const cJSON *o, const char *path)
{
    o = at(o, path);
    return o && cJSON_IsString(o) ? o->valuestring : NULL;
}

#endif
