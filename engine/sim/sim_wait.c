/* The waiting connections (sim_wait.h): a list under a lock, one thread sleeping until the
 * earliest deadline or the next look at the clients. The lock is taken before libmicrohttpd's
 * own in both directions (suspend from the handler, resume from here), never after it. */
#define _POSIX_C_SOURCE 200809L
#include "sim_wait.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "base/array.h"
#include "base/clock.h"
#include "sim_http.h"

#define PEER_SLICE_US 50000 /* how often a waiting request checks its client is still there */

typedef struct waiting {
    struct MHD_Connection *c;
    int fd;
    int64_t deadline_us;
    int *outcome;
} waiting;

struct sim_waits {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    pthread_t thread;
    int started, stopping;
    waiting *w;
    size_t n, cap;
};

/* 1 when the peer closed its end (or the socket failed). */
static int peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc = poll(&p, 1, 0);
    if (rc <= 0)
        return 0;
    if (p.revents & (POLLERR | POLLNVAL))
        return 1;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK);
    if (n == 0)
        return 1;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* Resumes every wait that is over (all of them when stopping); looks at the clients when
 * look is set. Called locked. */
static void settle(sim_waits *ws, int64_t now, int look)
{
    size_t kept = 0;
    for (size_t i = 0; i < ws->n; i++) {
        waiting *x = &ws->w[i];
        int outcome = 1;
        if (ws->stopping)
            outcome = -1;
        else if (now >= x->deadline_us)
            outcome = 0;
        else if (look && x->fd >= 0 && peer_gone(x->fd))
            outcome = -1;
        if (outcome == 1) {
            ws->w[kept++] = *x;
            continue;
        }
        *x->outcome = outcome;
        mhd()->resume_connection(x->c);
    }
    ws->n = kept;
}

static void *run(void *arg)
{
    sim_waits *ws = arg;
    int64_t next_look = clock_now_us() + PEER_SLICE_US;
    if (pthread_mutex_lock(&ws->mu) != 0)
        return NULL;
    for (;;) {
        int64_t now = clock_now_us();
        int look = now >= next_look;
        if (look)
            next_look = now + PEER_SLICE_US;
        settle(ws, now, look);
        if (ws->stopping)
            break;
        int w;
        if (!ws->n) {
            w = pthread_cond_wait(&ws->cv, &ws->mu);
            next_look = clock_now_us() + PEER_SLICE_US;
        } else {
            int64_t until = next_look;
            for (size_t i = 0; i < ws->n; i++)
                if (ws->w[i].deadline_us < until)
                    until = ws->w[i].deadline_us;
            struct timespec ts = {.tv_sec = (time_t)(until / 1000000),
                                  .tv_nsec = (long)(until % 1000000) * 1000};
            w = pthread_cond_timedwait(&ws->cv, &ws->mu, &ts);
        }
        if (w != 0 && w != ETIMEDOUT && w != EINTR) {
            ws->stopping = 1; /* cannot sleep: end every wait rather than spin */
            settle(ws, clock_now_us(), 0);
            break;
        }
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

sim_waits *sim_waits_start(error_info *err)
{
    sim_waits *ws = calloc(1, sizeof *ws);
    if (!ws) {
        error_set(err, "out_of_memory", 0, "sim: out of memory");
        return NULL;
    }
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&ws->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (ok && pthread_mutex_init(&ws->mu, NULL) != 0) {
        pthread_cond_destroy(&ws->cv);
        ok = 0;
    }
    if (ok && pthread_create(&ws->thread, NULL, run, ws) != 0) {
        pthread_mutex_destroy(&ws->mu);
        pthread_cond_destroy(&ws->cv);
        ok = 0;
    }
    if (!ok) {
        free(ws);
        error_set(err, "internal", 0, "sim: could not start the thread that ends waits");
        return NULL;
    }
    ws->started = 1;
    return ws;
}

int sim_waits_add(sim_waits *ws, struct MHD_Connection *c, int fd, int64_t deadline_us,
                  int *outcome)
{
    if (!ws || pthread_mutex_lock(&ws->mu) != 0)
        return -1;
    waiting *nw = ws->stopping ? NULL : array_room(ws->w, ws->n, &ws->cap, sizeof *nw, 16);
    if (!nw) {
        pthread_mutex_unlock(&ws->mu);
        return -1;
    }
    ws->w = nw;
    mhd()->suspend_connection(c); /* before it is listed: only a suspended one is resumed */
    ws->w[ws->n++] = (waiting){.c = c, .fd = fd, .deadline_us = deadline_us, .outcome = outcome};
    pthread_cond_signal(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    return 0;
}

void sim_waits_stop(sim_waits *ws)
{
    if (!ws || !ws->started)
        return;
    if (pthread_mutex_lock(&ws->mu) == 0) {
        ws->stopping = 1;
        pthread_cond_signal(&ws->cv);
        pthread_mutex_unlock(&ws->mu);
    }
    pthread_join(ws->thread, NULL);
    ws->started = 0;
}

void sim_waits_free(sim_waits *ws)
{
    if (!ws)
        return;
    sim_waits_stop(ws);
    pthread_mutex_destroy(&ws->mu);
    pthread_cond_destroy(&ws->cv);
    free(ws->w);
    free(ws);
}
