/* con_avro: decoding one Avro datum by a compiled writer schema, and the
 * Confluent framing. See con_avro.h. */
#include "con_avro_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Output values a single datum may produce: blocks of zero-byte items
 * (arrays of null) would otherwise let 10 bytes claim 2^62 items. */
#define CON_AVRO_MAX_ITEMS 200000

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    size_t items;
    char *err;
    size_t errlen;
    bool failed;
} dec_ctx;

__attribute__((format(printf, 2, 3))) static void dfail(dec_ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "at byte %zu: %s", c->pos, msg);
}

/* Avro long: zig-zag, 7 bits per byte, low group first, high bit = more;
 * at most 10 bytes, the 10th holding only the top bit. */
static int read_long(dec_ctx *c, int64_t *out)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->pos >= c->len) {
            dfail(c, "truncated varint");
            return -1;
        }
        uint8_t b = c->p[c->pos++];
        if (shift == 63 && (b & 0x7e)) {
            dfail(c, "varint overflows 64 bits");
            return -1;
        }
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return 0;
        }
    }
    dfail(c, "varint longer than 10 bytes");
    return -1;
}

static int read_int(dec_ctx *c, int32_t *out)
{
    int64_t v;
    if (read_long(c, &v) < 0)
        return -1;
    if (v < INT32_MIN || v > INT32_MAX) {
        dfail(c, "int out of range: %lld", (long long)v);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* A length prefix (bytes, string) checked against the bytes left. */
static int read_len(dec_ctx *c, size_t *out)
{
    int64_t v;
    if (read_long(c, &v) < 0)
        return -1;
    if (v < 0 || (uint64_t)v > c->len - c->pos) {
        dfail(c, "length %lld exceeds the %zu bytes left", (long long)v, c->len - c->pos);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(n * 2 + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    json_t *j = json_stringn(s, n * 2);
    free(s);
    return j;
}

static json_t *float_json(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

/* Days since 1970-01-01 -> civil date (H. Hinnant's algorithm), exact for
 * every int32 day count without going through time_t. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static json_t *date_json(int64_t days)
{
    int64_t y;
    unsigned m, d;
    char buf[40];
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", (long long)y, m, d);
    return json_string(buf);
}

/* ISO 8601 UTC with the unit's precision: millis -> .mmm, micros -> .uuuuuu;
 * years before 1 or after 9999 keep their sign and digits. */
static json_t *timestamp_json(int64_t v, int64_t per_sec, int digits)
{
    /* The relay writes PostgreSQL's infinite timestamps as the int64 ends. */
    if (v == INT64_MAX || v == INT64_MIN)
        return json_string(v == INT64_MAX ? "infinity" : "-infinity");
    int64_t secs = v / per_sec, frac = v % per_sec;
    if (frac < 0) {
        frac += per_sec;
        secs -= 1;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    char buf[80];
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02d.%0*lldZ", (long long)y, m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), digits, (long long)frac);
    return json_string(buf);
}

static json_t *decode_node(dec_ctx *c, const ca_node *n, int depth);

static json_t *decode_long(dec_ctx *c, const ca_node *n)
{
    int64_t v;
    if (read_long(c, &v) < 0)
        return NULL;
    if (n->logical == CA_LT_TS_MILLIS)
        return timestamp_json(v, 1000, 3);
    if (n->logical == CA_LT_TS_MICROS)
        return timestamp_json(v, 1000000, 6);
    return json_integer(v);
}

static json_t *decode_int(dec_ctx *c, const ca_node *n)
{
    int32_t v;
    if (read_int(c, &v) < 0)
        return NULL;
    return n->logical == CA_LT_DATE ? date_json(v) : json_integer(v);
}

static json_t *decode_fixed_bytes(dec_ctx *c, size_t n)
{
    if (n > c->len - c->pos) {
        dfail(c, "%zu bytes needed, %zu left", n, c->len - c->pos);
        return NULL;
    }
    json_t *j = hex_json(c->p + c->pos, n);
    c->pos += n;
    return j;
}

static json_t *decode_string(dec_ctx *c)
{
    size_t n;
    if (read_len(c, &n) < 0)
        return NULL;
    json_t *j = json_stringn((const char *)c->p + c->pos, n);
    if (!j)
        dfail(c, "string of %zu bytes is not valid UTF-8", n);
    c->pos += n;
    return j;
}

static json_t *decode_float(dec_ctx *c, size_t width)
{
    if (c->len - c->pos < width) {
        dfail(c, "truncated %s", width == 4 ? "float" : "double");
        return NULL;
    }
    uint64_t bits = 0;
    for (size_t i = 0; i < width; i++)
        bits |= (uint64_t)c->p[c->pos + i] << (8 * i);
    c->pos += width;
    if (width == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, 4);
        return float_json(f);
    }
    double d;
    memcpy(&d, &bits, 8);
    return float_json(d);
}

static json_t *decode_primitive(dec_ctx *c, const ca_node *n)
{
    size_t len;
    switch (n->kind) {
    case CA_NULL:
        return json_null();
    case CA_BOOLEAN:
        if (c->pos >= c->len || c->p[c->pos] > 1) {
            dfail(c, c->pos >= c->len ? "truncated boolean" : "boolean byte is not 0 or 1");
            return NULL;
        }
        return json_boolean(c->p[c->pos++]);
    case CA_INT:
        return decode_int(c, n);
    case CA_LONG:
        return decode_long(c, n);
    case CA_FLOAT:
        return decode_float(c, 4);
    case CA_DOUBLE:
        return decode_float(c, 8);
    case CA_BYTES:
        return read_len(c, &len) < 0 ? NULL : decode_fixed_bytes(c, len);
    case CA_STRING:
        return decode_string(c);
    case CA_FIXED:
        return decode_fixed_bytes(c, (size_t)n->size);
    default:
        dfail(c, "internal: not a primitive");
        return NULL;
    }
}

static json_t *decode_record(dec_ctx *c, const ca_node *n, int depth)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < n->n; i++) {
        json_t *v = decode_node(c, n->kids[i], depth + 1);
        if (!v || json_object_set_new(obj, n->names[i], v) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *decode_enum(dec_ctx *c, const ca_node *n)
{
    int32_t idx;
    if (read_int(c, &idx) < 0)
        return NULL;
    if (idx < 0 || (size_t)idx >= n->n) {
        dfail(c, "enum index %d outside its %zu symbols", idx, n->n);
        return NULL;
    }
    return json_string(n->names[idx]);
}

static json_t *decode_union(dec_ctx *c, const ca_node *n, int depth)
{
    int64_t idx;
    if (read_long(c, &idx) < 0)
        return NULL;
    if (idx < 0 || (uint64_t)idx >= n->n) {
        dfail(c, "union branch %lld outside its %zu branches", (long long)idx, n->n);
        return NULL;
    }
    return decode_node(c, n->kids[idx], depth + 1);
}

/* Block count; a negative count is followed by the block's byte size. */
static int read_block_count(dec_ctx *c, uint64_t *count)
{
    int64_t v, size;
    if (read_long(c, &v) < 0)
        return -1;
    if (v < 0) {
        if (v == INT64_MIN) {
            dfail(c, "invalid block count");
            return -1;
        }
        v = -v;
        if (read_long(c, &size) < 0)
            return -1;
        if (size < 0 || (uint64_t)size > c->len - c->pos) {
            dfail(c, "block size %lld exceeds the bytes left", (long long)size);
            return -1;
        }
    }
    *count = (uint64_t)v;
    if (*count > CON_AVRO_MAX_ITEMS - c->items) {
        dfail(c, "more than %d items", CON_AVRO_MAX_ITEMS);
        return -1;
    }
    c->items += *count;
    return 0;
}

static int decode_map_entry(dec_ctx *c, const ca_node *n, json_t *obj, int depth)
{
    size_t klen;
    if (read_len(c, &klen) < 0)
        return -1;
    const char *key = (const char *)c->p + c->pos;
    char *k = strndup(key, klen);
    c->pos += klen;
    if (!k || strlen(k) != klen) {
        dfail(c, k ? "map key contains a NUL byte" : "out of memory");
        free(k);
        return -1;
    }
    json_t *v = decode_node(c, n->kids[0], depth + 1);
    int rc = (v && json_object_set_new(obj, k, v) == 0) ? 0 : -1;
    if (v && rc < 0)
        dfail(c, "map key is not valid UTF-8");
    free(k);
    return rc;
}

static json_t *decode_blocks(dec_ctx *c, const ca_node *n, int depth)
{
    json_t *out = n->kind == CA_ARRAY ? json_array() : json_object();
    uint64_t count;
    while (out && read_block_count(c, &count) == 0 && count > 0) {
        for (uint64_t i = 0; i < count; i++) {
            int rc;
            if (n->kind == CA_ARRAY) {
                json_t *v = decode_node(c, n->kids[0], depth + 1);
                rc = v ? json_array_append_new(out, v) : -1;
            } else {
                rc = decode_map_entry(c, n, out, depth);
            }
            if (rc < 0) {
                json_decref(out);
                return NULL;
            }
        }
    }
    if (c->failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *decode_node(dec_ctx *c, const ca_node *n, int depth)
{
    if (c->failed)
        return NULL;
    if (depth > CON_AVRO_MAX_DEPTH) {
        dfail(c, "data nested deeper than %d", CON_AVRO_MAX_DEPTH);
        return NULL;
    }
    json_t *v;
    switch (n->kind) {
    case CA_RECORD:
        v = decode_record(c, n, depth);
        break;
    case CA_ENUM:
        v = decode_enum(c, n);
        break;
    case CA_UNION:
        v = decode_union(c, n, depth);
        break;
    case CA_ARRAY:
    case CA_MAP:
        v = decode_blocks(c, n, depth);
        break;
    default:
        v = decode_primitive(c, n);
        break;
    }
    if (!v)
        dfail(c, "out of memory");
    return v;
}

json_t *con_avro_decode(const con_avro_schema *s, const uint8_t *data, size_t len, char *err,
                        size_t errlen)
{
    if (!s || !s->root || (!data && len)) {
        snprintf(err, errlen, "no schema or no data");
        return NULL;
    }
    dec_ctx c = {.p = data, .len = len, .err = err, .errlen = errlen};
    json_t *v = decode_node(&c, s->root, 0);
    if (v && c.pos != c.len) {
        snprintf(err, errlen, "%zu bytes left after the datum (of %zu)", c.len - c.pos, c.len);
        json_decref(v);
        return NULL;
    }
    return v;
}

int con_avro_confluent_header(const uint8_t *data, size_t len, int32_t *schema_id,
                              const uint8_t **payload, size_t *payload_len, char *err,
                              size_t errlen)
{
    if (!data || len < 5) {
        snprintf(err, errlen, "%zu bytes: too short for the 5-byte Confluent header", len);
        return -1;
    }
    if (data[0] != 0) {
        snprintf(err, errlen, "magic byte is 0x%02x, not 0 (not Confluent-framed Avro)", data[0]);
        return -1;
    }
    uint32_t id =
        (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    if (id > INT32_MAX) {
        snprintf(err, errlen, "schema id %u out of range", id);
        return -1;
    }
    *schema_id = (int32_t)id;
    *payload = data + 5;
    *payload_len = len - 5;
    return 0;
}
