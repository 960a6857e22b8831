# The Kafka, schema-registry, Avro and checkpoint modules of
# userstream-console, as a library so the program, the unit tests and the
# fuzz targets link exactly the same code. Included from
# src/console/CMakeLists.txt.
include_guard(GLOBAL)
pkg_check_modules(CON_KAFKA_DEPS REQUIRED IMPORTED_TARGET rdkafka jansson libcurl)

set(_con_kafka_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(us_console_kafka STATIC
  ${_con_kafka_dir}/con_avro.c ${_con_kafka_dir}/con_avro_schema.c
  ${_con_kafka_dir}/con_avro_diff.c ${_con_kafka_dir}/con_registry.c
  ${_con_kafka_dir}/con_checkpoint.c ${_con_kafka_dir}/con_kafka.c
  ${_con_kafka_dir}/con_kafka_admin.c ${_con_kafka_dir}/con_kafka_browse.c)
target_include_directories(us_console_kafka PUBLIC ${_con_kafka_dir})
target_link_libraries(us_console_kafka PUBLIC us_common PkgConfig::CON_KAFKA_DEPS Threads::Threads m)
