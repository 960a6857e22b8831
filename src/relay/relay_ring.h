/* relay_ring: the in-flight transactions, oldest first (Bottled Water's
 * idea). A transaction enters at Begin, counts its produced messages, is
 * closed at Commit, and leaves only when it is closed and every one of its
 * messages got a successful delivery report. The acknowledged position (the
 * slot's flush LSN) is the end LSN of the last transaction that left, so it
 * never passes a transaction with an undelivered message.
 *
 * Single-threaded: delivery reports are served by rd_kafka_poll in the main
 * loop. Bounded: a full ring is back-pressure (stop reading WAL). */
#ifndef RELAY_RING_H
#define RELAY_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct relay_txn {
    uint64_t id;         /* position in the ring's sequence, never reused */
    uint64_t commit_lsn; /* LSN of the commit record (us.lsn) */
    uint64_t end_lsn;    /* LSN after it: what the slot is told once delivered */
    int64_t commit_us;   /* commit time, Unix microseconds */
    uint32_t xid;
    uint64_t produced; /* messages handed to the producer */
    uint64_t pending;  /* of those, not yet reported */
    bool closed;       /* commit seen: no more messages will come */
    bool failed;       /* a delivery failed: this transaction never leaves */
} relay_txn;

typedef struct relay_ring relay_ring;

relay_ring *relay_ring_new(size_t capacity);
void relay_ring_free(relay_ring *r);

/* A new open transaction at the tail, or NULL when the ring is full. */
relay_txn *relay_ring_open(relay_ring *r, uint64_t commit_lsn, int64_t commit_us, uint32_t xid);
/* The transaction with this id, or NULL when it already left (or never was). */
relay_txn *relay_ring_get(relay_ring *r, uint64_t id);
void relay_ring_sent(relay_txn *t);
void relay_ring_close(relay_txn *t, uint64_t end_lsn);
/* A delivery report for a message of transaction id. Returns -1 when the id
 * is unknown (a bug: reports must match messages). */
int relay_ring_delivered(relay_ring *r, uint64_t id, bool ok);

/* Removes finished transactions from the head and moves *watermark to the
 * end LSN of the last one (never backwards). Returns how many left. */
size_t relay_ring_advance(relay_ring *r, uint64_t *watermark);

size_t relay_ring_count(const relay_ring *r);
bool relay_ring_full(const relay_ring *r);
bool relay_ring_failed(const relay_ring *r);
uint64_t relay_ring_pending(const relay_ring *r); /* messages awaiting a report */

#endif
