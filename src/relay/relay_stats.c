/* relay_stats: see relay_stats.h. */
#include "relay_stats.h"

#include "us_metrics.h"

#include <stdio.h>

static const double lat_bounds[RELAY_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,   30};

void relay_stats_latency(relay_stats *s, int64_t us)
{
    if (us < 0)
        us = 0; /* clocks of PostgreSQL and the relay disagree a little */
    double sec = (double)us / 1e6;
    int b = 0;
    while (b < RELAY_LAT_BUCKETS && sec > lat_bounds[b])
        b++;
    RELAY_STAT_ADD(s, lat_bucket[b], 1);
    RELAY_STAT_ADD(s, lat_sum_us, (uint64_t)us);
    RELAY_STAT_ADD(s, lat_count, 1);
}

void relay_stats_tick(relay_stats *s, uint64_t now_ns)
{
    static uint64_t last_ns, last_rows, last_bytes;
    uint64_t rows = RELAY_STAT_GET(s, rows_acked_total),
             bytes = RELAY_STAT_GET(s, bytes_acked_total);
    if (last_ns && now_ns > last_ns) {
        double dt = (double)(now_ns - last_ns) / 1e9;
        RELAY_STAT_SET(s, rows_per_sec_x1000, (uint64_t)((double)(rows - last_rows) * 1000 / dt));
        RELAY_STAT_SET(s, bytes_per_sec_x1000,
                       (uint64_t)((double)(bytes - last_bytes) * 1000 / dt));
    }
    last_ns = now_ns;
    last_rows = rows;
    last_bytes = bytes;
}

const char *relay_state_name(uint64_t state)
{
    static const char *names[] = {"starting",     "snapshot", "streaming",
                                  "backpressure", "stopping", "failed"};
    return state < sizeof names / sizeof names[0] ? names[state] : "?";
}

bool relay_state_healthy(uint64_t state)
{
    return state == RELAY_STATE_SNAPSHOT || state == RELAY_STATE_STREAMING ||
           state == RELAY_STATE_BACKPRESSURE;
}

/* One unlabelled family, named userstream_relay_<name>. */
static void metric(us_buf *b, const char *name, const char *type, const char *help, double v)
{
    char full[128];
    snprintf(full, sizeof full, "userstream_relay_%s", name);
    us_prom_metric(b, full, type, help, v);
}

/* The latency histogram: the atomics copied into a us_histogram. The
 * buckets, the sum and the count are read one by one, as a scrape of
 * relaxed counters always was. */
static void latency(const relay_stats *s, us_buf *b)
{
    us_histogram h;
    us_histogram_init(&h, lat_bounds, RELAY_LAT_BUCKETS);
    for (int i = 0; i <= RELAY_LAT_BUCKETS; i++)
        h.counts[i] = RELAY_STAT_GET(s, lat_bucket[i]);
    h.sum = (double)RELAY_STAT_GET(s, lat_sum_us) / 1e6;
    h.count = RELAY_STAT_GET(s, lat_count);
    us_prom_histogram(b, "userstream_relay_commit_to_ack_seconds",
                      "Commit time to Kafka acknowledgement.", &h);
}

#define G(f) ((double)RELAY_STAT_GET(s, f))

void relay_stats_render(const relay_stats *s, us_buf *b)
{
    metric(b, "rows_total", "counter", "Records produced to Kafka (snapshot included).",
           G(rows_total));
    metric(b, "rows_acked_total", "counter", "Records Kafka acknowledged.", G(rows_acked_total));
    metric(b, "bytes_acked_total", "counter", "Key and value bytes Kafka acknowledged.",
           G(bytes_acked_total));
    metric(b, "rows_per_second", "gauge", "Acknowledged records per second, last interval.",
           G(rows_per_sec_x1000) / 1000);
    metric(b, "bytes_per_second", "gauge", "Acknowledged bytes per second, last interval.",
           G(bytes_per_sec_x1000) / 1000);
    metric(b, "snapshot_rows_total", "counter", "Rows sent by the initial snapshot.",
           G(snapshot_rows_total));
    metric(b, "transactions_total", "counter",
           "Transactions whose every record Kafka acknowledged.", G(txns_total));
    metric(b, "delivery_errors_total", "counter", "Records Kafka did not acknowledge.",
           G(delivery_errors_total));
    metric(b, "duplicate_rows_total", "counter",
           "Records re-sent after a restart (already in Kafka).", G(duplicate_rows_total));
    metric(b, "purged_rows_total", "counter",
           "Deletes of staging purges (retention), not published.", G(purged_rows_total));
    metric(b, "schema_registrations_total", "counter", "Schemas registered in the registry.",
           G(schema_registrations_total));
    metric(b, "inflight_transactions", "gauge", "Transactions not yet fully acknowledged.",
           G(inflight_txns));
    metric(b, "inflight_messages", "gauge", "Records awaiting a Kafka acknowledgement.",
           G(inflight_msgs));
    metric(b, "wal_end_lsn", "gauge", "Server WAL end seen in the replication stream.",
           G(wal_end_lsn));
    metric(b, "flushed_lsn", "gauge", "Position confirmed to the slot.", G(flushed_lsn));
    metric(b, "slot_lag_bytes", "gauge",
           "WAL bytes between the server's end and the confirmed position.", G(slot_lag_bytes));
    metric(b, "state", "gauge",
           "0 starting, 1 snapshot, 2 streaming, 3 back-pressure, 4 stopping, 5 failed.", G(state));
    latency(s, b);
}
