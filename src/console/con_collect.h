/* con_collect: the collector. A thread that once a second asks every real
 * source (PostgreSQL, Kafka watermarks, the relay's /metrics, each engine's
 * readiness) and a slower thread for the scans (Cassandra count(*) by token
 * range, the dead letters read from the DLQ topic). Each round's numbers go
 * into the time-series ring; rates over 10 s and 5 min and the lag to the
 * next stage are computed from it; the round's whole view (GET
 * /api/pipeline) is kept as one JSON text that HTTP threads copy out.
 *
 * Stages and their accounting are those of spark/stage_counts.py (which the
 * counts command used before): see con_collect.c. */
#ifndef CON_COLLECT_H
#define CON_COLLECT_H

#include "con_alerts.h"
#include "con_marks.h"
#include "con_pg.h"
#include "con_ring.h"
#include "con_upstream.h"
#include "us_buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct con_collect_conf {
    con_pg_conf pg;
    const char *pg_address; /* host:port, for the health list */
    con_upstream_conf up;
    const char *kafka_bootstrap;
    const char *const *kafka_extra; /* NULL-terminated key, value pairs */
    const char *topic, *dlq_topic;
    const char *cassandra_keyspace;
    long interval_ms;     /* one round this often */
    long slow_interval_s; /* Cassandra count and DLQ read this often */
    int cassandra_slices; /* token ranges of the count (64, as stage_counts.py) */
    con_alerts_conf alerts;
} con_collect_conf;

typedef struct con_collect con_collect;

/* Starts both threads; NULL with the reason. ring is shared with the API. */
con_collect *con_collect_start(const con_collect_conf *conf, con_ring *ring, char *err,
                               size_t errlen);
void con_collect_stop(con_collect *c);

/* A copy of the latest /api/pipeline document (malloc'd, caller frees);
 * a "starting" document before the first round. */
char *con_collect_pipeline(con_collect *c, size_t *len);
/* The "counts" section alone (the stage_counts.py --json shape). */
char *con_collect_counts(con_collect *c, size_t *len);
/* Counts measured after this call: waits for a new scan round (Cassandra,
 * DLQ) and then a new fast round with fresh count(*)s. NULL when that takes
 * longer than timeout_s. */
char *con_collect_fresh_counts(con_collect *c, long timeout_s, size_t *len);
/* The "health" section alone. */
char *con_collect_health(con_collect *c, size_t *len);
/* Appends the latest round's numbers as Prometheus gauges. */
void con_collect_metrics(con_collect *c, us_buf *b);
/* Rounds done so far (tests wait for a fresh one). */
unsigned long con_collect_rounds(con_collect *c);

#endif
