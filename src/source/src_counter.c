#include "src_counter.h"

#include <stdlib.h>
#include <string.h>

#define PROBE 16

uint64_t src_hash(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h ? h : 1;
}

int src_counter_init(src_counter *c, int64_t window_ms)
{
    memset(c, 0, sizeof *c);
    c->keys = calloc(SRC_COUNTER_SLOTS, sizeof *c->keys);
    c->counts = calloc(SRC_COUNTER_SLOTS, sizeof *c->counts);
    if (!c->keys || !c->counts || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->keys);
        free(c->counts);
        return -1;
    }
    c->window_ms = window_ms;
    return 0;
}

void src_counter_destroy(src_counter *c)
{
    if (!c->keys)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->keys);
    free(c->counts);
    memset(c, 0, sizeof *c);
}

static void maybe_reset(src_counter *c, int64_t now_ms)
{
    if (c->window_ms <= 0)
        return;
    if (c->window_start == 0 || now_ms - c->window_start >= c->window_ms) {
        memset(c->keys, 0, SRC_COUNTER_SLOTS * sizeof *c->keys);
        memset(c->counts, 0, SRC_COUNTER_SLOTS * sizeof *c->counts);
        c->window_start = now_ms;
    }
}

/* Slot of key, claiming a free one or, if the run is full, the one with the
 * smallest count. */
static size_t slot_of(src_counter *c, uint64_t key)
{
    size_t base = (size_t)(key % SRC_COUNTER_SLOTS), victim = base;
    for (size_t i = 0; i < PROBE; i++) {
        size_t s = (base + i) % SRC_COUNTER_SLOTS;
        if (c->keys[s] == key)
            return s;
        if (c->keys[s] == 0) {
            c->keys[s] = key;
            c->counts[s] = 0;
            return s;
        }
        if (c->counts[s] < c->counts[victim])
            victim = s;
    }
    c->keys[victim] = key;
    c->counts[victim] = 0;
    return victim;
}

uint64_t src_counter_add(src_counter *c, uint64_t key, uint64_t add, int64_t now_ms)
{
    pthread_mutex_lock(&c->lock);
    maybe_reset(c, now_ms);
    size_t s = slot_of(c, key ? key : 1);
    uint64_t before = c->counts[s];
    c->counts[s] += add;
    pthread_mutex_unlock(&c->lock);
    return before;
}

uint64_t src_counter_get(src_counter *c, uint64_t key, int64_t now_ms)
{
    return src_counter_add(c, key, 0, now_ms);
}
