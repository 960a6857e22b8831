/* Unit tests of userstream-source's writers: scalar encoding per format
 * (JSON escapes, yamljs quoting rules, XML entities, CSV wrapping), the
 * document layout of every format, and the whole-record JSON fast path
 * against the generic walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "src_data.h"
#include "src_format.h"
#include "src_nat.h"
#include "src_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static src_data data;

static int setup(void **state)
{
    char err[256];
    return src_data_load(&data, err, sizeof err);
}

static int teardown(void **state)
{
    src_data_free(&data);
    return 0;
}

typedef void (*enc_fn)(us_buf *, const char *, size_t);

static void expect(enc_fn fn, const char *in, size_t n, const char *out)
{
    us_buf b = {0};
    fn(&b, in, n);
    us_buf_putc(&b, '\0');
    assert_string_equal(b.data, out);
    us_buf_free(&b);
}
#define EXPECT(fn, in, out) expect(fn, in, strlen(in), out)

static void test_json_string(void **state)
{
    EXPECT(src_json_string, "plain \xc3\xa9", "\"plain \xc3\xa9\"");
    EXPECT(src_json_string, "a\"b\\c\n\t\x01\x1f", "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\"");
    expect(src_json_string, "a\0b", 3, "\"a\\u0000b\"");
    EXPECT(src_json_string, "\xe2\x80\xa8", "\"\xe2\x80\xa8\""); /* JSON.stringify keeps U+2028 */
}

static void test_yaml_string(void **state)
{
    const char *cases[][2] = {
        {"Kabul", "Kabul"},
        {"Adelaide, Darwin", "'Adelaide, Darwin'"},
        {"Boulevard Morelos", "'Boulevard Morelos'"},
        {"+4:30", "'+4:30'"},
        {"17.2334", "'17.2334'"},
        {"-34.9050", "'-34.9050'"},
        {"1.4", "'1.4'"},
        {"66909", "'66909'"},
        {"0x1A", "'0x1A'"},
        {"1e5", "'1e5'"},
        {"(829)-351-3769", "(829)-351-3769"},
        {"005-78896313", "005-78896313"},
        {"1992-02-07T17:56:13.316Z", "'1992-02-07T17:56:13.316Z'"},
        {"2020-1-2", "'2020-1-2'"},
        {"null", "'null'"},
        {"True", "'True'"},
        {"~", "'~'"},
        {"", "\"\""},
        {"O'Brien", "'O''Brien'"},
        {"-abc", "'-abc'"},
        {"@home", "'@home'"},
        {"a#b", "'a#b'"},
        {"tab\there", "\"tab\\there\""},
        {"ctl\x01\\\"", "\"ctl\\x01\\\\\\\"\""},
        {"\xd8\xa2\xdb\x8c\xd9\x86\xd8\xa7\xd8\xb2", "\xd8\xa2\xdb\x8c\xd9\x86\xd8\xa7\xd8\xb2"},
        {"nbsp\xc2\xa0x", "'nbsp\xc2\xa0x'"},    /* JS \s includes U+00A0 */
        {"\xc3\x82\xc2\xa0", "\"\xc3\x82\\_\""}, /* yamljs's "\xc2\xa0" pattern is Â + NBSP */
        {"https://randomuser.me/api/portraits/women/62.jpg",
         "'https://randomuser.me/api/portraits/women/62.jpg'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        EXPECT(src_yaml_string, cases[i][0], cases[i][1]);
}

static void test_xml_and_csv(void **state)
{
    EXPECT(src_xml_text, "a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    EXPECT(src_csv_field, "plain text ", "plain text ");
    EXPECT(src_csv_field, "a,b", "\"a,b\"");
    EXPECT(src_csv_field, "say \"hi\"", "\"say \"\"hi\"\"\"");
    EXPECT(src_csv_field, "line\nbreak", "\"line\nbreak\"");
    EXPECT(src_csv_field, "cr\r", "\"cr\r\"");
}

/* A response body for n users of `nat` (-1: any) in one format. */
static char *render(src_format fmt, unsigned inc, int n, int nat, bool generic, const char *cb,
                    bool info)
{
    src_gen_opts o = {.gender = -1, .fixed_nat = nat, .quirks = true, .now_ms = 1795478400000LL};
    us_buf b = {0};
    src_writer w;
    src_writer_begin(&w, fmt, inc, &b, cb, cb ? strlen(cb) : 0);
    w.generic = generic;
    src_key key = src_key_of("fmt", 3);
    for (int i = 0; i < n; i++) {
        src_rng r;
        src_user u;
        src_rng_init(&r, key, (uint64_t)i);
        src_user_generate(&u, &data, &o, &r);
        src_writer_user(&w, &u);
    }
    src_info in = {"s\"1", 3, n, 1.5};
    src_writer_end(&w, info ? &in : NULL);
    us_buf_putc(&b, '\0');
    assert_false(b.oom);
    return b.data;
}

static void test_fast_path_equals_walk(void **state)
{
    int nats[] = {-1, SRC_NAT_LEGO, SRC_NAT_IR};
    for (size_t k = 0; k < 3; k++) {
        char *fast = render(SRC_FMT_JSON, SRC_INC_ALL, 300, nats[k], false, NULL, true);
        char *walk = render(SRC_FMT_JSON, SRC_INC_ALL, 300, nats[k], true, NULL, true);
        assert_string_equal(fast, walk);
        free(fast);
        free(walk);
    }
}

static void test_documents(void **state)
{
    struct {
        src_format fmt;
        unsigned inc;
        int n;
        bool info;
        const char *cb;
        const char *expect;
    } cases[] = {
        {SRC_FMT_JSON, 0, 2, true, NULL,
         "{\"results\":[{},{}],\"info\":{\"seed\":\"s\\\"1\",\"results\":2,\"page\":1.5,"
         "\"version\":\"1.4\"}}"},
        {SRC_FMT_JSON, 0, 0, false, "cb", "cb({\"results\":[]});"},
        {SRC_FMT_PRETTY, 0, 1, false, NULL, "{\n  \"results\": [\n    {}\n  ]\n}"},
        {SRC_FMT_PRETTY, 0, 0, false, NULL, "{\n  \"results\": []\n}"},
        {SRC_FMT_YAML, 0, 1, true, NULL,
         "results:\n    - {}\ninfo:\n    seed: 's\"1'\n    results: 1\n    page: 1.5\n    version: "
         "'1.4'\n"},
        {SRC_FMT_YAML, 0, 0, false, NULL, "results: []\n"},
        {SRC_FMT_XML, 0, 1, false, NULL,
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user>\n\t<results/>\n</user>"},
        {SRC_FMT_CSV, 0, 2, true, NULL, "\n\n"},
        {SRC_FMT_CSV, SRC_INC_GENDER | SRC_INC_NAT, 0, true, NULL, "\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out =
            render(cases[i].fmt, cases[i].inc, cases[i].n, -1, false, cases[i].cb, cases[i].info);
        assert_string_equal(out, cases[i].expect);
        free(out);
    }
}

static void test_partial_records(void **state)
{
    char *csv = render(SRC_FMT_CSV, SRC_INC_ID | SRC_INC_NAT, 2, SRC_NAT_NZ, false, NULL, true);
    assert_memory_equal(csv, "id.name,id.value,nat\n,null,NZ\n,null,NZ", 37);
    free(csv);
    char *lego = render(SRC_FMT_CSV, SRC_INC_LOCATION, 1, SRC_NAT_LEGO, false, NULL, true);
    assert_null(strstr(lego, "country"));
    free(lego);
    char *xml = render(SRC_FMT_XML, SRC_INC_ID, 1, SRC_NAT_TR, false, NULL, true);
    assert_non_null(strstr(xml, "\t<results>\n\t\t<id>\n\t\t\t<name></name>\n\t\t\t<value></"
                                "value>\n\t\t</id>\n\t</results>\n"));
    free(xml);
    char *yaml =
        render(SRC_FMT_YAML, SRC_INC_ID | SRC_INC_LOCATION, 1, SRC_NAT_TR, false, NULL, false);
    assert_non_null(strstr(yaml, "        id:\n            name: \"\"\n            value: null\n"));
    assert_non_null(strstr(yaml, "            street: {number: "));
    free(yaml);
    char *pretty = render(SRC_FMT_PRETTY, SRC_INC_DOB, 1, -1, false, NULL, false);
    assert_non_null(strstr(pretty, "    {\n      \"dob\": {\n        \"date\": \""));
    free(pretty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string), cmocka_unit_test(test_yaml_string),
        cmocka_unit_test(test_xml_and_csv), cmocka_unit_test(test_fast_path_equals_walk),
        cmocka_unit_test(test_documents),   cmocka_unit_test(test_partial_records),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
