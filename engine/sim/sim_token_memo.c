/* Token counts of long texts, remembered: a client sends the same system prompt, tool list or
 * document with every request, and counting 15 KB of it costs more than everything else the
 * simulator does for the request. A text's count is found by its XXH3 hash and confirmed by
 * its bytes, so a count is never given to another text, however alike; the memo holds at most
 * SIM_MEMO_ENTRIES texts and SIM_MEMO_BYTES of them, dropping the oldest first. It has its
 * own lock: connection threads parse requests outside the server lock. */
#define _POSIX_C_SOURCE 200809L
#include "sim_core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct entry {
    uint64_t hash;
    size_t len;
    char *text; /* owned copy, len bytes */
    int64_t count;
} entry;

struct sim_token_memo {
    pthread_mutex_t mu;
    entry e[SIM_MEMO_ENTRIES]; /* e[0..n) in the order they came */
    size_t n, bytes;
};

sim_token_memo *sim_token_memo_new(void)
{
    sim_token_memo *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void sim_token_memo_free(sim_token_memo *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].text);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The entry holding text, or NULL. Called locked. */
static const entry *find(const sim_token_memo *m, uint64_t hash, const char *text, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].hash == hash && m->e[i].len == len && memcmp(m->e[i].text, text, len) == 0)
            return &m->e[i];
    return NULL;
}

/* Drops the oldest entry. Called locked, with n > 0. */
static void drop_oldest(sim_token_memo *m)
{
    free(m->e[0].text);
    m->bytes -= m->e[0].len;
    memmove(&m->e[0], &m->e[1], (m->n - 1) * sizeof m->e[0]);
    m->n--;
}

int64_t sim_token_memo_count(sim_token_memo *m, const char *text, size_t len)
{
    if (!m || !text || len < SIM_MEMO_MIN_LEN || len > SIM_MEMO_BYTES / 4)
        return sim_count_tokens(text, len);
    uint64_t hash = XXH3_64bits(text, len);
    if (pthread_mutex_lock(&m->mu) != 0)
        return sim_count_tokens(text, len);
    const entry *hit = find(m, hash, text, len);
    int64_t count = hit ? hit->count : -1;
    pthread_mutex_unlock(&m->mu);
    if (count >= 0)
        return count;

    count = sim_count_tokens(text, len);
    char *copy = malloc(len);
    if (!copy)
        return count; /* remembering is optional; the count is right either way */
    memcpy(copy, text, len);
    if (pthread_mutex_lock(&m->mu) != 0) {
        free(copy);
        return count;
    }
    if (find(m, hash, text, len)) { /* another thread counted it meanwhile */
        pthread_mutex_unlock(&m->mu);
        free(copy);
        return count;
    }
    while (m->n && (m->n == SIM_MEMO_ENTRIES || m->bytes + len > SIM_MEMO_BYTES))
        drop_oldest(m);
    m->e[m->n++] = (entry){.hash = hash, .len = len, .text = copy, .count = count};
    m->bytes += len;
    pthread_mutex_unlock(&m->mu);
    return count;
}

void sim_token_memo_size(sim_token_memo *m, size_t *entries, size_t *bytes)
{
    *entries = *bytes = 0;
    if (!m || pthread_mutex_lock(&m->mu) != 0)
        return;
    *entries = m->n;
    *bytes = m->bytes;
    pthread_mutex_unlock(&m->mu);
}
