/* The engine's event loop: libcurl's multi interface, timers and extra descriptors, driven one
 * bounded turn at a time. Callbacks run on the loop's thread, never inside curl. */
#ifndef NYX_LOOP_H
#define NYX_LOOP_H

#include <curl/curl.h>
#include <stdint.h>

typedef struct event_loop event_loop;
typedef struct loop_timer loop_timer;
typedef void (*loop_fn)(void *ud);
typedef void (*loop_transfer_fn)(void *ud, CURLcode result);

event_loop *loop_new(void);
void loop_free(event_loop *loop);
/* The most connections open to one host at once (0: no limit); transfers past it wait for
 * one (net_host_connections says why). Returns 0 or -1. */
int loop_set_host_connections(event_loop *loop, long max);
/* The most connections open at once to all hosts (0: no limit; conn_limit.h says why there is
 * one). Transfers past it wait inside curl for a connection; curl 7.88 counts their timeout
 * from when they were handed to it, and acts on it once they have one. Returns 0 or -1. */
int loop_set_total_connections(event_loop *loop, long max);
long loop_max_connections(const event_loop *loop); /* as set; 0: no limit */
/* Whether the connections open (their sockets, opened and not yet closed) are at that limit, so
 * that a new transfer waits for one: odd when they are now, and changed since an earlier mark
 * if they have reached it or fallen below it since. A mark is even and unchanged only when they
 * were below the limit all along. */
uint64_t loop_connections_mark(const event_loop *loop);
/* 1 when there are more transfers than the connections loop_set_total_connections allows: the
 * last ones wait in curl for a connection to come free. */
int loop_over_connections(const event_loop *loop);

/* Adds a transfer; done runs once it completes (it is already removed from the multi). */
int loop_add_transfer(event_loop *loop, CURL *easy, loop_transfer_fn done, void *ud);
/* As loop_add_transfer, for housekeeping (telemetry export) that must not keep the loop busy:
 * loop_pending does not count it. */
int loop_add_transfer_background(event_loop *loop, CURL *easy, loop_transfer_fn done, void *ud);
/* Removes a transfer without calling its done function. */
void loop_remove_transfer(event_loop *loop, CURL *easy);

/* Runs fn after delay_s; the handle is valid until it fires or is cancelled. */
loop_timer *loop_timer_add(event_loop *loop, double delay_s, loop_fn fn, void *ud);
void loop_timer_cancel(event_loop *loop, loop_timer *t);
/* As loop_timer_add, for housekeeping that must not keep the loop busy: loop_pending does
 * not count it. */
loop_timer *loop_timer_add_background(event_loop *loop, double delay_s, loop_fn fn, void *ud);

/* Runs fn at the end of the current turn (or the next one), outside any callback. */
int loop_defer(event_loop *loop, loop_fn fn, void *ud);

/* Watches fd for readability; fn runs when it is readable. */
int loop_watch_fd(event_loop *loop, int fd, loop_fn fn, void *ud);
void loop_unwatch_fd(event_loop *loop, int fd);

/* A descriptor that changes (a database connection that reconnects): each turn asks fd()
 * for the descriptor to watch (-1: none) and whether to watch it for writing; ready() runs
 * when it is ready, and every turn while busy() > 0, which loop_pending() counts. */
typedef struct loop_source {
    int (*fd)(void *ud, int *want_write);
    void (*ready)(void *ud);
    int (*busy)(void *ud);
    void *ud;
} loop_source;
int loop_add_source(event_loop *loop, const loop_source *src);

/* One turn: waits at most timeout_ms. Returns 0, or -1 if curl failed. */
int loop_poll(event_loop *loop, int timeout_ms);
/* A turn that starts no more work (timers, deferred functions, sockets, finished transfers)
 * once budget_us have passed since it began, leaving the rest for the next turn (loop_timeout_ms
 * is 0 then); the first piece of work always runs. budget_us 0: no budget. For a host's frame. */
int loop_poll_budget(event_loop *loop, int timeout_ms, int budget_us);
/* 1 once the budget of the turn under way is spent (0 in a turn without one): work that comes
 * in pieces stops there and defers the rest. It asks after each piece it has done, so it makes
 * progress; the budget counts from the turn's start even when that work is the turn's first. */
int loop_turn_over(const event_loop *loop);
/* 1 in a turn with a budget (loop_poll_budget's budget_us > 0): what measures its work for the
 * estimates does so only then. */
int loop_turn_budgeted(const event_loop *loop);
/* 1 if the budget of the turn under way will be spent us microseconds from now (0 in a turn
 * without one): work whose next piece ends with a step it cannot split (a group commit's
 * commit) stops before the piece that would take the frame past its budget. */
int loop_turn_over_in(const event_loop *loop, int64_t us);
/* 1 if a piece of work of us microseconds may start in the turn under way: it fits in the
 * budget left, or the turn has no budget, or no piece of work has run in it yet (so work that
 * waits for room still goes on, one piece a turn at least). Work asks before it starts; what
 * does not fit defers itself to the next turn. */
int loop_turn_room(const event_loop *loop, int64_t us);
/* loop_turn_room for work that may be put off once only: in a host where other work runs first
 * every frame (a timer that fires each frame), work whose estimate never fits what that leaves
 * would wait forever. *put_off holds the turn that put it off (0: none, as it starts); work put
 * off in an earlier turn goes now, whatever the room. Asked again in the turn that put it off,
 * it still waits (deferred functions run twice a turn). */
int loop_turn_room_once(const event_loop *loop, int64_t us, uint64_t *put_off);
/* For tests: what handing a transfer to curl is taken to cost, as loop_estimate keeps it. */
void loop_set_join_estimate(event_loop *loop, int64_t us);
/* Takes a measure of what a piece of work took (microseconds of CPU, clock_cpu_us) into an estimate
 * of what the next will, for loop_turn_room: the first measure as it is (an estimate of 0 has
 * none), then a quarter of the way each time, so that one piece stalled by a loaded machine
 * moves it little (and none by more than 2 ms). */
void loop_estimate(int64_t *estimate, int64_t us);
/* Work a host's frame does besides its own (the script host's collector): at the start of a
 * budgeted turn fn runs once (work that must not wait for spare time, kept small by fn; the
 * budget counts it, and the turn's first piece of its own work still runs), and at its end,
 * if that said there is more (fn returns 1), again and again while the time the budget leaves
 * lasts, for at most LOOP_IDLE_US of it, until it returns 0 (nothing more to do now). Turns
 * without a budget do not run it. fn NULL: none. */
#define LOOP_IDLE_US 100
void loop_set_idle(event_loop *loop, int (*fn)(void *ud), void *ud);

/* Whether curl's callbacks are running (inside curl_multi_socket_action): no transfer may be
 * removed or freed then, so whatever ends one must wait for after_perform. */
int loop_in_perform(const event_loop *loop);
/* fn runs each time curl returns from a turn's actions, before finished transfers are handed out. */
void loop_set_after_perform(event_loop *loop, loop_fn fn, void *ud);

/* One descriptor that is readable whenever the loop has something to do (a socket, a watched
 * file, a source): a host with its own poller watches it and calls loop_poll(loop, 0) then,
 * or when loop_timeout_ms() has passed. Valid until loop_free(). */
int loop_fd(const event_loop *loop);

/* Milliseconds until a timer or curl's own timeout is due (0: now), or -1 when none is. */
int loop_timeout_ms(const event_loop *loop);

/* Number of transfers and timers (not background ones) and deferred functions still pending. */
int loop_pending(const event_loop *loop);

#endif
