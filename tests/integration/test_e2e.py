"""The whole pipeline, end to end, as the README's run command starts it:
userstream-source -> Airflow's ingestion DAG -> userstream-load -> PostgreSQL
-> userstream-relay -> Kafka -> the Spark job (spark_job service on the
standalone master) -> Cassandra, on the session's real stack.

Every check compares data: the set of user ids in Cassandra with the set of
staged ids in PostgreSQL, the index tables with the users table, the
dead-letter topic with the records we broke on purpose. Waits are bounded
only so that a pipeline that stops flowing fails with its counts instead of
hanging; nothing asserts how fast anything happened.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest

from flow_support import wait_until
from loadtest_support import FAULTS, ingest_for, run_source, unique

DAGS = ("userstream_ingest", "userstream_quality")


def counts(stack) -> dict:
    p = stack.us("counts", "--json", check=False)
    return json.loads(p.stdout) if p.stdout.strip().startswith("{") else {"errors": [p.stderr]}


def staged_ids(ing) -> set[str]:
    return {r[0] for r in ing.sql("SELECT user_id FROM staging.users")}


class Cassandra:
    def __init__(self, stack):
        from cassandra.cluster import Cluster

        self.cluster = Cluster([stack["US_CASSANDRA_HOST"]], port=int(stack["US_CASSANDRA_PORT"]),
                               auth_provider=stack.cassandra_auth())
        self.s = self.cluster.connect(stack["US_CASSANDRA_KEYSPACE"])
        self.s.default_timeout = 120

    def ids(self, table: str = "users") -> list[str]:
        return [str(r.user_id) for r in self.s.execute(f"SELECT user_id FROM {table}")]

    def user(self, uid: str):
        return self.s.execute("SELECT * FROM users WHERE user_id = %s", (uuid.UUID(uid),)).one()

    def close(self):
        self.cluster.shutdown()


def airflow_busy(stack) -> int:
    """Runs of the pipeline DAGs that are queued or running (Airflow's metadata DB)."""
    out = stack.psql(stack["US_PG_AIRFLOW_USER"],
                     "SELECT count(*) FROM dag_run WHERE dag_id IN ('userstream_ingest', 'userstream_quality') "
                     "AND state IN ('queued', 'running')", db=stack["US_PG_AIRFLOW_DATABASE"]).stdout  # fmt: skip
    return int(out.strip() or 0)


def _checkpoint_ids(stack, sub: str) -> set[int]:
    d = os.path.join(stack["US_HOME"], "spark", "checkpoints", "users", sub)
    return {int(f) for f in os.listdir(d) if f.isdigit()} if os.path.isdir(d) else set()


def committed_batches(stack) -> int:
    """The highest batch id of the users query that Spark committed (-1: none)."""
    return max(_checkpoint_ids(stack, "commits"), default=-1)


def batch_in_progress(stack, after: int):
    """The users query's batch whose offsets are logged but not committed, if
    its id is above `after` (Structured Streaming writes offsets/N before it
    runs batch N and commits/N once the sink is done)."""
    pending = {b for b in _checkpoint_ids(stack, "offsets") - _checkpoint_ids(stack, "commits") if b > after}
    return [max(pending)] if pending else None


def supervisor_pid(stack, name: str) -> int:
    conf = os.path.join(stack["US_HOME"], "supervisor", "supervisord.conf")
    p = stack.run([os.path.join(stack["US_VENV"], "bin", "supervisorctl"), "-c", conf, "pid", name], check=False)
    return int(p.stdout.strip()) if p.stdout.strip().isdigit() else 0


@pytest.fixture(scope="module")
def pipeline(stack):
    """`./userstream run` on the session stack; afterwards the DAGs are paused
    and the pipeline programs stopped, so later modules find the engines as
    `up` left them (the Spark worker's cores free)."""
    run = stack.us("run", timeout=1800, check=False)
    try:
        assert run.returncode == 0, f"./userstream run exited {run.returncode}\n{run.stdout}\n{run.stderr}"
        with ingest_for(stack) as ing:
            cass = Cassandra(stack)
            try:
                yield stack, ing, cass, run.stdout
            finally:
                cass.close()
    finally:
        for dag in DAGS:
            stack.us("airflow", "dags", "pause", dag, check=False, timeout=300)
        stack.us("stop", "pipeline", check=False)


def quiesce(stack):
    """Pauses the DAGs and waits until none of their runs is active, so that
    staging.users stops changing."""
    for dag in DAGS:
        stack.us("airflow", "dags", "pause", dag, timeout=300)
    wait_until("the pipeline DAGs have no active run", lambda: airflow_busy(stack) == 0, timeout=600)


def converged(ing, cass):
    """True once Cassandra holds exactly the staged users (and each index
    exactly one row per user)."""
    want = staged_ids(ing)
    got = cass.ids()
    return len(got) == len(set(got)) and set(got) == want


def test_run_schedules_ingestion_and_users_reach_cassandra(pipeline):
    stack, ing, cass, out = pipeline
    # run ends by saying where to look, with the counts of every stage
    for needle in ("Airflow UI", "cqlsh", "Spark", "Cassandra userstream.users", "staged   PostgreSQL"):
        assert needle in out, f"run's closing summary lacks {needle!r}:\n{out}"
    # the ingestion DAG runs by itself, on its schedule ...
    run_id = wait_until(
        "a scheduled userstream_ingest run loaded users",
        lambda: (ing.sql("SELECT run_id FROM ops.load_runs WHERE run_id LIKE 'scheduled__%' AND status = 'ok' "
                         "AND staged > 0 ORDER BY load_id LIMIT 1") or [[None]])[0][0],  # fmt: skip
        show=lambda: ing.sql("SELECT run_id, status, staged FROM ops.load_runs ORDER BY load_id DESC LIMIT 5"),
    )
    scheduled = {r[0] for r in ing.sql(f"SELECT user_id FROM staging.users WHERE run_id = '{run_id}'")}
    assert scheduled
    # ... and its users go all the way through the relay and Spark
    wait_until(f"the users of {run_id} in Cassandra", lambda: scheduled <= set(cass.ids()),
               show=lambda: counts(stack))  # fmt: skip
    row = cass.user(next(iter(scheduled)))
    assert row.run_id == run_id and row.email is None and row.email_hmac  # PII stays hashed by default


def test_50k_users_with_faults_and_a_killed_driver_give_exact_counts(pipeline):
    stack, ing, cass, _ = pipeline
    quiesce(stack)
    seed = unique("e2e")
    # 1. half the users from a source that injects faults: every record is
    #    accounted for (staged, rejected or a duplicate) ...
    faulty_run = unique("e2e-faults")
    with run_source(ing.env, *FAULTS, "--fault-seed", seed) as faulty:
        rc, s1, err = ing.load("--seed", seed, "--pages", "25", "--results", "1000", "--run-id", faulty_run,
                               "--max-attempts", "10", "--max-retries", "1000", "--backoff-base", "20",
                               "--backoff-cap", "200", "--retry-after-max", "1", url=faulty)  # fmt: skip
    assert rc in (0, 4), err
    assert s1["retries"] > 0 and s1["fetched"] == s1["staged"] + s1["rejected"] + s1["duplicates"], s1
    # 2. ... the Spark job has started on them: kill -9 its driver while the
    #    other half streams in; supervisord restarts it from its checkpoint
    before = int(ing.one("SELECT coalesce(max(batch_id), -1) FROM ops.stream_progress WHERE query_name = 'users'"))
    wait_until("a Spark batch after the first half", lambda: int(ing.one(
        f"SELECT count(*) FROM ops.stream_progress WHERE query_name = 'users' AND batch_id > {before}")) > 0)
    old = supervisor_pid(stack, "spark_job")
    assert old > 0
    rc, s2, err = ing.load("--seed", seed, "--first-page", "26", "--pages", "25", "--results", "1000",
                           "--run-id", unique("e2e-clean"))  # fmt: skip
    assert rc == 0 and s2["staged"] == 25000, (s2, err)
    # kill while a micro-batch is in progress (its offsets logged, not yet
    # committed): the restarted driver must run that same batch again
    done_before = committed_batches(stack)
    [killed] = wait_until("a Spark batch in progress", lambda: batch_in_progress(stack, done_before), every=0.2)
    killed_at = time.time()
    os.kill(old, signal.SIGKILL)
    wait_until("supervisord restarted the Spark job",
               lambda: supervisor_pid(stack, "spark_job") not in (0, old), timeout=300)  # fmt: skip
    wait_until(f"batch {killed} run again by the restarted driver", lambda: int(ing.one(
        f"SELECT count(*) FROM ops.stream_progress WHERE query_name = 'users' AND batch_id = {killed} "
        f"AND started_at > to_timestamp({killed_at})")) == 1)  # fmt: skip
    # 3. dead letters: records no relay would write reach the DLQ, with reasons
    from confluent_kafka import Producer

    p = Producer(stack.kafka_conf())
    sent = []
    for i, value in enumerate((b"\x01not-confluent-framed", b"\x00\x7f\xff\xff\xffno such schema id")):
        p.produce(stack["US_KAFKA_TOPIC_USERS"], key=str(uuid.uuid4()).encode(), value=value, partition=i % 4,
                  headers=[("us.op", b"c"), ("us.lsn", b"1"), ("us.seq", b"0"), ("us.commit_ts", b"1")],
                  on_delivery=lambda e, m: sent.append(f"{m.topic()}/{m.partition()}/{m.offset()}") if e is None else None)  # fmt: skip
    assert p.flush(60) == 0 and len(sent) == 2
    # 4. exact counts: every staged user in Cassandra once, nothing else
    wait_until("Cassandra users == staged users", lambda: converged(ing, cass), show=lambda: counts(stack))
    users = set(cass.ids())
    for table in ("users_by_email_hash", "users_by_country"):
        idx = cass.ids(table)
        assert len(idx) == len(set(idx)) and set(idx) == users, f"{table} disagrees with users"
    mine = {r[0] for r in ing.sql(f"SELECT user_id FROM staging.users WHERE source_seed = '{seed}'")}
    assert len(mine) == s1["staged"] + s2["staged"] and mine <= users
    rejects = ing.sql(f"SELECT count(*) FILTER (WHERE record_index IS NOT NULL), count(*) FILTER (WHERE "
                      f"record_index IS NULL) FROM staging.rejects WHERE run_id = '{faulty_run}'")[0]  # fmt: skip
    assert (int(rejects[0]), int(rejects[1])) == (s1["rejected"], s1["pages_rejected"]), (rejects, s1)
    dlq = wait_until("both broken records in the dead-letter topic", lambda: (
        lambda d: d if set(sent) <= set(d) else None)(dead_letters(stack)), timeout=300)  # fmt: skip
    for src in sent:
        assert dlq[src]  # a reason, never empty
    c = counts(stack)
    assert c["cassandra"] == c["staged"] == len(users) and c["in_flight"] == 0, c
    assert c["dlq_distinct"] >= 2, c


def dead_letters(stack) -> dict[str, str]:
    """us.dlq.source -> us.dlq.reason of every record in the dead-letter topic."""
    from confluent_kafka import Consumer, TopicPartition

    topic = stack["US_KAFKA_TOPIC_DLQ"]
    c = Consumer({**stack.kafka_conf(), "group.id": f"e2e-{uuid.uuid4().hex}",
                  "enable.auto.commit": False})  # fmt: skip
    try:
        parts = c.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30) for p in parts}
        c.assign([TopicPartition(topic, p, lo) for p, (lo, hi) in ends.items() if hi > lo])
        left = {p for p, (lo, hi) in ends.items() if hi > lo}
        out = {}
        while left:
            msgs = c.consume(500, timeout=10)
            if not msgs:
                break
            for m in msgs:
                if m.error():
                    continue
                h = {k: (v or b"").decode() for k, v in (m.headers() or [])}
                out[h.get("us.dlq.source", "?")] = h.get("us.dlq.reason", "")
                if m.offset() + 1 >= ends[m.partition()][1]:
                    left.discard(m.partition())
        return out
    finally:
        c.close()


def test_update_and_delete_in_postgresql_reach_cassandra(pipeline):
    stack, ing, cass, _ = pipeline
    quiesce(stack)
    changed, gone = [r[0] for r in ing.sql("SELECT user_id FROM staging.users ORDER BY user_id LIMIT 2")]
    admin = stack["US_PG_ADMIN_USER"]
    stack.psql(admin, f"UPDATE staging.users SET last_name = 'Zedd', city = 'Userstream City' WHERE user_id = '{changed}'")
    stack.psql(admin, f"DELETE FROM staging.users WHERE user_id = '{gone}'")
    wait_until("the update in Cassandra", lambda: (lambda r: r is not None and r.last_name == "Zedd"
                                                   and r.full_name.endswith(" Zedd"))(cass.user(changed)))  # fmt: skip
    wait_until("the delete in Cassandra", lambda: cass.user(gone) is None)
    row = cass.s.execute("SELECT city FROM users_by_country WHERE country_code = %s AND bucket = %s AND user_id = %s",
                         (cass.user(changed).country_code, int(changed[0], 16) % 16, uuid.UUID(changed))).one()  # fmt: skip
    assert row is not None and row.city == "Userstream City"
    wait_until("the deleted user gone from every index", lambda: gone not in set(cass.ids("users_by_email_hash"))
               and gone not in set(cass.ids("users_by_country")))  # fmt: skip
    wait_until("Cassandra users == staged users", lambda: converged(ing, cass), show=lambda: counts(stack))


def test_a_forged_lsn_from_the_relay_principal_is_a_dead_letter_and_changes_nothing(pipeline):
    """Issue 12 item 3: a tombstone whose us.lsn (2^43 - 1) would outrank every
    later change of the user. From any other principal Kafka refuses it
    (test_auth.py::test_only_the_relay_principal_may_write_the_users_topic);
    from the relay's own, the job dead-letters it: the us.lsn is beyond
    PostgreSQL's WAL position plus US_SPARK_LSN_MARGIN_BYTES. The user's row
    stays as it was, with the same write time."""
    from confluent_kafka import Producer

    stack, ing, cass, _ = pipeline
    quiesce(stack)
    victim = ing.one("SELECT user_id FROM staging.users ORDER BY user_id DESC LIMIT 1")
    q = "SELECT full_name, writetime(full_name) AS wt FROM users WHERE user_id = %s"
    before = wait_until("the user in Cassandra", lambda: cass.s.execute(q, (uuid.UUID(victim),)).one())
    p = Producer({**stack.kafka_conf("relay"), "partitioner": "murmur2_random"})  # the relay's partitioner
    sent = []
    p.produce(stack["US_KAFKA_TOPIC_USERS"], key=victim.encode(), value=None,
              headers=[("us.op", b"d"), ("us.lsn", str(2**43 - 1).encode()), ("us.seq", b"0"),
                       ("us.commit_ts", str(int(time.time() * 1e6)).encode())],
              on_delivery=lambda e, m: sent.append(e or f"{m.topic()}/{m.partition()}/{m.offset()}"))  # fmt: skip
    assert p.flush(60) == 0 and len(sent) == 1 and isinstance(sent[0], str), sent  # the ACL lets the relay write
    try:
        dlq = wait_until("the forged tombstone in the dead-letter topic", lambda: (
            lambda d: d if sent[0] in d else None)(dead_letters(stack)), timeout=300)  # fmt: skip
        assert dlq[sent[0]] == "us.lsn beyond PostgreSQL's WAL position plus US_SPARK_LSN_MARGIN_BYTES"
        after = cass.s.execute(q, (uuid.UUID(victim),)).one()
        assert after is not None and (after.full_name, after.wt) == (before.full_name, before.wt)
        assert victim in set(cass.ids("users_by_email_hash"))
    finally:
        # The users topic is compacted: a real change of the user after the forged
        # tombstone keeps compaction (and a later rebuild) from ending the key with it.
        stack.psql(stack["US_PG_ADMIN_USER"], f"UPDATE staging.users SET city = city WHERE user_id = '{victim}'")
        wait_until("the repairing update in Cassandra", lambda: (
            lambda r: r is not None and r.wt > before.wt)(cass.s.execute(q, (uuid.UUID(victim),)).one()))  # fmt: skip
