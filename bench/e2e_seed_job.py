"""The seed project's Spark job (airscholar/e2e-data-engineering spark_stream.py),
rebuilt for the comparison in bench/e2e.py: JSON from Kafka, a hand-written
all-string schema with from_json, straight to Cassandra through the connector
(its own table, spark_streams.created_users), no validation, no dedupe, no
write timestamps. Only the seed's bugs are left out (Scala 2.13 jars on a 2.12
Spark, localhost addresses), and it logs in: the stack has authentication on,
so Kafka and Cassandra credentials are read from the files named by
--kafka-client-file and --cassandra-credentials (the admin principals': its
topic and keyspace are its own), with the job's own readers."""

import argparse
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spark"))
from userstream_spark import auth  # noqa: E402 - the job's credential readers

FIELDS = ["id", "first_name", "last_name", "gender", "address", "post_code", "email", "username",
          "registered_date", "phone", "picture"]  # fmt: skip


def main():
    ap = argparse.ArgumentParser()
    for a in ("--bootstrap", "--topic", "--keyspace", "--checkpoint"):
        ap.add_argument(a, required=True)
    ap.add_argument("--kafka-client-file", default="")
    ap.add_argument("--cassandra-credentials", default="")
    a = ap.parse_args()
    spark = SparkSession.builder.getOrCreate()
    if a.cassandra_credentials:
        user, pw = auth.cassandra_credentials(a.cassandra_credentials)
        spark.conf.set("spark.cassandra.auth.username", user)
        spark.conf.set("spark.cassandra.auth.password", pw)
    schema = StructType([StructField(f, StringType(), False) for f in FIELDS])
    df = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", a.bootstrap)
        .options(**auth.kafka_java_options(a.kafka_client_file))
        .option("subscribe", a.topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(value AS STRING)")
        .select(F.from_json(F.col("value"), schema).alias("data"))
        .select("data.*")
    )
    q = (
        df.writeStream.format("org.apache.spark.sql.cassandra")
        .option("checkpointLocation", a.checkpoint)
        .option("keyspace", a.keyspace)
        .option("table", "created_users")
        .start()
    )
    q.awaitTermination()


if __name__ == "__main__":
    main()
