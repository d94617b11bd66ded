/* A game host's frame loop, as bench_engine and bench_pg measure it: nyx_poll(e, 0) once per
 * frame, then the rest of the frame (2 ms) for the host's own work. What a host cares about is
 * how long a poll kept its frame, at most and on average, once the engine has started. */
#ifndef NYX_BENCH_FRAMES_H
#define NYX_BENCH_FRAMES_H

#include <time.h>

#include "base/clock.h"
#include "nyx.h"

typedef struct bench_frame_stats {
    double max_ms, mean_ms; /* over the frames after the first */
    double max_cpu_ms;      /* the most CPU one of them took: its time less what the machine
                               took from it (on a loaded machine the two differ) */
    double first_ms;        /* the first frame, which starts the engine (opens the database) */
    int frames;
} bench_frame_stats;

static double bench_thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Polls e frame by frame until its scripts finish or fail; returns nyx_poll's last code
 * (NYX_OK when they finished). */
static int bench_frames(nyx_engine *e, bench_frame_stats *st)
{
    double total = 0;
    int rc;
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
            total += ms;
        }
        st->frames++;
        if (rc == NYX_AGAIN) {
            struct timespec frame = {0, 2 * 1000 * 1000};
            nanosleep(&frame, NULL);
        }
    } while (rc == NYX_AGAIN);
    st->mean_ms = st->frames > 1 ? total / (st->frames - 1) : 0;
    return rc;
}

#endif
