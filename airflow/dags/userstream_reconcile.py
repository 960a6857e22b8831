"""userstream_reconcile: does Cassandra hold exactly the users that staging holds?

Compares staging.users with Cassandra's users table by id set: a keyed digest per range
of the Murmur3 token ring (US_RECONCILE_RANGES ranges), then id by id in the ranges whose
digests differ. In-flight changes (past the Spark job's progress) and retired rows (fetched
before the newest retention purge's cutoff: they stay in Cassandra by design) are not
differences. Each run is recorded in ops.reconcile_runs, each difference in
ops.reconcile_diffs; the console's alert 'reconcile' shows the newest run's differences.

Repair (conf {"repair": true}, default US_RECONCILE_REPAIR, false): a user missing in
Cassandra is re-emitted through CDC (a no-op UPDATE of its staging row, ops.reconcile_reemit);
a ghost (in Cassandra, not in staging) is deleted from users and its index rows USING
TIMESTAMP the newest write time of its cells; a stale index row (users_by_email_hash or
users_by_country naming a key its users row no longer holds, as a re-snapshot leaves for a
user changed while no slot existed) is deleted USING TIMESTAMP its own write time. Without
repair, the ghosts and stale index rows older than the newest finished snapshot's epoch
(its consistent LSN * 2^20: the snapshot rewrote every staged user above it) are repaired
all the same: a re-snapshot explains them, they are not a bug to look at first. The task fails when differences remain
unrepaired. How it works: userstream_reconcile_core.py and docs/lifecycle.md.

Logins: Airflow Connections userstream_pg_ops (PostgreSQL, ops role),
userstream_cassandra_reader (console_reader: SELECT) and, for repairs only,
userstream_cassandra_repair (reconciler: SELECT+MODIFY on the three users tables).
"""

from __future__ import annotations

import os
import sys

import pendulum
from airflow.sdk import dag, get_current_context, task

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # Airflow adds its dags_folder; a DagBag of another folder does not
    sys.path.insert(0, _HERE)
import userstream_conf  # noqa: E402

CONF = userstream_conf.load()
SCHEDULE = userstream_conf.require(CONF, "US_RECONCILE_SCHEDULE")
READER_CONN_ID = "userstream_cassandra_reader"
REPAIR_CONN_ID = "userstream_cassandra_repair"


def cassandra_session(conn_id: str):
    """A cassandra-driver session on the keyspace of an Airflow Connection (generic:
    host, port, login, password, schema = keyspace)."""
    from airflow.sdk import BaseHook
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster
    from cassandra.policies import RoundRobinPolicy

    c = BaseHook.get_connection(conn_id)
    cluster = Cluster([c.host], port=int(c.port or 9042), load_balancing_policy=RoundRobinPolicy(),
                      auth_provider=PlainTextAuthProvider(c.login, c.password or ""),
                      connect_timeout=15, protocol_version=5)
    session = cluster.connect(c.schema)
    session.default_timeout = 120
    return session


def as_bool(v) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"repair must be true or false, not {v!r}")


@dag(
    dag_id="userstream_reconcile",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),  # catchup is off: only bounds backfills
    catchup=False,
    max_active_runs=1,
    tags=["userstream", "quality", "lifecycle"],
    default_args={"retries": 0},
    doc_md=__doc__,
)
def userstream_reconcile():
    @task
    def reconcile() -> dict:
        import userstream_reconcile_core as core

        ctx = get_current_context()
        conf = userstream_conf.load()
        dconf = ctx["dag_run"].conf or {}
        do_repair = as_bool(dconf.get("repair", userstream_conf.require(conf, "US_RECONCILE_REPAIR")))
        n = int(dconf.get("ranges") or userstream_conf.require(conf, "US_RECONCILE_RANGES"))
        db = userstream_conf.connect(conf)
        reader = cassandra_session(READER_CONN_ID)
        opened = []

        def writer():  # the repair login, only when something is to be repaired
            if not opened:
                opened.append(cassandra_session(REPAIR_CONN_ID))
            return opened[0]

        try:
            slot = userstream_conf.get(conf, "US_RELAY_SLOT", "userstream_relay")  # as the retention DAG
            report = core.run(db, reader, writer, n, do_repair, ctx["run_id"], slot=slot)
        finally:
            db.close()
            for s in (reader, *opened):
                s.cluster.shutdown()
        print(report)
        unrepaired = (report["missing"] + report["ghosts"] + report["stale_index"] + report["missing_index"]
                      - report["repaired"])
        if report["problems"] or unrepaired:
            raise RuntimeError(f"reconciliation: {unrepaired} difference(s) not repaired, "
                               f"problems {report['problems']}: {report}")
        return report

    reconcile()


userstream_reconcile()
