"""Helpers of the container tests (test_compose.py, test_compose_cluster.py).

A ComposeProject drives `./userstream compose` for one Compose project with its
own port offset (and, optionally, a profile: deploy/<profile>.env), independent
of the session's local stack. Traffic goes only to loopback and to the
containers the project starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USERSTREAM = os.path.join(ROOT, "userstream")
DOCKER = os.environ.get("US_DOCKER", "/usr/bin/docker")
UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
FLOW_TIMEOUT = 900
LOADER_PGPASS = "PGPASSFILE=/var/lib/userstream/secrets/pgpass-loader"


class ComposeProject:
    def __init__(self, project: str, offset: str, profile: str = ""):
        self.project, self.offset, self.profile = project, offset, profile

    def env(self) -> dict:
        """The caller's environment without its effective configuration (its ports
        would not be shifted), plus this project's name, port offset and profile."""
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("US_") or k == "PGPASSFILE") or k in ("US_CACHE", "US_DOCKER", "US_IMAGE")}
        env.update(US_PORT_OFFSET=self.offset, US_COMPOSE_PROJECT=self.project)
        if self.profile:
            env["US_COMPOSE_PROFILE"] = self.profile
        return env

    def run(self, args, timeout=600, check=True, input=None):
        p = subprocess.run(args, env=self.env(), capture_output=True, text=True, timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{args!r} exited {p.returncode}\n--- stdout\n{p.stdout[-4000:]}"
                                 f"\n--- stderr\n{p.stderr[-4000:]}")
        return p

    def us(self, *args, **kw):
        return self.run([USERSTREAM, *args], **kw)

    def compose(self, *args, **kw):
        return self.us("compose", *args, **kw)

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).stdout.split()
        assert len(ids) == 1, f"{service}: containers {ids}"
        return ids[0]

    def in_container(self, service: str, *cmd, **kw):
        """A command inside SERVICE's container, through its entry point (US_BIND)."""
        return self.run([DOCKER, "exec", "-i", self.container(service),
                         "/opt/userstream/deploy/entrypoint.sh", *cmd], **kw)

    def objects(self) -> dict:
        label = f"label=com.docker.compose.project={self.project}"
        return {
            "containers": self.run([DOCKER, "ps", "-aq", "--filter", label]).stdout.split(),
            "volumes": self.run([DOCKER, "volume", "ls", "-q", "--filter", label]).stdout.split(),
            "networks": self.run([DOCKER, "network", "ls", "-q", "--filter", label]).stdout.split(),
        }

    def health(self) -> dict:
        """service -> 'healthy' / 'unhealthy' / 'starting' while running, else 'STATE EXITCODE'."""
        out = {}
        label = f"label=com.docker.compose.project={self.project}"
        for cid in self.run([DOCKER, "ps", "-aq", "--filter", label]).stdout.split():
            svc, state, h, code = self.run([
                DOCKER, "inspect", "-f",
                '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} '
                '{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}',
                cid]).stdout.split()
            out[svc] = h if state == "running" and h != "-" else f"{state} {code}"
        return out

    def staged_ids(self, seed: str) -> set:
        p = self.in_container("postgres", "psql", "-XAtq", "-c",
                              f"SELECT user_id FROM staging.users WHERE source_seed = '{seed}'")
        return set(UUID_RE.findall(p.stdout))

    def cassandra_ids(self, consistency: str = "", service: str = "cassandra", check=True) -> set | None:
        """Every user id of the users table, read with cqlsh in SERVICE's container
        (at CONSISTENCY when given; cqlsh's default is ONE). None: the read failed
        (only with check=False)."""
        cql = (f"CONSISTENCY {consistency}; " if consistency else "") + \
            "PAGING OFF; SELECT user_id FROM userstream.users"
        p = self.in_container(service, "cqlsh", "--request-timeout=120", "-e", cql, timeout=300, check=check)
        return set(UUID_RE.findall(p.stdout)) if p.returncode == 0 else None

    def load_cmd(self, seed: str, users: int = 20000, run_id: str = "") -> list:
        """userstream-load in the scheduler's container (where the ingestion DAG runs
        it): the source container's API -> the PostgreSQL container, as the loader role."""
        return [DOCKER, "exec", "-e", LOADER_PGPASS, self.container("airflow-scheduler"),
                "/opt/userstream/build/src/load/userstream-load",
                "--seed", seed, "--results", "5000", "--pages", str(users // 5000),
                "--run-id", run_id or f"compose-{seed}"]

    def load(self, seed: str, users: int = 20000):
        return self.run(self.load_cmd(seed, users), timeout=600)

    def start_load(self, seed: str, run_id: str, users: int = 20000) -> subprocess.Popen:
        """The same load in the background (kills land while it is captured)."""
        return subprocess.Popen(self.load_cmd(seed, users, run_id), env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for(self, ids: set, timeout=FLOW_TIMEOUT, consistency: str = "") -> set:
        """The ids in Cassandra once they include IDS (or at the timeout). At a
        consistency level above ONE a read may time out while a replica is slow
        (e.g. just restarted): it is tried again."""
        start, have = time.monotonic(), set()
        while time.monotonic() - start < timeout:
            got = self.cassandra_ids(consistency, check=not consistency)
            have = have if got is None else got
            if got is not None and ids <= got:
                return got
            time.sleep(10)
        return have

    @contextlib.contextmanager
    def up(self, log_name: str, timeout=1800):
        """`compose up` (after a `down --purge` of an earlier, interrupted run),
        then `down --purge` leaving no container, volume or network of the
        project. Logs to build-it-logs/LOG_NAME when it failed (or US_TEST_COMPOSE_LOGS)."""
        self.compose("down", "--purge", timeout=300, check=False)
        started = time.monotonic()
        p = self.compose("up", timeout=timeout, check=False)
        print(f"\ncompose up ({self.project}{', ' + self.profile if self.profile else ''}): "
              f"{time.monotonic() - started:.0f}s (exit {p.returncode})\n{p.stdout[-3000:]}")
        try:
            if p.returncode != 0:
                print(self.compose("logs", check=False).stdout[-20000:])
            assert p.returncode == 0, p.stderr[-4000:]
            yield
        finally:
            if p.returncode != 0 or os.environ.get("US_TEST_COMPOSE_LOGS"):
                os.makedirs(os.path.join(ROOT, "build-it-logs"), exist_ok=True)
                with open(os.path.join(ROOT, "build-it-logs", log_name), "w") as f:
                    f.write(self.compose("logs", "--no-color", check=False).stdout)
            self.compose("down", "--purge", timeout=600, check=False)
            left = self.objects()
            assert left == {"containers": [], "volumes": [], "networks": []}, f"left after down: {left}"
