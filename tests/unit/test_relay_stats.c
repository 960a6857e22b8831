/* relay_stats: the exposition the console and the Prometheus rules read
 * (src/console, stack/services/95-prometheus.sh): every userstream_relay_*
 * series keeps its name, labels and value. Parsed back with us_prom_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_stats.h"
#include "us_metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *labels;
    double want;
    int seen;
} series;

static int on_sample(void *ud, const us_prom_sample_t *s)
{
    for (series *w = ud; w->name; w++)
        if (!strcmp(w->name, s->name) && !strcmp(w->labels, s->labels)) {
            w->seen++;
            assert_true(fabs(s->value - w->want) < 1e-9);
        }
    return 0;
}

static void test_every_series_with_its_value(void **state)
{
    relay_stats s = {0};
    s.rows_total = 123456;
    s.rows_acked_total = 123400;
    s.bytes_acked_total = 98765432;
    s.snapshot_rows_total = 1000;
    s.txns_total = 1234;
    s.delivery_errors_total = 1;
    s.duplicate_rows_total = 7;
    s.schema_registrations_total = 2;
    s.purged_rows_total = 3;
    s.inflight_txns = 4;
    s.inflight_msgs = 56;
    s.wal_end_lsn = 0x1234ABCDEFULL;
    s.flushed_lsn = 0x1234ABCD00ULL;
    s.slot_lag_bytes = 239;
    s.rows_per_sec_x1000 = 1234567;
    s.bytes_per_sec_x1000 = 987654321;
    s.state = RELAY_STATE_BACKPRESSURE;
    relay_stats_latency(&s, 900);      /* le 0.001 */
    relay_stats_latency(&s, 40000);    /* le 0.05 */
    relay_stats_latency(&s, 31000000); /* +Inf */
    series want[] = {
        {"userstream_relay_rows_total", "", 123456, 0},
        {"userstream_relay_rows_acked_total", "", 123400, 0},
        {"userstream_relay_bytes_acked_total", "", 98765432, 0},
        {"userstream_relay_rows_per_second", "", 1234.567, 0},
        {"userstream_relay_bytes_per_second", "", 987654.321, 0},
        {"userstream_relay_snapshot_rows_total", "", 1000, 0},
        {"userstream_relay_transactions_total", "", 1234, 0},
        {"userstream_relay_delivery_errors_total", "", 1, 0},
        {"userstream_relay_duplicate_rows_total", "", 7, 0},
        {"userstream_relay_purged_rows_total", "", 3, 0},
        {"userstream_relay_schema_registrations_total", "", 2, 0},
        {"userstream_relay_inflight_transactions", "", 4, 0},
        {"userstream_relay_inflight_messages", "", 56, 0},
        {"userstream_relay_wal_end_lsn", "", (double)0x1234ABCDEFULL, 0},
        {"userstream_relay_flushed_lsn", "", (double)0x1234ABCD00ULL, 0},
        {"userstream_relay_slot_lag_bytes", "", 239, 0},
        {"userstream_relay_state", "", 3, 0},
        {"userstream_relay_commit_to_ack_seconds_bucket", "le=\"0.001\"", 1, 0},
        {"userstream_relay_commit_to_ack_seconds_bucket", "le=\"0.025\"", 1, 0},
        {"userstream_relay_commit_to_ack_seconds_bucket", "le=\"0.05\"", 2, 0},
        {"userstream_relay_commit_to_ack_seconds_bucket", "le=\"30\"", 2, 0},
        {"userstream_relay_commit_to_ack_seconds_bucket", "le=\"+Inf\"", 3, 0},
        {"userstream_relay_commit_to_ack_seconds_sum", "", 31.0409, 0},
        {"userstream_relay_commit_to_ack_seconds_count", "", 3, 0},
        {NULL, NULL, 0, 0},
    };
    us_buf b = {0};
    char err[256];
    relay_stats_render(&s, &b);
    assert_false(b.oom);
    assert_int_equal(us_prom_parse(us_buf_str(&b), b.len, on_sample, want, err, sizeof err), 0);
    for (series *w = want; w->name; w++) {
        if (w->seen != 1)
            fail_msg("%s{%s} seen %d times", w->name, w->labels, w->seen);
    }
    /* 17 gauges and counters + 15 buckets, sum and count: nothing else. */
    int samples = 0;
    for (const char *line = us_buf_str(&b); *line; line = strchr(line, '\n') + 1)
        samples += line[0] != '#';
    assert_int_equal(samples, 17 + 15 + 2);
    assert_non_null(
        strstr(us_buf_str(&b), "# TYPE userstream_relay_commit_to_ack_seconds histogram"));
    us_buf_free(&b);
}

static void test_state_names_and_health(void **state)
{
    assert_string_equal(relay_state_name(RELAY_STATE_STREAMING), "streaming");
    assert_string_equal(relay_state_name(RELAY_STATE_BACKPRESSURE), "backpressure");
    assert_string_equal(relay_state_name(99), "?");
    assert_false(relay_state_healthy(RELAY_STATE_STARTING));
    assert_true(relay_state_healthy(RELAY_STATE_SNAPSHOT));
    assert_true(relay_state_healthy(RELAY_STATE_BACKPRESSURE));
    assert_false(relay_state_healthy(RELAY_STATE_FAILED));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_series_with_its_value),
        cmocka_unit_test(test_state_names_and_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
