/* The process's fast hash (quick_hash.h). */
#include "base/quick_hash.h"

#include "base/random.h"

#include <pthread.h>
#include <xxhash.h>

static uint64_t seed;
static pthread_once_t seeded = PTHREAD_ONCE_INIT;

static void draw(void) { seed = random_u64(); }

uint64_t quick_hash_seed(void)
{
    pthread_once(&seeded, draw);
    return seed;
}

quick_hash quick_hash_of(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(p, n, quick_hash_seed());
    return (quick_hash){h.low64, h.high64};
}
