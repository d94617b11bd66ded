/* A game host's frame loop, as bench_engine and bench_pg measure it: nyx_poll(e, 0) once per
 * frame, then the rest of the frame (2 ms) for the host's own work. What a host cares about is
 * how long a poll kept its frame, at most and on average, once the engine has started. */
#ifndef NYX_BENCH_FRAMES_H
#define NYX_BENCH_FRAMES_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/clock.h"
#include "nyx.h"

typedef struct bench_frame_stats {
    double max_ms, mean_ms, p99_ms; /* over the frames after the first */
    double max_cpu_ms, p99_cpu_ms, mean_cpu_ms; /* the CPU they took: their time less what the machine
                                       took from them (on a loaded machine the two differ) */
    double first_ms;                /* the first frame, which starts the engine (opens the database) */
    int frames;
    int over_1ms, over_1ms_cpu; /* frames that took more than a millisecond (of time, of CPU) */
} bench_frame_stats;

static double bench_thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The 99th percentile of n samples (sorts them). */
static double bench_p99(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    int i = (int)((double)n * 0.99);
    return v[i < n ? i : n - 1];
}

/* Polls e frame by frame until its scripts finish or fail; returns nyx_poll's last code
 * (NYX_OK when they finished). */
static int bench_frames(nyx_engine *e, bench_frame_stats *st)
{
    double total = 0, total_cpu = 0;
    int rc, n = 0, cap = 0;
    double *ms_v = NULL, *cpu_v = NULL;
    *st = (bench_frame_stats){0};
    do {
        double t0 = clock_now_s(), c0 = bench_thread_cpu_ms();
        rc = nyx_poll(e, 0);
        double ms = (clock_now_s() - t0) * 1000, cpu = bench_thread_cpu_ms() - c0;
        if (st->frames == 0) {
            st->first_ms = ms;
        } else {
            st->max_ms = ms > st->max_ms ? ms : st->max_ms;
            st->max_cpu_ms = cpu > st->max_cpu_ms ? cpu : st->max_cpu_ms;
            st->over_1ms += ms > 1.0;
            st->over_1ms_cpu += cpu > 1.0;
            total += ms;
            total_cpu += cpu;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                double *a = realloc(ms_v, (size_t)cap * sizeof *a), *b = a ? realloc(cpu_v, (size_t)cap * sizeof *b) : NULL;
                if (a)
                    ms_v = a;
                if (!a || !b) {
                    fprintf(stderr, "bench_frames: out of memory\n");
                    exit(1);
                }
                cpu_v = b;
            }
            ms_v[n] = ms;
            cpu_v[n] = cpu;
            n++;
        }
        st->frames++;
        if (rc == NYX_AGAIN) {
            struct timespec frame = {0, 2 * 1000 * 1000};
            nanosleep(&frame, NULL);
        }
    } while (rc == NYX_AGAIN);
    st->mean_ms = st->frames > 1 ? total / (st->frames - 1) : 0;
    st->mean_cpu_ms = st->frames > 1 ? total_cpu / (st->frames - 1) : 0;
    st->p99_ms = bench_p99(ms_v, n);
    st->p99_cpu_ms = bench_p99(cpu_v, n);
    free(ms_v);
    free(cpu_v);
    return rc;
}

/* Prints the figures, each name led by prefix. */
static void bench_frames_print(const char *prefix, const bench_frame_stats *st)
{
    printf("%shost_frames: %d\n", prefix, st->frames);
    printf("%snyx_poll_0_mean_ms: %.3f\n", prefix, st->mean_ms);
    printf("%snyx_poll_0_p99_ms: %.3f\n", prefix, st->p99_ms);
    printf("%snyx_poll_0_max_ms: %.3f\n", prefix, st->max_ms);
    printf("%snyx_poll_0_mean_cpu_ms: %.3f\n", prefix, st->mean_cpu_ms);
    printf("%snyx_poll_0_p99_cpu_ms: %.3f\n", prefix, st->p99_cpu_ms);
    printf("%snyx_poll_0_max_cpu_ms: %.3f\n", prefix, st->max_cpu_ms);
    printf("%snyx_poll_0_frames_over_1ms: %d (of CPU: %d)\n", prefix, st->over_1ms, st->over_1ms_cpu);
    printf("%sfirst_frame_ms: %.3f (starts the engine)\n", prefix, st->first_ms);
}

#endif
