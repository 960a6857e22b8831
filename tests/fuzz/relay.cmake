# libFuzzer targets of userstream-relay: every parser of untrusted bytes.
# The parsers' sources are compiled into each target so they are instrumented.
set(_relay ${PROJECT_SOURCE_DIR}/src/relay)
pkg_check_modules(RELAY_FUZZ_DEPS REQUIRED IMPORTED_TARGET jansson libpq)

# pgoutput messages (both stream modes) and replication CopyData frames.
us_fuzz_target(fuzz_relay_pgoutput fuzz_relay_pgoutput.c
  ${_relay}/relay_pgoutput.c ${_relay}/relay_wire.c)
target_include_directories(fuzz_relay_pgoutput PRIVATE ${_relay} ${PROJECT_SOURCE_DIR}/src/common)

# Frames, parsed by relay_repl.c's relay_frame_parse.
us_fuzz_target(fuzz_relay_frame fuzz_relay_frame.c
  ${_relay}/relay_repl.c ${_relay}/relay_wire.c)
target_include_directories(fuzz_relay_frame PRIVATE ${_relay} ${PROJECT_SOURCE_DIR}/src/common)
target_link_libraries(fuzz_relay_frame PRIVATE us_common PkgConfig::RELAY_FUZZ_DEPS)

# PostgreSQL text values -> Avro, and registry answers (JSON).
us_fuzz_target(fuzz_relay_avro fuzz_relay_avro.c
  ${_relay}/relay_avro.c ${_relay}/relay_pgoutput.c ${_relay}/relay_wire.c ${_relay}/relay_registry.c)
target_include_directories(fuzz_relay_avro PRIVATE ${_relay} ${PROJECT_SOURCE_DIR}/src/common)
pkg_check_modules(RELAY_FUZZ_CURL REQUIRED IMPORTED_TARGET libcurl)
target_link_libraries(fuzz_relay_avro PRIVATE us_common PkgConfig::RELAY_FUZZ_DEPS PkgConfig::RELAY_FUZZ_CURL m)
