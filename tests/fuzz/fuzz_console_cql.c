/* libFuzzer target: a Cassandra RESULT or ERROR frame body (any bytes). */
#include "con_cql.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t n;
    char err[256];
    con_cql_parse_count(data, size, &n, err, sizeof err);
    con_cql_parse_error(data, size, err, sizeof err);
    return 0;
}
