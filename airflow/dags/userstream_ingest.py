"""userstream_ingest: every interval, load a fixed number of users into staging.

Each run derives its seed from its data interval, so a rerun, a cleared task or a backfill
of the same interval asks the API for exactly the same users, and the loader's
INSERT ... ON CONFLICT DO NOTHING stages nothing twice. The loader's JSON summary is the
task's return value (XCom); a non-zero exit code fails the task, which Airflow retries with
exponential backoff (the retry is idempotent too).

Settings (userstream.conf / environment):
  US_INGEST_SCHEDULE   cron, default every minute
  US_INGEST_USERS      users per run, default 1000
  US_INGEST_RESULTS    users per page (<= 5000), default 1000
  US_INGEST_RETRIES    task retries, default 3
  US_LOAD_BIN          the loader (default: userstream-load on PATH or build/src/load/)
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # Airflow adds its dags_folder; a DagBag of another folder does not
    sys.path.insert(0, _HERE)
import userstream_conf  # noqa: E402

CONF = userstream_conf.load()
SCHEDULE = userstream_conf.require(CONF, "US_INGEST_SCHEDULE")
USERS = int(userstream_conf.require(CONF, "US_INGEST_USERS"))
RESULTS = min(5000, int(userstream_conf.require(CONF, "US_INGEST_RESULTS")))
RETRIES = int(userstream_conf.require(CONF, "US_INGEST_RETRIES"))


def seed_for(interval_start: pendulum.DateTime) -> str:
    """The API seed of one data interval: stable across reruns and backfills."""
    return "userstream-" + interval_start.in_timezone("UTC").strftime("%Y%m%dT%H%M%SZ")


def plan(users: int, results: int) -> tuple[int, int]:
    """(results per page, pages) for a number of users."""
    per_page = max(1, min(results, users))
    return per_page, max(1, math.ceil(users / per_page))


def run_loader(conf: dict[str, str], seed: str, pages: int, results: int, run_id: str) -> dict:
    """Runs userstream-load; returns its summary or raises with what went wrong."""
    env = dict(os.environ)
    env.update({k: v for k, v in conf.items() if k.startswith("US_")})
    env.update(
        US_LOAD_SEED=seed,
        US_LOAD_PAGES=str(pages),
        US_LOAD_RESULTS=str(results),
        US_LOAD_FIRST_PAGE="1",
        US_LOAD_RUN_ID=run_id,
        US_LOAD_FOLLOW="false",
    )
    # The loader's password only, from the Airflow Connection (Airflow's processes
    # hold the airflow role's file): a private 0600 pgpass file for this run.
    with userstream_conf.pgpass_env(userstream_conf.LOADER_CONN_ID) as login:
        env.update(login)
        proc = subprocess.run(
            [userstream_conf.loader_binary(conf)], env=env, capture_output=True, text=True, check=False
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-20:])
        raise RuntimeError(
            f"userstream-load exited {proc.returncode}: {json.dumps(summary)}\n{tail}"
        )
    return summary


@dag(
    dag_id="userstream_ingest",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),  # catchup is off: only bounds backfills
    catchup=False,
    max_active_runs=1,
    tags=["userstream", "ingestion"],
    default_args={
        "retries": RETRIES,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=5),
    },
    doc_md=__doc__,
)
def userstream_ingest():
    @task
    def load() -> dict:
        ctx = get_current_context()
        conf = userstream_conf.load()
        # manual runs in Airflow 3 may have no data interval or logical date
        start = (
            ctx.get("data_interval_start") or ctx.get("logical_date") or ctx["dag_run"].run_after
        )
        per_page, pages = plan(USERS, RESULTS)
        summary = run_loader(conf, seed_for(start), pages, per_page, ctx["run_id"])
        print(json.dumps(summary))
        return summary

    load()


userstream_ingest()
