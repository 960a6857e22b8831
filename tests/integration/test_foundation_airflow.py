"""Airflow 3: the api-server answers its health endpoint with every component
healthy, the DAGs import, and the canary DAG passes `airflow dags test` and
runs to success under the supervised scheduler (LocalExecutor)."""

import json
import os
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AIRFLOW = os.path.join(ROOT, "stack", "airflow", "airflow")
DAG = "userstream_canary"


def airflow(stack, *args, **kw):
    return stack.run([AIRFLOW, *args], **kw)


def cli_json(text):
    """The JSON document of a CLI call whose stdout may also carry log lines."""
    starts = [i for i, line in enumerate(text.splitlines()) if line.startswith(("[", "{"))]
    assert starts, text
    return json.loads("\n".join(text.splitlines()[starts[0]:]))


def airflow_db(stack, sql):
    """A query on the Airflow metadata database as its own role (pgpass)."""
    return stack.psql(stack["US_PG_AIRFLOW_USER"], sql, db=stack["US_PG_AIRFLOW_DATABASE"]).stdout.strip()


def wait_for(stack, sql, wanted, limit=300):
    """Polls SQL until it returns one of WANTED; the limit only stops a hang."""
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    deadline = time.monotonic() + limit
    while True:
        got = airflow_db(stack, sql)
        if got in wanted:
            return got
        assert time.monotonic() < deadline, f"{sql!r} still returns {got!r}, not one of {wanted}"
        time.sleep(2)


def test_api_server_health(stack):
    with urllib.request.urlopen(f"{stack['US_AIRFLOW_URL']}/api/v2/monitor/health", timeout=10) as r:
        assert r.status == 200
        doc = json.load(r)
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert doc[component]["status"] == "healthy", doc


def test_every_dag_imports(stack):
    errors = cli_json(airflow(stack, "dags", "list-import-errors", "--local", "-o", "json").stdout)
    assert errors == []


def test_canary_passes_dags_test(stack):
    p = airflow(stack, "dags", "test", DAG, timeout=300)
    assert f"DagRun Finished: dag_id={DAG}" in p.stdout + p.stderr
    assert "state=success" in p.stdout + p.stderr


def test_canary_runs_under_the_scheduler(stack):
    # The dag-processor stores the DAG once it has parsed airflow/dags.
    wait_for(stack, f"SELECT 1 FROM dag WHERE dag_id = '{DAG}'", "1")
    airflow(stack, "dags", "unpause", DAG)
    run_id = f"it-{uuid.uuid4().hex[:8]}"
    airflow(stack, "dags", "trigger", DAG, "--run-id", run_id)
    state = wait_for(stack, f"SELECT state FROM dag_run WHERE dag_id = '{DAG}' AND run_id = '{run_id}'",
                     ("success", "failed"))
    assert state == "success"
    tasks = airflow_db(stack, f"SELECT task_id || '=' || state FROM task_instance "
                              f"WHERE dag_id = '{DAG}' AND run_id = '{run_id}' ORDER BY task_id")
    assert tasks.splitlines() == ["check=success", "emit=success"]
