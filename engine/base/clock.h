#ifndef NYX_CLOCK_H
#define NYX_CLOCK_H
#include <stdint.h>
/* Monotonic time; only differences are meaningful. */
int64_t clock_now_us(void);
double clock_now_s(void);
/* CPU time the calling thread has used: what a piece of work costs, without the time a
 * loaded machine gave to other processes meanwhile. */
int64_t clock_cpu_us(void);
/* Wall clock, seconds since the epoch. */
double clock_wall_s(void);
#endif
