#define _POSIX_C_SOURCE 200809L
#include "clock.h"
#include <time.h>

int64_t nyx_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double nyx_now_s(void) { return (double)nyx_now_us() / 1e6; }

double nyx_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
