# userstream-source fuzz targets (included by tests/fuzz/CMakeLists.txt).
# fuzz_source_query: the query-string parser, upstream's sanitising and the
#   whole API answer to it (every format, faults off), i.e. everything a
#   client controls.
us_fuzz_target(fuzz_source_query ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_source_query.c)
target_link_libraries(fuzz_source_query PRIVATE us_source_fuzzcore)
# fuzz_source_data: the TSV data-list parser.
us_fuzz_target(fuzz_source_data ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_source_data.c)
target_link_libraries(fuzz_source_data PRIVATE us_source_fuzzcore)
