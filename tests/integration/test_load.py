"""userstream-load against the real PostgreSQL of the stack and a real userstream-source
(see loadtest_support.py); the fault tests start a second source with every fault on."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from loadtest_support import FAULTS, free_port, ingest_for, loader_bin, run_source, unique


@pytest.fixture(scope="module")
def ing(stack):
    with ingest_for(stack) as ingest:
        yield ingest


def accounting(ing, run_id: str) -> dict:
    """The run's figures from ops and from the tables themselves."""
    b = ing.sql(
        "SELECT coalesce(sum(b.fetched),0), coalesce(sum(b.staged),0), coalesce(sum(b.duplicates),0),"
        " coalesce(sum(b.rejected),0), count(b.page) FILTER (WHERE b.page_rejected), count(b.page)"
        " FROM ops.load_runs r LEFT JOIN ops.load_batches b USING (load_id)"
        f" WHERE r.run_id = '{run_id}'"
    )[0]
    names = ("fetched", "staged", "duplicates", "rejected", "pages_rejected", "pages")
    a = dict(zip(names, map(int, b)))
    a["users_rows"] = int(ing.one(f"SELECT count(*) FROM staging.users WHERE run_id = '{run_id}'"))
    r = ing.sql(
        "SELECT count(*) FILTER (WHERE record_index IS NOT NULL), count(*) FILTER (WHERE record_index IS NULL)"
        f" FROM staging.rejects WHERE run_id = '{run_id}'"
    )[0]
    a["record_rejects"], a["page_rejects"] = int(r[0]), int(r[1])
    return a


def assert_accounted(ing, run_id: str, pages: int):
    a = accounting(ing, run_id)
    assert a["fetched"] == a["staged"] + a["duplicates"] + a["rejected"], a
    assert a["users_rows"] == a["staged"], a
    assert a["record_rejects"] == a["rejected"], a
    assert a["page_rejects"] == a["pages_rejected"], a
    assert a["pages"] == pages, a  # every page committed: loaded or rejected whole
    return a


def test_load_and_rerun_adds_nothing(ing):
    seed, run1, run2 = unique("it-seed"), unique("it-run"), unique("it-run")
    rc, s, err = ing.load("--seed", seed, "--pages", "3", "--results", "200", "--run-id", run1)
    assert rc == 0, err
    assert (s["fetched"], s["staged"], s["duplicates"], s["rejected"]) == (600, 600, 0, 0)
    assert s["status"] == "ok" and s["pages_loaded"] == 3
    assert_accounted(ing, run1, 3)
    rc, s, err = ing.load("--seed", seed, "--pages", "3", "--results", "200", "--run-id", run2)
    assert rc == 0, err
    assert (s["fetched"], s["staged"], s["duplicates"]) == (600, 0, 600)
    assert int(ing.one(f"SELECT count(*) FROM staging.users WHERE source_seed = '{seed}'")) == 600
    runs = ing.sql(f"SELECT status, staged, duplicates FROM ops.load_runs WHERE run_id IN ('{run1}', '{run2}') ORDER BY load_id")
    assert runs == [["ok", "600", "0"], ["ok", "0", "600"]]


def test_rows_match_the_api_and_keep_no_credentials(ing):
    seed, run = unique("it-cred"), unique("it-run")
    rc, s, err = ing.load("--seed", seed, "--first-page", "2", "--pages", "1", "--results", "50", "--run-id", run)
    assert rc == 0, err
    api = ing.page(seed, 2, 50)["results"]
    rows = {
        r[0]: r
        for r in ing.sql(
            "SELECT user_id, email, first_name, street_number, postcode, dob, source_seed, source_page,"
            " source_url, row_to_json(u)::text"
            f" FROM staging.users u WHERE run_id = '{run}'"
        )
    }
    assert len(rows) == 50
    for user in api:
        row = rows[user["login"]["uuid"]]
        assert row[1] == user["email"] and row[2] == user["name"]["first"]
        assert row[3] == str(user["location"]["street"]["number"])
        assert row[4] == str(user["location"]["postcode"])
        assert row[6] == seed and row[7] == "2"
        assert f"seed={seed}" in row[8] and "page=2" in row[8]
        for key in ("password", "salt", "md5", "sha1", "sha256"):
            value = user["login"][key]
            assert f'"{key}"' not in row[9]
            if len(value) >= 8:
                assert value not in row[9]
    columns = ing.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging'"
        " AND column_name ~ '(password|salt|md5|sha)'"
    )
    assert columns == []


def test_url_credentials_are_not_stored(ing):
    seed, run = unique("it-url"), unique("it-run")
    url = ing.url.replace("://", "://someone:hunter2secret@", 1)
    rc, s, err = ing.load("--seed", seed, "--results", "5", "--run-id", run, url=url)
    assert rc == 0, err
    assert "hunter2secret" not in err
    urls = ing.sql(f"SELECT DISTINCT source_url FROM staging.users WHERE run_id = '{run}'")
    assert len(urls) == 1 and "hunter2secret" not in urls[0][0] and "someone" not in urls[0][0]
    assert "hunter2secret" not in ing.one(f"SELECT source_url FROM ops.load_runs WHERE run_id = '{run}'")


def test_usage_and_database_errors(ing):
    rc, s, err = ing.load("--pages", "0")
    assert rc == 2 and "Try" in err
    rc, s, err = ing.load("--rate", "5")
    assert rc == 2
    # an 18-character seed is 16 characters + a nationality index for the API:
    # one that is not an index fails every request, so it is refused up front ...
    rc, s, err = ing.load("--seed", "bench-3f9a2b7c1d4e", "--pages", "1")
    assert rc == 2 and "nationality index" in err, err
    # ... and one that is one is an ordinary seed (users of that nationality)
    seed18 = unique("seed18")[:16] + "0e"  # 18 characters; 0x0e: a nationality index
    rc, s, err = ing.load("--seed", seed18, "--pages", "1", "--results", "5")
    assert rc == 0 and s["staged"] == 5, err
    rc, s, err = ing.load("--seed", unique("it"), "--results", "5", US_PG_PORT="1",
                          US_LOAD_CONNECT_TIMEOUT_S="2")
    assert rc == 3 and s["status"] == "failed"


def test_unreachable_source_rejects_pages(ing):
    seed, run = unique("it-down"), unique("it-run")
    url = f"http://127.0.0.1:{free_port()}/api/1.4/"
    rc, s, err = ing.load("--seed", seed, "--pages", "2", "--results", "5", "--run-id", run,
                            "--max-attempts", "2", "--backoff-base", "1", url=url)
    assert rc == 4 and s["status"] == "partial"
    assert s["pages_rejected"] == 2 and s["retries"] == 2 and s["fetched"] == 0
    a = assert_accounted(ing, run, 2)
    assert a["page_rejects"] == 2
    reasons = ing.sql(f"SELECT reason FROM staging.rejects WHERE run_id = '{run}'")
    assert all(r[0].startswith("fetch: ") for r in reasons)


def test_follow_stops_at_max_pages_and_on_sigterm(ing):
    run = unique("it-follow")
    rc, s, err = ing.load("--follow", "--max-pages", "3", "--results", "20", "--run-id", run)
    assert rc == 0, err
    assert s["pages_loaded"] == 3 and s["staged"] == 60
    run2 = unique("it-follow")
    env = ing.loader_env()
    proc = subprocess.Popen([loader_bin(env), "--follow", "--rate", "50", "--results", "10",
                             "--run-id", run2], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        for _ in range(600):  # wait for the first committed page, not for a time
            if ing.one(f"SELECT count(*) FROM ops.load_batches b JOIN ops.load_runs r USING (load_id) WHERE r.run_id = '{run2}'") != "0":
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, errs = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, errs
    pages = int(ing.one(f"SELECT pages_done FROM ops.load_runs WHERE run_id = '{run2}'"))
    assert pages >= 1
    assert_accounted(ing, run2, pages)
    assert ing.one(f"SELECT status FROM ops.load_runs WHERE run_id = '{run2}'") == "ok"


@pytest.fixture(scope="module")
def fault_url(ing):
    with run_source(ing.env, *FAULTS) as url:
        yield url


def test_faults_every_record_accounted(ing, fault_url):
    seed, run = unique("it-fault"), unique("it-run")
    rc, s, err = ing.load("--seed", seed, "--pages", "30", "--results", "100", "--run-id", run,
                            "--max-attempts", "10", "--max-retries", "1000", "--backoff-base", "20",
                            "--backoff-cap", "200", "--retry-after-max", "1", url=fault_url)
    assert rc in (0, 4), err
    assert s["retries"] > 0  # the faults did happen
    a = assert_accounted(ing, run, 30)
    assert a["fetched"] + 100 * a["pages_rejected"] >= 30 * 100 - 100 * s["short_pages"]
    # a rerun of the same seed and pages against the clean source adds only what was missing
    rc2, s2, err2 = ing.load("--seed", seed, "--pages", "30", "--results", "100", "--run-id", unique("it-run"))
    assert rc2 == 0, err2
    assert s2["staged"] + s2["duplicates"] == 3000
    assert int(ing.one(f"SELECT count(*) FROM staging.users WHERE source_seed = '{seed}'")) == 3000


def test_a_rerun_stores_each_record_reject_once(ing):
    """Issue 12 item 11: a rerun of an ingestion run (the task retried after its loader
    was killed) loads the same pages again. Its users were duplicates already; its record
    rejects were inserted a second time. Now each is stored once, and the rerun counts it
    as a duplicate, so fetched = staged + duplicates + rejected still holds per page."""
    import http.server
    import json
    import threading
    import urllib.request
    from urllib.parse import urlsplit

    base = urlsplit(ing.url)

    class OneBadRecord(http.server.BaseHTTPRequestHandler):
        """The clean source's page with its first user's email broken: a record reject
        that is the same in every fetch of the page."""

        def do_GET(self):  # noqa: N802 - http.server's name
            with urllib.request.urlopen(f"{base.scheme}://{base.netloc}{self.path}", timeout=30) as r:
                doc = json.loads(r.read())
            doc["results"][0]["email"] = "not an email"
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer((ing.env["US_BIND"], 0), OneBadRecord)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://{ing.env['US_BIND']}:{srv.server_address[1]}{base.path or '/'}"
        seed, run = unique("it-seed"), unique("it-rerun")
        args = ("--seed", seed, "--pages", "2", "--results", "50", "--run-id", run)
        rc, s, err = ing.load(*args, url=url)
        assert rc == 0, err
        assert (s["fetched"], s["staged"], s["duplicates"], s["rejected"]) == (100, 98, 0, 2)
        rc, s, err = ing.load(*args, url=url)  # the same run again
        assert rc == 0, err
        assert (s["fetched"], s["staged"], s["duplicates"], s["rejected"]) == (100, 0, 100, 0)
    finally:
        srv.shutdown()
        srv.server_close()
    a = assert_accounted(ing, run, 4)  # both runs' pages; rejects in the table = rejected
    assert a["record_rejects"] == 2 and a["rejected"] == 2
