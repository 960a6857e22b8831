"""Integration tests: one real stack for the whole session.

The session fixture ``stack`` brings the local stack up ONCE (its own US_HOME
under /tmp, ports shifted by US_TEST_PORT_OFFSET, default 20000) and down at
the end, asserting that no process of it is left. Only one such test stack
runs on a machine at a time: an exclusive flock on
/tmp/userstream-integration.lock is held around it.

US_TEST_USE_RUNNING=1 runs against an already running stack instead (the one
your environment/US_HOME names), without starting or stopping it.

Tests read the effective configuration from ``./userstream env`` and use the
real clients (psql, kcat, cqlsh, curl-like HTTP, the project's programs).
"""

import base64
import configparser
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USERSTREAM = os.path.join(ROOT, "userstream")
LOCK_PATH = "/tmp/userstream-integration.lock"
sys.path.insert(0, os.path.join(ROOT, "stack", "lib"))

import us_config  # noqa: E402


class Stack:
    """The effective configuration of the stack under test, and helpers."""

    def __init__(self, env):
        self.env = env  # full process environment for subprocesses
        self.cfg = {k: v for k, v in env.items() if k.startswith("US_") or k == "PGPASSFILE"}

    def __getitem__(self, key):
        return self.cfg[key]

    def run(self, args, check=True, input=None, env=None, timeout=600):
        """Runs a command with the stack's environment; returns CompletedProcess."""
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run(args, input=input, env=e, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(
                f"{args!r} exited {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
            )
        return p

    def us(self, *args, **kw):
        """./userstream ARGS with the stack's environment."""
        return self.run([USERSTREAM, *args], **kw)

    def psql(self, role, sql, db=None, **kw):
        return self.run(
            ["psql", "-h", self["US_PG_HOST"], "-p", self["US_PG_PORT"], "-U", role,
             "-d", db or self["US_PG_DATABASE"], "-w", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
            **kw,
        )

    def cqlsh(self, *args, role="ADMIN", **kw):
        """cqlsh logged in as a role of the stack (ADMIN, WRITER, READER), from
        its credentials file; role=None: no credentials at all."""
        cred = ["--credentials", self[f"US_CASSANDRA_{role}_CREDENTIALS"]] if role else []
        return self.run(
            [os.path.join(self["US_VENV"], "bin", "cqlsh"), self["US_CASSANDRA_HOST"],
             self["US_CASSANDRA_PORT"], "--connect-timeout=30", "--request-timeout=60", *cred, *args],
            **kw,
        )

    # --- engine credentials: every client of the tests goes through these.

    def kafka_conf(self, principal="admin", **extra):
        """confluent_kafka settings for a Kafka principal (admin, relay, spark,
        console): SCRAM-SHA-512 with the password from its client file."""
        props = read_properties(self[f"US_KAFKA_{principal.upper()}_CLIENT_FILE"])
        conf = {"bootstrap.servers": self["US_KAFKA_BOOTSTRAP"], "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": props["sasl.username"],
                "sasl.password": props["sasl.password"]}
        conf.update(extra)
        return conf

    def kcat_args(self, principal="admin"):
        """kcat (Debian's librdkafka) as a principal: its client file with -F."""
        return ["kcat", "-F", self[f"US_KAFKA_{principal.upper()}_CLIENT_FILE"], "-b", self["US_KAFKA_BOOTSTRAP"]]

    def kafka_tool_config(self):
        """--command-config of Kafka's own (Java) tools as admin, written by `up`."""
        return os.path.join(self["US_HOME"], "kafka", "config", "admin-client.properties")

    def registry_headers(self, principal="admin"):
        """HTTP basic Authorization header of a registry user (admin, relay, console)."""
        with open(self[f"US_REGISTRY_{principal.upper()}_CREDENTIALS"], encoding="utf-8") as f:
            userpwd = f.readline().strip()
        return {"Authorization": "Basic " + base64.b64encode(userpwd.encode()).decode()}

    def cassandra_auth(self, role="ADMIN"):
        """A cassandra-driver auth provider for a role of the stack."""
        from cassandra.auth import PlainTextAuthProvider

        cp = configparser.RawConfigParser()
        cp.read(self[f"US_CASSANDRA_{role}_CREDENTIALS"])
        return PlainTextAuthProvider(cp.get("plain_text_auth", "username"), cp.get("plain_text_auth", "password"))


def read_properties(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, eq, val = line.strip().partition("=")
            if eq and not key.startswith("#"):
                out[key] = val
    return out


def parse_env(text):
    """Parses `./userstream env` output with the project's one reader of it."""
    return us_config.parse_env_output(text)


def effective_env(base):
    p = subprocess.run([USERSTREAM, "env"], env=base, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    env = dict(base)
    env.update(parse_env(p.stdout))
    return env


def stack_pids(home):
    """Processes whose environment carries this stack's marker (see stack/lib/util.sh)."""
    marker = f"US_STACK_HOME={home}".encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    pids.append(int(d))
        except OSError:
            continue
    return pids


def _lock():
    f = open(LOCK_PATH, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"\nwaiting for another integration stack on this machine to finish ({LOCK_PATH}) ...",
              file=sys.stderr, flush=True)
        fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _stream(args, env):
    """Runs a command with its output shown live (pytest -s) or captured."""
    return subprocess.run(args, env=env, timeout=1800).returncode


@pytest.fixture(scope="session")
def stack():
    if os.environ.get("US_TEST_USE_RUNNING") == "1":
        env = effective_env(dict(os.environ))
        s = Stack(env)
        s.us("status")
        yield s
        return

    lock = _lock()
    home = os.environ.get("US_TEST_HOME") or tempfile.mkdtemp(prefix="userstream-it-", dir="/tmp")
    os.chmod(home, 0o755)
    # A clean environment: nothing of a developer's own stack leaks in, except
    # where the engines are cached.
    base = {k: v for k, v in os.environ.items()
            if not (k.startswith("US_") or k == "PGPASSFILE") or k in ("US_CACHE", "US_CONFIG")}
    base["US_HOME"] = home
    base["US_PORT_OFFSET"] = os.environ.get("US_TEST_PORT_OFFSET", "20000")
    env = effective_env(base)
    s = Stack(env)
    try:
        rc = _stream([USERSTREAM, "up"], env)
        if rc != 0:
            pytest.exit(f"./userstream up failed (exit {rc}); logs in {home}/logs", returncode=1)
        yield s
    finally:
        # Keep the logs of the test stack for a look after the run (build-it-logs/).
        saved = os.path.join(ROOT, "build-it-logs")
        shutil.rmtree(saved, ignore_errors=True)
        if os.path.isdir(os.path.join(home, "logs")):
            shutil.copytree(os.path.join(home, "logs"), saved)
        rc = _stream([USERSTREAM, "down", "--purge"], env)
        left = stack_pids(home)
        lock.close()
        assert rc == 0, "./userstream down --purge failed"
        assert left == [], f"processes of the test stack left after down: {left}"
        assert not os.path.exists(home), f"down --purge left {home}"
