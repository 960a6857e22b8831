/* libFuzzer target: the schema registry's answers as con_registry parses
 * them, and the structural diff of two schemas ("old\0new"). The first
 * byte picks the parser. */
#include "con_avro.h"
#include "con_registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size < 1)
        return 0;
    size_t n = size - 1;
    char *buf = malloc(n + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, n);
    buf[n] = '\0';
    json_t *j = NULL;
    switch (data[0] % 5) {
    case 0:
        j = con_registry_parse_string_array(buf, n, err, sizeof(err));
        break;
    case 1:
        j = con_registry_parse_int_array(buf, n, err, sizeof(err));
        break;
    case 2:
        j = con_registry_parse_config(buf, n, err, sizeof(err));
        break;
    case 3:
        j = con_registry_parse_schema(buf, n, err, sizeof(err));
        break;
    default: {
        size_t first = strlen(buf);
        const char *second = first < n ? buf + first + 1 : "";
        j = con_avro_schema_diff(buf, second, err, sizeof(err));
    }
    }
    json_decref(j);
    free(buf);
    return 0;
}
