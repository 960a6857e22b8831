# userstream-source unit tests (included by tests/unit/CMakeLists.txt).
foreach(t test_source_parse test_source_gen test_source_format test_source_api)
  us_unit_test(${t} ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c)
  target_link_libraries(${t} PRIVATE us_source_core)
endforeach()
