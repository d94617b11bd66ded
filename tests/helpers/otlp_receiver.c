/* A stand-in OTLP/HTTP collector for tests: listens on 127.0.0.1 (a free port, written to
 * DIR/port), answers every POST with 200 and keeps it as DIR/N.<last path segment>.json (the
 * body) and DIR/N.headers (its request headers, "name: value" lines). Runs until killed. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct upload {
    char *body;
    size_t len;
} upload;

static const char *dir;
static int seq, hang;

static enum MHD_Result keep_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    fprintf(cls, "%s: %s\n", key, value ? value : "");
    return MHD_YES;
}

static int write_file(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? rename(tmp, path) : -1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls;
    (void)version;
    upload *u = *con_cls;
    if (!u) {
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*size) {
        char *b = realloc(u->body, u->len + *size + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + u->len, data, *size);
        u->body = b;
        u->len += *size;
        u->body[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    if (hang)
        sleep(60); /* the one thread stops answering anyone */
    int n = ++seq; /* one connection at a time: the daemon has one thread */
    const char *signal = strrchr(url, '/');
    char path[4096];
    if (strcmp(method, "POST") == 0) {
        snprintf(path, sizeof path, "%s/%d.headers", dir, n);
        FILE *h = fopen(path, "w");
        if (h) {
            MHD_get_connection_values(conn, MHD_HEADER_KIND, keep_header, h);
            fclose(h);
        }
        snprintf(path, sizeof path, "%s/%d.%s.json", dir, n, signal && signal[1] ? signal + 1 : "root");
        write_file(path, u->body ? u->body : "", u->len);
    }
    static const char ok[] = "{}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)conn;
    (void)t;
    upload *u = *con_cls;
    if (u)
        free(u->body);
    free(u);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "hang") != 0)) {
        fprintf(stderr, "usage: otlp_receiver DIR [hang]\n");
        return 2;
    }
    dir = argv[1];
    hang = argc == 3;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
                                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "otlp_receiver: cannot listen\n");
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char path[4096], port[16];
    snprintf(path, sizeof path, "%s/port", dir);
    int n = snprintf(port, sizeof port, "%u\n", di ? di->port : 0);
    if (!di || !di->port || write_file(path, port, (size_t)n) != 0) {
        fprintf(stderr, "otlp_receiver: cannot publish the port\n");
        MHD_stop_daemon(d);
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
