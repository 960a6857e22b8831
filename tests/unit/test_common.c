/* Unit tests of src/common: layered configuration, parsing helpers, logging,
 * error buffers, clocks, the byte buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "us_buf.h"
#include "us_config.h"
#include "us_creds.h"
#include "us_err.h"
#include "us_log.h"
#include "us_time.h"
#include "us_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const us_option opts[] = {
    {"US_T_HOST", "host", 'H', US_OPT_STRING, "127.0.0.1", "HOST", "server address"},
    {"US_T_PORT", "port", 'p', US_OPT_INT, "5432", "PORT", "server port"},
    {"US_T_FOLLOW", "follow", 0, US_OPT_BOOL, "false", NULL, "keep running"},
    {"US_T_PASSWORD", NULL, 0, US_OPT_STRING, NULL, NULL, "a secret"},
    {"US_T_DIR", "dir", 0, US_OPT_STRING, NULL, NULL, "a directory"},
};
static const us_program prog = {"test", "unit test", "[OPTION]...", NULL};

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/us_test_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void clear_env(void)
{
    for (size_t i = 0; i < US_ARRAY_LEN(opts); i++)
        unsetenv(opts[i].key);
    unsetenv("US_CONFIG");
    unsetenv("US_LOG_LEVEL");
    unsetenv("US_PORT_OFFSET");
}

static void test_defaults(void **state)
{
    (void)state;
    clear_env();
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    long port;
    char err[256];
    assert_string_equal(us_config_get(cfg, "US_T_HOST"), "127.0.0.1");
    assert_int_equal(us_config_get_int(cfg, "US_T_PORT", 1, 65535, &port, err, sizeof err), 0);
    assert_int_equal(port, 5432);
    assert_null(us_config_get(cfg, "US_T_PASSWORD"));
    assert_int_equal(us_config_origin(cfg, "US_T_HOST"), US_ORIGIN_DEFAULT);
    us_config_free(cfg);
}

/* file < env < flag, and every layer is visible in its origin. */
static void test_layers(void **state)
{
    (void)state;
    clear_env();
    char *path = write_tmp("# comment\n\n  US_T_HOST = 10.0.0.1 # note\nUS_T_PORT=\"6000\" # n\n"
                           "OTHER_PROGRAM_KEY=ignored\nUS_T_DIR=~/x\n");
    setenv("US_T_PORT", "7000", 1);
    setenv("US_T_HOST", "", 1); /* empty counts as unset */
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    char cfgflag[80];
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    char *argv[] = {"test", cfgflag, "--follow", "-p", "8000", "pos", NULL};
    int first = 0;
    char err[256] = "";
    assert_int_equal(us_config_parse_args(cfg, &prog, 6, argv, &first, err, sizeof err),
                     US_PARSE_OK);
    assert_string_equal(us_config_get(cfg, "US_T_HOST"), "10.0.0.1");
    assert_int_equal(us_config_origin(cfg, "US_T_HOST"), US_ORIGIN_FILE);
    assert_string_equal(us_config_get(cfg, "US_T_PORT"), "8000");
    assert_int_equal(us_config_origin(cfg, "US_T_PORT"), US_ORIGIN_FLAG);
    bool follow = false;
    assert_int_equal(us_config_get_bool(cfg, "US_T_FOLLOW", &follow, err, sizeof err), 0);
    assert_true(follow);
    char want[512];
    snprintf(want, sizeof want, "%s/x", getenv("HOME"));
    assert_string_equal(us_config_get(cfg, "US_T_DIR"), want);
    assert_int_equal(first, 5);
    assert_string_equal(argv[first], "pos");
    us_config_free(cfg);
    unlink(path);
    clear_env();
}

static void test_env_over_file(void **state)
{
    (void)state;
    clear_env();
    char *path = write_tmp("US_T_PORT=6000\n");
    setenv("US_CONFIG", path, 1);
    setenv("US_T_PORT", "7000", 1);
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    char *argv[] = {"test", NULL};
    int first;
    char err[256];
    assert_int_equal(us_config_parse_args(cfg, &prog, 1, argv, &first, err, sizeof err),
                     US_PARSE_OK);
    assert_string_equal(us_config_get(cfg, "US_T_PORT"), "7000");
    assert_int_equal(us_config_origin(cfg, "US_T_PORT"), US_ORIGIN_ENV);
    us_config_free(cfg);
    unlink(path);
    clear_env();
}

/* The offset shifts default and file ports, never a port from env or flag. */
static void test_port_offset(void **state)
{
    (void)state;
    clear_env();
    static const us_option popts[] = {
        {"US_A_PORT", "a-port", 0, US_OPT_INT, "100", NULL, "default port"},
        {"US_B_PORT", NULL, 0, US_OPT_INT, "200", NULL, "file port"},
        {"US_C_PORT", NULL, 0, US_OPT_INT, "300", NULL, "env port"},
        {"US_D_PORT", "d-port", 0, US_OPT_INT, "400", NULL, "flag port"},
        {"US_E_PORT", NULL, 0, US_OPT_INT, "0", NULL, "0 means off: never shifted"},
    };
    char *path = write_tmp("US_PORT_OFFSET=7\nUS_B_PORT=250\n");
    setenv("US_C_PORT", "350", 1);
    setenv("US_PORT_OFFSET", "1000", 1); /* the environment beats the file's 7 */
    us_config *cfg = us_config_new(popts, US_ARRAY_LEN(popts));
    char cfgflag[80];
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    char *argv[] = {"test", cfgflag, "--d-port", "450", NULL};
    int first;
    char err[256] = "";
    assert_int_equal(us_config_parse_args(cfg, &prog, 4, argv, &first, err, sizeof err),
                     US_PARSE_OK);
    assert_string_equal(us_config_get(cfg, "US_A_PORT"), "1100");
    assert_string_equal(us_config_get(cfg, "US_B_PORT"), "1250");
    assert_string_equal(us_config_get(cfg, "US_C_PORT"), "350");
    assert_string_equal(us_config_get(cfg, "US_D_PORT"), "450");
    assert_string_equal(us_config_get(cfg, "US_E_PORT"), "0");
    us_config_free(cfg);
    unsetenv("US_PORT_OFFSET");
    unsetenv("US_C_PORT");
    cfg = us_config_new(popts, US_ARRAY_LEN(popts));
    assert_int_equal(us_config_parse_args(cfg, &prog, 2, argv, &first, err, sizeof err),
                     US_PARSE_OK);
    assert_string_equal(us_config_get(cfg, "US_B_PORT"), "257");
    us_config_free(cfg);
    setenv("US_PORT_OFFSET", "60000", 1); /* 250 + 60000 is fine, 9000 + 60000 is not */
    unlink(path);
    path = write_tmp("US_B_PORT=9000\n");
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    cfg = us_config_new(popts, US_ARRAY_LEN(popts));
    assert_int_equal(us_config_parse_args(cfg, &prog, 2, argv, &first, err, sizeof err),
                     US_PARSE_ERROR);
    assert_non_null(strstr(err, "is not a port"));
    us_config_free(cfg);
    setenv("US_PORT_OFFSET", "-3", 1);
    cfg = us_config_new(popts, US_ARRAY_LEN(popts));
    assert_int_equal(us_config_parse_args(cfg, &prog, 2, argv, &first, err, sizeof err),
                     US_PARSE_ERROR);
    assert_non_null(strstr(err, "US_PORT_OFFSET"));
    us_config_free(cfg);
    unlink(path);
    clear_env();
}

static void expect_file_error(const char *text, const char *fragment)
{
    char *path = write_tmp(text);
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    char err[512] = "";
    assert_int_equal(us_config_load_file(cfg, path, err, sizeof err), -1);
    if (!strstr(err, fragment))
        fail_msg("error \"%s\" lacks \"%s\"", err, fragment);
    us_config_free(cfg);
    unlink(path);
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_file_error("US_T_HOST=a\nno equals sign\n", ":2: expected KEY=value");
    expect_file_error("1BAD=x\n", ":1: expected KEY=value");
    expect_file_error("US_T_HOST=\"open\n", ":1: unterminated quote");
    expect_file_error("US_T_HOST=\"a\"b\n", ":1: text after the closing quote");
    expect_file_error("US_T_HOST=${HOME}/x\n", ":1: ${...} is not expanded");
    char big[6000];
    memset(big, 'a', sizeof big - 2);
    memcpy(big, "US_T_HOST=", 10);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    expect_file_error(big, ":1: line longer than");
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    char err[512];
    assert_int_equal(us_config_load_file(cfg, "/nonexistent/x.conf", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.conf"));
    us_config_free(cfg);
}

static void expect_arg_error(int argc, char **argv, const char *fragment)
{
    clear_env();
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    int first;
    char err[256] = "";
    assert_int_equal(us_config_parse_args(cfg, &prog, argc, argv, &first, err, sizeof err),
                     US_PARSE_ERROR);
    if (!strstr(err, fragment))
        fail_msg("error \"%s\" lacks \"%s\"", err, fragment);
    us_config_free(cfg);
}

static void test_flag_errors(void **state)
{
    (void)state;
    char *a1[] = {"test", "--nope", NULL};
    expect_arg_error(2, a1, "invalid option --nope");
    char *a2[] = {"test", "--port", NULL};
    expect_arg_error(2, a2, "needs an argument");
    char *a3[] = {"test", "--log-level", "loud", NULL};
    expect_arg_error(3, a3, "unknown log level");
    us_log_set_level(US_LOG_INFO);
}

static void test_typed_getters(void **state)
{
    (void)state;
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    char err[256];
    long v;
    bool b;
    assert_int_equal(us_config_set(cfg, "US_T_PORT", "70000", US_ORIGIN_FLAG, err, sizeof err), 0);
    assert_int_equal(us_config_get_int(cfg, "US_T_PORT", 1, 65535, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "US_T_PORT"));
    us_config_set(cfg, "US_T_PORT", "12ab", US_ORIGIN_FLAG, err, sizeof err);
    assert_int_equal(us_config_get_int(cfg, "US_T_PORT", 1, 65535, &v, err, sizeof err), -1);
    us_config_set(cfg, "US_T_FOLLOW", "maybe", US_ORIGIN_FLAG, err, sizeof err);
    assert_int_equal(us_config_get_bool(cfg, "US_T_FOLLOW", &b, err, sizeof err), -1);
    assert_int_equal(us_config_set(cfg, "US_NOPE", "x", US_ORIGIN_FLAG, err, sizeof err), -1);
    us_config_free(cfg);
}

static void test_print_masks_secrets(void **state)
{
    (void)state;
    us_config *cfg = us_config_new(opts, US_ARRAY_LEN(opts));
    char err[256], buf[4096] = "";
    us_config_set(cfg, "US_T_PASSWORD", "hunter2", US_ORIGIN_ENV, err, sizeof err);
    FILE *f = fmemopen(buf, sizeof buf, "w");
    us_config_print(cfg, f);
    fclose(f);
    assert_null(strstr(buf, "hunter2"));
    assert_non_null(strstr(buf, "US_T_PASSWORD=********  # env"));
    assert_non_null(strstr(buf, "US_T_HOST=127.0.0.1  # default"));
    us_config_free(cfg);
}

static void test_parse_helpers(void **state)
{
    (void)state;
    long l;
    double d;
    bool b;
    assert_int_equal(us_parse_long("42", 0, 100, &l), 0);
    assert_int_equal(l, 42);
    assert_int_equal(us_parse_long("", 0, 100, &l), -1);
    assert_int_equal(us_parse_long(" 4", 0, 100, &l), -1);
    assert_int_equal(us_parse_long("101", 0, 100, &l), -1);
    assert_int_equal(us_parse_long("99999999999999999999999", 0, 100, &l), -1);
    assert_int_equal(us_parse_double("2.5", 0, 10, &d), 0);
    assert_int_equal(us_parse_double("nan", 0, 10, &d), -1);
    assert_int_equal(us_parse_bool("ON", &b), 0);
    assert_true(b);
    assert_int_equal(us_parse_bool("off", &b), 0);
    assert_false(b);
    char s[] = "  \t padded \n";
    assert_string_equal(us_str_trim(s), "padded");
    us_log_level lvl;
    assert_int_equal(us_log_level_parse("WARNING", &lvl), 0);
    assert_int_equal(lvl, US_LOG_WARN);
}

/* Database errors as logged: quoted values blanked, DETAIL never taken. */
static void test_db_error_redaction(void **state)
{
    (void)state;
    char out[256];
    us_redact_quoted("invalid input syntax for type uuid: \"alice@example.com\"\n", out,
                     sizeof out);
    assert_string_equal(out, "invalid input syntax for type uuid: \"***\"");
    us_redact_quoted("cut \"bob@exa", out, sizeof out);
    assert_string_equal(out, "cut \"***\"");
    us_redact_quoted("a \"x\" b \"y\" c", out, 12);
    assert_null(strstr(out, "x"));
    assert_true(strlen(out) < 12);
    us_db_error_format(out, sizeof out, "COPY", "23514",
                       "new row for relation \"users\" violates check constraint \"no_x\"", "no_x",
                       NULL, "staging", "users");
    assert_string_equal(
        out, "COPY: SQLSTATE 23514: new row for relation \"***\" violates check constraint "
             "\"***\" (constraint no_x, table staging.users)");
    us_db_error_format(out, sizeof out, "COPY", NULL, NULL, NULL, "email", NULL, NULL);
    assert_string_equal(out, "COPY: SQLSTATE ?????: (no message) (column email)");
}

static int fails_with(char *err, size_t errlen, int code)
{
    if (code)
        return us_errf(err, errlen, "code %d is %s", code, "bad");
    return 0;
}

static void *null_with(char *err, size_t errlen)
{
    return us_errp(err, errlen, "no %s", "thing");
}

static void test_err(void **state)
{
    char err[16] = "";
    assert_int_equal(fails_with(err, sizeof err, 0), 0);
    assert_string_equal(err, "");
    assert_int_equal(fails_with(err, sizeof err, 42), -1);
    assert_string_equal(err, "code 42 is bad");
    char tiny[5];
    assert_int_equal(fails_with(tiny, sizeof tiny, 7), -1);
    assert_string_equal(tiny, "code"); /* cut, still terminated */
    assert_int_equal(fails_with(NULL, 0, 7), -1);
    assert_null(null_with(err, sizeof err));
    assert_string_equal(err, "no thing");
}

static void test_time(void **state)
{
    int64_t ms = us_mono_ms();
    uint64_t ns = us_mono_ns();
    assert_true(ns / 1000000 >= (uint64_t)ms);
    int64_t wall = us_wall_ms();
    assert_true(wall > 1700000000000LL);
    assert_true(us_wall_us() / 1000 >= (uint64_t)wall);
    struct timespec ts = us_mono_after_ms(1500);
    int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    assert_true(at >= ms + 1500);
    assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
    ts = us_mono_after_ms(-5); /* a deadline already past: now */
    assert_true((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >= ms);
}

static void test_buf_appends(void **state)
{
    us_buf b = {0};
    us_buf_putc(&b, '[');
    us_buf_put_i64(&b, INT64_MIN);
    us_buf_putc(&b, ',');
    us_buf_put_i64(&b, 0);
    us_buf_fill(&b, ' ', 3);
    us_buf_puts(&b, "x");
    assert_true(us_buf_room(&b, 4));
    memcpy(b.data + b.len, "abcd", 4);
    us_buf_commit(&b, 4);
    assert_string_equal(us_buf_str(&b), "[-9223372036854775808,0   xabcd");
    assert_int_equal(b.len, strlen(us_buf_str(&b)));
    char num[24];
    assert_int_equal(us_fmt_i64(num, -42), 3);
    b.oom = true; /* as after a failed allocation: appends are ignored */
    us_buf_puts(&b, "lost");
    us_buf_putc(&b, 'y');
    assert_false(us_buf_room(&b, 1));
    us_buf_reset(&b); /* starts over, the failure forgotten */
    assert_false(b.oom);
    us_buf_puts(&b, "ok");
    assert_string_equal(us_buf_str(&b), "ok");
    us_buf_free(&b);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_creds(void **state)
{
    char dir[] = "/tmp/test_common_XXXXXX", path[256], buf[512], err[256];
    char user[64], pass[64];
    const char *pairs[2 * 4 + 1] = {"client.id", "x", NULL};
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/kafka.properties", dir);
    write_file(path,
               "# comment\nsecurity.protocol=SASL_PLAINTEXT\n\n sasl.username = console\n"
               "sasl.password=p=w#1\n",
               0644);
    assert_int_equal(us_creds_read(path, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    chmod(path, 0600);
    assert_int_equal(us_creds_read(path, buf, sizeof buf, err, sizeof err), 0);
    assert_int_equal(us_creds_read(path, buf, 8, err, sizeof err), -1); /* too large */
    assert_int_equal(us_creds_read(path, buf, sizeof buf, err, sizeof err), 0);
    assert_int_equal(us_creds_properties(buf, pairs, 1, 4, err, sizeof err), 0);
    assert_string_equal(pairs[0], "client.id");
    assert_string_equal(pairs[2], "security.protocol");
    assert_string_equal(pairs[4], "sasl.username");
    assert_string_equal(pairs[6], "sasl.password");
    assert_string_equal(pairs[7], "p=w#1"); /* the first '=' ends the key */
    assert_null(pairs[8]);
    char bad[] = "a=1\nno-equals-s3cret\n";
    assert_int_equal(us_creds_properties(bad, pairs, 0, 4, err, sizeof err), -1);
    assert_string_equal(err, "line 2: expected key=value");
    char many[] = "a=1\nb=2\nc=3\n";
    assert_int_equal(us_creds_properties(many, pairs, 2, 4, err, sizeof err), -1);

    assert_int_equal(us_creds_cql("[other]\nusername = no\n[plain_text_auth]\nusername = "
                                  "console_reader\npassword: s3 cret \n",
                                  user, sizeof user, pass, sizeof pass, err, sizeof err),
                     0);
    assert_string_equal(user, "console_reader");
    assert_string_equal(pass, "s3 cret");
    assert_int_equal(us_creds_cql("[other]\nusername = a\npassword = b\n", user, sizeof user, pass,
                                  sizeof pass, err, sizeof err),
                     -1);
    assert_int_equal(us_creds_cql("", user, sizeof user, pass, sizeof pass, err, sizeof err), -1);

    char up[] = "registry_writer:s3:cret\nignored\n", none[] = "no-colon\n", empty[] = ":pw";
    assert_int_equal(us_creds_userpass(up, err, sizeof err), 0);
    assert_string_equal(up, "registry_writer:s3:cret");
    assert_int_equal(us_creds_userpass(none, err, sizeof err), -1);
    assert_string_equal(err, "expected one line user:password");
    assert_int_equal(us_creds_userpass(empty, err, sizeof err), -1);
    unlink(path);
    rmdir(dir);
}

/* US_OPT_PAIRS: repeated flags each taken whole (commas and all), the
 * file/environment form split at the commas that start another key=. */
static void test_pairs(void **state)
{
    (void)state;
    static const us_option popts[] = {
        {"US_T_KAFKA", "kafka", 'X', US_OPT_PAIRS, NULL, "K=V", "librdkafka settings"}};
    const char *pairs[2 * 4 + 1];
    char buf[256], err[256];
    unsetenv("US_T_KAFKA");
    unsetenv("US_CONFIG");
    us_config *cfg = us_config_new(popts, 1);
    char *argv[] = {"t", "-X", "bootstrap.servers=a:9092,b:9092", "--kafka", "client.id=x=y", NULL};
    int first;
    assert_int_equal(us_config_parse_args(cfg, &prog, 5, argv, &first, err, sizeof err),
                     US_PARSE_OK);
    assert_int_equal(
        us_config_get_pairs(cfg, "US_T_KAFKA", pairs, 4, buf, sizeof buf, err, sizeof err), 2);
    assert_string_equal(pairs[0], "bootstrap.servers");
    assert_string_equal(pairs[1], "a:9092,b:9092");
    assert_string_equal(pairs[2], "client.id");
    assert_string_equal(pairs[3], "x=y");
    assert_null(pairs[4]);
    us_config_free(cfg);

    setenv("US_T_KAFKA", "bootstrap.servers=a:9092,b:9092,linger.ms=5,debug=broker,topic", 1);
    cfg = us_config_new(popts, 1);
    assert_int_equal(us_config_load_env(cfg, err, sizeof err), 0);
    assert_int_equal(
        us_config_get_pairs(cfg, "US_T_KAFKA", pairs, 4, buf, sizeof buf, err, sizeof err), 3);
    assert_string_equal(pairs[1], "a:9092,b:9092");
    assert_string_equal(pairs[2], "linger.ms");
    assert_string_equal(pairs[5], "broker,topic");
    assert_int_equal(
        us_config_get_pairs(cfg, "US_T_KAFKA", pairs, 2, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 2"));
    assert_int_equal(us_config_get_pairs(cfg, "US_T_KAFKA", pairs, 4, buf, 8, err, sizeof err), -1);
    us_config_free(cfg);

    setenv("US_T_KAFKA", "=x,linger.ms=5", 1);
    cfg = us_config_new(popts, 1);
    assert_int_equal(us_config_load_env(cfg, err, sizeof err), 0);
    assert_int_equal(
        us_config_get_pairs(cfg, "US_T_KAFKA", pairs, 4, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not key=value"));
    us_config_free(cfg);
    unsetenv("US_T_KAFKA");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_layers),
        cmocka_unit_test(test_env_over_file),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_print_masks_secrets),
        cmocka_unit_test(test_parse_helpers),
        cmocka_unit_test(test_port_offset),
        cmocka_unit_test(test_db_error_redaction),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_buf_appends),
        cmocka_unit_test(test_creds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
