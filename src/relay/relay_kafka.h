/* relay_kafka: the idempotent librdkafka producer of the relay.
 *
 * enable.idempotence=true (so acks=all, bounded in-flight, endless retries
 * within message.timeout.ms), partitioner murmur2_random (the Java client's
 * choice, so every tool agrees which partition a key lives in), lz4, and
 * socket.nagle.disable=true (2.0.2's default keeps Nagle on, which adds
 * delayed-ACK stalls to small produce requests; the Java client disables it). Delivery
 * reports and errors are served from the main loop: relay_kafka_event_fd()
 * becomes readable when something is waiting for relay_kafka_poll(). */
#ifndef RELAY_KAFKA_H
#define RELAY_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct relay_kafka relay_kafka;

typedef struct relay_kafka_conf {
    const char *bootstrap; /* NULL with mock_brokers > 0 */
    const char *topic;
    long linger_ms;
    long queue_max_messages;
    long queue_max_kbytes;
    long message_timeout_ms; /* 0: never time out (an outage blocks, nothing is lost) */
    /* More librdkafka settings: key, value, ..., NULL (us_config_get_pairs),
     * each passed as is; NULL: none. Those that would weaken delivery are
     * refused (relay_kafka_new fails with the reason). */
    const char *const *extra;
    const char *client_file; /* librdkafka properties (the SASL credentials), or NULL */
    int mock_brokers;        /* tests: librdkafka's in-process mock cluster */
} relay_kafka_conf;

typedef struct relay_header {
    const char *name;
    const char *value; /* NUL-terminated text */
} relay_header;

/* One delivery report: ok is true only for a message Kafka persisted. */
typedef void (*relay_kafka_on_delivery)(void *ud, uint64_t txn_id, bool ok, size_t bytes,
                                        const char *errstr);

relay_kafka *relay_kafka_new(const relay_kafka_conf *conf, char *err, size_t errlen);
/* Flushes nothing: call relay_kafka_flush first for a clean stop. */
void relay_kafka_free(relay_kafka *k);

enum {
    RELAY_KAFKA_QUEUED = 0,
    RELAY_KAFKA_FULL = 1,
    RELAY_KAFKA_ERROR = -1,
    RELAY_KAFKA_TOO_LARGE = -2
};

/* Queues one message (value NULL: a tombstone). partition < 0: by key.
 * RELAY_KAFKA_FULL means the local queue is full: poll and try again. */
int relay_kafka_produce(relay_kafka *k, const void *key, size_t keylen, const void *value,
                        size_t vlen, const relay_header *hdrs, size_t nhdrs, int32_t partition,
                        uint64_t txn_id, char *err, size_t errlen);

/* Serves delivery reports (each to cb(ud, ...), during the call only) and
 * errors; returns how many events were served. */
int relay_kafka_poll(relay_kafka *k, int timeout_ms, relay_kafka_on_delivery cb, void *ud);
int relay_kafka_event_fd(const relay_kafka *k);
/* Waits up to timeout_ms for every queued message's report (served to cb as
 * by relay_kafka_poll); 0 when none is left. */
int relay_kafka_flush(relay_kafka *k, int timeout_ms, relay_kafka_on_delivery cb, void *ud);
/* Messages queued or in flight. */
int relay_kafka_outq(const relay_kafka *k);
/* A fatal error (e.g. the idempotent producer lost its guarantees). */
/* True once Kafka refused a record as larger than it takes (the producer's
 * message.max.bytes, or the broker's/topic's max.message.bytes in a delivery
 * report): re-sending it can never work. The reason (key and size, never the
 * value) goes to err. */
bool relay_kafka_too_large(relay_kafka *k, char *err, size_t errlen);

bool relay_kafka_fatal(relay_kafka *k, char *err, size_t errlen);
/* Number of partitions of the topic (from broker metadata). */
int relay_kafka_partition_count(relay_kafka *k, int timeout_ms, int32_t *n, char *err,
                                size_t errlen);
/* The largest us.lsn header among the last message of every partition, or
 * 0 when the topic is empty: what an earlier run already delivered. */
int relay_kafka_last_lsn(relay_kafka *k, int timeout_ms, uint64_t *lsn, char *err, size_t errlen);

/* Test access: the underlying rd_kafka_t (for rd_kafka_mock_* calls). */
void *relay_kafka_handle(relay_kafka *k);

#endif
