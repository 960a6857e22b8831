/* relay_loop: the streaming loop. Reads the replication stream, hands
 * changes to relay_emit (spooling streamed transactions), serves Kafka
 * delivery reports, and tells the slot how far Kafka has everything.
 *
 * The loop owns the waiting: when relay_emit answers that Kafka's queue or
 * the ring is full (or the registry is unreachable), the loop serves
 * delivery reports and status updates, then repeats the same call. The
 * wiring goes one way: main -> loop -> emit -> kafka, ring, registry.
 *
 * Feedback rules (reliability.md §0.2): the flushed position is the end LSN
 * of the last transaction whose every record Kafka acknowledged; when nothing
 * is in flight and no transaction is open, a keepalive's WAL end is
 * acknowledged too (the heartbeat), so an idle slot does not hold WAL. While
 * Kafka is slow the loop stops reading but keeps sending status updates. */
#ifndef RELAY_LOOP_H
#define RELAY_LOOP_H

#include "relay_emit.h"
#include "relay_spool.h"
#include "relay_stream.h"

#include <signal.h>
#include <stdint.h>

/* Exit codes of userstream-relay (src/relay/README.md). */
enum {
    RELAY_EXIT_OK = 0,
    RELAY_EXIT_ERROR = 1,
    RELAY_EXIT_USAGE = 2,
    RELAY_EXIT_SLOT_LOST = 3,
    RELAY_EXIT_INCOMPATIBLE = 4,
    RELAY_EXIT_KAFKA = 5,
    RELAY_EXIT_REGISTRY = 6,
    RELAY_EXIT_SLOT_BUSY = 7, /* another relay holds the slot's lock */
    RELAY_EXIT_TOO_LARGE = 8, /* a record Kafka can never take: not restarted */
};

typedef struct relay_loop_opts {
    long status_interval_ms; /* status update at least this often */
    long feedback_ms;        /* a new flushed position is sent within this */
    long heartbeat_ms;       /* idle: ask the server for its WAL end this often; 0 off */
    long stop_timeout_ms;    /* on stop, wait this long for Kafka's last reports */
    long receive_timeout_ms; /* nothing from the server this long: connection lost; <= 0 off */
    uint64_t max_rows;       /* stop after the transaction that reaches it; 0 none */
    uint64_t end_lsn;        /* stop once a commit ends at or past it; 0 none */
} relay_loop_opts;

typedef struct relay_loop relay_loop;

relay_loop *relay_loop_new(const relay_loop_opts *o, relay_emit *e, relay_kafka *k,
                           relay_ring *ring, relay_spool *spool, relay_stats *st,
                           volatile sig_atomic_t *stop);
void relay_loop_free(relay_loop *l);
/* The position the slot already confirmed (nothing below it is re-sent). */
void relay_loop_set_flushed(relay_loop *l, uint64_t lsn);

/* Back-pressure: serves Kafka's delivery reports (and, once streaming, the
 * server's status updates) for up to timeout_ms. Returns -1 when the relay
 * must stop (signal, fatal Kafka error, failed delivery), 0 otherwise. */
int relay_loop_wait(relay_loop *l, int timeout_ms);
/* After a relay_emit_* call returned *rc: when it is RELAY_EMIT_FULL or
 * RELAY_EMIT_RETRY, waits (relay_loop_wait) and returns true to repeat the
 * call, or sets *rc to RELAY_EMIT_STOP and returns false; false for any
 * other code. Usage: do rc = relay_emit_x(...); while (relay_loop_retry(l, &rc)); */
bool relay_loop_retry(relay_loop *l, int *rc);

/* Sets the receive timeout (ms, <= 0 off): with no message at all from the
 * server for that long, keepalives included, the connection counts as lost. */
void relay_loop_set_receive_timeout(relay_loop *l, long ms);

/* The reason of the last error the loop reported ("" if none). */
const char *relay_loop_last_error(const relay_loop *l);

/* Streams from s (relay_stream_pq after START_REPLICATION; the caller
 * keeps it, for relay_loop_drain too) until a stop condition or an error;
 * returns a RELAY_EXIT_* code. Before it, the loop has no stream (the
 * snapshot): relay_loop_wait serves Kafka only. */
int relay_loop_run(relay_loop *l, relay_stream *s);
/* Waits for Kafka's outstanding reports (bounded) and sends the final
 * feedback; used by every way out, error paths included. */
void relay_loop_drain(relay_loop *l);

#endif
