/* See easy_pool.h. */
#include "easy_pool.h"

#include <stdlib.h>

struct easy_pool {
    size_t n, max;
    CURL *idle[]; /* the most recently given back last: its memory is the likeliest in cache */
};

easy_pool *easy_pool_new(size_t max)
{
    easy_pool *p = calloc(1, sizeof *p + max * sizeof(CURL *));
    if (p)
        p->max = max;
    return p;
}

void easy_pool_free(easy_pool *p)
{
    if (!p)
        return;
    while (p->n > 0)
        curl_easy_cleanup(p->idle[--p->n]);
    free(p);
}

CURL *easy_pool_take(easy_pool *p, int *fresh)
{
    if (p && p->n > 0) {
        *fresh = 0;
        return p->idle[--p->n];
    }
    *fresh = 1;
    return curl_easy_init();
}

void easy_pool_give(easy_pool *p, CURL *h, int reusable)
{
    if (!h)
        return;
    if (p && reusable && p->n < p->max) {
        /* Nothing of the call it served is reachable through it while it waits: its callbacks'
         * data, error buffer and header list were the call's. */
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        p->idle[p->n++] = h;
        return;
    }
    curl_easy_cleanup(h);
}

size_t easy_pool_idle(const easy_pool *p) { return p ? p->n : 0; }
