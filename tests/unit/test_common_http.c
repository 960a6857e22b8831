/* us_metrics (Prometheus text writer and parser), us_http's query-string
 * parsing and us_buf. */
#include "us_buf.h"
#include "us_http.h"
#include "us_metrics.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void buf_grows_and_prints(void **state)
{
    us_buf b = {0};
    for (int i = 0; i < 1000; i++)
        us_buf_printf(&b, "%d,", i);
    assert_false(b.oom);
    assert_int_equal(strncmp(us_buf_str(&b), "0,1,2,", 6), 0);
    us_buf_printf(&b, "%s", "");
    char long_s[1000];
    memset(long_s, 'x', sizeof long_s - 1);
    long_s[sizeof long_s - 1] = '\0';
    us_buf_reset(&b);
    us_buf_printf(&b, "[%s]", long_s);
    assert_int_equal(b.len, 1001);
    size_t len;
    char *p = us_buf_steal(&b, &len);
    assert_int_equal(len, 1001);
    assert_int_equal(p[1000], ']');
    free(p);
    assert_null(b.data);
}

static void prom_writer_format(void **state)
{
    us_buf b = {0};
    us_prom_metric(&b, "x_total", "counter", "Things\nseen \\ here.", 42);
    const char *labels[] = {"stage", "a\"b\\c\nd", "le", "+Inf", NULL};
    us_prom_sample(&b, "y", labels, 1.5);
    us_prom_sample(&b, "z", NULL, NAN);
    us_prom_sample(&b, "z", NULL, -INFINITY);
    assert_string_equal(us_buf_str(&b), "# HELP x_total Things\\nseen \\\\ here.\n"
                                        "# TYPE x_total counter\nx_total 42\n"
                                        "y{stage=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 1.5\n"
                                        "z NaN\nz -Inf\n");
    us_buf_free(&b);
}

static void prom_histogram_cumulative(void **state)
{
    us_histogram h;
    const double bounds[] = {0.1, 1, 10};
    const double bad[] = {1, 1};
    assert_int_equal(us_histogram_init(&h, bad, 2), -1);
    assert_int_equal(us_histogram_init(&h, bounds, 3), 0);
    us_histogram_observe(&h, 0.05);
    us_histogram_observe(&h, 0.5);
    us_histogram_observe(&h, 0.5);
    us_histogram_observe(&h, 100);
    us_buf b = {0};
    us_prom_histogram(&b, "lat_seconds", "Latency.", &h);
    assert_non_null(strstr(us_buf_str(&b), "lat_seconds_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(us_buf_str(&b), "lat_seconds_bucket{le=\"1\"} 3\n"));
    assert_non_null(strstr(us_buf_str(&b), "lat_seconds_bucket{le=\"10\"} 3\n"));
    assert_non_null(strstr(us_buf_str(&b), "lat_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(us_buf_str(&b), "lat_seconds_count 4\n"));
    us_buf_free(&b);
}

typedef struct seen {
    int n;
    char names[8][64];
    char labels[8][128];
    double values[8];
} seen;

static int collect(void *ud, const us_prom_sample_t *s)
{
    seen *x = ud;
    if (x->n < 8) {
        snprintf(x->names[x->n], 64, "%s", s->name);
        snprintf(x->labels[x->n], 128, "%s", s->labels);
        x->values[x->n] = s->value;
    }
    x->n++;
    return 0;
}

static void prom_parser_reads_what_the_writer_wrote(void **state)
{
    us_buf b = {0};
    const char *labels[] = {"le", "0.5", "why", "a,b}\"c", NULL};
    us_prom_metric(&b, "a_total", "counter", "A.", 7);
    us_prom_sample(&b, "h_bucket", labels, 3);
    us_buf_puts(&b, "\n  # comment\nc 1e3 1700000000000\r\nd +Inf\ne NaN\n");
    seen x = {0};
    char err[128];
    assert_int_equal(us_prom_parse(b.data, b.len, collect, &x, err, sizeof err), 0);
    assert_int_equal(x.n, 5);
    assert_string_equal(x.names[0], "a_total");
    assert_true(x.values[0] == 7);
    assert_string_equal(x.names[1], "h_bucket");
    char v[32];
    assert_int_equal(us_prom_label(x.labels[1], "le", v, sizeof v), 1);
    assert_string_equal(v, "0.5");
    assert_int_equal(us_prom_label(x.labels[1], "why", v, sizeof v), 1);
    assert_string_equal(v, "a,b}\"c");
    assert_int_equal(us_prom_label(x.labels[1], "nope", v, sizeof v), 0);
    assert_true(x.values[2] == 1000);
    assert_true(isinf(x.values[3]));
    assert_true(isnan(x.values[4]));
    us_buf_free(&b);
}

static void prom_parser_rejects_malformed_lines(void **state)
{
    static const char *const bad[] = {
        "1abc 3\n", "x{le=\"1\" 3\n", "x{le=1} 3\n",      "x 3 junk\n",
        "x\n",      "x abc\n",        "x{a=\"\\q\"} 1\n", "x{=\"1\"} 1\n"};
    char err[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        seen x = {0};
        assert_int_equal(us_prom_parse(bad[i], strlen(bad[i]), collect, &x, err, sizeof err), -1);
        assert_non_null(strstr(err, "line 1"));
    }
    seen x = {0};
    const char *second = "ok 1\nbad{\n";
    assert_int_equal(us_prom_parse(second, strlen(second), collect, &x, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2"));
}

static void query_decode_and_get(void **state)
{
    char out[64], err[128];
    assert_int_equal(us_url_decode("a%20b+c%2F", 10, out, sizeof out), 0);
    assert_string_equal(out, "a b c/");
    assert_int_equal(us_url_decode("%2", 2, out, sizeof out), -1);
    assert_int_equal(us_url_decode("%zz", 3, out, sizeof out), -1);
    assert_int_equal(us_url_decode("%00", 3, out, sizeof out), -1);
    assert_int_equal(us_url_decode("abcd", 4, out, 4), -1);
    const char *q = "metric=a.b%2Cc&seconds=60&&flag";
    assert_int_equal(us_http_query_get(q, "metric", out, sizeof out, err, sizeof err), 1);
    assert_string_equal(out, "a.b,c");
    assert_int_equal(us_http_query_get(q, "flag", out, sizeof out, err, sizeof err), 1);
    assert_string_equal(out, "");
    assert_int_equal(us_http_query_get(q, "missing", out, sizeof out, err, sizeof err), 0);
    assert_int_equal(us_http_query_get("k=%G1", "k", out, sizeof out, err, sizeof err), -1);
}

static void query_long_bounds_and_reasons(void **state)
{
    long v;
    char err[128];
    assert_int_equal(us_http_query_long("", "n", 1, 10, 5, &v, err, sizeof err), 0);
    assert_int_equal(v, 5);
    assert_int_equal(us_http_query_long("n=10", "n", 1, 10, 5, &v, err, sizeof err), 0);
    assert_int_equal(v, 10);
    static const char *const bad[] = {
        "n=11", "n=0", "n=", "n=1x", "n=%201", "n=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(us_http_query_long(bad[i], "n", 1, 10, 5, &v, err, sizeof err), -1);
        assert_non_null(strstr(err, "\"n\""));
    }
}

static void query_check_names_unknown_keys(void **state)
{
    static const char *const allowed[] = {"a", "b", NULL};
    char err[128];
    assert_int_equal(us_http_query_check("a=1&b=2", allowed, err, sizeof err), 0);
    assert_int_equal(us_http_query_check("", allowed, err, sizeof err), 0);
    assert_int_equal(us_http_query_check("a=1&c=2", allowed, err, sizeof err), -1);
    assert_string_equal(err, "unknown query parameter \"c\"");
    assert_int_equal(us_http_query_check("a=%", allowed, err, sizeof err), -1);
    assert_int_equal(us_http_query_check("=x", allowed, err, sizeof err), -1);
}

static void json_escape_control_and_quotes(void **state)
{
    us_buf b = {0};
    us_json_escape(&b, "a\"b\\c\n\x01");
    assert_string_equal(us_buf_str(&b), "a\\\"b\\\\c\\u000a\\u0001");
    us_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_grows_and_prints),
        cmocka_unit_test(prom_writer_format),
        cmocka_unit_test(prom_histogram_cumulative),
        cmocka_unit_test(prom_parser_reads_what_the_writer_wrote),
        cmocka_unit_test(prom_parser_rejects_malformed_lines),
        cmocka_unit_test(query_decode_and_get),
        cmocka_unit_test(query_long_bounds_and_reasons),
        cmocka_unit_test(query_check_names_unknown_keys),
        cmocka_unit_test(json_escape_control_and_quotes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
