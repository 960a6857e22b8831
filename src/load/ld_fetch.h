/* ld_fetch: concurrent page downloads with libcurl's multi interface.
 *
 * One thread drives every transfer (curl_multi_poll), at most `concurrency`
 * at a time. Jobs wait in a queue ordered by the time they may start, which
 * is how retry delays are kept without sleeping. A finished job is handed
 * back with its libcurl result, HTTP status, body, Retry-After and arrival
 * time; the caller decides (ld_retry) whether to give it back with
 * ld_fetch_retry or to keep it. */
#ifndef LD_FETCH_H
#define LD_FETCH_H

#include "ld_copy.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ld_fetch_opts {
    const char *base_url;    /* e.g. http://127.0.0.1:8100/api/1.4/ */
    const char *extra_query; /* appended as is ("nat=us"), may be NULL/"" */
    const char *seed;
    long results;
    int concurrency;
    long connect_timeout_ms;
    long timeout_ms; /* whole transfer */
    size_t max_body; /* larger bodies abort the transfer */
    const char *user_agent;
} ld_fetch_opts;

typedef struct ld_fetch_job {
    long page;
    int attempts; /* transfers started so far */
    char *url;    /* full request URL (may hold credentials: not logged) */
    /* result of the last attempt */
    int curl_code;
    long http_status;
    char curl_error[256];
    us_buf body;
    double retry_after; /* seconds, < 0: none */
    uint64_t fetched_wall_us;
    /* internal */
    uint64_t not_before_ns;
    void *easy;
    struct ld_fetch_job *next;
} ld_fetch_job;

typedef struct ld_fetcher ld_fetcher;

ld_fetcher *ld_fetch_new(const ld_fetch_opts *opts, char *err, size_t errlen);
void ld_fetch_free(ld_fetcher *f);

/* Queues page `page` for download now. */
int ld_fetch_add(ld_fetcher *f, long page, char *err, size_t errlen);
/* Queues a finished job again, to start after delay_s seconds. */
void ld_fetch_retry(ld_fetcher *f, ld_fetch_job *job, double delay_s);
/* Frees a job the caller is done with. */
void ld_fetch_job_free(ld_fetch_job *job);

/* Drives transfers for at most timeout_ms and returns a finished job (the
 * caller owns it), or NULL when none finished in time. */
ld_fetch_job *ld_fetch_next(ld_fetcher *f, int timeout_ms);

/* Jobs queued or in flight. */
size_t ld_fetch_pending(const ld_fetcher *f);

/* The base URL without user name and password, for lineage and logs. */
const char *ld_fetch_public_url(const ld_fetcher *f);
/* The public URL of one page, allocated (caller frees). */
char *ld_fetch_page_url(const ld_fetcher *f, long page);

#endif
