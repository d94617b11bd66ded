/* Response cache: lookup latency in memory and from SQLite, and the memory that cached
 * interactions take. */
#define _POSIX_C_SOURCE 200809L
#include "cache/response_cache.h"
#include "base/clock.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double p99(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[(int)(n * 0.99)];
}

int main(int argc, char **argv)
{
    int n = argc > 1 && strcmp(argv[1], "--short") == 0 ? 200 : 1000;
    char text[2048];
    for (size_t i = 0; i < sizeof text - 1; i++)
        text[i] = "a response of about two kilobytes, as a real answer is. "[i % 56];
    text[sizeof text - 1] = '\0';
    long before = rss_kb();
    response_cache *rc = response_cache_new((size_t)n, 3600);
    char (*keys)[RESPONSE_KEY_SIZE] = calloc((size_t)n, RESPONSE_KEY_SIZE);
    double *lat = calloc((size_t)n, sizeof *lat);
    if (!rc || !keys || !lat)
        return 1;
    for (int i = 0; i < n; i++) {
        claude_response r;
        response_init(&r);
        text[0] = (char)('A' + i % 26);
        r.text = text;
        r.text_len = sizeof text - 1;
        r.model = "claude-haiku-5-5";
        snprintf(keys[i], RESPONSE_KEY_SIZE, "%032x", i);
        if (response_cache_put(rc, keys[i], &r, 0) != 0)
            return 1;
    }
    long after = rss_kb();
    for (int i = 0; i < n; i++) {
        claude_response out;
        double t0 = clock_now_s();
        int hit = response_cache_get(rc, keys[(i * 7) % n], 1, &out);
        lat[i] = (clock_now_s() - t0) * 1e6;
        if (!hit)
            return 1;
        response_free(&out);
    }
    printf("response_cache_memory_p99_us: %.2f\n", p99(lat, n));
    printf("response_cache_rss_mb_per_1000_2kb: %.2f\n", (double)(after - before) / 1024.0 * 1000.0 / n);

    char dir[] = "/tmp/nyx-bench-rc-XXXXXX", path[128];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/rc.db", dir);
    error_info err;
    error_clear(&err);
    store_db *s = store_open_opts(path, NULL, &err);
    if (!s) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    claude_response r;
    response_init(&r);
    r.text = text;
    r.text_len = sizeof text - 1;
    char *json = response_to_json(&r);
    for (int i = 0; i < n; i++)
        if (store_cache_put(s, keys[i], "claude-haiku-5-5", json, 0, 3600, &err) != 0)
            return 1;
    for (int i = 0; i < n; i++) {
        char *got = NULL;
        double t0 = clock_now_s();
        store_cache_get(s, keys[(i * 7) % n], 1, &got, &err);
        lat[i] = (clock_now_s() - t0) * 1e6;
        if (!got)
            return 1;
        free(got);
    }
    printf("response_cache_sqlite_p99_us: %.2f\n", p99(lat, n));
    free(json);
    store_close(s);
    unlink(path);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    response_cache_free(rc);
    free(keys);
    free(lat);
    return 0;
}
