"""userstream-relay against the real stack (PostgreSQL 15, Kafka 4.1, Apicurio).

Each test gets its own table (LIKE staging.users), publication, slot, topic
and subject, so tests do not see each other's rows. Kafka is read back with
kcat; values are decoded with fastavro against the schema the registry holds
for the record's schema id. Every test ends the relay deterministically
(--end-lsn or SIGTERM) and asserts data, never timing.
"""

import io
import sys
import json
import os
import re
import signal
import struct
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
RELAY = os.environ.get("US_RELAY_BIN") or os.path.join(REPO, "build", "src", "relay", "userstream-relay")


def kcat(stack, *args, **kw):
    return stack.run([*stack.kcat_args(), *args], **kw)


class Lane:
    """One isolated relay lane: table, publication, slot, topic, subject."""

    def __init__(self, stack, name, partitions=4):
        self.stack = stack
        tag = f"{name}_{uuid.uuid4().hex[:6]}"
        self.table = f"staging.it_{tag}"
        self.pub = f"it_{tag}"
        self.slot = f"it_{tag}"
        self.topic = f"it.relay.{tag}"
        self.subject = f"{self.topic}-value"
        self.admin = stack["US_PG_ADMIN_USER"]
        self.sql(f"CREATE TABLE {self.table} (LIKE staging.users INCLUDING ALL);"
                 f"GRANT SELECT ON {self.table} TO {stack['US_PG_RELAY_USER']};"
                 f"GRANT SELECT, INSERT, UPDATE, DELETE ON {self.table} TO {stack['US_PG_LOADER_USER']};"
                 f"CREATE PUBLICATION {self.pub} FOR TABLE {self.table}")
        stack.us("kafka-topics", "--create", "--topic", self.topic, "--partitions", str(partitions))
        self.partitions = partitions
        self.procs = []
        self.port = free_port(stack)

    def sql(self, text, role=None):
        return self.stack.psql(role or self.admin, text).stdout.strip()

    def insert(self, first, count, txn_rows=1000):
        """Rows first..first+count-1 (user_id from the number), txn_rows per transaction."""
        for start in range(first, first + count, txn_rows):
            n = min(txn_rows, first + count - start)
            self.sql(
                f"INSERT INTO {self.table} (user_id, first_name, last_name, email, nat, source_url, "
                f"source_seed, source_page, fetched_at, run_id, dob, latitude, street_number) "
                f"SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F' || g, 'L' || g, "
                f"'e' || g || '@example.com', 'CH', 'http://x', 's', g % 100, now(), 'it', "
                f"'1990-01-01'::timestamptz + g * interval '1 hour', g / 1000.0, g % 1000 "
                f"FROM generate_series({start}, {start + n - 1}) g",
                role=self.stack["US_PG_LOADER_USER"])

    def wal_lsn(self):
        return self.sql("SELECT pg_current_wal_lsn()")

    def slot_state(self):
        return self.sql(f"SELECT confirmed_flush_lsn, active FROM pg_replication_slots WHERE slot_name = '{self.slot}'")

    def env(self, **extra):
        e = {
            "US_RELAY_TABLE": self.table, "US_RELAY_PUBLICATION": self.pub, "US_RELAY_SLOT": self.slot,
            "US_KAFKA_TOPIC_USERS": self.topic, "US_RELAY_METRICS_PORT": str(self.port),
            "US_RELAY_HEARTBEAT_MS": "1000", "US_RELAY_FEEDBACK_MS": "100",
            "US_RELAY_STATUS_INTERVAL_MS": "2000",
            # a topic of its own, which the relay principal has no ACL on
            "US_KAFKA_RELAY_CLIENT_FILE": self.stack["US_KAFKA_ADMIN_CLIENT_FILE"],
        }
        e.update({k: str(v) for k, v in extra.items()})
        env = dict(self.stack.env)
        env.update(e)
        return env

    def start(self, *args, **extra):
        log = open(os.path.join(self.stack["US_LOG_DIR"], f"{self.slot}.{len(self.procs)}.log"), "w")
        p = subprocess.Popen([RELAY, *args], env=self.env(**extra), stdout=log, stderr=subprocess.STDOUT)
        p.log_path = log.name
        self.procs.append(p)
        return p

    def run(self, *args, timeout=600, **extra):
        p = self.start(*args, **extra)
        rc = p.wait(timeout=timeout)
        return rc, open(p.log_path).read()

    def metrics(self):
        with urllib.request.urlopen(f"http://{self.stack['US_BIND']}:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {m[1]: float(m[2]) for m in re.finditer(r"^(userstream_relay_\w+) (\S+)$", text, re.M)}

    def records(self):
        """Every record of the topic: (partition, offset, key, headers, value bytes or None)."""
        out = kcat(self.stack, "-C", "-t", self.topic, "-e", "-q", "-f", "%p\t%o\t%k\t%h\t%S\n",
                   timeout=600).stdout
        recs = []
        for line in out.splitlines():
            p, o, k, h, size = line.split("\t")
            hdr = dict(kv.split("=", 1) for kv in h.split(",")) if h else {}
            recs.append((int(p), int(o), k, hdr, int(size)))
        return recs

    def values(self, limit):
        """Raw values of the first `limit` non-null records, read with kcat's binary output."""
        out = subprocess.run([*self.stack.kcat_args(), "-C", "-t", self.topic, "-e", "-q",
                              "-c", str(limit), "-f", "%R%s"], capture_output=True, timeout=300, check=True).stdout
        vals, at = [], 0
        while at < len(out):
            (n,) = struct.unpack(">I", out[at:at + 4])
            vals.append(out[at + 4:at + 4 + n])
            at += 4 + n
        return vals

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.stack.psql(self.admin, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                    f"WHERE slot_name = '{self.slot}' AND NOT active", check=False)
        self.sql(f"DROP PUBLICATION IF EXISTS {self.pub}; DROP TABLE IF EXISTS {self.table}")
        self.stack.us("kafka-topics", "--delete", "--topic", self.topic, check=False)


def free_port(stack):
    import socket
    s = socket.socket()
    s.bind((stack["US_BIND"], 0))
    port = s.getsockname()[1]
    s.close()
    return port


def registry_schema(stack, sid):
    with urllib.request.urlopen(f"{stack['US_REGISTRY_URL']}/schemas/ids/{sid}", timeout=10) as r:
        return json.loads(json.loads(r.read())["schema"])


def registry_versions(stack, subject):
    with urllib.request.urlopen(f"{stack['US_REGISTRY_URL']}/subjects/{subject}/versions", timeout=10) as r:
        return json.loads(r.read())


def expected_keys(first, count):
    return {f"00000000-0000-4000-8000-{g:012d}" for g in range(first, first + count)}


@pytest.fixture(scope="module")
def relay_ready(stack):
    assert os.path.exists(RELAY), f"build the relay first: {RELAY}"
    migration = os.path.join(REPO, "stack", "sql", "020_relay.sql")
    stack.run(["psql", "-h", stack["US_PG_HOST"], "-p", stack["US_PG_PORT"], "-U", stack["US_PG_ADMIN_USER"],
               "-d", stack["US_PG_DATABASE"], "-w", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", migration])
    return stack


@pytest.fixture
def lane(relay_ready, request):
    ln = Lane(relay_ready, request.node.name.replace("test_relay_", "")[:20])
    yield ln
    ln.close()


def check_contract(lane, recs):
    """Headers on every record, Confluent framing, and the Avro body per the registry."""
    for _, _, key, hdr, size in recs:
        assert set(hdr) >= {"us.op", "us.lsn", "us.seq", "us.commit_ts", "us.xid"}, hdr
        assert hdr["us.op"] in "rcudt"
        assert (size == -1) == (hdr["us.op"] in "dt")
    import fastavro
    for raw in lane.values(200):
        if not raw:
            continue
        assert raw[0] == 0
        (sid,) = struct.unpack(">i", raw[1:5])
        schema = registry_schema(lane.stack, sid)
        rec = fastavro.schemaless_reader(io.BytesIO(raw[5:]), fastavro.parse_schema(schema))
        assert rec["__op"] in ("r", "c", "u")
        assert str(rec["user_id"]).startswith("00000000-0000-4000-8000-")
        assert rec["email"].endswith("@example.com")


def check_order(recs):
    """Within a key (so within a partition), (us.lsn, us.seq) never goes back
    in one pass of the log, except where a replay starts over."""
    last = {}
    for p, o, key, hdr, _ in sorted(recs, key=lambda r: (r[0], r[1])):
        v = (int(hdr["us.lsn"]), int(hdr["us.seq"]))
        if key in last and v < last[key]:
            assert False, f"key {key} went back from {last[key]} to {v} at {p}/{o}"
        last[key] = v


def test_relay_snapshot_then_stream_100k(lane):
    """30,000 rows before the slot exists (snapshot) + 70,000 after
    (streaming), an update, a delete and a key change: exactly those keys."""
    lane.insert(1, 30000, txn_rows=5000)
    p = lane.start()
    wait_for(lambda: health(lane) == "streaming", 120)
    lane.insert(30001, 70000, txn_rows=1000)
    lane.sql(f"UPDATE {lane.table} SET city = 'Bern' WHERE user_id = '00000000-0000-4000-8000-000000000007'")
    lane.sql(f"DELETE FROM {lane.table} WHERE user_id = '00000000-0000-4000-8000-000000000008'")
    lane.sql(f"UPDATE {lane.table} SET user_id = '00000000-0000-4000-8000-000000999999' "
             f"WHERE user_id = '00000000-0000-4000-8000-000000000009'")
    end = lane.wal_lsn()
    # SIGTERM: flush, final feedback, exit 0 ...
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=300) == 0, open(p.log_path).read()
    # ... and a second run resumes from the slot and stops at a known LSN.
    rc, log = lane.run("--end-lsn", end)
    assert rc == 0, log
    recs = lane.records()
    live = {r[2] for r in recs if r[3]["us.op"] in "rcu"}
    assert expected_keys(1, 100000) | {"00000000-0000-4000-8000-000000999999"} <= live
    dead = {r[2] for r in recs if r[3]["us.op"] == "d"}
    assert dead == {"00000000-0000-4000-8000-000000000008", "00000000-0000-4000-8000-000000000009"}
    # No gap, no overlap: every row arrives once, from the snapshot or the stream.
    first = [r for r in recs if r[3]["us.op"] in "rc"]
    assert len(first) == 100000 and {r[2] for r in first} == expected_keys(1, 100000)
    assert sum(1 for r in first if r[3]["us.op"] == "r") == 30000
    check_contract(lane, recs)
    check_order(recs)
    confirmed, _ = lane.slot_state().split("|")
    assert lsn_int(confirmed) >= lsn_int(end)


def lsn_int(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def test_relay_kill9_three_times_loses_nothing(lane):
    """kill -9 of the relay three times during a load: no key is missing,
    and the restarts count the records they re-send as duplicates."""
    total, chunk = 40000, 10000
    p = lane.start()
    for i in range(4):
        lane.insert(1 + i * chunk, chunk, txn_rows=500)
        if i < 3:
            wait_for(lambda: lane_rows(lane) > 0, 120)
            p.kill()  # SIGKILL: no flush, no final feedback
            p.wait()
            p = lane.start()
    end = lane.wal_lsn()
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=300) == 0
    rc, log = lane.run("--end-lsn", end)
    assert rc == 0, log
    recs = lane.records()
    assert {r[2] for r in recs} == expected_keys(1, total)
    assert len(recs) >= total
    check_order(recs)
    logs = "".join(open(q.log_path).read() for q in lane.procs)
    assert logs.count("resuming slot") >= 4
    # Each restart read what Kafka already had: the baseline of its duplicate count.
    assert any(m != "0/0" for m in re.findall(r"Kafka has commits up to (\S+)\)", logs)), logs


def lane_rows(lane):
    try:
        return lane.metrics().get("userstream_relay_rows_acked_total", 0)
    except OSError:
        return 0


def health(lane):
    try:
        with urllib.request.urlopen(f"http://{lane.stack['US_BIND']}:{lane.port}/health", timeout=5) as r:
            return json.loads(r.read())["state"]
    except OSError:
        return None


def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def kafka_pid(stack):
    out = stack.us("status").stdout
    m = re.search(r"^kafka\s+\S+\s+(\d+)\s", out, re.M)
    assert m, out
    return int(m.group(1))


def test_relay_kafka_outage_holds_the_slot(lane):
    """Kafka frozen (SIGSTOP) for a minute under load: the relay stays
    connected, the slot's confirmed position never passes what Kafka
    acknowledged, and after SIGCONT everything arrives."""
    p = lane.start(US_RELAY_QUEUE_MESSAGES=5000)
    lane.insert(1, 5000, txn_rows=500)
    wait_for(lambda: lane_rows(lane) >= 5000, 180)
    pid = kafka_pid(lane.stack)
    os.kill(pid, signal.SIGSTOP)
    try:
        lane.insert(5001, 20000, txn_rows=500)
        samples = []
        for _ in range(30):  # about a minute
            confirmed, active = lane.slot_state().split("|")
            samples.append((lsn_int(confirmed), active))
            time.sleep(2)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert all(a == "t" for _, a in samples), "the relay lost its replication connection"
    assert p.poll() is None, open(p.log_path).read()
    end = lane.wal_lsn()
    wait_for(lambda: lsn_int(lane.slot_state().split("|")[0]) >= lsn_int(end), 300)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=300) == 0
    recs = lane.records()
    assert {r[2] for r in recs} == expected_keys(1, 25000)
    # The first transaction written during the outage commits at this LSN: while
    # Kafka was frozen the slot never got past it (other databases' WAL before
    # it may be confirmed by the heartbeat, which is fine).
    outage = expected_keys(5001, 20000)
    first_outage_commit = min(int(r[3]["us.lsn"]) for r in recs if r[2] in outage)
    assert all(c <= first_outage_commit for c, _ in samples), (first_outage_commit, samples)
    assert len({c for c, _ in samples}) >= 1


def retained(lane):
    return int(lane.sql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) "
                        f"FROM pg_replication_slots WHERE slot_name = '{lane.slot}'"))


def idle_case(lane, seconds):
    noise = f"public.it_noise_{uuid.uuid4().hex[:6]}"
    lane.sql(f"CREATE TABLE {noise} (id bigint, pad text)")
    p = lane.start()
    lane.insert(1, 10, txn_rows=10)
    wait_for(lambda: lane_rows(lane) >= 10, 120)
    try:
        deadline = time.monotonic() + seconds
        written = 0
        while time.monotonic() < deadline:  # WAL that concerns no published table
            lane.sql(f"INSERT INTO {noise} SELECT g, repeat('x', 500) FROM generate_series(1, 20000) g")
            written += 1
            time.sleep(1)
        wal_end = lsn_int(lane.wal_lsn())
        wait_for(lambda: lsn_int(lane.slot_state().split("|")[0]) >= wal_end - 1024 * 1024, 60)
        assert retained(lane) < 16 * 1024 * 1024
        assert written > 0
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=120) == 0
        lane.sql(f"DROP TABLE {noise}")


def test_relay_idle_database_keeps_wal_small(lane):
    """Writes only to an unpublished table: the heartbeat confirms the
    server's WAL end, so the slot retains almost nothing."""
    idle_case(lane, 45)


@pytest.mark.skipif(os.environ.get("US_TEST_SLOW") != "1", reason="soak: set US_TEST_SLOW=1 (10 minutes)")
def test_relay_idle_database_soak(lane):
    idle_case(lane, 600)


def test_relay_schema_change(lane):
    """ADD COLUMN registers a new version; DROP COLUMN stops the relay (exit 4)."""
    lane.insert(1, 10)
    p = lane.start()
    wait_for(lambda: lane_rows(lane) >= 10, 120)
    lane.sql(f"ALTER TABLE {lane.table} ADD COLUMN score integer")
    lane.sql(f"UPDATE {lane.table} SET score = 5 WHERE user_id = '00000000-0000-4000-8000-000000000001'")
    wait_for(lambda: lane_rows(lane) >= 11, 120)
    assert len(registry_versions(lane.stack, lane.subject)) == 2
    lane.sql(f"ALTER TABLE {lane.table} DROP COLUMN score")
    lane.sql(f"UPDATE {lane.table} SET city = 'Basel' WHERE user_id = '00000000-0000-4000-8000-000000000002'")
    assert p.wait(timeout=120) == 4
    log = open(p.log_path).read()
    assert 'column "score"' in log and "dropped" in log
    recs = lane.records()
    assert not any(r[2] == "00000000-0000-4000-8000-000000000002" and r[3]["us.op"] == "u" for r in recs)


def test_relay_lost_slot_is_a_loud_error(lane):
    """A slot invalidated by max_slot_wal_keep_size: exit 3, and the slot is
    not re-created behind the operator's back (reliability test 9)."""
    lane.insert(1, 10)
    rc, log = lane.run("--end-lsn", lane.wal_lsn())
    assert rc == 0, log
    lane.sql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
    lane.sql("SELECT pg_reload_conf()")
    try:
        for _ in range(60):
            lane.sql("CREATE TEMP TABLE w AS SELECT g FROM generate_series(1, 20000) g")
            lane.sql("SELECT pg_switch_wal()")
            lane.sql("CHECKPOINT")
            if lane.sql(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{lane.slot}'") == "lost":
                break
        assert lane.sql(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{lane.slot}'") == "lost"
    finally:
        lane.sql("ALTER SYSTEM RESET max_slot_wal_keep_size")
        lane.sql("SELECT pg_reload_conf()")
    rc, log = lane.run()
    assert rc == 3, log
    assert "is lost" in log and "re-snapshot" in log
    assert lane.sql(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{lane.slot}'") == "lost"


def test_relay_registry_faults(lane):
    """A registry that fails its first answers: the relay waits and retries,
    produces nothing without a schema id, then delivers everything (test 15)."""
    port = free_port(lane.stack)
    fake = subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "unit", "relay_fake_registry.py"),
                             str(port), "--fail-first", "4"], stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout.readline().strip() == "ready"
        lane.insert(1, 100)
        rc, log = lane.run("--end-lsn", lane.wal_lsn(), US_REGISTRY_URL=f"http://127.0.0.1:{port}")
        assert rc == 0, log
        assert "HTTP 500" in log
        recs = lane.records()
        assert {r[2] for r in recs} == expected_keys(1, 100)
    finally:
        fake.kill()
        fake.wait()
    # A registry that refuses the schema: exit 6, nothing produced.
    lane2 = Lane(lane.stack, "regreject")
    fake = subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "unit", "relay_fake_registry.py"),
                             str(port), "--reject"], stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout.readline().strip() == "ready"
        lane2.insert(1, 5)
        rc, log = lane2.run(US_REGISTRY_URL=f"http://127.0.0.1:{port}")
        assert rc == 6, log
        assert lane2.records() == []
    finally:
        fake.kill()
        fake.wait()
        lane2.close()


def test_relay_large_transactions_stream_through_the_spool(lane):
    """Transactions beyond logical_decoding_work_mem arrive in protocol-2
    stream blocks: a committed one reaches Kafka whole, a rolled-back one and
    a rolled-back savepoint never do (reliability test 11)."""
    lane.sql("ALTER SYSTEM SET logical_decoding_work_mem = '1MB'")
    lane.sql("SELECT pg_reload_conf()")
    try:
        p = lane.start()  # the default spool: $US_HOME/relay/SLOT.spool
        wait_for(lambda: health(lane) == "streaming", 120)
        t, loader = lane.table, lane.stack["US_PG_LOADER_USER"]
        cols = ("user_id, first_name, last_name, email, nat, source_url, source_seed, source_page, fetched_at, run_id")
        sel = ("SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F', 'L', "
               "'e' || g || '@example.com', 'CH', 'u', 's', 1, now(), 'big' FROM generate_series({a}, {b}) g")
        lane.stack.run(["psql", "-h", lane.stack["US_PG_HOST"], "-p", lane.stack["US_PG_PORT"], "-U", loader,
                        "-d", lane.stack["US_PG_DATABASE"], "-w", "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                       input=f"BEGIN;\nINSERT INTO {t} ({cols}) {sel.format(a=1, b=30000)};\n"
                             f"SAVEPOINT s;\nINSERT INTO {t} ({cols}) {sel.format(a=30001, b=40000)};\n"
                             f"ROLLBACK TO SAVEPOINT s;\nINSERT INTO {t} ({cols}) {sel.format(a=40001, b=50000)};\n"
                             f"COMMIT;\nBEGIN;\nINSERT INTO {t} ({cols}) {sel.format(a=50001, b=80000)};\nROLLBACK;\n")
        end = lane.wal_lsn()
        wait_for(lambda: lsn_int(lane.slot_state().split("|")[0]) >= lsn_int(end), 300)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=120) == 0
    finally:
        lane.sql("ALTER SYSTEM RESET logical_decoding_work_mem")
        lane.sql("SELECT pg_reload_conf()")
    recs = lane.records()
    assert {r[2] for r in recs} == expected_keys(1, 30000) | expected_keys(40001, 10000)
    assert len(recs) == 40000
    assert len({r[3]["us.lsn"] for r in recs}) == 1  # one transaction, one commit LSN
    assert [int(r[3]["us.seq"]) for r in sorted(recs, key=lambda r: int(r[3]["us.seq"]))] == list(range(40000))
    spool = os.path.join(lane.stack["US_HOME"], "relay", lane.slot + ".spool")
    assert os.stat(spool).st_mode & 0o777 == 0o700
    assert os.listdir(spool) == []


def test_relay_max_rows_stops_after_whole_transactions(lane):
    """--max-rows 25 over transactions of 10 rows: the relay stops after the
    transaction that reaches 25, i.e. with exactly 30 records, and exit 0."""
    rc, log = lane.run("--snapshot", "never", "--end-lsn", lane.wal_lsn())  # slot only
    assert rc == 0, log
    lane.insert(1, 50, txn_rows=10)
    rc, log = lane.run("--max-rows", "25")
    assert rc == 0, log
    recs = lane.records()
    assert len(recs) == 30 and {r[2] for r in recs} == expected_keys(1, 30)
    assert len({r[3]["us.lsn"] for r in recs}) == 3
