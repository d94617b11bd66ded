#include "loop.h"

#include "clock.h"

#include <stdlib.h>
#include <string.h>

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
} transfer;

struct nyx_loop {
    CURLM *multi;
    int transfers;
    loop_timer **heap;
    size_t nheap, capheap, nbackground;
    deferred *defers;
    size_t ndefers, capdefers;
    watched *watches;
    size_t nwatches, capwatches;
    loop_source *sources;
    size_t nsources;
    int in_perform;       /* inside curl_multi_perform: curl's callbacks are running */
    loop_fn after_perform; /* runs once curl_multi_perform has returned */
    void *after_perform_ud;
};

nyx_loop *loop_new(void)
{
    nyx_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->multi = curl_multi_init();
    if (!loop->multi) {
        free(loop);
        return NULL;
    }
    /* Many calls to one host share connections instead of opening one each. */
    curl_multi_setopt(loop->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(loop->multi, CURLMOPT_MAXCONNECTS, 256L);
    return loop;
}

void loop_free(nyx_loop *loop)
{
    if (!loop)
        return;
    for (size_t i = 0; i < loop->nheap; i++)
        free(loop->heap[i]);
    free(loop->heap);
    free(loop->defers);
    free(loop->watches);
    free(loop->sources);
    curl_multi_cleanup(loop->multi);
    free(loop);
}

/* ---- transfers ---- */

int loop_add_transfer(nyx_loop *loop, CURL *easy, loop_transfer_fn done, void *ud)
{
    transfer *t = malloc(sizeof *t);
    if (!t)
        return -1;
    t->done = done;
    t->ud = ud;
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK ||
        curl_multi_add_handle(loop->multi, easy) != CURLM_OK) {
        free(t);
        return -1;
    }
    loop->transfers++;
    return 0;
}

static transfer *take_transfer(nyx_loop *loop, CURL *easy)
{
    transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    curl_multi_remove_handle(loop->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    if (t)
        loop->transfers--;
    return t;
}

void loop_remove_transfer(nyx_loop *loop, CURL *easy) { free(take_transfer(loop, easy)); }

/* ---- timers: a binary min-heap on due time ---- */

static void heap_swap(nyx_loop *loop, size_t a, size_t b)
{
    loop_timer *t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->index = a;
    loop->heap[b]->index = b;
}

static void heap_up(nyx_loop *loop, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->due_us <= loop->heap[i]->due_us)
            break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void heap_down(nyx_loop *loop, size_t i)
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

loop_timer *loop_timer_add(nyx_loop *loop, double delay_s, loop_fn fn, void *ud)
{
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 16;
        loop_timer **heap = realloc(loop->heap, cap * sizeof *heap);
        if (!heap)
            return NULL;
        loop->heap = heap;
        loop->capheap = cap;
    }
    loop_timer *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    if (delay_s < 0)
        delay_s = 0;
    t->due_us = nyx_now_us() + (int64_t)(delay_s * 1e6);
    t->background = 0;
    t->fn = fn;
    t->ud = ud;
    t->index = loop->nheap;
    loop->heap[loop->nheap++] = t;
    heap_up(loop, t->index);
    return t;
}

loop_timer *loop_timer_add_background(nyx_loop *loop, double delay_s, loop_fn fn, void *ud)
{
    loop_timer *t = loop_timer_add(loop, delay_s, fn, ud);
    if (t) {
        t->background = 1;
        loop->nbackground++;
    }
    return t;
}

static void heap_remove(nyx_loop *loop, loop_timer *t)
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

void loop_timer_cancel(nyx_loop *loop, loop_timer *t)
{
    if (!t)
        return;
    heap_remove(loop, t);
    free(t);
}

static void run_due_timers(nyx_loop *loop)
{
    int64_t now = nyx_now_us();
    while (loop->nheap > 0 && loop->heap[0]->due_us <= now) {
        loop_timer *t = loop->heap[0];
        heap_remove(loop, t);
        loop_fn fn = t->fn;
        void *ud = t->ud;
        free(t);
        fn(ud);
    }
}

/* ---- deferred functions ---- */

int loop_defer(nyx_loop *loop, loop_fn fn, void *ud)
{
    if (loop->ndefers == loop->capdefers) {
        size_t cap = loop->capdefers ? loop->capdefers * 2 : 16;
        deferred *d = realloc(loop->defers, cap * sizeof *d);
        if (!d)
            return -1;
        loop->defers = d;
        loop->capdefers = cap;
    }
    loop->defers[loop->ndefers].fn = fn;
    loop->defers[loop->ndefers].ud = ud;
    loop->ndefers++;
    return 0;
}

static void run_deferred(nyx_loop *loop)
{
    /* Functions deferred while these run wait for the next round, so a function that defers
     * itself cannot starve the loop. */
    size_t n = loop->ndefers;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        loop->defers[i].fn(loop->defers[i].ud);
    memmove(loop->defers, loop->defers + n, (loop->ndefers - n) * sizeof *loop->defers);
    loop->ndefers -= n;
}

/* ---- watched descriptors ---- */

int loop_watch_fd(nyx_loop *loop, int fd, loop_fn fn, void *ud)
{
    if (loop->nwatches == loop->capwatches) {
        size_t cap = loop->capwatches ? loop->capwatches * 2 : 4;
        watched *w = realloc(loop->watches, cap * sizeof *w);
        if (!w)
            return -1;
        loop->watches = w;
        loop->capwatches = cap;
    }
    loop->watches[loop->nwatches++] = (watched){fd, fn, ud};
    return 0;
}

void loop_unwatch_fd(nyx_loop *loop, int fd)
{
    for (size_t i = 0; i < loop->nwatches; i++) {
        if (loop->watches[i].fd == fd) {
            loop->watches[i] = loop->watches[--loop->nwatches];
            return;
        }
    }
}

int loop_add_source(nyx_loop *loop, const loop_source *src)
{
    loop_source *s = realloc(loop->sources, (loop->nsources + 1) * sizeof *s);
    if (!s)
        return -1;
    loop->sources = s;
    s[loop->nsources++] = *src;
    return 0;
}

static int sources_busy(const nyx_loop *loop)
{
    int n = 0;
    for (size_t i = 0; i < loop->nsources; i++)
        n += loop->sources[i].busy(loop->sources[i].ud);
    return n;
}

/* ---- one turn ---- */

static int wait_ms(nyx_loop *loop, int timeout_ms)
{
    if (loop->ndefers > 0)
        return 0;
    long wait = timeout_ms;
    if (loop->nheap > 0) {
        int64_t until = loop->heap[0]->due_us - nyx_now_us();
        long ms = until <= 0 ? 0 : (long)((until + 999) / 1000);
        if (ms < wait)
            wait = ms;
    }
    long curl_ms = -1;
    if (loop->transfers > 0 && curl_multi_timeout(loop->multi, &curl_ms) == CURLM_OK &&
        curl_ms >= 0 && curl_ms < wait)
        wait = curl_ms;
    return (int)wait;
}

static int finish_transfers(nyx_loop *loop)
{
    /* Collect first: done functions may add or remove handles, which invalidates messages. */
    enum { BATCH = 64 };
    CURL *easy[BATCH];
    CURLcode result[BATCH];
    int n = 0, left = 0;
    CURLMsg *msg;
    while (n < BATCH && (msg = curl_multi_info_read(loop->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            easy[n] = msg->easy_handle;
            result[n] = msg->data.result;
            n++;
        }
    }
    for (int i = 0; i < n; i++) {
        transfer *t = take_transfer(loop, easy[i]);
        if (!t)
            continue;
        loop_transfer_fn done = t->done;
        void *ud = t->ud;
        free(t);
        done(ud, result[i]);
    }
    return left > 0;
}

int loop_poll(nyx_loop *loop, int timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    run_due_timers(loop);
    run_deferred(loop);
    /* Answers a source already holds (read while the program waited on it elsewhere) are
     * handed out now, not after this turn's wait. */
    for (size_t i = 0; i < loop->nsources; i++)
        if (loop->sources[i].busy(loop->sources[i].ud) > 0)
            loop->sources[i].ready(loop->sources[i].ud);

    struct curl_waitfd fds[16];
    unsigned nfds = 0;
    for (size_t i = 0; i < loop->nwatches && nfds < 16; i++) {
        fds[nfds].fd = loop->watches[i].fd;
        fds[nfds].events = CURL_WAIT_POLLIN;
        fds[nfds].revents = 0;
        nfds++;
    }
    size_t first_source = nfds;
    for (size_t i = 0; i < loop->nsources && nfds < 16; i++) {
        int want_write = 0;
        int fd = loop->sources[i].fd(loop->sources[i].ud, &want_write);
        fds[nfds].fd = fd;
        fds[nfds].events = fd < 0 ? 0 : CURL_WAIT_POLLIN | (want_write ? CURL_WAIT_POLLOUT : 0);
        fds[nfds].revents = 0;
        nfds += fd >= 0;
    }
    /* With nothing to wait for, waiting would only stall the caller. */
    int wait = loop_pending(loop) > 0 || first_source > 0 ? wait_ms(loop, timeout_ms) : 0;
    int numfds = 0;
    if (loop->transfers > 0 || nfds > 0 || wait > 0) {
        if (curl_multi_poll(loop->multi, fds, nfds, wait, &numfds) != CURLM_OK)
            return -1;
    }
    for (size_t i = 0, k = first_source; i < loop->nsources; i++) {
        int want_write = 0;
        int fd = loop->sources[i].fd(loop->sources[i].ud, &want_write);
        int ready = k < nfds && fds[k].fd == fd && fds[k].revents;
        k += fd >= 0;
        if (ready || loop->sources[i].busy(loop->sources[i].ud) > 0)
            loop->sources[i].ready(loop->sources[i].ud);
    }
    for (unsigned i = 0; i < first_source; i++) {
        if (fds[i].revents) {
            for (size_t j = 0; j < loop->nwatches; j++)
                if (loop->watches[j].fd == fds[i].fd) {
                    loop->watches[j].fn(loop->watches[j].ud);
                    break;
                }
        }
    }
    if (loop->transfers > 0) {
        int running = 0;
        loop->in_perform = 1;
        CURLMcode mc = curl_multi_perform(loop->multi, &running);
        loop->in_perform = 0;
        if (loop->after_perform)
            loop->after_perform(loop->after_perform_ud);
        if (mc != CURLM_OK)
            return -1;
        while (finish_transfers(loop))
            ;
    }
    run_due_timers(loop);
    run_deferred(loop);
    return 0;
}

int loop_in_perform(const nyx_loop *loop) { return loop->in_perform; }

void loop_set_after_perform(nyx_loop *loop, loop_fn fn, void *ud)
{
    loop->after_perform = fn;
    loop->after_perform_ud = ud;
}

int loop_pending(const nyx_loop *loop)
{
    return loop->transfers + (int)(loop->nheap - loop->nbackground) + (int)loop->ndefers +
           sources_busy(loop);
}
