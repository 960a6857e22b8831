"""userstream-console against the real stack: its numbers equal what the
engines' own clients report (psql, the Kafka client, the Cassandra driver),
login and its delay, 404/400/405 with reasons, the message browser decodes a
real record to what staging holds, and engines that are down show as down.

The console runs from the build tree (console_support.Console) with its own
password. Every comparison waits until the truth is stable around one fresh
API answer (the pipeline may be loading); nothing asserts speed, except that
a wrong password's answer waits at least the configured delay.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid

import pytest

from console_support import Console, free_port, pipeline_with_a_load

STABLE_TIMEOUT = 300


@pytest.fixture(scope="module")
def console(stack):
    with pipeline_with_a_load(stack):
        yield from _console(stack)


def _console(stack):
    c = Console(stack)
    try:
        status, _, _ = c.login()
        assert status == 200
        c.wait_round()
        yield c
    finally:
        c.close()


def error_of(body: bytes) -> str:
    return json.loads(body)["error"]


def test_pages_and_api_need_a_login_and_a_wrong_password_waits(console):
    anon = lambda path, **kw: console.request("GET", path, cookies=False, **kw)  # noqa: E731
    status, body, _ = anon("/api/pipeline")
    assert status == 401 and "login" in error_of(body)
    status, _, headers = anon("/")
    assert status == 303 and headers["Location"] == "/login"
    assert anon("/login")[0] == 200 and anon("/health")[0] == 200
    assert anon("/metrics")[0] == 401
    status, body, _ = anon("/metrics", headers={"Authorization": "Bearer " + console.token})
    assert status == 200 and b'userstream_console_value{metric="postgres.staged"}' in body
    assert anon("/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401

    other = Console.__new__(Console)  # a second client of the same console, no cookie yet
    other.__dict__.update(console.__dict__)
    other.opener = other.new_opener()
    t0 = time.monotonic()
    status, body, headers = other.login("not-" + console.password)
    assert status == 401 and error_of(body) == "wrong password"
    assert time.monotonic() - t0 >= 1.0  # US_CONSOLE_LOGIN_DELAY_MS=1000
    assert "Set-Cookie" not in headers
    status, _, headers = other.login()
    cookie = headers["Set-Cookie"]
    assert status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert other.request("GET", "/api/health")[0] == 200
    other.request("POST", "/logout")
    assert other.request("GET", "/api/health")[0] == 401
    # No secret in the log.
    log = console.read_log()
    assert console.password not in log and console.token not in log


@pytest.mark.parametrize("path", ["/api/nope", "/nope", "/static/nope.js", "/static/..%2Fcon_main.c",
                                  "/vendor/uplot/../../etc/passwd", "/api/kafka"])
def test_unknown_paths_get_404(console, path):
    status, body, _ = console.request("GET", path)
    assert status == 404, (path, body)
    assert error_of(body)


@pytest.mark.parametrize("path,reason", [
    ("/api/history?seconds=5", "metric"),
    ("/api/history?metric=postgres.staged&seconds=0", "seconds"),
    ("/api/history?metric=postgres.staged&seconds=abc", "seconds"),
    ("/api/history?metric=postgres.staged&seconds=99999", "seconds"),
    ("/api/history?metric=postgres.staged&bogus=1", "bogus"),
    ("/api/history?metric=no.such.metric", "unknown metric"),
    ("/api/history?metric=%zz", "metric"),
    ("/api/pipeline?x=1", "x"),
    ("/api/counts?fresh=2", "fresh"),
    ("/api/kafka/messages?topic=userstream.users&partition=0&offset=-5", "offset"),
    ("/api/kafka/messages?topic=userstream.users&partition=0&offset=abc", "offset"),
    ("/api/kafka/messages?topic=userstream.users&partition=-1", "partition"),
    ("/api/kafka/messages?topic=userstream.users&partition=0&limit=1000", "limit"),
    ("/api/kafka/messages?partition=0", "missing"),
    ("/api/kafka/messages?topic=a%2Fb&partition=0", "topic"),
    ("/api/registry/version?subject=userstream.users-value&version=0", "version"),
])
def test_malformed_parameters_get_400_with_the_reason(console, path, reason):
    status, body, _ = console.request("GET", path)
    assert status == 400, (path, body)
    assert reason in error_of(body), (path, body)


def test_other_methods_get_405(console):
    assert console.request("POST", "/api/pipeline", data=b"")[0] == 405
    assert console.request("GET", "/logout")[0] == 405


def truth(stack) -> dict:
    """Each stage counted by its engine's own client."""
    from cassandra.cluster import Cluster
    from confluent_kafka import Consumer, TopicPartition

    ops = stack["US_PG_OPS_USER"]
    row = stack.psql(ops, "SELECT (SELECT count(*) FROM staging.users), (SELECT count(*) FROM staging.rejects), "
                          "(SELECT coalesce(sum(fetched), 0) FROM ops.load_batches)").stdout.split("|")  # fmt: skip
    out = {"staged": int(row[0]), "rejected": int(row[1]), "fetched": int(row[2])}
    c = Consumer({**stack.kafka_conf(), "group.id": f"it-console-{uuid.uuid4().hex}",
                  "enable.auto.commit": False})  # fmt: skip
    try:
        topic = stack["US_KAFKA_TOPIC_USERS"]
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        marks = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts]
        out["kafka"] = sum(hi - lo for lo, hi in marks)
    finally:
        c.close()
    cluster = Cluster([stack["US_CASSANDRA_HOST"]], port=int(stack["US_CASSANDRA_PORT"]),
                      auth_provider=stack.cassandra_auth())
    try:
        s = cluster.connect(stack["US_CASSANDRA_KEYSPACE"])
        q = s.prepare("SELECT count(*) FROM users WHERE token(user_id) > ? AND token(user_id) <= ?")
        lo, hi = -(2**63), 2**63 - 1
        step = (hi - lo) // 64
        bounds = [lo + i * step for i in range(64)] + [hi]
        out["cassandra"] = sum(s.execute(q, (a, b), timeout=120).one()[0] for a, b in zip(bounds, bounds[1:]))
    finally:
        cluster.shutdown()
    return out


def test_counts_equal_what_psql_kafka_and_cassandra_report(console, stack):
    deadline = time.monotonic() + STABLE_TIMEOUT
    seen = []
    while True:
        before = truth(stack)
        api = console.get_json("/api/counts?fresh=1")
        after = truth(stack)
        mine = {k: api.get(k) for k in before}
        seen.append((before, mine, after))
        if before == after:  # nothing moved meanwhile: the API must say exactly that
            assert mine == before, seen[-1]
            assert api["errors"] == [], api
            break
        assert time.monotonic() < deadline, f"the stages never held still: {seen[-3:]}"
        time.sleep(5)


def test_pipeline_view_holds_every_stage_and_engine(console, stack):
    doc = console.wait_round()
    assert [s["id"] for s in doc["stages"]] == ["source", "fetched", "staged", "rejected", "relay", "kafka",
                                                "spark", "cassandra", "dlq"]  # fmt: skip
    source_stage_counts_what_the_source_generated(console, stack)
    names = {h["name"] for h in doc["health"]}
    assert {"postgres", "kafka", "registry", "cassandra", "spark_master", "spark_worker", "airflow_api_server",
            "airflow_scheduler", "airflow_dag_processor", "airflow_triggerer", "source", "relay",
            "spark_job"} <= names  # fmt: skip
    for engine in ("postgres", "kafka", "registry", "cassandra"):
        assert next(h for h in doc["health"] if h["name"] == engine)["state"] == "up", doc["health"]
    slot = doc["slot"]
    assert set(slot) >= {"confirmed_lsn", "retained_bytes", "safe_wal_bytes", "active"}


def source_users(stack) -> int:
    """userstream_source_users_total from the stack's source's own /metrics."""
    url = f"http://{stack['US_SOURCE_HOST']}:{stack['US_SOURCE_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
    m = re.search(r"^userstream_source_users_total (\S+)$", text, re.M)
    assert m, text
    return int(float(m.group(1)))


def source_stage_counts_what_the_source_generated(console, stack):
    """The source stage is the source's own count (US_SOURCE_METRICS_PORT):
    after 7 users asked of the stack's source, a round that started after a
    reading of its /metrics shows at least that reading and at most a later one
    (Airflow's loads may ask it too meanwhile)."""
    with urllib.request.urlopen(stack["US_SOURCE_URL"] + "?results=7&seed=console-stage", timeout=60) as r:
        assert len(json.loads(r.read())["results"]) == 7
    before = source_users(stack)
    assert before >= 7
    after_t = time.time()
    doc = console.wait_round(after=after_t)
    after = source_users(stack)
    source = doc["stages"][0]
    assert source["id"] == "source" and before <= source["count"] <= after, (before, source, after)


def test_retention_panel_shows_the_lifecycle_keys_and_what_the_lifecycle_did(console, stack):
    """Issue 14's "retention shown in one place": every lifecycle key of
    userstream.conf as `./userstream env` has it, and the last purge and the
    erasure records as ops holds them."""
    ops = stack["US_PG_OPS_USER"]
    # A purge batch with nothing due still records itself (ops.staging_purges).
    stack.psql(ops, "SELECT purge_id FROM ops.staging_purge_batch('100 years', 1, 'test_console')")
    want = json.loads(stack.psql(ops, "SELECT json_build_object('last_purge_at', max(purged_at), "
                                      "'erasures', (SELECT count(*) FROM ops.erasures))::text "
                                      "FROM ops.staging_purges").stdout)  # fmt: skip
    doc = console.wait_round()
    ret = doc["retention"]
    keys = {k["key"]: k["value"] for k in ret["config"]}
    assert {"US_STAGING_RETENTION", "US_KAFKA_USERS_CLEANUP_POLICY", "US_KAFKA_USERS_DELETE_RETENTION_MS",
            "US_KAFKA_DLQ_RETENTION_MS", "US_SPARK_MIN_BATCHES_TO_RETAIN", "US_LOG_MAX_BYTES"} <= set(keys)
    for key, value in keys.items():
        assert value == stack[key], key
    state = ret["state"]
    assert state["last_purge_at"] == want["last_purge_at"], state
    assert state["erasures"] == want["erasures"], state


def test_airflow_runs_come_through_its_authenticated_api(console):
    want = {"userstream_ingest", "userstream_quality", "userstream_canary"}
    deadline = time.monotonic() + 300  # a fresh stack's dag-processor parses the DAGs first
    while True:
        dags = {d["dag_id"]: d for d in console.get_json("/api/airflow?runs=3")["dags"]}
        if want <= set(dags) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert want <= set(dags), dags
    for d in dags.values():
        assert d["error"] is None and len(d["runs"]) <= 3
    assert console.request("GET", "/api/airflow?runs=0")[0] == 400


def test_history_has_one_value_per_second(console):
    h = console.get_json("/api/history?metric=postgres.staged,kafka.end&seconds=30")
    assert h["end"] - h["start"] == 29 and h["step"] == 1
    for name in ("postgres.staged", "kafka.end"):
        values = h["series"][name]
        assert len(values) == 30 and any(v is not None for v in values)


def test_message_browser_decodes_a_record_as_staging_holds_it(console, stack):
    topic = stack["US_KAFKA_TOPIC_USERS"]
    offsets = console.get_json(f"/api/kafka/offsets?topic={topic}")
    part = next((p for p in offsets["partitions"] if p["high"] > p["low"]), None)
    if part is None:
        pytest.skip("the topic is empty on this stack")
    msgs = console.get_json(f"/api/kafka/messages?topic={topic}&partition={part['partition']}&limit=50")["messages"]
    assert msgs and [m["offset"] for m in msgs] == sorted((m["offset"] for m in msgs), reverse=True)
    seen = set()
    for m in msgs:  # newest first: the first record of a key is its newest version
        value = m["value"]
        if not value or "avro" not in value or m["key"]["text"] in seen:
            continue
        seen.add(m["key"]["text"])
        avro = value["avro"]
        row = stack.psql(stack["US_PG_OPS_USER"], "SELECT first_name, last_name, email, country FROM staging.users "
                         f"WHERE user_id = '{avro['user_id']}'").stdout.strip()  # fmt: skip
        if not row:
            continue  # deleted since
        assert row.split("|") == [avro["first_name"], avro["last_name"], avro["email"], avro["country"]], (row, avro)
        assert m["headers"]["us.op"]["text"] in ("c", "u", "r")
        return
    pytest.skip("no current record among the newest 50 of the partition")


def test_engines_that_are_down_show_as_down(stack):
    """A console pointed at ports where nothing listens (as after `stop`):
    those engines are down with a reason, the rest still counts, no crash."""
    bind = stack["US_BIND"]
    dead = {k: str(free_port(bind)) for k in ("US_RELAY_METRICS_PORT", "US_CASSANDRA_PORT")}
    dead["US_SOURCE_URL"] = f"http://{bind}:{free_port(bind)}/api/1.4/"
    c = Console(stack, extra_env=dead, port=free_port(bind))
    try:
        assert c.login()[0] == 200
        doc = c.wait_round()
        state = {h["name"]: h for h in doc["health"]}
        for name in ("relay", "cassandra", "source"):
            assert state[name]["state"] == "down" and state[name]["detail"], state[name]
        assert state["postgres"]["state"] == "up"
        stage = {s["id"]: s for s in doc["stages"]}
        assert stage["relay"]["count"] is None and stage["relay"]["state"] == "down"
        assert "relay" in doc["errors"]
        counts = c.get_json("/api/counts?fresh=1")
        assert counts["cassandra"] is None and any(e.startswith("cassandra") for e in counts["errors"])
        assert counts["staged"] is not None
        assert c.proc.poll() is None
    finally:
        c.close()
