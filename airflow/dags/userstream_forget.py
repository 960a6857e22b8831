"""userstream_forget: erase one user from every store (docs/lifecycle.md).

Triggered by hand with the parameter user_id (and who asks, and why). Runs
`./userstream forget` (stack/lib/lifecycle.sh), the one implementation: it deletes the user
from staging.users and staging.rejects, so the delete flows as a normal CDC delete (Kafka
tombstone, Cassandra rows and index rows deleted by the Spark job), and writes the erasure
record to ops.erasures with the times at which the stores that cannot be rewritten at once
(Kafka segments before compaction, the dead-letter topic, the relay spool) will be clean.
The task then waits until Kafka and Cassandra are confirmed clean (or fails, leaving the
record to say what is pending: `./userstream forget --status USER_ID`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # Airflow adds its dags_folder; a DagBag of another folder does not
    sys.path.insert(0, _HERE)
import userstream_conf  # noqa: E402

UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


@dag(
    dag_id="userstream_forget",
    schedule=None,
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),
    catchup=False,
    tags=["userstream", "lifecycle"],
    default_args={"retries": 0},
    params={
        "user_id": Param("", type="string", description="the user's id (login.uuid)"),
        "requested_by": Param("", type="string", description="who asks (default: the run)"),
        "reason": Param("", type="string", description="why (e.g. a ticket)"),
        "wait_s": Param(600, type="integer", minimum=0, description="wait for Kafka and Cassandra"),
    },
    doc_md=__doc__,
)
def userstream_forget():
    @task
    def forget() -> dict:
        ctx = get_current_context()
        p = ctx["params"]
        user = str(p.get("user_id") or "").strip()
        if not re.match(UUID, user):
            raise ValueError(f"user_id {user!r} is not a user id (a uuid)")
        conf = userstream_conf.load()
        env = dict(os.environ)
        env.update({k: v for k, v in conf.items() if k.startswith("US_")})
        by = p.get("requested_by") or f"airflow userstream_forget {ctx['run_id']}"
        cmd = [str(userstream_conf.REPO / "userstream"), "forget", "--by", by,
               "--wait", str(int(p.get("wait_s") or 0)), user]
        if p.get("reason"):
            cmd[2:2] = ["--reason", str(p["reason"])]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        print(proc.stdout)
        if proc.returncode != 0:
            raise RuntimeError(f"./userstream forget exited {proc.returncode}: {proc.stderr[-2000:]}")
        if "still pending" in proc.stdout:
            raise RuntimeError("erasure recorded, but Kafka or Cassandra not yet confirmed clean; "
                               "see ./userstream forget --status " + user)
        return {"user_id": user, "requested_by": by}

    forget()


userstream_forget()
