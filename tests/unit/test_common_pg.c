/* Unit tests of us_pg: options from the configuration, a refused
 * connection's message, and (against a real PostgreSQL, when the stack's
 * environment is set: eval "$(./userstream env | sed 's/^/export /')") the
 * shape check and the error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "us_pg.h"
#include "us_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const us_option opts[] = {
    {"US_BIND", NULL, 0, US_OPT_STRING, "127.0.0.1", NULL, "listen address"},
    {"US_PG_HOST", NULL, 0, US_OPT_STRING, "", NULL, "host"},
    {"US_PG_PORT", NULL, 0, US_OPT_INT, "5432", NULL, "port"},
    {"US_PG_DATABASE", NULL, 0, US_OPT_STRING, "userstream", NULL, "database"},
    {"US_PG_LOADER_USER", NULL, 0, US_OPT_STRING, "loader", NULL, "role"},
};

static void test_opts_from_config(void **state)
{
    char err[256], port[16];
    us_pg_conn_opts o = {0};
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    assert_int_equal(us_config_set(cfg, "US_PG_PORT", "6432", US_ORIGIN_ENV, err, sizeof err), 0);
    assert_int_equal(us_config_set(cfg, "US_BIND", "127.0.0.9", US_ORIGIN_ENV, err, sizeof err), 0);
    assert_int_equal(us_pg_opts_from_config(cfg, "US_PG_LOADER_USER", &o, port, err, sizeof err),
                     0);
    assert_string_equal(o.host, "127.0.0.9"); /* no US_PG_HOST: the bind address */
    assert_string_equal(o.port, "6432");
    assert_string_equal(o.dbname, "userstream");
    assert_string_equal(o.user, "loader");
    assert_int_equal(us_config_set(cfg, "US_PG_HOST", "::1", US_ORIGIN_ENV, err, sizeof err), 0);
    assert_int_equal(us_pg_opts_from_config(cfg, "US_PG_LOADER_USER", &o, port, err, sizeof err),
                     0);
    assert_string_equal(o.host, "::1");
    assert_int_equal(us_config_set(cfg, "US_PG_PORT", "70000", US_ORIGIN_ENV, err, sizeof err), 0);
    assert_int_equal(us_pg_opts_from_config(cfg, "US_PG_LOADER_USER", &o, port, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "US_PG_PORT"));
    us_config_free(cfg);
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_connect_refused(void **state)
{
    char err[512], port[16];
    snprintf(port, sizeof port, "%d", closed_port());
    us_pg_conn_opts o = {"127.0.0.1", port, "userstream", "nobody", 5, "us-test"};
    assert_null(us_pg_connect(&o, err, sizeof err));
    assert_memory_equal(err, "cannot connect to PostgreSQL: ", 30);
    assert_true(err[strlen(err) - 1] != '\n');
}

static void test_query_shape(void **state)
{
    /* Needs a running stack's PostgreSQL: `./userstream test unit` has the
     * configuration in its environment but starts no server. */
    if (!getenv("US_PG_PORT") || !getenv("PGPASSFILE"))
        skip();
    char err[512], port[16];
    us_pg_conn_opts o = {0};
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    assert_int_equal(us_config_load_env(cfg, err, sizeof err), 0);
    assert_int_equal(us_pg_opts_from_config(cfg, "US_PG_LOADER_USER", &o, port, err, sizeof err),
                     0);
    o.connect_timeout_s = 10;
    PGconn *c = us_pg_connect(&o, err, sizeof err);
    if (!c && !strncmp(err, "cannot connect to PostgreSQL: ", 30)) {
        us_config_free(cfg);
        skip(); /* no server there (unit tests before the integration stack) */
    }
    assert_non_null(c);

    const char *p[] = {"41"};
    PGresult *r = us_pg_query(c, "add", "SELECT $1::int + 1", 1, p, PGRES_TUPLES_OK, 1, 1, 1, err,
                              sizeof err);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "42");
    PQclear(r);
    assert_null(
        us_pg_query(c, "pair", "SELECT 1, 2", 0, NULL, PGRES_TUPLES_OK, 1, 1, 1, err, sizeof err));
    assert_string_equal(err, "pair: got 1 rows and 2 fields, expected 1..1 rows and 1 fields");
    assert_null(us_pg_query(c, "none", "SELECT 1 WHERE false", 0, NULL, PGRES_TUPLES_OK, 1, 1, 1,
                            err, sizeof err));
    assert_string_equal(err, "none: got 0 rows and 1 fields, expected 1..1 rows and 1 fields");
    const char *secret[] = {"secret-value"};
    assert_null(us_pg_query(c, "cast", "SELECT $1::uuid", 1, secret, PGRES_TUPLES_OK, 1, 1, 1, err,
                            sizeof err));
    assert_non_null(strstr(err, "cast: SQLSTATE 22P02"));
    assert_null(strstr(err, "secret-value")); /* the value is blanked */
    assert_int_equal(us_pg_exec(c, "select", "SELECT 1", 0, NULL, err, sizeof err), -1);
    assert_string_equal(err, "select: PGRES_TUPLES_OK, expected PGRES_COMMAND_OK");
    assert_int_equal(
        us_pg_exec(c, "set", "SET application_name = 'us-test'", 0, NULL, err, sizeof err), 0);
    PQfinish(c);
    us_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_from_config),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_query_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
