/* us_http: the one HTTP server wrapper of userstream's programs, around
 * libmicrohttpd.
 *
 * A program declares a routing table (method, exact path or prefix, handler)
 * and gets: a listener on one address only, bounded connections, request
 * heads and bodies, a built-in GET /health, 404 for an unknown path, 405 for
 * a known path with another method, 400/413 with a reason for malformed or
 * oversized requests, and request counters for /metrics. A route may take
 * every method and every target (method NULL, prefix ""): it then answers
 * /health and the unknown paths itself, as an API that mimics another server
 * must (userstream-source).
 *
 * Two threading models. threads = 0: a thread per connection (bounded), so a
 * slow upstream call in one request does not hold the others (the console).
 * threads = N: N polling threads (epoll) share every connection, for many
 * short CPU-bound answers (the source). Handlers must be thread-safe either
 * way. A reply may be delayed (us_http_delay) without holding a thread in
 * the pool: the connection is suspended and resumed by a timer thread (with
 * a thread per connection, that thread waits).
 *
 * Query strings are parsed by us_http_query_* (pure functions, fuzzed):
 * libmicrohttpd never sees the arguments (a few thousand of them can leave
 * its connection pool exhausted without an answer). */
#ifndef US_HTTP_H
#define US_HTTP_H

#include "us_buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct us_http us_http;
typedef struct us_http_req us_http_req;

typedef void (*us_http_handler)(us_http_req *req, void *ud);
/* Runs before a guarded route; returns true to go on, false when it has
 * answered itself (401, a redirect). */
typedef bool (*us_http_guard)(us_http_req *req, void *ud);

typedef struct us_http_route {
    const char *method; /* "GET" (also answers HEAD), "POST"; NULL: any method */
    const char *path;   /* "/api/pipeline"; with prefix: "/static/" ("": any target) */
    bool prefix;
    bool guarded;
    us_http_handler fn;
    void *ud;
} us_http_route;

typedef struct us_http_config {
    const char *bind; /* numeric IPv4 or IPv6 address */
    int port;
    unsigned max_connections; /* 0: 64 */
    unsigned timeout_s;       /* idle connection timeout; 0: 30 */
    size_t max_body;          /* request body limit; 0: 16 KiB */
    us_http_guard guard;
    void *guard_ud;
} us_http_config;

/* More of the server, for us_http_start_opts; zero (or NULL opts) keeps the
 * defaults, those of us_http_start. A struct of its own because callers fill
 * us_http_config by position. */
typedef struct us_http_opts {
    unsigned threads;  /* 0: a thread per connection; N: N polling threads */
    size_t max_head;   /* request line and headers; 0: 32 KiB (longer: 414/431) */
    bool discard_body; /* read request bodies and drop them (never 413) */
    /* Headers of every reply, name, value, ..., NULL: replace the default set
     * (Cache-Control: no-store and the browser security headers). */
    const char *const *base_headers;
    /* on_max_requests(max_requests_ud) is called once, from a server thread,
     * when max_requests requests have completed; 0: never. */
    unsigned long long max_requests;
    void (*on_max_requests)(void *ud);
    void *max_requests_ud;
} us_http_opts;

/* Listens on cfg->bind:cfg->port (0: any free port); NULL with the reason.
 * routes must outlive the server. */
us_http *us_http_start(const us_http_config *cfg, const us_http_route *routes, size_t n_routes,
                       char *err, size_t errlen);
us_http *us_http_start_opts(const us_http_config *cfg, const us_http_opts *opts,
                            const us_http_route *routes, size_t n_routes, char *err, size_t errlen);
/* The port listened on (useful with port 0). */
int us_http_port(const us_http *h);
/* Sends the delayed replies at once, waits (up to 10 s) for the replies in
 * progress to go out, closes every connection and frees h. */
void us_http_stop(us_http *h);

/* Requests answered so far, by status class (index 2 = 2xx ... 5 = 5xx). */
void us_http_counts(const us_http *h, unsigned long long out[6]);
/* userstream_<prog>_http_requests_total{code="2xx"} ... */
void us_http_write_metrics(const us_http *h, us_buf *b, const char *prefix);

/* ---- the request ---- */
const char *us_http_method(const us_http_req *r);
const char *us_http_path(const us_http_req *r);  /* without the query, not decoded */
const char *us_http_query(const us_http_req *r); /* after '?', "" when none */
const char *us_http_header(const us_http_req *r, const char *name);
const char *us_http_cookie(const us_http_req *r, const char *name);
const char *us_http_body(const us_http_req *r, size_t *len);
/* The peer's numeric address into out ("" when unknown); returns out. */
const char *us_http_client(const us_http_req *r, char *out, size_t outlen);

/* ---- answering: exactly one reply per request ---- */
/* The reply goes out no sooner than ms from now (at once when the server
 * stops); call before replying. */
void us_http_delay(us_http_req *r, unsigned ms);
/* Adds a response header (up to 8; copied), sent after Content-Type. */
void us_http_add_header(us_http_req *r, const char *name, const char *value);
void us_http_reply(us_http_req *r, unsigned status, const char *type, const void *body, size_t len);
/* Takes over body (malloc'd). */
void us_http_reply_take(us_http_req *r, unsigned status, const char *type, char *body, size_t len);
/* {"error": "<reason>"} with the status. */
void us_http_error(us_http_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A file's contents; 404 when it cannot be opened. */
void us_http_reply_file(us_http_req *r, const char *path, const char *type);
void us_http_redirect(us_http_req *r, const char *location);

/* ---- query strings (application/x-www-form-urlencoded), pure ---- */
/* Decodes %XX and '+'; -1 on a bad escape, a NUL byte or no room. */
int us_url_decode(const char *s, size_t n, char *out, size_t outlen);
/* Checks every pair decodes and every key is in allowed (NULL-terminated);
 * -1 with the reason otherwise. */
int us_http_query_check(const char *query, const char *const *allowed, char *err, size_t errlen);
/* The decoded value of key: 1 found, 0 missing, -1 malformed (reason in err). */
int us_http_query_get(const char *query, const char *key, char *out, size_t outlen, char *err,
                      size_t errlen);
/* An integer in [min, max]; def when missing; -1 with the reason otherwise. */
int us_http_query_long(const char *query, const char *key, long min, long max, long def, long *out,
                       char *err, size_t errlen);
/* Appends s to b as the inside of a JSON string (no quotes). */
void us_json_escape(us_buf *b, const char *s);

#endif
