"""bench/e2e.py: end-to-end numbers of the processing half, on the running stack.

    $US_VENV/bin/python bench/e2e.py throughput [--users 200000]
    $US_VENV/bin/python bench/e2e.py latency [--rate 1000 --seconds 60]
    $US_VENV/bin/python bench/e2e.py seed [--users 3000]

throughput  with the spark_job service running, writes N change records to
            Kafka the way the relay does (Confluent Avro, 5,000-row
            transactions) and reads ops.stream_progress: users/s from the first
            batch's start to the last batch's end (the backlog drained).
latency     with the service running, commits users at a steady rate (a
            transaction of rate/10 users every 100 ms, us.commit_ts = that
            moment) and gives each record its batch (by partition/offset, from
            ops.stream_progress): latency = batch finished (Cassandra written)
            - commit time; p50/p99 over all records.
seed        the seed project's design on the same engines, our code: one
            HTTP request per user to userstream-source (a new connection each,
            like requests.get), the flattened JSON straight to Kafka, a Spark
            job from_json -> Cassandra (bench/e2e_seed_job.py); users/s from the
            first request to the last row in Cassandra.

Without the relay and loader on this branch, "commit" is the emulated relay's
commit timestamp: the numbers cover Kafka -> Spark -> Cassandra (the relay's
own benchmark covers PostgreSQL -> Kafka). Prints one JSON line per result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "spark", "tests"))
sys.path.insert(0, os.path.join(ROOT, "spark"))

from avro_util import encode, headers, user, users_schema  # noqa: E402


def env() -> dict:
    out = subprocess.run([os.path.join(ROOT, "userstream"), "env"], capture_output=True, text=True, check=True)
    cfg = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition("=")
        cfg[k] = v.strip("'\"")
    return cfg


def supervisorctl(cfg, *args):
    conf = os.path.join(cfg["US_HOME"], "supervisor", "supervisord.conf")
    return subprocess.run([os.path.join(cfg["US_VENV"], "bin", "supervisorctl"), "-c", conf, *args],
                          capture_output=True, text=True)  # fmt: skip


def psql(cfg, sql):
    return subprocess.run(["psql", "-h", cfg["US_PG_HOST"], "-p", cfg["US_PG_PORT"], "-U", cfg["US_PG_OPS_USER"],
                           "-d", cfg["US_PG_DATABASE"], "-w", "-X", "-At", "-c", sql],
                          capture_output=True, text=True, check=True, env=dict(os.environ, PGPASSFILE=cfg["PGPASSFILE"])
                          ).stdout  # fmt: skip


def register(cfg, schema) -> int:
    url = f"{cfg['US_REGISTRY_URL']}/subjects/{cfg['US_KAFKA_TOPIC_USERS']}-value/versions"
    req = urllib.request.Request(url, data=json.dumps({"schema": json.dumps(schema)}).encode(), method="POST",
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["id"]


class Relay:
    """Writes change records as userstream-relay does."""

    def __init__(self, cfg, on_delivery=None):
        from confluent_kafka import Producer

        self.cfg = cfg
        self.schema = users_schema()
        self.sid = register(cfg, self.schema)
        self.p = Producer({"bootstrap.servers": cfg["US_KAFKA_BOOTSTRAP"], "enable.idempotence": True,
                           "linger.ms": 5, "partitioner": "murmur2_random"})  # fmt: skip
        self.on_delivery = on_delivery
        self.lsn = int(time.time() * 1000)  # increasing across runs (ms since the epoch), below 2^43

    def txn(self, n, tag):
        self.lsn += 0x10000
        now = datetime.now(timezone.utc)
        us = int(now.timestamp() * 1_000_000)
        for seq in range(n):
            uid = str(uuid.uuid4())
            rec = user(user_id=uid, email=f"{tag}{seq}.{self.lsn}@example.com")
            rec.update(__op="c", __lsn=self.lsn, __seq=seq, __commit_ts=now)
            value = encode(self.schema, rec, self.sid)
            while True:
                try:
                    self.p.produce(self.cfg["US_KAFKA_TOPIC_USERS"], key=uid.encode(), value=value,
                                   headers=headers("c", self.lsn, seq, now),
                                   on_delivery=(lambda e, m, us=us: self.on_delivery(e, m, us)) if self.on_delivery
                                   else None)  # fmt: skip
                    break
                except BufferError:
                    self.p.poll(0.05)
        self.p.poll(0)

    def flush(self):
        assert self.p.flush(300) == 0


def wait_caught_up(cfg, since_batch, timeout=1800):
    """Until the users query has processed every record now in the topic."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": cfg["US_KAFKA_BOOTSTRAP"], "group.id": "bench-" + uuid.uuid4().hex})
    topic = cfg["US_KAFKA_TOPIC_USERS"]
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    high = {str(p): c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    c.close()
    deadline = time.time() + timeout
    while time.time() < deadline:
        row = psql(cfg, "SELECT end_offsets FROM ops.stream_progress WHERE query_name = 'users' "
                        f"AND batch_id > {since_batch} AND end_offsets IS NOT NULL ORDER BY batch_id DESC LIMIT 1")
        if row.strip():
            ends = json.loads(row)
            if all(int(ends.get(p, 0)) >= h for p, h in high.items()):
                return
        time.sleep(2)
    raise SystemExit("the job did not catch up in time")


def last_batch(cfg) -> int:
    return int(psql(cfg, "SELECT coalesce(max(batch_id), -1) FROM ops.stream_progress WHERE query_name = 'users'"))


def cmd_throughput(cfg, a):
    # The service keeps running (warm, as in production); the emulated relay
    # writes ~4x faster than the job drains, so a backlog builds at once.
    before = last_batch(cfg)
    r = Relay(cfg)
    t0 = time.time()
    for start in range(0, a.users, 5000):
        r.txn(min(5000, a.users - start), "t")
    r.flush()
    produce_s = time.time() - t0
    wait_caught_up(cfg, before)
    row = psql(cfg, "SELECT sum(input_rows), extract(epoch FROM max(finished_at) - min(started_at)), count(*), "
                    "sum(upserts) FROM ops.stream_progress WHERE query_name = 'users' "
                    f"AND batch_id > {before} AND input_rows > 0").strip().split("|")  # fmt: skip
    rows, secs, batches = int(row[0]), float(row[1]), int(row[2])
    print(json.dumps({"bench": "throughput", "users": a.users, "records_processed": rows, "batches": batches,
                      "seconds": round(secs, 1), "users_per_s": round(rows / secs),
                      "relay_emulator_users_per_s": round(a.users / produce_s)}))  # fmt: skip


def cmd_latency(cfg, a):
    marks = []  # (partition, offset, commit_us)

    def delivered(err, msg, us):
        if err is None:
            marks.append((msg.partition(), msg.offset(), us))

    before = last_batch(cfg)
    r = Relay(cfg, delivered)
    per_txn = max(1, a.rate // 10)
    t0 = time.time()
    n = 0
    while time.time() - t0 < a.seconds:
        r.txn(per_txn, "l")
        n += per_txn
        time.sleep(max(0.0, t0 + n / a.rate - time.time()))
    r.flush()
    wait_caught_up(cfg, before)
    rows = psql(cfg, "SELECT start_offsets, end_offsets, extract(epoch FROM finished_at) FROM ops.stream_progress "
                     f"WHERE query_name = 'users' AND batch_id > {before} AND end_offsets IS NOT NULL")  # fmt: skip
    batches = []
    for line in rows.splitlines():
        s, e, fin = line.split("|")
        batches.append((json.loads(s), json.loads(e), float(fin)))
    lat = []
    for p, off, us in marks:
        for s, e, fin in batches:
            if int(s.get(str(p), -1)) <= off < int(e.get(str(p), -1)):
                lat.append(fin * 1000 - us / 1000)
                break
    lat.sort()

    def pct(q):
        return round(lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else None

    print(json.dumps({"bench": "latency", "rate": a.rate, "seconds": a.seconds, "records": len(marks),
                      "matched": len(lat), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0)}))  # fmt: skip


def cmd_seed(cfg, a):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic, ks = f"seed_users_created_{uuid.uuid4().hex[:8]}", "spark_streams"  # fresh topic: counts start at 0
    admin = AdminClient({"bootstrap.servers": cfg["US_KAFKA_BOOTSTRAP"]})  # keep a reference: futures need it
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        try:
            f.result(60)
        except Exception as e:  # noqa: BLE001 - it exists from an earlier run
            print(f"topic {topic}: {e}", file=sys.stderr)
    cq = [os.path.join(cfg["US_VENV"], "bin", "cqlsh"), cfg["US_CASSANDRA_HOST"], cfg["US_CASSANDRA_PORT"]]
    subprocess.run(cq + ["-e", f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{'class': "
                               "'SimpleStrategy', 'replication_factor': 1}; "
                               f"DROP TABLE IF EXISTS {ks}.created_users; "
                               f"CREATE TABLE {ks}.created_users (id uuid PRIMARY KEY, first_name text, "
                               "last_name text, gender text, address text, post_code text, email text, "
                               "username text, registered_date text, phone text, picture text);"],
                   check=True)  # fmt: skip
    port = a.source_port
    src = subprocess.Popen([os.path.join(ROOT, "build", "src", "source", "userstream-source"), "--port", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    supervisorctl(cfg, "stop", "spark_job")  # same Spark resources for the seed job
    job = subprocess.Popen([os.path.join(ROOT, "stack", "spark", "submit"), "--name", "seed-design",
                            os.path.join(HERE, "e2e_seed_job.py"), "--bootstrap", cfg["US_KAFKA_BOOTSTRAP"],
                            "--topic", topic, "--keyspace", ks, "--checkpoint", f"/tmp/seed-chk-{uuid.uuid4().hex}"],
                           stdout=open("/tmp/seed-job.log", "w"), stderr=subprocess.STDOUT)  # fmt: skip
    try:
        time.sleep(3)
        p = Producer({"bootstrap.servers": cfg["US_KAFKA_BOOTSTRAP"]})
        time.sleep(40)  # let the seed job start streaming before the clock starts
        t0 = time.time()
        for i in range(a.users):
            if job.poll() is not None:
                raise SystemExit(f"the seed job exited {job.returncode}; see /tmp/seed-job.log")
            # The seed's get_data + format_data: one user per request, flattened.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/1.4/?seed=seedbench&page={i + 1}",
                                        timeout=10) as resp:  # fmt: skip
                res = json.load(resp)["results"][0]
            loc = res["location"]
            data = {"id": str(uuid.uuid4()), "first_name": res["name"]["first"], "last_name": res["name"]["last"],
                    "gender": res["gender"],
                    "address": f"{loc['street']['number']} {loc['street']['name']}, {loc['city']}, "
                               f"{loc['state']}, {loc['country']}",
                    "post_code": str(loc["postcode"]), "email": res["email"], "username": res["login"]["username"],
                    "dob": res["dob"]["date"], "registered_date": res["registered"]["date"], "phone": res["phone"],
                    "picture": res["picture"]["medium"]}  # fmt: skip
            p.produce(topic, json.dumps(data).encode())
            p.poll(0)
        p.flush()
        produce_s = time.time() - t0
        while True:
            out = subprocess.run(cq + ["-e", f"SELECT count(*) FROM {ks}.created_users"], capture_output=True,
                                 text=True).stdout  # fmt: skip
            got = int(next(x.strip() for x in out.splitlines() if x.strip().isdigit()))
            if got >= a.users or time.time() - t0 > 900 or job.poll() is not None:
                break
            time.sleep(1)
        total_s = time.time() - t0
        print(json.dumps({"bench": "seed", "users": a.users, "in_cassandra": got,
                          "producer_users_per_s": round(a.users / produce_s),
                          "end_to_end_users_per_s": round(got / total_s), "seconds": round(total_s, 1)}))  # fmt: skip
    finally:
        job.terminate()
        src.terminate()
        job.wait(60)
        src.wait(10)
        supervisorctl(cfg, "start", "spark_job")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--users", type=int, default=200000)
    lat = sub.add_parser("latency")
    lat.add_argument("--rate", type=int, default=1000)
    lat.add_argument("--seconds", type=int, default=60)
    s = sub.add_parser("seed")
    s.add_argument("--users", type=int, default=3000)
    s.add_argument("--source-port", type=int, default=18410)
    a = ap.parse_args()
    cfg = env()
    {"throughput": cmd_throughput, "latency": cmd_latency, "seed": cmd_seed}[a.cmd](cfg, a)


if __name__ == "__main__":
    main()
