/* relay_stats: the relay's counters and gauges, and their Prometheus text
 * (relay_metrics serves it at /metrics).
 *
 * The main loop writes, the HTTP thread reads: every field is read and
 * written with relaxed atomics, which is all a scrape needs. */
#ifndef RELAY_STATS_H
#define RELAY_STATS_H

#include "us_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds (seconds) of the commit -> Kafka ack latency histogram. */
#define RELAY_LAT_BUCKETS 14

typedef enum {
    RELAY_STATE_STARTING = 0,
    RELAY_STATE_SNAPSHOT,
    RELAY_STATE_STREAMING,
    RELAY_STATE_BACKPRESSURE, /* Kafka or the ring is full: not reading WAL */
    RELAY_STATE_STOPPING,
    RELAY_STATE_FAILED,
} relay_state;

typedef struct relay_stats {
    uint64_t rows_total;        /* records produced (snapshot included) */
    uint64_t rows_acked_total;  /* records Kafka acknowledged */
    uint64_t bytes_acked_total; /* key + value bytes Kafka acknowledged */
    uint64_t snapshot_rows_total;
    uint64_t txns_total; /* transactions fully delivered */
    uint64_t delivery_errors_total;
    uint64_t duplicate_rows_total; /* re-sent after a restart or reconnect */
    uint64_t schema_registrations_total;
    uint64_t purged_rows_total; /* deletes of a staging purge, not published */
    uint64_t inflight_txns;
    uint64_t inflight_msgs;
    uint64_t wal_end_lsn; /* server WAL end from the last frame */
    uint64_t flushed_lsn; /* what the slot was told */
    uint64_t slot_lag_bytes;
    uint64_t rows_per_sec_x1000;
    uint64_t bytes_per_sec_x1000;
    uint64_t lat_bucket[RELAY_LAT_BUCKETS + 1]; /* last = +Inf */
    uint64_t lat_sum_us;
    uint64_t lat_count;
    uint64_t state;
    uint64_t start_unix;
} relay_stats;

#define RELAY_STAT_ADD(s, field, n) __atomic_fetch_add(&(s)->field, (n), __ATOMIC_RELAXED)
#define RELAY_STAT_SET(s, field, v) __atomic_store_n(&(s)->field, (v), __ATOMIC_RELAXED)
#define RELAY_STAT_GET(s, field) __atomic_load_n(&(s)->field, __ATOMIC_RELAXED)

void relay_stats_latency(relay_stats *s, int64_t us);
/* Called about once a second by the main loop: updates the rate gauges. */
void relay_stats_tick(relay_stats *s, uint64_t now_ns);

/* Appends the Prometheus exposition of s (userstream_relay_*) to b. */
void relay_stats_render(const relay_stats *s, us_buf *b);
/* "starting", "snapshot", ... for a relay_state ("?" when out of range). */
const char *relay_state_name(uint64_t state);
/* True in the states where the relay does its work (snapshot, streaming,
 * back-pressure): /health answers 200 then, 503 otherwise. */
bool relay_state_healthy(uint64_t state);

#endif
