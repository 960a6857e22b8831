"""Helpers of the ingestion integration tests (test_load.py, test_dags.py).

They run on the session's real stack (conftest.py: PostgreSQL with the migrations and roles,
PGPASSFILE) and a real userstream-source: the stack's US_SOURCE_URL when it answers, else one
started here from the build (US_SOURCE_BIN or build/src/source/userstream-source), else the
tests skip and say why. The loader is US_LOAD_BIN, else the sanitizer build when there is one
(so the suite also runs it under ASan+UBSan), else build/.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAULTS = ["--fault-500", "0.1", "--fault-429", "0.05", "--fault-slow", "0.05",
          "--fault-slow-ms", "300", "--fault-truncate", "0.1", "--fault-bad-utf8", "0.1",
          "--fault-empty", "0.05"]


def loader_bin(env: dict[str, str]) -> str:
    # the session stack's environment drops the caller's US_* settings: look at both
    explicit = env.get("US_LOAD_BIN") or os.environ.get("US_LOAD_BIN")
    if explicit:
        return explicit
    asan = REPO / "build-asan" / "src" / "load" / "userstream-load"
    return str(asan if asan.exists() else REPO / "build" / "src" / "load" / "userstream-load")


def source_bin(env: dict[str, str]) -> str:
    return (env.get("US_SOURCE_BIN") or os.environ.get("US_SOURCE_BIN")
            or str(REPO / "build" / "src" / "source" / "userstream-source"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    sep = "&" if "?" in url else "?"
    try:
        with urllib.request.urlopen(f"{url}{sep}results=1&seed=probe", timeout=10) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def run_source(env: dict[str, str], *flags: str):
    """A userstream-source of the build on a free port, stopped afterwards."""
    binary = source_bin(env)
    if not Path(binary).exists():
        pytest.skip(f"userstream-source is not built ({binary})")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--metrics-port", "0", "--log-level", "warn", *flags],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/1.4/"
    try:
        for _ in range(300):  # readiness: the port answers an API request
            if answers(url) or proc.poll() is not None:
                break
            time.sleep(0.1)
        if proc.poll() is not None:
            pytest.fail(f"userstream-source exited with {proc.returncode}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def clean_source(env: dict[str, str]):
    url = env["US_SOURCE_URL"]
    if url and answers(url):
        yield url
    else:
        with run_source(env) as started:
            yield started


class Ingest:
    """The stack's effective configuration plus psql and loader helpers."""

    def __init__(self, env: dict[str, str], url: str):
        self.env = dict(env)
        self.url = url
        # every key is in the effective configuration (./userstream env): no defaults here
        self.host = env["US_PG_HOST"]
        self.port = env["US_PG_PORT"]
        self.db = env["US_PG_DATABASE"]
        self.loader_role = env["US_PG_LOADER_USER"]
        self.ops_role = env["US_PG_OPS_USER"]

    def sql(self, query: str, role: str | None = None) -> list[list[str]]:
        """Rows of a query through psql (as the ops role: it reads staging and ops)."""
        out = subprocess.run(
            ["psql", "-X", "-q", "-w", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", self.port, "-U", role or self.ops_role, "-d", self.db,
             "-c", query],
            env=self.env, capture_output=True, text=True, check=True,
        )
        return [line.split("\x1f") for line in out.stdout.splitlines() if line]

    def one(self, query: str) -> str:
        return self.sql(query)[0][0]

    def loader_env(self, url: str | None = None, **over: str) -> dict[str, str]:
        env = dict(self.env, US_LOAD_URL=url or self.url)
        env.update(over)
        return env

    def load(self, *args: str, url: str | None = None, **over: str):
        """Runs userstream-load; returns (exit code, summary dict, stderr)."""
        env = self.loader_env(url, **over)
        proc = subprocess.run([loader_bin(env), *args], env=env, capture_output=True, text=True,
                              timeout=600)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        return proc.returncode, (json.loads(lines[-1]) if lines else {}), proc.stderr

    def page(self, seed: str, page: int, results: int) -> dict:
        sep = "&" if "?" in self.url else "?"
        with urllib.request.urlopen(
            f"{self.url}{sep}results={results}&seed={seed}&page={page}", timeout=30
        ) as r:
            return json.loads(r.read())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def ingest_for(stack):
    """An Ingest on the session's stack, with a clean source."""
    env = dict(stack.env)
    if not Path(loader_bin(env)).exists():
        pytest.skip(f"userstream-load is not built ({loader_bin(env)})")
    with clean_source(env) as url:
        yield Ingest(env, url)
