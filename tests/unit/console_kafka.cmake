# Unit tests of userstream-console's Kafka, registry, Avro and checkpoint
# modules (src/console/kafka.cmake). Fixtures: console_fixtures/.
if(TARGET us_console_kafka)
  # Prints the JSON of each function against a running stack (integration).
  add_executable(console_kafka_dump console_kafka_dump.c)
  target_link_libraries(console_kafka_dump PRIVATE us_console us_console_kafka Threads::Threads)
endif()

if(TARGET us_console_kafka AND TARGET us_relay)
  # The decoder against the relay's encoder, recorded records and bad input.
  us_unit_test(test_console_avro test_console_avro.c)
  target_link_libraries(test_console_avro PRIVATE us_console_kafka us_relay)
endif()

if(TARGET us_console_kafka)
  # Parsing of the registry's answers and the schema diff.
  us_unit_test(test_console_registry test_console_registry.c)
  target_link_libraries(test_console_registry PRIVATE us_console_kafka)
  # Spark checkpoint offsets files and the latest committed batch.
  us_unit_test(test_console_checkpoint test_console_checkpoint.c)
  target_link_libraries(test_console_checkpoint PRIVATE us_console_kafka)
endif()
if(TARGET us_console_kafka)
  # Keys/headers as text or hex, client configuration, browser arguments.
  us_unit_test(test_console_kafka test_console_kafka.c)
  target_link_libraries(test_console_kafka PRIVATE us_console_kafka)
endif()
