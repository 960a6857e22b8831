"""Foundation check for Spark: Kafka topic -> Cassandra table, on the real master.

Reads every record of a topic with Structured Streaming (Trigger.AvailableNow:
process what is there, then stop) and upserts one row per record into a
Cassandra table through the Spark Cassandra Connector. The checkpoint keeps
the consumed offsets, so a second run picks up only what arrived since.
Submitted by tests/integration/test_foundation_spark.py via stack/spark/submit.
"""

import argparse
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

# The job's credential readers (spark/userstream_spark/auth.py); the driver runs here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "spark"))
from userstream_spark import auth  # noqa: E402


def records_to_rows(df):
    """Kafka source rows -> (id, payload, kafka_partition, kafka_offset)."""
    return df.select(
        F.col("key").cast("string").alias("id"),
        F.col("value").cast("string").alias("payload"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--keyspace", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory")
    # Test names are not the pipeline's: the test runs as the stack's admins.
    ap.add_argument("--kafka-client-file", default=os.environ.get("US_KAFKA_ADMIN_CLIENT_FILE", ""))
    ap.add_argument("--cassandra-credentials", default=os.environ.get("US_CASSANDRA_ADMIN_CREDENTIALS", ""))
    a = ap.parse_args()

    builder = SparkSession.builder  # name and master come from spark-submit
    if a.cassandra_credentials:
        user, pw = auth.cassandra_credentials(a.cassandra_credentials)
        builder = builder.config("spark.cassandra.auth.username", user).config("spark.cassandra.auth.password", pw)
    spark = builder.getOrCreate()
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", a.bootstrap)
        .option("subscribe", a.topic)
        .option("startingOffsets", "earliest")
    )
    for k, v in auth.kafka_java_options(a.kafka_client_file).items():
        reader = reader.option(k, v)
    source = reader.load()
    query = (
        records_to_rows(source)
        .writeStream.format("org.apache.spark.sql.cassandra")
        .option("keyspace", a.keyspace)
        .option("table", a.table)
        .option("checkpointLocation", a.checkpoint)
        .outputMode("append")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    progress = query.lastProgress or {}
    print(f"foundation-job: done, last batch read {progress.get('numInputRows', 0)} rows", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
