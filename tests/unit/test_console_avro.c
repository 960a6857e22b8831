/* Unit tests of con_avro: the decoder against the relay's own encoder,
 * against records recorded from the real topic (console_fixtures/, decoded
 * independently by fastavro when recorded), and against malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "con_avro.h"
#include "relay_avro.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static json_t *decode(const char *schema, const void *bytes, size_t len)
{
    con_avro_schema *s = con_avro_schema_parse(schema, err, sizeof(err));
    assert_non_null(s);
    json_t *j = con_avro_decode(s, bytes, len, err, sizeof(err));
    con_avro_schema_free(s);
    return j;
}

/* Decodes and compares with the expected JSON text. */
static void expect(const char *schema, const void *bytes, size_t len, const char *want)
{
    json_t *j = decode(schema, bytes, len);
    if (!j)
        fail_msg("decode failed: %s", err);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!json_equal(j, w)) {
        char *got = json_dumps(j, JSON_ENCODE_ANY | JSON_SORT_KEYS);
        fail_msg("got %s, want %s", got, want);
    }
    json_decref(j);
    json_decref(w);
}

/* Decoding must fail with a reason containing why. */
static void expect_error(const char *schema, const void *bytes, size_t len, const char *why)
{
    json_t *j = decode(schema, bytes, len);
    if (j)
        fail_msg("decoded malformed input (%s)", why);
    if (!strstr(err, why))
        fail_msg("error \"%s\" does not say \"%s\"", err, why);
}

static void test_primitives(void **state)
{
    expect("\"null\"", "", 0, "null");
    expect("\"boolean\"", "\x01", 1, "true");
    expect("\"int\"", "\x7f", 1, "-64");
    expect("\"long\"", "\x80\x01", 2, "64");
    expect("\"long\"", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, "-9223372036854775808");
    expect("\"string\"",
           "\x06"
           "abc",
           4, "\"abc\"");
    expect("\"bytes\"", "\x04\x00\xff", 3, "\"00ff\"");
    expect("\"float\"", "\x00\x00\xc0\x3f", 4, "1.5");
    expect("\"double\"", "\x00\x00\x00\x00\x00\x00\xf8\x3f", 8, "1.5");
    expect("\"double\"", "\x00\x00\x00\x00\x00\x00\xf8\x7f", 8, "\"NaN\"");
    expect("\"double\"", "\x00\x00\x00\x00\x00\x00\xf0\xff", 8, "\"-Infinity\"");
    expect("{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}", "\xab\xcd", 2, "\"abcd\"");
}

static void test_logical(void **state)
{
    const char *ts_us = "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}";
    const char *ts_ms = "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}";
    const char *date = "{\"type\":\"int\",\"logicalType\":\"date\"}";
    expect(ts_us, "\x00", 1, "\"1970-01-01T00:00:00.000000Z\"");
    expect(ts_us, "\x01", 1, "\"1969-12-31T23:59:59.999999Z\"");  /* -1 us */
    expect(ts_ms, "\xd0\x0f", 2, "\"1970-01-01T00:00:01.000Z\""); /* 1000 ms */
    expect(date, "\x00", 1, "\"1970-01-01\"");
    expect(date, "\x01", 1, "\"1969-12-31\"");
    expect(date, "\x9a\xab\x01", 3, "\"2000-01-01\""); /* 10957 days */
    expect(ts_us, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, "\"infinity\"");
    expect("{\"type\":\"string\",\"logicalType\":\"uuid\"}", "\x02x", 2, "\"x\"");
    /* A logical type on the wrong base type is ignored, as the spec says. */
    expect("{\"type\":\"string\",\"logicalType\":\"date\"}", "\x02x", 2, "\"x\"");
}

static void test_complex(void **state)
{
    const char *rec =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":["
        "{\"name\":\"a\",\"type\":[\"null\",\"int\"]},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}},"
        "{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":\"n.E\"}},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
        "{\"name\":\"again\",\"type\":\"E\"}]}";
    /* a = 2 (branch 1), e = Y, l = block of 2 then a negative-count block
     * with its byte size, m = {"k": 3}, again = X. */
    const uint8_t bytes[] = {0x02, 0x04, 0x02, 0x04, 0x02, 0x00, 0x01, 0x02,
                             0x02, 0x00, 0x02, 0x02, 'k',  0x06, 0x00, 0x00};
    expect(rec, bytes, sizeof(bytes),
           "{\"a\":2,\"e\":\"Y\",\"l\":[\"Y\",\"X\",\"Y\"],"
           "\"m\":{\"k\":3},\"again\":\"X\"}");
    /* A recursive type: a linked list of two. */
    const char *list = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":"
                       "\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    expect(list, "\x02\x02\x04\x00", 4, "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}");
}

static void test_malformed(void **state)
{
    expect_error("\"long\"", "\x80", 1, "truncated varint");
    expect_error("\"long\"", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10, "overflows");
    expect_error("\"int\"", "\x80\x80\x80\x80\x10", 5, "int out of range");
    expect_error("\"string\"",
                 "\x0a"
                 "ab",
                 3, "exceeds");
    expect_error("\"string\"", "\x01", 1, "exceeds"); /* negative length */
    expect_error("\"string\"", "\x02\xff", 2, "UTF-8");
    expect_error("\"boolean\"", "\x02", 1, "not 0 or 1");
    expect_error("\"double\"", "\x00\x00", 2, "truncated double");
    expect_error("[\"null\",\"int\"]", "\x04", 1, "union branch 2");
    expect_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "\x02", 1, "enum index");
    expect_error("\"int\"", "\x02\x02", 2, "1 bytes left");
    /* 2^62 nulls in 10 bytes: the item cap stops it. */
    expect_error("{\"type\":\"array\",\"items\":\"null\"}",
                 "\xfe\xff\xff\xff\xff\xff\xff\xff\x7f\x00", 10, "items");
    /* A recursive list deeper than the bound. */
    const char *list = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\","
                       "\"type\":[\"null\",\"L\"]}]}";
    uint8_t deep[100];
    memset(deep, 0x02, sizeof(deep));
    expect_error(list, deep, sizeof(deep), "deeper");
}

static void expect_schema_error(const char *schema, const char *why)
{
    con_avro_schema *s = con_avro_schema_parse(schema, err, sizeof(err));
    if (s)
        fail_msg("accepted bad schema %s", schema);
    if (!strstr(err, why))
        fail_msg("error \"%s\" does not say \"%s\"", err, why);
}

static void test_bad_schemas(void **state)
{
    expect_schema_error("", "not JSON");
    expect_schema_error("\"nope\"", "unknown type");
    expect_schema_error("[]", "empty union");
    expect_schema_error("[[\"int\"]]", "union directly inside");
    expect_schema_error("{\"type\":\"record\",\"name\":\"R\"}", "fields");
    expect_schema_error("{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", "name");
    expect_schema_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                        "\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
                        "twice");
    expect_schema_error("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "size");
    expect_schema_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[1]}", "symbol");
    expect_schema_error("{\"type\":\"array\"}", "items");
    expect_schema_error("42", "string, an array or an object");
    char deep[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    expect_schema_error(deep, "not JSON"); /* unbalanced */
    char nested[2000] = "";
    for (int i = 0; i < 40; i++)
        strcat(nested, "{\"type\":\"array\",\"items\":");
    strcat(nested, "\"int\"");
    for (int i = 0; i < 40; i++)
        strcat(nested, "}");
    expect_schema_error(nested, "deeper");
}

static void test_confluent_header(void **state)
{
    int32_t id;
    const uint8_t *p;
    size_t n;
    const uint8_t ok[] = {0, 0, 0, 1, 2, 0xaa};
    assert_int_equal(con_avro_confluent_header(ok, sizeof(ok), &id, &p, &n, err, sizeof(err)), 0);
    assert_int_equal(id, 258);
    assert_int_equal(n, 1);
    assert_int_equal(p[0], 0xaa);
    assert_int_equal(con_avro_confluent_header(ok, 4, &id, &p, &n, err, sizeof(err)), -1);
    const uint8_t magic[] = {1, 0, 0, 0, 1};
    assert_int_equal(con_avro_confluent_header(magic, 5, &id, &p, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "magic"));
}

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    const char *root = getenv("US_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/unit/console_fixtures/%s", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (set US_SOURCE_DIR)", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Records from the real topic decode to what fastavro read from them. */
static void test_recorded(void **state)
{
    size_t len;
    char *schema = slurp("users_schema.json", &len);
    char *want_text = slurp("users_expected.json", &len);
    json_t *want = json_loads(want_text, 0, NULL);
    assert_non_null(want);
    con_avro_schema *s = con_avro_schema_parse(schema, err, sizeof(err));
    assert_non_null(s);
    for (int off = 0; off < 3; off++) {
        char name[64];
        snprintf(name, sizeof(name), "users_p0_o%d.avro", off);
        char *raw = slurp(name, &len);
        int32_t id;
        const uint8_t *p;
        size_t n;
        assert_int_equal(
            con_avro_confluent_header((uint8_t *)raw, len, &id, &p, &n, err, sizeof(err)), 0);
        json_t *got = con_avro_decode(s, p, n, err, sizeof(err));
        if (!got)
            fail_msg("record %d: %s", off, err);
        if (!json_equal(got, json_array_get(want, (size_t)off))) {
            char *g = json_dumps(got, JSON_SORT_KEYS);
            fail_msg("record %d differs from fastavro: %s", off, g);
        }
        /* Every truncation of a real record is an error, never a crash. */
        for (size_t cut = 0; cut < n; cut++) {
            json_t *t = con_avro_decode(s, p, cut, err, sizeof(err));
            assert_null(t);
        }
        json_decref(got);
        free(raw);
    }
    con_avro_schema_free(s);
    json_decref(want);
    free(schema);
    free(want_text);
}

/* The relay's encoder and schema writer, read back by the console. */
static void test_relay_roundtrip(void **state)
{
    const char *names[] = {"id", "n", "big", "f4", "f8", "ok", "at", "day", "u", "txt"};
    const uint32_t oids[] = {23, 21, 20, 700, 701, 16, 1184, 1082, 2950, 25};
    const char *vals[] = {"-7",
                          "12",
                          "9007199254740993",
                          "1.5",
                          "-0.25",
                          "t",
                          "2024-02-29 12:34:56.789012+00",
                          "1999-12-31",
                          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                          "h\xc3\xa9llo"};
    relay_pgoutput_relation rel = {.relname = "t", .nspname = "s", .natts = 10};
    relay_pgoutput_column cols[10];
    for (int i = 0; i < 10; i++)
        cols[i] = (relay_pgoutput_column){.name = (char *)names[i], .type_oid = oids[i]};
    rel.cols = cols;
    char *schema = relay_avro_schema_json(&rel, err, sizeof(err));
    assert_non_null(schema);
    relay_buf b = {0};
    for (int i = 0; i < 10; i++) {
        relay_avro_kind kind = relay_avro_kind_of(oids[i]);
        const char *v = vals[i];
        assert_int_equal(
            relay_avro_put_text(&b, kind, (const uint8_t *)v, strlen(v), err, sizeof(err)), 0);
    }
    relay_avro_put_long(&b, 0); /* __op: "" */
    relay_avro_put_long(&b, 123456789);
    relay_avro_put_long(&b, 3);
    relay_avro_put_long(&b, 0);
    expect(schema, b.data, b.len,
           "{\"id\":-7,\"n\":12,\"big\":9007199254740993,\"f4\":1.5,\"f8\":-0.25,\"ok\":true,"
           "\"at\":\"2024-02-29T12:34:56.789012Z\",\"day\":\"1999-12-31\","
           "\"u\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"txt\":\"h\xc3\xa9llo\","
           "\"__op\":\"\",\"__lsn\":123456789,\"__seq\":3,"
           "\"__commit_ts\":\"1970-01-01T00:00:00.000000Z\"}");
    /* A NULL column: union branch 0. */
    relay_buf_reset(&b);
    relay_avro_put_long(&b, 0);
    expect("[\"null\",\"int\"]", b.data, b.len, "null");
    relay_buf_free(&b);
    free(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primitives),  cmocka_unit_test(test_logical),
        cmocka_unit_test(test_complex),     cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_schemas), cmocka_unit_test(test_confluent_header),
        cmocka_unit_test(test_recorded),    cmocka_unit_test(test_relay_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
