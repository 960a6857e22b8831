/* relay_metrics: see relay_metrics.h. */
#include "relay_metrics.h"

#include "us_http.h"

#include <stdio.h>
#include <stdlib.h>

/* A scrape every few seconds and a health check: a few connections on one
 * polling thread are plenty; an idle one is closed after 10 s. */
#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10

struct relay_metrics {
    us_http *http;
    relay_stats *s;
    us_http_route routes[2];
};

static void on_metrics(us_http_req *req, void *ud)
{
    relay_metrics *m = ud;
    us_buf b = {0};
    relay_stats_render(m->s, &b);
    us_http_write_metrics(m->http, &b, "userstream_relay");
    if (b.oom) {
        us_buf_free(&b);
        us_http_error(req, 500, "out of memory");
        return;
    }
    size_t len;
    char *body = us_buf_steal(&b, &len);
    us_http_reply_take(req, 200, "text/plain; version=0.0.4", body, len);
}

/* 200 while the relay snapshots or streams (back-pressure included), 503
 * while it starts, stops or has failed. */
static void on_health(us_http_req *req, void *ud)
{
    relay_metrics *m = ud;
    char body[160];
    uint64_t st = RELAY_STAT_GET(m->s, state);
    bool ok = relay_state_healthy(st);
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"state\":\"%s\",\"inflight_transactions\":%llu}\n",
                     ok ? "ok" : "unavailable", relay_state_name(st),
                     (unsigned long long)RELAY_STAT_GET(m->s, inflight_txns));
    us_http_reply(req, ok ? 200 : 503, "application/json", body, (size_t)n);
}

relay_metrics *relay_metrics_start(relay_stats *s, const char *bind, int port, char *err,
                                   size_t errlen)
{
    char e[512];
    if (port == 0)
        return NULL;
    relay_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    m->s = s;
    m->routes[0] = (us_http_route){.method = "GET", .path = "/metrics", .fn = on_metrics, .ud = m};
    m->routes[1] = (us_http_route){.method = "GET", .path = "/health", .fn = on_health, .ud = m};
    us_http_config hc = {.bind = bind,
                         .port = port,
                         .max_connections = MAX_CONNECTIONS,
                         .timeout_s = CONNECTION_TIMEOUT_S};
    us_http_opts ho = {.threads = 1};
    m->http = us_http_start_opts(&hc, &ho, m->routes, 2, e, sizeof e);
    if (!m->http) {
        snprintf(err, errlen, "metrics on %s:%d: %s", bind, port, e);
        free(m);
        return NULL;
    }
    return m;
}

void relay_metrics_stop(relay_metrics *m)
{
    if (!m)
        return;
    us_http_stop(m->http);
    free(m);
}
