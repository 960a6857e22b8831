/* con_marks: see con_marks.h. */
#include "con_marks.h"
#include "us_log.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PARTS 1024

typedef struct dlq_state {
    int64_t next[MAX_PARTS]; /* next offset to read per partition; -1 = from the start */
    int n_parts;
    uint64_t *set; /* open addressing of 64-bit hashes (0 = empty) */
    size_t cap, used;
} dlq_state;

struct con_marks {
    rd_kafka_t *rk;
    int timeout_ms;
    int brokers;
    dlq_state dlq;
};

/* librdkafka logs every refused connection; the collector reports Kafka as
 * down itself, so only debug here. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    us_debug("kafka %s: %s", fac, buf);
    (void)level;
}

con_marks *con_marks_new(const char *bootstrap, const char *const *extra, int timeout_ms, char *err,
                         size_t errlen)
{
    char group[64];
    snprintf(group, sizeof group, "userstream-console-%d", (int)getpid());
    con_marks *m = calloc(1, sizeof *m);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!m || !conf)
        goto fail;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, errlen) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "userstream-console", err, errlen) !=
            RD_KAFKA_CONF_OK ||
        /* assign() needs a group id; the group is never joined (no subscribe)
         * and nothing is committed. */
        rd_kafka_conf_set(conf, "group.id", group, err, errlen) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, errlen) != RD_KAFKA_CONF_OK)
        goto fail;
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], err, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (!(m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen)))
        goto fail;
    m->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    for (int i = 0; i < MAX_PARTS; i++)
        m->dlq.next[i] = -1;
    return m;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(m);
    return NULL;
}

void con_marks_free(con_marks *m)
{
    if (!m)
        return;
    if (m->rk) {
        rd_kafka_consumer_close(m->rk);
        rd_kafka_destroy(m->rk);
    }
    free(m->dlq.set);
    free(m);
}

int con_marks_brokers(const con_marks *m)
{
    return m->brokers;
}

/* Partition count of topic from a metadata request. */
static int partitions(con_marks *m, const char *topic, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(m->rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(m->rk, 0, t, &md, m->timeout_ms);
    rd_kafka_topic_destroy(t);
    if (e) {
        snprintf(err, errlen, "metadata: %s", rd_kafka_err2str(e));
        m->brokers = 0;
        return -1;
    }
    int n = -1;
    m->brokers = md->broker_cnt;
    if (md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    else
        snprintf(err, errlen, "topic %s: %s", topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not in metadata");
    rd_kafka_metadata_destroy(md);
    return n > MAX_PARTS ? MAX_PARTS : n;
}

json_t *con_marks_topic(con_marks *m, const char *topic, char *err, size_t errlen)
{
    int n = partitions(m, topic, err, errlen);
    if (n < 0)
        return NULL;
    json_t *parts = json_array();
    int64_t slo = 0, shi = 0;
    for (int p = 0; p < n; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(m->rk, topic, p, &lo, &hi, m->timeout_ms);
        if (e) {
            snprintf(err, errlen, "watermarks of %s [%d]: %s", topic, p, rd_kafka_err2str(e));
            json_decref(parts);
            return NULL;
        }
        json_array_append_new(parts, json_pack("{s:i,s:I,s:I}", "partition", p, "low",
                                               (json_int_t)lo, "high", (json_int_t)hi));
        slo += lo;
        shi += hi;
    }
    return json_pack("{s:s,s:o,s:I,s:I,s:I}", "topic", topic, "partitions", parts, "low",
                     (json_int_t)slo, "high", (json_int_t)shi, "messages", (json_int_t)(shi - slo));
}

static uint64_t fnv1a(const void *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ULL;
    return h ? h : 1;
}

static void set_add(dlq_state *d, uint64_t h)
{
    if (d->used * 2 >= d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s)
            return;
        for (size_t i = 0; i < d->cap; i++)
            for (size_t j = d->set[i] % cap; d->set[i]; j = (j + 1) % cap)
                if (!s[j]) {
                    s[j] = d->set[i];
                    break;
                }
        free(d->set);
        d->set = s;
        d->cap = cap;
    }
    for (size_t j = h % d->cap;; j = (j + 1) % d->cap) {
        if (d->set[j] == h)
            return;
        if (!d->set[j]) {
            d->set[j] = h;
            d->used++;
            return;
        }
    }
}

/* The key a dead letter counts under: its us.dlq.source header, else its
 * own partition/offset. */
static void dlq_take(dlq_state *d, const rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t vl = 0;
    char own[64];
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(hdrs, "us.dlq.source", &v, &vl) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        v) {
        set_add(d, fnv1a(v, vl));
        return;
    }
    int n = snprintf(own, sizeof own, "%d/%lld", (int)msg->partition, (long long)msg->offset);
    set_add(d, fnv1a(own, (size_t)n) ^ 0x5bd1e995); /* apart from header values */
}

int64_t con_marks_dlq_distinct(con_marks *m, const char *topic, int max_msgs, char *err,
                               size_t errlen)
{
    dlq_state *d = &m->dlq;
    json_t *marks = con_marks_topic(m, topic, err, errlen);
    if (!marks)
        return -1;
    size_t i;
    json_t *p;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(4);
    int want = 0;
    json_array_foreach(json_object_get(marks, "partitions"), i, p)
    {
        int part = (int)json_integer_value(json_object_get(p, "partition"));
        int64_t lo = json_integer_value(json_object_get(p, "low"));
        int64_t hi = json_integer_value(json_object_get(p, "high"));
        int64_t from = d->next[part] < lo ? lo : d->next[part];
        if (from < hi) {
            rd_kafka_topic_partition_list_add(tl, topic, part)->offset = from;
            want++;
        }
    }
    json_decref(marks);
    if (want && !rd_kafka_assign(m->rk, tl)) {
        int eof = 0;
        for (int k = 0; k < max_msgs && eof < want; k++) {
            rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, m->timeout_ms);
            if (!msg)
                break;
            if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                eof++;
            else if (!msg->err && msg->partition >= 0 && msg->partition < MAX_PARTS) {
                dlq_take(d, msg);
                d->next[msg->partition] = msg->offset + 1;
            }
            rd_kafka_message_destroy(msg);
        }
        rd_kafka_assign(m->rk, NULL);
    }
    rd_kafka_topic_partition_list_destroy(tl);
    return (int64_t)d->used;
}
