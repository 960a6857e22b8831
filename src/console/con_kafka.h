/* con_kafka: what the console shows of Kafka (issue 9 §2): the cluster
 * (brokers, controller, topics, partitions, watermarks, topic configs), the
 * end offsets of one topic, a message browser that decodes Confluent-framed
 * Avro values through the registry, consumer groups with their lag, and the
 * Spark query's lag computed from its checkpointed offsets.
 *
 * Read-only by construction: no producer, no consumer group, no offset is
 * ever committed. Every function returns a new json_t (the caller owns the
 * reference) or NULL with a reason in err.
 *
 * Threads: a con_kafka may be used from several threads at once (the HTTP
 * server's threads and the collector). The shared librdkafka handle is
 * thread-safe; each call uses its own queues, and the message browser makes
 * its own short-lived consumer. con_kafka_new/con_kafka_free are not
 * concurrent with any other call on the same object. */
#ifndef CON_KAFKA_H
#define CON_KAFKA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct con_kafka con_kafka;
typedef struct con_registry con_registry;

#define CON_KAFKA_MAX_MESSAGES 200

/* bootstrap: "host:port[,host:port]". extra_conf: NULL or a NULL-terminated
 * list of librdkafka key,value pairs (e.g. "security.protocol","SASL_PLAINTEXT",
 * "sasl.mechanism","SCRAM-SHA-256", ...) applied to every handle this module
 * makes; values are never logged or returned. timeout_ms bounds each call
 * (<= 0: 5000). */
con_kafka *con_kafka_new(const char *bootstrap, const char *const *extra_conf, int timeout_ms,
                         char *err, size_t errlen);
void con_kafka_free(con_kafka *k);

/* {"brokers":[{"id":1,"host":"127.0.0.1","port":10092}],"controller_id":1,
 *  "cluster_id":"..."|null,
 *  "topics":[{"name":"t","internal":false,"error":null|"...",
 *             "partitions":[{"partition":0,"leader":1,"replicas":[1],"isr":[1],
 *                            "low":0,"high":42,"error":null|"..."}],
 *             "messages":42,           sum of high-low over partitions
 *             "size_bytes":123|null,   the partitions' log directories under the
 *                                      broker's log.dirs when this host can read them
 *                                      (DescribeLogDirs is not in librdkafka 2.0.2)
 *             "config":{"retention.ms":"604800000","cleanup.policy":"delete",...}|null,
 *             "config_error":null|"..."}]}
 * Internal topics (__consumer_offsets ...) are included with internal:true. */
json_t *con_kafka_cluster(con_kafka *k, char *err, size_t errlen);

/* Cheap (one watermark query per partition, cached metadata):
 * {"topic":"t","partitions":[{"partition":0,"low":0,"high":42}],"low":0,"high":42,
 *  "messages":42} — low/high are sums over the partitions. */
json_t *con_kafka_end_offsets(con_kafka *k, const char *topic, char *err, size_t errlen);

/* Up to limit (1..CON_KAFKA_MAX_MESSAGES) messages of one partition, newest
 * first. By offset (timestamp_ms < 0): the messages ending at offset
 * (inclusive; -1, or an offset past the end = the newest message). By timestamp (timestamp_ms >= 0,
 * offsetsForTimes; offset is then ignored): the messages starting at the
 * first one whose timestamp is >= timestamp_ms. reg may be NULL (values
 * are then shown as hex). Read with a fresh consumer, assign() and no
 * group, bounded by the timeout: a partial page is returned when the
 * timeout hits after some messages arrived.
 * {"topic":"t","partition":0,"low":0,"high":42,"messages":[
 *   {"partition":0,"offset":41,"timestamp":1700000000000,
 *    "timestamp_type":"create"|"log_append"|"none",
 *    "key":{"text":"..."}|{"hex":"..."}|null,
 *    "headers":{"name":{"text":"..."}|{"hex":"..."}|null, ...},
 *    "value":null (tombstone) | {"schema_id":7,"avro":{...decoded...}}
 *          | {"hex":"...","error":"why it could not be decoded"},
 *    "tombstone":true|false,"size":123}]}
 * A partition that does not exist is an error. */
json_t *con_kafka_messages(con_kafka *k, con_registry *reg, const char *topic, int partition,
                           int64_t offset, int64_t timestamp_ms, int limit, char *err,
                           size_t errlen);

/* Consumer groups (ListConsumerGroups, DescribeConsumerGroups,
 * ListConsumerGroupOffsets):
 * {"groups":[{"group":"g","state":"Stable","simple":false,"coordinator":1,
 *             "members":[{"member_id":"...","client_id":"...","host":"...",
 *                         "assignment":[{"topic":"t","partition":0}]}],
 *             "offsets":[{"topic":"t","partition":0,"committed":40,"high":42,"lag":2}],
 *             "lag":2,"error":null|"..."}],
 *  "errors":["..."]}   brokers that could not list their groups */
json_t *con_kafka_groups(con_kafka *k, char *err, size_t errlen);

/* The Spark query's lag from its checkpoint directory (Structured
 * Streaming's <dir>/offsets/<batch> and <dir>/commits/<batch>): the
 * offsets of the latest committed batch against the topics' end offsets.
 * {"checkpoint":"/path","batch":12,"committed":true,
 *  "topics":[{"topic":"t","partitions":[{"partition":0,"offset":40,"high":42,"lag":2}],
 *             "lag":2}],"lag":2}
 * When no batch is committed yet: "batch":null and empty topics. */
json_t *con_kafka_spark_lag(con_kafka *k, const char *checkpoint_dir, char *err, size_t errlen);

#endif
