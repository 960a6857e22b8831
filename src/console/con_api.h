/* con_api: the console's HTTP surface (us_http routes).
 *
 *   GET  /health                 liveness, public (us_http)
 *   GET  /login, POST /login     the login page; password -> session cookie
 *   POST /logout
 *   GET  /static/FILE            the page's own CSS/JS, public (no data in them)
 *   GET  /vendor/uplot/FILE      uPlot from npm (installed by the service's setup)
 *   GET  /                       the page (session, else a redirect to /login)
 *   GET  /api/pipeline           everything of the landing page
 *   GET  /api/counts             the stage counts (`./userstream counts`)
 *   GET  /api/health             each engine's readiness
 *   GET  /api/history?metric=A[,B...]&seconds=N   the ring, 1 s steps
 *   GET  /metrics                Prometheus text: a session or the bearer token
 * Every /api path needs a session (else 401); a malformed parameter is a 400
 * with the reason; an unknown path a 404. */
#ifndef CON_API_H
#define CON_API_H

#include "con_auth.h"
#include "con_collect.h"
#include "con_ring.h"
#include "us_http.h"

typedef struct con_api {
    con_auth *auth;
    con_collect *collect;
    con_ring *ring;
    us_http *http; /* set after start, for its request counters */
    const char *web_dir;
    const char *uplot_dir;
    long login_delay_ms;
    struct con_kafka *kafka; /* NULL when not built with it */
    struct con_registry *registry;
    const char *spark_checkpoint; /* the Spark query's checkpoint directory */
    struct con_airflow *airflow;
} con_api;

/* The routing table (static storage) bound to api. */
const us_http_route *con_api_routes(con_api *api, size_t *n);
/* The guard: a valid session cookie, else 401 (/api) or a redirect (pages). */
bool con_api_guard(us_http_req *req, void *ud);

/* Whether name is a safe file name under a served directory: [A-Za-z0-9._-],
 * not starting with '.', no '/' (exposed for the fuzz target). */
bool con_api_safe_name(const char *name);

#endif
