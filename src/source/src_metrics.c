/* src_metrics: see src_metrics.h. */
#include "src_metrics.h"
#include "us_err.h"
#include "us_http.h"
#include "us_metrics.h"

#include <stdlib.h>
#include <time.h>

struct src_metrics {
    us_http *server;
    const src_http *api;
    double started; /* Unix seconds */
    us_http_route route;
};

static void on_metrics(us_http_req *r, void *ud)
{
    src_metrics *m = ud;
    us_buf b = {0};
    src_http_write_metrics(m->api, &b);
    us_prom_metric(&b, "userstream_source_start_time_seconds", "gauge",
                   "When the server started (Unix seconds).", m->started);
    us_http_write_metrics(m->server, &b, "userstream_source_metrics");
    if (b.oom) {
        us_buf_free(&b);
        us_http_error(r, 500, "out of memory");
        return;
    }
    size_t len;
    char *body = us_buf_steal(&b, &len);
    us_http_reply_take(r, 200, "text/plain; version=0.0.4", body, len);
}

src_metrics *src_metrics_start(const src_http *api, const char *bind, int port, char *err,
                               size_t errlen)
{
    src_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return us_errp(err, errlen, "out of memory");
    m->api = api;
    m->started = (double)time(NULL);
    m->route = (us_http_route){.method = "GET", .path = "/metrics", .fn = on_metrics, .ud = m};
    us_http_config hc = {.bind = bind, .port = port, .max_connections = 16, .timeout_s = 10};
    m->server = us_http_start(&hc, &m->route, 1, err, errlen);
    if (!m->server) {
        free(m);
        return NULL;
    }
    return m;
}

int src_metrics_port(const src_metrics *m)
{
    return us_http_port(m->server);
}

void src_metrics_stop(src_metrics *m)
{
    if (!m)
        return;
    us_http_stop(m->server);
    free(m);
}
