"""bench/spark_ceiling.py: the Spark ceiling of the Spark stage (issue 13).

    eval "$(./userstream env | sed 's/^/export /')"
    ./userstream stop spark_job          # the ceiling needs the worker's cores
    $US_VENV/bin/python bench/spark_ceiling.py [--records 150000] [--runs 3] [--keep]
    ./userstream restart spark_job

Spark alone: Kafka read + the job's own Avro decode (userstream_spark.decode)
into the `noop` sink, available-now, on the stack's standalone master like the
job (stack/spark/submit, driver 1g as the spark_job service), as
bench/spark_ceiling_job.py does it. Its topic, bench_spark_ceiling_<hex> with
as many partitions as the users topic, is filled with --records records copied
verbatim (key, value, headers, partition) from the users topic: change records
the relay wrote, Confluent-framed Avro with the registry's schema ids (run
`bench/e2e.py throughput` first if it holds fewer). Deleted at the end (--keep
keeps it).

Reports, per run, records/s (query start -> terminated, wall) and Spark's own
batch time, and the CPU-seconds per 100,000 records of the driver
(ceiling_driver: spark-submit and its Python) and of the executor
(spark_executor), over the same window (bench/stack_cpu.py). One JSON line
per run on stdout, a table on stderr. Run 1 includes the warm-up (JIT, code
generation); the later runs are the ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "stack", "lib"))
sys.path.insert(0, os.path.join(ROOT, "spark"))

import stack_cpu  # noqa: E402
import us_config  # noqa: E402
from userstream_spark import auth  # noqa: E402


def kafka_conf(cfg) -> dict:
    return {"bootstrap.servers": cfg["US_KAFKA_BOOTSTRAP"], **auth.kafka_librdkafka_conf(cfg["US_KAFKA_ADMIN_CLIENT_FILE"])}


def supervisor_state(cfg, program: str) -> str:
    conf = os.path.join(cfg["US_HOME"], "supervisor", "supervisord.conf")
    p = subprocess.run([os.path.join(cfg["US_VENV"], "bin", "supervisorctl"), "-c", conf, "status", program],
                       capture_output=True, text=True)  # fmt: skip
    parts = p.stdout.split()
    return parts[1] if len(parts) > 1 else "UNKNOWN"


def fill_topic(cfg, topic: str, n: int) -> int:
    """Creates `topic` and copies the first n records of the users topic into it."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    src = cfg["US_KAFKA_TOPIC_USERS"]
    admin = AdminClient(kafka_conf(cfg))
    c = Consumer({**kafka_conf(cfg), "group.id": "bench-" + uuid.uuid4().hex, "enable.auto.commit": False})
    parts = sorted(c.list_topics(src, timeout=10).topics[src].partitions)
    for f in admin.create_topics([NewTopic(topic, len(parts), 1)]).values():
        f.result(60)
    marks = {p: c.get_watermark_offsets(TopicPartition(src, p), timeout=10) for p in parts}
    have = sum(hi - lo for lo, hi in marks.values())
    if have < n:
        c.close()
        raise SystemExit(f"{src} holds {have} records, fewer than --records {n}: run bench/e2e.py throughput first")
    # The same share of every partition, from its start.
    want = {p: min(hi - lo, -(-n * (hi - lo) // have)) for p, (lo, hi) in marks.items()}
    c.assign([TopicPartition(src, p, marks[p][0]) for p in parts])
    prod = Producer({**kafka_conf(cfg), "enable.idempotence": True, "linger.ms": 20})
    copied, left = 0, {p: w for p, w in want.items() if w > 0}
    while left and copied < n:
        msgs = c.consume(1000, timeout=10)
        if not msgs:
            break  # compacted away: fewer records than the offsets say
        for m in msgs:
            p = m.partition()
            if m.error() or p not in left:
                continue
            while True:
                try:
                    prod.produce(topic, key=m.key(), value=m.value(), headers=m.headers(), partition=p)
                    break
                except BufferError:
                    prod.poll(0.2)
            copied += 1
            left[p] -= 1
            if left[p] == 0:
                del left[p]
            if copied >= n:
                break
        prod.poll(0)
    c.close()
    if prod.flush(120) != 0:
        raise SystemExit("could not deliver every copied record")
    return copied


def delete_topic(cfg, topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(kafka_conf(cfg))  # keep a reference: the futures need it
    for f in admin.delete_topics([topic]).values():
        try:
            f.result(60)
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            print(f"topic {topic} not deleted: {e}", file=sys.stderr)


def run_job(cfg, topic: str, runs: int, n: int, log_path: str) -> None:
    cmd = [os.path.join(ROOT, "stack", "spark", "submit"), "--name", "userstream-spark-ceiling",
           "--driver-memory", cfg.get("US_SPARK_DRIVER_MEMORY", "1g"),
           os.path.join(HERE, "spark_ceiling_job.py"), "--topic", topic, "--runs", str(runs)]  # fmt: skip
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        cpu = None
        try:
            for line in p.stdout:
                line = line.strip()
                if line.startswith("MEASURE-START"):
                    cpu = stack_cpu.StackCpu(cfg, extra={"ceiling_driver": p.pid}).start()
                elif line.startswith("MEASURE-END") and cpu is not None:
                    used = cpu.stop()
                    wall = cpu.wall
                elif line.startswith("{") and cpu is not None:
                    res = json.loads(line)
                    recs = res["records"] or n
                    print(stack_cpu.table(f"Spark ceiling run {res['run']}", used, recs, wall),
                          file=sys.stderr, flush=True)  # fmt: skip
                    per = stack_cpu.per_100k(used, recs)
                    sp = per.get("ceiling_driver", 0.0) + per.get("spark_executor", 0.0)
                    print(json.dumps(dict(res, cpu_s={g: round(v, 2) for g, v in used.items()}, cpu_s_per_100k=per,
                                          spark_cpu_s_per_100k=round(sp, 2),
                                          spark_cpu_ms_per_record=round(sp / 100.0, 3))), flush=True)  # fmt: skip
                    cpu = None
        finally:
            rc = p.wait()
        if rc != 0:
            raise SystemExit(f"the ceiling job exited {rc}; see {log_path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=150000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the topic")
    ap.add_argument("--log", default="/tmp/spark-ceiling.log", help="the Spark application's stderr")
    a = ap.parse_args()
    if a.records < 1 or a.runs < 1:
        ap.error("--records and --runs must be positive")
    cfg = us_config.load()
    if supervisor_state(cfg, "spark_job") in ("RUNNING", "STARTING", "BACKOFF"):
        raise SystemExit("the spark_job service holds the worker's cores: ./userstream stop spark_job first")
    topic = f"bench_spark_ceiling_{uuid.uuid4().hex[:8]}"
    t0 = time.time()
    try:
        n = fill_topic(cfg, topic, a.records)
        print(f"{topic}: {n} records copied from {cfg['US_KAFKA_TOPIC_USERS']} in {time.time() - t0:.1f} s",
              file=sys.stderr, flush=True)  # fmt: skip
        run_job(cfg, topic, a.runs, n, a.log)
    finally:
        if not a.keep:
            delete_topic(cfg, topic)


if __name__ == "__main__":
    main()
