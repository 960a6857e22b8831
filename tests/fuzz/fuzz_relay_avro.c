/* libFuzzer target: text values -> Avro (every kind), and the registry's
 * JSON answers (schema id, earlier schema). The first byte picks what. */
#include "relay_avro.h"
#include "relay_registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    uint8_t *buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    size_t n = size - 1;
    if (sel < 128) {
        relay_buf b = {0};
        relay_avro_put_text(&b, (relay_avro_kind)(sel % 9), buf, n, err, sizeof err);
        relay_buf_free(&b);
    } else if (sel < 192) {
        int32_t id;
        relay_registry_parse_id((const char *)buf, n, &id);
    } else {
        char *s = malloc(n + 1);
        memcpy(s, buf, n);
        s[n] = '\0';
        relay_pgoutput_relation *r = relay_avro_relation_from_schema(s, err, sizeof err);
        if (r) {
            char *js = relay_avro_schema_json(r, err, sizeof err);
            free(js);
            relay_pgoutput_relation_free(r);
        }
        free(s);
    }
    free(buf);
    return 0;
}
