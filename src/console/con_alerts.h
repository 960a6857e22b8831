/* con_alerts: the alert rules of the console, evaluated every round from the
 * round's numbers and the ring, shown as banners on the page ("alerts" of
 * /api/pipeline) and exported as alert.<id> = 0/1 (so /metrics and the
 * history have them too):
 *
 *   wal_retained   the relay's slot retains more WAL than wal_bytes
 *   wal_limit      the slot's WAL reached wal_limit_pct of PostgreSQL's
 *                  max_slot_wal_keep_size (retained / (retained + safe_wal_size)),
 *                  or its wal_status is unreserved/lost: past the limit
 *                  PostgreSQL invalidates the slot and the relay must re-snapshot
 *   lag_growing    a stage's lag (slot.lag_bytes, relay.inflight_msgs,
 *                  spark.in_flight) rose over lag_minutes without touching 0
 *   dead_letters   the DLQ topic gained records in the last 5 minutes
 *   service_down   an engine's readiness check fails
 *   spark_slow     the last Spark batch took longer than its trigger
 *                  (only when a trigger interval is set)
 *   stopped        a program stopped for good and recorded why: the Spark
 *                  job on data loss (ops.stream_stops), the relay on a
 *                  poison record, a lost slot, ... (ops.relay_stops)
 */
#ifndef CON_ALERTS_H
#define CON_ALERTS_H

#include "con_sample.h"

typedef struct con_alerts_conf {
    double wal_bytes;      /* retained WAL threshold */
    double wal_limit_pct;  /* share of max_slot_wal_keep_size that alerts */
    long lag_minutes;      /* window of "lag growing" */
    long spark_trigger_ms; /* 0: the batch-duration rule is off */
} con_alerts_conf;

/* A new array [{"id","message"}] of the alerts firing in round s (which
 * must hold its health detail); puts alert.<id> into s. */
json_t *con_alerts_eval(const con_alerts_conf *conf, con_sample *s);

#endif
