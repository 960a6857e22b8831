"""The pipeline in containers (deploy/, docs/containers.md), built and run here.

`./userstream compose up` starts dockerd when it is not running, makes the base
image when it is missing, builds the one image and starts every service; then
20,000 users are loaded through the containers and exactly their ids must reach
Cassandra (read with cqlsh inside the Cassandra container), with the relay and
the Spark job containers killed during a second load; `down --purge` must leave
no container, volume or network of the project.

Independent of the session's local stack (conftest's ``stack`` is not used): its
own Compose project, ports published on 127.0.0.1 with US_TEST_COMPOSE_OFFSET
(default 12000: clear of a default stack, the dev stack at 1000, the test stack
at 20000 and of the kernel's ephemeral ports from 32768). Traffic goes only to
loopback and to the containers this module starts.

US_TEST_USE_RUNNING=1 (the fast loop against your own stack) skips it unless
US_TEST_COMPOSE=1; US_TEST_COMPOSE=0 skips it always.
"""

import os
import time
import uuid

import pytest

from compose_support import DOCKER, ComposeProject

PROJECT = os.environ.get("US_TEST_COMPOSE_PROJECT", "userstream-it")
OFFSET = os.environ.get("US_TEST_COMPOSE_OFFSET", "12000")

want = os.environ.get("US_TEST_COMPOSE", "")
if want == "0" or (os.environ.get("US_TEST_USE_RUNNING") == "1" and want != "1"):
    pytest.skip("container suite skipped (US_TEST_COMPOSE=0, or US_TEST_USE_RUNNING=1 without US_TEST_COMPOSE=1)",
                allow_module_level=True)

P = ComposeProject(PROJECT, OFFSET)
run, compose, container = P.run, P.compose, P.container
health, staged_ids, cassandra_ids, load, wait_for = P.health, P.staged_ids, P.cassandra_ids, P.load, P.wait_for


@pytest.fixture(scope="module")
def containers():
    with P.up("compose.log"):
        yield


def test_20k_users_reach_cassandra_exactly_through_the_containers(containers):
    states = health()
    jobs = {"secrets", "migrate-postgres", "migrate"}
    assert {s: h for s, h in states.items() if s in jobs} == {j: "exited 0" for j in jobs}
    assert {s: h for s, h in states.items() if s not in jobs and h != "healthy"} == {}
    assert {"postgres", "kafka", "registry", "cassandra", "spark-master", "spark-worker", "airflow-api-server",
            "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "source", "relay",
            "spark-job", "console"} <= set(states)

    seed = uuid.uuid4().hex[:16]
    load(seed)
    staged = staged_ids(seed)
    assert len(staged) == 20000
    have = wait_for(staged)
    # Exactly those ids: nothing lost, nothing else (no DAG is unpaused here).
    assert have == staged, f"missing {len(staged - have)}, extra {len(have - staged)}"

    # `compose ps` agrees with the data: every long-running service healthy.
    ps = compose("ps").stdout
    for svc in states.keys() - jobs:
        line = next(ln for ln in ps.splitlines() if f"_{svc}_1 " in ln or f"-{svc}-1 " in ln)
        assert "(healthy)" in line, line


def test_killed_relay_and_spark_job_lose_nothing(containers):
    before = cassandra_ids()
    seed = uuid.uuid4().hex[:16]
    # The kills land while the load is being captured and processed.
    loader = P.start_load(seed, f"compose-kill-{seed}")
    time.sleep(2)
    run([DOCKER, "kill", container("relay")])
    out, err = loader.communicate(timeout=600)
    assert loader.returncode == 0, err
    run([DOCKER, "kill", container("spark-job")])
    assert health()["relay"] == "exited 137" and health()["spark-job"] == "exited 137"
    # `docker kill` counts as a manual stop, which Docker's restart policy leaves
    # alone: the operator's `compose up` starts them again (and waits until every
    # container is healthy). They resume from the replication slot and the checkpoints.
    compose("up", timeout=1800)
    staged = staged_ids(seed)
    assert len(staged) == 20000
    have = wait_for(before | staged)
    assert have == before | staged, f"missing {len((before | staged) - have)}, extra {len(have - before - staged)}"
    assert health()["relay"] == "healthy" and health()["spark-job"] == "healthy"
