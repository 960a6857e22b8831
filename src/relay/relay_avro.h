/* relay_avro: the Avro side of the output contract (docs/data-contracts.md
 * §3): schema derivation from a pgoutput Relation, the BACKWARD rule the
 * contract imposes on relation changes, and the Avro binary encoding of a
 * row whose values arrive in PostgreSQL's text output format.
 *
 * Our own small encoder instead of libavro: the relay writes one record
 * shape (nullable primitives plus metadata), and encoding straight from the
 * text values avoids building a generic datum per column. Every encoding is
 * checked by an independent decoder (fastavro) in tests/unit/relay_avro_check.py. */
#ifndef RELAY_AVRO_H
#define RELAY_AVRO_H

#include "relay_pgoutput.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. */
typedef struct relay_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom; /* an append failed; the contents are unusable */
} relay_buf;

void relay_buf_reset(relay_buf *b);
void relay_buf_free(relay_buf *b);
void relay_buf_append(relay_buf *b, const void *p, size_t n);

/* Avro primitive encodings (zig-zag varints, little-endian IEEE floats). */
void relay_avro_put_long(relay_buf *b, int64_t v);
void relay_avro_put_string(relay_buf *b, const void *s, size_t n);
void relay_avro_put_float(relay_buf *b, float v);
void relay_avro_put_double(relay_buf *b, double v);
void relay_avro_put_bool(relay_buf *b, bool v);

typedef enum {
    RELAY_AVRO_STRING = 0, /* text, varchar, bpchar, numeric, and every other type */
    RELAY_AVRO_UUID,       /* string with logicalType uuid */
    RELAY_AVRO_INT,        /* int2, int4 */
    RELAY_AVRO_LONG,       /* int8 */
    RELAY_AVRO_FLOAT,      /* float4 */
    RELAY_AVRO_DOUBLE,     /* float8 */
    RELAY_AVRO_BOOLEAN,    /* bool */
    RELAY_AVRO_TIMESTAMP,  /* timestamptz, timestamp: long timestamp-micros */
    RELAY_AVRO_DATE,       /* date: int date (days since 1970-01-01) */
} relay_avro_kind;

relay_avro_kind relay_avro_kind_of(uint32_t type_oid);

/* Encodes one column: the union branch (0 null, 1 value) then the value
 * converted from PostgreSQL's text output (DateStyle ISO, TimeZone UTC).
 * Returns -1 with a reason when the text does not parse as its type. */
int relay_avro_put_text(relay_buf *b, relay_avro_kind kind, const uint8_t *text, size_t len,
                        char *err, size_t errlen);

/* Parsers used by relay_avro_put_text, exposed for tests. */
int relay_parse_timestamp_us(const char *s, size_t len, int64_t *out);
int relay_parse_date_days(const char *s, size_t len, int32_t *out);

/* The Avro schema (compact JSON, malloc'd) of a relation: every column as
 * ["null", T] with default null, then __op, __lsn, __seq, __commit_ts. */
char *relay_avro_schema_json(const relay_pgoutput_relation *rel, char *err, size_t errlen);

/* The contract's rule for a relation change: every column of old must still
 * exist in new under the same name with the same Avro type; new columns are
 * allowed. Returns 0 when compatible, -1 with the offending column in err. */
int relay_avro_check_change(const relay_pgoutput_relation *old, const relay_pgoutput_relation *new,
                            char *err, size_t errlen);

/* An Avro field name: [A-Za-z_][A-Za-z0-9_]*; other characters become '_'. */
void relay_avro_field_name(const char *col, char *out, size_t outlen);

/* The columns of a schema this relay registered earlier (the registry's
 * latest version), as a relation whose type oids stand for their Avro kinds;
 * the metadata fields (__op, ...) are left out. NULL when it is not such a
 * schema. Lets a restarted relay apply relay_avro_check_change across runs. */
relay_pgoutput_relation *relay_avro_relation_from_schema(const char *schema_json, char *err,
                                                         size_t errlen);
#endif
