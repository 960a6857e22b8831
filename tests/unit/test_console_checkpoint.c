/* Unit tests of con_checkpoint: Spark Structured Streaming's offsets files
 * (as the dev stack's query writes them) and the choice of the latest
 * committed batch in a checkpoint directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "con_checkpoint.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[256];

#define META "{\"batchWatermarkMs\":0,\"batchTimestampMs\":1796416214896,\"conf\":{}}"

static json_t *parse(const char *text)
{
    return con_checkpoint_parse_offsets(text, strlen(text), err, sizeof(err));
}

static void test_parse(void **state)
{
    json_t *j = parse("v1\n" META "\n{\"userstream.users\":{\"2\":1463,\"1\":1519,\"3\":1450,"
                      "\"0\":1568}}");
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    json_t *t = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "sources"), 0), "topics"), 0);
    assert_string_equal(json_string_value(json_object_get(t, "topic")), "userstream.users");
    json_t *parts = json_object_get(t, "partitions");
    assert_int_equal(json_array_size(parts), 4);
    /* Ordered by partition whatever the file's order. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            json_integer_value(json_object_get(json_array_get(parts, (size_t)i), "partition")), i);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(parts, 0), "offset")), 1568);
    json_decref(j);
    /* Another kind of source, and "-", are kept as null; CRLF is accepted. */
    j = parse("v1\r\n" META "\r\n-\r\n{\"path\":\"x\"}\r\n");
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "sources")), 2);
    assert_true(json_is_null(json_array_get(json_object_get(j, "sources"), 1)));
    json_decref(j);
}

static void test_refused(void **state)
{
    const char *bad[] = {"", "v1", "x1\n{}\n", "v\n{}\n", "v0\n{}\n", "v1\n[]\n", "v1\nnot json\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = parse(bad[i]);
        if (j)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* Bad partition keys or offsets make the source null, not a crash. */
    const char *odd[] = {"{\"t\":{\"-1\":1}}",    "{\"t\":{\"01\":1}}",
                         "{\"t\":{\"0\":\"1\"}}", "{\"t\":{\"99999999999\":1}}",
                         "{\"t\":[1]}",           "{}"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "v1\n{}\n%s\n", odd[i]);
        json_t *j = parse(text);
        assert_non_null(j);
        assert_true(json_is_null(json_array_get(json_object_get(j, "sources"), 0)));
        json_decref(j);
    }
}

static void write_file(const char *dir, const char *sub, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_latest(void **state)
{
    char dir[] = "/tmp/test_console_ckpt_XXXXXX";
    assert_non_null(mkdtemp(dir));
    json_t *j = con_checkpoint_latest(dir, err, sizeof(err));
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "batch")));
    json_decref(j);
    write_file(dir, "offsets", "9", "v1\n{}\n{\"t\":{\"0\":9}}\n");
    write_file(dir, "offsets", "10", "v1\n{}\n{\"t\":{\"0\":10}}\n");
    write_file(dir, "offsets", "11", "v1\n{}\n{\"t\":{\"0\":11}}\n"); /* running, not committed */
    write_file(dir, "offsets", ".10.crc", "junk");
    write_file(dir, "commits", "9", "v1\n{}\n");
    write_file(dir, "commits", "10", "v1\n{}\n");
    j = con_checkpoint_latest(dir, err, sizeof(err));
    assert_non_null(j);
    /* 10, not 9: numeric order, not the names' order. */
    assert_int_equal(json_integer_value(json_object_get(j, "batch")), 10);
    json_decref(j);
    write_file(dir, "commits", "11", "v1\n{}\n");
    write_file(dir, "offsets", "11", "garbage");
    assert_null(con_checkpoint_latest(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "line 1"));
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_null(con_checkpoint_latest(dir, err, sizeof(err)));
    assert_null(con_checkpoint_latest(NULL, err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_latest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
