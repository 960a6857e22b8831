/* con_fetch: the console's one HTTP client set-up (libcurl): every upstream
 * HTTP call (the relay's /metrics, the registry, Airflow, Spark, readiness
 * checks) goes through here, so timeouts, size limits and (later) TLS or
 * basic-auth settings live in one place. */
#ifndef CON_FETCH_H
#define CON_FETCH_H

#include "us_buf.h"

#include <stddef.h>

/* Largest body accepted from an upstream; a longer one is an error. */
#define CON_FETCH_MAX_BODY (8u << 20)

/* Process-wide libcurl set-up; call once before any thread uses con_fetch. */
int con_fetch_global_init(void);

/* GET url with timeout_ms; the body goes into body (reset first). Returns
 * the HTTP status, or -1 when no answer came (reason in err). userpwd is
 * "user:password" for basic auth, or NULL. */
long con_fetch_get(const char *url, long timeout_ms, const char *userpwd, us_buf *body, char *err,
                   size_t errlen);

/* Any request: method "GET"/"POST", body (NULL: none) sent with
 * content_type, bearer (NULL: none) as "Authorization: Bearer ...". */
long con_fetch(const char *method, const char *url, const char *body, const char *content_type,
               const char *bearer, long timeout_ms, us_buf *out, char *err, size_t errlen);

#endif
