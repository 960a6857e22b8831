/* ld_retry: when and how long to wait before fetching a page again.
 *
 * Transient failures (HTTP 408, 429, 5xx; timeouts, refused or cut
 * connections; a body that is truncated or not the expected JSON) are
 * retried with exponential backoff and full jitter: attempt k (k = 1 for the
 * first retry) waits a uniform random time in [0, min(cap, base * 2^(k-1))],
 * which spreads concurrent retries apart. A Retry-After header (seconds or
 * an HTTP-date, RFC 9110 §10.2.3) raises the wait to at least what the server
 * asked, up to retry_after_max. Two bounds keep a run finite: attempts per
 * page, and retries per run. */
#ifndef LD_RETRY_H
#define LD_RETRY_H

#include <stdint.h>
#include <time.h>

typedef struct ld_retry_policy {
    double base_s;          /* first backoff ceiling */
    double cap_s;           /* largest backoff ceiling */
    double retry_after_max; /* longest Retry-After honoured */
    int max_attempts;       /* per page, first try included */
    long max_retries;       /* per run */
} ld_retry_policy;

typedef enum {
    LD_ATTEMPT_OK = 0,
    LD_ATTEMPT_RETRY,     /* transient: try again if the budget allows */
    LD_ATTEMPT_PERMANENT, /* retrying cannot help (404, malformed URL) */
} ld_attempt_class;

/* Classifies a transfer from libcurl's result code and the HTTP status
 * (0 when no response arrived). */
ld_attempt_class ld_retry_classify(int curl_code, long http_status);

/* Seconds to wait before retry number `retry` (1-based). retry_after < 0
 * means none was given. rng is the caller's xorshift state (never 0). */
double ld_retry_delay(const ld_retry_policy *p, int retry, double retry_after, uint64_t *rng);

/* Parses a Retry-After value: delta-seconds or an IMF-fixdate; a date in
 * the past gives 0. Returns 0, or -1 when the value is neither. */
int ld_retry_after_parse(const char *value, time_t now, double *out);

/* Uniform double in [0, 1) from a xorshift64* state. */
double ld_rng_uniform(uint64_t *state);

#endif
