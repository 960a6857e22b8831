/* con_upstream: see con_upstream.h. */
#include "con_upstream.h"
#include "con_cql.h"
#include "con_fetch.h"
#include "us_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bucket bounds of userstream_relay_commit_to_ack_seconds (relay_metrics.c). */
#define HIST_MAX 24
#define HIST_WINDOW 300 /* seconds of bucket snapshots kept: the 5-min quantiles */

typedef struct hist_snap {
    int64_t t;
    double count[HIST_MAX + 1]; /* cumulative, as exposed */
} hist_snap;

struct con_upstream {
    con_upstream_conf conf;
    us_buf body;
    double bounds[HIST_MAX];
    size_t n_bounds;
    hist_snap cur;
    hist_snap *snaps; /* [HIST_WINDOW], by t % HIST_WINDOW */
    con_cql *cql;     /* the readiness check's held Cassandra connection */
};

con_upstream *con_upstream_new(const con_upstream_conf *conf)
{
    con_upstream *u = calloc(1, sizeof *u);
    if (!u || !(u->snaps = calloc(HIST_WINDOW, sizeof *u->snaps))) {
        free(u);
        return NULL;
    }
    u->conf = *conf;
    return u;
}

const con_upstream_conf *con_upstream_conf_of(const con_upstream *u)
{
    return &u->conf;
}

con_cql **con_upstream_held_cql(con_upstream *u)
{
    return &u->cql;
}

void con_upstream_free(con_upstream *u)
{
    if (!u)
        return;
    us_buf_free(&u->body);
    con_cql_close(u->cql);
    free(u->snaps);
    free(u);
}

typedef struct relay_walk {
    con_upstream *u;
    con_sample *s;
} relay_walk;

static const struct {
    const char *prom, *name;
} relay_map[] = {
    {"userstream_relay_rows_total", "relay.rows"},
    {"userstream_relay_rows_acked_total", "relay.rows_acked"},
    {"userstream_relay_rows_per_second", "relay.rows_per_s"},
    {"userstream_relay_inflight_transactions", "relay.inflight_txns"},
    {"userstream_relay_inflight_messages", "relay.inflight_msgs"},
    {"userstream_relay_delivery_errors_total", "relay.delivery_errors"},
    {"userstream_relay_duplicate_rows_total", "relay.duplicates"},
    {"userstream_relay_slot_lag_bytes", "relay.slot_lag_bytes"},
    {"userstream_relay_state", "relay.state"},
    {"userstream_relay_commit_to_ack_seconds_count", "relay.acks"},
};

/* One bucket sample: its bound goes into the table (in order of appearance,
 * which is ascending in our writer), its cumulative count into cur. */
static void on_bucket(con_upstream *u, const us_prom_sample_t *p)
{
    char le[32];
    if (us_prom_label(p->labels, "le", le, sizeof le) != 1)
        return;
    double bound = !strcmp(le, "+Inf") ? INFINITY : strtod(le, NULL);
    size_t i = 0;
    while (i < u->n_bounds && u->bounds[i] != bound)
        i++;
    if (i == u->n_bounds) {
        if (u->n_bounds >= HIST_MAX || (i && !(bound > u->bounds[i - 1])))
            return;
        u->bounds[u->n_bounds++] = bound;
    }
    u->cur.count[i] = p->value;
}

static int on_relay_sample(void *ud, const us_prom_sample_t *p)
{
    relay_walk *w = ud;
    if (!strcmp(p->name, "userstream_relay_commit_to_ack_seconds_bucket")) {
        on_bucket(w->u, p);
        return 0;
    }
    for (size_t i = 0; i < sizeof relay_map / sizeof relay_map[0]; i++)
        if (!strcmp(p->name, relay_map[i].prom))
            con_sample_put(w->s, relay_map[i].name, p->value);
    return 0;
}

/* The q-quantile of the counts added between snapshot `old` and cur, by
 * linear interpolation inside the bucket (as Prometheus histogram_quantile). */
static double quantile(const con_upstream *u, const hist_snap *old, double q)
{
    size_t n = u->n_bounds;
    if (!n)
        return NAN;
    double total = u->cur.count[n - 1] - old->count[n - 1];
    if (!(total > 0))
        return NAN;
    double rank = q * total, prev = 0, lower = 0;
    for (size_t i = 0; i < n; i++) {
        double c = u->cur.count[i] - old->count[i];
        if (c >= rank) {
            if (isinf(u->bounds[i]))
                return lower;
            return lower + (u->bounds[i] - lower) * (c > prev ? (rank - prev) / (c - prev) : 1);
        }
        prev = c;
        lower = u->bounds[i];
    }
    return lower;
}

static void put_latency(con_upstream *u, con_sample *s)
{
    u->cur.t = s->t;
    hist_snap *old = NULL;
    for (int64_t back = HIST_WINDOW - 1; back > 0 && !old; back--) {
        hist_snap *c = &u->snaps[(s->t - back) % HIST_WINDOW];
        if (c->t == s->t - back)
            old = c;
    }
    hist_snap zero = {0};
    if (!old)
        old = &zero; /* younger than 5 minutes: since the relay started */
    if (u->cur.count[u->n_bounds ? u->n_bounds - 1 : 0] <
        old->count[u->n_bounds ? u->n_bounds - 1 : 0])
        old = &zero; /* the relay restarted */
    con_sample_put(s, "relay.ack_p50_ms", quantile(u, old, 0.5) * 1000);
    con_sample_put(s, "relay.ack_p99_ms", quantile(u, old, 0.99) * 1000);
    u->snaps[s->t % HIST_WINDOW] = u->cur;
}

int con_upstream_parse_relay(con_upstream *u, con_sample *s, const char *text, size_t len,
                             char *err, size_t errlen)
{
    relay_walk w = {u, s};
    memset(u->cur.count, 0, sizeof u->cur.count);
    if (us_prom_parse(text, len, on_relay_sample, &w, err, errlen) != 0)
        return -1;
    put_latency(u, s);
    return 0;
}

/* The relay's series exist (as unknown, NaN) while it does not answer, so
 * the page's charts show a gap instead of failing on an unknown metric. */
static void put_relay_unknown(con_sample *s)
{
    for (size_t i = 0; i < sizeof relay_map / sizeof relay_map[0]; i++)
        con_sample_put(s, relay_map[i].name, NAN);
    con_sample_put(s, "relay.ack_p50_ms", NAN);
    con_sample_put(s, "relay.ack_p99_ms", NAN);
}

int con_upstream_relay(con_upstream *u, con_sample *s)
{
    char err[256];
    long st = con_fetch_get(u->conf.relay_metrics_url, u->conf.timeout_ms, NULL, &u->body, err,
                            sizeof err);
    if (st != 200) {
        if (st > 0)
            snprintf(err, sizeof err, "HTTP %ld", st);
        con_sample_error(s, "relay", "%s: %s", u->conf.relay_metrics_url, err);
        put_relay_unknown(s);
        return -1;
    }
    if (con_upstream_parse_relay(u, s, u->body.data, u->body.len, err, sizeof err) < 0) {
        con_sample_error(s, "relay", "/metrics: %s", err);
        put_relay_unknown(s);
        return -1;
    }
    return 0;
}

static int on_source_sample(void *ud, const us_prom_sample_t *p)
{
    if (!strcmp(p->name, "userstream_source_users_total"))
        con_sample_put(ud, "source.users", p->value);
    return 0;
}

int con_upstream_source(con_upstream *u, con_sample *s)
{
    char err[256];
    const char *url = u->conf.source_metrics_url;
    con_sample_put(s, "source.users", NAN); /* unknown until the scrape says */
    if (!url || !*url)
        return 0; /* US_SOURCE_METRICS_PORT=0: the source keeps no public counters */
    long st = con_fetch_get(url, u->conf.timeout_ms, NULL, &u->body, err, sizeof err);
    if (st != 200) {
        if (st > 0)
            snprintf(err, sizeof err, "HTTP %ld", st);
        con_sample_error(s, "source", "%s: %s", url, err);
        return -1;
    }
    if (us_prom_parse(u->body.data, u->body.len, on_source_sample, s, err, sizeof err) != 0) {
        con_sample_error(s, "source", "/metrics: %s", err);
        con_sample_put(s, "source.users", NAN);
        return -1;
    }
    return 0;
}
