"""job.data_loss_reason: which query failures are data loss, and what they say."""

from userstream_spark import job

# What Spark 3.5.7's Kafka source raised when unread offsets were deleted
# (test_spark_job's data-loss test), as the StreamingQueryException's text.
SEEN = """[STREAM_FAILED] Query [id = 1, runId = 2] terminated with exception: Job aborted due to stage failure: \
Task 0 in stage 3.0 failed 1 times, most recent failure: Lost task 0.0 in stage 3.0 (TID 5) (127.0.0.1 executor \
driver): java.lang.IllegalStateException: Cannot fetch offset 50 (GroupId: spark-kafka-source-x-executor, \
TopicPartition: t-2).
Some data may have been lost because they are not available in Kafka any more; either the
 data was aged out by Kafka or the topic may have been deleted before all the data in the
 topic was processed. If you don't want your streaming query to fail on such cases, set the
 source option "failOnDataLoss" to "false".

\tat org.apache.spark.sql.kafka010.consumer.KafkaDataConsumer$.org$apache$spark$sql$kafka010$..."""

ERROR_CLASS = ("[KAFKA_DATA_LOSS.START_OFFSET_RESET] Some data may have been lost because they are not available "
               "in Kafka any more; ... set the source option failOnDataLoss to false. Reason: Starting offset for "
               "t-0 was 10 but the earliest is 20.\n\tat org.apache.spark.sql...")  # fmt: skip


def test_data_loss_is_recognised_and_its_reason_kept():
    assert job.data_loss_reason(SEEN) == (
        "Cannot fetch offset 50 (GroupId: spark-kafka-source-x-executor, TopicPartition: t-2)"
    )
    assert job.data_loss_reason(ERROR_CLASS) == "Starting offset for t-0 was 10 but the earliest is 20"


def test_other_failures_are_not_data_loss():
    for err in ("", "[STREAM_FAILED] ... java.lang.RuntimeException: Cassandra timeout",
                "failOnDataLoss is set to true"):  # fmt: skip
        assert job.data_loss_reason(err) is None
