/* The ack watermark against broker errors, on librdkafka's in-process mock
 * cluster (reliability.md test 3): retried errors still deliver; a broker
 * that is down holds the watermark before the undelivered transaction; a
 * timed-out message fails its transaction, which never leaves the ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_kafka.h"
#include "relay_ring.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <string.h>

/* Kafka protocol API key of Produce (rdkafka_mock.h takes raw keys). */
#define API_PRODUCE 0

typedef struct {
    relay_ring *ring;
    int ok, failed;
} ctx;

static void on_delivery(void *ud, uint64_t txn_id, bool ok, size_t bytes, const char *errstr)
{
    ctx *c = ud;
    ok ? c->ok++ : c->failed++;
    assert_int_equal(relay_ring_delivered(c->ring, txn_id, ok), 0);
}

static const char *const backoff[] = {"retry.backoff.ms", "10", NULL};

static relay_kafka *mock_producer(long timeout_ms, rd_kafka_mock_cluster_t **mc)
{
    char err[512];
    relay_kafka_conf conf = {.topic = "userstream.users",
                             .linger_ms = 0,
                             .queue_max_messages = 1000,
                             .queue_max_kbytes = 1024,
                             .message_timeout_ms = timeout_ms,
                             .mock_brokers = 1,
                             .extra = backoff};
    relay_kafka *k = relay_kafka_new(&conf, err, sizeof err);
    assert_non_null(k);
    *mc = rd_kafka_handle_mock_cluster(relay_kafka_handle(k));
    assert_non_null(*mc);
    /* The producer's first metadata request may auto-create the topic on the
     * mock cluster before this line runs (a race, seen under ASan): either way
     * the topic exists, and no assertion here depends on its partition count. */
    rd_kafka_resp_err_t terr = rd_kafka_mock_topic_create(*mc, "userstream.users", 4, 1);
    assert_true(terr == RD_KAFKA_RESP_ERR_NO_ERROR ||
                terr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    return k;
}

/* One transaction of n records, closed at end. */
static uint64_t txn(relay_kafka *k, relay_ring *r, uint64_t lsn, int n)
{
    char err[256];
    relay_header h[] = {{"us.op", "c"}};
    relay_txn *t = relay_ring_open(r, lsn, 0, 1);
    assert_non_null(t);
    uint64_t id = t->id;
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(relay_kafka_produce(k, key, 2, "v", 1, h, 1, -1, id, err, sizeof err),
                         RELAY_KAFKA_QUEUED);
        relay_ring_sent(t);
    }
    relay_ring_close(t, lsn + 8);
    return id;
}

static void pump(relay_kafka *k, ctx *c, int rounds)
{
    for (int i = 0; i < rounds; i++)
        relay_kafka_poll(k, 50, on_delivery, c);
}

static void test_retried_errors_deliver(void **state)
{
    ctx c = {.ring = relay_ring_new(16)};
    rd_kafka_mock_cluster_t *mc;
    relay_kafka *k = mock_producer(0, &mc);
    uint64_t wm = 0;
    rd_kafka_mock_push_request_errors(
        mc, API_PRODUCE, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    txn(k, c.ring, 100, 20);
    txn(k, c.ring, 200, 20);
    assert_int_equal(relay_kafka_flush(k, 10000, on_delivery, &c), 0);
    relay_ring_advance(c.ring, &wm);
    assert_int_equal(c.ok, 40);
    assert_int_equal(c.failed, 0);
    assert_int_equal(wm, 208);
    relay_kafka_free(k);
    relay_ring_free(c.ring);
}

static void test_broker_down_holds_watermark(void **state)
{
    ctx c = {.ring = relay_ring_new(16)};
    rd_kafka_mock_cluster_t *mc;
    relay_kafka *k = mock_producer(0, &mc);
    uint64_t wm = 0;
    txn(k, c.ring, 100, 5);
    assert_int_equal(relay_kafka_flush(k, 10000, on_delivery, &c), 0);
    relay_ring_advance(c.ring, &wm);
    assert_int_equal(wm, 108);
    rd_kafka_mock_broker_set_down(mc, 1);
    txn(k, c.ring, 200, 5);
    pump(k, &c, 20);
    relay_ring_advance(c.ring, &wm);
    assert_int_equal(wm, 108); /* transaction 200 is not in Kafka */
    assert_int_equal(relay_ring_count(c.ring), 1);
    rd_kafka_mock_broker_set_up(mc, 1);
    assert_int_equal(relay_kafka_flush(k, 20000, on_delivery, &c), 0);
    relay_ring_advance(c.ring, &wm);
    assert_int_equal(wm, 208);
    assert_int_equal(c.failed, 0);
    relay_kafka_free(k);
    relay_ring_free(c.ring);
}

static void test_timeout_fails_transaction(void **state)
{
    ctx c = {.ring = relay_ring_new(16)};
    rd_kafka_mock_cluster_t *mc;
    relay_kafka *k = mock_producer(500, &mc);
    uint64_t wm = 0;
    rd_kafka_mock_broker_set_down(mc, 1);
    txn(k, c.ring, 100, 3);
    relay_kafka_flush(k, 5000, on_delivery, &c);
    rd_kafka_mock_broker_set_up(mc, 1);
    txn(k, c.ring, 200, 3);
    relay_kafka_flush(k, 10000, on_delivery, &c);
    relay_ring_advance(c.ring, &wm);
    assert_true(c.failed >= 3);
    assert_true(relay_ring_failed(c.ring));
    assert_int_equal(wm, 0); /* neither 100 (failed) nor 200 (after it) */
    relay_kafka_free(k);
    relay_ring_free(c.ring);
}

/* -X passes settings as they are, a list value included, but none that the
 * relay's delivery guarantee rests on. */
static void test_extra_settings_and_the_refused_ones(void **state)
{
    (void)state;
    char err[512];
    static const char *const ok[] = {"retry.backoff.ms", "10", "client.id", "a,b", NULL};
    relay_kafka_conf conf = {.topic = "t",
                             .queue_max_messages = 10,
                             .queue_max_kbytes = 64,
                             .mock_brokers = 1,
                             .extra = ok};
    relay_kafka *k = relay_kafka_new(&conf, err, sizeof err);
    assert_non_null(k);
    relay_kafka_free(k);
    static const char *const refused[][3] = {{"acks", "1", NULL},
                                             {"enable.idempotence", "false", NULL},
                                             {"partitioner", "random", NULL},
                                             {"message.timeout.ms", "5", NULL}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        conf.extra = refused[i];
        err[0] = '\0';
        assert_null(relay_kafka_new(&conf, err, sizeof err));
        assert_non_null(strstr(err, refused[i][0]));
        assert_non_null(strstr(err, "the relay's own"));
    }
    static const char *const unknown[] = {"no.such.setting", "1", NULL};
    conf.extra = unknown;
    assert_null(relay_kafka_new(&conf, err, sizeof err));
    assert_non_null(strstr(err, "no.such.setting"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extra_settings_and_the_refused_ones),
        cmocka_unit_test(test_retried_errors_deliver),
        cmocka_unit_test(test_broker_down_holds_watermark),
        cmocka_unit_test(test_timeout_fails_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
