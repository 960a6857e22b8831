/* relay_slot: the replication slot's lifecycle. The catalog side (inspect,
 * lock, drop, create, the publication, the snapshot bookkeeping in
 * ops.relay_slots) and the decision a starting relay takes from it: resume
 * the slot, create it (with a snapshot), or refuse (lost, in use, held by
 * another relay). Queries are shape-checked (us_pg_query), and server errors
 * reach the log without row values. */
#ifndef RELAY_SLOT_H
#define RELAY_SLOT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* One relay per slot: a session advisory lock keyed on the slot's name, held
 * on connection c for the relay's life (released when it ends, also by a
 * crash). *held is false when another session holds it; who is then named
 * in err. */
int relay_slot_lock(PGconn *c, const char *slot, bool *held, char *err, size_t errlen);

/* The session holding the slot's lock when it looks like a relay that lost
 * its connection (a silent partition: the server has not noticed yet): the
 * holder is plain idle (not in a transaction, so not snapshotting) and the
 * slot is not in use by any walsender. *pid is that session, or 0. */
int relay_slot_lock_orphan(PGconn *c, const char *slot, int *pid, char *err, size_t errlen);
int relay_backend_terminate(PGconn *c, int pid, char *err, size_t errlen);

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

/* What a starting relay does with its slot (relay_slot_acquire, _check). */
typedef enum {
    RELAY_SLOT_GO = 0,  /* go on: resume it, or create it when info says MISSING */
    RELAY_SLOT_BUSY,    /* another relay holds it, or a walsender uses it mid-snapshot */
    RELAY_SLOT_IS_LOST, /* lost or invalidated: never re-created silently */
    RELAY_SLOT_FAILED,  /* a query failed (err says which) */
    RELAY_SLOT_STOPPED, /* a stop was requested while waiting */
} relay_slot_verdict;

/* Sleeps before try attempt+1 (a capped backoff); < 0 when a stop was requested. */
typedef int (*relay_slot_wait_fn)(int attempt);

/* One relay per slot: takes the slot's lock on sql, for the relay's life. A
 * few tries (a relay that has just died may hold it for a moment); a holder
 * that is idle while the slot is unused on every look is a relay whose link
 * died silently, and its session is ended. */
relay_slot_verdict relay_slot_acquire(PGconn *sql, const char *slot, relay_slot_wait_fn wait,
                                      char *err, size_t errlen);

/* Under the lock: the slot as it is (info). A lost slot is refused; one whose
 * initial snapshot (ours, when snapshot is true) never finished is dropped
 * (info->state becomes MISSING: create it again), unless a walsender uses it. */
relay_slot_verdict relay_slot_check(PGconn *sql, const char *slot, bool snapshot,
                                    relay_slot_info *info, char *err, size_t errlen);

#endif
