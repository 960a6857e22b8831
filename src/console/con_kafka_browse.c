/* con_kafka_browse: the message browser (con_kafka_messages). A fresh
 * consumer per call, assign() without a group, never a commit: browsing
 * leaves no trace in the cluster. See con_kafka.h. */
#include "con_kafka_int.h"
#include "con_registry.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BROWSE_MAX_HEX 65536 /* bytes of an undecodable value shown as hex */

typedef struct {
    int64_t low, high;  /* the partition's watermarks */
    int64_t start, end; /* the window read: [start, end) */
} browse_window;

/* Schema ids the registry could not give during one call, with the reason:
 * a registry that is down or slow costs one timeout per id, not one per
 * message. */
#define BROWSE_MAX_FAILED 16
typedef struct {
    con_registry *reg;
    int32_t ids[BROWSE_MAX_FAILED];
    char why[BROWSE_MAX_FAILED][256];
    int n;
} browse_schemas;

static const con_avro_schema *schema_for(browse_schemas *bs, int32_t id, char *why, size_t whylen)
{
    for (int i = 0; i < bs->n; i++) {
        if (bs->ids[i] == id) {
            snprintf(why, whylen, "%s", bs->why[i]);
            return NULL;
        }
    }
    const con_avro_schema *s = con_registry_schema_by_id(bs->reg, id, why, whylen);
    if (!s && bs->n < BROWSE_MAX_FAILED) {
        bs->ids[bs->n] = id;
        snprintf(bs->why[bs->n++], sizeof(bs->why[0]), "%s", why);
    }
    return s;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_args(const char *topic, int partition, int64_t offset, int limit, char *err,
                      size_t errlen)
{
    if (!topic || !*topic)
        snprintf(err, errlen, "no topic");
    else if (partition < 0)
        snprintf(err, errlen, "partition must be >= 0");
    else if (offset < -1)
        snprintf(err, errlen, "offset must be >= 0, or -1 for the newest");
    else if (limit < 1 || limit > CON_KAFKA_MAX_MESSAGES)
        snprintf(err, errlen, "limit must be 1..%d", CON_KAFKA_MAX_MESSAGES);
    else
        return 0;
    return -1;
}

/* By offset: the limit messages ending at offset (inclusive), newest first.
 * By timestamp: the limit messages starting at the first one whose
 * timestamp is >= timestamp_ms. */
static int find_window(con_kafka *k, const char *topic, int partition, int64_t offset,
                       int64_t timestamp_ms, int limit, browse_window *w, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(k->rk, topic, partition, &w->low, &w->high, k->timeout_ms);
    if (e) {
        snprintf(err, errlen, "topic %.200s partition %d: %s", topic, partition,
                 rd_kafka_err2str(e));
        return -1;
    }
    if (timestamp_ms >= 0) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = timestamp_ms;
        e = rd_kafka_offsets_for_times(k->rk, l, k->timeout_ms);
        int64_t found = e ? -1 : l->elems[0].err ? -1 : l->elems[0].offset;
        if (!e && l->elems[0].err)
            e = l->elems[0].err;
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            snprintf(err, errlen, "offsets for time %lld: %s", (long long)timestamp_ms,
                     rd_kafka_err2str(e));
            return -1;
        }
        w->start = found < 0 ? w->high : found; /* -1: no message that late */
        w->end = w->start + limit < w->high ? w->start + limit : w->high;
    } else {
        w->end = offset < 0 || offset + 1 > w->high ? w->high : offset + 1;
        w->start = w->end - limit > w->low ? w->end - limit : w->low;
    }
    if (w->start < w->low)
        w->start = w->low;
    if (w->end < w->start)
        w->end = w->start;
    return 0;
}

/* A short-lived consumer reading one partition from start with the simple
 * (legacy) consumer API: assign() of the high-level API needs a group.id
 * in librdkafka 2.0.2, and a group is exactly what browsing must not use. */
typedef struct {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int32_t partition;
    bool started;
} browse_consumer;

static void browse_close(browse_consumer *b)
{
    if (b->started)
        rd_kafka_consume_stop(b->rkt, b->partition);
    if (b->rkt)
        rd_kafka_topic_destroy(b->rkt);
    if (b->rk)
        rd_kafka_destroy(b->rk);
}

static int browse_open(con_kafka *k, browse_consumer *b, const char *topic, int partition,
                       int64_t start, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = con_kafka_conf(k, err, errlen);
    const char *extra[] = {"enable.partition.eof",
                           "true",
                           "queued.max.messages.kbytes",
                           "8192",
                           "fetch.wait.max.ms",
                           "100",
                           NULL};
    *b = (browse_consumer){.partition = partition};
    for (size_t i = 0; conf && extra[i]; i += 2) {
        if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], err, errlen) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return -1;
        }
    }
    if (!conf || !(b->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen))) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return -1;
    }
    b->rkt = rd_kafka_topic_new(b->rk, topic, NULL);
    if (!b->rkt || rd_kafka_consume_start(b->rkt, partition, start) < 0) {
        snprintf(err, errlen, "consume %.200s [%d]: %s", topic, partition,
                 rd_kafka_err2str(rd_kafka_last_error()));
        browse_close(b);
        return -1;
    }
    b->started = true;
    return 0;
}

/* An undecodable value: its bytes in hex (and as text too when they are
 * printable, e.g. a JSON or plain-text value) with the reason. */
static json_t *value_hex(const void *p, size_t len, const char *why)
{
    json_t *out =
        json_pack("{s:o,s:s}", "hex", con_kafka_hex_json(p, len, BROWSE_MAX_HEX), "error", why);
    json_t *text = con_kafka_bytes_json(p, len, 0);
    if (out && len > BROWSE_MAX_HEX)
        json_object_set_new(out, "truncated", json_true());
    if (out && json_object_get(text, "text"))
        json_object_set(out, "text", json_object_get(text, "text"));
    json_decref(text);
    return out;
}

/* The value decoded by its Confluent header and registry schema, or the
 * bytes as hex with the reason it could not be. */
static json_t *value_json(browse_schemas *bs, const rd_kafka_message_t *m)
{
    char why[256];
    int32_t id;
    const uint8_t *payload;
    size_t plen;
    if (con_avro_confluent_header(m->payload, m->len, &id, &payload, &plen, why, sizeof(why)) < 0)
        return value_hex(m->payload, m->len, why);
    if (!bs->reg) {
        snprintf(why, sizeof(why), "schema id %d: no registry configured", id);
        return value_hex(m->payload, m->len, why);
    }
    const con_avro_schema *s = schema_for(bs, id, why, sizeof(why));
    json_t *v = s ? con_avro_decode(s, payload, plen, why, sizeof(why)) : NULL;
    if (!v) {
        char full[300];
        snprintf(full, sizeof(full), "schema id %d: %s", id, why);
        return value_hex(m->payload, m->len, full);
    }
    return json_pack("{s:i,s:o}", "schema_id", id, "avro", v);
}

static json_t *headers_json(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs = NULL;
    json_t *out = json_object();
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return out;
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; out && !rd_kafka_header_get_all(hdrs, i, &name, &val, &len); i++) {
        json_t *v = con_kafka_bytes_json(val, len, 1024);
        /* A header name that is not UTF-8 cannot be a JSON key: skipped. */
        if (json_object_set_new(out, name, v ? v : json_null()) < 0)
            continue;
    }
    return out;
}

static json_t *message_json(browse_schemas *bs, const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    const char *tname = tt == RD_KAFKA_TIMESTAMP_CREATE_TIME       ? "create"
                        : tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "log_append"
                                                                   : "none";
    bool tomb = m->payload == NULL;
    return json_pack("{s:i,s:I,s:o,s:s,s:o,s:o,s:o,s:b,s:I}", "partition", m->partition, "offset",
                     (json_int_t)m->offset, "timestamp",
                     tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? json_null() : json_integer(ts),
                     "timestamp_type", tname, "key", con_kafka_bytes_json(m->key, m->key_len, 4096),
                     "headers", headers_json(m), "value", tomb ? json_null() : value_json(bs, m),
                     "tombstone", tomb, "size", (json_int_t)m->len);
}

/* Reads [w->start, w->end) into list (oldest first); 0, or -1 with why. */
static int read_window(con_kafka *k, browse_consumer *c, browse_schemas *bs, const browse_window *w,
                       json_t *list, char *err, size_t errlen)
{
    int64_t deadline = now_ms() + k->timeout_ms, next = w->start;
    while (next < w->end) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            if (json_array_size(list) > 0)
                return 0; /* a partial page rather than nothing */
            snprintf(err, errlen, "no message within %d ms", k->timeout_ms);
            return -1;
        }
        rd_kafka_message_t *m =
            rd_kafka_consume(c->rkt, c->partition, (int)(left < 200 ? left : 200));
        if (!m)
            continue;
        rd_kafka_resp_err_t e = m->err;
        if (!e && m->offset >= w->start && m->offset < w->end) {
            json_t *j = message_json(bs, m);
            if (j)
                json_array_append_new(list, j);
        }
        next = e ? next : m->offset + 1;
        rd_kafka_message_destroy(m);
        if (e == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            return 0;
        if (e && e != RD_KAFKA_RESP_ERR__TRANSPORT) {
            snprintf(err, errlen, "consume: %s", rd_kafka_err2str(e));
            return -1;
        }
    }
    return 0;
}

static void reverse(json_t *a)
{
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *x = json_incref(json_array_get(a, i));
        json_array_set(a, i, json_array_get(a, n - 1 - i));
        json_array_set_new(a, n - 1 - i, x);
    }
}

json_t *con_kafka_messages(con_kafka *k, con_registry *reg, const char *topic, int partition,
                           int64_t offset, int64_t timestamp_ms, int limit, char *err,
                           size_t errlen)
{
    browse_window w;
    if (check_args(topic, partition, offset, limit, err, errlen) < 0 ||
        find_window(k, topic, partition, offset, timestamp_ms, limit, &w, err, errlen) < 0)
        return NULL;
    json_t *list = json_array();
    if (w.end > w.start) {
        browse_consumer c;
        int rc = browse_open(k, &c, topic, partition, w.start, err, errlen);
        if (rc == 0) {
            browse_schemas bs = {.reg = reg};
            rc = read_window(k, &c, &bs, &w, list, err, errlen);
            browse_close(&c);
        }
        if (rc < 0) {
            json_decref(list);
            return NULL;
        }
    }
    reverse(list);
    return json_pack("{s:s,s:i,s:I,s:I,s:o}", "topic", topic, "partition", partition, "low",
                     (json_int_t)w.low, "high", (json_int_t)w.high, "messages", list);
}
