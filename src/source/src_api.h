/* src_api: the randomuser.me 1.4 API as a pure function of a request
 * (method, path, query, client address) to a response (status, headers,
 * body), plus the server-wide state it needs: the data lists, the optional
 * per-client rate limit and the optional fault injection. The HTTP layer
 * (src_http) only moves bytes. Thread-safe. */
#ifndef SRC_API_H
#define SRC_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SRC_FAULT_NONE,
    SRC_FAULT_500,      /* 500 with upstream's "Uh oh" error body */
    SRC_FAULT_429,      /* 429 with upstream's rate-limit body */
    SRC_FAULT_SLOW,     /* the normal response, after a delay */
    SRC_FAULT_TRUNCATE, /* the body cut short (Content-Length matches the cut) */
    SRC_FAULT_BAD_UTF8, /* a byte of the first name replaced by 0xFF */
    SRC_FAULT_EMPTY,    /* "results": [] with info intact (the 2026 outage) */
    SRC_FAULT_KINDS,
} src_fault;

typedef struct src_api_config {
    bool quirks;                         /* reproduce upstream's output bugs */
    int64_t now_ms;                      /* reference time for ages; 0 = the clock */
    double fault_share[SRC_FAULT_KINDS]; /* share of API responses per fault */
    int slow_ms;
    bool fault_seeded; /* decisions depend only on (request, attempt) */
    uint64_t fault_seed;
    long rate_limit; /* users per client per window; 0 = off */
    int64_t rate_window_ms;
} src_api_config;

typedef struct src_http_request {
    const char *method;
    const char *path;
    size_t path_n;
    const char *query; /* raw, without '?'; may be NULL */
    size_t query_n;
    const char *client;    /* client address for the rate limit */
    const char *forwarded; /* first of cf-connecting-ip, x-real-ip, x-forwarded-for */
} src_http_request;

typedef struct src_response {
    int status;
    const char *content_type;
    char *body; /* malloc'd; the caller frees (src_response_free) */
    size_t body_len;
    const char *filename; /* dl: "download.json" etc., else NULL */
    src_fault fault;
    int delay_ms;   /* answer no earlier than this */
    bool preflight; /* OPTIONS: CORS preflight headers */
    long users;     /* users generated */
} src_response;

typedef struct src_api src_api;

src_api *src_api_new(const src_api_config *cfg, char *err, size_t errlen);
void src_api_free(src_api *api);
void src_api_handle(src_api *api, const src_http_request *req, src_response *resp);
void src_response_free(src_response *resp);
const char *src_fault_name(src_fault f);

#endif
