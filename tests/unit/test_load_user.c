/* Unit tests of ld_json + ld_user: one record, scanned and flattened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ld_json.h"
#include "ld_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A made-up record in the randomuser 1.4 shape (not real API output). */
#define REC_FMT                                                                                    \
    "{\"gender\":%s,\"name\":{\"title\":\"Ms\",\"first\":%s,\"last\":\"Testa\"},"                  \
    "\"location\":{\"street\":{\"number\":%s,\"name\":\"Main Street\"},\"city\":\"Springfield\","  \
    "\"state\":\"Oregon\",%s\"postcode\":%s,\"coordinates\":{\"latitude\":%s,"                     \
    "\"longitude\":\"-122.6750\"},\"timezone\":{\"offset\":%s,\"description\":\"Pacific\"}},"      \
    "\"email\":%s,\"login\":{\"uuid\":%s,\"username\":\"bluefox123\",\"password\":\"hunter22\","   \
    "\"salt\":\"SALTsalt\",\"md5\":\"0123456789abcdef0123456789abcdef\",\"sha1\":\"s1\","          \
    "\"sha256\":\"s256\"},\"dob\":{\"date\":%s,\"age\":41},\"registered\":{\"date\":"              \
    "\"2010-06-01T12:00:00.000Z\",\"age\":16},\"phone\":\"(555) 010-0000\",\"cell\":\"555\","      \
    "\"id\":{\"name\":%s,\"value\":%s},\"picture\":{\"large\":%s,\"medium\":\"https://x/m.jpg\","  \
    "\"thumbnail\":\"https://x/t.jpg\"},\"nat\":%s%s}"

typedef struct fields {
    const char *gender, *first, *number, *country, *postcode, *lat, *tz, *email, *uuid, *dob,
        *id_name, *id_value, *pic, *nat, *extra;
} fields;

static fields base(void)
{
    return (fields){"\"female\"",
                    "\"Ana\"",
                    "42",
                    "\"country\":\"United States\",",
                    "97201",
                    "\"45.5200\"",
                    "\"-8:00\"",
                    "\"ana.testa@example.com\"",
                    "\"0b6c5f3e-2a4d-4c1b-9e8f-1234567890ab\"",
                    "\"1985-02-03T04:05:06.789Z\"",
                    "\"SSN\"",
                    "\"123-45-6789\"",
                    "\"https://x/l.jpg\"",
                    "\"US\"",
                    ""};
}

static char *render(const fields *f)
{
    char *out = NULL;
    assert_true(asprintf(&out, REC_FMT, f->gender, f->first, f->number, f->country, f->postcode,
                         f->lat, f->tz, f->email, f->uuid, f->dob, f->id_name, f->id_value, f->pic,
                         f->nat, f->extra) > 0);
    return out;
}

typedef struct result {
    int rc;
    char reason[160];
    char col[LD_NCOLS][128];
    int is_null[LD_NCOLS];
} result;

static int on_rec(const ld_record *rec, long index, void *arg)
{
    result *r = arg;
    ld_row row;
    r->rc = ld_user_flatten(rec, &row, r->reason, sizeof r->reason);
    for (int c = 0; r->rc == 0 && c < LD_NCOLS; c++) {
        r->is_null[c] = row.val[c] == NULL;
        if (row.val[c])
            snprintf(r->col[c], sizeof r->col[c], "%.*s", (int)row.len[c], row.val[c]);
    }
    return 0;
}

/* Wraps one record in a page, scans and flattens it. */
static result flatten(const char *record)
{
    result r;
    memset(&r, 0, sizeof r);
    r.rc = 99;
    char *page = NULL, err[128];
    ld_json_page jp;
    assert_true(asprintf(&page, "{\"results\":[%s],\"info\":{\"seed\":\"s\",\"page\":1}}", record) >
                0);
    assert_int_equal(ld_json_scan(page, strlen(page), &jp, on_rec, &r, err, sizeof err), 0);
    assert_int_equal(jp.n_results, 1);
    free(page);
    return r;
}

static result flatten_fields(const fields *f)
{
    char *rec = render(f);
    result r = flatten(rec);
    free(rec);
    return r;
}

static void test_valid_record(void **state)
{
    fields f = base();
    result r = flatten_fields(&f);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.col[LD_COL_USER_ID], "0b6c5f3e-2a4d-4c1b-9e8f-1234567890ab");
    assert_string_equal(r.col[LD_COL_STREET_NUMBER], "42");
    assert_string_equal(r.col[LD_COL_POSTCODE], "97201");
    assert_string_equal(r.col[LD_COL_COUNTRY], "United States");
    assert_string_equal(r.col[LD_COL_TZ_OFFSET], "-8:00");
    assert_string_equal(r.col[LD_COL_DOB], "1985-02-03T04:05:06.789Z");
    assert_string_equal(r.col[LD_COL_NAT], "US");
    /* credentials are never in the row */
    for (int c = 0; c < LD_NCOLS; c++) {
        assert_null(strstr(r.col[c], "hunter22"));
        assert_null(strstr(r.col[c], "SALTsalt"));
        assert_null(strstr(r.col[c], "0123456789abcdef"));
    }
}

static void test_types_by_nationality(void **state)
{
    fields f = base();
    f.postcode = "\"SW1A 1AA\"";
    f.id_name = "\"\"";
    f.id_value = "null";
    result r = flatten_fields(&f);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.col[LD_COL_POSTCODE], "SW1A 1AA");
    assert_string_equal(r.col[LD_COL_ID_NAME], "");
    assert_true(r.is_null[LD_COL_ID_VALUE]);
    /* LEGO has no country */
    f = base();
    f.country = "";
    f.nat = "\"LEGO\"";
    assert_int_equal(flatten_fields(&f).rc, 0);
    f.nat = "\"US\"";
    r = flatten_fields(&f);
    assert_int_not_equal(r.rc, 0);
    assert_string_equal(r.reason, "location.country: missing");
}

static void test_escapes_decoded(void **state)
{
    fields f = base();
    f.first = "\"Jos\\u00e9 \\ud83d\\ude00\\t\\\"x\\\"\"";
    result r = flatten_fields(&f);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.col[LD_COL_FIRST_NAME], "Jos\xc3\xa9 \xf0\x9f\x98\x80\t\"x\"");
}

/* Each mutation must be rejected with a reason starting with want. */
static void expect_reject(const fields *f, const char *want)
{
    result r = flatten_fields(f);
    if (r.rc == 0 || strncmp(r.reason, want, strlen(want)) != 0)
        fail_msg("expected \"%s...\", got rc=%d \"%s\"", want, r.rc, r.reason);
}

static void test_rejects(void **state)
{
    fields f;
#define MUT(field, value, want)                                                                    \
    f = base();                                                                                    \
    f.field = value;                                                                               \
    expect_reject(&f, want)
    MUT(gender, "\"x\"", "gender: not male or female");
    MUT(gender, "1", "gender: not a string");
    MUT(first, "\"\"", "name.first: empty");
    MUT(first, "null", "name.first: not a string");
    MUT(number, "\"42\"", "location.street.number: not an integer");
    MUT(number, "4.5", "location.street.number: not an integer");
    MUT(number, "-1", "location.street.number: out of range");
    MUT(number, "3000000000", "location.street.number: out of range");
    MUT(postcode, "true", "location.postcode: not an integer or a string");
    MUT(postcode, "\"\"", "location.postcode: empty");
    MUT(lat, "45.52", "location.coordinates.latitude: not a string");
    MUT(lat, "\"91.0\"", "location.coordinates.latitude: not a number");
    MUT(lat, "\"1e3\"", "location.coordinates.latitude: not a number");
    MUT(lat, "\"NaN\"", "location.coordinates.latitude: not a number");
    MUT(tz, "\"+25:00\"", "location.timezone.offset: not a UTC offset");
    MUT(tz, "\"+5:4\"", "location.timezone.offset: not a UTC offset");
    MUT(email, "\"no-at-sign\"", "email: not an email address");
    MUT(email, "\"a b@example.com\"", "email: not an email address");
    MUT(email, "5", "email: not a string");
    MUT(uuid, "\"not-a-uuid\"", "login.uuid: not a UUID");
    MUT(uuid, "\"0b6c5f3e-2a4d-4c1b-9e8f-1234567890aZ\"", "login.uuid: not a UUID");
    MUT(dob, "\"2001-02-29T00:00:00.000Z\"", "dob.date: not an ISO 8601");
    MUT(dob, "\"1985-02-03 04:05:06\"", "dob.date: not an ISO 8601");
    MUT(dob, "\"0000-01-01T00:00:00Z\"", "dob.date: not an ISO 8601");
    MUT(id_value, "7", "id.value: not a string");
    MUT(pic, "\"ftp://x/l.jpg\"", "picture.large: not an http(s) URL");
    MUT(nat, "\"usa\"", "nat: not a nationality code");
    MUT(extra, ",\"email\":\"dup@example.com\"", "email: appears twice");
#undef MUT
    result r = flatten("\"just a string\"");
    assert_int_not_equal(r.rc, 0);
    assert_string_equal(r.reason, "record: not an object (a string)");
    r = flatten("{}");
    assert_int_not_equal(r.rc, 0);
    r = flatten("{\"gender\":\"male\",\"nat\":\"US\",\"name\":[1]}");
    assert_string_equal(r.reason, "name: not an object (an array)");
}

static void test_long_field(void **state)
{
    fields f = base();
    char *big = malloc(LD_FIELD_MAX + 8);
    big[0] = '"';
    memset(big + 1, 'a', LD_FIELD_MAX + 1);
    strcpy(big + LD_FIELD_MAX + 2, "\"");
    f.first = big;
    expect_reject(&f, "name.first: too long");
    free(big);
}

static void test_format_checks(void **state)
{
    assert_int_equal(ld_check_iso_time("2000-02-29T23:59:59Z", 20), 0);
    assert_int_equal(ld_check_iso_time("1900-02-29T00:00:00Z", 20), -1);
    assert_int_equal(ld_check_iso_time("2024-04-31T00:00:00Z", 20), -1);
    assert_int_equal(ld_check_iso_time("2024-04-30T24:00:00Z", 20), -1);
    assert_int_equal(ld_check_iso_time("2024-04-30T00:00:00.1234567Z", 28), -1);
    assert_int_equal(ld_check_tz_offset("0:00", 4), 0);
    assert_int_equal(ld_check_tz_offset("+5:45", 5), 0);
    assert_int_equal(ld_check_tz_offset("-12:00", 6), 0);
    assert_int_equal(ld_check_tz_offset("+12", 3), -1);
    assert_int_equal(ld_check_coordinate("-180.0000", 9, 180), 0);
    assert_int_equal(ld_check_coordinate("-180.0001", 9, 180), -1);
    assert_int_equal(ld_check_coordinate("12.", 3, 90), -1);
    assert_int_equal(ld_check_coordinate("", 0, 90), -1);
    assert_int_equal(ld_check_email("a@b", 3), 0);
    assert_int_equal(ld_check_email("a@b@c", 5), -1);
    assert_int_equal(ld_check_email("@bc", 3), -1);
    assert_int_equal(ld_check_nat("LEGO", 4), 0);
    assert_int_equal(ld_check_nat("Us", 2), -1);
    assert_int_equal(ld_check_uuid("0B6C5F3E-2A4D-4C1B-9E8F-1234567890AB", 36), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_record),    cmocka_unit_test(test_types_by_nationality),
        cmocka_unit_test(test_escapes_decoded), cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_long_field),      cmocka_unit_test(test_format_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
