"""userstream_canary: proves this Airflow can schedule and run tasks end to end.

Two TaskFlow tasks pass a value through XCom. It touches no engine of the
pipeline, so when it fails the problem is Airflow itself (scheduler, executor,
execution API, metadata database), not the data path. Never scheduled: it runs
when triggered (the foundation integration test does, and so can a person
checking a deployment: `stack/airflow/airflow dags trigger userstream_canary`).
"""

from datetime import datetime

from airflow.sdk import dag, task


@dag(
    dag_id="userstream_canary",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["userstream", "foundation"],
)
def userstream_canary():
    @task
    def emit() -> int:
        return 21

    @task
    def check(value: int) -> int:
        if value != 21:
            raise ValueError(f"XCom carried {value!r}, expected 21")
        return value * 2

    check(emit())


userstream_canary()
