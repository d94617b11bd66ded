#define _POSIX_C_SOURCE 200809L
#include "loop.h"
#include "base/array.h"

#include "base/clock.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Why the loop uses epoll and curl's socket interface: the work of a turn is then proportional
 * to the descriptors that are ready, not to the connections in flight, and everything the loop
 * waits on is one descriptor that a host with its own poller can watch (loop_fd). */

struct loop_timer {
    int64_t due_us;
    int background;
    size_t index; /* position in the heap */
    loop_fn fn;
    void *ud;
};

typedef struct deferred {
    loop_fn fn;
    void *ud;
} deferred;

typedef struct watched {
    int fd;
    loop_fn fn;
    void *ud;
} watched;

typedef struct transfer {
    loop_transfer_fn done;
    void *ud;
    int background;
    CURL *easy;
    int joined;            /* handed to curl (else it waits in the loop's queue) */
    int refused;           /* curl would not take it: its done function hears so */
    struct transfer *next; /* in the queue */
} transfer;

/* A source's descriptor as last registered with the epoll set. */
typedef struct source_state {
    int fd;
    int ready;
} source_state;

/* What an event of the outer epoll set stands for: the high half of its data. */
enum { TAG_CURL = 1, TAG_WATCH = 2, TAG_SOURCE = 3 };

struct event_loop {
    CURLM *multi;
    int transfers;
    long kept_connections; /* curl's connection cache: the most transfers at once, at least 256 */
    long max_connections;  /* loop_set_total_connections; 0: none */
    long open_sockets;     /* connections' sockets open now (FD_OPENED), for loop_connections_full */
    uint64_t times_full;   /* how often they have reached max_connections */
    int ep;              /* all the loop waits on: curl's set, watched descriptors, sources */
    int curl_ep;         /* the sockets curl asks to watch, with the events it wants */
    unsigned char *fds;  /* per descriptor of curl_ep: FD_* (on_socket) */
    size_t nfds;
    int64_t curl_due_us; /* when curl wants its timeout action; -1 = never */
    loop_timer **heap;
    size_t nheap, capheap, nbackground;
    int background_transfers; /* of transfers, those loop_pending does not count */
    deferred *defers;
    size_t ndefers, capdefers;
    watched *watches;
    size_t nwatches, capwatches;
    loop_source *sources;
    source_state *source_states;
    size_t nsources;
    int in_perform;        /* inside curl_multi_socket_action: curl's callbacks are running */
    loop_fn after_perform; /* runs once curl has returned from this turn's actions */
    void *after_perform_ud;
    int64_t deadline_us;   /* a budgeted turn stops starting work here (loop_poll_budget); 0: none */
    int more_done;         /* finished transfers a budgeted turn left for the next */
    int worked;            /* this turn has run a piece of work */
    transfer *queue;       /* transfers not yet handed to curl, oldest first (see join_queued) */
    int64_t join_us;       /* what handing one to curl took lately in a budgeted turn (loop_estimate) */
    uint64_t join_put_off; /* the turn that put off the queue's first (loop_turn_room_once) */
    uint64_t turn;         /* turns begun, from 1 */
    transfer **queue_tail;
    transfer *refused;     /* transfers curl would not take, for finish_transfers to hand out */
    int (*idle)(void *ud); /* loop_set_idle */
    int idle_more;         /* its piece at this turn's start said there is more */
    void *idle_ud;
};

/* A budgeted turn's time is up: what is left waits for the next turn. A turn always runs one
 * piece of work (a timer, a deferred function, a socket's action, a finished transfer, a
 * source's answers), so every turn makes progress. */
static int over(const event_loop *loop)
{
    return loop->deadline_us > 0 && loop->worked && clock_now_us() >= loop->deadline_us;
}

static uint64_t tag(int kind, uint32_t value) { return (uint64_t)kind << 32 | value; }

/* What the loop knows of a descriptor in curl's set: the events it is registered for, whether
 * curl let it go but it stays in the set, and whether it is a connection's socket, seen opened
 * by on_opened and closed by on_close (curl closes others, a name lookup's, on its own). */
enum { FD_IN = 1, FD_OUT = 2, FD_LET_GO = 4, FD_OPENED = 8 };

/* Sets what is known of a descriptor. Returns 0, or -1 when there is no room to remember it
 * (then nothing is known of it: 0). */
static int set_fd(event_loop *loop, curl_socket_t s, unsigned state)
{
    if (s < 0)
        return -1;
    size_t i = (size_t)s;
    if (i >= loop->nfds) {
        if (!state)
            return 0;
        size_t n = loop->nfds ? loop->nfds : 64;
        while (n <= i)
            n *= 2;
        unsigned char *more = realloc(loop->fds, n);
        if (!more)
            return -1;
        memset(more + loop->nfds, 0, n - loop->nfds);
        loop->fds = more;
        loop->nfds = n;
    }
    loop->fds[i] = (unsigned char)state;
    return 0;
}

static unsigned fd_state(const event_loop *loop, curl_socket_t s)
{
    return s >= 0 && (size_t)s < loop->nfds ? loop->fds[s] : 0u;
}

static int is_let_go(const event_loop *loop, curl_socket_t s) { return (fd_state(loop, s) & FD_LET_GO) != 0; }

/* curl says which events a socket needs; the set follows at once. A socket curl has not seen
 * since it joined the set carries the loop as its assigned pointer, so each change is one
 * epoll_ctl, not a failed one and a retry.
 *
 * A socket curl lets go of is mostly a connection going idle in curl's cache, which the next
 * transfer to the host takes again: it stays in the set, marked idle, with the events it was
 * registered for, so going idle and coming back cost no epoll_ctl when the next transfer waits
 * for the same events (an answer, as the last one did), one when it does not. A connection's
 * socket marked idle is still the one registered: closing it passes through on_close, which
 * takes it out of the set and forgets it. A name lookup's socket does not (curl closes it right
 * after letting it go), so its number coming back is registered again as any other. Should it turn ready while idle (the server closed
 * it), the turn takes it out of the set (socket_actions), where curl would not have watched it.
 * curl closes an idle socket without a word to the multi: on_close takes it out of the set first,
 * since closing it does not when another process holds it too (a child forked meanwhile), and
 * the set would go on reporting the server's close of a socket nobody can take out. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    event_loop *loop = userp;
    if (what == CURL_POLL_REMOVE) {
        /* A socket closed before this call has already left the set: nothing to undo. */
        if (set_fd(loop, s, fd_state(loop, s) | FD_LET_GO) != 0)
            epoll_ctl(loop->curl_ep, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    unsigned want = (what & CURL_POLL_IN ? FD_IN : 0u) | (what & CURL_POLL_OUT ? FD_OUT : 0u);
    unsigned was = fd_state(loop, s), opened = was & FD_OPENED;
    /* Idle, registered as wanted, and surely the same socket: one closed without on_close may
     * have left its number's state behind, and the number come back as a new socket. */
    if ((was & (FD_LET_GO | FD_OPENED)) == (FD_LET_GO | FD_OPENED) && (was & (FD_IN | FD_OUT)) == want) {
        set_fd(loop, s, want | opened);
        return socketp ? 0 : curl_multi_assign(loop->multi, s, loop) == CURLM_OK ? 0 : -1;
    }
    set_fd(loop, s, opened); /* until registered */
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = (want & FD_IN ? EPOLLIN : 0u) | (want & FD_OUT ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if ((socketp || (was & FD_LET_GO)) && epoll_ctl(loop->curl_ep, EPOLL_CTL_MOD, s, &ev) == 0) {
        set_fd(loop, s, want | opened);
        return socketp ? 0 : curl_multi_assign(loop->multi, s, loop) == CURLM_OK ? 0 : -1;
    }
    /* New to the set (or closed and its number reused behind curl's back). */
    if (epoll_ctl(loop->curl_ep, EPOLL_CTL_ADD, s, &ev) != 0 &&
        (errno != EEXIST || epoll_ctl(loop->curl_ep, EPOLL_CTL_MOD, s, &ev) != 0))
        return -1;
    set_fd(loop, s, want | opened);
    return curl_multi_assign(loop->multi, s, loop) == CURLM_OK ? 0 : -1;
}

/* curl has opened a connection's socket for one of the loop's transfers (CURLOPT_SOCKOPTFUNCTION):
 * the loop knows it then for one that on_close will see closed. */
static int on_opened(void *clientp, curl_socket_t s, curlsocktype purpose)
{
    (void)purpose;
    event_loop *loop = clientp;
    /* without room, nothing known: each change an epoll_ctl, and the socket not counted; a
     * number already marked was closed behind the loop's back, and is counted once */
    unsigned was = fd_state(loop, s);
    if (set_fd(loop, s, FD_OPENED) == 0 && !(was & FD_OPENED) && ++loop->open_sockets == loop->max_connections)
        loop->times_full++;
    return CURL_SOCKOPT_OK;
}

/* curl closes a socket of the loop's transfers (CURLOPT_CLOSESOCKETFUNCTION). */
static int on_close(void *clientp, curl_socket_t s)
{
    event_loop *loop = clientp;
    if (is_let_go(loop, s))
        epoll_ctl(loop->curl_ep, EPOLL_CTL_DEL, s, NULL);
    loop->open_sockets -= (fd_state(loop, s) & FD_OPENED) != 0;
    set_fd(loop, s, 0); /* its number may come back as another socket */
    return close(s);
}

/* curl's timer: it may not be acted on inside this callback, so the turn does it. Most often
 * curl asks for its action at once (a transfer added, a socket acted on), which is due whenever
 * the turn looks, with no need to read the clock. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    event_loop *loop = userp;
    loop->curl_due_us = timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0 : clock_now_us() + (int64_t)timeout_ms * 1000;
    return 0;
}

static int epoll_set(int ep, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(ep, op, fd, &ev);
}

event_loop *loop_new(void)
{
    event_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->curl_due_us = -1;
    loop->queue_tail = &loop->queue;
    loop->ep = epoll_create1(EPOLL_CLOEXEC);
    loop->curl_ep = epoll_create1(EPOLL_CLOEXEC);
    loop->multi = curl_multi_init();
    if (loop->ep < 0 || loop->curl_ep < 0 || !loop->multi ||
        epoll_set(loop->ep, EPOLL_CTL_ADD, loop->curl_ep, EPOLLIN, tag(TAG_CURL, 0)) != 0 ||
        curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop) != CURLM_OK ||
        curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
        curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop) != CURLM_OK) {
        loop_free(loop);
        return NULL;
    }
    /* Many calls to one host share connections instead of opening one each. */
    curl_multi_setopt(loop->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    loop->kept_connections = 256;
    curl_multi_setopt(loop->multi, CURLMOPT_MAXCONNECTS, loop->kept_connections);
    return loop;
}

int loop_set_host_connections(event_loop *loop, long max)
{
    return curl_multi_setopt(loop->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max) == CURLM_OK ? 0 : -1;
}

int loop_set_total_connections(event_loop *loop, long max)
{
    if (curl_multi_setopt(loop->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max) != CURLM_OK)
        return -1;
    loop->max_connections = max;
    return 0;
}

long loop_max_connections(const event_loop *loop) { return loop->max_connections; }

uint64_t loop_connections_mark(const event_loop *loop)
{
    return loop->times_full * 2 + (loop->max_connections > 0 && loop->open_sockets >= loop->max_connections);
}

int loop_over_connections(const event_loop *loop)
{
    return loop->max_connections > 0 && loop->transfers > loop->max_connections;
}

void loop_free(event_loop *loop)
{
    if (!loop)
        return;
    for (size_t i = 0; i < loop->nheap; i++)
        free(loop->heap[i]);
    free(loop->heap);
    free(loop->defers);
    free(loop->watches);
    free(loop->sources);
    free(loop->source_states);
    for (transfer **list[] = {&loop->queue, &loop->refused}, ***l = list; l < list + 2; l++)
        while (**l) {
            transfer *t = **l;
            **l = t->next;
            free(t);
        }
    /* Cleanup still reports sockets through on_socket: the sets close after it. */
    if (loop->multi)
        curl_multi_cleanup(loop->multi);
    if (loop->curl_ep >= 0)
        close(loop->curl_ep);
    free(loop->fds);
    if (loop->ep >= 0)
        close(loop->ep);
    free(loop);
}

/* ---- transfers ---- */

/* A transfer waits in the loop's queue until the loop drives curl, which takes it then: curl
 * starts every transfer it was given since its last action in one action (connects, sends
 * each request), so a frame that started many calls would pay for all their sends at once.
 * Joined one by one, a budgeted turn sends what its budget allows and leaves the rest. */
static int add_transfer(event_loop *loop, CURL *easy, loop_transfer_fn done, void *ud, int background)
{
    transfer *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->done = done;
    t->ud = ud;
    t->background = background;
    t->easy = easy;
    /* A connection's socket is seen opened by the transfer that opens it (on_opened), and closed
     * by that transfer's close function, whichever transfer closes it. */
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, on_opened) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_SOCKOPTDATA, loop) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, loop) != CURLE_OK) {
        free(t);
        return -1;
    }
    *loop->queue_tail = t;
    loop->queue_tail = &t->next;
    loop->transfers++;
    loop->background_transfers += background;
    /* curl counts the connections in use against its cache's size, and closes an idle one for
     * each that comes back past it: with more calls at once than the cache holds, the ones
     * finishing together lost their connections and the next calls opened them again (a TCP,
     * over the API a TLS handshake each: at 1,000 in flight, 768 reopened for 5,000 calls and
     * 230 us of CPU a call instead of 100). So it grows to the most transfers at once; idle
     * connections past what is needed die of age (curl's CURLOPT_MAXAGE_CONN) or the server. */
    if (loop->transfers > loop->kept_connections &&
        curl_multi_setopt(loop->multi, CURLMOPT_MAXCONNECTS, (long)loop->transfers) == CURLM_OK)
        loop->kept_connections = loop->transfers;
    return 0;
}

int loop_add_transfer(event_loop *loop, CURL *easy, loop_transfer_fn done, void *ud)
{
    return add_transfer(loop, easy, done, ud, 0);
}

int loop_add_transfer_background(event_loop *loop, CURL *easy, loop_transfer_fn done, void *ud)
{
    return add_transfer(loop, easy, done, ud, 1);
}

/* Takes t out of the list at head; returns the link that held it. */
static transfer **unlink_from(transfer **head, transfer *t)
{
    transfer **p = head;
    while (*p && *p != t)
        p = &(*p)->next;
    if (*p)
        *p = t->next;
    return p;
}

static transfer *take_transfer(event_loop *loop, CURL *easy)
{
    transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    if (t && t->refused) {
        unlink_from(&loop->refused, t);
    } else if (t && !t->joined) {
        transfer **p = unlink_from(&loop->queue, t);
        if (!*p)
            loop->queue_tail = p; /* it was the last */
    } else {
        curl_multi_remove_handle(loop->multi, easy);
    }
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    if (t) {
        loop->transfers--;
        loop->background_transfers -= t->background;
    }
    return t;
}

void loop_remove_transfer(event_loop *loop, CURL *easy) { free(take_transfer(loop, easy)); }

/* ---- timers: a binary min-heap on due time ---- */

static void heap_swap(event_loop *loop, size_t a, size_t b)
{
    loop_timer *t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->index = a;
    loop->heap[b]->index = b;
}

static void heap_up(event_loop *loop, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->due_us <= loop->heap[i]->due_us)
            break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void heap_down(event_loop *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->nheap && loop->heap[l]->due_us < loop->heap[m]->due_us)
            m = l;
        if (r < loop->nheap && loop->heap[r]->due_us < loop->heap[m]->due_us)
            m = r;
        if (m == i)
            return;
        heap_swap(loop, i, m);
        i = m;
    }
}

loop_timer *loop_timer_add(event_loop *loop, double delay_s, loop_fn fn, void *ud)
{
    loop_timer **heap = array_room(loop->heap, loop->nheap, &loop->capheap, sizeof *heap, 16);
    if (!heap)
        return NULL;
    loop->heap = heap;
    loop_timer *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    if (delay_s < 0)
        delay_s = 0;
    t->due_us = clock_now_us() + (int64_t)(delay_s * 1e6);
    t->background = 0;
    t->fn = fn;
    t->ud = ud;
    t->index = loop->nheap;
    loop->heap[loop->nheap++] = t;
    heap_up(loop, t->index);
    return t;
}

loop_timer *loop_timer_add_background(event_loop *loop, double delay_s, loop_fn fn, void *ud)
{
    loop_timer *t = loop_timer_add(loop, delay_s, fn, ud);
    if (t) {
        t->background = 1;
        loop->nbackground++;
    }
    return t;
}

static void heap_remove(event_loop *loop, loop_timer *t)
{
    size_t i = t->index;
    if (t->background)
        loop->nbackground--;
    loop->nheap--;
    if (i != loop->nheap) {
        heap_swap(loop, i, loop->nheap);
        heap_down(loop, i);
        heap_up(loop, i);
    }
}

void loop_timer_cancel(event_loop *loop, loop_timer *t)
{
    if (!t)
        return;
    heap_remove(loop, t);
    free(t);
}

static void run_due_timers(event_loop *loop)
{
    int64_t now = clock_now_us();
    while (loop->nheap > 0 && loop->heap[0]->due_us <= now && !over(loop)) {
        loop_timer *t = loop->heap[0];
        heap_remove(loop, t);
        loop_fn fn = t->fn;
        void *ud = t->ud;
        free(t);
        fn(ud);
        loop->worked = 1;
    }
}

/* ---- deferred functions ---- */

int loop_defer(event_loop *loop, loop_fn fn, void *ud)
{
    deferred *d = array_room(loop->defers, loop->ndefers, &loop->capdefers, sizeof *d, 16);
    if (!d)
        return -1;
    loop->defers = d;
    loop->defers[loop->ndefers].fn = fn;
    loop->defers[loop->ndefers].ud = ud;
    loop->ndefers++;
    return 0;
}

static void run_deferred(event_loop *loop)
{
    /* Functions deferred while these run wait for the next round, so a function that defers
     * itself cannot starve the loop. */
    size_t n = loop->ndefers, i = 0;
    if (n == 0)
        return;
    for (; i < n && !over(loop); i++) {
        loop->defers[i].fn(loop->defers[i].ud);
        loop->worked = 1;
    }
    memmove(loop->defers, loop->defers + i, (loop->ndefers - i) * sizeof *loop->defers);
    loop->ndefers -= i;
}

/* ---- watched descriptors ---- */

int loop_watch_fd(event_loop *loop, int fd, loop_fn fn, void *ud)
{
    watched *w = array_room(loop->watches, loop->nwatches, &loop->capwatches, sizeof *w, 4);
    if (!w)
        return -1;
    loop->watches = w;
    if (epoll_set(loop->ep, EPOLL_CTL_ADD, fd, EPOLLIN, tag(TAG_WATCH, (uint32_t)fd)) != 0)
        return -1;
    loop->watches[loop->nwatches++] = (watched){fd, fn, ud};
    return 0;
}

void loop_unwatch_fd(event_loop *loop, int fd)
{
    for (size_t i = 0; i < loop->nwatches; i++) {
        if (loop->watches[i].fd == fd) {
            epoll_ctl(loop->ep, EPOLL_CTL_DEL, fd, NULL);
            loop->watches[i] = loop->watches[--loop->nwatches];
            return;
        }
    }
}

int loop_add_source(event_loop *loop, const loop_source *src)
{
    source_state *st = realloc(loop->source_states, (loop->nsources + 1) * sizeof *st);
    if (!st)
        return -1;
    loop->source_states = st;
    loop_source *s = realloc(loop->sources, (loop->nsources + 1) * sizeof *s);
    if (!s)
        return -1;
    loop->sources = s;
    st[loop->nsources] = (source_state){-1, 0};
    s[loop->nsources++] = *src;
    return 0;
}

/* Registers each source's current descriptor. A descriptor may have been closed and its number
 * reused since the last turn (a reconnect), so it is set again every time, not only on change. */
static void sync_sources(event_loop *loop)
{
    for (size_t i = 0; i < loop->nsources; i++) {
        source_state *st = &loop->source_states[i];
        int want_write = 0;
        int fd = loop->sources[i].fd(loop->sources[i].ud, &want_write);
        if (st->fd >= 0 && st->fd != fd)
            epoll_ctl(loop->ep, EPOLL_CTL_DEL, st->fd, NULL);
        st->fd = -1;
        if (fd < 0)
            continue;
        uint32_t events = EPOLLIN | (want_write ? (uint32_t)EPOLLOUT : 0u);
        uint64_t data = tag(TAG_SOURCE, (uint32_t)i);
        if (epoll_set(loop->ep, EPOLL_CTL_MOD, fd, events, data) == 0 ||
            (errno == ENOENT && epoll_set(loop->ep, EPOLL_CTL_ADD, fd, events, data) == 0))
            st->fd = fd;
    }
}

static int sources_busy(const event_loop *loop)
{
    int n = 0;
    for (size_t i = 0; i < loop->nsources; i++)
        n += loop->sources[i].busy(loop->sources[i].ud);
    return n;
}

/* ---- one turn ---- */

/* Milliseconds until the next thing due (a timer, curl's timeout), at most timeout_ms. */
static int wait_ms(const event_loop *loop, int timeout_ms)
{
    if (loop->ndefers > 0 || loop->more_done || loop->queue || loop->refused)
        return 0;
    int64_t due = loop->nheap > 0 ? loop->heap[0]->due_us : -1;
    if (loop->transfers > 0 && loop->curl_due_us >= 0 && (due < 0 || loop->curl_due_us < due))
        due = loop->curl_due_us;
    if (due < 0)
        return timeout_ms;
    int64_t until = due - clock_now_us();
    int64_t ms = until <= 0 ? 0 : (until + 999) / 1000;
    return ms < timeout_ms ? (int)ms : timeout_ms;
}

/* Hands out finished transfers, one message at a time: its fields are copied before its done
 * function runs, which may add or remove handles (that invalidates the message). A budgeted
 * turn that runs out leaves the rest for the next. */
static void finish_transfers(event_loop *loop)
{
    int left = 0;
    CURLMsg *msg;
    loop->more_done = 0;
    while (loop->refused && !over(loop)) {
        transfer *t = loop->refused;
        CURL *easy = t->easy;
        take_transfer(loop, easy);
        loop_transfer_fn done = t->done;
        void *ud = t->ud;
        free(t);
        done(ud, CURLE_OUT_OF_MEMORY);
        loop->worked = 1;
    }
    for (;;) {
        if (over(loop)) {
            loop->more_done = 1; /* perhaps none: the next turn finds out */
            return;
        }
        if ((msg = curl_multi_info_read(loop->multi, &left)) == NULL)
            return;
        if (msg->msg == CURLMSG_DONE) {
            CURL *easy = msg->easy_handle;
            CURLcode result = msg->data.result;
            transfer *t = take_transfer(loop, easy);
            if (t) {
                loop_transfer_fn done = t->done;
                void *ud = t->ud;
                free(t);
                done(ud, result);
                loop->worked = 1;
            }
        }
    }
}

/* Hands curl the transfers waiting to join it. A budgeted turn (a host's frame) hands them one
 * at a time, each started by an action of its own, while its budget lasts: starting one is a
 * request sent, tens to hundreds of microseconds. Otherwise all go, for the timeout action
 * that follows (adding each asks curl for one) to start together. */
static CURLMcode join_queued(event_loop *loop, int *running)
{
    /* A budgeted turn starts one only while it fits: started at the budget's end, a request
     * sent took the frame 100-300 us past it. One put off goes in the next turn whatever the
     * room, or a timer firing every frame would hold it back forever. */
    while (loop->queue && loop_turn_room_once(loop, loop->join_us, &loop->join_put_off)) {
        transfer *t = loop->queue;
        if (!(loop->queue = t->next))
            loop->queue_tail = &loop->queue;
        if (curl_multi_add_handle(loop->multi, t->easy) != CURLM_OK) {
            t->refused = 1;
            t->next = loop->refused;
            loop->refused = t;
            continue;
        }
        t->joined = 1;
        t->next = NULL;
        if (loop_turn_budgeted(loop)) {
            loop->curl_due_us = -1;
            int64_t t0 = clock_cpu_us();
            CURLMcode mc = curl_multi_socket_action(loop->multi, CURL_SOCKET_TIMEOUT, 0, running);
            loop_estimate(&loop->join_us, clock_cpu_us() - t0);
            loop->worked = 1;
            if (mc != CURLM_OK)
                return mc;
        }
    }
    return CURLM_OK;
}

/* Hands curl the sockets that are ready, then its timeout when due. */
static CURLMcode socket_actions(event_loop *loop, int sockets_ready)
{
    int running = 0;
    if (sockets_ready) {
        struct epoll_event ev[256];
        int n = epoll_wait(loop->curl_ep, ev, 256, 0);
        for (int i = 0; i < n && !over(loop); i++) {
            if (is_let_go(loop, ev[i].data.fd)) { /* curl let it go (on_socket) */
                epoll_ctl(loop->curl_ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
                set_fd(loop, ev[i].data.fd, fd_state(loop, ev[i].data.fd) & FD_OPENED);
                continue;
            }
            int mask = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                       (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                       (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            CURLMcode mc = curl_multi_socket_action(loop->multi, ev[i].data.fd, mask, &running);
            loop->worked = 1;
            if (mc != CURLM_OK)
                return mc;
        }
    }
    CURLMcode mc = join_queued(loop, &running);
    if (mc != CURLM_OK)
        return mc;
    if (loop->curl_due_us >= 0 && (loop->curl_due_us == 0 || loop->curl_due_us <= clock_now_us()) && !over(loop)) {
        loop->curl_due_us = -1;
        return curl_multi_socket_action(loop->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    return CURLM_OK;
}

static int drive_curl(event_loop *loop, int sockets_ready)
{
    loop->in_perform = 1;
    CURLMcode mc = socket_actions(loop, sockets_ready);
    loop->in_perform = 0;
    if (loop->after_perform)
        loop->after_perform(loop->after_perform_ud);
    if (mc != CURLM_OK)
        return -1;
    finish_transfers(loop);
    return 0;
}

static void run_watch(event_loop *loop, int fd)
{
    for (size_t j = 0; j < loop->nwatches; j++)
        if (loop->watches[j].fd == fd) {
            loop->watches[j].fn(loop->watches[j].ud);
            return;
        }
}

/* The time a budgeted turn leaves goes to its idle work, so that work (the collector's) is
 * done in small pieces between frames' other work rather than in one piece inside it. Its
 * first piece runs in every budgeted turn, so frames that leave no time still make progress:
 * at the turn's start (run_idle_owed), where the budget counts it. At the end, once the turn's
 * other work had spent the budget, it added its whole length to the frame. */
static void run_idle_owed(event_loop *loop)
{
    if (loop->idle && loop->deadline_us > 0)
        loop->idle_more = loop->idle(loop->idle_ud);
}

static void run_idle(event_loop *loop)
{
    if (!loop->idle || loop->deadline_us <= 0 || !loop->idle_more)
        return;
    int64_t until = clock_now_us() + LOOP_IDLE_US;
    if (until > loop->deadline_us)
        until = loop->deadline_us;
    while (clock_now_us() < until && loop->idle(loop->idle_ud))
        ;
}

void loop_set_idle(event_loop *loop, int (*fn)(void *ud), void *ud)
{
    loop->idle = fn;
    loop->idle_ud = ud;
    loop->idle_more = 0;
}

int loop_poll(event_loop *loop, int timeout_ms) { return loop_poll_budget(loop, timeout_ms, 0); }

int loop_poll_budget(event_loop *loop, int timeout_ms, int budget_us)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    loop->deadline_us = budget_us > 0 ? clock_now_us() + budget_us : 0;
    loop->worked = 0;
    loop->turn++;
    run_idle_owed(loop); /* not counted as the turn's piece of work: the turn's own still runs */
    run_due_timers(loop);
    run_deferred(loop);
    /* Answers a source already holds (read while the program waited on it elsewhere) are
     * handed out now, not after this turn's wait. */
    for (size_t i = 0; i < loop->nsources && !over(loop); i++)
        if (loop->sources[i].busy(loop->sources[i].ud) > 0) {
            loop->sources[i].ready(loop->sources[i].ud);
            loop->worked = 1;
        }
    sync_sources(loop);

    /* With nothing to wait for, waiting would only stall the caller. */
    int wait = loop_pending(loop) > 0 || loop->nwatches > 0 ? wait_ms(loop, timeout_ms) : 0;
    struct epoll_event ev[16];
    int n = epoll_wait(loop->ep, ev, 16, wait);
    if (n < 0 && errno != EINTR)
        return -1;
    int curl_ready = 0;
    for (size_t i = 0; i < loop->nsources; i++)
        loop->source_states[i].ready = 0;
    for (int i = 0; i < n; i++) {
        uint32_t value = (uint32_t)ev[i].data.u64;
        switch ((int)(ev[i].data.u64 >> 32)) {
        case TAG_CURL: curl_ready = 1; break;
        case TAG_SOURCE:
            if (value < loop->nsources)
                loop->source_states[value].ready = 1;
            break;
        default: break;
        }
    }
    for (size_t i = 0; i < loop->nsources && !over(loop); i++)
        if (loop->source_states[i].ready || loop->sources[i].busy(loop->sources[i].ud) > 0) {
            loop->sources[i].ready(loop->sources[i].ud);
            loop->worked = 1;
        }
    for (int i = 0; i < n; i++)
        if ((int)(ev[i].data.u64 >> 32) == TAG_WATCH)
            run_watch(loop, (int)(uint32_t)ev[i].data.u64);
    /* curl's set may report an idle cached connection closing: hand it over even then, or the
     * readable set would wake every wait. */
    if ((loop->transfers > 0 || curl_ready || loop->more_done || loop->refused) && drive_curl(loop, curl_ready) != 0)
        return -1;
    run_due_timers(loop);
    run_deferred(loop);
    /* A host that waits on loop_fd() between turns must see the descriptors as they are now. */
    sync_sources(loop);
    run_idle(loop);
    loop->deadline_us = 0;
    return 0;
}

int loop_in_perform(const event_loop *loop) { return loop->in_perform; }

/* Asked from inside a piece of work, which has itself done a piece by then: the turn's first
 * piece of work is as bounded as the rest (a group commit, a database's answers). */
int loop_turn_over(const event_loop *loop) { return loop_turn_over_in(loop, 0); }

int loop_turn_budgeted(const event_loop *loop) { return loop->deadline_us > 0; }

int loop_turn_over_in(const event_loop *loop, int64_t us)
{
    return loop->deadline_us > 0 && clock_now_us() + (us > 0 ? us : 0) >= loop->deadline_us;
}

int loop_turn_room(const event_loop *loop, int64_t us) { return !loop->worked || !loop_turn_over_in(loop, us); }

int loop_turn_room_once(const event_loop *loop, int64_t us, uint64_t *put_off)
{
    if ((*put_off != 0 && *put_off != loop->turn) || loop_turn_room(loop, us)) {
        *put_off = 0;
        return 1;
    }
    if (*put_off == 0)
        *put_off = loop->turn;
    return 0;
}

void loop_set_join_estimate(event_loop *loop, int64_t us) { loop->join_us = us; }

/* A measure past this is a stall of the machine, not what the work costs. */
#define MEASURE_MAX_US 2000

void loop_estimate(int64_t *estimate, int64_t us)
{
    if (us > MEASURE_MAX_US)
        us = MEASURE_MAX_US;
    if (us < 1)
        us = 1; /* a piece shorter than the clock's tick: a measure all the same */
    *estimate = *estimate > 0 ? *estimate + (us - *estimate) / 4 : us;
}

void loop_set_after_perform(event_loop *loop, loop_fn fn, void *ud)
{
    loop->after_perform = fn;
    loop->after_perform_ud = ud;
}

int loop_fd(const event_loop *loop) { return loop->ep; }

int loop_timeout_ms(const event_loop *loop)
{
    int ms = wait_ms(loop, INT_MAX);
    return ms == INT_MAX ? -1 : ms;
}

int loop_pending(const event_loop *loop)
{
    return loop->transfers - loop->background_transfers + (int)(loop->nheap - loop->nbackground) + (int)loop->ndefers +
           sources_busy(loop);
}
