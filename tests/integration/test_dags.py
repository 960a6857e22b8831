"""DagBag test: every DAG in airflow/dags imports cleanly, and importing touches neither the
network nor a database (no socket is even opened)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "airflow" / "dags"


def dag_bag():
    """The project's DAGs only (Airflow 3's DagBag reads load_examples from its config)."""
    import inspect

    models = pytest.importorskip("airflow.models")
    kwargs = {"dag_folder": str(DAGS)}
    if "include_examples" in inspect.signature(models.DagBag.__init__).parameters:
        kwargs["include_examples"] = False
    return models.DagBag(**kwargs)


@pytest.fixture(autouse=True)
def no_examples(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a DAG file opened a network connection at import time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_every_dag_imports_without_network(no_network, monkeypatch, tmp_path):
    # a database that does not exist: any access at import time would fail
    monkeypatch.setenv("US_PG_PORT", "1")
    bag = dag_bag()
    assert bag.import_errors == {}
    assert {"userstream_ingest", "userstream_quality"} <= set(bag.dag_ids)


def test_ingest_dag_shape():
    dag = dag_bag().dags["userstream_ingest"]  # get_dag() would query the metadata DB
    assert not dag.catchup
    task = dag.get_task("load")
    assert task.retries >= 1 and task.retry_exponential_backoff


def test_seed_is_derived_from_the_interval():
    pendulum = pytest.importorskip("pendulum")
    pytest.importorskip("airflow.sdk")
    import sys

    sys.path.insert(0, str(DAGS))
    try:
        import userstream_ingest as ingest
    finally:
        sys.path.remove(str(DAGS))
    a = pendulum.datetime(2026, 3, 1, 12, 5, tz="UTC")
    assert ingest.seed_for(a) == ingest.seed_for(a.in_timezone("Europe/Paris"))
    assert ingest.seed_for(a) != ingest.seed_for(a.add(minutes=1))
    assert ingest.plan(1000, 5000) == (1000, 1)
    assert ingest.plan(12000, 5000) == (5000, 3)
    assert ingest.plan(10, 3) == (3, 4)


# --- `airflow dags test` of both DAGs against the real PostgreSQL and source ---------------


@pytest.fixture(scope="module")
def airflow_env(stack, tmp_path_factory):
    """The Airflow CLI with a throw-away metadata DB (SQLite), the project's DAGs, the
    stack's settings and a userstream-source."""
    import shutil
    import subprocess
    import sys

    from loadtest_support import ingest_for

    candidates = [shutil.which("airflow"), str(Path(sys.executable).parent / "airflow")]
    if stack.env.get("US_VENV"):
        candidates.append(str(Path(stack.env["US_VENV"]) / "bin" / "airflow"))
    cli = next((c for c in candidates if c and Path(c).exists()), None)
    if not cli:
        pytest.skip("the airflow CLI is not installed")
    home = tmp_path_factory.mktemp("airflow-home")
    with ingest_for(stack) as ing:
        env = dict(ing.env)
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
            US_LOAD_URL=ing.url,
            US_INGEST_USERS="300",
            US_INGEST_RESULTS="100",
            US_INGEST_RETRIES="0",
            # The Connections `up` makes in the stack's Airflow, for this private one
            # (a test's environment only; the stack never uses AIRFLOW_CONN_*).
            **{f"AIRFLOW_CONN_{cid.upper()}": conn_json(stack, role_key) for cid, role_key in
               (("userstream_pg_loader", "US_PG_LOADER_USER"), ("userstream_pg_ops", "US_PG_OPS_USER"))},
        )
        subprocess.run([cli, "db", "migrate"], env=env, check=True, capture_output=True,
                       timeout=600)
        yield cli, env, ing


def conn_json(stack, role_key):
    import json
    import os

    role = stack[role_key]
    with open(os.path.join(stack["US_SECRETS_DIR"], f"pg-{role}"), encoding="utf-8") as f:
        password = f.read().strip()
    return json.dumps({"conn_type": "postgres", "host": stack["US_PG_HOST"], "port": int(stack["US_PG_PORT"]),
                       "schema": stack["US_PG_DATABASE"], "login": role, "password": password})


def dags_test(cli, env, dag_id, logical_date, conf=None):
    import json
    import subprocess

    args = [cli, "dags", "test", dag_id, logical_date]
    if conf:
        args += ["-c", json.dumps(conf)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)


def random_interval() -> tuple[str, str]:
    """A past minute after the DAGs' start_date that no earlier test used: (logical date, the
    seed the DAG derives). Tasks get no instance for dates before start_date."""
    import random

    import pendulum

    start = pendulum.datetime(2021, 1, 1, tz="UTC").add(minutes=random.randrange(2_500_000))
    return start.isoformat(), "userstream-" + start.strftime("%Y%m%dT%H%M%SZ")


def ingest_and_check(cli, env, ing, want_staged):
    date, seed = random_interval()
    r = dags_test(cli, env, "userstream_ingest", date)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = ing.sql(f"SELECT run_id FROM ops.load_runs WHERE source_seed = '{seed}'")
    assert len(runs) == 1, f"the DAG run recorded {len(runs)} loader runs of seed {seed}:\n{r.stdout[-3000:]}"
    run_id = runs[0][0]
    q = dags_test(cli, env, "userstream_quality", date, {"run_id": run_id})
    assert q.returncode == 0, q.stdout[-3000:] + q.stderr[-3000:]
    row = ing.sql(
        "SELECT ok, fetched, staged, duplicates, rejected, staged_in_table FROM ops.ingest_quality"
        f" WHERE run_id = '{run_id}' ORDER BY check_id DESC LIMIT 1"
    )[0]
    assert row[0] == "t", row
    fetched, staged, dups, rejected, in_table = map(int, row[1:])
    assert fetched == staged + dups + rejected and in_table == staged
    if want_staged is not None:
        assert staged == want_staged
    # the same interval again (a rerun or backfill) stages nothing new
    r = dags_test(cli, env, "userstream_ingest", date)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    total = int(ing.one(f"SELECT count(*) FROM staging.users WHERE source_seed = '{seed}'"))
    assert total == staged
    return run_id


def test_dags_test_clean(airflow_env):
    cli, env, ing = airflow_env
    ingest_and_check(cli, env, ing, want_staged=300)


def test_dags_test_with_faults(airflow_env):
    from loadtest_support import FAULTS, run_source

    cli, env, ing = airflow_env
    with run_source(ing.env, *FAULTS) as url:
        fenv = dict(env, US_LOAD_URL=url, US_INGEST_RESULTS="25", US_LOAD_MAX_ATTEMPTS="12", US_LOAD_MAX_RETRIES="1000",
                    US_LOAD_BACKOFF_BASE_MS="20", US_LOAD_BACKOFF_CAP_MS="200",
                    US_LOAD_RETRY_AFTER_MAX_S="1")
        ingest_and_check(cli, fenv, ing, want_staged=None)


def test_quality_marks_a_killed_loader_run_failed_and_reports_it(airflow_env):
    """Issue 12 item 11: a loader killed with kill -9 never writes its end, so its run
    stayed 'running' in ops.load_runs and the scheduled quality check skipped its
    ingestion run forever. The check now marks it failed once it has made no progress
    for US_QUALITY_STALE_RUN_S, counts what it committed, and fails loudly naming it."""
    import os
    import signal
    import subprocess
    import time

    from loadtest_support import loader_bin, run_source, unique

    cli, env, ing = airflow_env
    run_id = unique("killed")
    # every page answered slowly, so the loader is still at work when it is killed
    with run_source(ing.env, "--fault-slow", "1", "--fault-slow-ms", "1500") as url:
        lenv = ing.loader_env(url, US_LOAD_CONCURRENCY="1")
        p = subprocess.Popen([loader_bin(lenv), "--seed", run_id, "--pages", "200", "--results", "20",
                              "--run-id", run_id], env=lenv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while int(ing.one("SELECT count(*) FROM ops.load_batches b JOIN ops.load_runs r USING (load_id) "
                              f"WHERE r.run_id = '{run_id}'")) < 2:  # fmt: skip
                assert p.poll() is None and time.monotonic() < deadline, "the loader ended before it was killed"
                time.sleep(0.2)
        finally:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    assert ing.sql(f"SELECT status, finished_at IS NULL FROM ops.load_runs WHERE run_id = '{run_id}'") == [
        ["running", "t"]]
    time.sleep(2)  # older than the timeout the check is given below
    date, _ = random_interval()
    q = dags_test(cli, dict(env, US_QUALITY_STALE_RUN_S="1"), "userstream_quality", date)  # the scheduled check
    assert q.returncode != 0, "a killed loader run is a failed check"
    assert "marked failed" in q.stdout + q.stderr
    run = ing.sql("SELECT status, exit_code IS NULL, pages_done, fetched, staged + duplicates + rejected, "
                  f"load_id FROM ops.load_runs WHERE run_id = '{run_id}'")  # fmt: skip
    status, no_code, pages_done, fetched, accounted, load_id = run[0]
    assert (status, no_code) == ("failed", "t") and int(pages_done) >= 2 and fetched == accounted
    committed = ing.one(f"SELECT sum(fetched) FROM ops.load_batches WHERE load_id = {load_id}")
    assert fetched == committed, "the run's totals are those of the pages it committed"
    rep = ing.sql("SELECT ok, fetched, staged_in_table, array_to_string(problems, ' | ') FROM ops.ingest_quality "
                  f"WHERE run_id = '{run_id}' ORDER BY check_id DESC LIMIT 1")  # fmt: skip
    assert rep, "the killed run was checked, not skipped"
    ok, rfetched, in_table, problems = rep[0]
    assert ok == "f" and rfetched == fetched and f"loader run(s) {load_id} stopped without an end" in problems
    assert "still running" not in problems
