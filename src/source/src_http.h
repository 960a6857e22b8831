/* src_http: serves src_api over HTTP/1.1 on us_http: a thread pool (one
 * polling thread per configured thread, epoll), every method and target
 * handed to src_api (its 404 and OPTIONS answers are upstream's, so no
 * built-in /health), request bodies read and dropped, delayed ("slow")
 * answers through us_http_delay, and the CORS and cache headers upstream
 * sends instead of us_http's browser security headers. It counts what it
 * answers (src_http_write_metrics); src_metrics serves that on a port of its
 * own, since every path of this one is the API's. */
#ifndef SRC_HTTP_H
#define SRC_HTTP_H

#include "src_api.h"
#include "us_buf.h"

#include <stddef.h>

typedef struct src_http src_http;

typedef struct src_http_config {
    const char *bind;  /* numeric IPv4 or IPv6 address */
    int port;          /* 0: any free port */
    int threads;       /* >= 1 */
    long max_requests; /* after this many answered requests, on_done is called; 0 = never */
    void (*on_done)(void);
} src_http_config;

/* Starts serving; NULL with a message in err on failure (e.g. port taken). */
src_http *src_http_start(src_api *api, const src_http_config *cfg, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
int src_http_port(const src_http *h);
/* Appends the API server's counters in Prometheus text (userstream_source_*:
 * users generated, response bytes, faults by kind, requests by status
 * class); thread-safe, for src_metrics. */
void src_http_write_metrics(const src_http *h, us_buf *b);
/* Answers what is delayed, closes every connection and frees h. */
void src_http_stop(src_http *h);

#endif
