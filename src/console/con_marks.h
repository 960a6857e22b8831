/* con_marks: the Kafka numbers of the pipeline view, through librdkafka:
 * the low and high watermarks of each partition of a topic (metadata, then
 * one watermark request per partition), and the dead letters counted once
 * per source record (the us.dlq.source header), as spark/stage_counts.py:
 * the DLQ is at-least-once, a replayed batch may write a record twice.
 *
 * One consumer handle (never in a group, never committing) made from the
 * console's Kafka settings (bootstrap + extra "key=value" pairs, where SASL
 * settings will go). Used by the collector threads only. */
#ifndef CON_MARKS_H
#define CON_MARKS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct con_marks con_marks;

/* extra: NULL or a NULL-terminated list of key, value pairs. */
con_marks *con_marks_new(const char *bootstrap, const char *const *extra, int timeout_ms, char *err,
                         size_t errlen);
void con_marks_free(con_marks *m);

/* {"topic":"t","partitions":[{"partition":0,"low":0,"high":42}],"low":..,"high":..,
 *  "messages":42}; NULL with the reason. */
json_t *con_marks_topic(con_marks *m, const char *topic, char *err, size_t errlen);

/* Reads the DLQ topic's new records since the last call (up to max_msgs per
 * call) and returns the number of distinct us.dlq.source values seen so
 * far; -1 with the reason. */
int64_t con_marks_dlq_distinct(con_marks *m, const char *topic, int max_msgs, char *err,
                               size_t errlen);

/* Number of brokers in the last metadata answer (0: none yet). */
int con_marks_brokers(const con_marks *m);

#endif
