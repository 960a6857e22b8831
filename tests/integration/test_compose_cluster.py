"""The containers' `cluster` profile (deploy/cluster.env, docs/containers.md).

`US_COMPOSE_PROFILE=cluster ./userstream compose up`: 3 Kafka brokers in one
static KRaft quorum, topics with 3 replicas and min.insync.replicas=2; 3
Cassandra nodes, the keyspace (and system_auth) replicated 3 times, the Spark
job at LOCAL_QUORUM; 2 Spark workers. Then 20,000 users are loaded while one
Kafka broker and one Cassandra node are killed (`docker kill`): with them still
down, exactly the staged ids must reach Cassandra, read at LOCAL_QUORUM (the
relay's acks=all writes went on with 2 of 3 in sync, the job's writes with 2 of
3 replicas). After `compose up` starts the two nodes again, the same ids are
read at ALL (every replica answers). `down --purge` leaves nothing.

Its own project (uscluster-it) and port offset (US_TEST_CLUSTER_OFFSET, default
13000: clear of test_compose.py's 12000, the dev stack's 1000 and the test
stack's 20000). It runs after test_compose.py (pytest collects the directory in
name order), whose image build it reuses, and never beside it: that module's
`down` ran before this one starts, which the fixture checks (eight more JVMs than
test_compose.py; docs/benchmarks.md has its time).

In the test command by default. US_TEST_CLUSTER=0 (or US_TEST_COMPOSE=0, the
whole container suite) skips it; US_TEST_USE_RUNNING=1 (the fast loop against
your own stack) skips it unless US_TEST_CLUSTER=1.
"""

import os
import re
import time
import uuid

import pytest

from compose_support import DOCKER, ComposeProject

want = os.environ.get("US_TEST_CLUSTER", "")
if want == "0" or os.environ.get("US_TEST_COMPOSE") == "0" or \
        (os.environ.get("US_TEST_USE_RUNNING") == "1" and want != "1"):
    pytest.skip("cluster profile test skipped (US_TEST_CLUSTER=0 or US_TEST_COMPOSE=0, or US_TEST_USE_RUNNING=1 "
                "without US_TEST_CLUSTER=1)", allow_module_level=True)

P = ComposeProject(os.environ.get("US_TEST_CLUSTER_PROJECT", "uscluster-it"),
                   os.environ.get("US_TEST_CLUSTER_OFFSET", "13000"), profile="cluster")
# test_compose.py's project: never up at the same time as this one.
SINGLE = ComposeProject(os.environ.get("US_TEST_COMPOSE_PROJECT", "userstream-it"),
                        os.environ.get("US_TEST_COMPOSE_OFFSET", "12000"))
TOPIC = "userstream.users"
JOBS = ("secrets", "migrate-postgres", "migrate")  # the one-shot containers
NODES = {"kafka", "kafka-2", "kafka-3", "cassandra", "cassandra-2", "cassandra-3", "spark-worker", "spark-worker-2"}


@pytest.fixture(scope="module")
def cluster():
    # (dockerd not running yet: no container of either project)
    left = SINGLE.run([DOCKER, "ps", "-aq", "--filter", f"label=com.docker.compose.project={SINGLE.project}"],
                      check=False).stdout.split()
    assert not left, f"{SINGLE.project} still has containers {left}: the two container suites must not run at once"
    with P.up("compose-cluster.log", timeout=2400):
        yield


def test_cluster_is_up_with_its_replication(cluster):
    states = P.health()
    assert {s: h for s, h in states.items() if s not in JOBS and h != "healthy"} == {}
    assert NODES <= set(states)

    # Kafka: three brokers, every partition of the users topic on all three,
    # and an acks=all write needs two of them.
    meta = P.in_container("kafka", "kcat", "-L", "-t", TOPIC).stdout
    assert re.search(r"^ *3 brokers:", meta, re.M), meta
    parts = re.findall(r"partition \d+, leader \d+, replicas: ([\d,]+), isrs: ([\d,]+)", meta)
    assert len(parts) == 4 and all(sorted(r.split(",")) == ["1", "2", "3"] for r, _ in parts), meta
    desc = P.in_container("kafka", "kafka-topics", "--describe", "--topic", TOPIC).stdout
    assert re.search(r"ReplicationFactor: 3\b", desc), desc
    assert "min.insync.replicas=2" in desc, desc

    # Cassandra: a ring of three, the keyspace and the roles replicated three times.
    ks = P.in_container("cassandra", "cqlsh", "-e",
                        "SELECT keyspace_name, replication FROM system_schema.keyspaces "
                        "WHERE keyspace_name IN ('userstream', 'system_auth')").stdout
    assert len(re.findall(r"'replication_factor': '3'", ks)) == 2, ks
    peers = P.in_container("cassandra", "cqlsh", "-e", "SELECT peer FROM system.peers_v2").stdout
    assert "(2 rows)" in peers, peers


def test_a_killed_broker_and_node_lose_nothing_and_writes_go_on(cluster):
    before = P.cassandra_ids("LOCAL_QUORUM")
    seed = uuid.uuid4().hex[:16]
    loader = P.start_load(seed, f"cluster-kill-{seed}")
    time.sleep(2)
    # Neither is what a client bootstraps from alone (every client has all three
    # brokers; the job's Cassandra driver knows the ring from `cassandra`).
    P.run([DOCKER, "kill", P.container("kafka-2")])
    P.run([DOCKER, "kill", P.container("cassandra-2")])
    out, err = loader.communicate(timeout=600)
    assert loader.returncode == 0, err
    staged = P.staged_ids(seed)
    assert len(staged) == 20000

    # With both still down: every id arrives, read at LOCAL_QUORUM (2 of 3).
    have = P.wait_for(before | staged, consistency="LOCAL_QUORUM")
    states = P.health()
    assert states["kafka-2"] == "exited 137" and states["cassandra-2"] == "exited 137", states
    assert have == before | staged, f"missing {len((before | staged) - have)}, extra {len(have - before - staged)}"

    # `docker kill` is a manual stop: `compose up` starts them again; they catch
    # up (Kafka replication, Cassandra hints) and every replica answers.
    P.compose("up", timeout=1800)
    have = P.wait_for(before | staged, consistency="ALL")
    assert have == before | staged, f"at ALL: missing {len((before | staged) - have)}, extra {len(have - before - staged)}"
    assert {s: h for s, h in P.health().items() if s not in JOBS and h != "healthy"} == {}
    meta = P.in_container("kafka", "kcat", "-L", "-t", TOPIC).stdout
    assert re.search(r"^ *3 brokers:", meta, re.M), meta
