/* libFuzzer target: con_avro's decoder and schema parser, and the message
 * browser's bytes-to-JSON of keys and headers. The first byte picks what:
 *   0..127   the bytes (a Confluent-framed value, as on the topic) decoded
 *            by one of the fixed schemas below (the users topic's own
 *            shape, and one with every Avro type);
 *   128..223 "schema\0datum": any schema text, then a datum decoded by it;
 *   224..255 con_kafka_bytes_json (keys and header values). */
#include "con_avro.h"
#include "con_kafka_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const schemas[] = {
    "{\"type\":\"record\",\"name\":\"users\",\"namespace\":\"userstream.staging\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":[\"null\",{\"type\":\"string\",\"logicalType\":\"uuid\"}]},"
    "{\"name\":\"street_number\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"latitude\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"dob\",\"type\":[\"null\",{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}]"
    "},"
    "{\"name\":\"day\",\"type\":[\"null\",{\"type\":\"int\",\"logicalType\":\"date\"}]},"
    "{\"name\":\"__op\",\"type\":\"string\"},{\"name\":\"__lsn\",\"type\":\"long\"}]}",
    "{\"type\":\"record\",\"name\":\"All\",\"fields\":["
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"y\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
    "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"X\",\"size\":3}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":[\"null\",\"E\"]}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}}},"
    "{\"name\":\"next\",\"type\":[\"null\",\"All\"]}]}",
};

static con_avro_schema *fixed[2];

static void decode_fixed(uint8_t sel, const uint8_t *p, size_t n)
{
    char err[256];
    if (!fixed[0]) {
        for (size_t i = 0; i < 2; i++)
            fixed[i] = con_avro_schema_parse(schemas[i], err, sizeof(err));
        if (!fixed[0] || !fixed[1])
            abort();
    }
    int32_t id;
    const uint8_t *payload = p;
    size_t len = n;
    if (sel & 1)
        con_avro_confluent_header(p, n, &id, &payload, &len, err, sizeof(err));
    json_decref(con_avro_decode(fixed[(sel >> 1) & 1], payload, len, err, sizeof(err)));
}

static void decode_any(const uint8_t *p, size_t n)
{
    char err[256];
    const uint8_t *nul = memchr(p, 0, n);
    size_t slen = nul ? (size_t)(nul - p) : n;
    char *text = strndup((const char *)p, slen);
    if (!text)
        return;
    con_avro_schema *s = con_avro_schema_parse(text, err, sizeof(err));
    if (s && nul) {
        json_t *v = con_avro_decode(s, nul + 1, n - slen - 1, err, sizeof(err));
        char *dump = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        if (v && !dump)
            abort(); /* every decoded value must be valid JSON */
        free(dump);
        json_decref(v);
    }
    con_avro_schema_free(s);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    uint8_t *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1); /* exact-size copy: ASan sees overreads */
    if (sel < 128) {
        decode_fixed(sel, buf, size - 1);
    } else if (sel < 224) {
        decode_any(buf, size - 1);
    } else {
        json_t *j = con_kafka_bytes_json(buf, size - 1, 64);
        char *dump = json_dumps(j, 0);
        if (!dump)
            abort();
        free(dump);
        json_decref(j);
    }
    free(buf);
    return 0;
}
