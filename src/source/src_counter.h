/* src_counter: a bounded, thread-safe table of 64-bit keys to counts, for
 * the per-client rate limit (users per window) and the fault injection's
 * per-request attempt numbers. Fixed memory: when a probe run is full the
 * oldest-looking slot is reused, so a flood of new keys cannot grow it. */
#ifndef SRC_COUNTER_H
#define SRC_COUNTER_H

#include <pthread.h>
#include <stdint.h>

#define SRC_COUNTER_SLOTS 65536

typedef struct src_counter {
    pthread_mutex_t lock;
    uint64_t *keys;
    uint64_t *counts;
    int64_t window_ms;    /* 0: never reset */
    int64_t window_start; /* ms */
} src_counter;

int src_counter_init(src_counter *c, int64_t window_ms);
void src_counter_destroy(src_counter *c);
/* Adds `add` to key's count and returns the count before the addition;
 * clears everything first when the window has passed (upstream's fixed
 * window). */
uint64_t src_counter_add(src_counter *c, uint64_t key, uint64_t add, int64_t now_ms);
/* The current count without changing it. */
uint64_t src_counter_get(src_counter *c, uint64_t key, int64_t now_ms);

/* FNV-1a of bytes, never 0 (0 marks a free slot). */
uint64_t src_hash(const void *p, size_t n, uint64_t h);
#define SRC_HASH_INIT 0xcbf29ce484222325ull

#endif
