/* libFuzzer target: a Cassandra RESULT or ERROR frame body (any bytes),
 * with or without the warnings list that flag 0x08 puts first. */
#include "con_cql.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t n;
    char err[256];
    con_cql_parse_count(data, size, &n, err, sizeof err);
    con_cql_parse_error(data, size, err, sizeof err);
    size_t w = con_cql_warnings_len(data, size);
    if (w != (size_t)-1 && w <= size)
        con_cql_parse_count(data + w, size - w, &n, err, sizeof err);
    return 0;
}
