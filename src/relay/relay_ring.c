/* relay_ring: see relay_ring.h. */
#include "relay_ring.h"

#include <stdlib.h>

struct relay_ring {
    relay_txn *slots;
    size_t cap;
    uint64_t head; /* id of the oldest transaction in the ring */
    uint64_t tail; /* id the next transaction gets */
    bool failed;
};

relay_ring *relay_ring_new(size_t capacity)
{
    relay_ring *r = calloc(1, sizeof *r);
    if (!r || capacity == 0)
        goto fail;
    r->slots = calloc(capacity, sizeof *r->slots);
    if (!r->slots)
        goto fail;
    r->cap = capacity;
    r->head = r->tail = 1;
    return r;
fail:
    free(r);
    return NULL;
}

void relay_ring_free(relay_ring *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

relay_txn *relay_ring_open(relay_ring *r, uint64_t commit_lsn, int64_t commit_us, uint32_t xid)
{
    if (relay_ring_full(r))
        return NULL;
    relay_txn *t = &r->slots[r->tail % r->cap];
    *t = (relay_txn){.id = r->tail, .commit_lsn = commit_lsn, .commit_us = commit_us, .xid = xid};
    r->tail++;
    return t;
}

relay_txn *relay_ring_get(relay_ring *r, uint64_t id)
{
    if (id < r->head || id >= r->tail)
        return NULL;
    return &r->slots[id % r->cap];
}

void relay_ring_sent(relay_txn *t)
{
    t->produced++;
    t->pending++;
}

void relay_ring_close(relay_txn *t, uint64_t end_lsn)
{
    t->closed = true;
    t->end_lsn = end_lsn;
}

int relay_ring_delivered(relay_ring *r, uint64_t id, bool ok)
{
    relay_txn *t = relay_ring_get(r, id);
    if (!t || t->pending == 0)
        return -1;
    t->pending--;
    if (!ok) {
        t->failed = true;
        r->failed = true;
    }
    return 0;
}

size_t relay_ring_advance(relay_ring *r, uint64_t *watermark)
{
    size_t n = 0;
    while (r->head < r->tail) {
        relay_txn *t = &r->slots[r->head % r->cap];
        if (!t->closed || t->pending > 0 || t->failed)
            break;
        if (t->end_lsn > *watermark)
            *watermark = t->end_lsn;
        r->head++;
        n++;
    }
    return n;
}

size_t relay_ring_count(const relay_ring *r)
{
    return (size_t)(r->tail - r->head);
}

bool relay_ring_full(const relay_ring *r)
{
    return relay_ring_count(r) >= r->cap;
}

bool relay_ring_failed(const relay_ring *r)
{
    return r->failed;
}

uint64_t relay_ring_pending(const relay_ring *r)
{
    uint64_t n = 0;
    for (uint64_t id = r->head; id < r->tail; id++)
        n += r->slots[id % r->cap].pending;
    return n;
}
