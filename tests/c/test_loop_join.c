/* Transfers join curl through the loop: a budgeted turn (a host's frame) starts them one at a
 * time while its budget lasts and leaves the rest for the next turn, saying so through
 * loop_timeout_ms; a turn without a budget starts all that wait; a transfer removed before it
 * joined is never started. A transfer's start is seen where curl opens its socket, which here
 * outlasts the budget by construction (it waits for the clock to pass it): no time is
 * asserted. The transfers go to a closed port on loopback and fail to connect. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "base/clock.h"
#include "core/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int opened, finished;
static int64_t open_us = 50; /* how long opening a socket takes */

static curl_socket_t open_slowly(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)ud;
    (void)purpose;
    int64_t until = clock_now_us() + open_us;
    while (clock_now_us() < until)
        ;
    opened++;
    return socket(addr->family, addr->socktype, addr->protocol);
}

static void done(void *ud, CURLcode result)
{
    (void)ud;
    (void)result;
    finished++;
}

/* A port on loopback where nothing listens. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static CURL *easy_to(int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    CURL *easy = curl_easy_init();
    if (easy) {
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_slowly);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    }
    return easy;
}

/* Other work of a frame, which runs before transfers join. */
static void other_work(void *ud) { (*(int *)ud)++; }

/* Turns the loop without a budget until every transfer has finished. */
static void drain(event_loop *loop)
{
    for (int i = 0; i < 500 && loop_pending(loop) > 0; i++)
        CHECK_INT(loop_poll(loop, 10), 0);
    CHECK_INT(loop_pending(loop), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    event_loop *loop = loop_new();
    int port = closed_port();
    CHECK(loop != NULL);
    CHECK(port > 0);
    if (!loop || port <= 0)
        return check_failures;
    CURL *easy[3];
    for (int i = 0; i < 3; i++) {
        easy[i] = easy_to(port);
        CHECK(easy[i] != NULL);
        CHECK_INT(loop_add_transfer(loop, easy[i], done, NULL), 0);
    }
    /* Added, not started: the loop has them, and wants a turn at once. */
    CHECK_INT(opened, 0);
    CHECK_INT(loop_pending(loop), 3);
    CHECK_INT(loop_timeout_ms(loop), 0);
    /* A frame whose budget the first start spends starts that one only (it started all three). */
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(opened, 1);
    CHECK_INT(loop_timeout_ms(loop), 0);
    /* Frame by frame the rest start, never two in one (a frame may spend its budget on a
     * socket that is ready first). */
    for (int i = 0; i < 1000 && opened < 3; i++) {
        int before = opened;
        CHECK_INT(loop_poll_budget(loop, 1, 10), 0);
        CHECK(opened - before <= 1);
    }
    CHECK_INT(opened, 3);
    drain(loop);
    CHECK_INT(finished, 3);

    /* Without a budget a turn starts every transfer waiting. */
    opened = finished = 0;
    for (int i = 0; i < 3; i++)
        CHECK_INT(loop_add_transfer(loop, easy[i], done, NULL), 0);
    CHECK_INT(loop_poll(loop, 0), 0);
    CHECK_INT(opened, 3);
    drain(loop);
    CHECK_INT(finished, 3);

    /* One removed while it waits is never started nor heard of; the others are. */
    opened = finished = 0;
    for (int i = 0; i < 3; i++)
        CHECK_INT(loop_add_transfer(loop, easy[i], done, NULL), 0);
    loop_remove_transfer(loop, easy[2]); /* the last of the queue */
    loop_remove_transfer(loop, easy[0]); /* the first */
    CHECK_INT(loop_pending(loop), 1);
    drain(loop);
    CHECK_INT(opened, 1);
    CHECK_INT(finished, 1);
    /* The queue's end was kept right: one added after those removals joins too. */
    CHECK_INT(loop_add_transfer(loop, easy[2], done, NULL), 0);
    drain(loop);
    CHECK_INT(opened, 2);
    CHECK_INT(finished, 2);

    /* A frame starts one only while it fits in what the budget leaves, and one put off goes
     * in the next frame whatever the room: with a start estimated at 10 s (more than the
     * budget), after other work that runs first every frame (as a timer firing each frame
     * does) none fits, so the first frame puts it off and the second starts it. */
    loop_free(loop);
    loop = loop_new();
    REQUIRE_OR(loop != NULL, check_failures);
    opened = 0;
    int others = 0;
    CHECK_INT(loop_add_transfer(loop, easy[0], done, NULL), 0);
    loop_set_join_estimate(loop, 10000000);
    CHECK_INT(loop_defer(loop, other_work, &others), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    CHECK_INT(others, 1);
    CHECK_INT(opened, 0);
    CHECK_INT(loop_timeout_ms(loop), 0);
    loop_set_join_estimate(loop, 10000000);
    CHECK_INT(loop_defer(loop, other_work, &others), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    CHECK_INT(others, 2);
    CHECK_INT(opened, 1);
    drain(loop);

    for (int i = 0; i < 3; i++)
        curl_easy_cleanup(easy[i]);
    loop_free(loop);
    curl_global_cleanup();
    return check_failures;
}
