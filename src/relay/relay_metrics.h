/* relay_metrics: the relay's HTTP endpoint, on us_http: /metrics (the
 * relay_stats exposition and us_http's request counters) and /health (200
 * while the relay works, 503 otherwise, with its state). us_http answers
 * every other path (404) and method (405). */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include "relay_stats.h"

#include <stddef.h>

typedef struct relay_metrics relay_metrics;

/* Listens on bind:port; port 0 disables the endpoint (returns NULL, no
 * error). NULL with the reason in err otherwise. */
relay_metrics *relay_metrics_start(relay_stats *s, const char *bind, int port, char *err,
                                   size_t errlen);
void relay_metrics_stop(relay_metrics *m);

#endif
