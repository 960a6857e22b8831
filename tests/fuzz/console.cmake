# libFuzzer targets of userstream-console: every parser of outside input it
# owns (the Kafka/registry/Avro/checkpoint ones are in console_kafka.cmake).
# Sources are compiled into each target so they are instrumented.
set(_con ${PROJECT_SOURCE_DIR}/src/console)
set(_com ${PROJECT_SOURCE_DIR}/src/common)
pkg_check_modules(CONSOLE_FUZZ_DEPS REQUIRED IMPORTED_TARGET jansson libcurl)

# A request target (path?query) as a browser or an attacker sends it: the
# query checks and readers of every route, the served-file name check.
us_fuzz_target(fuzz_console_request fuzz_console_request.c
  ${_com}/us_http_query.c ${_com}/us_buf.c ${_com}/us_util.c ${_com}/us_err.c)
target_include_directories(fuzz_console_request PRIVATE ${_com} ${_con})
target_link_libraries(fuzz_console_request PRIVATE m)

# Prometheus text from the relay's /metrics (any bytes).
us_fuzz_target(fuzz_console_prom fuzz_console_prom.c
  ${_com}/us_metrics.c ${_com}/us_buf.c ${_con}/con_upstream.c ${_con}/con_cql.c ${_con}/con_sample.c
  ${_con}/con_ring.c ${_con}/con_fetch.c)
target_include_directories(fuzz_console_prom PRIVATE ${_com} ${_con})
target_link_libraries(fuzz_console_prom PRIVATE PkgConfig::CONSOLE_FUZZ_DEPS Threads::Threads m)

# Cassandra's RESULT and ERROR frame bodies.
us_fuzz_target(fuzz_console_cql fuzz_console_cql.c ${_con}/con_cql.c)
target_include_directories(fuzz_console_cql PRIVATE ${_con})

# Upstream JSON: readiness checks (Spark master /json/, Airflow health), Airflow DAGs and runs.
us_fuzz_target(fuzz_console_health fuzz_console_health.c
  ${_con}/con_health.c ${_con}/con_airflow.c ${_con}/con_upstream.c ${_con}/con_cql.c ${_con}/con_fetch.c
  ${_con}/con_sample.c ${_con}/con_ring.c ${_com}/us_buf.c ${_com}/us_metrics.c)
target_include_directories(fuzz_console_health PRIVATE ${_com} ${_con})
target_link_libraries(fuzz_console_health PRIVATE PkgConfig::CONSOLE_FUZZ_DEPS Threads::Threads m)
