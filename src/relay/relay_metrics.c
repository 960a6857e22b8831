/* relay_metrics: see relay_metrics.h. */
#include "relay_metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

typedef struct {
    char *p;
    size_t left, len;
} out_buf;

static void out(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(out_buf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p, o->left, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->left) {
        o->p += o->left;
        o->len += o->left;
        o->left = 0;
        return;
    }
    o->p += n;
    o->left -= (size_t)n;
    o->len += (size_t)n;
}

static void metric(out_buf *o, const char *name, const char *type, const char *help, double v)
{
    out(o,
        "# HELP userstream_relay_%s %s\n"
        "# TYPE userstream_relay_%s %s\n"
        "userstream_relay_%s %.17g\n",
        name, help, name, type, name, v);
}

#define G(f) ((double)RELAY_STAT_GET(s, f))

size_t relay_stats_render(const relay_stats *s, char *buf, size_t len)
{
    out_buf o = {buf, len, 0};
    metric(&o, "rows_total", "counter", "Records produced to Kafka (snapshot included).",
           G(rows_total));
    metric(&o, "rows_acked_total", "counter", "Records Kafka acknowledged.", G(rows_acked_total));
    metric(&o, "bytes_acked_total", "counter", "Key and value bytes Kafka acknowledged.",
           G(bytes_acked_total));
    metric(&o, "rows_per_second", "gauge", "Acknowledged records per second, last interval.",
           G(rows_per_sec_x1000) / 1000);
    metric(&o, "bytes_per_second", "gauge", "Acknowledged bytes per second, last interval.",
           G(bytes_per_sec_x1000) / 1000);
    metric(&o, "snapshot_rows_total", "counter", "Rows sent by the initial snapshot.",
           G(snapshot_rows_total));
    metric(&o, "transactions_total", "counter",
           "Transactions whose every record Kafka acknowledged.", G(txns_total));
    metric(&o, "delivery_errors_total", "counter", "Records Kafka did not acknowledge.",
           G(delivery_errors_total));
    metric(&o, "duplicate_rows_total", "counter",
           "Records re-sent after a restart (already in Kafka).", G(duplicate_rows_total));
    metric(&o, "schema_registrations_total", "counter", "Schemas registered in the registry.",
           G(schema_registrations_total));
    metric(&o, "inflight_transactions", "gauge", "Transactions not yet fully acknowledged.",
           G(inflight_txns));
    metric(&o, "inflight_messages", "gauge", "Records awaiting a Kafka acknowledgement.",
           G(inflight_msgs));
    metric(&o, "wal_end_lsn", "gauge", "Server WAL end seen in the replication stream.",
           G(wal_end_lsn));
    metric(&o, "flushed_lsn", "gauge", "Position confirmed to the slot.", G(flushed_lsn));
    metric(&o, "slot_lag_bytes", "gauge",
           "WAL bytes between the server's end and the confirmed position.", G(slot_lag_bytes));
    metric(&o, "state", "gauge",
           "0 starting, 1 snapshot, 2 streaming, 3 back-pressure, 4 stopping, 5 failed.", G(state));
    out(&o, "# HELP userstream_relay_commit_to_ack_seconds Commit time to Kafka acknowledgement.\n"
            "# TYPE userstream_relay_commit_to_ack_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b <= RELAY_LAT_BUCKETS; b++) {
        cum += RELAY_STAT_GET(s, lat_bucket[b]);
        if (b < RELAY_LAT_BUCKETS)
            out(&o, "userstream_relay_commit_to_ack_seconds_bucket{le=\"%g\"} %llu\n",
                lat_bounds[b], (unsigned long long)cum);
        else
            out(&o, "userstream_relay_commit_to_ack_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
    }
    out(&o,
        "userstream_relay_commit_to_ack_seconds_sum %.6f\n"
        "userstream_relay_commit_to_ack_seconds_count %llu\n",
        G(lat_sum_us) / 1e6, (unsigned long long)RELAY_STAT_GET(s, lat_count));
    return o.len;
}

struct relay_http {
    struct MHD_Daemon *d;
    relay_stats *s;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **con_cls)
{
    relay_http *h = cls;
    char buf[16384];
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, "text/plain", "method not allowed\n", 19);
    if (strcmp(url, "/metrics") == 0) {
        size_t n = relay_stats_render(h->s, buf, sizeof buf);
        return reply(c, 200, "text/plain; version=0.0.4", buf, n);
    }
    if (strcmp(url, "/health") == 0) {
        uint64_t st = RELAY_STAT_GET(h->s, state);
        static const char *names[] = {"starting",     "snapshot", "streaming",
                                      "backpressure", "stopping", "failed"};
        bool ok = st == RELAY_STATE_SNAPSHOT || st == RELAY_STATE_STREAMING ||
                  st == RELAY_STATE_BACKPRESSURE;
        int n = snprintf(buf, sizeof buf,
                         "{\"status\":\"%s\",\"state\":\"%s\",\"inflight_transactions\":%llu}\n",
                         ok ? "ok" : "unavailable", st < 6 ? names[st] : "?",
                         (unsigned long long)RELAY_STAT_GET(h->s, inflight_txns));
        return reply(c, ok ? 200 : 503, "application/json", buf, (size_t)n);
    }
    return reply(c, 404, "text/plain", "not found\n", 10);
}

relay_http *relay_http_start(relay_stats *s, const char *bind, int port, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port == 0)
        return NULL;
    if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "metrics: bind address \"%s\" is not an IPv4 address", bind);
        return NULL;
    }
    relay_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->s = s;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                            NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, 16U, MHD_OPTION_CONNECTION_TIMEOUT, 10U,
                            MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "metrics: cannot listen on %s:%d", bind, port);
        free(h);
        return NULL;
    }
    return h;
}

void relay_http_stop(relay_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
