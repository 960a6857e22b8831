"""Unit tests of the Spark job on a local SparkSession (no Kafka, no
Cassandra): the pure DataFrame functions, fed with DataFrames shaped like the
Kafka source's rows. spark-avro must be on the classpath: the jars are the
stack's connector jars (`./userstream setup` fetches them; the same list
stack/spark/submit passes), or those in US_SPARK_JARS_DIR if set."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "spark"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from userstream_spark import config as config_mod  # noqa: E402

KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, "
    "timestampType int, headers array<struct<key:string,value:binary>>"
)


def stack_jars() -> list[str]:
    d = config_mod.load().get("US_SPARK_JARS_DIR")
    if d:
        return sorted(glob.glob(os.path.join(d, "*.jar")))
    script = (
        'for f in util config setup supervisor stack; do source "$US_ROOT/stack/lib/$f.sh"; done; '
        "us_config_load; us_services_load; us_spark_jars"
    )
    p = subprocess.run(["bash", "-c", script], env=dict(os.environ, US_ROOT=ROOT), capture_output=True, text=True)
    return [j for j in p.stdout.strip().split(",") if j] if p.returncode == 0 else []


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    jars = stack_jars()
    if not any("spark-avro" in os.path.basename(j) for j in jars):
        pytest.fail("spark-avro jar not found: run ./userstream setup (or set US_SPARK_JARS_DIR)")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need pandas/pyarrow too
    s = (
        SparkSession.builder.master("local[2]")
        .appName("userstream-spark-unit")
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.constraintPropagation.enabled", "false")  # as the job (see job.build_session)
        .getOrCreate()
    )
    s.sparkContext.setLogLevel("ERROR")
    from userstream_spark import jvm_lookups

    jvm_lookups.speed_up(s)  # as the job does: every test below runs through it
    yield s
    s.stop()


@pytest.fixture
def kafka_df(spark):
    """Build a DataFrame shaped like the Kafka source from (key, value,
    headers) tuples; offsets follow list order on partition 0 unless given."""

    def make(records, partition=0):
        rows = []
        for i, r in enumerate(records):
            key, value, hdrs = r[:3]
            part = r[3] if len(r) > 3 else partition
            rows.append(
                (
                    None if key is None else bytearray(key.encode() if isinstance(key, str) else key),
                    None if value is None else bytearray(value),
                    "userstream.users",
                    part,
                    i,
                    datetime(2026, 11, 24, tzinfo=timezone.utc),
                    0,
                    [(k, bytearray(v)) for k, v in (hdrs or [])],
                )
            )
        return spark.createDataFrame(rows, KAFKA_SCHEMA)

    return make
