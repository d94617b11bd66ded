/* The /v1/messages/batches endpoints over HTTP: the same authentication and version checks as
 * /v1/messages, then the batch store (sim_batch.c) under the server lock. */
#define _POSIX_C_SOURCE 200809L
#include "sim_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

static enum MHD_Result send_body(call *k, int status, char *body, const char *ctype)
{
    sim_http_log(k, status);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = mhd()->create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r)
        free(body);
    return sim_http_respond(k, status, r, ctype);
}

enum MHD_Result sim_batch_api(sim_server *s, struct MHD_Connection *c, conn_ctx *x, const char *method,
                              const char *url)
{
    call k;
    enum MHD_Result out;
    if (sim_api_begin(&k, s, c, x, SIM_PATH_BATCHES, &out))
        return out;
    /* url is SIM_PATH_BATCHES, then "/ID", then "/results" or "/cancel". */
    const char *rest = url + strlen(SIM_PATH_BATCHES);
    char id[80] = "";
    const char *action = "";
    if (*rest == '/') {
        const char *slash = strchr(rest + 1, '/');
        size_t n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
        if (n == 0 || n >= sizeof id)
            return sim_http_fail(&k, 404, "not_found_error", "Not Found");
        memcpy(id, rest + 1, n);
        id[n] = '\0';
        action = slash ? slash + 1 : "";
    } else if (*rest) {
        return sim_http_fail(&k, 404, "not_found_error", "Not Found");
    }
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    int del = strcmp(method, "DELETE") == 0;
    const char *ctype = "application/json";
    char *body = NULL;
    int status = -1;
    if (pthread_mutex_lock(&s->mu) != 0)
        return MHD_NO;
    int64_t now = clock_now_us();
    double wall = clock_wall_s();
    if (!*id && post) {
        status = sim_batch_create(s, x->body.s, x->body.len, now, wall, &body);
    } else if (!*id && get) {
        const char *l = mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
        const char *after = mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after_id");
        char *end = NULL;
        long limit = l ? strtol(l, &end, 10) : 20;
        if (l && (!*l || *end))
            limit = 0; /* refused below as out of range */
        status = sim_batch_list(s, (int)(limit > 100000 ? 0 : limit), after, now, &body);
    } else if (*id && !*action && get) {
        status = sim_batch_get(s, id, now, &body);
    } else if (*id && !*action && del) {
        status = sim_batch_remove(s, id, now, &body);
    } else if (*id && strcmp(action, "results") == 0 && get) {
        status = sim_batch_results(s, id, now, &body);
        if (status == 200)
            ctype = "application/binary";
    } else if (*id && strcmp(action, "cancel") == 0 && post) {
        status = sim_batch_cancel(s, id, now, wall, &body);
    }
    pthread_mutex_unlock(&s->mu);
    if (status < 0)
        return sim_http_fail(&k, strcmp(action, "results") == 0 || strcmp(action, "cancel") == 0 || !*action ? 405 : 404,
                             "invalid_request_error", "Method Not Allowed");
    return send_body(&k, status, body, ctype);
}
