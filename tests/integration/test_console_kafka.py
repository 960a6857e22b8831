"""userstream-console's Kafka and registry modules against the real engines.

Each function of src/console/con_kafka.h and con_registry.h is run through
tests/unit/console_kafka_dump (the sanitizer build when there is one) and its
JSON compared with what kcat, the registry's HTTP API, psql and the Spark
checkpoint files say. Read-only on the stack's own topics, subjects and
groups. The tests that write (a throwaway topic with odd records, and a
consumer group that commits offsets) run on the test's own stack, or with
US_TEST_USE_RUNNING=1 only on the broker US_TEST_CONSOLE_BOOTSTRAP names
(e.g. a scratch broker), never on a shared running stack.
"""

import datetime
import json
import os
import re
import subprocess
import urllib.request
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dump_bin():
    for build in ("build-asan", "build"):
        path = os.path.join(REPO, build, "tests", "unit", "console_kafka_dump")
        if os.path.exists(path):
            return path
    pytest.skip("console_kafka_dump is not built (./userstream build)")


def dump(stack, *args, ok=True, env=None):
    p = stack.run([dump_bin(), *map(str, args)], check=False, timeout=120, env=env)
    if ok:
        assert p.returncode == 0, p.stderr
        assert "ERROR: AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
        return json.loads(p.stdout)
    return p


def kcat(stack, *args, **kw):
    return stack.run([*stack.kcat_args(), *args], **kw)


def kcat_meta(stack):
    return json.loads(kcat(stack, "-L", "-J").stdout)


def http_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def watermarks(stack, topic, partition):
    out = kcat(stack, "-Q", "-t", f"{topic}:{partition}:-1").stdout
    high = int(re.search(rf"\[{partition}\] offset (-?\d+)", out).group(1))
    out = kcat(stack, "-Q", "-t", f"{topic}:{partition}:-2").stdout
    low = int(re.search(rf"\[{partition}\] offset (-?\d+)", out).group(1))
    return low, high


def test_cluster_matches_kcat(stack):
    got = dump(stack, "cluster")
    meta = kcat_meta(stack)
    assert [(b["id"], f'{b["host"]}:{b["port"]}') for b in got["brokers"]] == [
        (b["id"], b["name"]) for b in meta["brokers"]]
    assert got["controller_id"] in [b["id"] for b in meta["brokers"]]
    topics = {t["name"]: t for t in got["topics"]}
    for t in meta["topics"]:
        mine = topics[t["topic"]]
        want = {p["partition"]: p for p in t["partitions"]}
        assert {p["partition"] for p in mine["partitions"]} == set(want)
        for p in mine["partitions"]:
            assert p["leader"] == want[p["partition"]]["leader"]
            assert p["replicas"] == [r["id"] for r in want[p["partition"]]["replicas"]]
            assert sorted(p["isr"]) == sorted(r["id"] for r in want[p["partition"]]["isrs"])
    users = topics[stack["US_KAFKA_TOPIC_USERS"]]
    assert users["config_error"] is None
    assert users["config"]["cleanup.policy"] in ("delete", "compact", "compact,delete")
    assert int(users["config"]["retention.ms"]) != 0
    # Watermarks equal kcat's (the topic only grows: ours were read first).
    for p in users["partitions"]:
        low, high = watermarks(stack, users["name"], p["partition"])
        assert p["low"] == low and p["low"] <= p["high"] <= high
    # The size is the partitions' segment files when the broker's data is on this host.
    data = os.path.join(stack["US_HOME"], "kafka", "data")
    if os.path.isdir(data) and users["size_bytes"] is not None:
        assert users["size_bytes"] > 0 or users["messages"] == 0


def test_end_offsets_match_kcat(stack):
    topic = stack["US_KAFKA_TOPIC_USERS"]
    got = dump(stack, "offsets", topic)
    parts = int(stack["US_KAFKA_USERS_PARTITIONS"])
    assert [p["partition"] for p in got["partitions"]] == list(range(parts))
    for p in got["partitions"]:
        low, high = watermarks(stack, topic, p["partition"])
        assert p["low"] == low and p["low"] <= p["high"] <= high
    assert got["high"] == sum(p["high"] for p in got["partitions"])
    assert got["messages"] == got["high"] - got["low"]


def _same(value, column):
    """A decoded Avro value equals PostgreSQL's row_to_json value."""
    if isinstance(column, str) and re.match(r"^\d{4}-\d\d-\d\dT", column):
        return (datetime.datetime.fromisoformat(value) ==
                datetime.datetime.fromisoformat(column))
    return value == column


def test_message_browser_decodes_like_staging(stack):
    topic = stack["US_KAFKA_TOPIC_USERS"]
    page = dump(stack, "messages", topic, 0, -1, -1, 50)
    msgs = page["messages"]
    if not msgs:
        pytest.skip("the users topic is empty: run a load first")
    offsets = [m["offset"] for m in msgs]
    assert offsets == sorted(offsets, reverse=True) and offsets[0] == page["high"] - 1
    # The same records as kcat reads (key, timestamp, headers).
    raw = kcat(stack, "-C", "-t", topic, "-p", "0", "-o", str(offsets[-1]), "-c", str(len(msgs)),
               "-e", "-f", "%o\t%k\t%T\n").stdout
    want = {int(o): (k, int(t)) for o, k, t in (l.split("\t") for l in raw.splitlines() if l)}
    for m in msgs:
        assert (m["key"]["text"], m["timestamp"]) == want[m["offset"]]
        assert m["value"] is None or "avro" in m["value"], m["value"]
    # The newest record of a key still in staging decodes to the row's values.
    seen = set()
    for m in msgs:
        key = m["key"]["text"]
        if key in seen or m["tombstone"] or m["value"]["avro"]["__op"] == "d":
            seen.add(key)
            continue
        seen.add(key)
        row = stack.psql("ops", "SELECT row_to_json(u) FROM staging.users u "
                         f"WHERE user_id = '{key}'").stdout.strip()
        if not row:
            continue
        row = json.loads(row)
        avro = m["value"]["avro"]
        for col, v in row.items():
            assert _same(avro[col], v), (col, avro[col], v)
        return
    pytest.skip("no record of the newest page is still in staging.users")


def test_message_browser_by_timestamp(stack):
    topic = stack["US_KAFKA_TOPIC_USERS"]
    newest = dump(stack, "messages", topic, 0, -1, -1, 1)["messages"]
    if not newest:
        pytest.skip("the users topic is empty")
    ts = newest[0]["timestamp"]
    page = dump(stack, "messages", topic, 0, -1, ts, 5)
    assert page["messages"], page
    # The window starts at the first record at or after ts.
    assert min(m["timestamp"] for m in page["messages"]) >= ts
    assert page["messages"][-1]["offset"] <= newest[0]["offset"]
    # A time after the newest record gives an empty page, not an error.
    assert dump(stack, "messages", topic, 0, -1, ts + 86400000, 5)["messages"] == []


def test_calls_from_several_threads_at_once(stack):
    # The console calls these from its HTTP threads and its collector at
    # once; under the sanitizer build a race on freed memory would abort.
    got = dump(stack, "threads", stack["US_KAFKA_TOPIC_USERS"])
    assert got == {"calls": 60, "failures": 0, "errors": []}, got


def test_bad_arguments_are_errors(stack):
    topic = stack["US_KAFKA_TOPIC_USERS"]
    for args in ((topic, 999, -1, -1, 5), (topic, 0, -1, -1, 0), (topic, 0, -1, -1, 201),
                 (topic, -1, -1, -1, 5), (topic, 0, -5, -1, 5),
                 (f"it-none-{uuid.uuid4().hex[:8]}", 0, -1, -1, 5)):
        p = dump(stack, "messages", *args, ok=False)
        assert p.returncode == 1 and p.stderr.startswith("console_kafka_dump: "), (args, p.stderr)
    missing = f"it-none-{uuid.uuid4().hex[:8]}"
    assert dump(stack, "offsets", missing, ok=False).returncode == 1
    # Asking about a topic does not create it.
    assert missing not in [t["topic"] for t in kcat_meta(stack)["topics"]]
    assert dump(stack, "version", "no-such-subject", 1, ok=False).returncode == 1
    assert dump(stack, "version", stack["US_KAFKA_TOPIC_USERS"] + "-value", "0",
                ok=False).returncode == 1


def test_registry_matches_its_api(stack):
    url = stack["US_REGISTRY_URL"]
    got = dump(stack, "subjects")
    subjects = http_json(f"{url}/subjects")
    assert sorted(s["subject"] for s in got["subjects"]) == sorted(subjects)
    assert got["compatibility"] == http_json(f"{url}/config")["compatibilityLevel"]
    for s in got["subjects"]:
        assert s["error"] is None
        assert s["versions"] == http_json(f"{url}/subjects/{s['subject']}/versions")
        assert s["latest"] == s["versions"][-1]
    subject = stack["US_KAFKA_TOPIC_USERS"] + "-value"
    if subject not in subjects:
        pytest.skip(f"{subject} is not registered yet")
    latest = http_json(f"{url}/subjects/{subject}/versions/latest")
    v = dump(stack, "version", subject, "latest")
    assert (v["id"], v["version"], v["schema"]) == (latest["id"], latest["version"], latest["schema"])
    assert v["schema_json"] == json.loads(latest["schema"])
    d = dump(stack, "diff", subject, 1, "latest")
    assert d["old_version"] == 1 and d["new_version"] == latest["version"]
    first = json.loads(http_json(f"{url}/subjects/{subject}/versions/1")["schema"])
    now = json.loads(latest["schema"])
    names = lambda s: {f["name"] for f in s["fields"]}
    assert {f["name"] for f in d["added"]} == names(now) - names(first)
    assert {f["name"] for f in d["removed"]} == names(first) - names(now)
    assert d["identical"] == (first == now)


def test_spark_lag_from_the_checkpoint(stack):
    ckpt = stack.cfg.get("US_SPARK_CHECKPOINT_DIR") or os.path.join(
        stack["US_HOME"], "spark", "checkpoints")
    ckpt = os.path.join(ckpt, "users")
    if not os.path.isdir(ckpt):
        pytest.skip(f"no checkpoint at {ckpt}: the Spark job has not run")
    got = dump(stack, "spark", ckpt)
    batches = lambda sub: {int(n) for n in os.listdir(os.path.join(ckpt, sub)) if n.isdigit()}
    committed = batches("offsets") & batches("commits") if os.path.isdir(
        os.path.join(ckpt, "commits")) else set()
    # The job may commit a new batch between the two reads: ours is not newer.
    assert got["batch"] in committed and got["batch"] <= max(committed)
    lines = open(os.path.join(ckpt, "offsets", str(got["batch"]))).read().splitlines()
    want = json.loads(lines[2])
    for t in got["topics"]:
        for p in t["partitions"]:
            assert p["offset"] == want[t["topic"]][str(p["partition"])]
            assert p["lag"] == p["high"] - p["offset"] and p["lag"] >= 0
    assert got["lag"] == sum(t["lag"] for t in got["topics"])


def scratch_broker(stack):
    """The broker the writing tests may use, or skip."""
    own = os.environ.get("US_TEST_CONSOLE_BOOTSTRAP")
    if own:
        return own
    if os.environ.get("US_TEST_USE_RUNNING") == "1":
        pytest.skip("writes: only on the test's own stack or US_TEST_CONSOLE_BOOTSTRAP")
    return stack["US_KAFKA_BOOTSTRAP"]


def kcat_at(stack, bootstrap):
    """kcat as the admin principal at that broker."""
    return ["kcat", "-F", stack["US_KAFKA_ADMIN_CLIENT_FILE"], "-b", bootstrap]


def create_topic(stack, bootstrap, topic, partitions):
    stack.us("kafka-run", "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap,
             "--command-config", stack.kafka_tool_config(), "--create", "--topic", topic, "--partitions", str(partitions))


def delete_topic(stack, bootstrap, topic):
    stack.us("kafka-run", "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap,
             "--command-config", stack.kafka_tool_config(), "--delete", "--topic", topic, check=False)


def test_browser_shows_tombstones_hex_and_headers(stack, tmp_path):
    boot = scratch_broker(stack)
    topic = f"it-console-{uuid.uuid4().hex[:8]}"
    create_topic(stack, boot, topic, 1)
    try:
        produce = [*kcat_at(stack, boot), "-P", "-t", topic, "-p", "0"]
        stack.run([*produce, "-K", "\t", "-Z", "-H", "h1=v1", "-H", "bin=\x01"],
                  input="k1\tplain text\nk2\t\n")
        unknown = tmp_path / "unknown-id"
        unknown.write_bytes(b"\x00\x7f\xff\xff\xf0\x02")
        stack.run([*produce, "-k", "framed", str(unknown)])
        got = dump(stack, "messages", topic, 0, -1, -1, 10,
                   env={"US_KAFKA_BOOTSTRAP": boot})["messages"]
        assert [m["offset"] for m in got] == [2, 1, 0]
        framed, tomb, text = got
        assert text["key"] == {"text": "k1"} and text["headers"]["h1"] == {"text": "v1"}
        assert text["headers"]["bin"] == {"hex": "01"}
        assert text["value"]["text"] == "plain text" and "magic byte" in text["value"]["error"]
        assert text["value"]["hex"] == b"plain text".hex()
        assert tomb["tombstone"] is True and tomb["value"] is None and tomb["key"] == {"text": "k2"}
        assert framed["value"]["hex"] == "007ffffff002"
        assert "2147483632" in framed["value"]["error"], framed["value"]["error"]
    finally:
        delete_topic(stack, boot, topic)


def test_group_lag_equals_committed_offsets(stack):
    boot = scratch_broker(stack)
    topic = f"it-console-{uuid.uuid4().hex[:8]}"
    group = f"it-console-group-{uuid.uuid4().hex[:8]}"
    create_topic(stack, boot, topic, 2)
    try:
        for p in (0, 1):
            stack.run([*kcat_at(stack, boot), "-P", "-t", topic, "-p", str(p)],
                      input="".join(f"m{i}\n" for i in range(5 + 5 * p)))
        # A member reads everything and commits, then more arrives in partition 1.
        stack.run([*kcat_at(stack, boot), "-C", "-G", group, "-X", "auto.offset.reset=earliest",
                   "-c", "15", "-e", topic], timeout=120)
        stack.run([*kcat_at(stack, boot), "-P", "-t", topic, "-p", "1"], input="late1\nlate2\nlate3\n")
        got = dump(stack, "groups", env={"US_KAFKA_BOOTSTRAP": boot})
        mine = [g for g in got["groups"] if g["group"] == group]
        assert len(mine) == 1, got
        offsets = {(o["topic"], o["partition"]): o for o in mine[0]["offsets"]}
        assert offsets[(topic, 0)]["committed"] == 5 and offsets[(topic, 0)]["lag"] == 0
        assert offsets[(topic, 1)]["committed"] == 10 and offsets[(topic, 1)]["high"] == 13
        assert offsets[(topic, 1)]["lag"] == 3 and mine[0]["lag"] == 3
        assert mine[0]["simple"] is False and mine[0]["error"] is None
    finally:
        delete_topic(stack, boot, topic)
