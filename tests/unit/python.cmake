# Python unit tests of what several parts share (tests/unit/python, pytest):
# the configuration readers agree (bash, C, Python), every key has its default
# in userstream.conf, and the users record's shape matches stack/avro/users.avsc
# in every part. conf_dump is the C reader under test (us_config, as every
# program reads the file).
add_executable(conf_dump conf_dump.c)
target_link_libraries(conf_dump PRIVATE us_common)
if(DEFINED ENV{US_VENV} AND EXISTS "$ENV{US_VENV}/bin/python")
  add_test(NAME python_unit
           COMMAND $ENV{US_VENV}/bin/python -m pytest -q -p no:cacheprovider
                   ${CMAKE_CURRENT_SOURCE_DIR}/python
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(python_unit PROPERTIES TIMEOUT 600
    ENVIRONMENT "US_ROOT=${PROJECT_SOURCE_DIR};US_BUILD_DIR=${CMAKE_BINARY_DIR};US_CONF_DUMP=$<TARGET_FILE:conf_dump>;ASAN_OPTIONS=detect_leaks=1:abort_on_error=1")
endif()
