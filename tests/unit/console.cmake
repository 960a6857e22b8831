# Unit tests of userstream-console (src/console) and the common modules it
# brought (us_http query parsing, us_metrics, us_buf).
us_unit_test(test_common_http test_common_http.c)
target_link_libraries(test_common_http PRIVATE us_common)

if(TARGET us_console)
  us_unit_test(test_console_core test_console_core.c)
  target_link_libraries(test_console_core PRIVATE us_console)
endif()
