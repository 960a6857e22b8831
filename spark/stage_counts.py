"""stage_counts: how many users are at each stage of the pipeline, now.

    $US_VENV/bin/python spark/stage_counts.py [--json]

    stage                                   count
    fetched from the API (ops.load_batches)  50012
    staged   PostgreSQL staging.users        50000
    rejected PostgreSQL staging.rejects          12
    Kafka    userstream.users records        50000
    Spark    records processed               50000
    in flight (Kafka, not yet processed)         0
    Cassandra userstream.users               49998
    dead letters (userstream.users.dlq)           2

Accounting: fetched = staged + rejected (+ duplicates); Kafka holds every
change of staging (inserts, updates, deletes: more records than users once
rows change); Cassandra users + dead letters = staged (+ in flight, - deleted).
Reads only: PostgreSQL as the ops role, Kafka watermarks, Cassandra count(*)
(a full scan: fine for a local stack, slow on a big cluster). Exit 0 always
when every stage answered, 1 if one could not be asked (its count is "?").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from userstream_spark import auth  # noqa: E402
from userstream_spark import config as config_mod  # noqa: E402


def pg_counts(cfg) -> dict:
    import psycopg2

    out = {}
    with psycopg2.connect(cfg.pg_conninfo) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM staging.users")
        out["staged"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM staging.rejects")
        out["rejected"] = cur.fetchone()[0]
        cur.execute("SELECT to_regclass('ops.load_batches') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT coalesce(sum(fetched), 0), coalesce(sum(duplicates), 0) FROM ops.load_batches")
            out["fetched"], out["duplicates"] = cur.fetchone()
        cur.execute(
            "SELECT end_offsets FROM ops.stream_progress WHERE query_name = 'users' AND end_offsets IS NOT NULL "
            "ORDER BY batch_id DESC LIMIT 1"
        )
        row = cur.fetchone()
        out["spark_end_offsets"] = row[0] if row else {}
        cur.execute(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_p50_ms), max(latency_p99_ms) "
            "FROM ops.stream_progress WHERE query_name = 'users' AND finished_at > now() - interval '5 minutes'"
        )
        out["latency_p50_ms"], out["latency_p99_ms"] = cur.fetchone()
    return out


def kafka_counts(cfg) -> dict:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": f"userstream-console-counts-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, **auth.kafka_librdkafka_conf(cfg.kafka_client_file)})  # fmt: skip
    try:
        out = {}
        for name, topic in (("kafka", cfg.topic), ("dlq", cfg.dlq_topic)):
            md = c.list_topics(topic, timeout=10).topics[topic]
            if md.error is not None:
                raise RuntimeError(f"topic {topic}: {md.error}")
            marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in md.partitions}
            out[name] = sum(hi - lo for lo, hi in marks.values())
            out[name + "_marks"] = marks
        out["dlq_distinct"] = _dlq_distinct(c, cfg.dlq_topic, out["dlq_marks"]) if out["dlq"] else 0
        return out
    finally:
        c.close()


def _dlq_distinct(c, topic, marks) -> int:
    """Dead letters counted once per source record (header us.dlq.source):
    the DLQ is at-least-once, a replayed batch may write a record twice."""
    from confluent_kafka import TopicPartition

    c.assign([TopicPartition(topic, p, lo) for p, (lo, hi) in marks.items() if hi > lo])
    left = {p: hi for p, (lo, hi) in marks.items() if hi > lo}
    seen = set()
    while left:
        msgs = c.consume(1000, timeout=5)
        if not msgs:
            break
        for m in msgs:
            if m.error():
                continue
            src = dict(m.headers() or []).get("us.dlq.source")
            seen.add(src or f"{m.partition()}/{m.offset()}")
            if m.offset() + 1 >= left.get(m.partition(), 0):
                left.pop(m.partition(), None)
    return len(seen)


def cassandra_count(cfg, slices: int = 64) -> int:
    """count(*) of users, one token range at a time: a single count(*) over a
    million rows outlives the server's range-read timeout on a small node."""
    from cassandra.cluster import Cluster

    from cassandra.auth import PlainTextAuthProvider

    creds = auth.cassandra_credentials(cfg.cassandra_credentials) if cfg.cassandra_credentials else None
    provider = PlainTextAuthProvider(*creds) if creds else None
    cluster = Cluster([cfg.cassandra_host], port=cfg.cassandra_port, auth_provider=provider)
    try:
        s = cluster.connect(cfg.keyspace)
        q = s.prepare("SELECT count(*) FROM users WHERE token(user_id) > ? AND token(user_id) <= ?")
        lo, hi = -(2**63), 2**63 - 1
        step = (hi - lo) // slices
        bounds = [lo + i * step for i in range(slices)] + [hi]
        total = 0  # Murmur3 never hands out the minimum token, so (lo, hi] covers every row
        for a, b in zip(bounds, bounds[1:]):
            total += s.execute(q, (a, b), timeout=120).one()[0]
        return total
    finally:
        cluster.shutdown()


def collect(cfg) -> tuple[dict, list[str]]:
    counts, errors = {}, []
    for name, fn in (("PostgreSQL", pg_counts), ("Kafka", kafka_counts)):
        try:
            counts.update(fn(cfg))
        except Exception as e:  # noqa: BLE001 - reported, the other stages still print
            errors.append(f"{name}: {e}")
    try:
        counts["cassandra"] = cassandra_count(cfg)
    except Exception as e:  # noqa: BLE001
        errors.append(f"Cassandra: {e}")
    if "kafka_marks" in counts and "spark_end_offsets" in counts:
        ends = counts["spark_end_offsets"] or {}
        lows = {str(p): lo for p, (lo, hi) in counts["kafka_marks"].items()}
        his = {str(p): hi for p, (lo, hi) in counts["kafka_marks"].items()}
        counts["spark_processed"] = sum(max(0, int(ends.get(p, lows[p])) - lows[p]) for p in lows)
        counts["in_flight"] = sum(max(0, his[p] - int(ends.get(p, lows[p]))) for p in his)
    return counts, errors


ROWS = [
    ("fetched", "fetched from the API (ops.load_batches)"),
    ("staged", "staged   PostgreSQL staging.users"),
    ("rejected", "rejected PostgreSQL staging.rejects"),
    ("kafka", "Kafka    userstream.users records"),
    ("spark_processed", "Spark    records processed"),
    ("in_flight", "in flight (Kafka, not yet processed)"),
    ("cassandra", "Cassandra userstream.users"),
    ("dlq_distinct", "dead letters (userstream.users.dlq)"),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = ap.parse_args(argv)
    conf = config_mod.load()
    # libpq finds the ops role's password there (./userstream env exports it too).
    os.environ.setdefault("PGPASSFILE", os.path.join(conf["US_SECRETS_DIR"], "pgpass"))
    # Read-only, as the console: its Kafka principal and Cassandra role.
    cfg = dataclasses.replace(config_mod.JobConfig.from_conf(conf),
                              kafka_client_file=conf.get("US_KAFKA_CONSOLE_CLIENT_FILE", ""),
                              cassandra_credentials=conf.get("US_CASSANDRA_READER_CREDENTIALS", ""))  # fmt: skip
    counts, errors = collect(cfg)
    if args.json:
        print(json.dumps({k: counts.get(k) for k, _ in ROWS} | {"errors": errors}, default=str))
        return 1 if errors else 0
    print(f"{'stage':<42}{'count':>10}")
    for key, label in ROWS:
        v = counts.get(key)
        print(f"{label:<42}{'?' if v is None else v:>10}")
    if counts.get("latency_p50_ms") is not None:
        print(f"PostgreSQL commit -> Cassandra, last 5 min: p50 {counts['latency_p50_ms']:.0f} ms, "
              f"worst batch p99 {counts['latency_p99_ms']:.0f} ms")  # fmt: skip
    for e in errors:
        print(f"could not ask {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
