"""The data lifecycle (docs/lifecycle.md) on the session's real stack, with the pipeline
programs (relay, Spark job) running: erasure of one user across every store, the staging
purge that is not a deletion, the compacted users topic and the rebuild of Cassandra from it.

Every check uses the store's real client: psql, kcat, cqlsh, Kafka's ConfigCommand, the
relay's metrics. Waits are bounded only so that a stuck pipeline fails with its state.
"""

from __future__ import annotations

import re
import time
import urllib.request
import uuid

import pytest

from flow_support import FLOW_TIMEOUT, running, wait_until
from loadtest_support import ingest_for, unique

PIPELINE = ("relay", "spark_job")


def cass_ids(stack, table: str = "users", where: str = "") -> set[str]:
    out = stack.cqlsh("-e", f"SELECT user_id FROM {stack['US_CASSANDRA_KEYSPACE']}.{table} {where}").stdout
    return set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out))


def cass_all_ids(stack) -> set[str]:
    from cassandra.cluster import Cluster

    cluster = Cluster([stack["US_CASSANDRA_HOST"]], port=int(stack["US_CASSANDRA_PORT"]),
                      auth_provider=stack.cassandra_auth())
    try:
        s = cluster.connect(stack["US_CASSANDRA_KEYSPACE"])
        s.default_timeout = 120
        return {str(r.user_id) for r in s.execute("SELECT user_id FROM users")}
    finally:
        cluster.shutdown()


def cass_session(stack):
    from cassandra.cluster import Cluster

    cluster = Cluster([stack["US_CASSANDRA_HOST"]], port=int(stack["US_CASSANDRA_PORT"]),
                      auth_provider=stack.cassandra_auth())
    s = cluster.connect(stack["US_CASSANDRA_KEYSPACE"])
    s.default_timeout = 120
    return cluster, s


# Tables of the keyspace that hold no user id by design: the aggregate and the migration log.
NO_USER_ID_TABLES = {"signups_per_minute", "schema_migrations"}


def cass_rows_of_user(stack, user: str) -> dict[str, int]:
    """Rows that name the user in every table of the keyspace that has a user_id column;
    a table without one must be one of NO_USER_ID_TABLES (a new table is checked, or named)."""
    cluster, s = cass_session(stack)
    try:
        tables = cluster.metadata.keyspaces[stack["US_CASSANDRA_KEYSPACE"]].tables
        without = {t for t, m in tables.items() if "user_id" not in m.columns}
        assert without <= NO_USER_ID_TABLES, f"tables that may hold a user id under another name: {without}"
        return {t: s.execute(f"SELECT count(*) FROM {t} WHERE user_id = {user} ALLOW FILTERING").one()[0]
                for t in tables if t not in without}  # fmt: skip
    finally:
        cluster.shutdown()


def signup_window_of(stack, user: str):
    """(day, minute, country_code, version) of the user's sign-up row."""
    cluster, s = cass_session(stack)
    try:
        rows = list(s.execute(f"SELECT day, minute, country_code, version FROM signup_events "
                              f"WHERE user_id = {user} ALLOW FILTERING"))  # fmt: skip
        assert len(rows) == 1, rows
        return tuple(rows[0])
    finally:
        cluster.shutdown()


def signup_window_state(stack, day, minute, cc):
    """(signups_per_minute's count, signup_events rows, their user ids) of one window."""
    cluster, s = cass_session(stack)
    try:
        n = s.execute("SELECT signups FROM signups_per_minute WHERE day = %s AND minute = %s AND country_code = %s",
                      (day, minute, cc)).one()  # fmt: skip
        ids = [str(r.user_id) for r in s.execute(
            "SELECT user_id FROM signup_events WHERE day = %s AND minute = %s AND country_code = %s", (day, minute, cc))]
        return (n[0] if n else 0), len(ids), set(ids)
    finally:
        cluster.shutdown()


def key_history(stack, keys: set[str]) -> dict[str, list[tuple[int, str]]]:
    """(value size, us.op) of every record of these keys in the users topic, in offset
    order (a key lives in one partition); size -1 = null value (tombstone)."""
    out = stack.us("kcat", "-C", "-t", stack["US_KAFKA_TOPIC_USERS"], "-o", "beginning", "-e", "-q",
                   "-Z", "-f", "%k|%S|%h\n", timeout=600).stdout
    hist: dict[str, list[tuple[int, str]]] = {k: [] for k in keys}
    for line in out.splitlines():
        parts = line.split("|", 2)
        if len(parts) == 3 and parts[0] in hist:
            op = re.search(r"us\.op=(\w)", parts[2])
            hist[parts[0]].append((int(parts[1]), op.group(1) if op else "?"))
    return hist


def relay_metric(stack, name: str) -> float:
    url = f"http://{stack['US_BIND']}:{stack['US_RELAY_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf"^userstream_relay_{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def topic_config(stack, topic: str) -> dict[str, str]:
    out = stack.us("kafka-run", "kafka.admin.ConfigCommand", "--bootstrap-server", stack["US_KAFKA_BOOTSTRAP"],
                   "--command-config", stack.kafka_tool_config(),
                   "--describe", "--entity-type", "topics", "--entity-name", topic).stdout
    return dict(re.findall(r"^\s+([a-z.]+)=(\S*) sensitive", out, re.M))


def set_topic_config(stack, topic: str, cfg: str):
    stack.us("kafka-run", "kafka.admin.ConfigCommand", "--bootstrap-server", stack["US_KAFKA_BOOTSTRAP"],
                   "--command-config", stack.kafka_tool_config(),
             "--alter", "--entity-type", "topics", "--entity-name", topic, "--add-config", cfg)


def compact_until(stack, ing, what, done, show):
    """Forces the users topic's compaction until done(): segments roll (a new load
    appends to every partition) and the cleaner runs at once; the configured topic
    settings again afterwards."""
    topic = stack["US_KAFKA_TOPIC_USERS"]
    set_topic_config(stack, topic, "segment.ms=1000,min.cleanable.dirty.ratio=0.01,max.compaction.lag.ms=1000")
    try:
        time.sleep(2)
        more = unique("lifecycle-roll")
        rc, _, err = ing.load("--seed", more, "--pages", "1", "--results", "100", "--run-id", more)
        assert rc == 0, err
        wait_until(what, done, timeout=600, every=10, show=show)
    finally:
        stack.us("migrate")


@pytest.fixture(scope="module")
def flowing(stack):
    """Relay and Spark job running (started here if they were not), and a fresh batch
    of users loaded and in Cassandra."""
    started = [s for s in PIPELINE if not running(stack, s)]
    for svc in started:
        stack.us("restart", svc, timeout=900)
    try:
        with ingest_for(stack) as ing:
            run = unique("lifecycle")
            rc, s, err = ing.load("--seed", run, "--pages", "2", "--results", "100", "--run-id", run)
            assert rc == 0, err
            ids = {r[0] for r in ing.sql(f"SELECT user_id FROM staging.users WHERE run_id = '{run}'")}
            assert len(ids) == 200
            wait_until("the loaded users reach Cassandra", lambda: ids <= cass_all_ids(stack),
                       show=lambda: len(ids - cass_all_ids(stack)))
            yield stack, ing, run, ids
    finally:
        if started:
            stack.us("stop", *started, check=False)


def test_users_topic_is_compacted_and_retention_is_configuration(flowing):
    stack, *_ = flowing
    cfg = topic_config(stack, stack["US_KAFKA_TOPIC_USERS"])
    assert cfg.get("cleanup.policy") == stack["US_KAFKA_USERS_CLEANUP_POLICY"] == "compact"
    assert cfg.get("max.compaction.lag.ms") == stack["US_KAFKA_USERS_MAX_COMPACTION_LAG_MS"]
    assert cfg.get("delete.retention.ms") == stack["US_KAFKA_USERS_DELETE_RETENTION_MS"]
    assert topic_config(stack, stack["US_KAFKA_TOPIC_DLQ"]).get("retention.ms") == stack["US_KAFKA_DLQ_RETENTION_MS"]
    env = stack.us("env").stdout
    for key in ("US_STAGING_RETENTION", "US_KAFKA_USERS_SEGMENT_MS", "US_KAFKA_DLQ_RETENTION_MS",
                "US_SPARK_MIN_BATCHES_TO_RETAIN", "US_LOG_MAX_BYTES", "US_LOG_BACKUPS"):
        assert re.search(rf"^{key}=", env, re.M), key


def test_forget_erases_the_user_from_every_store(flowing):
    stack, ing, run, ids = flowing
    user = sorted(ids)[0]
    email = ing.one(f"SELECT email FROM staging.users WHERE user_id = '{user}'")
    # a reject that names the user (raw records keep what the loader received)
    stack.psql(stack["US_PG_ADMIN_USER"],
               "INSERT INTO staging.rejects (run_id, source_url, reason, raw_text, fetched_at) VALUES "
               f"('{run}', 'u', 'test', '{{\"login\":{{\"uuid\":\"{user}\"}},\"email\":\"{email}\"}}', now())")
    day, minute, cc, version = signup_window_of(stack, user)
    wait_until("the sign-up window is counted", lambda: signup_window_state(stack, day, minute, cc)[0] > 0)
    counted, _, _ = signup_window_state(stack, day, minute, cc)
    p = stack.us("forget", "--by", "pytest", "--reason", "test_lifecycle", "--wait", str(FLOW_TIMEOUT), user,
                 timeout=FLOW_TIMEOUT + 120)
    assert "Cassandra is clean" in p.stdout, p.stdout
    # Cassandra: no table holds the user id any more (signup_events included) ...
    left = cass_rows_of_user(stack, user)
    assert "signup_events" in left and not any(left.values()), left
    # ... while the sign-up stays counted: a placeholder row took its place, and the
    # window's count (recounted by the deleting batch) is what its rows say, never less
    signups, rows, row_ids = signup_window_state(stack, day, minute, cc)
    assert user not in row_ids
    assert f"00000000-0000-0000-{version >> 48:04x}-{version & 0xFFFFFFFFFFFF:012x}" in row_ids
    assert signups == rows >= counted
    # PostgreSQL
    assert ing.one(f"SELECT count(*) FROM staging.users WHERE user_id = '{user}'") == "0"
    assert ing.one(f"SELECT count(*) FROM staging.rejects WHERE strpos(raw_text, '{user}') > 0") == "0"
    rec = ing.sql("SELECT requested_by, staging_rows, reject_rows, kafka_tombstone_at IS NOT NULL, "
                  "cassandra_clean_at IS NOT NULL, kafka_compacted_by > requested_at, "
                  "dlq_expired_by > requested_at, config->>'users.cleanup.policy' "
                  f"FROM ops.erasures WHERE user_id = '{user}'")
    assert rec == [["pytest", "1", "1", "t", "t", "t", "t", "compact"]]
    # Cassandra: the user and its index rows
    ks = stack["US_CASSANDRA_KEYSPACE"]
    assert cass_ids(stack, "users", f"WHERE user_id = {user}") == set()
    assert cass_ids(stack, "users_by_email_hash", f"WHERE user_id = {user} ALLOW FILTERING") == set()
    assert cass_ids(stack, "users_by_country", f"WHERE user_id = {user} ALLOW FILTERING") == set()
    assert stack.cqlsh("-e", f"SELECT count(*) FROM {ks}.signups_per_minute").returncode == 0
    # Kafka: the key's history ends with a tombstone
    hist = key_history(stack, {user})[user]
    assert hist and hist[-1] == (-1, "d"), hist
    assert any(size > 0 for size, _ in hist), "the user's value was in the topic before"
    # after a forced compaction no older value of the key is left, the tombstone stays
    compact_until(stack, ing, "compaction removed the forgotten user's older values",
                  lambda: key_history(stack, {user})[user] == [(-1, "d")],
                  show=lambda: key_history(stack, {user})[user])
    topic = stack["US_KAFKA_TOPIC_USERS"]
    assert topic_config(stack, topic).get("segment.ms") == stack["US_KAFKA_USERS_SEGMENT_MS"]


def test_forget_a_user_no_longer_in_staging(flowing):
    """A user already purged from staging (retention) still leaves Kafka and Cassandra:
    the forget message is published as its tombstone."""
    stack, ing, run, ids = flowing
    user = sorted(ids)[1]
    # remove it from staging the way a purge does (not published)
    stack.psql(stack["US_PG_ADMIN_USER"],
               "BEGIN; SELECT pg_logical_emit_message(true, 'userstream.purge', 'test'); "
               f"DELETE FROM staging.users WHERE user_id = '{user}'; COMMIT;")
    p = stack.us("forget", "--by", "pytest", "--wait", str(FLOW_TIMEOUT), user, timeout=FLOW_TIMEOUT + 120)
    assert "Cassandra is clean" in p.stdout, p.stdout
    assert ing.one(f"SELECT staging_rows FROM ops.erasures WHERE user_id = '{user}'") == "0"
    assert cass_ids(stack, "users", f"WHERE user_id = {user}") == set()
    assert key_history(stack, {user})[user][-1] == (-1, "d")


def test_forget_after_a_delete_and_insert_again_in_one_batch(flowing):
    """A user deleted and inserted again in one transaction (so one micro-batch):
    that delete erases the sign-up before it, the sign-up after it is a new one;
    forgetting the user then leaves no signup_events row naming it (the first
    sign-up's key was on the users row only, until the batch wrote the second's
    over it)."""
    stack, ing, run, ids = flowing
    user = sorted(ids)[2]

    def lsns_naming_user() -> list[int]:
        cluster, s = cass_session(stack)
        try:
            return sorted(r[0] for r in s.execute(f"SELECT commit_lsn FROM signup_events WHERE user_id = {user} "
                                                  "ALLOW FILTERING"))  # fmt: skip
        finally:
            cluster.shutdown()

    (first,) = lsns_naming_user()
    stack.psql(stack["US_PG_ADMIN_USER"],
               "BEGIN; CREATE TEMP TABLE again ON COMMIT DROP AS "
               f"SELECT * FROM staging.users WHERE user_id = '{user}'; "
               f"DELETE FROM staging.users WHERE user_id = '{user}'; "
               "INSERT INTO staging.users SELECT * FROM again; COMMIT;")  # fmt: skip
    # the batch that carried both has run once the new sign-up is there; the
    # first one was erased in that same batch, before the new one was written
    got = wait_until("the new sign-up reached Cassandra", lambda: [x for x in lsns_naming_user() if x > first]
                     and lsns_naming_user(), show=lsns_naming_user)  # fmt: skip
    assert len(got) == 1 and got[0] > first, got
    p = stack.us("forget", "--by", "pytest", "--wait", str(FLOW_TIMEOUT), user, timeout=FLOW_TIMEOUT + 120)
    assert "Cassandra is clean" in p.stdout, p.stdout
    left = cass_rows_of_user(stack, user)
    assert "signup_events" in left and not any(left.values()), left


def test_rebuild_signup_keys_gives_old_users_their_key(flowing):
    """A user written before cql migration 032: its users row has no sign-up key,
    its signup_events row names it (written here as the job wrote them then).
    `rebuild --signup-keys` writes the key onto the row, at the sign-up's version."""
    stack = flowing[0]
    old = str(uuid.uuid4())
    part = "day = '2026-01-01' AND minute = '2026-01-01 00:01:00+0000' AND country_code = 'ZZ'"
    cluster, s = cass_session(stack)
    try:
        s.execute(f"INSERT INTO users (user_id, first_name) VALUES ({old}, 'Old') USING TIMESTAMP 1000")
        s.execute("INSERT INTO signup_events (day, minute, country_code, user_id, commit_lsn, version) VALUES "
                  f"('2026-01-01', '2026-01-01 00:01:00+0000', 'ZZ', {old}, 7, 1000) USING TIMESTAMP 1000")
        p = stack.us("rebuild", "--signup-keys", timeout=900)
        assert "sign-up keys restored" in p.stdout, p.stdout
        row = s.execute("SELECT signup_minute, signup_country, signup_lsn, signup_version, "
                        f"writetime(signup_version) FROM users WHERE user_id = {old}").one()  # fmt: skip
        assert tuple(row)[1:] == ("ZZ", 7, 1000, 1000), row
        assert row[0].strftime("%Y-%m-%d %H:%M") == "2026-01-01 00:01", row
    finally:
        s.execute(f"DELETE FROM users WHERE user_id = {old}")
        s.execute(f"DELETE FROM signup_events WHERE {part} AND user_id = {old} AND commit_lsn = 7")
        cluster.shutdown()


def test_purge_is_not_a_deletion_downstream(flowing):
    stack, ing, run, ids = flowing
    victims = set(sorted(ids)[10:60])
    in_list = ",".join(f"'{u}'" for u in victims)
    stack.psql(stack["US_PG_ADMIN_USER"],
               "UPDATE staging.users SET fetched_at = now() - interval '30 days', "
               f"loaded_at = now() - interval '30 days' WHERE user_id IN ({in_list})")
    purged_before = relay_metric(stack, "purged_rows_total")
    p = stack.us("purge", "--retention", "7 days", "--batch", "20")
    assert re.search(r"\b50 users\b", p.stdout), p.stdout
    assert ing.one(f"SELECT count(*) FROM staging.users WHERE user_id IN ({in_list})") == "0"
    last = ing.one("SELECT max(wal_lsn)::text FROM ops.staging_purges WHERE users > 0")
    slot = stack.cfg.get("US_RELAY_SLOT", "userstream_relay")
    # the relay saw the purge, published nothing for it, and confirmed past it
    wait_until("the relay counted the purged rows",
               lambda: relay_metric(stack, "purged_rows_total") - purged_before >= 50, timeout=300)
    wait_until("the slot passed the purge", lambda: ing.one(
        f"SELECT confirmed_flush_lsn >= '{last}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ) == "t", timeout=300)
    hist = key_history(stack, victims)
    assert all(h and h[-1][0] > 0 for h in hist.values()), "a purged user got a tombstone"
    # Cassandra still holds every purged user once the job has read the topic's end
    wait_until("Cassandra holds the purged users", lambda: victims <= cass_all_ids(stack))


def test_rebuild_replays_the_topic_into_cassandra(flowing):
    stack, ing, run, ids = flowing
    # A user updated since its sign-up, whose insert compaction has removed from the topic:
    # the replay alone would give its users row no sign-up key (docs/lifecycle.md).
    moved = sorted(ids)[100]
    ks = stack["US_CASSANDRA_KEYSPACE"]
    stack.psql(stack["US_PG_ADMIN_USER"], f"UPDATE staging.users SET city = 'Moved' WHERE user_id = '{moved}'")
    wait_until("the update reaches Cassandra", lambda: "Moved" in stack.cqlsh(
        "-e", f"SELECT city FROM {ks}.users WHERE user_id = {moved}").stdout)
    compact_until(stack, ing, "compaction removed the moved user's insert",
                  lambda: [op for _, op in key_history(stack, {moved})[moved]] == ["u"],
                  show=lambda: key_history(stack, {moved})[moved])
    _, _, _, signup_version = signup_window_of(stack, moved)
    staged = {r[0] for r in ing.sql("SELECT user_id FROM staging.users")}
    wait_until("Cassandra holds every staged user", lambda: staged <= cass_all_ids(stack))
    before = cass_all_ids(stack)
    forgotten = {r[0] for r in ing.sql("SELECT user_id FROM ops.erasures")}
    p = stack.us("rebuild", "--truncate", timeout=3600)
    assert "rebuild done" in p.stdout, p.stdout
    after = cass_all_ids(stack)
    assert staged <= after
    assert not (forgotten & after)
    # the live job writes nothing new here (no load), so the sink is what it was
    assert after == before
    # and the moved user's sign-up key is back (restored from signup_events), so its
    # erasure can still find its sign-up row
    out = stack.cqlsh("-e", f"SELECT signup_version FROM {ks}.users WHERE user_id = {moved}").stdout
    assert str(signup_version) in out, out


# --- the DAGs (parsed only; the commands they run are tested above) ----------------------


def test_lifecycle_dags_shape():
    from test_dags import dag_bag

    bag = dag_bag()
    assert bag.import_errors == {}
    retention = bag.dags["userstream_retention"]
    assert not retention.catchup and retention.max_active_runs == 1
    assert retention.get_task("slot_followed").upstream_task_ids == {"purge"}
    forget = bag.dags["userstream_forget"]
    assert forget.schedule is None if hasattr(forget, "schedule") else True
    assert {"user_id", "requested_by", "reason", "wait_s"} <= set(forget.params.keys())
