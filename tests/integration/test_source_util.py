"""Helpers for the userstream-source integration tests: find the built
binary, start it on a free port in 18100-18199, talk HTTP with the standard
library. No tests here."""
import http.client
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = REPO.parent / "shared" / "randomuser-golden"
NOW = "2026-11-24"  # the date the golden ages were computed on


def binary():
    env = os.environ.get("US_SOURCE_BIN")
    if env:
        return env
    # The sanitizer build first: these tests then also check memory safety
    # (and leaks, through the exit status) of every request they make.
    preferred = [REPO / d / "src/source/userstream-source" for d in ("build-asan", "build")]
    found = [p for p in preferred if p.exists()] or sorted(
        REPO.glob("build*/src/source/userstream-source"), key=lambda p: p.stat().st_mtime,
        reverse=True)
    if not found:
        pytest.skip("userstream-source is not built (cmake --build build), or set US_SOURCE_BIN")
    return str(found[0])


def free_port():
    for port in range(18100, 18200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port in 18100-18199")


class Server:
    """userstream-source on a free loopback port; stop() checks a clean exit."""

    def __init__(self, *args, env=None):
        self.port = free_port()
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("US_SOURCE_") and k != "US_SOURCE_BIN":
                del e[k]
        e.pop("US_CONFIG", None)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [binary(), "--port", str(self.port), "--metrics-port", "0", "--now", NOW, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.proc.stderr.read().decode())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("server did not start listening")

    def request(self, path, method="GET", headers=None, body=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def raw(self, data, timeout=30):
        """Sends bytes as they are; returns (status, body) of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body

    def get(self, path, **kw):
        return self.request(path, **kw)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        rc = self.stop()
        assert rc == 0, f"userstream-source exited {rc}"
