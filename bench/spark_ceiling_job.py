"""The Spark application of bench/spark_ceiling.py (submitted by it with
stack/spark/submit; not run by hand): Kafka read + the job's own Avro decode
(userstream_spark.decode: parse_envelope, then decode with the writer schema of
each record's id from the registry) into Spark's `noop` sink, available-now,
--runs times over the same topic, each with a fresh checkpoint (the first run
pays the JIT and code generation warm-up). The session is the job's own
(userstream_spark.job.build_session: the same executor JVM options, SQL
settings and shuffle partitions), the Kafka reader the job's options
(earliest, headers, failOnDataLoss, maxOffsetsPerTrigger), as the admin
principal (the topic is the bench's own).

Prints "MEASURE-START <run>" right before each query starts and
"MEASURE-END <run>" after it has terminated, then a JSON line with its
records, batches and Spark's own batch durations; bench/spark_ceiling.py
reads the CPU of the driver and the executors between the markers.
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "spark"))

from userstream_spark import config as config_mod  # noqa: E402
from userstream_spark import decode as dec  # noqa: E402
from userstream_spark.job import build_session, kafka_stream  # noqa: E402
from userstream_spark.registry import Registry  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topic", required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    conf = config_mod.load()
    cfg = config_mod.JobConfig.from_conf(conf)
    spark = build_session(cfg, app="userstream-spark-ceiling")
    spark.sparkContext.setLogLevel("WARN")
    registry = Registry(cfg.registry_url)
    registry.subject_schema_ids(cfg.subject)
    schemas = registry.known()
    # The job's own Kafka source (its options: earliest, headers, failOnDataLoss,
    # maxOffsetsPerTrigger, SASL), on the bench topic with the admin's login.
    src_cfg = dataclasses.replace(cfg, topic=a.topic, kafka_client_file=conf.get("US_KAFKA_ADMIN_CLIENT_FILE", ""))
    chk = tempfile.mkdtemp(prefix="spark-ceiling-")
    for run in range(1, a.runs + 1):
        decoded = dec.decode(dec.parse_envelope(kafka_stream(spark, src_cfg)), schemas)
        w = (
            decoded.writeStream.format("noop")
            .queryName(f"ceiling_{run}")
            .option("checkpointLocation", os.path.join(chk, f"run-{run}"))
            .trigger(availableNow=True)
        )
        print(f"MEASURE-START {run}", flush=True)
        t0 = time.time()
        q = w.start()
        q.awaitTermination()
        secs = time.time() - t0
        print(f"MEASURE-END {run}", flush=True)
        prog = [p for p in q.recentProgress if p.get("numInputRows", 0) > 0]
        n = sum(p["numInputRows"] for p in prog)
        batch_ms = sum(p["durationMs"].get("triggerExecution", 0) for p in prog)
        print(json.dumps({"bench": "spark_ceiling", "run": run, "records": n, "batches": len(prog),
                          "seconds": round(secs, 2), "records_per_s": round(n / secs) if secs else None,
                          "batch_seconds": round(batch_ms / 1000.0, 2),
                          "records_per_batch_s": round(n * 1000.0 / batch_ms) if batch_ms else None,
                          "schema_ids": sorted(schemas)}), flush=True)  # fmt: skip
    spark.stop()


if __name__ == "__main__":
    main()
