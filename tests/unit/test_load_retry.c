/* Unit tests of ld_retry: classification, backoff with full jitter,
 * Retry-After. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ld_retry.h"

#include <curl/curl.h>
#include <time.h>

static void test_classify(void **state)
{
    assert_int_equal(ld_retry_classify(CURLE_OK, 200), LD_ATTEMPT_OK);
    assert_int_equal(ld_retry_classify(CURLE_OK, 429), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_OK, 500), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_OK, 503), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_OK, 408), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_OK, 404), LD_ATTEMPT_PERMANENT);
    assert_int_equal(ld_retry_classify(CURLE_OK, 400), LD_ATTEMPT_PERMANENT);
    assert_int_equal(ld_retry_classify(CURLE_OPERATION_TIMEDOUT, 0), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_COULDNT_CONNECT, 0), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_PARTIAL_FILE, 200), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_GOT_NOTHING, 0), LD_ATTEMPT_RETRY);
    assert_int_equal(ld_retry_classify(CURLE_URL_MALFORMAT, 0), LD_ATTEMPT_PERMANENT);
    assert_int_equal(ld_retry_classify(CURLE_UNSUPPORTED_PROTOCOL, 0), LD_ATTEMPT_PERMANENT);
}

static const ld_retry_policy policy = {
    .base_s = 0.2, .cap_s = 5.0, .retry_after_max = 60, .max_attempts = 5, .max_retries = 100};

static void test_backoff_bounds(void **state)
{
    uint64_t rng = 12345;
    /* full jitter: retry k waits in [0, min(cap, base * 2^(k-1))] */
    for (int k = 1; k <= 12; k++) {
        double ceiling = 0.2 * (double)(1 << (k - 1));
        if (ceiling > 5.0)
            ceiling = 5.0;
        double lo = 1e9, hi = 0;
        for (int i = 0; i < 2000; i++) {
            double d = ld_retry_delay(&policy, k, -1, &rng);
            assert_true(d >= 0.0 && d <= ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* jitter spreads the waits over the range */
        assert_true(lo < ceiling * 0.1);
        assert_true(hi > ceiling * 0.9);
    }
}

static void test_backoff_deterministic_rng(void **state)
{
    uint64_t a = 42, b = 42;
    for (int i = 0; i < 100; i++)
        assert_true(ld_retry_delay(&policy, 3, -1, &a) == ld_retry_delay(&policy, 3, -1, &b));
}

static void test_retry_after_honoured(void **state)
{
    uint64_t rng = 7;
    for (int i = 0; i < 100; i++) {
        double d = ld_retry_delay(&policy, 1, 3.0, &rng);
        assert_true(d >= 3.0 && d <= 3.0 + 0.2);
    }
    /* capped at retry_after_max */
    assert_true(ld_retry_delay(&policy, 1, 1e6, &rng) <= 60.0);
}

static void test_retry_after_parse(void **state)
{
    double s;
    time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(ld_retry_after_parse("120", now, &s), 0);
    assert_true(s == 120.0);
    assert_int_equal(ld_retry_after_parse(" 0 ", now, &s), 0);
    assert_true(s == 0.0);
    assert_int_equal(ld_retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", now, &s), 0);
    assert_true(s == 10.0);
    assert_int_equal(ld_retry_after_parse("Sun, 06 Nov 1994 08:49:27 GMT", now, &s), 0);
    assert_true(s == 0.0); /* in the past */
    assert_int_equal(ld_retry_after_parse("soon", now, &s), -1);
    assert_int_equal(ld_retry_after_parse("12abc", now, &s), -1);
    assert_int_equal(ld_retry_after_parse("-5", now, &s), -1);
    assert_int_equal(ld_retry_after_parse("", now, &s), -1);
    assert_int_equal(ld_retry_after_parse("99999999999999999999999", now, &s), 0);
    assert_true(s <= 86400.0 * 365);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_backoff_deterministic_rng),
        cmocka_unit_test(test_retry_after_honoured),
        cmocka_unit_test(test_retry_after_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
