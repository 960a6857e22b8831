/* relay_kafka: see relay_kafka.h. */
#include "relay_kafka.h"

#include "us_creds.h"
#include "us_err.h"
#include "us_log.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct relay_kafka {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *topic;
    char *bootstrap;
    char *client_file;
    int pipefd[2];
    relay_kafka_on_delivery cb; /* of the poll or flush in progress, NULL outside one */
    void *ud;
    bool fatal;
    char fatal_msg[512];
    bool too_large;
    char too_large_msg[512];
};

/* The reason a record can never be delivered: its key and size, not its value. */
static void note_too_large(relay_kafka *k, const void *key, size_t keylen, size_t bytes,
                           const char *why)
{
    if (k->too_large)
        return;
    k->too_large = true;
    snprintf(
        k->too_large_msg, sizeof k->too_large_msg,
        "record of key %.*s (%zu bytes) is larger than Kafka takes (%s): it can never be "
        "delivered, so "
        "the relay stops here without confirming it; raise the limits (message.max.bytes of the "
        "producer, max.message.bytes of the topic) or change the row",
        (int)(keylen > 64 ? 64 : keylen), key ? (const char *)key : "", bytes, why);
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    relay_kafka *k = opaque;
    bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
              rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_PERSISTED;
    if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        note_too_large(k, m->key, m->key_len, m->len, rd_kafka_err2str(m->err));
    if (k->cb)
        k->cb(k->ud, (uint64_t)(uintptr_t)m->_private, ok, m->len + m->key_len,
              ok ? NULL : rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    relay_kafka *k = opaque;
    char buf[256];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        snprintf(k->fatal_msg, sizeof k->fatal_msg, "fatal Kafka error: %s", buf);
        k->fatal = true;
        us_error("%s", k->fatal_msg);
        return;
    }
    /* Broker down, transport errors: librdkafka retries them itself. */
    us_warn("kafka: %s: %s", rd_kafka_err2name(err), reason);
}

static int set(rd_kafka_conf_t *c, const char *key, const char *val, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(c, key, val, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka config %s=%s: %s", key, val, e);
        return -1;
    }
    return 0;
}

static int setl(rd_kafka_conf_t *c, const char *key, long v, char *err, size_t errlen)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    return set(c, key, buf, err, errlen);
}

/* Settings the relay's guarantee rests on (at-least-once, per-key order):
 * build_conf sets them, and no override may change them. */
static const char *const fixed_keys[] = {"acks",
                                         "request.required.acks",
                                         "enable.idempotence",
                                         "partitioner",
                                         "enable.gapless.guarantee",
                                         "max.in.flight.requests.per.connection",
                                         "max.in.flight",
                                         "message.send.max.retries",
                                         "retries",
                                         "message.timeout.ms",
                                         "delivery.timeout.ms"};

static const char *fixed_key(const char *key)
{
    for (size_t i = 0; i < sizeof fixed_keys / sizeof fixed_keys[0]; i++)
        if (strcmp(key, fixed_keys[i]) == 0)
            return fixed_keys[i];
    return NULL;
}

/* key, value, ..., NULL: each pair goes to librdkafka unchanged (like kcat
 * -X), except those that could weaken delivery. */
static int set_extra(rd_kafka_conf_t *c, const char *const *extra, char *err, size_t errlen)
{
    for (size_t i = 0; extra[i] && extra[i + 1]; i += 2) {
        if (fixed_key(extra[i]))
            return us_errf(err, errlen,
                           "US_RELAY_KAFKA_CONF: %s is the relay's own (its delivery guarantee "
                           "rests on it; message.timeout.ms is US_RELAY_MESSAGE_TIMEOUT_MS)",
                           extra[i]);
        if (set(c, extra[i], extra[i + 1], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* The client file: librdkafka "key=value" lines ('#' comments), as kcat -F
 * reads them (us_creds). It holds a password: it must not be readable by
 * others, and no value from it is ever put in a message. */
static int set_file(rd_kafka_conf_t *c, const char *path, char *err, size_t errlen)
{
    enum { MAX_PAIRS = 32 };
    char text[4096], e[512];
    const char *pairs[2 * MAX_PAIRS + 1];
    int rc = 0;
    if (us_creds_read(path, text, sizeof text, e, sizeof e) < 0) {
        snprintf(err, errlen, "Kafka client file %s", e); /* e names the path */
        return -1;
    }
    if (us_creds_properties(text, pairs, 0, MAX_PAIRS, e, sizeof e) < 0) {
        snprintf(err, errlen, "Kafka client file %s: %s", path, e);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && pairs[i]; i += 2)
        if (fixed_key(pairs[i])) {
            snprintf(err, errlen, "Kafka client file %s: %s is the relay's own", path, pairs[i]);
            rc = -1;
        } else if (rd_kafka_conf_set(c, pairs[i], pairs[i + 1], e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "Kafka client file %s: %s: %s", path, pairs[i],
                     strstr(pairs[i], "password") ? "invalid value" : e);
            rc = -1;
        }
    memset(text, 0, sizeof text);
    return rc;
}

static rd_kafka_conf_t *build_conf(relay_kafka *k, const relay_kafka_conf *cf, char *err,
                                   size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if ((cf->mock_brokers > 0 ? setl(c, "test.mock.num.brokers", cf->mock_brokers, err, errlen)
                              : set(c, "bootstrap.servers", cf->bootstrap, err, errlen)) < 0 ||
        set(c, "enable.idempotence", "true", err, errlen) < 0 ||
        set(c, "acks", "all", err, errlen) < 0 ||
        set(c, "partitioner", "murmur2_random", err, errlen) < 0 ||
        setl(c, "linger.ms", cf->linger_ms, err, errlen) < 0 ||
        setl(c, "queue.buffering.max.messages", cf->queue_max_messages, err, errlen) < 0 ||
        setl(c, "queue.buffering.max.kbytes", cf->queue_max_kbytes, err, errlen) < 0 ||
        setl(c, "message.timeout.ms", cf->message_timeout_ms, err, errlen) < 0 ||
        set(c, "compression.codec", "lz4", err, errlen) < 0 ||
        /* librdkafka 2.0.2 leaves Nagle on (the Java client sets TCP_NODELAY):
         * small produce requests then wait for delayed ACKs, tens of ms. */
        set(c, "socket.nagle.disable", "true", err, errlen) < 0 ||
        (cf->extra && set_extra(c, cf->extra, err, errlen) < 0) ||
        (cf->client_file && *cf->client_file && set_file(c, cf->client_file, err, errlen) < 0)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_dr_msg_cb(c, on_dr);
    rd_kafka_conf_set_error_cb(c, on_error);
    return c;
}

relay_kafka *relay_kafka_new(const relay_kafka_conf *cf, char *err, size_t errlen)
{
    char e[512];
    relay_kafka *k = calloc(1, sizeof *k);
    if (!k || !(k->topic = strdup(cf->topic)) ||
        (cf->bootstrap && !(k->bootstrap = strdup(cf->bootstrap))) ||
        (cf->client_file && !(k->client_file = strdup(cf->client_file)))) {
        if (k) {
            free(k->topic);
            free(k->bootstrap);
        }
        free(k);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->pipefd[0] = k->pipefd[1] = -1;
    rd_kafka_conf_t *c = build_conf(k, cf, err, errlen);
    if (!c)
        goto fail;
    if (!(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e))) {
        rd_kafka_conf_destroy(c);
        snprintf(err, errlen, "rd_kafka_new: %s", e);
        goto fail;
    }
    k->rkt = rd_kafka_topic_new(k->rk, cf->topic, NULL);
    if (!k->rkt || pipe2(k->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "kafka: cannot set up topic handle or event pipe");
        goto fail;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(k->rk);
    rd_kafka_queue_io_event_enable(q, k->pipefd[1], "1", 1);
    rd_kafka_queue_destroy(q);
    return k;
fail:
    relay_kafka_free(k);
    return NULL;
}

void relay_kafka_free(relay_kafka *k)
{
    if (!k)
        return;
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk) {
        rd_kafka_queue_t *q = rd_kafka_queue_get_main(k->rk);
        rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(k->rk);
    }
    for (int i = 0; i < 2; i++)
        if (k->pipefd[i] >= 0)
            close(k->pipefd[i]);
    free(k->topic);
    free(k->bootstrap);
    free(k);
}

int relay_kafka_produce(relay_kafka *k, const void *key, size_t keylen, const void *value,
                        size_t vlen, const relay_header *hdrs, size_t nhdrs, int32_t partition,
                        uint64_t txn_id, char *err, size_t errlen)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(nhdrs);
    for (size_t i = 0; i < nhdrs; i++)
        rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value, -1);
    rd_kafka_resp_err_t e =
        rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt),
                          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, keylen),
                          RD_KAFKA_V_VALUE((void *)value, value ? vlen : 0), RD_KAFKA_V_HEADERS(h),
                          RD_KAFKA_V_OPAQUE((void *)(uintptr_t)txn_id), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return RELAY_KAFKA_QUEUED; /* the headers now belong to the message */
    rd_kafka_headers_destroy(h);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return RELAY_KAFKA_FULL;
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        note_too_large(k, key, keylen, vlen + keylen, "message.max.bytes of the producer");
        snprintf(err, errlen, "%s", k->too_large_msg);
        return RELAY_KAFKA_TOO_LARGE;
    }
    snprintf(err, errlen, "produce: %s", rd_kafka_err2str(e));
    return RELAY_KAFKA_ERROR;
}

int relay_kafka_poll(relay_kafka *k, int timeout_ms, relay_kafka_on_delivery cb, void *ud)
{
    char drain[64];
    while (read(k->pipefd[0], drain, sizeof drain) > 0) {
    }
    k->cb = cb;
    k->ud = ud;
    int n = rd_kafka_poll(k->rk, timeout_ms);
    k->cb = NULL;
    k->ud = NULL;
    return n;
}

int relay_kafka_event_fd(const relay_kafka *k)
{
    return k->pipefd[0];
}

int relay_kafka_flush(relay_kafka *k, int timeout_ms, relay_kafka_on_delivery cb, void *ud)
{
    k->cb = cb;
    k->ud = ud;
    rd_kafka_flush(k->rk, timeout_ms);
    relay_kafka_poll(k, 0, cb, ud);
    return rd_kafka_outq_len(k->rk) > 0 ? -1 : 0;
}

int relay_kafka_outq(const relay_kafka *k)
{
    return rd_kafka_outq_len(k->rk);
}

bool relay_kafka_too_large(relay_kafka *k, char *err, size_t errlen)
{
    if (k->too_large)
        snprintf(err, errlen, "%s", k->too_large_msg);
    return k->too_large;
}

bool relay_kafka_fatal(relay_kafka *k, char *err, size_t errlen)
{
    if (k->fatal)
        snprintf(err, errlen, "%s", k->fatal_msg);
    return k->fatal;
}

int relay_kafka_partition_count(relay_kafka *k, int timeout_ms, int32_t *n, char *err,
                                size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, k->rkt, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errlen, "metadata of topic %s: %s", k->topic,
                 rd_kafka_err2str(e                    ? e
                                  : md->topic_cnt == 1 ? md->topics[0].err
                                                       : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    *n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return 0;
}

void *relay_kafka_handle(relay_kafka *k)
{
    return k->rk;
}

/* The us.lsn header of one message, 0 when absent or malformed. */
static uint64_t header_lsn(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;
    char buf[32];
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, "us.lsn", &v, &n) ||
        n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    unsigned long long lsn = strtoull(buf, &end, 10);
    return *end ? 0 : (uint64_t)lsn;
}

/* Reads the last message of every partition with a throw-away consumer
 * (assign, no group offsets): the restart-duplicate counter's baseline. */
int relay_kafka_last_lsn(relay_kafka *k, int timeout_ms, uint64_t *lsn, char *err, size_t errlen)
{
    char e[512];
    int32_t parts;
    const char *bootstrap = k->bootstrap;
    rd_kafka_mock_cluster_t *mock = rd_kafka_handle_mock_cluster(k->rk);
    *lsn = 0;
    if (mock)
        bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
    if (!bootstrap)
        return 0;
    if (relay_kafka_partition_count(k, timeout_ms, &parts, err, errlen) < 0)
        return -1;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (set(c, "bootstrap.servers", bootstrap, err, errlen) < 0 ||
        set(c, "group.id", "userstream-relay-tail", err, errlen) < 0 ||
        set(c, "enable.auto.commit", "false", err, errlen) < 0 ||
        (k->client_file && *k->client_file && !mock &&
         set_file(c, k->client_file, err, errlen) < 0)) {
        rd_kafka_conf_destroy(c);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(err, errlen, "tail consumer: %s", e);
        return -1;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(parts);
    int wanted = 0;
    for (int32_t p = 0; p < parts; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, k->topic, p, &lo, &hi, timeout_ms) == 0 &&
            hi > lo) {
            rd_kafka_topic_partition_list_add(tp, k->topic, p)->offset = hi - 1;
            wanted++;
        }
    }
    int rc = 0;
    if (wanted > 0 && rd_kafka_assign(rk, tp) == 0) {
        uint64_t deadline = (uint64_t)timeout_ms;
        for (uint64_t waited = 0; wanted > 0 && waited < deadline; waited += 100) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
            if (!m)
                continue;
            if (!m->err) {
                uint64_t l = header_lsn(m);
                if (l > *lsn)
                    *lsn = l;
                wanted--;
            }
            rd_kafka_message_destroy(m);
        }
        if (wanted > 0) {
            snprintf(err, errlen, "tail consumer: %d partitions did not answer", wanted);
            rc = -1;
        }
    }
    rd_kafka_topic_partition_list_destroy(tp);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
