/* relay_repl: the replication side of PostgreSQL: the connections,
 * START_REPLICATION, CopyData frames and standby status updates (the model
 * is pg_recvlogical). The slot itself is relay_slot.
 *
 * Two connections: a replication=database one for the protocol, and a plain
 * one for catalog queries and the initial snapshot. Both run with
 * DateStyle=ISO, TimeZone=UTC and extra_float_digits=3, because pgoutput and
 * the snapshot send text values whose format the relay parses. */
#ifndef RELAY_REPL_H
#define RELAY_REPL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3" */
#define RELAY_PG_OPTIONS "-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3"

PGconn *relay_pg_connect(const char *conninfo, bool replication, char *err, size_t errlen);

/* START_REPLICATION SLOT slot LOGICAL 0/0 (proto_version, publication_names,
 * streaming when proto >= 2). 0/0 lets the server resume at the slot's
 * confirmed position. */
int relay_repl_start(PGconn *repl, const char *slot, const char *pub, int proto, char *err,
                     size_t errlen);

/* One CopyData frame of the replication stream:
 *   'w' XLogData: Int64 start LSN, Int64 server WAL end, Int64 send time, payload
 *   'k' keepalive: Int64 server WAL end, Int64 send time, Byte1 reply requested */
typedef struct relay_frame {
    char kind;
    uint64_t start_lsn, wal_end;
    int64_t send_time;
    bool reply_requested;
    const uint8_t *payload;
    size_t payload_len;
} relay_frame;

int relay_frame_parse(const uint8_t *buf, size_t len, relay_frame *f, char *err, size_t errlen);

/* Standby status update 'r': Int64 written, Int64 flushed, Int64 applied,
 * Int64 client time (µs since 2000-01-01), Byte1 reply requested. */
int relay_repl_feedback(PGconn *repl, uint64_t written, uint64_t flushed, bool reply, char *err,
                        size_t errlen);

/* Ends the COPY and drains what is left, so a last error is not missed. */
void relay_repl_finish(PGconn *repl);

#endif
