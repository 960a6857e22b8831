# Unit tests of userstream-load (cmocka): validation, flattening, the JSON
# scanner, raw-text safety, COPY encoding, retry/backoff.
if(TARGET ld_core)
  us_unit_test(test_load_user test_load_user.c)
  target_link_libraries(test_load_user PRIVATE ld_core)
  us_unit_test(test_load_page test_load_page.c)
  target_link_libraries(test_load_page PRIVATE ld_core PkgConfig::JANSSON)
  us_unit_test(test_load_retry test_load_retry.c)
  target_link_libraries(test_load_retry PRIVATE ld_core)
endif()
