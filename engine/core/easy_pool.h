/* curl's handles for the calls to the API, kept between transfers instead of made and freed for
 * each: making one zeroes and sets up about 5 KB and freeing it lets all of that go again, on
 * every call. (Not its receive buffer: libcurl 7.88 frees that as each transfer ends, in
 * multi_done, and allocates it again when the next one connects.) curl supports reusing a
 * handle for transfer after transfer, keeping its options and resetting its per-transfer state
 * when one starts: what all the transfers of one pool share (trust, proxy, URL, callbacks) is
 * set once on a fresh handle, and what is a call's own (headers, body, timeouts, the data the
 * callbacks get) anew for each transfer. A pool belongs to one endpoint and its network settings. */
#ifndef NYX_EASY_POOL_H
#define NYX_EASY_POOL_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct easy_pool easy_pool;

/* A pool that keeps at most max idle handles. NULL when out of memory. */
easy_pool *easy_pool_new(size_t max);

/* Frees the idle handles and the pool (NULL does nothing). Handles still lent out are the
 * borrowers' to give back or clean up, before the multi handle and anything their options
 * point at (the header list, the URL) go. */
void easy_pool_free(easy_pool *p);

/* A handle for a transfer: an idle one (*fresh = 0), else a new one (*fresh = 1, NULL when
 * out of memory). Options that a used handle cannot take again (CURLOPT_BUFFERSIZE once its
 * buffer exists) are for a fresh handle only. */
CURL *easy_pool_take(easy_pool *p, int *fresh);

/* Gives a handle back once its transfer has ended and left the multi handle: kept when reusable
 * and the pool has room, else cleaned up. p NULL cleans it up. */
void easy_pool_give(easy_pool *p, CURL *h, int reusable);

/* Idle handles kept now. */
size_t easy_pool_idle(const easy_pool *p);

#endif
