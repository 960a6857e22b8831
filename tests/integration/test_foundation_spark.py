"""Spark 3.5 standalone: a job submitted to the master reads a Kafka topic and
writes a Cassandra table through the connector jars (stack/spark/submit)."""

import json
import os
import urllib.request
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOB = os.path.join(HERE, "spark", "kafka_to_cassandra.py")


def master_state(stack):
    url = f"http://{stack['US_BIND']}:{stack['US_SPARK_MASTER_UI_PORT']}/json/"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def produce(stack, topic, records):
    p = Producer(stack.kafka_conf(**{"enable.idempotence": True}))
    for key, value in records.items():
        p.produce(topic, key=key.encode(), value=value.encode())
    assert p.flush(60) == 0, "records still undelivered"


def cassandra_rows(stack, ks, table):
    out = stack.cqlsh("-e", f"SELECT JSON id, payload, kafka_offset FROM {ks}.{table}").stdout
    rows = [json.loads(line.strip()) for line in out.splitlines() if line.strip().startswith("{")]
    return {r["id"]: r for r in rows}


def submit(stack, topic, ks, table, checkpoint):
    return stack.run(
        [os.path.join(ROOT, "stack", "spark", "submit"),
         "--name", f"it-foundation-{topic}", "--conf", "spark.ui.enabled=false",
         "--conf", "spark.executor.memory=512m",
         JOB, "--bootstrap", stack["US_KAFKA_BOOTSTRAP"], "--topic", topic,
         "--keyspace", ks, "--table", table, "--checkpoint", checkpoint],
        timeout=600,
    )


def test_master_is_alive_with_one_worker(stack):
    doc = master_state(stack)
    assert doc["status"] == "ALIVE"
    assert doc["aliveworkers"] == 1
    (worker,) = [w for w in doc["workers"] if w["state"] == "ALIVE"]
    assert worker["host"] == stack["US_BIND"]
    assert str(worker["port"]) == stack["US_SPARK_WORKER_PORT"]


@pytest.fixture
def topic_and_table(stack):
    name = f"it_spark_{uuid.uuid4().hex[:8]}"
    admin = AdminClient(stack.kafka_conf())
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(60)
    stack.cqlsh("-e", f"CREATE KEYSPACE {name} WITH replication = "
                      "{'class': 'SimpleStrategy', 'replication_factor': 1};"
                      f"CREATE TABLE {name}.events (id text PRIMARY KEY, payload text, "
                      "kafka_partition int, kafka_offset bigint);")
    yield name
    stack.cqlsh("-e", f"DROP KEYSPACE IF EXISTS {name}", check=False)
    admin.delete_topics([name])[name].result(60)


def test_job_reads_kafka_and_writes_cassandra(stack, topic_and_table, tmp_path):
    name = topic_and_table
    checkpoint = str(tmp_path / "checkpoint")
    first = {f"user-{i:03d}": f"n={i};email=u{i}@example.com" for i in range(50)}
    produce(stack, name, first)

    out = submit(stack, name, name, "events", checkpoint)
    assert "foundation-job: done" in out.stdout, out.stderr[-3000:]
    rows = cassandra_rows(stack, name, "events")
    assert {k: r["payload"] for k, r in rows.items()} == first

    # The checkpoint holds the consumed offsets: a second run reads only the
    # new records, and rewriting a key is an upsert (still one row per key).
    second = {f"user-{i:03d}": f"n={i};email=new{i}@example.com" for i in range(45, 60)}
    produce(stack, name, second)
    out = submit(stack, name, name, "events", checkpoint)
    assert "last batch read 15 rows" in out.stdout, out.stdout[-2000:]
    rows = cassandra_rows(stack, name, "events")
    assert {k: r["payload"] for k, r in rows.items()} == {**first, **second}

    # The application ran on the standalone master, and finished.
    apps = [a for a in master_state(stack)["completedapps"] if a["name"] == f"it-foundation-{name}"]
    assert len(apps) == 2 and all(a["state"] == "FINISHED" for a in apps)
