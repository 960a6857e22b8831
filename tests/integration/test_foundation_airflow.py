"""Airflow 3: the api-server answers its health endpoint with every component
healthy, the DAGs import, and the canary DAG passes `airflow dags test` and
runs to success under the supervised scheduler (LocalExecutor)."""

import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest

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


def test_login_with_the_generated_password_and_no_secret_in_logs(stack):
    secrets = stack["US_SECRETS_DIR"]
    with open(os.path.join(secrets, "airflow-passwords.json")) as f:
        password = json.load(f)["admin"]
    url = stack["US_AIRFLOW_URL"]
    body = json.dumps({"username": "admin", "password": password}).encode()
    req = urllib.request.Request(f"{url}/auth/token", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        token = json.load(r)["access_token"]
    req = urllib.request.Request(f"{url}/api/v2/dags/{DAG}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert json.load(r)["dag_id"] == DAG
    # a wrong password is refused
    bad = json.dumps({"username": "admin", "password": password + "x"}).encode()
    req = urllib.request.Request(f"{url}/auth/token", data=bad, headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401

    values = [password]
    for name in ("airflow-fernet-key", "airflow-api-secret-key", "airflow-jwt-secret", "pg-airflow"):
        with open(os.path.join(secrets, name)) as f:
            values.append(f.read().strip())
    # the supervisor logs of the Airflow services, and Airflow's own (tasks, dag-processor)
    paths = [os.path.join(stack["US_LOG_DIR"], n) for n in os.listdir(stack["US_LOG_DIR"]) if n.startswith("airflow")]
    for d, _, files in os.walk(os.path.join(stack["US_HOME"], "airflow", "logs")):
        paths += [os.path.join(d, n) for n in files]
    assert paths
    for path in paths:
        with open(path, errors="replace") as f:
            text = f.read()
        for v in values:
            assert v not in text, f"a secret appears in {path}"
