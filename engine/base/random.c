/* random.h: one draw from getrandom for every layer. */
#define _POSIX_C_SOURCE 200809L
#include "base/random.h"

#include "base/clock.h"

#include <sys/random.h>
#include <unistd.h>

uint64_t random_u64(void)
{
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    static _Atomic uint64_t draws;
    return (uint64_t)(clock_wall_s() * 1e9) ^ ((uint64_t)getpid() << 40) ^
           (++draws * 0x9e3779b97f4a7c15ull);
}
