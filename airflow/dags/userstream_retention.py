"""userstream_retention: keep staging bounded (docs/lifecycle.md).

Removes from staging.users the rows fetched more than US_STAGING_RETENTION ago whose insert
the Spark job has already written to Cassandra (its progress in ops.stream_progress), and
from staging.rejects the rows fetched more than US_STAGING_RETENTION ago. In batches of
US_STAGING_PURGE_BATCH rows, one transaction each (ops.staging_purge_batch, 040_lifecycle.sql).

A purge is not a user deletion: each purge transaction carries the logical decoding message
'userstream.purge', and the relay does not publish its deletes. The users stay in Kafka
(compacted topic) and Cassandra. The second task checks that the relay's slot has moved past
the purge (so the purge does not make PostgreSQL keep WAL).
"""

from __future__ import annotations

import os
import sys
import time

import pendulum
from airflow.sdk import dag, get_current_context, task

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # Airflow adds its dags_folder; a DagBag of another folder does not
    sys.path.insert(0, _HERE)
import userstream_conf  # noqa: E402

CONF = userstream_conf.load()
SCHEDULE = userstream_conf.get(CONF, "US_RETENTION_SCHEDULE", "@hourly")
MAX_BATCHES = 100_000  # a bound on one run: 5000 rows x 100,000 = 500M rows

PURGE = "SELECT users, rejects, wal_lsn::text FROM ops.staging_purge_batch(%s::interval, %s, %s)"
SLOT = "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots WHERE slot_name = %s"


@dag(
    dag_id="userstream_retention",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),  # catchup is off: only bounds backfills
    catchup=False,
    max_active_runs=1,
    tags=["userstream", "lifecycle"],
    default_args={"retries": 0},
    doc_md=__doc__,
)
def userstream_retention():
    @task
    def purge() -> dict:
        ctx = get_current_context()
        conf = userstream_conf.load()
        retention = (ctx["dag_run"].conf or {}).get("retention") or userstream_conf.get(
            conf, "US_STAGING_RETENTION", "7 days")
        batch = int(userstream_conf.get(conf, "US_STAGING_PURGE_BATCH", "5000"))
        by = f"userstream_retention {ctx['run_id']}"
        users = rejects = batches = 0
        last_lsn = None
        db = userstream_conf.connect(conf)
        try:
            with db.cursor() as cur:
                while batches < MAX_BATCHES:
                    cur.execute(PURGE, (retention, batch, by))
                    u, r, lsn = cur.fetchone()
                    db.commit()  # one transaction per batch: bounded WAL and locks
                    batches += 1
                    users, rejects, last_lsn = users + u, rejects + r, lsn
                    if u + r == 0:
                        break
        finally:
            db.close()
        report = {"retention": retention, "users": users, "rejects": rejects,
                  "batches": batches, "last_lsn": last_lsn}
        print(report)
        return report

    @task
    def slot_followed(report: dict) -> dict:
        """The relay confirms the purge transactions (nothing to publish, but their
        LSN): the slot passes the last one, so no WAL is kept because of the purge."""
        conf = userstream_conf.load()
        slot = userstream_conf.get(conf, "US_RELAY_SLOT", "userstream_relay")
        wait_s = float(userstream_conf.get(conf, "US_RETENTION_SLOT_WAIT_S", "300"))
        deadline = time.monotonic() + wait_s
        db = userstream_conf.connect(conf)
        try:
            with db.cursor() as cur:
                while True:
                    cur.execute(SLOT, (report["last_lsn"], slot))
                    row = cur.fetchone()
                    db.commit()
                    if row is None:
                        return {"slot": slot, "exists": False}
                    if row[0]:
                        return {"slot": slot, "passed": report["last_lsn"]}
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"slot {slot} has not passed the purge at "
                                           f"{report['last_lsn']} after {wait_s} s: is the relay running?")
                    time.sleep(5)
        finally:
            db.close()

    slot_followed(purge())


userstream_retention()
