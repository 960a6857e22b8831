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
import re
import subprocess
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USERSTREAM = os.path.join(ROOT, "userstream")
DOCKER = os.environ.get("US_DOCKER", "/usr/bin/docker")
PROJECT = os.environ.get("US_TEST_COMPOSE_PROJECT", "userstream-it")
OFFSET = os.environ.get("US_TEST_COMPOSE_OFFSET", "12000")
UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
FLOW_TIMEOUT = 900

want = os.environ.get("US_TEST_COMPOSE", "")
if want == "0" or (os.environ.get("US_TEST_USE_RUNNING") == "1" and want != "1"):
    pytest.skip("container suite skipped (US_TEST_COMPOSE=0, or US_TEST_USE_RUNNING=1 without US_TEST_COMPOSE=1)",
                allow_module_level=True)


def compose_env() -> dict:
    """The caller's environment without its effective configuration (its ports
    would not be shifted), plus this module's project and port offset."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("US_") or k == "PGPASSFILE") or k in ("US_CACHE", "US_DOCKER")}
    env.update(US_PORT_OFFSET=OFFSET, US_COMPOSE_PROJECT=PROJECT)
    return env


def run(args, timeout=600, check=True, input=None):
    p = subprocess.run(args, env=compose_env(), capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{args!r} exited {p.returncode}\n--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-4000:]}")
    return p


def us(*args, **kw):
    return run([USERSTREAM, *args], **kw)


def compose(*args, **kw):
    return us("compose", *args, **kw)


def container(service: str) -> str:
    ids = compose("ps", "-q", service).stdout.split()
    assert len(ids) == 1, f"{service}: containers {ids}"
    return ids[0]


def in_container(service: str, *cmd, **kw):
    """A command inside SERVICE's container, through its entry point (US_BIND)."""
    return run([DOCKER, "exec", "-i", container(service), "/opt/userstream/deploy/entrypoint.sh", *cmd], **kw)


def project_objects() -> dict:
    label = f"label=com.docker.compose.project={PROJECT}"
    return {
        "containers": run([DOCKER, "ps", "-aq", "--filter", label]).stdout.split(),
        "volumes": run([DOCKER, "volume", "ls", "-q", "--filter", label]).stdout.split(),
        "networks": run([DOCKER, "network", "ls", "-q", "--filter", label]).stdout.split(),
    }


def health() -> dict:
    """service -> 'healthy' / 'unhealthy' / 'starting' while running, else 'STATE EXITCODE'."""
    out = {}
    for cid in run([DOCKER, "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"]).stdout.split():
        svc, state, h, code = run([DOCKER, "inspect", "-f",
                                   '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} '
                                   '{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}',
                                   cid]).stdout.split()
        out[svc] = h if state == "running" and h != "-" else f"{state} {code}"
    return out


def staged_ids(seed: str) -> set:
    p = in_container("postgres", "psql", "-XAtq", "-c",
                     f"SELECT user_id FROM staging.users WHERE source_seed = '{seed}'")
    return set(UUID_RE.findall(p.stdout))


def cassandra_ids() -> set:
    p = in_container("cassandra", "cqlsh", "--request-timeout=120", "-e",
                     "PAGING OFF; SELECT user_id FROM userstream.users", timeout=300)
    return set(UUID_RE.findall(p.stdout))


def load(seed: str, users: int = 20000):
    """userstream-load in the scheduler's container (where the ingestion DAG runs
    it): the source container's API -> the PostgreSQL container, as the loader role."""
    pages = users // 5000
    return run([DOCKER, "exec", "-e", "PGPASSFILE=/var/lib/userstream/secrets/pgpass-loader",
                container("airflow-scheduler"), "/opt/userstream/build/src/load/userstream-load",
                "--seed", seed, "--results", "5000", "--pages", str(pages),
                "--run-id", f"compose-{seed}"], timeout=600)


def wait_for(ids: set, timeout=FLOW_TIMEOUT) -> set:
    start, have = time.monotonic(), set()
    while time.monotonic() - start < timeout:
        have = cassandra_ids()
        if ids <= have:
            return have
        time.sleep(10)
    return have


@pytest.fixture(scope="module")
def containers():
    # Nothing of an earlier, interrupted run may count.
    compose("down", "--purge", timeout=300, check=False)
    started = time.monotonic()
    p = compose("up", timeout=1800, check=False)
    print(f"\ncompose up: {time.monotonic() - started:.0f}s (exit {p.returncode})\n{p.stdout[-3000:]}")
    try:
        if p.returncode != 0:
            print(compose("logs", check=False).stdout[-20000:])
        assert p.returncode == 0, p.stderr[-4000:]
        yield
    finally:
        if p.returncode != 0 or os.environ.get("US_TEST_COMPOSE_LOGS"):
            os.makedirs(os.path.join(ROOT, "build-it-logs"), exist_ok=True)
            with open(os.path.join(ROOT, "build-it-logs", "compose.log"), "w") as f:
                f.write(compose("logs", "--no-color", check=False).stdout)
        compose("down", "--purge", timeout=600, check=False)
        left = project_objects()
        assert left == {"containers": [], "volumes": [], "networks": []}, f"left after down: {left}"


def test_20k_users_reach_cassandra_exactly_through_the_containers(containers):
    states = health()
    jobs = {"secrets", "migrate"}
    assert {s: h for s, h in states.items() if s in jobs} == {"secrets": "exited 0", "migrate": "exited 0"}
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
    loader = subprocess.Popen([DOCKER, "exec", "-e", "PGPASSFILE=/var/lib/userstream/secrets/pgpass-loader",
                               container("airflow-scheduler"), "/opt/userstream/build/src/load/userstream-load",
                               "--seed", seed, "--results", "5000", "--pages", "4",
                               "--run-id", f"compose-kill-{seed}"],
                              env=compose_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
