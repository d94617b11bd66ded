/* The calls' curl handles are kept and reused (core/easy_pool.c): calls one after another go
 * out on one handle, and what reaches the server is each call's own request, never anything of
 * the call the handle served before: its headers, its body, its timeout. A server on a loopback
 * port records what arrives. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core/easy_pool.h"
#include "core/engine.h"
#include "nyx.h"
#include "sim_engine.h"
#include "sim/sim_mhd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEEN 8

/* What one request carried. */
typedef struct seen {
    char tag[32];   /* x-call-tag, "" when absent */
    char other[32]; /* x-other, "" when absent */
    long content_length;
    char body[512]; /* its start */
    size_t body_len;
} seen;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static seen log_[MAX_SEEN];
static int nseen;

static const char reply[] =
    "{\"id\":\"msg_reuse\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
    "\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}";

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t size)
{
    const char *v = sim_mhd_load(NULL)->lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, size, "%s", v ? v : "");
}

/* Gathers the body, then records the request and answers; a request whose prompt says "slow"
 * is answered after 1.5 s. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version;
    const sim_mhd *m = sim_mhd_load(NULL);
    seen *s = *state;
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return MHD_NO;
        copy_header(c, "x-call-tag", s->tag, sizeof s->tag);
        copy_header(c, "x-other", s->other, sizeof s->other);
        const char *cl = m->lookup_connection_value(c, MHD_HEADER_KIND, "content-length");
        s->content_length = cl ? atol(cl) : -1;
        *state = s;
        return MHD_YES;
    }
    if (*size) {
        size_t room = sizeof s->body - 1 - (s->body_len < sizeof s->body - 1 ? s->body_len : sizeof s->body - 1);
        size_t n = *size < room ? *size : room;
        memcpy(s->body + (s->body_len < sizeof s->body - 1 ? s->body_len : sizeof s->body - 1), data, n);
        s->body_len += *size;
        *size = 0;
        return MHD_YES;
    }
    if (strstr(s->body, "slow")) {
        struct timespec t = {1, 500000000L};
        nanosleep(&t, NULL);
    }
    pthread_mutex_lock(&lock);
    if (nseen < MAX_SEEN)
        log_[nseen++] = *s;
    pthread_mutex_unlock(&lock);
    free(s);
    *state = NULL;
    struct MHD_Response *r = m->create_response_from_buffer(sizeof reply - 1, (void *)reply, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    m->add_response_header(r, "content-type", "application/json");
    enum MHD_Result rc = m->queue_response(c, 200, r);
    m->destroy_response(r);
    return rc;
}

static const char script[] =
    "local nyx = require 'nyx'\n"
    "local m = 'claude-sonnet-4-5'\n"
    "assert(nyx.call{ model = m, prompt = 'first first first first', max_tokens = 5, timeout = 1,\n"
    "                 headers = { ['x-call-tag'] = 'one', ['x-other'] = 'a' } })\n"
    "assert(nyx.call{ model = m, prompt = 'second, slow', max_tokens = 6 })\n"
    "assert(nyx.call{ model = m, prompt = 'third', max_tokens = 7, headers = { ['x-other'] = 'c' } })\n";

int main(void)
{
    const char *why = NULL;
    const sim_mhd *m = sim_mhd_load(&why);
    if (!m) {
        printf("ok - SKIP: %s\n", why ? why : "libmicrohttpd cannot be loaded");
        return 0;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = m->start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                                           NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                           MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d)
        CHECK_DONE();
    const union MHD_DaemonInfo *di = m->get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", di ? (unsigned)di->port : 0u);

    nyx_engine *e = open_anthropic_at(url, "reuse-key");
    CHECK(e != NULL);
    if (!e) {
        m->stop_daemon(d);
        CHECK_DONE();
    }
    CHECK_INT(nyx_load_string(e, script, "=reuse"), NYX_OK);
    CHECK_INT(run_all(e), NYX_OK);

    /* One call at a time: each took the handle the one before gave back. */
    CHECK_INT((int)easy_pool_idle(e->provider.easies), 1);

    CHECK_INT(nseen, 3);
    if (nseen == 3) {
        CHECK_STR(log_[0].tag, "one");
        CHECK_STR(log_[0].other, "a");
        CHECK_CONTAINS(log_[0].body, "first first");
        /* the second call's own request: no header of the first, its own body whole, and the
         * first call's 1 s timeout gone (it is answered after 1.5 s) */
        CHECK_STR(log_[1].tag, "");
        CHECK_STR(log_[1].other, "");
        CHECK_CONTAINS(log_[1].body, "second, slow");
        CHECK(strstr(log_[1].body, "first") == NULL);
        CHECK_CONTAINS(log_[1].body, "\"max_tokens\":6");
        CHECK_STR(log_[2].tag, "");
        CHECK_STR(log_[2].other, "c");
        CHECK_CONTAINS(log_[2].body, "third");
        for (int i = 0; i < 3; i++)
            CHECK_INT((int)log_[i].content_length, (int)log_[i].body_len);
    }
    nyx_close(e);
    m->stop_daemon(d);
    CHECK_DONE();
}
