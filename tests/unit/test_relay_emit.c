/* relay_emit under back-pressure, in process: librdkafka's mock cluster as
 * Kafka (a one-message producer queue, so "full" is deterministic, not a
 * matter of timing) and a registry served by us_http.
 *
 * The emitter never waits: a full queue or ring is RELAY_EMIT_FULL, an
 * unreachable registry RELAY_EMIT_RETRY, and the caller repeats the same
 * call after serving delivery reports (what relay_loop_retry does). These
 * tests prove a repeat sends nothing twice and loses nothing, and that the
 * watermark moves only past transactions Kafka acknowledged in full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_emit.h"
#include "relay_test_util.h"
#include "us_http.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "userstream.users"
#define PARTITIONS 4
#define OID 16384

typedef struct {
    us_http *http;
    us_http_route route;
    int fail_first; /* answer 503 to this many registrations first */
    int calls;
    relay_kafka *k;
    relay_ring *ring;
    relay_registry *reg;
    relay_stats st;
    relay_emit *e;
    char err[512];
} fx;

static void on_register(us_http_req *r, void *ud)
{
    fx *f = ud;
    if (++f->calls <= f->fail_first) {
        us_http_reply(r, 503, "application/json", "{\"error_code\":50301}", 20);
        return;
    }
    us_http_reply(r, 200, "application/json", "{\"id\":7}", 8);
}

static const char *const backoff[] = {"retry.backoff.ms", "10", NULL};

static void fx_init(fx *f, size_t ring_capacity, int fail_first)
{
    char url[64];
    memset(f, 0, sizeof *f);
    f->fail_first = fail_first;
    f->route = (us_http_route){
        .method = "POST", .path = "/subjects/", .prefix = true, .fn = on_register, .ud = f};
    us_http_config hc = {.bind = "127.0.0.1", .port = 0};
    f->http = us_http_start(&hc, &f->route, 1, f->err, sizeof f->err);
    assert_non_null(f->http);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", us_http_port(f->http));
    relay_kafka_conf kc = {.topic = TOPIC,
                           .linger_ms = 0,
                           .queue_max_messages = 1, /* the second record waits for a report */
                           .queue_max_kbytes = 1024,
                           .mock_brokers = 1,
                           .extra = backoff};
    f->k = relay_kafka_new(&kc, f->err, sizeof f->err);
    assert_non_null(f->k);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(relay_kafka_handle(f->k));
    rd_kafka_resp_err_t terr = rd_kafka_mock_topic_create(mc, TOPIC, PARTITIONS, 1);
    assert_true(terr == RD_KAFKA_RESP_ERR_NO_ERROR ||
                terr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    f->ring = relay_ring_new(ring_capacity);
    f->reg = relay_registry_new(url, 5000);
    relay_emit_conf ec = {"staging", "users", TOPIC "-value", PARTITIONS};
    f->e = relay_emit_new(&ec, f->k, f->ring, f->reg, &f->st);
    assert_non_null(f->e);
}

static void fx_free(fx *f)
{
    relay_emit_free(f->e);
    relay_kafka_free(f->k);
    relay_ring_free(f->ring);
    relay_registry_free(f->reg);
    us_http_stop(f->http);
}

/* What relay_loop_wait does for the emitter: serve delivery reports. */
static void serve(fx *f)
{
    relay_kafka_poll(f->k, 100, relay_emit_on_delivery, f->e);
}

/* staging.users reduced to a key and one column, both text. */
static relay_pgoutput_relation *relation(void)
{
    relay_pgoutput_relation *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->oid = OID;
    r->nspname = strdup("staging");
    r->relname = strdup("users");
    r->replident = 'd';
    r->natts = 2;
    r->cols = calloc(2, sizeof *r->cols);
    r->cols[0] = (relay_pgoutput_column){.key = true, .name = strdup("user_id"), .type_oid = 25};
    r->cols[1] = (relay_pgoutput_column){.name = strdup("email"), .type_oid = 25, .typmod = -1};
    return r;
}

static void text(relay_pgoutput_value *v, const char *s)
{
    *v = (relay_pgoutput_value){
        .kind = s ? 't' : 'n', .len = s ? (uint32_t)strlen(s) : 0, .data = (const uint8_t *)s};
}

/* The us.op and us.seq headers of every record, as "op:seq" joined by
 * spaces in key order (one key per record here), read back from the mock
 * cluster by a consumer. */
static void ops_and_seqs(fx *f, int64_t n, char *out, size_t outlen)
{
    char e[512], pairs[8][32] = {{0}}, keys[8][16] = {{0}};
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(relay_kafka_handle(f->k));
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc),
                                       e, sizeof e),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(c, "group.id", "test", e, sizeof e), RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int32_t p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(tp, TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, tp), 0);
    int64_t got = 0;
    for (int i = 0; i < 200 && got < n; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m)
            continue;
        if (!m->err && got < 8) {
            rd_kafka_headers_t *h = NULL;
            const void *op = NULL, *seq = NULL;
            size_t opl = 0, seql = 0;
            rd_kafka_message_headers(m, &h);
            rd_kafka_header_get_last(h, "us.op", &op, &opl);
            rd_kafka_header_get_last(h, "us.seq", &seq, &seql);
            snprintf(keys[got], sizeof keys[got], "%.*s", (int)m->key_len, (const char *)m->key);
            snprintf(pairs[got], sizeof pairs[got], "%s:%.*s:%.*s", keys[got], (int)opl,
                     (const char *)op, (int)seql, (const char *)seq);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(tp);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    assert_int_equal(got, n);
    qsort(pairs, (size_t)got, sizeof pairs[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (int64_t i = 0; i < got; i++)
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", pairs[i]);
}

static void start(fx *f, uint64_t lsn)
{
    assert_int_equal(relay_emit_relation(f->e, relation(), f->err, sizeof f->err), RELAY_EMIT_OK);
    assert_int_equal(relay_emit_begin(f->e, lsn, 0, 1, f->err, sizeof f->err), RELAY_EMIT_OK);
}

/* An update that changes the key is a tombstone of the old key, then the
 * row: with room for one record, the row finds the queue full. The repeat
 * sends the row only. */
static void test_key_change_repeat_sends_each_record_once(void **state)
{
    fx f;
    relay_pgoutput_value oldv[2], newv[2];
    fx_init(&f, 8, 0);
    start(&f, 100);
    text(&oldv[0], "a");
    text(&oldv[1], NULL);
    text(&newv[0], "b");
    text(&newv[1], "b@example.com");
    relay_pgoutput_msg m = {.type = RELAY_PGOUTPUT_UPDATE};
    m.u.update.relid = OID;
    m.u.update.old_kind = 'K';
    m.u.update.oldtup = (relay_pgoutput_tuple){2, oldv};
    m.u.update.newtup = (relay_pgoutput_tuple){2, newv};
    assert_int_equal(relay_emit_change(f.e, &m, f.err, sizeof f.err), RELAY_EMIT_FULL);
    assert_int_equal(RELAY_STAT_GET(&f.st, rows_total), 1); /* the tombstone */
    int rc, repeats = 0;
    while ((rc = relay_emit_change(f.e, &m, f.err, sizeof f.err)) == RELAY_EMIT_FULL) {
        serve(&f);
        assert_true(++repeats < 200);
    }
    assert_int_equal(rc, RELAY_EMIT_OK);
    assert_int_equal(RELAY_STAT_GET(&f.st, rows_total), 2);
    assert_int_equal(relay_emit_commit(f.e, 100, 108, f.err, sizeof f.err), RELAY_EMIT_OK);
    assert_int_equal(relay_kafka_flush(f.k, 10000, relay_emit_on_delivery, f.e), 0);
    uint64_t wm = 0;
    relay_ring_advance(f.ring, &wm);
    assert_int_equal(wm, 108);
    assert_int_equal(RELAY_STAT_GET(&f.st, rows_acked_total), 2);
    assert_int_equal(relay_test_records(relay_kafka_handle(f.k), TOPIC, PARTITIONS), 2);
    char seen[256];
    ops_and_seqs(&f, 2, seen, sizeof seen);
    assert_string_equal(seen, "a:d:0 b:u:1"); /* tombstone of a, then b's row */
    fx_free(&f);
}

/* A truncate is one marker per partition: each repeat after a full queue
 * sends the markers not yet queued, and no marker twice. */
static void test_truncate_repeat_sends_each_marker_once(void **state)
{
    fx f;
    uint8_t relids[4] = {0, 0, OID >> 8, OID & 0xff};
    fx_init(&f, 8, 0);
    start(&f, 200);
    relay_pgoutput_msg m = {.type = RELAY_PGOUTPUT_TRUNCATE};
    m.u.truncate.nrelids = 1;
    m.u.truncate.relids = relids;
    int rc, fulls = 0;
    while ((rc = relay_emit_change(f.e, &m, f.err, sizeof f.err)) == RELAY_EMIT_FULL) {
        serve(&f);
        assert_true(++fulls < 800);
    }
    assert_int_equal(rc, RELAY_EMIT_OK);
    assert_true(fulls >= PARTITIONS - 1); /* one record at a time */
    assert_int_equal(RELAY_STAT_GET(&f.st, rows_total), PARTITIONS);
    assert_int_equal(relay_emit_commit(f.e, 200, 208, f.err, sizeof f.err), RELAY_EMIT_OK);
    assert_int_equal(relay_kafka_flush(f.k, 10000, relay_emit_on_delivery, f.e), 0);
    assert_int_equal(relay_test_records(relay_kafka_handle(f.k), TOPIC, PARTITIONS), PARTITIONS);
    fx_free(&f);
}

/* The watermark: a transaction with a record still waiting for room keeps
 * the flushed position before it, whatever the reports of the others. */
static void test_watermark_waits_for_a_record_not_yet_queued(void **state)
{
    fx f;
    relay_pgoutput_value v[2];
    fx_init(&f, 8, 0);
    start(&f, 100);
    text(&v[0], "a");
    text(&v[1], "a@example.com");
    relay_pgoutput_msg m = {.type = RELAY_PGOUTPUT_INSERT};
    m.u.insert.relid = OID;
    m.u.insert.newtup = (relay_pgoutput_tuple){2, v};
    assert_int_equal(relay_emit_change(f.e, &m, f.err, sizeof f.err), RELAY_EMIT_OK);
    assert_int_equal(relay_emit_commit(f.e, 100, 108, f.err, sizeof f.err), RELAY_EMIT_OK);
    assert_int_equal(relay_emit_begin(f.e, 200, 0, 2, f.err, sizeof f.err), RELAY_EMIT_OK);
    text(&v[0], "b");
    assert_int_equal(relay_emit_change(f.e, &m, f.err, sizeof f.err), RELAY_EMIT_FULL);
    assert_int_equal(relay_kafka_flush(f.k, 10000, relay_emit_on_delivery, f.e), 0);
    uint64_t wm = 0;
    relay_ring_advance(f.ring, &wm);
    assert_int_equal(wm, 108); /* 200 is open and its record not in Kafka */
    assert_int_equal(relay_emit_change(f.e, &m, f.err, sizeof f.err), RELAY_EMIT_OK);
    assert_int_equal(relay_emit_commit(f.e, 200, 208, f.err, sizeof f.err), RELAY_EMIT_OK);
    relay_ring_advance(f.ring, &wm);
    assert_int_equal(wm, 108); /* committed, not yet acknowledged */
    assert_int_equal(relay_kafka_flush(f.k, 10000, relay_emit_on_delivery, f.e), 0);
    relay_ring_advance(f.ring, &wm);
    assert_int_equal(wm, 208);
    assert_int_equal(relay_test_records(relay_kafka_handle(f.k), TOPIC, PARTITIONS), 2);
    fx_free(&f);
}

/* A full ring: Begin says so, and works once a transaction has left. */
static void test_full_ring_is_reported(void **state)
{
    fx f;
    fx_init(&f, 1, 0);
    start(&f, 100);
    assert_int_equal(relay_emit_commit(f.e, 100, 108, f.err, sizeof f.err), RELAY_EMIT_OK);
    assert_int_equal(relay_emit_begin(f.e, 200, 0, 2, f.err, sizeof f.err), RELAY_EMIT_FULL);
    assert_false(relay_emit_in_txn(f.e));
    uint64_t wm = 0;
    relay_ring_advance(f.ring, &wm);
    assert_int_equal(wm, 108);
    assert_int_equal(relay_emit_begin(f.e, 200, 0, 2, f.err, sizeof f.err), RELAY_EMIT_OK);
    fx_free(&f);
}

/* An unreachable registry: RELAY_EMIT_RETRY leaves the relation with the
 * caller, who passes it again (the sanitizer build checks nothing leaks or
 * is freed twice). */
static void test_registry_retry_keeps_the_relation(void **state)
{
    fx f;
    fx_init(&f, 8, 2);
    relay_pgoutput_relation *rel = relation();
    assert_int_equal(relay_emit_relation(f.e, rel, f.err, sizeof f.err), RELAY_EMIT_RETRY);
    assert_int_equal(relay_emit_relation(f.e, rel, f.err, sizeof f.err), RELAY_EMIT_RETRY);
    assert_int_equal(relay_emit_relation(f.e, rel, f.err, sizeof f.err), RELAY_EMIT_OK);
    assert_int_equal(RELAY_STAT_GET(&f.st, schema_registrations_total), 1);
    assert_int_equal(f.calls, 3);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_change_repeat_sends_each_record_once),
        cmocka_unit_test(test_truncate_repeat_sends_each_marker_once),
        cmocka_unit_test(test_watermark_waits_for_a_record_not_yet_queued),
        cmocka_unit_test(test_full_ring_is_reported),
        cmocka_unit_test(test_registry_retry_keeps_the_relation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
