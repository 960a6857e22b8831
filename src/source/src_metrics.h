/* src_metrics: userstream-source's metrics listener, a second us_http server
 * on its own port (US_SOURCE_METRICS_PORT): every path of the API port is
 * randomuser.me's, so /metrics cannot live there. It serves GET /metrics
 * (src_http's counters, the listener's own requests, the start time) and
 * us_http's built-in GET /health, for Prometheus and the console. */
#ifndef SRC_METRICS_H
#define SRC_METRICS_H

#include "src_http.h"

#include <stddef.h>

typedef struct src_metrics src_metrics;

/* Listens on bind:port (port 0: any free port); NULL with the reason.
 * api must outlive the listener. */
src_metrics *src_metrics_start(const src_http *api, const char *bind, int port, char *err,
                               size_t errlen);
int src_metrics_port(const src_metrics *m);
void src_metrics_stop(src_metrics *m);

#endif
