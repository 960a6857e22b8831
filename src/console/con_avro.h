/* con_avro: a generic Avro binary decoder for the console's message
 * browser: the writer schema (JSON text, as the registry returns it) and the
 * bytes of one datum (without the Confluent 5-byte header) become a json_t.
 *
 * Supported: null, boolean, int, long, float, double, bytes, string,
 * records, enums, arrays, maps, fixed, unions, named-type references, and
 * the logical types timestamp-millis/-micros (ISO 8601 UTC strings such as
 * "2024-05-01T12:00:00.123456Z"; the int64 ends as "infinity"/"-infinity"), date
 * (YYYY-MM-DD), uuid (string), decimal (left as bytes in hex).
 * Unions decode to the branch's value (null for the null branch), as the
 * Avro JSON encoding would without the type wrapper: the page shows values.
 * bytes and fixed become lowercase hex strings. NaN/Inf floats become the
 * strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers). Doubles
 * are exact json reals: json_dumps writes them with 17 significant digits
 * (74.826599999999999); JSON_REAL_PRECISION(15) shows 74.8266 when the
 * value is for display.
 *
 * Bounds: schema and data nesting depth <= CON_AVRO_MAX_DEPTH, each length
 * and block count checked against the bytes left, total output items capped.
 * Input is untrusted: malformed or truncated data is an error with the byte
 * offset and the reason, never a crash.
 *
 * Threads: a parsed schema is immutable and may be shared by threads. */
#ifndef CON_AVRO_H
#define CON_AVRO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CON_AVRO_MAX_DEPTH 32

typedef struct con_avro_schema con_avro_schema;

/* Parses and checks a writer schema. NULL with a reason when the text is not
 * a valid Avro schema (unknown type, unresolved name, bad union, ...). */
con_avro_schema *con_avro_schema_parse(const char *json_text, char *err, size_t errlen);
void con_avro_schema_free(con_avro_schema *s);
/* The schema as parsed JSON (borrowed reference). */
const json_t *con_avro_schema_json(const con_avro_schema *s);

/* Decodes exactly one datum; trailing bytes are an error. */
json_t *con_avro_decode(const con_avro_schema *s, const uint8_t *data, size_t len, char *err,
                        size_t errlen);

/* The Confluent wire framing: magic byte 0, 4-byte big-endian schema id,
 * then the Avro datum. Returns 0 with the id and payload, or -1 with why. */
int con_avro_confluent_header(const uint8_t *data, size_t len, int32_t *schema_id,
                              const uint8_t **payload, size_t *payload_len, char *err,
                              size_t errlen);

/* A structural diff of two record schemas (JSON text):
 * {"old_name":"ns.R","new_name":"ns.R",
 *  "added":[{"name":"f","type":<json>,"default":<json>|absent}],
 *  "removed":[{"name":"g","type":<json>}],
 *  "changed":[{"name":"h","old_type":<json>,"new_type":<json>,
 *              "old_default":...,"new_default":...,"what":["type","default"]}],
 *  "unchanged":["a","b"], "identical":false}
 * Non-record schemas are compared as a whole ("changed" has one entry named
 * "" when they differ). */
json_t *con_avro_schema_diff(const char *old_json, const char *new_json, char *err, size_t errlen);

#endif
