"""The seed project's Spark job (airscholar/e2e-data-engineering spark_stream.py),
rebuilt for the comparison in bench/e2e.py: JSON from Kafka, a hand-written
all-string schema with from_json, straight to Cassandra through the connector
(its own table, spark_streams.created_users), no validation, no dedupe, no
write timestamps. Only the seed's bugs are left out (Scala 2.13 jars on a 2.12
Spark, localhost addresses)."""

import argparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

FIELDS = ["id", "first_name", "last_name", "gender", "address", "post_code", "email", "username",
          "registered_date", "phone", "picture"]  # fmt: skip


def main():
    ap = argparse.ArgumentParser()
    for a in ("--bootstrap", "--topic", "--keyspace", "--checkpoint"):
        ap.add_argument(a, required=True)
    a = ap.parse_args()
    spark = SparkSession.builder.getOrCreate()
    schema = StructType([StructField(f, StringType(), False) for f in FIELDS])
    df = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", a.bootstrap)
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
