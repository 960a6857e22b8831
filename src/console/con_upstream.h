/* con_upstream: the console's view of the pipeline programs' own endpoints.
 *
 *  - the source's /metrics -> source.users (users it generated)
 *  - the relay's /metrics (Prometheus text, parsed by us_prom_parse) ->
 *    relay.* numbers, and the commit -> Kafka ack latency p50/p99 over the
 *    last 5 minutes from the differences of its histogram buckets
 *  - readiness of every engine, each through a real protocol request, the
 *    same idea as `./userstream status` (stack/services/NN-*.sh *_ready):
 *    PostgreSQL (the collector's own login and query), Kafka (a metadata
 *    request, by the collector), registry /subjects, Cassandra (a CQL
 *    STARTUP -> READY), Spark master /json/ ALIVE and its worker ALIVE, the
 *    Spark job's driver UI, Airflow /api/v2/monitor/health (metadatabase,
 *    scheduler, triggerer, dag-processor), the source's API, the relay's
 *    /health. Down is a state shown with its reason, never an error. */
#ifndef CON_UPSTREAM_H
#define CON_UPSTREAM_H

#include "con_cql.h"
#include "con_sample.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct con_upstream_conf {
    const char *bind;
    const char *relay_metrics_url; /* http://host:port/metrics */
    const char *relay_health_url;
    const char *source_metrics_url; /* http://host:port/metrics; NULL or "": none */
    const char *source_url;         /* the API base; "?results=1&seed=ready" appended */
    const char *registry_url;       /* ccompat base */
    const char *spark_master_url;   /* http://host:ui_port/json/ */
    const char *spark_worker;       /* "host:port" the worker registers as */
    const char *spark_driver_url;   /* http://host:port/api/v1/applications */
    const char *airflow_health_url;
    const char *cassandra_host;
    int cassandra_port;
    long timeout_ms;
    con_cql_login cassandra_login; /* the reader role; user NULL: no login */
} con_upstream_conf;

typedef struct con_upstream con_upstream;

con_upstream *con_upstream_new(const con_upstream_conf *conf);
void con_upstream_free(con_upstream *u);

/* Scrapes the source; source.users into s (unknown without a metrics URL).
 * -1 when it did not answer. */
int con_upstream_source(con_upstream *u, con_sample *s);
/* Scrapes the relay; relay.* numbers into s. -1 when it did not answer. */
int con_upstream_relay(con_upstream *u, con_sample *s);

/* Every readiness check; "health" detail = [{"name","state":"up"|"down",
 * "detail","address"}] and health.<name> = 1/0. pg_ok/pg_detail and
 * kafka_ok/kafka_detail come from the collector's own requests. */
void con_upstream_health(con_upstream *u, con_sample *s, bool pg_ok, const char *pg_detail,
                         const char *pg_address, bool kafka_ok, const char *kafka_detail,
                         const char *kafka_address);

const con_upstream_conf *con_upstream_conf_of(const con_upstream *u);
/* The Cassandra connection con_upstream_health keeps between rounds (NULL
 * when none is open); closed by con_upstream_free. */
struct con_cql;
struct con_cql **con_upstream_held_cql(con_upstream *u);

/* Readings of upstream JSON, pure (unit and fuzz tests). The Spark master's
 * /json/: whether it is ALIVE and whether the worker that registers as
 * "host:port" is ALIVE, each with a reason. */
void con_health_spark(const json_t *doc, const char *worker, bool *master_up, char *why,
                      size_t whylen, bool *worker_up, char *wwhy, size_t wwhylen);
/* Airflow's /api/v2/monitor/health: the status of a component
 * ("metadatabase", "scheduler", ...), NULL when absent. */
const char *con_health_airflow(const json_t *doc, const char *component);

/* Parses a relay /metrics body into s (exposed for tests). Returns -1 with
 * the reason when the text is malformed. */
int con_upstream_parse_relay(con_upstream *u, con_sample *s, const char *text, size_t len,
                             char *err, size_t errlen);

#endif
