# libFuzzer targets of userstream-console's Kafka side (src/console/kafka.cmake):
# every parser of outside input it owns. Sources are compiled into each
# target so they are instrumented.
set(_con ${PROJECT_SOURCE_DIR}/src/console)
pkg_check_modules(CON_FUZZ_DEPS REQUIRED IMPORTED_TARGET jansson rdkafka libcurl)

# Avro values by the topic's schema and by any schema; keys and headers.
us_fuzz_target(fuzz_console_avro fuzz_console_avro.c
  ${_con}/con_avro.c ${_con}/con_avro_schema.c ${_con}/con_kafka.c ${_con}/con_checkpoint.c
  ${_con}/con_kafka_admin.c)
target_include_directories(fuzz_console_avro PRIVATE ${_con})
target_link_libraries(fuzz_console_avro PRIVATE PkgConfig::CON_FUZZ_DEPS m)

# Spark checkpoint offsets files.
us_fuzz_target(fuzz_console_checkpoint fuzz_console_checkpoint.c ${_con}/con_checkpoint.c)
target_include_directories(fuzz_console_checkpoint PRIVATE ${_con})
target_link_libraries(fuzz_console_checkpoint PRIVATE PkgConfig::CON_FUZZ_DEPS)

# Schema registry answers and the schema diff.
us_fuzz_target(fuzz_console_registry fuzz_console_registry.c
  ${_con}/con_registry.c ${_con}/con_avro_diff.c ${_con}/con_avro.c ${_con}/con_avro_schema.c)
target_include_directories(fuzz_console_registry PRIVATE ${_con})
target_link_libraries(fuzz_console_registry PRIVATE PkgConfig::CON_FUZZ_DEPS Threads::Threads m)
