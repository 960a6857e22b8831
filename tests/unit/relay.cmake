# Unit tests of userstream-relay (src/relay). Fixtures: relay_fixtures/.
if(TARGET us_relay)
  us_unit_test(test_relay_pgoutput test_relay_pgoutput.c relay_test_util.c)
  target_link_libraries(test_relay_pgoutput PRIVATE us_relay)
  us_unit_test(test_relay_avro test_relay_avro.c)
  target_link_libraries(test_relay_avro PRIVATE us_relay)
  us_unit_test(test_relay_ring test_relay_ring.c)
  target_link_libraries(test_relay_ring PRIVATE us_relay)
  us_unit_test(test_relay_spool test_relay_spool.c)
  target_link_libraries(test_relay_spool PRIVATE us_relay)
  us_unit_test(test_relay_kafka_mock test_relay_kafka_mock.c)
  target_link_libraries(test_relay_kafka_mock PRIVATE us_relay)
  us_unit_test(test_relay_emit test_relay_emit.c relay_test_util.c)
  target_link_libraries(test_relay_emit PRIVATE us_relay)
  us_unit_test(test_relay_stats test_relay_stats.c)
  target_link_libraries(test_relay_stats PRIVATE us_relay)
  # relay_loop driven in process: recorded frames (relay_test_stream), mock Kafka.
  us_unit_test(test_relay_loop test_relay_loop.c relay_test_stream.c relay_test_util.c)
  target_link_libraries(test_relay_loop PRIVATE us_relay)

  # The Avro bytes the relay writes, decoded by an independent decoder
  # (fastavro) and compared with PostgreSQL's own text of each value.
  add_executable(relay_avro_dump relay_avro_dump.c)
  target_link_libraries(relay_avro_dump PRIVATE us_relay)
  # The project's venv (stack/python/requirements.txt pins fastavro) when
  # ./userstream runs the build; any python3 otherwise.
  if(DEFINED ENV{US_VENV} AND EXISTS "$ENV{US_VENV}/bin/python")
    set(_relay_py "$ENV{US_VENV}/bin/python")
  else()
    find_package(Python3 COMPONENTS Interpreter)
    set(_relay_py ${Python3_EXECUTABLE})
  endif()
  if(_relay_py)
    add_test(NAME test_relay_avro_fastavro
             COMMAND ${_relay_py} ${CMAKE_CURRENT_SOURCE_DIR}/relay_avro_check.py
                     $<TARGET_FILE:relay_avro_dump>
                     ${CMAKE_CURRENT_SOURCE_DIR}/relay_fixtures/pgoutput_v1.bin)
    # 77 = fastavro missing: reported as skipped, not passed.
    set_tests_properties(test_relay_avro_fastavro PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
