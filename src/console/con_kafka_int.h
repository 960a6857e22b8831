/* con_kafka_int: what con_kafka.c shares with con_kafka_browse.c and
 * con_kafka_groups.c. Private to those files. */
#ifndef CON_KAFKA_INT_H
#define CON_KAFKA_INT_H

#include "con_kafka.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>

struct con_kafka {
    rd_kafka_t *rk; /* long-lived consumer-type handle: metadata, watermarks, admin */
    char *bootstrap;
    char **conf; /* copies of the extra key,value pairs, NULL-terminated */
    int timeout_ms;
};

/* A new librdkafka configuration with every client setting of this module
 * (bootstrap, client id, quiet logging, the caller's extra pairs). */
rd_kafka_conf_t *con_kafka_conf(const con_kafka *k, char *err, size_t errlen);

/* Waits for one admin result on q; NULL with a reason on timeout or error. */
rd_kafka_event_t *con_kafka_admin_wait(const con_kafka *k, rd_kafka_queue_t *q, char *err,
                                       size_t errlen);

/* Fills each element's offset with the partition's end (RD_KAFKA_OFFSET_END)
 * or start (RD_KAFKA_OFFSET_BEGINNING) offset: one ListOffsets request per
 * leader instead of one round trip per partition. Per-partition errors are
 * left in .err. */
int con_kafka_list_offsets(const con_kafka *k, rd_kafka_topic_partition_list_t *parts,
                           int64_t which, char *err, size_t errlen);

/* Each topic's configuration (DescribeConfigs, one request) into its
 * "config" (or "config_error"), and "size_bytes" from the broker's log.dirs
 * when they are readable on this host. */
void con_kafka_fill_configs(con_kafka *k, json_t *topics, int32_t broker);

/* Lowercase hex of at most max_hex bytes, as a JSON string. */
json_t *con_kafka_hex_json(const void *p, size_t len, size_t max_hex);

/* Bytes as {"text":"..."} when printable UTF-8, else {"hex":"..."} (with "truncated":true
 * past max_hex bytes); null for NULL. */
json_t *con_kafka_bytes_json(const void *p, size_t len, size_t max_hex);

#endif
