"""Helpers of the ingestion integration tests: the effective configuration, psql, the loader.

The tests talk to a real PostgreSQL (migrations applied, role userstream_load, password in
PGPASSFILE) and a real randomuser-compatible source. Where they come from:
  - US_TEST_USE_RUNNING=1: a running stack, read through `./userstream env`;
  - otherwise the environment (US_PG_HOST/US_PG_PORT/US_PG_DATABASE, US_LOAD_PG_USER,
    PGPASSFILE, US_SOURCE_URL), which the stack's conftest or a developer sets.
Tests skip (with the reason) when either is unreachable.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def effective_env() -> dict[str, str]:
    env = dict(os.environ)
    script = REPO / "userstream"
    if env.get("US_TEST_USE_RUNNING") == "1" and script.exists():
        out = subprocess.run([str(script), "env"], capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            line = line.strip()
            if line.startswith("export "):
                line = line[len("export "):]
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                parts = shlex.split(value) if value else [""]
                env[key] = parts[0] if parts else ""
    return env


def source_url(env: dict[str, str]) -> str:
    if env.get("US_SOURCE_URL"):
        return env["US_SOURCE_URL"]
    return f"http://{env.get('US_BIND', '127.0.0.1')}:{env.get('US_SOURCE_PORT', '8100')}/api/1.4/"


def loader_bin(env: dict[str, str]) -> str:
    return env.get("US_LOAD_BIN") or str(REPO / "build" / "src" / "load" / "userstream-load")


class Stack:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.url = source_url(env)
        self.host = env.get("US_PG_HOST") or env.get("US_BIND") or "127.0.0.1"
        self.port = env.get("US_PG_PORT", "5433")
        self.db = env.get("US_PG_DATABASE", "userstream")
        self.user = env.get("US_LOAD_PG_USER", "userstream_load")

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query through psql (the real client), as text fields."""
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", self.port, "-U", self.user, "-d", self.db, "-c", query],
            env=self.env, capture_output=True, text=True, check=True,
        )
        return [line.split("\x1f") for line in out.stdout.splitlines() if line]

    def one(self, query: str) -> str:
        return self.sql(query)[0][0]

    def load(self, *args: str, url: str | None = None, **env_over: str):
        """Runs userstream-load; returns (exit code, summary dict, stderr)."""
        env = dict(self.env)
        env.update(US_PG_HOST=self.host, US_PG_PORT=self.port, US_PG_DATABASE=self.db,
                   US_LOAD_PG_USER=self.user, US_LOAD_URL=url or self.url)
        env.update(env_over)
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


def make_stack() -> Stack:
    env = effective_env()
    st = Stack(env)
    if not Path(loader_bin(env)).exists():
        pytest.skip(f"loader not built: {loader_bin(env)}")
    try:
        st.one("SELECT count(*) FROM (SELECT 1 FROM ops.load_batches LIMIT 1) b")
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        pytest.skip(f"PostgreSQL with the staging/ops migrations not reachable: {e}")
    try:
        st.page("probe", 1, 1)
    except OSError as e:
        pytest.skip(f"source not reachable at {st.url}: {e}")
    return st


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def fault_source():
    """URL of a source with every fault kind on: US_TEST_FAULT_SOURCE_URL, else a
    userstream-source started here (US_SOURCE_BIN or build/src/source/userstream-source)."""
    url = os.environ.get("US_TEST_FAULT_SOURCE_URL")
    if url:
        yield url
        return
    binary = os.environ.get("US_SOURCE_BIN") or str(
        REPO / "build" / "src" / "source" / "userstream-source"
    )
    if not Path(binary).exists():
        pytest.skip(f"no userstream-source to inject faults with ({binary})")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--log-level", "warn", "--fault-500", "0.1",
         "--fault-429", "0.05", "--fault-slow", "0.05", "--fault-slow-ms", "300",
         "--fault-truncate", "0.1", "--fault-bad-utf8", "0.1", "--fault-empty", "0.05"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/api/1.4/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
