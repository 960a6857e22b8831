"""userstream-source's metrics listener (US_SOURCE_METRICS_PORT): its own
port, since every path of the API port is randomuser.me's. The counters are
checked against what the test itself asked for and got."""
import re
import socket
import subprocess
import urllib.error
import urllib.request

from test_source_util import NOW, Server, binary


def ephemeral_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_metrics_count_users_faults_and_answers():
    mport = ephemeral_port()
    with Server("--metrics-port", str(mport), "--fault-500", "0.5", "--fault-seed", "m") as s:
        users = ok = failed = 0
        for i, n in enumerate((5, 7, 1, 12, 3, 9, 4, 2)):
            status, headers, _ = s.get(f"/api/?seed=m{i}&results={n}")
            if status == 200:
                ok, users = ok + 1, users + n
            else:
                assert headers["x-userstream-fault"] == "500"
                failed += 1
        assert ok and failed  # the seed gives both kinds
        assert s.get("/metrics")[0] == 404  # the API port stays randomuser.me's
        m = scrape(mport)
        assert m["userstream_source_users_total"] == users
        assert m['userstream_source_faults_total{fault="500"}'] == failed
        assert m['userstream_source_faults_total{fault="429"}'] == 0
        assert m['userstream_source_http_requests_total{code="2xx"}'] == ok
        assert m['userstream_source_http_requests_total{code="4xx"}'] == 1
        assert m['userstream_source_http_requests_total{code="5xx"}'] == failed
        assert m["userstream_source_start_time_seconds"] > 1.7e9
        assert status_of(f"http://127.0.0.1:{mport}/health") == 200
        assert status_of(f"http://127.0.0.1:{mport}/api/") == 404


def test_a_taken_metrics_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = subprocess.run([binary(), "--port", "0", "--now", NOW, "--metrics-port", str(port)],
                           capture_output=True, timeout=30)
    assert p.returncode == 1
    assert b"US_SOURCE_METRICS_PORT" in p.stderr
