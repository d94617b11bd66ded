/* A fast 128-bit hash of bytes (XXH3-128) under one seed drawn at random per process. The
 * memos that find a long text again by its bytes (guard/memo.h, store/store_content.h) key by
 * it, so a text one of them hashed need not be hashed again by the other: what the first
 * wrote passes on, with the text, the spans of it whose hash it knows (hashed_span). The seed
 * is random so nobody can craft a text that passes for another. */
#ifndef NYX_BASE_QUICK_HASH_H
#define NYX_BASE_QUICK_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct quick_hash {
    uint64_t lo, hi;
} quick_hash;

/* The process's seed, drawn at the first use (from any thread). */
uint64_t quick_hash_seed(void);

/* The hash of n bytes at p under quick_hash_seed(). */
quick_hash quick_hash_of(const void *p, size_t n);

/* Bytes [at, at + len) of a text and their quick_hash. */
typedef struct hashed_span {
    size_t at, len;
    quick_hash h;
} hashed_span;

#endif
