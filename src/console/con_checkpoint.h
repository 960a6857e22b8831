/* con_checkpoint: reads a Spark Structured Streaming checkpoint directory,
 * outside input written by another program, so every file is parsed
 * defensively and size-capped.
 *
 *   <dir>/offsets/<batchId>   text: "v1\n" (version line, v1..v9 accepted),
 *                             a JSON metadata line
 *                             ({"batchWatermarkMs":0,"batchTimestampMs":...,"conf":{...}}),
 *                             then one line per source: the Kafka source's
 *                             {"topic":{"0":123,"1":456}} (other sources:
 *                             any JSON, kept as null), or "-" for none.
 *   <dir>/commits/<batchId>   "v1\n{"nextBatchWatermarkMs":0}": the batch
 *                             finished. Only its existence matters here.
 *
 * batchId is a decimal file name; names with a dot (.crc, .tmp) are
 * ignored. The latest committed batch is the largest id present in both. */
#ifndef CON_CHECKPOINT_H
#define CON_CHECKPOINT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One offsets file ->
 * {"version":1,"metadata":{...}|null,
 *  "sources":[{"topics":[{"topic":"t","partitions":[{"partition":0,"offset":123}]}]}
 *             | null]}   (null: not a Kafka source's offsets) */
json_t *con_checkpoint_parse_offsets(const char *text, size_t len, char *err, size_t errlen);

/* The latest committed batch of a checkpoint directory ->
 * {"batch":12,"offsets":<con_checkpoint_parse_offsets result>} or
 * {"batch":null,"offsets":null} when nothing is committed yet. An absent
 * directory is an error. */
json_t *con_checkpoint_latest(const char *dir, char *err, size_t errlen);

#endif
