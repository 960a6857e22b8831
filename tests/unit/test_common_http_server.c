/* us_http as a server, over loopback: both threading models, routing and
 * its fallbacks (/health, 400, 404, 405, 413), base headers, discarded
 * bodies, delayed replies (also when the server stops), a stop during a
 * handler, max_requests and port 0. Requests are raw HTTP/1.1 with Connection: close; the answer is
 * read until the server closes. */
#include "us_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static atomic_int handled;
static atomic_int max_reached;

/* Echoes what the handler sees: method, path, query, body length. */
static void on_echo(us_http_req *r, void *ud)
{
    size_t len;
    char body[512];
    us_http_body(r, &len);
    snprintf(body, sizeof body, "%s %s ?%s body=%zu", us_http_method(r), us_http_path(r),
             us_http_query(r), len);
    atomic_fetch_add(&handled, 1);
    if (!strcmp(us_http_query(r), "delay"))
        us_http_delay(r, 300);
    if (!strcmp(us_http_query(r), "forever"))
        us_http_delay(r, 3600 * 1000);
    if (!strcmp(us_http_query(r), "compute"))
        usleep(300 * 1000); /* a handler still computing its answer */
    us_http_add_header(r, "X-Test", "yes");
    us_http_reply(r, 200, "text/plain", body, strlen(body));
}

static void on_max(void *ud)
{
    atomic_fetch_add(&max_reached, 1);
}

static int connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        assert_true(k > 0);
        s += k, n -= (size_t)k;
    }
}

/* Reads until the server closes; returns a malloc'd NUL-terminated copy. */
static char *read_all(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    ssize_t k;
    assert_non_null(out);
    while ((k = read(fd, out + len, cap - len - 1)) > 0) {
        len += (size_t)k;
        if (cap - len < 2) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[len] = '\0';
    close(fd);
    return out;
}

static char *exchange(int port, const char *req)
{
    int fd = connect_to(port);
    send_all(fd, req, strlen(req));
    return read_all(fd);
}

static char *get(int port, const char *method, const char *target)
{
    char req[512];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", method,
             target);
    return exchange(port, req);
}

static void assert_has(char *resp, const char *what)
{
    if (!strstr(resp, what))
        fail_msg("\"%s\" not in the answer:\n%s", what, resp);
}

static void assert_lacks(char *resp, const char *what)
{
    if (strstr(resp, what))
        fail_msg("\"%s\" in the answer:\n%s", what, resp);
}

static void check(int port, const char *method, const char *target, const char *want1,
                  const char *want2)
{
    char *resp = get(port, method, target);
    assert_has(resp, want1);
    if (want2)
        assert_has(resp, want2);
    free(resp);
}

static const us_http_route console_like[] = {
    {"GET", "/a", false, false, on_echo, NULL},
    {"POST", "/a", false, false, on_echo, NULL},
    {"GET", "/static/", true, false, on_echo, NULL},
};

/* A thread per connection, default headers, routes with fallbacks. */
static void per_connection_routes_and_fallbacks(void **state)
{
    char err[256];
    us_http_config c = {"127.0.0.1", 0, 8, 5, 64, NULL, NULL};
    us_http *h = us_http_start(&c, console_like, 3, err, sizeof err);
    assert_non_null(h);
    int port = us_http_port(h);
    assert_true(port > 0);
    check(port, "GET", "/a?x=1", "HTTP/1.1 200", "GET /a ?x=1 body=0");
    char *resp = get(port, "HEAD", "/static/app.js");
    assert_has(resp, "HTTP/1.1 200");
    assert_has(resp, "X-Frame-Options: DENY");
    assert_has(resp, "Cache-Control: no-store");
    assert_has(resp, "X-Test: yes");
    assert_lacks(resp, "HEAD /static");
    free(resp);
    check(port, "GET", "/health", "HTTP/1.1 200", "{\"status\":\"ok\"}");
    check(port, "GET", "/nothing", "HTTP/1.1 404", "no such path");
    check(port, "DELETE", "/a", "HTTP/1.1 405", "method DELETE not allowed here");
    check(port, "OPTIONS", "*", "HTTP/1.1 400", "must start with '/'");
    resp = exchange(port, "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                          "Connection: close\r\n\r\nhello");
    assert_has(resp, "POST /a ? body=5");
    free(resp);
    char big[512];
    snprintf(big, sizeof big,
             "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n"
             "Connection: close\r\n\r\n%0100d",
             0);
    resp = exchange(port, big);
    assert_has(resp, "HTTP/1.1 413");
    free(resp);
    check(port, "GET", "/a?delay", "HTTP/1.1 200", "GET /a ?delay");
    unsigned long long n[6];
    us_http_counts(h, n);
    assert_int_equal(n[2], 5);
    assert_int_equal(n[4], 4);
    us_http_stop(h);
}

static const char *const cors[] = {"Access-Control-Allow-Origin", "*", NULL};
static const us_http_route catch_all[] = {{NULL, "", true, false, on_echo, NULL}};

/* A pool with one route for everything: it answers /health and odd targets,
 * bodies are dropped, only the program's base headers are sent. */
static void pool_catch_all(void **state)
{
    char err[256];
    us_http_config c = {"127.0.0.1", 0, 0, 0, 0, NULL, NULL};
    us_http_opts o = {.threads = 2, .discard_body = true, .base_headers = cors};
    us_http *h = us_http_start_opts(&c, &o, catch_all, 1, err, sizeof err);
    assert_non_null(h);
    int port = us_http_port(h);
    char *resp = get(port, "GET", "/health");
    assert_has(resp, "GET /health ? body=0");
    assert_has(resp, "Access-Control-Allow-Origin: *");
    assert_lacks(resp, "X-Frame-Options");
    assert_lacks(resp, "no-store");
    free(resp);
    check(port, "OPTIONS", "*", "HTTP/1.1 200", "OPTIONS * ? body=0");
    check(port, "BREW", "/pot?x", "HTTP/1.1 200", "BREW /pot ?x body=0");
    char big[40000];
    int k = snprintf(big, sizeof big,
                     "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 30000\r\n"
                     "Connection: close\r\n\r\n");
    memset(big + k, 'b', 30000);
    big[k + 30000] = '\0';
    resp = exchange(port, big);
    assert_has(resp, "PUT /x ? body=0");
    free(resp);
    check(port, "GET", "/d?delay", "HTTP/1.1 200", "GET /d ?delay");
    us_http_stop(h);
}

/* Sends GET `target`, stops the server once the handler has it, and checks
 * the answer still arrives whole (both threading models). */
static void stop_during(const char *target, const char *expect)
{
    char err[256], req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", target);
    for (unsigned threads = 0; threads <= 2; threads += 2) {
        us_http_config c = {"127.0.0.1", 0, 0, 0, 0, NULL, NULL};
        us_http_opts o = {.threads = threads};
        us_http *h = us_http_start_opts(&c, &o, catch_all, 1, err, sizeof err);
        assert_non_null(h);
        atomic_store(&handled, 0);
        int fd = connect_to(us_http_port(h));
        send_all(fd, req, strlen(req));
        while (atomic_load(&handled) == 0)
            usleep(1000);
        us_http_stop(h);
        char *resp = read_all(fd);
        assert_has(resp, "HTTP/1.1 200");
        assert_has(resp, expect);
        free(resp);
    }
}

/* A reply delayed for an hour goes out when the server stops. */
static void stop_sends_delayed_replies(void **state)
{
    stop_during("/slow?forever", "GET /slow ?forever");
}

/* A stop that comes while a handler still computes its answer waits for
 * that answer and sends it (the stop once closed such a connection). */
static void stop_waits_for_handlers_in_progress(void **state)
{
    stop_during("/busy?compute", "GET /busy ?compute");
}

static void max_requests_calls_back_once(void **state)
{
    char err[256];
    us_http_config c = {"127.0.0.1", 0, 0, 0, 0, NULL, NULL};
    us_http_opts o = {.threads = 1, .max_requests = 3, .on_max_requests = on_max};
    us_http *h = us_http_start_opts(&c, &o, catch_all, 1, err, sizeof err);
    assert_non_null(h);
    for (int i = 0; i < 5; i++)
        free(get(us_http_port(h), "GET", "/x"));
    us_http_stop(h); /* completions are counted by now */
    assert_int_equal(atomic_load(&max_reached), 1);
}

static void start_errors_have_reasons(void **state)
{
    char err[256];
    us_http_config c = {"localhost", 8080, 0, 0, 0, NULL, NULL};
    assert_null(us_http_start(&c, catch_all, 1, err, sizeof err));
    assert_string_equal(err, "listen address \"localhost\" is not a numeric IPv4 or IPv6 address");
    c.bind = "127.0.0.1";
    c.port = 70000;
    assert_null(us_http_start(&c, catch_all, 1, err, sizeof err));
    assert_string_equal(err, "port 70000 is not in 0-65535");
    c.port = 0;
    us_http *h = us_http_start(&c, catch_all, 1, err, sizeof err);
    assert_non_null(h);
    c.port = us_http_port(h);
    assert_null(us_http_start(&c, catch_all, 1, err, sizeof err));
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    us_http_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_connection_routes_and_fallbacks),
        cmocka_unit_test(pool_catch_all),
        cmocka_unit_test(stop_sends_delayed_replies),
        cmocka_unit_test(stop_waits_for_handlers_in_progress),
        cmocka_unit_test(max_requests_calls_back_once),
        cmocka_unit_test(start_errors_have_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
