/* con_kafka: the handle, the cluster view, end offsets and the Spark lag.
 * See con_kafka.h. */
#include "con_kafka_int.h"
#include "con_checkpoint.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The console reports errors through its answers; librdkafka's own log
 * lines (a broker down, reconnects) would only repeat them on stderr. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {}

rd_kafka_conf_t *con_kafka_conf(const con_kafka *k, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *base[] = {"bootstrap.servers",
                          k->bootstrap,
                          "client.id",
                          "userstream-console",
                          "enable.auto.commit",
                          "false",
                          "enable.auto.offset.store",
                          "false",
                          "socket.timeout.ms",
                          "10000",
                          "log.connection.close",
                          "false",
                          "topic.metadata.refresh.interval.ms",
                          "30000",
                          NULL};
    for (size_t i = 0; base[i]; i += 2) {
        if (rd_kafka_conf_set(conf, base[i], base[i + 1], err, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    for (size_t i = 0; k->conf && k->conf[i]; i += 2) {
        if (!k->conf[i + 1]) {
            snprintf(err, errlen, "Kafka setting %s has no value", k->conf[i]);
            goto fail;
        }
        if (rd_kafka_conf_set(conf, k->conf[i], k->conf[i + 1], err, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static char **copy_pairs(const char *const *extra)
{
    size_t n = 0;
    while (extra && extra[n])
        n++;
    char **out = calloc(n + 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++) {
        if (!(out[i] = strdup(extra[i]))) {
            for (size_t k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return NULL;
        }
    }
    return out;
}

con_kafka *con_kafka_new(const char *bootstrap, const char *const *extra_conf, int timeout_ms,
                         char *err, size_t errlen)
{
    if (!bootstrap || !*bootstrap) {
        snprintf(err, errlen, "no Kafka bootstrap address");
        return NULL;
    }
    con_kafka *k = calloc(1, sizeof(*k));
    if (!k || !(k->bootstrap = strdup(bootstrap)) || !(k->conf = copy_pairs(extra_conf))) {
        snprintf(err, errlen, "out of memory");
        con_kafka_free(k);
        return NULL;
    }
    k->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    rd_kafka_conf_t *conf = con_kafka_conf(k, err, errlen);
    if (!conf || !(k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen))) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        con_kafka_free(k);
        return NULL;
    }
    return k;
}

void con_kafka_free(con_kafka *k)
{
    if (!k)
        return;
    if (k->rk)
        rd_kafka_destroy(k->rk);
    for (size_t i = 0; k->conf && k->conf[i]; i++) {
        memset(k->conf[i], 0, strlen(k->conf[i])); /* may hold a password */
        free(k->conf[i]);
    }
    free(k->conf);
    free(k->bootstrap);
    free(k);
}

rd_kafka_event_t *con_kafka_admin_wait(const con_kafka *k, rd_kafka_queue_t *q, char *err,
                                       size_t errlen)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, k->timeout_ms + 1000);
    if (!ev) {
        snprintf(err, errlen, "Kafka admin request timed out");
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "Kafka: %s", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

int con_kafka_list_offsets(const con_kafka *k, rd_kafka_topic_partition_list_t *parts,
                           int64_t which, char *err, size_t errlen)
{
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = which;
    if (parts->cnt == 0)
        return 0;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(k->rk, parts, k->timeout_ms);
    if (e) {
        snprintf(err, errlen, "Kafka offsets: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* Valid UTF-8 without control characters other than tab and newlines. */
static bool printable_utf8(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (n == 0 || i + n > len || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        }
        i += n;
    }
    return true;
}

json_t *con_kafka_hex_json(const void *p, size_t len, size_t max_hex)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = len < max_hex ? len : max_hex;
    char *s = malloc(2 * n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[((const unsigned char *)p)[i] >> 4];
        s[2 * i + 1] = digits[((const unsigned char *)p)[i] & 15];
    }
    json_t *out = json_stringn(s, 2 * n);
    free(s);
    return out;
}

json_t *con_kafka_bytes_json(const void *p, size_t len, size_t max_hex)
{
    if (!p)
        return json_null();
    if (printable_utf8(p, len)) {
        json_t *t = json_stringn(p, len); /* NULL on overlong forms jansson refuses */
        if (t)
            return json_pack("{s:o}", "text", t);
    }
    json_t *out = json_pack("{s:o}", "hex", con_kafka_hex_json(p, len, max_hex));
    if (out && len > max_hex)
        json_object_set_new(out, "truncated", json_true());
    return out;
}

static json_t *int_array(const int32_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *err_json(rd_kafka_resp_err_t e)
{
    return e ? json_string(rd_kafka_err2str(e)) : json_null();
}

static json_t *partition_json(const rd_kafka_metadata_partition_t *p)
{
    return json_pack("{s:i,s:i,s:o,s:o,s:n,s:n,s:o}", "partition", p->id, "leader", p->leader,
                     "replicas", int_array(p->replicas, p->replica_cnt), "isr",
                     int_array(p->isrs, p->isr_cnt), "low", "high", "error", err_json(p->err));
}

static json_t *topic_json(const rd_kafka_metadata_topic_t *t)
{
    json_t *parts = json_array();
    for (int i = 0; parts && i < t->partition_cnt; i++)
        json_array_append_new(parts, partition_json(&t->partitions[i]));
    bool internal = t->topic[0] == '_' && t->topic[1] == '_';
    return json_pack("{s:s,s:b,s:o,s:o,s:n,s:n,s:n,s:n}", "name", t->topic, "internal", internal,
                     "error", err_json(t->err), "partitions", parts, "messages", "size_bytes",
                     "config", "config_error");
}

static json_t *brokers_json(const rd_kafka_metadata_t *md)
{
    json_t *b = json_array();
    for (int i = 0; b && i < md->broker_cnt; i++)
        json_array_append_new(b, json_pack("{s:i,s:s,s:i}", "id", md->brokers[i].id, "host",
                                           md->brokers[i].host, "port", md->brokers[i].port));
    return b;
}

/* Low and high watermarks of every listed partition into the topics' JSON,
 * with two ListOffsets rounds for the whole cluster. */
static void fill_watermarks(con_kafka *k, json_t *topics)
{
    rd_kafka_topic_partition_list_t *lo = rd_kafka_topic_partition_list_new(64);
    size_t ti;
    json_t *t;
    json_array_foreach(topics, ti, t)
    {
        size_t pi;
        json_t *p;
        json_array_foreach(json_object_get(t, "partitions"), pi, p)
            rd_kafka_topic_partition_list_add(
                lo, json_string_value(json_object_get(t, "name")),
                (int32_t)json_integer_value(json_object_get(p, "partition")));
    }
    rd_kafka_topic_partition_list_t *hi = rd_kafka_topic_partition_list_copy(lo);
    char e1[256], e2[256];
    bool ok_lo = con_kafka_list_offsets(k, lo, RD_KAFKA_OFFSET_BEGINNING, e1, sizeof(e1)) == 0;
    bool ok_hi = con_kafka_list_offsets(k, hi, RD_KAFKA_OFFSET_END, e2, sizeof(e2)) == 0;
    int idx = 0;
    json_array_foreach(topics, ti, t)
    {
        size_t pi;
        json_t *p;
        json_int_t sum = 0;
        bool all = ok_lo && ok_hi;
        json_array_foreach(json_object_get(t, "partitions"), pi, p)
        {
            rd_kafka_topic_partition_t *l = &lo->elems[idx], *h = &hi->elems[idx];
            idx++;
            if (!ok_lo || !ok_hi || l->err || h->err || l->offset < 0 || h->offset < 0) {
                all = false;
                continue;
            }
            json_object_set_new(p, "low", json_integer(l->offset));
            json_object_set_new(p, "high", json_integer(h->offset));
            sum += h->offset - l->offset;
        }
        if (all)
            json_object_set_new(t, "messages", json_integer(sum));
    }
    rd_kafka_topic_partition_list_destroy(lo);
    rd_kafka_topic_partition_list_destroy(hi);
}

json_t *con_kafka_cluster(con_kafka *k, char *err, size_t errlen)
{
    const rd_kafka_metadata_t *md;
    rd_kafka_poll(k->rk, 0);
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 1, NULL, &md, k->timeout_ms);
    if (e) {
        snprintf(err, errlen, "Kafka metadata: %s", rd_kafka_err2str(e));
        return NULL;
    }
    json_t *topics = json_array();
    for (int i = 0; topics && i < md->topic_cnt; i++)
        json_array_append_new(topics, topic_json(&md->topics[i]));
    int32_t controller = rd_kafka_controllerid(k->rk, k->timeout_ms);
    char *cluster_id = rd_kafka_clusterid(k->rk, k->timeout_ms);
    json_t *out = json_pack("{s:o,s:o,s:o,s:o}", "brokers", brokers_json(md), "controller_id",
                            controller >= 0 ? json_integer(controller) : json_null(), "cluster_id",
                            cluster_id ? json_string(cluster_id) : json_null(), "topics", topics);
    /* The broker whose log.dirs give the sizes: one broker on our stack. */
    int32_t broker = md->broker_cnt > 0 ? md->brokers[0].id : -1;
    if (cluster_id)
        rd_kafka_mem_free(k->rk, cluster_id);
    rd_kafka_metadata_destroy(md);
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fill_watermarks(k, topics);
    con_kafka_fill_configs(k, topics, broker);
    return out;
}

/* The partition count of one topic (metadata of that topic only). */
static int topic_partitions(con_kafka *k, const char *topic, char *err, size_t errlen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    if (!rkt) {
        snprintf(err, errlen, "topic %.200s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, rkt, &md, k->timeout_ms);
    int n = -1;
    if (e)
        snprintf(err, errlen, "Kafka metadata: %s", rd_kafka_err2str(e));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        snprintf(err, errlen, "topic %.200s: %s", topic,
                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

json_t *con_kafka_end_offsets(con_kafka *k, const char *topic, char *err, size_t errlen)
{
    if (!topic || !*topic) {
        snprintf(err, errlen, "no topic");
        return NULL;
    }
    rd_kafka_poll(k->rk, 0);
    int n = topic_partitions(k, topic, err, errlen);
    if (n < 0)
        return NULL;
    rd_kafka_topic_partition_list_t *lo = rd_kafka_topic_partition_list_new(n ? n : 1);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(lo, topic, i);
    rd_kafka_topic_partition_list_t *hi = rd_kafka_topic_partition_list_copy(lo);
    json_t *out = NULL;
    if (con_kafka_list_offsets(k, lo, RD_KAFKA_OFFSET_BEGINNING, err, errlen) == 0 &&
        con_kafka_list_offsets(k, hi, RD_KAFKA_OFFSET_END, err, errlen) == 0) {
        json_t *parts = json_array();
        json_int_t sum_lo = 0, sum_hi = 0;
        for (int i = 0; i < n && parts; i++) {
            const rd_kafka_topic_partition_t *l = &lo->elems[i], *h = &hi->elems[i];
            if (l->err || h->err) {
                snprintf(err, errlen, "partition %d: %s", i,
                         rd_kafka_err2str(l->err ? l->err : h->err));
                json_decref(parts);
                parts = NULL;
                break;
            }
            json_array_append_new(parts,
                                  json_pack("{s:i,s:I,s:I}", "partition", i, "low",
                                            (json_int_t)l->offset, "high", (json_int_t)h->offset));
            sum_lo += l->offset;
            sum_hi += h->offset;
        }
        if (parts)
            out = json_pack("{s:s,s:o,s:I,s:I,s:I}", "topic", topic, "partitions", parts, "low",
                            sum_lo, "high", sum_hi, "messages", sum_hi - sum_lo);
    }
    rd_kafka_topic_partition_list_destroy(lo);
    rd_kafka_topic_partition_list_destroy(hi);
    return out;
}

/* The lag of one checkpointed topic against its end offsets. */
static json_t *topic_lag(con_kafka *k, const json_t *ckpt_topic, json_int_t *total, char *err,
                         size_t errlen)
{
    const char *name = json_string_value(json_object_get(ckpt_topic, "topic"));
    json_t *ends = con_kafka_end_offsets(k, name, err, errlen);
    if (!ends)
        return NULL;
    json_t *parts = json_array();
    json_int_t sum = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(ckpt_topic, "partitions"), i, p)
    {
        json_int_t part = json_integer_value(json_object_get(p, "partition"));
        json_int_t off = json_integer_value(json_object_get(p, "offset"));
        json_t *end = json_array_get(json_object_get(ends, "partitions"), (size_t)part);
        json_t *high = json_object_get(end, "high");
        json_t *lag = high ? json_integer(json_integer_value(high) - off) : json_null();
        if (high)
            sum += json_integer_value(high) - off;
        json_array_append_new(parts, json_pack("{s:I,s:I,s:O,s:o}", "partition", part, "offset",
                                               off, "high", high ? high : json_null(), "lag", lag));
    }
    json_decref(ends);
    *total += sum;
    return json_pack("{s:s,s:o,s:I}", "topic", name, "partitions", parts, "lag", sum);
}

json_t *con_kafka_spark_lag(con_kafka *k, const char *checkpoint_dir, char *err, size_t errlen)
{
    json_t *latest = con_checkpoint_latest(checkpoint_dir, err, errlen);
    if (!latest)
        return NULL;
    json_t *topics = json_array();
    json_int_t total = 0;
    size_t si, ti;
    json_t *src, *t;
    json_array_foreach(json_object_get(json_object_get(latest, "offsets"), "sources"), si, src)
    {
        json_array_foreach(json_object_get(src, "topics"), ti, t)
        {
            json_t *lag = topic_lag(k, t, &total, err, errlen);
            if (!lag) {
                json_decref(topics);
                json_decref(latest);
                return NULL;
            }
            json_array_append_new(topics, lag);
        }
    }
    json_t *out =
        json_pack("{s:s,s:O,s:b,s:o,s:I}", "checkpoint", checkpoint_dir, "batch",
                  json_object_get(latest, "batch"), "committed",
                  !json_is_null(json_object_get(latest, "batch")), "topics", topics, "lag", total);
    json_decref(latest);
    return out;
}
