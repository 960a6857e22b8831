/* Unit tests of con_registry's parsing of the registry's answers, of the
 * structural schema diff, and of argument checks that must refuse input
 * before any request is made. The HTTP side runs against the real registry
 * in tests/integration/test_console_kafka.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "con_registry.h"

#include <jansson.h>
#include <string.h>

static char err[256];

typedef json_t *(*parser)(const char *, size_t, char *, size_t);

static void parses(parser p, const char *body, const char *want)
{
    json_t *j = p(body, strlen(body), err, sizeof(err));
    if (!j)
        fail_msg("refused %s: %s", body, err);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_true(json_equal(j, w));
    json_decref(j);
    json_decref(w);
}

static void refuses(parser p, const char *body)
{
    json_t *j = p(body, strlen(body), err, sizeof(err));
    if (j)
        fail_msg("accepted %s", body);
    assert_true(strlen(err) > 0);
}

static void test_parsers(void **state)
{
    parses(con_registry_parse_string_array, "[\"a\",\"b\"]", "[\"a\",\"b\"]");
    parses(con_registry_parse_string_array, "[]", "[]");
    refuses(con_registry_parse_string_array, "[1]");
    refuses(con_registry_parse_string_array, "{\"a\":1}");
    refuses(con_registry_parse_string_array, "");
    refuses(con_registry_parse_string_array, "[\"a\"");
    parses(con_registry_parse_int_array, "[1,2,3]", "[1,2,3]");
    refuses(con_registry_parse_int_array, "[1.5]");
    refuses(con_registry_parse_int_array, "\"1\"");
    parses(con_registry_parse_config, "{\"compatibilityLevel\":\"BACKWARD\"}", "\"BACKWARD\"");
    parses(con_registry_parse_config, "{\"compatibility\":\"FULL\"}", "\"FULL\"");
    refuses(con_registry_parse_config, "{\"compatibilityLevel\":3}");
    refuses(con_registry_parse_config, "[]");
    parses(con_registry_parse_schema, "{\"schema\":\"\\\"int\\\"\",\"id\":3,\"version\":1}",
           "{\"schema\":\"\\\"int\\\"\",\"id\":3,\"version\":1}");
    refuses(con_registry_parse_schema, "{\"schema\":{}}");
    refuses(con_registry_parse_schema, "{\"schema\":\"x\",\"id\":\"3\"}");
    refuses(con_registry_parse_schema, "{\"schema\":\"x\",\"subject\":1}");
    refuses(con_registry_parse_schema, "{\"id\":1}");
}

static json_t *diff(const char *a, const char *b)
{
    json_t *d = con_avro_schema_diff(a, b, err, sizeof(err));
    if (!d)
        fail_msg("diff failed: %s", err);
    return d;
}

static const char *names_of(json_t *arr, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *n = json_is_string(e) ? json_string_value(e)
                                          : json_string_value(json_object_get(e, "name"));
        strncat(buf, n, len - strlen(buf) - 2);
        strcat(buf, ",");
    }
    return buf;
}

static void test_diff(void **state)
{
    const char *v1 = "{\"type\":\"record\",\"name\":\"users\",\"namespace\":\"s\",\"fields\":["
                     "{\"name\":\"a\",\"type\":\"string\"},"
                     "{\"name\":\"b\",\"type\":[\"null\",\"int\"],\"default\":null},"
                     "{\"name\":\"c\",\"type\":\"long\"},"
                     "{\"name\":\"d\",\"type\":\"int\",\"default\":1}]}";
    const char *v2 = "{\"type\":\"record\",\"name\":\"users\",\"namespace\":\"s\",\"fields\":["
                     "{\"name\":\"a\",\"type\":{\"type\":\"string\"}},"
                     "{\"name\":\"b\",\"type\":[\"null\",\"long\"],\"default\":null},"
                     "{\"name\":\"d\",\"type\":\"int\",\"default\":2},"
                     "{\"name\":\"e\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
    char buf[256];
    json_t *d = diff(v1, v2);
    assert_string_equal(names_of(json_object_get(d, "added"), buf, sizeof(buf)), "e,");
    assert_string_equal(names_of(json_object_get(d, "removed"), buf, sizeof(buf)), "c,");
    assert_string_equal(names_of(json_object_get(d, "changed"), buf, sizeof(buf)), "b,d,");
    /* "string" and {"type":"string"} are the same type. */
    assert_string_equal(names_of(json_object_get(d, "unchanged"), buf, sizeof(buf)), "a,");
    assert_false(json_is_true(json_object_get(d, "identical")));
    assert_string_equal(json_string_value(json_object_get(d, "old_name")), "s.users");
    json_t *d_what = json_object_get(json_array_get(json_object_get(d, "changed"), 1), "what");
    assert_string_equal(json_string_value(json_array_get(d_what, 0)), "default");
    json_decref(d);
    d = diff(v1, v1);
    assert_true(json_is_true(json_object_get(d, "identical")));
    json_decref(d);
    d = diff("\"int\"", "\"long\"");
    assert_int_equal(json_array_size(json_object_get(d, "changed")), 1);
    json_decref(d);
    assert_null(con_avro_schema_diff("{", v1, err, sizeof(err)));
    assert_null(con_avro_schema_diff(
        v1, "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"type\":\"int\"}]}", err,
        sizeof(err)));
}

/* Bad arguments are refused before a request (the port is closed anyway). */
static void test_arguments(void **state)
{
    assert_null(con_registry_new("ftp://x", NULL, 100, err, sizeof(err)));
    con_registry *r =
        con_registry_new("http://127.0.0.1:1/apis/ccompat/v7/", "u:p", 200, err, sizeof(err));
    assert_non_null(r);
    const char *bad[] = {"0", "-1", "1.0", "", "latest/../x", "12345678901", "1 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(con_registry_version(r, "s", bad[i], err, sizeof(err)));
        assert_non_null(strstr(err, "version must be"));
    }
    assert_null(con_registry_version(r, "", "1", err, sizeof(err)));
    /* A registry that does not answer is an error with a reason. */
    assert_null(con_registry_version(r, "s/../x", "latest", err, sizeof(err)));
    assert_non_null(strstr(err, "registry"));
    assert_null(con_registry_schema_by_id(r, 1, err, sizeof(err)));
    assert_null(con_registry_subjects(r, err, sizeof(err)));
    con_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
