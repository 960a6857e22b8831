/* relay_repl: the replication side of PostgreSQL: slot inspection and
 * creation, the publication, START_REPLICATION, CopyData frames and standby
 * status updates (the model is pg_recvlogical).
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

typedef enum {
    RELAY_SLOT_MISSING = 0,
    RELAY_SLOT_OK,
    RELAY_SLOT_LOST, /* wal_status lost, or invalidated: never recreate silently */
} relay_slot_state;

typedef struct relay_slot_info {
    relay_slot_state state;
    uint64_t confirmed_flush;
    uint64_t restart_lsn;
    int active_pid; /* 0: not in use */
    char wal_status[16];
} relay_slot_info;

/* Looks the slot up in pg_replication_slots and checks it is a pgoutput
 * logical slot of this database. */
int relay_slot_inspect(PGconn *c, const char *slot, relay_slot_info *info, char *err,
                       size_t errlen);
int relay_slot_drop(PGconn *c, const char *slot, char *err, size_t errlen);

/* Creates the publication FOR TABLE table when missing, and checks the
 * table is in it and has a usable replica identity (deletes need a key). */
int relay_publication_ensure(PGconn *c, const char *pub, const char *table, char *err,
                             size_t errlen);

/* Snapshot bookkeeping in ops.relay_slots (stack/sql/020_relay.sql): the row
 * is marked pending before the slot is created and done once Kafka has the
 * whole snapshot; a slot whose row is still pending must be re-created, not
 * resumed. */
int relay_snapshot_done_get(PGconn *c, const char *slot, bool *done, char *err, size_t errlen);
int relay_snapshot_pending_set(PGconn *c, const char *slot, char *err, size_t errlen);
int relay_snapshot_done_set(PGconn *c, const char *slot, uint64_t lsn, char *err, size_t errlen);

/* CREATE_REPLICATION_SLOT ... LOGICAL pgoutput EXPORT_SNAPSHOT on a
 * replication connection; the exported snapshot stays valid until the next
 * command on that connection. */
int relay_slot_create(PGconn *repl, const char *slot, uint64_t *consistent_lsn, char *snapshot,
                      size_t snaplen, char *err, size_t errlen);

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
