/* A game host's frame loop, as bench_engine and bench_pg measure it: nyx_poll(e, 0) once per
 * frame, then the rest of the frame (2 ms) for the host's own work. What a host cares about is
 * how long a poll kept its frame, at most and on average, once the engine has started: in wall
 * time (what the host's loop feels) and in the thread's CPU.
 *
 * Beside it, the machine's own floor, measured the same way in the same run: a canary frame that
 * runs no engine, only a fixed piece of arithmetic as long as nyx's mean frame, as many frames
 * at the same pace. On a virtual machine the thread's CPU clock itself jumps now and then (the
 * hypervisor stops the guest; the kernel counts the stop as the thread's CPU), so a frame of
 * nothing can pass a millisecond too; what nyx's frames exceed beyond the canary's is nyx's.
 * Past its CPU, a frame's wall time grows only when its thread leaves the core: because it waited
 * (a voluntary context switch, which nyx_poll(e, 0) must never make) or because the machine
 * took the core for another thread (an involuntary one); both are counted.
 *
 * Linux: the includer defines _GNU_SOURCE first, for RUSAGE_THREAD. */
#ifndef NYX_BENCH_FRAMES_H
#define NYX_BENCH_FRAMES_H

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
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
    int slept;                  /* frames in which the thread waited (left the core of itself) */
    int over_1ms_preempted;     /* of the frames over a millisecond of time, those in which the
                                   machine took the core away */
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

/* One frame's work: NYX_AGAIN while there are more frames to run. */
typedef int (*bench_frame_fn)(void *ud);

/* Runs frame after frame, 2 ms apart, until one returns something other than NYX_AGAIN; returns
 * that code. */
static int bench_frame_loop(bench_frame_fn frame, void *ud, bench_frame_stats *st)
{
    double total = 0, total_cpu = 0;
    int rc, n = 0, cap = 0;
    double *ms_v = NULL, *cpu_v = NULL;
    *st = (bench_frame_stats){0};
    do {
        struct rusage r0, r1;
        if (getrusage(RUSAGE_THREAD, &r0) != 0)
            r0 = (struct rusage){0};
        double t0 = clock_now_s(), c0 = bench_thread_cpu_ms();
        rc = frame(ud);
        double ms = (clock_now_s() - t0) * 1000, cpu = bench_thread_cpu_ms() - c0;
        if (getrusage(RUSAGE_THREAD, &r1) != 0)
            r1 = r0;
        if (st->frames == 0) {
            st->first_ms = ms;
        } else {
            st->max_ms = ms > st->max_ms ? ms : st->max_ms;
            st->max_cpu_ms = cpu > st->max_cpu_ms ? cpu : st->max_cpu_ms;
            st->over_1ms += ms > 1.0;
            st->over_1ms_cpu += cpu > 1.0;
            st->slept += r1.ru_nvcsw != r0.ru_nvcsw;
            st->over_1ms_preempted += ms > 1.0 && r1.ru_nivcsw != r0.ru_nivcsw;
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
            struct timespec rest = {0, 2 * 1000 * 1000};
            nanosleep(&rest, NULL);
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

static int bench_poll_frame(void *e)
{
    return nyx_poll(e, 0);
}

/* The frame thread runs as a game's or an audio host's does: on a core of its own, at real-time
 * priority, and the work around it on the others: the in-process simulator's thread, which the
 * engine starts and which inherits this thread's cores at that moment, and PostgreSQL's server
 * (bench/run.sh starts it on them with taskset). Without it a frame's wall time counts the
 * simulator answering fifty calls and the database serving them on the same two cores, and any
 * process of the machine's given the core for a scheduler tick (frames of 4-5 ms, every one
 * the core taken by another thread, while their CPU stayed under 0.8 ms). bench_frames_set_aside,
 * before the engine starts: this thread on every core but the first; bench_frames then takes
 * the first alone (SCHED_FIFO when allowed: root or CAP_SYS_NICE). What held is printed. */
static int bench_frames_core = -1; /* the core set aside for the frames, or -1 */
static const char *bench_frames_setup = "the cores shared with the simulator and the database (one core)";

static void bench_frames_set_aside(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2)
        return;
    for (int c = 0; c < CPU_SETSIZE && bench_frames_core < 0; c++)
        if (CPU_ISSET(c, &set))
            bench_frames_core = c; /* the first core this thread may use: the frames' */
    CPU_CLR(bench_frames_core, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "bench_frames: cannot set the threads' cores aside; frames share them\n");
        bench_frames_core = -1;
    }
}

static void bench_frames_take_core(void)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    if (bench_frames_core < 0)
        return;
    CPU_SET(bench_frames_core, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {
        bench_frames_setup = "the cores shared with the simulator and the database (none could be set apart)";
        return;
    }
    struct sched_param sp = {.sched_priority = 1};
    bench_frames_setup = sched_setscheduler(0, SCHED_FIFO, &sp) == 0
                             ? "a core of its own at real-time priority (SCHED_FIFO 1); the simulator and the database on the others"
                             : "a core of its own at normal priority (SCHED_FIFO not allowed); the simulator and the database on the others";
}

/* Polls e frame by frame until its scripts finish or fail; returns nyx_poll's last code
 * (NYX_OK when they finished). */
static int bench_frames(nyx_engine *e, bench_frame_stats *st)
{
    bench_frames_take_core();
    return bench_frame_loop(bench_poll_frame, e, st);
}

/* The canary's arithmetic: a xorshift chain, each step depending on the last, which no
 * compiler can shorten; the result goes to a volatile so the loop is kept. */
static volatile uint64_t bench_spin_sink;

static void bench_spin(uint64_t n)
{
    uint64_t x = 88172645463325252u;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    bench_spin_sink = x;
}

typedef struct bench_canary {
    uint64_t spins; /* steps of arithmetic a frame */
    int left;       /* frames still to run, this one included */
} bench_canary;

static int bench_canary_frame(void *ud)
{
    bench_canary *c = ud;
    bench_spin(c->spins);
    return --c->left > 0 ? NYX_AGAIN : NYX_OK;
}

/* The machine's floor for the frames of nyx: as many canary frames, at the same pace, each
 * the arithmetic nyx's mean frame took in CPU. The steps a millisecond are timed first, five
 * times; the fastest is the machine undisturbed (a stall only ever adds time). */
static void bench_frames_floor(const bench_frame_stats *nyx, bench_frame_stats *canary)
{
    const uint64_t probe = 200000;
    double best = 0;
    for (int i = 0; i < 5; i++) {
        double c0 = bench_thread_cpu_ms();
        bench_spin(probe);
        double ms = bench_thread_cpu_ms() - c0;
        if (i == 0 || ms < best)
            best = ms;
    }
    double per_ms = best > 0 ? (double)probe / best : (double)probe;
    bench_canary c = {(uint64_t)(nyx->mean_cpu_ms * per_ms), nyx->frames > 0 ? nyx->frames : 1};
    bench_frame_loop(bench_canary_frame, &c, canary);
}

/* Prints the figures, each name led by prefix: nyx's frames, the floor's beside them, and
 * how many of nyx's frames past a millisecond the floor does not account for (nyx's count
 * less the floor's, at least 0). */
static void bench_frames_print(const char *prefix, const bench_frame_stats *st, const bench_frame_stats *canary)
{
    printf("%sframe_thread: %s\n", prefix, bench_frames_setup);
    printf("%shost_frames: %d\n", prefix, st->frames);
    printf("%snyx_poll_0_mean_ms: %.3f\n", prefix, st->mean_ms);
    printf("%snyx_poll_0_p99_ms: %.3f\n", prefix, st->p99_ms);
    printf("%snyx_poll_0_max_ms: %.3f\n", prefix, st->max_ms);
    printf("%snyx_poll_0_mean_cpu_ms: %.3f\n", prefix, st->mean_cpu_ms);
    printf("%snyx_poll_0_p99_cpu_ms: %.3f\n", prefix, st->p99_cpu_ms);
    printf("%snyx_poll_0_max_cpu_ms: %.3f\n", prefix, st->max_cpu_ms);
    printf("%snyx_poll_0_frames_over_1ms: %d (of CPU: %d)\n", prefix, st->over_1ms, st->over_1ms_cpu);
    printf("%snyx_poll_0_frames_over_1ms_preempted: %d (the core taken by another thread)\n", prefix,
           st->over_1ms_preempted);
    printf("%snyx_poll_0_frames_slept: %d (the poll waited)\n", prefix, st->slept);
    printf("%sfirst_frame_ms: %.3f (starts the engine)\n", prefix, st->first_ms);
    printf("%sfloor_frames: %d (no engine: arithmetic of nyx's mean frame, at the same pace)\n", prefix,
           canary->frames);
    printf("%sfloor_mean_ms: %.3f\n", prefix, canary->mean_ms);
    printf("%sfloor_p99_ms: %.3f\n", prefix, canary->p99_ms);
    printf("%sfloor_max_ms: %.3f\n", prefix, canary->max_ms);
    printf("%sfloor_mean_cpu_ms: %.3f\n", prefix, canary->mean_cpu_ms);
    printf("%sfloor_p99_cpu_ms: %.3f\n", prefix, canary->p99_cpu_ms);
    printf("%sfloor_max_cpu_ms: %.3f\n", prefix, canary->max_cpu_ms);
    printf("%sfloor_frames_over_1ms: %d (of CPU: %d)\n", prefix, canary->over_1ms, canary->over_1ms_cpu);
    printf("%sfloor_frames_over_1ms_preempted: %d\n", prefix, canary->over_1ms_preempted);
    int beyond = st->over_1ms - canary->over_1ms, beyond_cpu = st->over_1ms_cpu - canary->over_1ms_cpu;
    printf("%snyx_poll_0_frames_over_1ms_beyond_floor: %d (of CPU: %d)\n", prefix, beyond > 0 ? beyond : 0,
           beyond_cpu > 0 ? beyond_cpu : 0);
}

#endif
