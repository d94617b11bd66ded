/* nyx prune on a SQLite file (store_prune): N + N/10 calls logged as nyx logs them (a 15 KB
 * system prompt shared by a thousand calls at a time, stored once, a question and an answer of
 * their own), then the first N pruned while another process logs a call every 2 ms. Prints the
 * prune's wall time, its longest single write (the write lock held), the longest the other
 * process waited to log one call, and the pages the prune freed. --short: N = 2,000.
 * --by-hand: the same rows deleted as README asked before nyx prune, one DELETE and the
 * purge of the parts, for comparison. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "store/store.h"

#define T0 1764064800.0

static char *system_prompt(int k)
{
    char *s = malloc(15 * 1024 + 64);
    if (!s)
        return NULL;
    int n = snprintf(s, 64, "System prompt %d. ", k);
    memset(s + n, 'x', 15 * 1024 - (size_t)n);
    s[15 * 1024] = '\0';
    return s;
}

static interaction_rec record(const char *id, double t, const char *request, const char *response)
{
    interaction_rec it;
    memset(&it, 0, sizeof it);
    it.id = id;
    it.created_at = t;
    it.model_requested = it.model_served = "claude-haiku-5-5";
    it.provider = "anthropic";
    it.usage.input_tokens = 40;
    it.usage.output_tokens = 120;
    it.usage.cache_read_input_tokens = 3900;
    it.has_cost = 1;
    it.cost_usd = 0.0011;
    it.cost_without_cache_usd = 0.0042;
    it.attempts = 1;
    it.attempts_json = "[{\"status\":200,\"ms\":640}]";
    it.status = "ok";
    it.stop_reason = "end_turn";
    it.ttfb_ms = 120;
    it.latency_ms = 640;
    it.prompt_text = request;
    it.response_text = response;
    return it;
}

static long long pragma(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The other process: a call logged every 2 ms until SIGTERM; writes the longest wait (us) to fd. */
static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void logger(const char *path, int fd)
{
    signal(SIGTERM, on_term);
    error_info err;
    error_clear(&err);
    store_db *s = store_open_opts(path, NULL, &err);
    int64_t longest = 0, n = 0, failed = 0;
    char id[64];
    while (s && !stop) {
        snprintf(id, sizeof id, "live-%lld", (long long)n++);
        interaction_rec it = record(id, clock_wall_s(), "{\"messages\":[]}", "live answer");
        int64_t t0 = clock_now_us();
        if (store_log_interaction(s, &it, &err) != 0)
            failed++;
        int64_t us = clock_now_us() - t0;
        if (us > longest)
            longest = us;
        struct timespec ts = {0, 2000000L};
        nanosleep(&ts, NULL);
    }
    store_close(s);
    long long out[3] = {longest, n, failed};
    if (write(fd, out, sizeof out) != (ssize_t)sizeof out)
        _exit(1);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--logger") == 0)
        logger(argv[2], atoi(argv[3])); /* a process of its own: no connection crosses a fork */
    int n = argc > 1 && strcmp(argv[1], "--short") == 0 ? 2000 : 100000;
    char dir[] = "/tmp/nyx-bench-prune.XXXXXX", path[128];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/prune.db", dir);
    error_info err;
    error_clear(&err);
    store_db *s = store_open_opts(path, NULL, &err);
    if (!s) {
        fprintf(stderr, "bench_prune: %s\n", err.message);
        return 1;
    }
    char *sys = NULL, *request = NULL, id[32], response[512];
    int total = n + n / 10, rc = 0;
    memset(response, 'r', sizeof response - 1);
    response[sizeof response - 1] = '\0';
    for (int i = 0; i < total && rc == 0; i++) {
        if (i % 1000 == 0) {
            free(sys);
            free(request);
            sys = system_prompt(i / 1000);
            request = sys ? malloc(strlen(sys) + 256) : NULL;
            if (!request) {
                rc = -1;
                break;
            }
            rc = store_batch_begin(s, &err);
        }
        snprintf(request, strlen(sys) + 256,
                 "{\"model\":\"claude-haiku-5-5\",\"max_tokens\":300,\"system\":[{\"type\":\"text\","
                 "\"text\":\"%s\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"Question number %d?\"}]}",
                 sys, i);
        snprintf(id, sizeof id, "call-%07d", i);
        interaction_rec it = record(id, T0 + i, request, response);
        if (rc == 0)
            rc = store_log_interaction(s, &it, &err);
        if (rc == 0 && (i % 1000 == 999 || i == total - 1))
            rc = store_batch_commit(s, &err);
    }
    free(sys);
    free(request);
    if (rc != 0) {
        fprintf(stderr, "bench_prune: %s\n", err.message);
        store_close(s);
        return 1;
    }
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    long long page = pragma(db, "PRAGMA page_size"), pages = pragma(db, "PRAGMA page_count"),
              free_before = pragma(db, "PRAGMA freelist_count");

    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        char fd[16];
        snprintf(fd, sizeof fd, "%d", fds[1]);
        execl("/proc/self/exe", argv[0], "--logger", path, fd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    struct timespec settle = {0, 200000000L}; /* the logger opens its store and logs a few */
    nanosleep(&settle, NULL);
    store_pruned p;
    memset(&p, 0, sizeof p);
    int64_t t0 = clock_now_us();
    if (argc > 1 && strcmp(argv[argc - 1], "--by-hand") == 0) {
        /* What README asked before nyx prune: one DELETE, then the parts no recipe names (the
         * one statement store_content_purge ran), each one write. */
        char del[128];
        snprintf(del, sizeof del, "DELETE FROM llm_interactions WHERE created_at < %.1f", T0 + n);
        rc = sqlite3_exec(db, del, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
        p.interactions = sqlite3_changes(db);
        double first = (double)(clock_now_us() - t0) / 1000.0;
        int64_t t1 = clock_now_us();
        if (rc == 0)
            rc = sqlite3_exec(db,
                              "DELETE FROM llm_content WHERE hash NOT IN"
                              " (SELECT json_extract(j.value, '$.ref') FROM llm_interactions AS i,"
                              " json_each(i.request_parts) AS j"
                              " WHERE i.request_parts IS NOT NULL AND j.type = 'object')",
                              NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
        long long parts = sqlite3_changes(db);
        double second = (double)(clock_now_us() - t1) / 1000.0;
        p.parts = parts;
        p.longest_write_ms = first > second ? first : second;
        if (rc != 0)
            snprintf(err.message, sizeof err.message, "%s", sqlite3_errmsg(db));
    } else {
        rc = store_prune(s, T0 + n, 0, 0, &p, &err);
    }
    double ms = (double)(clock_now_us() - t0) / 1000.0;
    kill(child, SIGTERM);
    long long live[3] = {0, 0, 0};
    ssize_t got = read(fds[0], live, sizeof live);
    waitpid(child, NULL, 0);
    if (rc != 0 || got != (ssize_t)sizeof live) {
        fprintf(stderr, "bench_prune: %s\n", rc ? err.message : "the logger did not answer");
        rc = 1;
    } else {
        long long free_after = pragma(db, "PRAGMA freelist_count");
        printf("prune_rows: %lld of %d\n", p.interactions, total);
        printf("prune_parts: %lld (%lld bytes)\n", p.parts, p.part_bytes);
        printf("prune_text_bytes: %lld\n", p.interaction_bytes);
        printf("prune_ms: %.0f\n", ms);
        printf("prune_longest_write_ms: %.1f\n", p.longest_write_ms);
        printf("prune_logger_calls: %lld (%lld failed)\n", live[1], live[2]);
        printf("prune_logger_longest_wait_ms: %.1f\n", (double)live[0] / 1000.0);
        printf("prune_file_bytes: %lld\n", pages * page);
        printf("prune_freed_bytes: %lld\n", (free_after - free_before) * page);
        rc = live[2] != 0;
    }
    sqlite3_close(db);
    store_close(s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_prune: could not remove %s\n", dir);
    return rc;
}
