/* relay_loop: the streaming loop. Reads the replication stream, hands
 * changes to relay_emit (spooling streamed transactions), serves Kafka
 * delivery reports, and tells the slot how far Kafka has everything.
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

#include <libpq-fe.h>
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
};

typedef struct relay_loop_opts {
    long status_interval_ms; /* status update at least this often */
    long feedback_ms;        /* a new flushed position is sent within this */
    long heartbeat_ms;       /* idle: ask the server for its WAL end this often; 0 off */
    long stop_timeout_ms;    /* on stop, wait this long for Kafka's last reports */
    uint64_t max_rows;       /* stop after the transaction that reaches it; 0 none */
    uint64_t end_lsn;        /* stop once a commit ends at or past it; 0 none */
} relay_loop_opts;

typedef struct relay_loop relay_loop;

relay_loop *relay_loop_new(const relay_loop_opts *o, PGconn *repl, relay_kafka *k, relay_ring *ring,
                           relay_spool *spool, relay_stats *st, volatile sig_atomic_t *stop);
void relay_loop_free(relay_loop *l);
void relay_loop_set_emit(relay_loop *l, relay_emit *e);
void relay_loop_set_repl(relay_loop *l, PGconn *repl);
/* The position the slot already confirmed (nothing below it is re-sent). */
void relay_loop_set_flushed(relay_loop *l, uint64_t lsn);

/* The wait hook for relay_emit (ud = the loop). */
int relay_loop_wait(void *ud, int timeout_ms);

/* Streams until a stop condition or an error; returns a RELAY_EXIT_* code. */
int relay_loop_run(relay_loop *l);
/* Waits for Kafka's outstanding reports (bounded) and sends the final
 * feedback; used by every way out, error paths included. */
void relay_loop_drain(relay_loop *l);

#endif
