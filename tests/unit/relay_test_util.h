/* relay_test_util: what several relay unit tests share: the recorded
 * pgoutput fixtures (tests/unit/relay_fixtures, found through US_SOURCE_DIR)
 * and the record count of a mock-cluster topic. Failures are cmocka
 * assertions. */
#ifndef RELAY_TEST_UTIL_H
#define RELAY_TEST_UTIL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* The bytes of relay_fixtures/NAME (malloc'd; *len set). */
uint8_t *relay_test_fixture(const char *name, size_t *len);

/* Records in TOPIC over partitions 0..PARTITIONS-1 (high minus low marks). */
int64_t relay_test_records(rd_kafka_t *rk, const char *topic, int32_t partitions);

#endif
