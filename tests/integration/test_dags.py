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
