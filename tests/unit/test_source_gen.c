/* Unit tests of userstream-source's generator: the embedded data, the
 * random streams, dates and ages, and every nationality's formats in both
 * quirk modes (the fixed mode's check digits are verified). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "src_data.h"
#include "src_nat.h"
#include "src_rng.h"
#include "src_user.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static src_data data;

static int setup(void **state)
{
    char err[256];
    if (src_data_load(&data, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    src_data_free(&data);
    return 0;
}

static src_gen_opts opts(int nat, bool quirks)
{
    src_gen_opts o = {.gender = -1,
                      .fixed_nat = nat,
                      .quirks = quirks,
                      .now_ms = 1795478400000LL /* 2026-11-24 */};
    return o;
}

static void gen(src_user *u, const src_gen_opts *o, const char *seed, uint64_t i)
{
    src_rng r;
    src_rng_init(&r, src_key_of(seed, strlen(seed)), i);
    src_user_generate(u, &data, o, &r);
}

static bool matches(const char *rx, const char *s)
{
    regex_t re;
    char full[512];
    snprintf(full, sizeof full, "^(%s)$", rx);
    assert_int_equal(regcomp(&re, full, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    if (!ok)
        fprintf(stderr, "\"%s\" does not match %s\n", s, rx);
    return ok;
}

static void test_data_loaded(void **state)
{
    for (int n = 0; n < SRC_DATA_NATS; n++)
        for (int k = 0; k < SRC_NAT_LISTS; k++)
            assert_true(data.nat[n][k].n > 0);
    assert_true(data.common[SRC_COMMON_TZ].n >= 30);
    /* Names carry a non-empty ASCII e-mail part, also for Persian names. */
    const src_list *ir = &data.nat[SRC_NAT_IR][SRC_LIST_MALE];
    for (uint32_t i = 0; i < ir->n; i++) {
        assert_true(ir->v[i].alt_n > 0);
        for (uint32_t k = 0; k < ir->v[i].alt_n; k++)
            assert_true((unsigned char)ir->v[i].alt[k] < 0x80);
    }
}

static void test_data_parse_errors(void **state)
{
    src_data d = {0};
    char err[256];
    const char *bad[] = {"male\tA\n", "nope\tA\ta\n", "street\tA\tb\n", "male\tA\"b\ta\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(src_data_parse(&d, "US", bad[i], strlen(bad[i]), err, sizeof err), -1);
        assert_non_null(strstr(err, "US:1"));
    }
    assert_int_equal(src_data_parse(&d, "XX", "", 0, err, sizeof err), -1);
    src_data_free(&d);
}

static void test_determinism(void **state)
{
    src_gen_opts o = opts(-1, true);
    src_user a, b, c;
    gen(&a, &o, "seed", 7);
    gen(&b, &o, "seed", 7);
    gen(&c, &o, "seed", 8);
    assert_string_equal(a.uuid, b.uuid);
    assert_string_equal(a.email, b.email);
    assert_string_equal(a.phone, b.phone);
    assert_string_not_equal(a.uuid, c.uuid);
}

static void test_dates(void **state)
{
    char out[25];
    src_iso_date(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    src_iso_date(-800000000000LL, out);
    assert_string_equal(out, "1944-08-25T17:46:40.000Z");
    src_iso_date(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    src_iso_date(951782400000LL, out); /* leap day */
    assert_string_equal(out, "2000-02-29T00:00:00.000Z");
    int64_t dob = 700000000000LL; /* 1992-03-07T... */
    assert_int_equal(src_age_years(dob, dob), 0);
    assert_int_equal(src_age_years(dob, dob + 365LL * 86400000 * 34), 33);
    assert_int_equal(src_age_years(dob, 1795478400000LL), 34);
}

static void test_common_fields(void **state)
{
    src_gen_opts o = opts(-1, true);
    for (uint64_t i = 0; i < 2000; i++) {
        src_user u;
        gen(&u, &o, "common", i);
        assert_true(
            matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u.uuid));
        assert_true(matches("-?[0-9]{1,2}\\.[0-9]{4}", u.lat) &&
                    matches("-?[0-9]{1,3}\\.[0-9]{4}", u.lon));
        assert_true(matches("[A-Za-z0-9]{8}", u.salt) && matches("[a-z]+[0-9]{3}", u.username));
        assert_true(matches("[a-z0-9._'-]+@example\\.com", u.email));
        assert_true(
            matches("https://randomuser\\.me/api/portraits/(men|women)/[0-9]+\\.jpg", u.pic[0]));
        assert_true(strcmp(u.dob, "1944-08-25") >= 0 && strcmp(u.dob, "2001-05-29") < 0);
        assert_true(strcmp(u.reg, "2002-03-21") >= 0 && strcmp(u.reg, "2022-05-24") < 0);
        assert_true(u.street_no >= 1 && u.street_no <= 9999);
        assert_true(strlen(u.password) >= 1);
    }
}

typedef struct nat_case {
    int nat;
    const char *phone, *cell, *id_name, *id; /* id NULL: value null */
    const char *postcode;                    /* NULL: a number */
    int pc_lo, pc_hi;
} nat_case;

static const nat_case upstream[] = {
    {SRC_NAT_AU, "0[0-9]-[0-9]{4}-[0-9]{4}", "04[0-9]{2}-[0-9]{3}-[0-9]{3}", "TFN", "[0-9]{9}",
     NULL, 200, 9999},
    {SRC_NAT_BR, "\\([0-9]{2}\\) [0-9]{4}-[0-9]{4}", NULL, "CPF",
     "[0-9]{3}\\.[0-9]{3}\\.[0-9]{3}-[0-9]{2}", NULL, 10000, 99999},
    {SRC_NAT_CA, "[A-Z][0-9]{2} [A-Z][0-9]{2}-[0-9]{4}", NULL, "SIN", "[0-9]{9}",
     "[A-Z][0-9][A-Z] [0-9][A-Z][0-9]", 0, 0},
    {SRC_NAT_CH, "07[5-9] [0-9]{3} [0-9]{2} [0-9]{2}", NULL, "AVS",
     "756\\.[0-9]{4}\\.[0-9]{4}\\.[0-9]{2}", NULL, 1000, 9999},
    {SRC_NAT_DE, "0[0-9]{3}-[0-9]{7}", "017[0-9]-[0-9]{7}", "SVNR",
     "[0-9]{2} [0-9]{4}([0-9]{2}|10[01]) [^ ]+ [0-9]{3}", NULL, 10000, 99999},
    {SRC_NAT_DK, "[0-9]{8}", NULL, "CPR", "[0-9]{4}([0-9]{2}|10[01])-[0-9]{4}", NULL, 10000, 99999},
    {SRC_NAT_ES, "9[0-9]{2}-[0-9]{3}-[0-9]{3}", "6[0-9]{2}-[0-9]{3}-[0-9]{3}", "DNI",
     "[0-9]{8}-[A-Z]", NULL, 10000, 99999},
    {SRC_NAT_FI, "0[2-9]-[0-9]{3}-[0-9]{3}", "04[0-9]-[0-9]{3}-[0-9]{2}-[0-9]{2}", "HETU",
     "NaNNA[0-9]{3}undefined", NULL, 10000, 99999},
    {SRC_NAT_FR, "0[1-5](-[0-9]{2}){4}", "06(-[0-9]{2}){4}", "INSEE",
     "[12]([0-9]{2}|10[01])(0[0-9]|1[01])[0-9]{8} [0-9]{2}", NULL, 10000, 99999},
    {SRC_NAT_GB,
     "01[0-9]{3} [0-9]{5,6}|011[0-9]{4} [0-9]{3} [0-9]{4}|01[0-9]1 [0-9]{3} [0-9]{4}|01[0-9]{4} "
     "[0-9]{4,5}|02[0-9] [0-9]{4} [0-9]{4}",
     "07[0-9]{3} [0-9]{6}", "NINO", "[A-Z]{2} [0-9]{2} [0-9]{2} [0-9]{2} [A-Z]",
     "[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}", 0, 0},
    {SRC_NAT_IE, "0[1-7]1-[0-9]{3}-[0-9]{4}", "081-[0-9]{3}-[0-9]{4}", "PPS", "[0-9]{7}T", NULL,
     10000, 99999},
    {SRC_NAT_IN, "[789][0-9]{9}", NULL, "UIDAI", "[0-9]{12}", NULL, 10000, 99999},
    {SRC_NAT_IR, "0[0-9]{2}-[0-9]{8}", "09[0-9]{2}-[0-9]{3}-[0-9]{4}", "", NULL, NULL, 10000,
     99999},
    {SRC_NAT_MX, "\\(6[0-9]{2}\\) [0-9]{3} [0-9]{4}", NULL, "NSS",
     "[0-9]{2} [0-9]{2} [0-9]{2} [0-9]{4} [0-9]", NULL, 10000, 99999},
    {SRC_NAT_NL, "\\(0[0-9]{2}\\) [0-9]{7}|\\(0[0-9]{3}\\) [0-9]{6}", "\\(06\\) [0-9]{8}", "BSN",
     "[0-9]{8}", "[0-9]{4} [A-Z]{2}", 0, 0},
    {SRC_NAT_NO, "[235678][0-9]{7}", "[49][0-9]{7}", "FN", "[0-9]{11}", "[0-9]{4}", 0, 0},
    {SRC_NAT_NZ, "\\([0-9]{3}\\)-[0-9]{3}-[0-9]{4}", NULL, "", NULL, NULL, 10000, 99999},
    {SRC_NAT_RS, "0[123][0-9]-[0-9]{4}-[0-9]{3}", "06[0-9]-[0-9]{4}-[0-9]{3}", "SID", "[0-9]{9}",
     NULL, 10000, 99999},
    {SRC_NAT_TR, "\\([0-9]{3}\\)-[0-9]{3}-[0-9]{4}", NULL, "", NULL, NULL, 10000, 99999},
    {SRC_NAT_UA, "\\(0(66|67|68|96|97|98|99)\\) [A-Z][0-9]{2}-[0-9]{4}", NULL, "", NULL, NULL,
     10000, 99999},
    {SRC_NAT_US, "\\([2-9][0-9]{2}\\) [2-9][0-9]{2}-[0-9]{4}", NULL, "SSN",
     "[0-9]{3}-[0-9]{2}-[0-9]{4}", NULL, 10000, 99999},
    {SRC_NAT_LEGO, "\\([0-9]{3}\\)-[0-9]{3}-[0-9]{4}", NULL, "SN", "[0-9]{12}", NULL, 10000, 99999},
};

static void check_nat(const nat_case *c, const src_user *u)
{
    assert_true(matches(c->phone, u->phone));
    assert_true(matches(c->cell ? c->cell : c->phone, u->cell));
    assert_string_equal(u->id_name, c->id_name);
    assert_int_equal(u->id_null, c->id == NULL);
    if (c->id)
        assert_true(matches(c->id, u->id_value));
    assert_int_equal(u->postcode_is_str, c->postcode != NULL);
    if (c->postcode)
        assert_true(matches(c->postcode, u->postcode_s));
    else
        assert_true(u->postcode >= c->pc_lo && u->postcode <= c->pc_hi);
    assert_int_equal(src_nat_country(u->nat) == NULL, u->nat == SRC_NAT_LEGO);
}

static void test_nat_formats_upstream(void **state)
{
    for (size_t k = 0; k < sizeof upstream / sizeof *upstream; k++) {
        src_gen_opts o = opts(upstream[k].nat, true);
        for (uint64_t i = 0; i < 300; i++) {
            src_user u;
            gen(&u, &o, "nat", i);
            assert_int_equal(u.nat, upstream[k].nat);
            check_nat(&upstream[k], &u);
        }
    }
}

static int luhn_ok(const char *s)
{
    int sum = 0;
    for (int i = 0; s[i]; i++) {
        int v = (s[i] - '0') * (i % 2 ? 2 : 1);
        sum += v > 9 ? v - 9 : v;
    }
    return sum % 10 == 0;
}

static void check_fixed(const src_user *u)
{
    int y = atoi(u->dob), m = atoi(u->dob + 5), d = atoi(u->dob + 8);
    char ddmmyy[8];
    snprintf(ddmmyy, sizeof ddmmyy, "%02d%02d%02d", d, m, y % 100);
    const char *id = u->id_value;
    switch (u->nat) {
    case SRC_NAT_CA:
        assert_true(luhn_ok(id) && matches("[2-9][0-9]{2} [2-9][0-9]{2}-[0-9]{4}", u->phone));
        break;
    case SRC_NAT_UA:
        assert_true(matches("\\(0[69][6-9]\\) [0-9]{3}-[0-9]{4}", u->phone));
        break;
    case SRC_NAT_DK:
        assert_memory_equal(id, ddmmyy, 6);
        break;
    case SRC_NAT_FI: {
        long num = atol(ddmmyy) * 1000 + (id[7] - '0') * 100 + (id[8] - '0') * 10 + (id[9] - '0');
        assert_memory_equal(id, ddmmyy, 6);
        assert_int_equal(id[6], y >= 2000 ? 'A' : '-');
        assert_int_equal(id[10], "0123456789ABCDEFHJKLMNPRSTUVWXY"[num % 31]);
        assert_int_equal((id[9] - '0') % 2, u->male ? 1 : 0);
        break;
    }
    case SRC_NAT_FR: {
        char yymm[8];
        snprintf(yymm, sizeof yymm, "%02d%02d", y % 100, m);
        assert_memory_equal(id + 1, yymm, 4);
        unsigned long long v = strtoull(id, NULL, 10);
        assert_int_equal(97 - v % 97, atoi(id + 14));
        break;
    }
    case SRC_NAT_IE: {
        int sum = 0;
        for (int i = 0; i < 7; i++)
            sum += (id[i] - '0') * (8 - i);
        assert_int_equal(id[7], "WABCDEFGHIJKLMNOPQRSTUV"[sum % 23]);
        break;
    }
    default:
        break;
    }
}

static void test_nat_formats_fixed(void **state)
{
    int nats[] = {SRC_NAT_CA, SRC_NAT_UA, SRC_NAT_DK, SRC_NAT_FI, SRC_NAT_FR, SRC_NAT_IE};
    for (size_t k = 0; k < sizeof nats / sizeof *nats; k++) {
        src_gen_opts o = opts(nats[k], false);
        for (uint64_t i = 0; i < 500; i++) {
            src_user u;
            gen(&u, &o, "fixed", i);
            check_fixed(&u);
        }
    }
}

static void test_no_and_us_ids(void **state)
{
    static const int w1[] = {3, 7, 6, 1, 8, 9, 4, 5, 2}, w2[] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
    src_gen_opts o = opts(SRC_NAT_NO, true);
    for (uint64_t i = 0; i < 500; i++) {
        src_user u;
        gen(&u, &o, "no", i);
        int s1 = 0, s2 = 0;
        for (int k = 0; k < 9; k++)
            s1 += w1[k] * (u.id_value[k] - '0');
        for (int k = 0; k < 10; k++)
            s2 += w2[k] * (u.id_value[k] - '0');
        assert_int_equal((s1 % 11 ? 11 - s1 % 11 : 0), u.id_value[9] - '0');
        assert_int_equal((s2 % 11 ? 11 - s2 % 11 : 0), u.id_value[10] - '0');
        assert_int_equal((u.id_value[8] - '0') % 2, u.male ? 1 : 0);
    }
    o = opts(SRC_NAT_US, true);
    for (uint64_t i = 0; i < 2000; i++) {
        src_user u;
        gen(&u, &o, "us", i);
        assert_true(strncmp(u.id_value, "000", 3) && strncmp(u.id_value, "666", 3) &&
                    u.id_value[0] != '9');
        assert_true(strncmp(u.id_value + 4, "00", 2) && strcmp(u.id_value + 7, "0000"));
    }
}

static void test_gender_and_titles(void **state)
{
    src_gen_opts o = opts(SRC_NAT_CH, true);
    o.gender = 1;
    for (uint64_t i = 0; i < 200; i++) {
        src_user u;
        gen(&u, &o, "ch", i);
        assert_false(u.male);
        assert_true(!strcmp(u.title, "Madame") || !strcmp(u.title, "Mademoiselle"));
        assert_true(
            matches("https://randomuser\\.me/api/portraits/women/([0-9]|[1-8][0-9]|9[0-6])\\.jpg",
                    u.pic[0]));
    }
}

static void test_nat_weights(void **state)
{
    uint32_t w[21] = {0};
    w[SRC_NAT_FR] = 1;
    w[SRC_NAT_NL] = 3;
    src_gen_opts o = opts(-1, true);
    o.nat_weight = w;
    o.nat_weight_total = 4;
    int fr = 0, nl = 0;
    for (uint64_t i = 0; i < 4000; i++) {
        src_user u;
        gen(&u, &o, "w", i);
        fr += u.nat == SRC_NAT_FR;
        nl += u.nat == SRC_NAT_NL;
    }
    assert_int_equal(fr + nl, 4000);
    assert_true(nl > 2 * fr);
}

static void test_custom_password(void **state)
{
    src_gen_opts o = opts(-1, true);
    o.pw_custom = true;
    strcpy(o.pw_charset, "\"\\");
    o.pw_charset_len = 2;
    o.pw_min = 64;
    o.pw_max = 64;
    src_user u;
    gen(&u, &o, "pw", 0);
    assert_int_equal(strlen(u.password), 64);
    assert_int_equal(strspn(u.password, "\"\\"), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_loaded),       cmocka_unit_test(test_data_parse_errors),
        cmocka_unit_test(test_determinism),       cmocka_unit_test(test_dates),
        cmocka_unit_test(test_common_fields),     cmocka_unit_test(test_nat_formats_upstream),
        cmocka_unit_test(test_nat_formats_fixed), cmocka_unit_test(test_no_and_us_ids),
        cmocka_unit_test(test_gender_and_titles), cmocka_unit_test(test_nat_weights),
        cmocka_unit_test(test_custom_password),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
