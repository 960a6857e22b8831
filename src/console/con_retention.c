/* con_retention: see con_retention.h. */
#include "con_retention.h"

#include <stddef.h>

typedef struct retention_key {
    const char *store, *key, *meaning;
} retention_key;

static const retention_key keys[] = {
    {"staging.users, staging.rejects", "US_STAGING_RETENTION",
     "rows fetched longer ago are purged (users only once Cassandra has them)"},
    {"staging.users, staging.rejects", "US_RETENTION_SCHEDULE",
     "when the userstream_retention DAG purges"},
    {"staging.users, staging.rejects", "US_STAGING_PURGE_BATCH", "rows per purge transaction"},
    {"Kafka userstream.users", "US_KAFKA_USERS_CLEANUP_POLICY",
     "compacted: the latest image of every user stays"},
    {"Kafka userstream.users", "US_KAFKA_USERS_SEGMENT_MS",
     "the active segment rolls after this (ms); only closed segments are compacted"},
    {"Kafka userstream.users", "US_KAFKA_USERS_MAX_COMPACTION_LAG_MS",
     "an older value of a key is compacted away at the latest this long after its "
     "segment closed (ms)"},
    {"Kafka userstream.users", "US_KAFKA_USERS_DELETE_RETENTION_MS",
     "a tombstone stays this long after compaction (ms)"},
    {"Kafka dead letters", "US_KAFKA_DLQ_RETENTION_MS", "dead letters are deleted after this (ms)"},
    {"Kafka dead letters", "US_KAFKA_DLQ_SEGMENT_MS",
     "segments roll after this (ms): a dead letter lives at most retention + this"},
    {"Spark checkpoints", "US_SPARK_MIN_BATCHES_TO_RETAIN",
     "metadata of this many micro-batches is kept"},
    {"logs", "US_LOG_MAX_BYTES", "every service's log rotates at this size"},
    {"logs", "US_LOG_BACKUPS", "old log files kept per service"},
    {"erasure", "US_FORGET_WAIT_S", "./userstream forget waits this long for Cassandra (s)"},
};

json_t *con_retention_config(con_retention_getenv get)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = get(keys[i].key);
        json_t *value = v ? json_string(v) : NULL; /* NULL too when not UTF-8 */
        json_array_append_new(list, json_pack("{s:s,s:s,s:o,s:s}", "store", keys[i].store, "key",
                                              keys[i].key, "value", value ? value : json_null(),
                                              "meaning", keys[i].meaning));
    }
    return list;
}
