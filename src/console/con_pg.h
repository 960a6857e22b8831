/* con_pg: what the console reads from PostgreSQL, as the ops role (read-only
 * use: SELECT on staging and ops, pg_replication_slots):
 *
 *   loader.*   ops.load_batches sums (fetched, staged, duplicates, rejected)
 *   postgres.* count(*) of staging.users and staging.rejects (every
 *              count_interval seconds: a scan), rejects by reason
 *   slot.*     the relay's slot: confirmed_flush_lsn, retained WAL
 *              (current - restart_lsn), lag (current - confirmed), safe_wal_size
 *   spark.*    ops.stream_progress of the Spark query: last batch, totals,
 *              input and processing rate, end offsets
 *   latency.*  commit -> Cassandra p50 (median of batch p50s) and p99 (worst
 *              batch p99) over the last 5 minutes, as spark/stage_counts.py
 *
 * One connection, kept open and re-made when it breaks; each statement has a
 * timeout so a stuck server cannot stop the collector. */
#ifndef CON_PG_H
#define CON_PG_H

#include "con_sample.h"

#include <stdbool.h>

typedef struct con_pg con_pg;

typedef struct con_pg_conf {
    const char *conninfo;    /* host/port/dbname/user; the password from PGPASSFILE */
    const char *slot;        /* replication slot of the relay */
    const char *spark_query; /* ops.stream_progress.query_name */
    long count_interval_s;   /* exact table counts at most this often */
} con_pg_conf;

con_pg *con_pg_new(const con_pg_conf *conf);
void con_pg_free(con_pg *p);

/* One round: puts the numbers and details into s; on failure records the
 * error under "postgres" and returns -1 (the numbers stay unknown). */
int con_pg_collect(con_pg *p, con_sample *s);
/* The next round redoes the count(*) scans whatever the interval. */
void con_pg_recount(con_pg *p);
/* Whether the last round logged in (PostgreSQL's readiness). */
bool con_pg_connected(const con_pg *p);

#endif
