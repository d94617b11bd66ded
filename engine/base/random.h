/* Random numbers from the kernel's generator: the seeds, tags and ids that nobody outside the
 * process may guess or make collide. */
#ifndef NYX_BASE_RANDOM_H
#define NYX_BASE_RANDOM_H

#include <stdint.h>

/* 64 random bits. Should the kernel's pool not be ready (early boot), the wall clock mixed
 * with a counter: not secret then, but still different on every draw. Any thread. */
uint64_t random_u64(void);

#endif
