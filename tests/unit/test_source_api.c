/* Unit tests of src_api: routing, status codes, content types, determinism,
 * the fault decisions and the rate limit, without any HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "src_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static src_api *new_api(src_api_config c)
{
    char err[256];
    c.quirks = true;
    c.now_ms = 1795478400000LL;
    if (!c.rate_window_ms)
        c.rate_window_ms = 300000;
    src_api *api = src_api_new(&c, err, sizeof err);
    assert_non_null(api);
    return api;
}

static void call(src_api *api, const char *method, const char *target, const char *client,
                 src_response *r)
{
    const char *q = strchr(target, '?');
    src_http_request req = {.method = method,
                            .path = target,
                            .path_n = q ? (size_t)(q - target) : strlen(target),
                            .query = q ? q + 1 : NULL,
                            .query_n = q ? strlen(q + 1) : 0,
                            .client = client};
    src_api_handle(api, &req, r);
}

static void test_routes(void **state)
{
    src_api *api = new_api((src_api_config){0});
    const struct {
        const char *method, *target;
        int status;
        const char *ctype;
    } cases[] = {
        {"GET", "/api", 200, "application/json; charset=utf-8"},
        {"GET", "/api/1.4/?format=csv", 200, "text/csv; charset=utf-8"},
        {"HEAD", "/Api/1.4?format=yaml", 200, "text/x-yaml; charset=utf-8"},
        {"GET", "/api/1%2e4?fmt=xml", 200, "text/xml; charset=utf-8"},
        {"GET", "/api/?dl&format=xml", 200, "application/octet-stream"},
        {"GET", "/api/1.3/", 404, "text/plain; charset=utf-8"},
        {"GET", "/api/1.4/x", 404, "text/plain; charset=utf-8"},
        {"GET", "/apix", 404, "text/plain; charset=utf-8"},
        {"POST", "/api/", 404, "text/plain; charset=utf-8"},
        {"GET", "/api/?seed=abcdefabcdefabcd15", 500, "application/json; charset=utf-8"},
        {"OPTIONS", "/anything", 204, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        src_response r;
        call(api, cases[i].method, cases[i].target, "c", &r);
        assert_int_equal(r.status, cases[i].status);
        if (cases[i].ctype)
            assert_string_equal(r.content_type, cases[i].ctype);
        else
            assert_true(r.preflight);
        src_response_free(&r);
    }
    src_api_free(api);
}

static void test_determinism_and_seed(void **state)
{
    src_api *api = new_api((src_api_config){0});
    src_response a, b, c;
    call(api, "GET", "/api/?seed=x&results=100&page=4", "c", &a);
    call(api, "GET", "/api/?seed=x&results=100&page=4", "c", &b);
    assert_int_equal(a.body_len, b.body_len);
    assert_memory_equal(a.body, b.body, a.body_len);
    assert_int_equal(a.users, 100);
    call(api, "GET", "/api/", "c", &c);
    assert_non_null(strstr(c.body, "\"info\":{\"seed\":\""));
    src_response_free(&a);
    src_response_free(&b);
    src_response_free(&c);
    call(api, "GET", "/api/?seed=s&lego&noinfo=1&lego=1", "c", &a);
    assert_null(strstr(a.body, "\"info\""));
    src_response_free(&a);
    src_api_free(api);
}

static void statuses(src_api *api, char *out, int n)
{
    for (int i = 0; i < n; i++) {
        src_response r;
        call(api, "GET", i % 2 ? "/api/?seed=a" : "/api/?seed=b", "c", &r);
        out[i] = (char)('0' + r.fault);
        src_response_free(&r);
    }
    out[n] = '\0';
}

static void test_seeded_faults(void **state)
{
    src_api_config c = {.fault_seeded = true, .fault_seed = 42};
    c.fault_share[SRC_FAULT_500] = 0.3;
    c.fault_share[SRC_FAULT_TRUNCATE] = 0.2;
    c.fault_share[SRC_FAULT_EMPTY] = 0.2;
    c.fault_share[SRC_FAULT_BAD_UTF8] = 0.1;
    char s1[101], s2[101];
    src_api *api = new_api(c);
    statuses(api, s1, 100);
    src_api_free(api);
    api = new_api(c);
    statuses(api, s2, 100);
    src_api_free(api);
    assert_string_equal(s1, s2);
    for (char k = '0'; k <= '6'; k++)
        if (k != '2' && k != '3')
            assert_non_null(strchr(s1, k));
}

static void test_fault_bodies(void **state)
{
    src_api_config c = {0};
    c.fault_share[SRC_FAULT_TRUNCATE] = 1;
    src_api *api = new_api(c);
    src_response full, cut;
    src_api *plain = new_api((src_api_config){0});
    call(plain, "GET", "/api/?seed=t&results=50", "c", &full);
    call(api, "GET", "/api/?seed=t&results=50", "c", &cut);
    assert_true(cut.body_len < full.body_len && cut.body_len > 0);
    assert_memory_equal(cut.body, full.body, cut.body_len);
    src_response_free(&full);
    src_response_free(&cut);
    src_api_free(api);
    src_api_free(plain);
}

static void test_rate_limit(void **state)
{
    src_api *api = new_api((src_api_config){.rate_limit = 10});
    src_response r;
    call(api, "GET", "/api/?results=9", "1.1.1.1", &r);
    assert_int_equal(r.status, 200);
    src_response_free(&r);
    call(api, "GET", "/api/?results=9", "1.1.1.1", &r);
    assert_int_equal(r.status, 200); /* 9 < 10 when asked */
    src_response_free(&r);
    call(api, "GET", "/api/nope", "1.1.1.1", &r);
    assert_int_equal(r.status, 429); /* before the version check, as upstream */
    assert_non_null(strstr(r.body, "You've requested 18 users"));
    src_response_free(&r);
    call(api, "GET", "/api/", "2.2.2.2", &r);
    assert_int_equal(r.status, 200);
    src_response_free(&r);
    src_api_free(api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),        cmocka_unit_test(test_determinism_and_seed),
        cmocka_unit_test(test_seeded_faults), cmocka_unit_test(test_fault_bodies),
        cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
