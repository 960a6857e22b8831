"""Fault injection and the rate limit of userstream-source: the failures a
loader must survive, produced on purpose and reproducibly."""
import json

import pytest

from test_source_util import Server

UH_OH = (b'{"error":"Uh oh, something has gone wrong. Please tweet us @randomapi about the '
         b'issue. Thank you."}')


def test_faults_are_off_by_default():
    with Server() as s:
        for i in range(20):
            status, headers, body = s.get(f"/api/?seed=off{i}&results=5")
            assert status == 200 and "x-userstream-fault" not in headers
            json.loads(body)


def test_500():
    with Server("--fault-500", "1") as s:
        status, headers, body = s.get("/api/?seed=x")
        assert (status, body) == (500, UH_OH)
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert headers["x-userstream-fault"] == "500"
        assert s.get("/api/2.0/")[0] == 404  # only API answers are faulted


def test_429():
    with Server("--fault-429", "1") as s:
        status, _, body = s.get("/api/?seed=x")
        assert status == 429
        assert json.loads(body)["error"].startswith("Whoa, ease up there cowboy. You've requested ")


def test_truncate_keeps_http_valid_and_breaks_the_json():
    with Server("--fault-truncate", "1") as s:
        for fmt in ("json", "csv", "xml"):
            status, headers, body = s.get(f"/api/?seed=t&results=20&format={fmt}")
            assert status == 200 and headers["x-userstream-fault"] == "truncate"
            assert int(headers["content-length"]) == len(body)
        status, headers, body = s.get("/api/?seed=t&results=20")
        with pytest.raises(ValueError):
            json.loads(body)


def test_bad_utf8():
    with Server("--fault-bad-utf8", "1") as s:
        for fmt in ("json", "pretty", "csv", "yaml", "xml"):
            status, _, body = s.get(f"/api/?seed=u&results=3&format={fmt}")
            assert status == 200
            with pytest.raises(UnicodeDecodeError):
                body.decode("utf-8")


def test_empty_results():
    with Server("--fault-empty", "1") as s:
        body = json.loads(s.get("/api/?seed=e&results=7")[2])
        assert body["results"] == [] and body["info"]["results"] == 7


def test_slow_still_answers_in_full():
    with Server("--fault-slow", "1", "--fault-slow-ms", "300") as s:
        status, headers, body = s.get("/api/?seed=s&results=5")
        assert status == 200 and headers["x-userstream-fault"] == "slow"
        assert len(json.loads(body)["results"]) == 5


def test_slow_answers_pending_at_shutdown():
    s = Server("--fault-slow", "1", "--fault-slow-ms", "600000", "--log-level", "debug")
    import threading
    got = []
    t = threading.Thread(target=lambda: got.append(s.get("/api/?seed=p", timeout=60)[0]))
    t.start()
    # Stop only once the server has the request and holds its answer back: it
    # logs each answer (at debug level) when it is computed, before the delay.
    for line in iter(s.proc.stderr.readline, b""):
        if b"fault slow" in line:
            break
    else:
        raise AssertionError("the server exited before it logged the delayed answer")
    assert s.stop() == 0
    t.join(60)
    assert got == [200]  # a delayed answer is still given when stopping


def sequence(seed, n=40):
    args = ["--fault-500", "0.25", "--fault-429", "0.1", "--fault-truncate", "0.1",
            "--fault-empty", "0.1", "--fault-seed", seed]
    with Server(*args) as s:
        out = []
        for i in range(n):
            status, headers, _ = s.get(f"/api/?seed=q{i % 4}&results=3")
            out.append((status, headers.get("x-userstream-fault", "none")))
        return out


def test_seeded_faults_are_reproducible():
    a, b = sequence("alpha"), sequence("alpha")
    assert a == b
    kinds = {k for _, k in a}
    assert {"none", "500"} <= kinds and len(kinds) >= 3
    assert sequence("beta") != a
    # A retried request is not doomed: some attempt of each request succeeds.
    for q in range(4):
        assert any(k == "none" for i, (_, k) in enumerate(a) if i % 4 == q)


def test_rate_limit_like_upstream():
    with Server("--rate-limit", "10") as s:
        assert s.get("/api/?results=6")[0] == 200
        assert s.get("/api/?results=6")[0] == 200  # 6 < 10: still served, now 12
        status, _, body = s.get("/api/?results=1")
        assert status == 429
        assert b"You've requested 12 users in the last minute" in body
        # Counted per client address, the forwarded one first (cf-connecting-ip, ...).
        assert s.get("/api/?results=1", headers={"X-Forwarded-For": "10.9.9.9"})[0] == 200
        assert s.get("/api/?results=1", headers={"CF-Connecting-IP": "10.8.8.8"})[0] == 200
        # Checked before the version, as upstream.
        assert s.get("/api/9.9/")[0] == 429


def test_rate_limit_window_resets():
    import time
    with Server("--rate-limit", "5", "--rate-window", "1") as s:
        assert s.get("/api/?results=5")[0] == 200
        assert s.get("/api/?results=5")[0] == 429
        deadline = time.monotonic() + 30
        status = 429
        while status == 429 and time.monotonic() < deadline:
            time.sleep(0.2)
            status = s.get("/api/?results=1")[0]
        assert status == 200
