/* Unit tests of the relay's Avro side: primitive encodings, PostgreSQL text
 * conversions, schema derivation and the contract's change rule. The bytes
 * are also decoded by fastavro in relay_avro_check.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_avro.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void expect_long(int64_t v, const uint8_t *bytes, size_t n)
{
    relay_buf b = {0};
    relay_avro_put_long(&b, v);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, bytes, n);
    relay_buf_free(&b);
}

/* Values from the Avro specification's zig-zag table. */
static void test_zigzag(void **state)
{
    expect_long(0, (const uint8_t[]){0x00}, 1);
    expect_long(-1, (const uint8_t[]){0x01}, 1);
    expect_long(1, (const uint8_t[]){0x02}, 1);
    expect_long(-64, (const uint8_t[]){0x7f}, 1);
    expect_long(64, (const uint8_t[]){0x80, 0x01}, 2);
    expect_long(INT64_MIN,
                (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);
}

static int64_t ts(const char *s)
{
    int64_t v;
    assert_int_equal(relay_parse_timestamp_us(s, strlen(s), &v), 0);
    return v;
}

static void test_timestamps(void **state)
{
    assert_int_equal(ts("1970-01-01 00:00:00+00"), 0);
    assert_int_equal(ts("1990-05-17 10:11:12.345+00"), INT64_C(642939072345000));
    assert_int_equal(ts("2000-01-01 00:00:00"), INT64_C(946684800000000));
    assert_int_equal(ts("1970-01-01 05:30:00+05:30"), 0);
    assert_int_equal(ts("1969-12-31 23:59:59.999999+00"), -1);
    /* 44 BC is astronomical year -43; expected values from PostgreSQL's extract(epoch). */
    assert_int_equal(ts("0044-03-15 00:00:00+00 BC"), INT64_C(-63517824000) * 1000000);
    assert_int_equal(ts("infinity"), INT64_MAX);
    assert_int_equal(ts("-infinity"), INT64_MIN);
    /* PostgreSQL's last timestamp is past int64 Unix microseconds: saturates. */
    assert_int_equal(ts("294276-12-31 23:59:59.999999"), INT64_MAX);
    int64_t v;
    const char *bad[] = {"",
                         "2020-13-01 00:00:00",
                         "2020-01-01",
                         "2020-01-01 00:00:00+",
                         "2020-01-01 00:00:00.1234567",
                         "2020-01-01 00:00:00 AD",
                         "x",
                         "2020-01-01 00:00:00+00 BCX"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(relay_parse_timestamp_us(bad[i], strlen(bad[i]), &v), -1);
}

static void test_dates(void **state)
{
    int32_t d;
    assert_int_equal(relay_parse_date_days("1970-01-02", 10, &d), 0);
    assert_int_equal(d, 1);
    assert_int_equal(relay_parse_date_days("0001-01-01 BC", 13, &d), 0);
    assert_int_equal(d, -719528);
    assert_int_equal(relay_parse_date_days("infinity", 8, &d), 0);
    assert_int_equal(d, INT32_MAX);
    assert_int_equal(relay_parse_date_days("1970-01-0", 9, &d), -1);
}

static void test_put_text(void **state)
{
    relay_buf b = {0};
    char err[128];
    assert_int_equal(
        relay_avro_put_text(&b, RELAY_AVRO_INT, (const uint8_t *)"-1", 2, err, sizeof err), 0);
    assert_int_equal(b.len, 2);
    assert_int_equal(b.data[0], 2); /* branch 1 */
    assert_int_equal(b.data[1], 1); /* -1 */
    relay_buf_reset(&b);
    assert_int_equal(
        relay_avro_put_text(&b, RELAY_AVRO_INT, (const uint8_t *)"2147483648", 10, err, sizeof err),
        -1);
    relay_buf_reset(&b);
    assert_int_equal(
        relay_avro_put_text(&b, RELAY_AVRO_BOOLEAN, (const uint8_t *)"t", 1, err, sizeof err), 0);
    assert_int_equal(b.data[1], 1);
    relay_buf_reset(&b);
    assert_int_equal(
        relay_avro_put_text(&b, RELAY_AVRO_DOUBLE, (const uint8_t *)"NaN", 3, err, sizeof err), 0);
    assert_int_equal(b.len, 9);
    relay_buf_reset(&b);
    assert_int_equal(
        relay_avro_put_text(&b, RELAY_AVRO_DOUBLE, (const uint8_t *)"1e999", 5, err, sizeof err),
        -1);
    relay_buf_reset(&b);
    assert_int_equal(
        relay_avro_put_text(&b, RELAY_AVRO_LONG, (const uint8_t *)"1\0", 2, err, sizeof err), -1);
    relay_buf_free(&b);
}

static relay_pgoutput_relation *rel(int n, const char **names, const uint32_t *oids)
{
    relay_pgoutput_relation *r = calloc(1, sizeof *r);
    r->nspname = strdup("staging");
    r->relname = strdup("users");
    r->cols = calloc((size_t)n, sizeof(relay_pgoutput_column));
    for (int i = 0; i < n; i++)
        r->cols[r->natts++] =
            (relay_pgoutput_column){.key = i == 0, .name = strdup(names[i]), .type_oid = oids[i]};
    return r;
}

static void test_schema_and_changes(void **state)
{
    char err[256];
    const char *n2[] = {"user_id", "age"}, *n3[] = {"user_id", "age", "score"}, *n1[] = {"user_id"};
    const uint32_t o2[] = {2950, 23}, o3[] = {2950, 23, 20}, o2t[] = {2950, 25}, o1[] = {2950};
    relay_pgoutput_relation *a = rel(2, n2, o2), *b = rel(3, n3, o3), *c = rel(2, n2, o2t),
                            *d = rel(1, n1, o1);
    char *js = relay_avro_schema_json(a, err, sizeof err);
    assert_non_null(js);
    assert_string_equal(
        js, "{\"type\":\"record\",\"name\":\"users\",\"namespace\":\"userstream.staging\","
            "\"fields\":["
            "{\"name\":\"user_id\",\"type\":[\"null\","
            "{\"type\":\"string\",\"logicalType\":\"uuid\"}],\"default\":null},"
            "{\"name\":\"age\",\"type\":[\"null\",\"int\"],\"default\":null},"
            "{\"name\":\"__op\",\"type\":\"string\"},{\"name\":\"__lsn\",\"type\":\"long\"},"
            "{\"name\":\"__seq\",\"type\":\"int\"},"
            "{\"name\":\"__commit_ts\","
            "\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}}]}");
    relay_pgoutput_relation *back = relay_avro_relation_from_schema(js, err, sizeof err);
    assert_non_null(back);
    assert_int_equal(back->natts, 2);
    assert_int_equal(relay_avro_check_change(back, a, err, sizeof err), 0);
    assert_int_equal(relay_avro_check_change(back, d, err, sizeof err), -1);
    assert_int_equal(relay_avro_check_change(a, b, err, sizeof err), 0);  /* added column */
    assert_int_equal(relay_avro_check_change(b, a, err, sizeof err), -1); /* dropped column */
    assert_non_null(strstr(err, "score"));
    assert_int_equal(relay_avro_check_change(a, c, err, sizeof err), -1); /* retyped */
    assert_null(relay_avro_relation_from_schema("{\"x\":1}", err, sizeof err));
    free(js);
    relay_pgoutput_relation_free(a);
    relay_pgoutput_relation_free(b);
    relay_pgoutput_relation_free(c);
    relay_pgoutput_relation_free(d);
    relay_pgoutput_relation_free(back);
}

static void test_field_names(void **state)
{
    char out[32];
    relay_avro_field_name("first name", out, sizeof out);
    assert_string_equal(out, "first_name");
    relay_avro_field_name("1st", out, sizeof out);
    assert_string_equal(out, "_st");
    relay_avro_field_name("", out, sizeof out);
    assert_string_equal(out, "_");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_put_text),
        cmocka_unit_test(test_schema_and_changes),
        cmocka_unit_test(test_field_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
