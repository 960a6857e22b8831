# src/common fuzz targets: the configuration file parser (us_config), compiled
# into the target so it carries the fuzzer's coverage instrumentation.
set(_us ${PROJECT_SOURCE_DIR}/src/common)
us_fuzz_target(fuzz_common_config fuzz_common_config.c ${_us}/us_config.c ${_us}/us_util.c
               ${_us}/us_err.c ${_us}/us_log.c)
target_include_directories(fuzz_common_config PRIVATE ${_us})
target_link_libraries(fuzz_common_config PRIVATE m)
