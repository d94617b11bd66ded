#ifndef NYX_CLOCK_H
#define NYX_CLOCK_H
#include <stdint.h>
/* Monotonic time; only differences are meaningful. */
int64_t clock_now_us(void);
double clock_now_s(void);
/* Wall clock, seconds since the epoch. */
double clock_wall_s(void);
#endif
