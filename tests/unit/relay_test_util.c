/* relay_test_util: see relay_test_util.h. */
#include "relay_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

uint8_t *relay_test_fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/unit/relay_fixtures/%s", getenv("US_SOURCE_DIR"), name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

int64_t relay_test_records(rd_kafka_t *rk, const char *topic, int32_t partitions)
{
    int64_t n = 0;
    for (int32_t p = 0; p < partitions; p++) {
        int64_t lo, hi;
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        n += hi - lo;
    }
    return n;
}
