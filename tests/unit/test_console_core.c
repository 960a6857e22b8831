/* userstream-console: the time-series ring, the relay /metrics reading (and
 * its 5-minute latency quantiles), the CQL result parser, the secrets and
 * sessions, the served-file name check. */
#include "con_airflow.h"
#include "con_alerts.h"
#include "con_api.h"
#include "con_auth.h"
#include "con_cql.h"
#include "con_retention.h"
#include "con_ring.h"
#include "con_sample.h"
#include "con_upstream.h"

#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void ring_keeps_the_last_window(void **state)
{
    con_ring *r = con_ring_new(4, 10);
    double v[10];
    for (int t = 100; t < 125; t++)
        assert_int_equal(con_ring_put(r, "m", t, t * 2.0), 0);
    assert_int_equal(con_ring_get(r, "m", 124, 10, v), 0);
    for (int i = 0; i < 10; i++)
        assert_true(v[i] == (115 + i) * 2.0);
    /* Older than the window, or newer than written: unknown. */
    assert_int_equal(con_ring_get(r, "m", 126, 3, v), 0);
    assert_true(v[0] == 248 && isnan(v[1]) && isnan(v[2]));
    assert_true(isnan(con_ring_at(r, "m", 114, 0)));
    assert_int_equal(con_ring_get(r, "nope", 124, 3, v), -1);
    con_ring_free(r);
}

static void ring_marks_skipped_seconds_unknown(void **state)
{
    con_ring *r = con_ring_new(4, 60);
    double v[6];
    con_ring_put(r, "m", 1000, 1);
    con_ring_put(r, "m", 1004, 5);
    con_ring_put(r, "m", 1003, 99); /* older than the newest: ignored */
    con_ring_get(r, "m", 1005, 6, v);
    assert_true(v[0] == 1 && isnan(v[1]) && isnan(v[2]) && isnan(v[3]) && v[4] == 5 && isnan(v[5]));
    assert_true(con_ring_at(r, "m", 1003, 3) == 1);
    /* A gap longer than the ring wipes it all. */
    con_ring_put(r, "m", 5000, 7);
    assert_true(isnan(con_ring_at(r, "m", 4999, 59)));
    assert_true(con_ring_at(r, "m", 5000, 0) == 7);
    con_ring_free(r);
}

static void ring_rates_and_resets(void **state)
{
    con_ring *r = con_ring_new(4, 400);
    for (int t = 0; t <= 300; t++)
        con_ring_put(r, "c", 10000 + t, t * 10.0);
    assert_true(fabs(con_ring_rate(r, "c", 10300, 10) - 10) < 1e-9);
    assert_true(fabs(con_ring_rate(r, "c", 10300, 300) - 10) < 1e-9);
    assert_true(isnan(con_ring_rate(r, "c", 10300, 301))); /* before the first value */
    con_ring_put(r, "c", 10301, 5);                        /* the counter went back: a restart */
    assert_true(isnan(con_ring_rate(r, "c", 10301, 10)));
    assert_true(isnan(con_ring_rate(r, "missing", 10300, 10)));
    con_ring_free(r);
}

static void ring_is_bounded(void **state)
{
    con_ring *r = con_ring_new(2, 10);
    char names[64];
    assert_int_equal(con_ring_put(r, "a", 1, 1), 0);
    assert_int_equal(con_ring_put(r, "b", 1, 1), 0);
    assert_int_equal(con_ring_put(r, "c", 1, 1), -1);
    char longname[CON_RING_NAME_MAX + 1];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(con_ring_put(r, longname, 1, 1), -1);
    assert_int_equal(con_ring_names(r, names, sizeof names), 2);
    assert_string_equal(names, "a,b");
    con_ring_free(r);
}

static con_sample new_sample(con_ring *r, int64_t t)
{
    con_sample s = {r, t, json_object(), json_object(), json_object()};
    return s;
}

static void free_sample(con_sample *s)
{
    json_decref(s->metrics), json_decref(s->detail), json_decref(s->errors);
}

static const char relay_text[] =
    "# HELP userstream_relay_rows_acked_total Records Kafka acknowledged.\n"
    "# TYPE userstream_relay_rows_acked_total counter\n"
    "userstream_relay_rows_acked_total %d\n"
    "userstream_relay_inflight_transactions 3\n"
    "userstream_relay_commit_to_ack_seconds_bucket{le=\"0.01\"} %d\n"
    "userstream_relay_commit_to_ack_seconds_bucket{le=\"0.1\"} %d\n"
    "userstream_relay_commit_to_ack_seconds_bucket{le=\"1\"} %d\n"
    "userstream_relay_commit_to_ack_seconds_bucket{le=\"+Inf\"} %d\n"
    "userstream_relay_commit_to_ack_seconds_count %d\n";

static void relay_metrics_and_window_quantiles(void **state)
{
    con_ring *r = con_ring_new(64, 600);
    con_upstream_conf cf = {0};
    con_upstream *u = con_upstream_new(&cf);
    char text[2048], err[128];
    /* First scrape: 100 acks, all under 10 ms. */
    int n = snprintf(text, sizeof text, relay_text, 100, 100, 100, 100, 100, 100);
    con_sample s = new_sample(r, 1000);
    assert_int_equal(con_upstream_parse_relay(u, &s, text, (size_t)n, err, sizeof err), 0);
    assert_true(con_sample_get(&s, "relay.rows_acked") == 100);
    assert_true(con_sample_get(&s, "relay.inflight_txns") == 3);
    assert_true(con_sample_get(&s, "relay.ack_p50_ms") <= 10);
    free_sample(&s);
    /* 100 s later 100 more acks, all between 100 ms and 1 s: the window
     * holds both scrapes, so its quantiles see only the new acks. */
    n = snprintf(text, sizeof text, relay_text, 200, 100, 100, 200, 200, 200);
    s = new_sample(r, 1100);
    assert_int_equal(con_upstream_parse_relay(u, &s, text, (size_t)n, err, sizeof err), 0);
    double p50 = con_sample_get(&s, "relay.ack_p50_ms"),
           p99 = con_sample_get(&s, "relay.ack_p99_ms");
    assert_true(p50 > 100 && p50 <= 1000);
    assert_true(p99 > p50 && p99 <= 1000);
    free_sample(&s);
    /* Malformed text: an error, no crash. */
    s = new_sample(r, 1101);
    assert_int_equal(con_upstream_parse_relay(u, &s, "x{", 2, err, sizeof err), -1);
    free_sample(&s);
    con_upstream_free(u);
    con_ring_free(r);
}

/* A RESULT body: Rows, global table spec, one bigint column, one row. */
static size_t rows_body(uint8_t *b, int64_t v, uint32_t rows)
{
    static const uint8_t head[] = {0,   0,   0, 2, 0,   0, 0, 1,   0,   0,   0,   1,   0, 2,
                                   'k', 's', 0, 1, 'u', 0, 5, 'c', 'o', 'u', 'n', 't', 0, 2};
    size_t n = sizeof head;
    memcpy(b, head, n);
    b[n++] = (uint8_t)(rows >> 24), b[n++] = (uint8_t)(rows >> 16), b[n++] = (uint8_t)(rows >> 8);
    b[n++] = (uint8_t)rows;
    if (rows) {
        b[n++] = 0, b[n++] = 0, b[n++] = 0, b[n++] = 8;
        for (int i = 7; i >= 0; i--)
            b[n++] = (uint8_t)((uint64_t)v >> (8 * i));
    }
    return n;
}

static void cql_count_result(void **state)
{
    uint8_t b[128];
    int64_t out;
    char err[128];
    size_t n = rows_body(b, 123456789012LL, 1);
    assert_int_equal(con_cql_parse_count(b, n, &out, err, sizeof err), 0);
    assert_true(out == 123456789012LL);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(con_cql_parse_count(b, cut, &out, err, sizeof err), -1);
    n = rows_body(b, 0, 0);
    assert_int_equal(con_cql_parse_count(b, n, &out, err, sizeof err), -1);
    static const uint8_t e[] = {0, 0, 0x22, 0, 0, 4, 'b', 'a', 'd', '\n'};
    char msg[64];
    con_cql_parse_error(e, sizeof e, msg, sizeof msg);
    assert_string_equal(msg, "code 0x2200: bad ");
    con_cql_parse_error(e, 5, msg, sizeof msg);
    assert_string_equal(msg, "malformed error frame");
    /* the warnings list of a flag-0x08 frame: 2 strings, then the body */
    static const uint8_t w[] = {0, 2, 0, 3, 'a', 'b', 'c', 0, 0, 0x02};
    assert_int_equal(con_cql_warnings_len(w, sizeof w), 9);
    assert_int_equal(con_cql_warnings_len(w, 6), (size_t)-1);
    assert_int_equal(con_cql_warnings_len(w, 1), (size_t)-1);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void secrets_and_sessions(void **state)
{
    char dir[] = "/tmp/test_console_XXXXXX", pw[256], tok[256], err[256], out[64];
    assert_non_null(mkdtemp(dir));
    snprintf(pw, sizeof pw, "%s/pw", dir);
    snprintf(tok, sizeof tok, "%s/tok", dir);
    write_file(pw, "s3cret\n", 0644);
    assert_null(con_auth_new(pw, NULL, 60, err, sizeof err));
    assert_non_null(strstr(err, "chmod 600"));
    assert_null(strstr(err, "s3cret")); /* the reason never shows the secret */
    chmod(pw, 0600);
    write_file(tok, "", 0600);
    assert_int_equal(con_auth_read_secret(tok, out, sizeof out, err, sizeof err), -1);
    write_file(tok, "t0ken", 0600);
    con_auth *a = con_auth_new(pw, tok, 60, err, sizeof err);
    assert_non_null(a);
    assert_true(con_auth_password_ok(a, "s3cret"));
    assert_false(con_auth_password_ok(a, "s3cre"));
    assert_false(con_auth_password_ok(a, "s3cret "));
    assert_false(con_auth_password_ok(a, ""));
    assert_true(con_auth_bearer_ok(a, "Bearer t0ken"));
    assert_false(con_auth_bearer_ok(a, "Bearer t0ke"));
    assert_false(con_auth_bearer_ok(a, "t0ken"));
    assert_false(con_auth_bearer_ok(a, NULL));
    char id[CON_AUTH_ID_HEX + 1], other[CON_AUTH_ID_HEX + 1];
    assert_int_equal(con_auth_session_new(a, id, sizeof id), 0);
    assert_int_equal(con_auth_session_new(a, other, sizeof other), 0);
    assert_int_equal(strlen(id), CON_AUTH_ID_HEX);
    assert_string_not_equal(id, other);
    assert_true(con_auth_session_ok(a, id));
    assert_false(con_auth_session_ok(a, "abc"));
    assert_false(con_auth_session_ok(a, NULL));
    con_auth_session_end(a, id);
    assert_false(con_auth_session_ok(a, id));
    assert_true(con_auth_session_ok(a, other));
    /* More logins than slots: the oldest goes, the newest stay. */
    for (int i = 0; i < CON_AUTH_MAX_SESSIONS + 5; i++)
        assert_int_equal(con_auth_session_new(a, id, sizeof id), 0);
    assert_true(con_auth_session_ok(a, id));
    con_auth_free(a);
    unlink(pw), unlink(tok), rmdir(dir);
}

static bool has_alert(json_t *list, const char *id)
{
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        if (!strcmp(json_string_value(json_object_get(a, "id")), id))
            return true;
    }
    return false;
}

/* The engine credentials files: mode checked, parsed, a bad line named by
 * number and never shown. */
static void alert_rules(void **state)
{
    con_ring *r = con_ring_new(64, 3600);
    con_alerts_conf cf = {
        .wal_bytes = 1000, .wal_limit_pct = 80, .lag_minutes = 5, .spark_trigger_ms = 2000};
    /* Six minutes of a Spark lag that only grows, and a DLQ that gains 2. */
    for (int64_t t = 10000; t < 10000 + 360; t++) {
        con_ring_put(r, "spark.in_flight", t, (double)(t - 9999));
        con_ring_put(r, "dlq.records", t, t < 10300 ? 5 : 7);
    }
    con_sample s = new_sample(r, 10360);
    con_sample_put(&s, "spark.in_flight", 400);
    con_sample_put(&s, "dlq.records", 7);
    con_sample_put(&s, "slot.retained_bytes", 5000);
    con_sample_put(&s, "slot.safe_wal_bytes", 1000); /* 5000 of a 6000-byte limit: 83% */
    con_sample_put(&s, "spark.batch_ms", 2500);
    con_sample_detail(&s, "stops",
                      json_pack("[{s:s,s:i,s:s,s:s}]", "who", "spark query users", "exit_code", 3,
                                "reason", "data loss: Kafka no longer holds offsets 0-9",
                                "stopped_at", "2026-12-05 00:00:00+00"));
    con_sample_detail(&s, "health",
                      json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "name", "relay", "state", "down",
                                "detail", "connection refused", "name", "kafka", "state", "up",
                                "detail", "ok"));
    con_sample_detail(&s, "reconcile",
                      json_pack("{s:i,s:s,s:i,s:i,s:i,s:s}", "reconcile_id", 12, "finished_at",
                                "2026-12-05T03:00:00+00:00", "missing", 1, "ghosts", 2, "repaired",
                                0, "problems", ""));
    json_t *a = con_alerts_eval(&cf, &s);
    assert_true(has_alert(a, "lag_growing") && has_alert(a, "dead_letters") &&
                has_alert(a, "wal_retained") && has_alert(a, "service_down") &&
                has_alert(a, "spark_slow") && has_alert(a, "stopped") &&
                has_alert(a, "wal_limit") && has_alert(a, "reconcile"));
    assert_int_equal(json_array_size(a), 8);
    assert_true(con_sample_get(&s, "alert.reconcile") == 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(a, 7), "message")),
                           "reconciliation 12 at 2026-12-05T03:00:00+00:00: 1 user(s) missing in "
                           "Cassandra, 2 ghost(s) in Cassandra, 0 repaired"));
    assert_true(con_sample_get(&s, "alert.wal_limit") == 1);
    assert_true(con_sample_get(&s, "alert.lag_growing") == 1);
    assert_true(con_sample_get(&s, "alert.stopped") == 1);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(a, 6), "message")),
               "spark query users stopped (exit 3) at 2026-12-05 00:00:00+00: data loss"));
    json_decref(a);
    free_sample(&s);
    /* A lag that went back to 0 in the window, nothing new in the DLQ, all
     * up, a batch within its trigger: quiet. */
    con_ring_put(r, "spark.in_flight", 10361, 0);
    for (int64_t t = 10362; t < 10700; t++)
        con_ring_put(r, "dlq.records", t, 7);
    s = new_sample(r, 10700);
    con_sample_put(&s, "spark.in_flight", 50);
    con_sample_put(&s, "dlq.records", 7);
    con_sample_put(&s, "slot.retained_bytes", 10);
    con_sample_put(&s, "slot.safe_wal_bytes", 1e9);
    con_sample_put(&s, "spark.batch_ms", 100);
    con_sample_detail(&s, "health", json_array());
    con_sample_detail(&s, "reconcile",
                      json_pack("{s:i,s:s,s:i,s:i,s:i,s:s}", "reconcile_id", 13, "finished_at",
                                "2026-12-05T04:00:00+00:00", "missing", 0, "ghosts", 0, "repaired",
                                0, "problems", ""));
    a = con_alerts_eval(&cf, &s);
    assert_int_equal(json_array_size(a), 0);
    assert_true(con_sample_get(&s, "alert.reconcile") == 0);
    json_decref(a);
    /* Only index rows differ (issue 12, item 6): still an alert. */
    con_sample_detail(&s, "reconcile",
                      json_pack("{s:i,s:s,s:i,s:i,s:i,s:i,s:i,s:s}", "reconcile_id", 14,
                                "finished_at", "2026-12-05T05:00:00+00:00", "missing", 0, "ghosts",
                                0, "stale_index", 2, "missing_index", 0, "repaired", 2, "problems",
                                ""));
    a = con_alerts_eval(&cf, &s);
    assert_int_equal(json_array_size(a), 1);
    assert_true(con_sample_get(&s, "alert.reconcile") == 1);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(a, 0), "message")),
               "0 ghost(s) in Cassandra, 2 repaired; 2 stale and 0 missing index row(s)"));
    json_decref(a);
    con_sample_detail(&s, "reconcile",
                      json_pack("{s:i,s:s,s:i,s:i,s:i,s:s}", "reconcile_id", 15, "finished_at",
                                "2026-12-05T06:00:00+00:00", "missing", 0, "ghosts", 0, "repaired",
                                0, "problems", ""));
    a = con_alerts_eval(&cf, &s);
    assert_int_equal(json_array_size(a), 0);
    assert_true(con_sample_get(&s, "alert.service_down") == 0);
    assert_true(con_sample_get(&s, "alert.stopped") == 0);
    assert_true(con_sample_get(&s, "alert.wal_limit") == 0);
    json_decref(a);
    free_sample(&s);
    /* Past the limit PostgreSQL says so (safe_wal_size is then NULL or negative). */
    s = new_sample(r, 10701);
    con_sample_put(&s, "slot.retained_bytes", 10);
    con_sample_detail(&s, "slot", json_pack("{s:s}", "wal_status", "lost"));
    con_sample_detail(&s, "health", json_array());
    a = con_alerts_eval(&cf, &s);
    assert_true(has_alert(a, "wal_limit") && json_array_size(a) == 1);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(a, 0), "message")), "WAL is lost"));
    json_decref(a);
    free_sample(&s);
    con_ring_free(r);
}

static void airflow_answers(void **state)
{
    char err[128];
    const char dags[] =
        "{\"dags\":[{\"dag_id\":\"a_b\",\"is_paused\":true},{\"dag_id\":\"x/../y\"},"
        "{\"nodag\":1}],\"total_entries\":3}";
    json_t *d = con_airflow_parse_dags(dags, strlen(dags), err, sizeof err);
    assert_int_equal(json_array_size(d), 1); /* an id that is no DAG id is dropped */
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "dag_id")), "a_b");
    assert_true(json_is_true(json_object_get(json_array_get(d, 0), "is_paused")));
    json_decref(d);
    const char runs[] =
        "{\"dag_runs\":[{\"dag_run_id\":\"r1\",\"state\":\"success\",\"duration\":1.5},"
        "{\"state\":7}]}";
    json_t *r = con_airflow_parse_runs(runs, strlen(runs), err, sizeof err);
    assert_int_equal(json_array_size(r), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "run_id")), "r1");
    assert_true(json_is_null(json_object_get(json_array_get(r, 1), "state")));
    json_decref(r);
    assert_null(con_airflow_parse_runs("[]", 2, err, sizeof err));
    assert_null(con_airflow_parse_dags("{\"dags\":{}}", 10, err, sizeof err));
    assert_null(con_airflow_parse_dags("not json", 8, err, sizeof err));
}

static char *fake_env(const char *key)
{
    if (!strcmp(key, "US_STAGING_RETENTION"))
        return (char *)"3 days";
    if (!strcmp(key, "US_KAFKA_DLQ_RETENTION_MS"))
        return (char *)"\xff\xfe"; /* not UTF-8 */
    return NULL;
}

/* Every lifecycle key once, with its store; what the environment lacks, or
 * cannot be shown, is null. */
static void retention_keys(void **state)
{
    json_t *list = con_retention_config(fake_env);
    assert_true(json_array_size(list) >= 10);
    size_t i;
    json_t *k;
    int seen = 0;
    json_array_foreach(list, i, k)
    {
        const char *key = json_string_value(json_object_get(k, "key"));
        assert_non_null(key);
        assert_non_null(json_string_value(json_object_get(k, "store")));
        assert_non_null(json_string_value(json_object_get(k, "meaning")));
        json_t *v = json_object_get(k, "value");
        if (!strcmp(key, "US_STAGING_RETENTION")) {
            assert_string_equal(json_string_value(v), "3 days");
            seen++;
        } else {
            assert_true(json_is_null(v));
            seen += !strcmp(key, "US_KAFKA_DLQ_RETENTION_MS") || !strcmp(key, "US_LOG_BACKUPS");
        }
    }
    assert_int_equal(seen, 3);
    json_decref(list);
}

static void served_names(void **state)
{
    assert_true(con_api_safe_name("app.js"));
    assert_true(con_api_safe_name("uPlot.iife.min.js"));
    assert_false(con_api_safe_name(""));
    assert_false(con_api_safe_name(".."));
    assert_false(con_api_safe_name(".hidden"));
    assert_false(con_api_safe_name("a/b"));
    assert_false(con_api_safe_name("a%2fb"));
    assert_false(con_api_safe_name("a\\b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_keeps_the_last_window),
        cmocka_unit_test(ring_marks_skipped_seconds_unknown),
        cmocka_unit_test(ring_rates_and_resets),
        cmocka_unit_test(ring_is_bounded),
        cmocka_unit_test(relay_metrics_and_window_quantiles),
        cmocka_unit_test(cql_count_result),
        cmocka_unit_test(secrets_and_sessions),
        cmocka_unit_test(alert_rules),
        cmocka_unit_test(airflow_answers),
        cmocka_unit_test(retention_keys),
        cmocka_unit_test(served_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
