/* A connection curl keeps idle between transfers stays in the loop's set (core/loop.c,
 * on_socket): the next transfer to the host takes it again through it, and when the server
 * closes it while idle, one turn takes it out, so the loop's descriptor does not stay readable
 * (a host waiting on nyx_fd would wake at once, forever). The server is the simulator on a
 * loopback port. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core/loop.h"
#include "nyx.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int finished;
static CURLcode last_result;

static void done(void *ud, CURLcode result)
{
    (void)ud;
    last_result = result;
    finished++;
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
    (void)data, (void)ud;
    return size * n;
}

/* Adds easy to the loop and turns it until the transfer ends (5 s at most); its result. */
static CURLcode run_to_end(event_loop *loop, CURL *easy)
{
    int before = finished;
    CHECK_INT(loop_add_transfer(loop, easy, done, NULL), 0);
    for (int i = 0; i < 500 && finished == before; i++)
        CHECK_INT(loop_poll(loop, 10), 0);
    CHECK_INT(finished, before + 1);
    return last_result;
}

/* One GET to the simulator through the loop; returns the connections it opened (-1 when it
 * failed). */
static long transfer(event_loop *loop, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models", port);
    CURL *easy = curl_easy_init();
    REQUIRE_OR(easy != NULL, -1);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    CHECK_INT(run_to_end(loop, easy), CURLE_OK);
    long opened = -1;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened);
    curl_easy_cleanup(easy);
    return last_result == CURLE_OK ? opened : -1;
}

/* A child forked while a transfer is on: it holds the transfer's socket as long as it lives. */
static pid_t child = -1;

static size_t fork_once(char *data, size_t size, size_t n, void *ud)
{
    (void)data, (void)ud;
    if (child < 0 && (child = fork()) == 0) {
        alarm(60); /* gone by itself should the test die before it kills it */
        for (;;)
            pause();
    }
    return size * n;
}

/* A GET whose connection curl closes once it is done (Connection: close, HTTP/1.0). */
static void transfer_closing(event_loop *loop, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models", port);
    CURL *easy = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Connection: close");
    REQUIRE(easy != NULL && h != NULL);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_0);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, fork_once);
    CHECK_INT(run_to_end(loop, easy), CURLE_OK);
    curl_easy_cleanup(easy);
    curl_slist_free_all(h);
}

static int readable(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN);
}

/* A socket curl let go of and then closed while a forked child still holds it: closing it did
 * not take it out of the set (the child's copy keeps it there), so the loop takes it out before
 * curl closes it, and the server's close leaves the loop's descriptor quiet. */
static void closed_while_forked(void)
{
    char *msg = NULL;
    nyx_sim *sim = nyx_sim_start(0, NULL, &msg);
    REQUIRE(sim != NULL);
    event_loop *loop = loop_new();
    REQUIRE(loop != NULL);
    transfer_closing(loop, nyx_sim_port(sim));
    CHECK(child > 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(loop_poll(loop, 0), 0);
    nyx_sim_stop(sim);
    for (int i = 0; i < 3; i++)
        CHECK_INT(loop_poll(loop, 0), 0);
    CHECK(!readable(loop_fd(loop), 0));
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    loop_free(loop);
}

/* A name lookup's socket (curl's threaded resolver) is closed by curl itself, not through
 * on_close, right after it is let go: its number, taken again by the next lookup, is a new
 * socket the set must watch, not an idle connection still registered. The first lookup is cut
 * short (1 ms) so that no connection takes the number in between; the second, of this
 * machine's name, wakes the loop's descriptor when it ends, found or not. */
static void lookup_after_lookup(int port)
{
    char host[256] = "localhost", url[320];
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "localhost");
    event_loop *loop = loop_new();
    CURL *first = curl_easy_init(), *second = curl_easy_init();
    REQUIRE(loop != NULL && first != NULL && second != NULL);
    curl_easy_setopt(first, CURLOPT_URL, "http://nyx-no-such-host.invalid/");
    curl_easy_setopt(first, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(first, CURLOPT_TIMEOUT_MS, 1L);
    CHECK(run_to_end(loop, first) != CURLE_OK);

    snprintf(url, sizeof url, "http://%s:%d/v1/models", host, port);
    curl_easy_setopt(second, CURLOPT_URL, url);
    curl_easy_setopt(second, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(second, CURLOPT_WRITEFUNCTION, discard);
    int before = finished;
    CHECK_INT(loop_add_transfer(loop, second, done, NULL), 0);
    CHECK_INT(loop_poll(loop, 0), 0); /* the lookup starts */
    for (int i = 0; i < 500 && finished == before; i++) {
        /* never, were the lookup's socket not watched (30 s: a name not in the hosts file
         * waits on DNS) */
        CHECK(readable(loop_fd(loop), 30000));
        CHECK_INT(loop_poll(loop, 0), 0);
    }
    CHECK_INT(finished, before + 1);
    curl_easy_cleanup(first);
    curl_easy_cleanup(second);
    loop_free(loop);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *msg = NULL;
    nyx_sim *sim = nyx_sim_start(0, NULL, &msg);
    CHECK(sim != NULL);
    if (!sim) {
        fprintf(stderr, "nyx_sim_start: %s\n", msg ? msg : "failed");
        nyx_free(msg);
        CHECK_DONE();
    }
    event_loop *loop = loop_new();
    CHECK(loop != NULL);
    int port = nyx_sim_port(sim);

    CHECK_INT((int)transfer(loop, port), 1);
    /* the connection went idle between the two, and the second found it */
    CHECK_INT((int)transfer(loop, port), 0);
    CHECK(!readable(loop_fd(loop), 0));

    /* The server closes the idle connection: the loop's descriptor turns readable, and one turn
     * takes the socket out. */
    nyx_sim_stop(sim);
    CHECK(readable(loop_fd(loop), 5000));
    CHECK_INT(loop_poll(loop, 0), 0);
    CHECK(!readable(loop_fd(loop), 0));

    loop_free(loop);

    closed_while_forked();
    sim = nyx_sim_start(0, NULL, &msg);
    CHECK(sim != NULL);
    if (sim) {
        lookup_after_lookup(nyx_sim_port(sim));
        nyx_sim_stop(sim);
    }
    curl_global_cleanup();
    CHECK_DONE();
}
