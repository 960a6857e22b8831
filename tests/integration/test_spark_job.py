"""The Spark job (spark/) on the real stack: Kafka -> Cassandra, exactly-once
effect across a kill -9 of the driver, idempotent replays, deletes, updates,
dead letters, a newer schema version.

The job runs as the service runs it (stack/spark/submit spark/job.py) but on
its own topic, keyspace, checkpoint and query names, so nothing else on the
stack (the spark_job service, relay tests) touches what this module counts,
and with --master local[2]: a running spark_job service may hold the
standalone worker's cores (the service itself is covered end to end).
Change records are produced the way the relay writes them
(docs/data-contracts.md §3): Confluent-framed Avro with the schema from the
registry, tombstones for deletes, the us.* headers.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "spark"))
sys.path.insert(0, os.path.join(ROOT, "spark"))

from avro_util import encode, headers, user, users_schema  # noqa: E402

N = 20000  # users of the first load
BAD = 3  # records that must become dead letters
SUFFIX = uuid.uuid4().hex[:8]
TOPIC, DLQ, KS, PREFIX = f"it_spark_{SUFFIX}", f"it_spark_{SUFFIX}.dlq", f"it_spark_{SUFFIX}", f"it{SUFFIX}_"
# The kill-point test's own names: it must not disturb the counts above.
K_TOPIC, K_DLQ, K_KS, K_PREFIX = (f"it_spark_k{SUFFIX}", f"it_spark_k{SUFFIX}.dlq", f"it_spark_k{SUFFIX}",
                                  f"itk{SUFFIX}_")  # fmt: skip


def uid(i: int) -> str:
    return str(uuid.UUID(int=(0x5EED << 112) | i, version=4))


class Cdc:
    """Produces change records as the relay does, with increasing commit LSNs."""

    def __init__(self, stack, topic=TOPIC):
        self.stack = stack
        self.topic = topic
        self.p = Producer({**stack.kafka_conf(), "enable.idempotence": True,
                           "linger.ms": 20, "partitioner": "murmur2_random"})  # fmt: skip
        self.lsn = 0x1600000
        self.ids = {}
        self.commit_ts = {}  # lsn -> commit time: a replay re-sends the same

    def register(self, schema) -> int:
        url = f"{self.stack['US_REGISTRY_URL']}/subjects/{self.topic}-value/versions"
        body = json.dumps({"schema": json.dumps(schema)}).encode()
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/vnd.schemaregistry.v1+json",
                                              **self.stack.registry_headers()})  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)["id"]

    def txn(self, changes, schema=None):
        """One transaction: changes = [(op, user_id, record or None)]."""
        schema = schema or users_schema()
        sid = self.ids.get(json.dumps(schema)) or self.ids.setdefault(json.dumps(schema), self.register(schema))
        self.lsn += 0x10000
        now = self.commit_ts.setdefault(self.lsn, datetime.now(timezone.utc))
        for seq, (op, key, rec) in enumerate(changes):
            value = None
            if rec is not None:
                value = encode(schema, dict(rec, __op=op, __lsn=self.lsn, __seq=seq, __commit_ts=now), sid)
            self.raw(key, value, headers(op, self.lsn, seq, now))
        return self.lsn

    def raw(self, key, value, hdrs):
        while True:
            try:
                self.p.produce(self.topic, key=None if key is None else key.encode(), value=value, headers=hdrs)
                return
            except BufferError:
                self.p.poll(0.2)

    def flush(self):
        assert self.p.flush(120) == 0


def person(i, **over):
    base = {"user_id": uid(i), "email": f"user{i}@example.com", "username": f"u{i}",
            "country": ["France", "Germany", "Brazil", "Norway"][i % 4]}  # fmt: skip
    return user(**dict(base, **over))


class Job:
    """The job under test: stack/spark/submit spark/job.py, own names."""

    def __init__(self, stack, tmp, names=(TOPIC, DLQ, KS, PREFIX), max_offsets=2000):
        self.stack = stack
        topic, dlq, ks, prefix = names
        self.env = dict(stack.env, US_KAFKA_TOPIC_USERS=topic, US_KAFKA_TOPIC_DLQ=dlq, US_CASSANDRA_KEYSPACE=ks,
                        US_SPARK_QUERY_PREFIX=prefix, US_SPARK_CHECKPOINT_DIR=str(tmp / "checkpoints"),
                        US_SPARK_MAX_OFFSETS_PER_TRIGGER=str(max_offsets),
                        US_SPARK_DRIVER_UI_PORT=str(int(stack["US_SPARK_DRIVER_UI_PORT"]) + 1),
                        US_SPARK_PII_KEY_FILE=str(tmp / "secrets" / "pii_hmac_key"), US_HOME=str(tmp),
                        # own topic and keyspace, which the spark principal and the
                        # spark_writer role have no grant on: run as the admins
                        US_KAFKA_SPARK_CLIENT_FILE=stack["US_KAFKA_ADMIN_CLIENT_FILE"],
                        US_CASSANDRA_WRITER_CREDENTIALS=stack["US_CASSANDRA_ADMIN_CREDENTIALS"])  # fmt: skip
        os.makedirs(tmp / "secrets", mode=0o700, exist_ok=True)
        key = tmp / "secrets" / "pii_hmac_key"
        if not key.exists():
            key.write_text(uuid.uuid4().hex + uuid.uuid4().hex)
            os.chmod(key, 0o600)
        self.log = open(tmp / "job.log", "ab")
        self.proc = None

    def cmd(self, *args):
        return [os.path.join(ROOT, "stack", "spark", "submit"), "--master", "local[2]", "--name", f"it-spark-{SUFFIX}",
                "--driver-memory", "1g", os.path.join(ROOT, "spark", "job.py"), *args]  # fmt: skip

    def start(self, *args, env=None):
        self.proc = subprocess.Popen(self.cmd(*args), env=dict(self.env, **(env or {})), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def run_until_done(self, timeout=900):
        """--available-now: process what Kafka holds, then exit 0. The timeout
        only guards against a hang: on a 2-core machine shared with other
        stacks (load average 30) catching up on 20,000 records took over 7 min."""
        self.start("--available-now")
        rc = self.proc.wait(timeout=timeout)
        assert rc == 0, f"job exited {rc}; see {self.log.name}"

    def kill9(self):
        """kill -9 of the driver (the spark-submit JVM and its Python)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self):
        """After a failed test: no driver left running on a dropped keyspace."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill9()


def cql(stack, q, ks=KS):
    out = stack.cqlsh("-k", ks, "-e", q).stdout
    return [line.strip() for line in out.splitlines()]


def count(stack, table, where="", ks=KS):
    lines = cql(stack, f"SELECT count(*) FROM {table} {where}", ks)
    return int(next(x for x in lines if x.isdigit()))


def signups_total(stack, ks=KS):
    return sum(int(x) for x in cql(stack, "SELECT signups FROM signups_per_minute", ks) if x.isdigit())


def progress_batches(stack):
    out = stack.psql(stack["US_PG_OPS_USER"],
                     f"SELECT count(*) FROM ops.stream_progress WHERE query_name = '{PREFIX}users'").stdout  # fmt: skip
    return int(out.strip())


def dlq_records(stack):
    c = Consumer({**stack.kafka_conf(), "group.id": f"it-{uuid.uuid4().hex}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    c.subscribe([DLQ])
    out, idle = [], 0
    while idle < 3:
        m = c.poll(2)
        if m is None:
            idle += 1
            continue
        if not m.error():
            out.append({k: v.decode() for k, v in (m.headers() or [])})
    c.close()
    return out


def make_topics_and_keyspace(stack, topic, dlq, ks):
    admin = AdminClient(stack.kafka_conf())
    for f in admin.create_topics([NewTopic(topic, 4, 1), NewTopic(dlq, 1, 1)]).values():
        f.result(60)
    stack.cqlsh("-e", f"CREATE KEYSPACE {ks} WITH replication = {{'class': 'SimpleStrategy', "
                      "'replication_factor': 1}")  # fmt: skip
    for f in sorted(glob.glob(os.path.join(ROOT, "stack", "cql", "0*.cql"))):  # every migration, as `up` does
        stack.cqlsh("-k", ks, "-f", f)
    return admin


def drop_topics_and_keyspace(stack, admin, topic, dlq, ks):
    stack.cqlsh("-e", f"DROP KEYSPACE IF EXISTS {ks}", check=False)
    for f in admin.delete_topics([topic, dlq]).values():
        try:
            f.result(60)
        except Exception:  # noqa: BLE001 - cleanup only
            pass


def job_env(stack, tmp_path_factory, tmpname, names=(TOPIC, DLQ, KS, PREFIX), max_offsets=2000):
    """(Cdc, Job) on their own topics and keyspace, dropped afterwards (a fixture's body)."""
    topic, dlq, ks, _ = names
    admin = make_topics_and_keyspace(stack, topic, dlq, ks)
    job = Job(stack, tmp_path_factory.mktemp(tmpname), names, max_offsets=max_offsets)
    try:
        yield Cdc(stack, topic), job
    finally:
        job.stop()
        drop_topics_and_keyspace(stack, admin, topic, dlq, ks)


@pytest.fixture(scope="module")
def env(stack, tmp_path_factory):
    yield from job_env(stack, tmp_path_factory, "spark-job")


def test_kill9_mid_run_then_restart_gives_exact_counts(stack, env):
    cdc, job = env
    for start in range(0, N, 5000):  # 4 transactions of 5,000 inserts (a loader page each)
        cdc.txn([("c", uid(i), person(i)) for i in range(start, start + 5000)])
    cdc.raw(uid(900001), b"\x00" + (127).to_bytes(4, "big") + b"not avro", headers("c", cdc.lsn, 5000))  # unknown id
    cdc.raw(uid(900002), b"\x07garbage", headers("c", cdc.lsn, 5001))  # not Confluent-framed
    bad = person(900003, email="not an email")
    cdc.txn([("c", uid(900003), bad)])
    cdc.flush()

    job.start()
    deadline = time.time() + 900  # a hang guard only (see run_until_done)
    while progress_batches(stack) < 1:  # at least one batch written, more to come
        assert job.proc.poll() is None, f"job died; see {job.log.name}"
        assert time.time() < deadline, "no batch processed in 15 minutes"
        time.sleep(2)
    job.kill9()
    partial = count(stack, "users")
    assert partial < N, "the kill came too late to be mid-run"

    job.run_until_done()
    assert count(stack, "users") == N
    assert count(stack, "users_by_email_hash") == N
    assert count(stack, "users_by_country") == N
    signups = sum(int(x) for x in cql(stack, "SELECT signups FROM signups_per_minute") if x.isdigit())
    assert signups == N, "each sign-up counted exactly once despite the kill"
    dead = dlq_records(stack)
    assert len({d["us.dlq.source"] for d in dead}) == BAD
    reasons = {d["us.dlq.reason"] for d in dead}
    assert {"unknown schema id 127", "email missing or malformed"} <= reasons
    assert all(d["us.dlq.stage"] in ("decode", "validate") for d in dead)


def snapshot(stack, ids):
    rows = {}
    for i in ids:
        lines = cql(stack, f"SELECT JSON user_id, email_hmac, country_code, age, full_name, commit_lsn FROM users "
                           f"WHERE user_id = {uid(i)}")  # fmt: skip
        wt = cql(stack, f"SELECT writetime(full_name) FROM users WHERE user_id = {uid(i)}")
        rows[i] = ([x for x in lines if x.startswith("{")], [x for x in wt if x.isdigit()])
    return rows


def test_replayed_records_change_nothing(stack, env):
    cdc, job = env
    sample = [0, 1, 4999, 5000, 12345, N - 1]
    before = snapshot(stack, sample)
    # The relay after a crash: the same transactions again (same LSNs), plus an
    # older image of user 7 arriving late.
    saved = cdc.lsn
    cdc.lsn = 0x1600000
    for start in range(0, 10000, 5000):
        cdc.txn([("c", uid(i), person(i)) for i in range(start, start + 5000)])
    cdc.lsn = 0x1600000 - 0x10000 - 1  # the next txn commits below every LSN written so far
    cdc.txn([("u", uid(7), person(7, city="STALE"))])
    cdc.lsn = saved
    cdc.flush()
    job.run_until_done()
    assert snapshot(stack, sample) == before
    assert "STALE" not in " ".join(cql(stack, f"SELECT city FROM users WHERE user_id = {uid(7)}"))
    assert count(stack, "users") == N
    signups = sum(int(x) for x in cql(stack, "SELECT signups FROM signups_per_minute") if x.isdigit())
    assert signups == N


def test_deletes_updates_and_a_newer_schema(stack, env):
    cdc, job = env
    gone = list(range(100, 110))
    moved = list(range(200, 205))
    cdc.txn([("d", uid(i), None) for i in gone]
            + [("u", uid(i), person(i, country="Spain", email=f"new{i}@example.es")) for i in moved])  # fmt: skip
    v2 = users_schema(extra=[("nickname", {"type": "string"})])
    cdc.txn([("c", uid(N + i), dict(person(N + i), nickname=f"n{i}")) for i in range(50)], schema=v2)
    cdc.txn([("c", uid(N + 50 + i), person(N + 50 + i)) for i in range(50)])  # old writer schema after the new
    cdc.flush()
    job.run_until_done()

    assert count(stack, "users") == N - len(gone) + 100
    for i in gone:
        assert count(stack, "users", f"WHERE user_id = {uid(i)}") == 0
    assert count(stack, "users_by_email_hash") == N - len(gone) + 100
    assert count(stack, "users_by_country") == N - len(gone) + 100
    for i in moved:
        b = int(uid(i)[0], 16) % 16
        assert count(stack, "users_by_country", f"WHERE country_code = 'ES' AND bucket = {b} AND user_id = {uid(i)}") == 1
        old = ["FR", "DE", "BR", "NO"][i % 4]
        assert count(stack, "users_by_country", f"WHERE country_code = '{old}' AND bucket = {b} AND user_id = {uid(i)}") == 0
    lines = cql(stack, f"SELECT country_code, email_domain FROM users WHERE user_id = {uid(N + 3)}")
    assert any("example.com" in x for x in lines)


K_N = 2000  # users of the kill-point test


@pytest.fixture(scope="module")
def kenv(stack, tmp_path_factory):
    yield from job_env(stack, tmp_path_factory, "spark-job-kill-points", (K_TOPIC, K_DLQ, K_KS, K_PREFIX), 400)


def test_kill9_at_each_point_of_a_batch_gives_exact_signups(stack, kenv):
    """The driver kills itself (US_SPARK_TEST_KILL_AT, off unless set) at
    each point of a batch in turn: before the batch's sign-up rows are
    written (where the old stateful query had not committed its state yet),
    after they are written (state committed, counts not yet written), half
    way through the per-minute counts, and after every write but before Spark
    commits the batch. Each restart replays the batch; a relay replay of
    earlier sign-ups at new offsets comes in between. The counts are exact."""
    cdc, job = kenv
    for start in range(0, K_N, 500):
        cdc.txn([("c", uid(i), person(i)) for i in range(start, start + 500)])
    cdc.flush()
    first_lsn = cdc.lsn - 3 * 0x10000
    points = ["signups-before-write@2", "signups-after-write", "signups-mid-counts", "batch-end"]
    for n, point in enumerate(points):
        job.start("--available-now", env={"US_SPARK_TEST_KILL_AT": point})
        rc = job.proc.wait(timeout=600)
        assert rc == -signal.SIGKILL, f"expected a kill -9 at {point}, the job exited {rc}; see {job.log.name}"
        if n == 1:  # the relay after a crash: the first transaction again, same LSNs, at new offsets
            saved, cdc.lsn = cdc.lsn, first_lsn - 0x10000
            cdc.txn([("c", uid(i), person(i)) for i in range(0, 500)])
            cdc.lsn = saved
            cdc.flush()
    with open(os.path.join(job.env["US_HOME"], "test-kills.log"), encoding="utf-8") as f:
        assert f.read().split() == points, "the driver killed itself at each point, in turn"
    job.run_until_done()
    assert count(stack, "users", ks=K_KS) == K_N
    assert count(stack, "signup_events", ks=K_KS) == K_N
    assert signups_total(stack, K_KS) == K_N, "each sign-up counted exactly once despite the kills"


# The data-loss test's own names (issue 12 item 10).
L_TOPIC, L_DLQ, L_KS, L_PREFIX = (f"it_spark_l{SUFFIX}", f"it_spark_l{SUFFIX}.dlq", f"it_spark_l{SUFFIX}",
                                  f"itl{SUFFIX}_")  # fmt: skip


@pytest.fixture(scope="module")
def lenv(stack, tmp_path_factory):
    # cleanup.policy=delete (the default of a new topic): records can be deleted
    try:
        yield from job_env(stack, tmp_path_factory, "spark-job-data-loss", (L_TOPIC, L_DLQ, L_KS, L_PREFIX), 400)
    finally:
        stack.psql(stack["US_PG_ADMIN_USER"], f"DELETE FROM ops.stream_stops WHERE query_name = '{L_PREFIX}users'")


def end_offsets(stack, topic, partitions=4):
    c = Consumer({**stack.kafka_conf(), "group.id": f"it-{uuid.uuid4().hex}"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions)}
    finally:
        c.close()


def test_deleted_unread_offsets_stop_the_job_with_a_data_loss_error(stack, lenv, tmp_path):
    """The Kafka retention trap: records the job has not read yet are deleted
    (kafka-delete-records, as retention or an operator would) while it is
    stopped. On restart it must stop with a clear data-loss error, stay stopped
    (exit 3, which the service does not restart), and the console must show
    why; never skip the records silently."""
    from console_support import Console

    cdc, job = lenv
    cdc.txn([("c", uid(i), person(i)) for i in range(0, 200)])
    cdc.flush()
    job.run_until_done()
    assert count(stack, "users", ks=L_KS) == 200
    cdc.txn([("c", uid(i), person(i)) for i in range(200, 400)])  # not read: the job is stopped
    cdc.flush()
    ends = end_offsets(stack, L_TOPIC)
    assert sum(ends.values()) == 400
    spec = tmp_path / "delete-records.json"
    spec.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": L_TOPIC, "partition": p, "offset": o} for p, o in ends.items()]}))  # fmt: skip
    stack.us("kafka-run", "org.apache.kafka.tools.DeleteRecordsCommand", "--bootstrap-server",
             stack["US_KAFKA_BOOTSTRAP"], "--command-config", stack.kafka_tool_config(),
             "--offset-json-file", str(spec))  # fmt: skip
    job.start()  # as the service runs it: streaming, no deterministic stop of its own
    rc = job.proc.wait(timeout=600)
    assert rc == 3, f"expected the data-loss exit 3, got {rc}; see {job.log.name}"
    with open(job.log.name, encoding="utf-8", errors="replace") as f:
        log = f.read()
    assert "DATA LOSS, stopping for good (exit 3)" in log
    assert count(stack, "users", ks=L_KS) == 200, "nothing read past the gap"
    rows = stack.psql(stack["US_PG_OPS_USER"], "SELECT exit_code || ' ' || reason FROM ops.stream_stops "
                      f"WHERE query_name = '{L_PREFIX}users'").stdout.strip()  # fmt: skip
    assert rows.startswith(f"3 data loss in {L_TOPIC}: "), rows
    # the service's supervisor does not restart exit 3
    svc = open(os.path.join(ROOT, "stack", "services", "85-spark-job.sh"), encoding="utf-8").read()
    assert "exitcodes=0,3" in svc
    # the console's alert names the query and the reason
    console = Console(stack)
    try:
        assert console.login()[0] == 200
        alerts = console.wait_round(time.time())["alerts"]
        stopped = [a["message"] for a in alerts if a["id"] == "stopped"]
        assert stopped and f"spark query {L_PREFIX}users stopped (exit 3)" in stopped[0], alerts
        assert "data loss in " + L_TOPIC in stopped[0]
    finally:
        console.close()
    # a second restart fails the same way: the gap is never skipped
    job.start("--available-now")
    assert job.proc.wait(timeout=600) == 3
    assert count(stack, "users", ks=L_KS) == 200


T_TOPIC, T_DLQ, T_KS, T_PREFIX = (f"it_spark_t{SUFFIX}", f"it_spark_t{SUFFIX}.dlq", f"it_spark_t{SUFFIX}",
                                  f"itt{SUFFIX}_")  # fmt: skip


@pytest.fixture(scope="module")
def tenv(stack, tmp_path_factory):
    yield from job_env(stack, tmp_path_factory, "spark-job-truncate", (T_TOPIC, T_DLQ, T_KS, T_PREFIX), 400)


def test_truncate_marker_deletes_users_and_their_ids_in_signup_rows(stack, tenv):
    """A TRUNCATE of staging.users (the relay's marker, one per partition) deletes every
    user written before it, and takes their ids out of signup_events like an erasure: the
    sign-ups stay counted (placeholders), the ids are gone (docs/lifecycle.md)."""
    cdc, job = tenv
    cdc.txn([("c", uid(i), person(i)) for i in range(0, 50)])
    cdc.flush()
    job.run_until_done()
    assert count(stack, "users", ks=T_KS) == 50
    cdc.lsn += 0x10000
    for p in range(4):  # the marker as the relay sends it: empty key, null value, us.op t, every partition
        cdc.p.produce(T_TOPIC, key=b"", value=None, partition=p, headers=headers("t", cdc.lsn, 0))
    cdc.txn([("c", uid(i), person(i)) for i in range(50, 55)])  # after the truncate: they stay
    cdc.flush()
    job.run_until_done()
    assert count(stack, "users", ks=T_KS) == 5
    ids = [x for x in cql(stack, "SELECT user_id FROM signup_events", T_KS) if x.count("-") == 4]
    assert len(ids) == 55
    assert not {uid(i) for i in range(50)} & set(ids)
    assert sum(x.startswith("00000000-0000-0000-") for x in ids) == 50
    assert signups_total(stack, T_KS) == 55
