/* relay_emit: turns decoded changes into Kafka records exactly as
 * docs/data-contracts.md §3 says (key, Confluent-framed Avro value or
 * tombstone, us.* headers) and tracks each transaction in the ring.
 *
 * It owns the relation cache and the schema id: a Relation that changes the
 * table registers a new schema version first; one that breaks the contract's
 * BACKWARD rule stops the relay (RELAY_EMIT_INCOMPATIBLE). */
#ifndef RELAY_EMIT_H
#define RELAY_EMIT_H

#include "relay_kafka.h"
#include "relay_stats.h"
#include "relay_pgoutput.h"
#include "relay_registry.h"
#include "relay_ring.h"

#include <stdint.h>

/* The emitter never waits: when it cannot go on now it says so, with
 * nothing half done that a repeat would do twice, and its caller (the loop,
 * or the snapshot, through relay_loop_retry) serves delivery reports and the
 * server, then makes the same call again with the same arguments. A change
 * that is several records (a key change: tombstone then row; a truncate: a
 * marker per partition) remembers which of them are already queued. */
enum {
    RELAY_EMIT_OK = 0,
    RELAY_EMIT_FULL = 1,          /* Kafka's queue or the ring is full: call again */
    RELAY_EMIT_RETRY = 2,         /* the registry is unreachable: call again later */
    RELAY_EMIT_ERROR = -1,        /* message in err */
    RELAY_EMIT_STOP = -2,         /* the waiting caller was asked to stop (signal, fatal error) */
    RELAY_EMIT_INCOMPATIBLE = -3, /* a relation change the contract forbids */
    RELAY_EMIT_REJECTED = -4,     /* the registry refused the schema */
    RELAY_EMIT_TOO_LARGE = -5,    /* a record larger than Kafka takes (message in err) */
};

/* How long to serve Kafka and the server before repeating a call that
 * returned rc (RELAY_EMIT_FULL or RELAY_EMIT_RETRY). */
static inline int relay_emit_retry_ms(int rc)
{
    return rc == RELAY_EMIT_RETRY ? 1000 : 100;
}

typedef struct relay_emit_conf {
    const char *table_nsp;  /* "staging" */
    const char *table_name; /* "users" */
    const char *subject;    /* "userstream.users-value" */
    int32_t partitions;     /* of the topic, for truncate markers */
} relay_emit_conf;

typedef struct relay_emit relay_emit;

relay_emit *relay_emit_new(const relay_emit_conf *conf, relay_kafka *k, relay_ring *ring,
                           relay_registry *reg, relay_stats *stats);
void relay_emit_free(relay_emit *e);
/* The relay_kafka delivery callback (ud = the emitter), for relay_kafka_poll:
 * the ring and the counters learn of each acknowledgement. */
void relay_emit_on_delivery(void *ud, uint64_t txn_id, bool ok, size_t bytes, const char *errstr);

/* Loads the registry's latest schema for the subject, so the first Relation
 * is checked against what an earlier run registered. RELAY_EMIT_RETRY while
 * the registry is unreachable. */
int relay_emit_load_registered(relay_emit *e, char *err, size_t errlen);
/* Transactions whose commit LSN is at or below lsn are already in Kafka
 * (from an earlier run): their records count as duplicates. */
void relay_emit_set_delivered_before(relay_emit *e, uint64_t lsn);

/* Takes rel, except on RELAY_EMIT_RETRY (the caller repeats the call with it). */
int relay_emit_relation(relay_emit *e, relay_pgoutput_relation *rel, char *err, size_t errlen);
/* RELAY_EMIT_FULL while the ring is full. */
int relay_emit_begin(relay_emit *e, uint64_t commit_lsn, int64_t commit_ts_pg, uint32_t xid,
                     char *err, size_t errlen);
/* A logical decoding message (pg_logical_emit_message). A transactional one
 * with the prefix RELAY_PURGE_PREFIX marks its transaction as a staging
 * purge: the Deletes of that transaction are not published (a purge removes
 * rows from the temporary store; the users stay in Kafka and Cassandra).
 * Any other message is ignored. */
#define RELAY_PURGE_PREFIX "userstream.purge"
/* A transactional message with this prefix and a key as its content is
 * published as that key's tombstone: the erasure of a user no longer in
 * staging (ops.forget_user), so it still leaves Kafka and Cassandra. */
#define RELAY_FORGET_PREFIX "userstream.forget"
int relay_emit_message(relay_emit *e, const relay_pgoutput_msg *m, char *err, size_t errlen);
/* Insert, Update, Delete or Truncate of the open transaction. This, the
 * forget message and a snapshot row may return RELAY_EMIT_FULL. */
int relay_emit_change(relay_emit *e, const relay_pgoutput_msg *m, char *err, size_t errlen);
int relay_emit_commit(relay_emit *e, uint64_t commit_lsn, uint64_t end_lsn, char *err,
                      size_t errlen);
bool relay_emit_in_txn(const relay_emit *e);

/* The initial snapshot: one pseudo-transaction at the slot's consistent
 * point whose rows are op 'r'. Values are text, as from pgoutput. */
int relay_emit_snapshot_row(relay_emit *e, const relay_pgoutput_tuple *row, char *err,
                            size_t errlen);

uint64_t relay_emit_rows(const relay_emit *e);

#endif
