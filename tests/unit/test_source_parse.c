/* Unit tests of userstream-source's input side: JavaScript number semantics,
 * the qs-compatible query parser and upstream's parameter sanitising. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "src_jsnum.h"
#include "src_nat.h"
#include "src_qs.h"
#include "src_request.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double num(const char *s)
{
    return src_js_number(s, strlen(s));
}

static void test_js_number(void **state)
{
    assert_true(num("") == 0 && num("   ") == 0);
    assert_true(num("3") == 3 && num(" 5 ") == 5 &&
                num("\xc2\xa0"
                    "7") == 7);
    assert_true(num("3.0") == 3 && num("1e1") == 10 && num(".5") == 0.5 && num("5.") == 5);
    assert_true(num("0x10") == 16 && num("0o17") == 15 && num("0b101") == 5);
    assert_true(num("-2") == -2 && num("+2") == 2 && isinf(num("Infinity")));
    const char *nan[] = {"abc",
                         "1e",
                         "0x",
                         "-0x5",
                         "1_000",
                         "1 2",
                         "e5",
                         ".",
                         "inf",
                         "0x1g",
                         "Infinityx",
                         "--1",
                         "\xe2\x80\x8b"
                         "1"};
    for (size_t i = 0; i < sizeof nan / sizeof *nan; i++)
        assert_true(isnan(num(nan[i])));
}

static void test_js_hex_and_strings(void **state)
{
    assert_true(src_js_parse_hex("0a", 2) == 10 && src_js_parse_hex("14", 2) == 20);
    assert_true(src_js_parse_hex("1z", 2) == 1 && src_js_parse_hex("-1", 2) == -1);
    assert_true(isnan(src_js_parse_hex("zz", 2)) && isnan(src_js_parse_hex("", 0)));
    char out[40];
    const struct {
        double d;
        const char *s;
    } cases[] = {{1, "1"},           {1.5, "1.5"},
                 {0.1, "0.1"},       {1e-7, "1e-7"},
                 {1e-6, "0.000001"}, {123.456, "123.456"},
                 {1e21, "1e+21"},    {1e20, "100000000000000000000"},
                 {-2.5, "-2.5"},     {10000, "10000"},
                 {0, "0"},           {1.7976931348623157e308, "1.7976931348623157e+308"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        src_js_number_string(cases[i].d, out);
        assert_string_equal(out, cases[i].s);
    }
    const char *s = "\xf0\x9f\x98\x80"
                    "ab\xc3\xa9";
    assert_int_equal(src_js_utf16_len(s, strlen(s)), 5);
    assert_int_equal(src_js_utf16_offset(s, strlen(s), 1), 0); /* no half surrogate pair */
    assert_int_equal(src_js_utf16_offset(s, strlen(s), 3), 5);
}

static size_t dec(const char *in, char *out)
{
    size_t n = src_qs_decode(in, strlen(in), out);
    out[n] = '\0';
    return n;
}

static void test_qs_decode(void **state)
{
    char out[64];
    dec("a+b%20c", out);
    assert_string_equal(out, "a b c");
    dec("%C3%A9", out);
    assert_string_equal(out, "\xc3\xa9");
    /* A URIError anywhere keeps the whole text undecoded ('+' still a space). */
    dec("%C3%A9%zz+x", out);
    assert_string_equal(out, "%C3%A9%zz x");
    dec("%C0%AF", out); /* overlong */
    assert_string_equal(out, "%C0%AF");
    dec("%ED%A0%80", out); /* surrogate */
    assert_string_equal(out, "%ED%A0%80");
    dec("%E9", out); /* lone Latin-1 byte: invalid UTF-8 */
    assert_string_equal(out, "%E9");
    dec("\xe9", out); /* a raw byte is a Latin-1 character */
    assert_string_equal(out, "\xc3\xa9");
    assert_int_equal(dec("%00", out), 1);
}

static void parse(src_qs *q, const char *s)
{
    assert_int_equal(src_qs_parse(q, s, strlen(s)), 0);
}

static void test_qs_parse(void **state)
{
    src_qs q;
    parse(&q, "results=3&results=4&seed=a&noinfo&nat[]=us&nat[]=gb&inc[a]=x&[page]=2&dl=");
    assert_int_equal(q.p[SRC_P_RESULTS].count, 2);
    assert_memory_equal(q.p[SRC_P_RESULTS].s, "4", 1);
    assert_int_equal(q.p[SRC_P_NOINFO].count, 1);
    assert_int_equal(q.p[SRC_P_NOINFO].n, 0);
    assert_int_equal(q.p[SRC_P_NAT].count, 2);
    assert_memory_equal(q.p[SRC_P_NAT].s, "gb", 2);
    assert_int_equal(q.p[SRC_P_INC].count, 0); /* object syntax is ignored */
    assert_int_equal(q.p[SRC_P_PAGE].count, 1);
    assert_int_equal(q.p[SRC_P_DL].count, 1);
    src_qs_free(&q);
    parse(&q, "a=1&&=&Results=5&seed%5B%5D=x&nat[21]=us&nat[x][y]=1&lego[0]=1");
    assert_int_equal(q.p[SRC_P_RESULTS].count, 0); /* keys are case-sensitive */
    assert_int_equal(q.p[SRC_P_SEED].count, 1);
    assert_int_equal(q.p[SRC_P_NAT].count, 0);
    assert_int_equal(q.p[SRC_P_LEGO].count, 1);
    src_qs_free(&q);
}

static void test_qs_parameter_limit(void **state)
{
    char big[16000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(big + n, "k=%d&", i);
    sprintf(big + n, "seed=late");
    src_qs q;
    parse(&q, big);
    assert_int_equal(q.p[SRC_P_SEED].count, 0); /* part 1001: beyond qs's limit */
    src_qs_free(&q);
}

static void req(src_request *r, src_qs *q, const char *s, bool quirks)
{
    parse(q, s);
    src_request_from_qs(r, q, quirks);
}

static void test_request_results_page(void **state)
{
    const struct {
        const char *q;
        int results;
        double page;
    } cases[] = {{"", 1, 1},
                 {"results=3.0&page=2", 3, 2},
                 {"results=1e1&page=1.5", 10, 1.5},
                 {"results=5001", 1, 1},
                 {"results=0&page=0", 1, 1},
                 {"results=-1&page=-1", 1, 1},
                 {"results=2.5&page=abc", 1, 1},
                 {"results=5000&page=10000", 5000, 10000},
                 {"results=&page=10001", 1, 1},
                 {"results=%205&page=0x10", 5, 16},
                 {"results=1&results=2", 1, 1},
                 {"results[]=7", 7, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        src_qs q;
        src_request r;
        req(&r, &q, cases[i].q, true);
        assert_int_equal(r.results, cases[i].results);
        assert_true(r.page == cases[i].page);
        src_qs_free(&q);
    }
}

static void test_request_options(void **state)
{
    src_qs q;
    src_request r;
    req(&r, &q, "gender=female&nat=us,%C4%B1E,us&inc=name,%20EMAIL%20,foo&exc=email&format=XML",
        true);
    assert_int_equal(r.gen.gender, 1);
    assert_non_null(r.gen.nat_weight);
    assert_int_equal(r.gen.nat_weight_total, 3);
    assert_int_equal(r.nat_weight[SRC_NAT_US], 2);
    assert_int_equal(r.nat_weight[SRC_NAT_IE], 1);
    assert_int_equal(r.inc, SRC_INC_NAME);
    assert_int_equal(r.format, SRC_FMT_XML);
    src_qs_free(&q);
    req(&r, &q, "seed=x&gender=female&nat=us,xx&format=&fmt=yaml&noinfo&lego=false", true);
    assert_int_equal(r.gen.gender, -1); /* upstream ignores gender with a seed */
    assert_null(r.gen.nat_weight);      /* one bad code voids the list */
    assert_int_equal(r.format, SRC_FMT_YAML);
    assert_false(r.noinfo); /* upstream's noinfo&lego=false quirk */
    assert_false(r.lego);
    src_qs_free(&q);
    req(&r, &q, "seed=x&gender=female&noinfo&lego=false&nat=,", false);
    assert_int_equal(r.gen.gender, 1);
    assert_true(r.noinfo);
    assert_null(r.gen.nat_weight);
    src_qs_free(&q);
    req(&r, &q, "lego=0&callback=&dl=false&inc=", true);
    assert_true(r.lego && r.has_callback && r.callback_n == 0 && r.dl);
    assert_int_equal(r.gen.fixed_nat, SRC_NAT_LEGO);
    assert_int_equal(r.inc, SRC_INC_ALL);
    src_qs_free(&q);
}

static void test_request_seed18(void **state)
{
    src_qs q;
    src_request r;
    req(&r, &q, "seed=abcdefabcdefabcd0a&lego", true);
    assert_int_equal(r.nat18, SRC_NAT_IE);
    assert_int_equal(r.gen.fixed_nat, SRC_NAT_IE); /* overrides lego */
    char key[64];
    assert_int_equal(src_request_key_string(&r, r.seed, r.seed_n, key), 16);
    src_qs_free(&q);
    req(&r, &q, "seed=abcdefabcdefabcd15", true);
    assert_true(r.bad_seed);
    src_qs_free(&q);
    req(&r, &q, "seed=abcdefabcdefabcdzz", true);
    assert_true(r.bad_seed);
    src_qs_free(&q);
    req(&r, &q, "seed=abc&page=02", true);
    size_t n = src_request_key_string(&r, r.seed, r.seed_n, key);
    assert_memory_equal(key, "abc2", n);
    src_qs_free(&q);
}

static void test_request_password(void **state)
{
    const struct {
        const char *q;
        bool custom;
        const char *charset;
        double min, max;
    } cases[] = {
        {"password=upper,lower,number,10-12", true,
         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 10, 12},
        {"password=upper", true, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 8, 64},
        {"password=upper,100", true, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 8, 64},
        {"password=upper,5-100", true, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 5, 64},
        {"password=number,16-4", true, "0123456789", 4, 16},
        {"password=number,number,0", true, "0123456789", 8, 64},
        {"password=upper,lower,1-16,number", true,
         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 8, 64},
        {"password=UPPER,10", false, "", 0, 0},
        {"password=", false, "", 0, 0},
        {"password=upper,", true, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 8, 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        src_qs q;
        src_request r;
        req(&r, &q, cases[i].q, true);
        assert_int_equal(r.gen.pw_custom, cases[i].custom);
        if (cases[i].custom) {
            assert_int_equal(r.gen.pw_charset_len, strlen(cases[i].charset));
            assert_memory_equal(r.gen.pw_charset, cases[i].charset, strlen(cases[i].charset));
            assert_true(r.gen.pw_min == cases[i].min && r.gen.pw_max == cases[i].max);
        }
        src_qs_free(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_js_number),          cmocka_unit_test(test_js_hex_and_strings),
        cmocka_unit_test(test_qs_decode),          cmocka_unit_test(test_qs_parse),
        cmocka_unit_test(test_qs_parameter_limit), cmocka_unit_test(test_request_results_page),
        cmocka_unit_test(test_request_options),    cmocka_unit_test(test_request_seed18),
        cmocka_unit_test(test_request_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
