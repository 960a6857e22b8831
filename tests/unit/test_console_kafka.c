/* Unit tests of con_kafka's parts that need no broker: how keys and header
 * values are shown, the client configuration (credentials pass through
 * extra_conf; a bad setting is an error), and the message browser's
 * argument checks, which refuse before any request. Everything that talks
 * to Kafka is in tests/integration/test_console_kafka.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "con_kafka_int.h"

#include <string.h>

static char err[256];

static void expect_bytes(const char *p, size_t len, const char *want)
{
    json_t *j = con_kafka_bytes_json(p, len, 8);
    char *got = json_dumps(j, JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(got, want);
    free(got);
    json_decref(j);
}

static void test_bytes(void **state)
{
    expect_bytes(NULL, 0, "null");
    expect_bytes("", 0, "{\"text\":\"\"}");
    expect_bytes("k1", 2, "{\"text\":\"k1\"}");
    expect_bytes("a\tb\n", 4, "{\"text\":\"a\\tb\\n\"}");
    expect_bytes("h\xc3\xa9", 3, "{\"text\":\"h\xc3\xa9\"}");
    expect_bytes("\x01\x02", 2, "{\"hex\":\"0102\"}");
    expect_bytes("a\0b", 3, "{\"hex\":\"610062\"}");
    expect_bytes("\xc3", 1, "{\"hex\":\"c3\"}");       /* truncated UTF-8 */
    expect_bytes("\xc0\xaf", 2, "{\"hex\":\"c0af\"}"); /* overlong */
    expect_bytes("\x7f", 1, "{\"hex\":\"7f\"}");       /* DEL */
    expect_bytes("\xff\x00\x01\x02\x03\x04\x05\x06\x07", 9,
                 "{\"hex\":\"ff00010203040506\",\"truncated\":true}");
}

static void test_config(void **state)
{
    const char *bad[] = {"no.such.setting", "x", NULL};
    assert_null(con_kafka_new("127.0.0.1:1", bad, 100, err, sizeof(err)));
    assert_non_null(strstr(err, "no.such.setting"));
    const char *odd[] = {"client.id", NULL};
    assert_null(con_kafka_new("127.0.0.1:1", odd, 100, err, sizeof(err)));
    assert_non_null(strstr(err, "no value"));
    assert_null(con_kafka_new("", NULL, 100, err, sizeof(err)));
    /* SASL settings are accepted as given (the broker is never reached). */
    const char *sasl[] = {"security.protocol",
                          "SASL_PLAINTEXT",
                          "sasl.mechanism",
                          "SCRAM-SHA-256",
                          "sasl.username",
                          "u",
                          "sasl.password",
                          "p",
                          NULL};
    con_kafka *k = con_kafka_new("127.0.0.1:1", sasl, 100, err, sizeof(err));
    if (!k)
        fail_msg("%s", err);
    con_kafka_free(k);
}

static void test_browser_arguments(void **state)
{
    con_kafka *k = con_kafka_new("127.0.0.1:1", NULL, 100, err, sizeof(err));
    assert_non_null(k);
    struct {
        const char *topic;
        int partition;
        int64_t offset;
        int limit;
        const char *why;
    } bad[] = {
        {"", 0, -1, 5, "no topic"},
        {"t", -1, -1, 5, "partition"},
        {"t", 0, -2, 5, "offset"},
        {"t", 0, -1, 0, "limit"},
        {"t", 0, -1, CON_KAFKA_MAX_MESSAGES + 1, "limit"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(con_kafka_messages(k, NULL, bad[i].topic, bad[i].partition, bad[i].offset, -1,
                                       bad[i].limit, err, sizeof(err)));
        assert_non_null(strstr(err, bad[i].why));
    }
    assert_null(con_kafka_end_offsets(k, "", err, sizeof(err)));
    con_kafka_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_browser_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
