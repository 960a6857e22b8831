/* src_http: serves src_api over HTTP/1.1 with libmicrohttpd: a thread pool
 * (one polling thread per configured thread, epoll), raw request targets
 * taken before MHD decodes them, delayed ("slow") answers by suspending the
 * connection and resuming it from a timer thread, and the CORS and cache
 * headers upstream sends. */
#ifndef SRC_HTTP_H
#define SRC_HTTP_H

#include "src_api.h"

#include <stdint.h>

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
/* Answers what is delayed, closes every connection and frees h. */
void src_http_stop(src_http *h);

#endif
