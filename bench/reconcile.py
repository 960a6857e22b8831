"""bench/reconcile.py: the runtime of the reconciliation (DAG userstream_reconcile,
docs/lifecycle.md) on N users, on the running stack.

    ./userstream up && ./userstream restart relay spark_job   # the job has written progress
    $US_VENV/bin/python bench/reconcile.py seed --rows 1000000
    $US_VENV/bin/python bench/reconcile.py run [--lose 1]

seed  inserts N synthetic users into staging.users with the table briefly out of the
      publication (nothing goes to Kafka), and the same ids into Cassandra's users table
      (admin login, commit_lsn 1, USING TIMESTAMP 1000): both stores hold them, as if the
      pipeline had carried them. Cassandra's inserts are the slow part (the driver,
      concurrency 64).
run   optionally deletes --lose ids of the seeded ones from Cassandra (so the id-by-id path
      runs too), then runs the DAG once (`./userstream airflow dags test`, no repair) and
      prints its ops.reconcile_runs row: ids compared, ranges differing, differences,
      duration_ms (the task's own time, without Airflow's start), and the wall time of the
      whole command.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import configparser
import datetime as dt
import json
import subprocess
import sys
import time
import uuid

from bench_support import US, env, psql, stage_unpublished
RUN_ID = "bench-reconcile"

INSERT = """
INSERT INTO staging.users (user_id, first_name, last_name, email, nat, source_url, source_seed,
    source_page, fetched_at, run_id, loaded_at)
SELECT gen_random_uuid(), 'F', 'L', 'bench@example.com', 'FR', 'bench', 'bench', 1,
       now() - interval '1 hour', '{run}', now() - interval '1 day'
FROM generate_series({lo}, {hi}) g
"""




def cassandra(e):
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster
    from cassandra.policies import RoundRobinPolicy

    cp = configparser.RawConfigParser()
    cp.read(e["US_CASSANDRA_ADMIN_CREDENTIALS"])
    cluster = Cluster([e["US_CASSANDRA_HOST"]], port=int(e["US_CASSANDRA_PORT"]), protocol_version=5,
                      load_balancing_policy=RoundRobinPolicy(),
                      auth_provider=PlainTextAuthProvider(cp.get("plain_text_auth", "username"),
                                                          cp.get("plain_text_auth", "password")))
    s = cluster.connect(e["US_CASSANDRA_KEYSPACE"])
    s.default_timeout = 120
    return cluster, s


def seed(args) -> dict:
    from cassandra.concurrent import execute_concurrent_with_args

    e = env()
    t0 = time.monotonic()
    stage_unpublished(e, INSERT, args.rows, run=RUN_ID)
    t1 = time.monotonic()
    ids = [uuid.UUID(x) for x in psql(e, f"SELECT user_id FROM staging.users WHERE run_id = '{RUN_ID}'").split()]
    cluster, s = cassandra(e)
    ins = s.prepare("INSERT INTO users (user_id, first_name, commit_lsn, fetched_at) VALUES (?, 'F', 1, ?) "
                    "USING TIMESTAMP 1000")
    fetched = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    for k in range(0, len(ids), 50_000):
        execute_concurrent_with_args(s, ins, [(u, fetched) for u in ids[k:k + 50_000]], concurrency=64,
                                     raise_on_first_error=True)
    cluster.shutdown()
    return {"seeded": len(ids), "staging_s": round(t1 - t0, 1), "cassandra_s": round(time.monotonic() - t1, 1)}


def run(args) -> dict:
    e = env()
    if args.lose:
        lost = psql(e, f"SELECT user_id FROM staging.users WHERE run_id = '{args.run_id}' LIMIT {args.lose}").split()
        cluster, s = cassandra(e)
        for u in lost:
            s.execute("DELETE FROM users USING TIMESTAMP 1000 WHERE user_id = %s", (uuid.UUID(u),))
        cluster.shutdown()
    before = int(psql(e, "SELECT coalesce(max(reconcile_id), 0) FROM ops.reconcile_runs"))
    t0 = time.monotonic()
    p = subprocess.run([US, "airflow", "dags", "test", "userstream_reconcile", "-c", json.dumps({"repair": False})],
                       env=e, capture_output=True, text=True)
    wall = time.monotonic() - t0
    row = psql(e, "SELECT row_to_json(r) FROM ops.reconcile_runs r "
                  f"WHERE reconcile_id > {before} ORDER BY reconcile_id DESC LIMIT 1")
    digests = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("digests:")]
    out = json.loads(row) if row else {"error": p.stdout[-2000:] + p.stderr[-2000:]}
    out.update(wall_s=round(wall, 1), phases=digests[-1] if digests else None)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--rows", type=int, default=1_000_000)
    r = sub.add_parser("run")
    r.add_argument("--lose", type=int, default=0)
    r.add_argument("--run-id", default=RUN_ID, help="run_id of the seeded rows to lose from")
    args = ap.parse_args()
    print(json.dumps(seed(args) if args.cmd == "seed" else run(args), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
