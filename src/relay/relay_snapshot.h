/* relay_snapshot: the initial copy of the table's existing rows, read in the
 * snapshot the new slot exported, so that the rows it sends plus the changes
 * the slot streams afterwards are the table with no gap and no overlap. */
#ifndef RELAY_SNAPSHOT_H
#define RELAY_SNAPSHOT_H

#include "relay_emit.h"
#include "relay_loop.h"

#include <libpq-fe.h>
#include <stdint.h>

/* Reads the relation's columns from the catalog in the pgoutput shape
 * (generated columns left out, key flags by replica identity). */
relay_pgoutput_relation *relay_snapshot_relation(PGconn *c, const char *table, char *err,
                                                 size_t errlen);

/* Sends every row of table, as of snapshot, as op 'r' records of one
 * pseudo-transaction at lsn, through e; while e is full, l waits (serves
 * Kafka). Returns a RELAY_EMIT_* code. */
int relay_snapshot_run(PGconn *c, const char *snapshot, const char *table, uint64_t lsn,
                       relay_emit *e, relay_loop *l, long fetch_rows, char *err, size_t errlen);

#endif
