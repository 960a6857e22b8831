"""userstream_quality: account for every record of every ingestion run.

For each ingestion run (run_id) whose loader invocations have all finished and that has not
been checked yet (or the run given as conf {"run_id": ...}):
  - fetched = staged + rejected + duplicates, from the per-page counts the loader committed
    with the rows (ops.load_batches), and the loader's own totals (ops.load_runs) agree;
  - the tables agree with the counts: rows in staging.users with this run_id = staged,
    record rejects = rejected, whole-page rejects = pages rejected;
  - every requested page was committed (loaded or rejected) by each finished loader run;
and, once per check, the newest staged row is fresh (younger than US_QUALITY_MAX_AGE_S).
A loader run still 'running' that has committed nothing for US_QUALITY_STALE_RUN_S (killed
with kill -9, its machine lost: it never wrote its end) is marked 'failed' first, with the
totals of the batches it did commit, so its ingestion run is checked instead of skipped
forever, and its report names it. One report row per run goes to ops.ingest_quality; the
task fails loudly when any check fails, after writing every report.
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
SCHEDULE = userstream_conf.require(CONF, "US_QUALITY_SCHEDULE")

# Loader runs 'running' with no committed batch (nor start) for the timeout: marked failed,
# with their committed batches' totals (what is in the tables). exit_code stays NULL: no
# loader wrote it; that is how KILLED tells these runs apart. A loader that was only slow
# writes its own end later, which overwrites this, and its run is checked again.
MARK_STALE = """
UPDATE ops.load_runs r
   SET status = 'failed', finished_at = now(), updated_at = now(), pages_done = b.pages,
       pages_rejected = b.pages_rejected, fetched = b.fetched, staged = b.staged,
       duplicates = b.duplicates, rejected = b.rejected
  FROM (SELECT l.load_id, count(x.page) AS pages,
               count(x.page) FILTER (WHERE x.page_rejected) AS pages_rejected,
               coalesce(sum(x.fetched), 0) AS fetched, coalesce(sum(x.staged), 0) AS staged,
               coalesce(sum(x.duplicates), 0) AS duplicates, coalesce(sum(x.rejected), 0) AS rejected,
               greatest(max(l.started_at), max(l.updated_at), max(x.committed_at)) AS last_seen
          FROM ops.load_runs l LEFT JOIN ops.load_batches x USING (load_id)
         WHERE l.status = 'running'
         GROUP BY l.load_id) b
 WHERE r.load_id = b.load_id AND r.status = 'running'
   AND b.last_seen < now() - make_interval(secs => %s)
RETURNING r.load_id, r.run_id, b.pages
"""
RUN_TOTALS = """
SELECT r.run_id,
       count(DISTINCT r.load_id)                                      AS load_runs,
       count(*) FILTER (WHERE r.status = 'running')                   AS running,
       coalesce(string_agg(r.load_id::text, ', ' ORDER BY r.load_id)
                  FILTER (WHERE r.status = 'failed' AND r.exit_code IS NULL), '') AS killed,
       coalesce(sum(r.fetched), 0), coalesce(sum(r.staged), 0),
       coalesce(sum(r.duplicates), 0), coalesce(sum(r.rejected), 0),
       coalesce(sum(r.pages_rejected), 0),
       count(*) FILTER (WHERE r.status IN ('ok', 'partial') AND r.pages IS NOT NULL
                          AND r.pages_done <> r.pages)                AS incomplete
  FROM ops.load_runs r
 WHERE r.run_id = ANY(%s)
 GROUP BY r.run_id
"""
BATCH_TOTALS = """
SELECT r.run_id, coalesce(sum(b.fetched), 0), coalesce(sum(b.staged), 0),
       coalesce(sum(b.duplicates), 0), coalesce(sum(b.rejected), 0),
       count(b.page) FILTER (WHERE b.page_rejected)
  FROM ops.load_runs r LEFT JOIN ops.load_batches b USING (load_id)
 WHERE r.run_id = ANY(%s)
 GROUP BY r.run_id
"""
STAGED = "SELECT run_id, count(*) FROM staging.users WHERE run_id = ANY(%s) GROUP BY run_id"
REJECTED = """
SELECT run_id, count(*) FILTER (WHERE record_index IS NOT NULL),
       count(*) FILTER (WHERE record_index IS NULL)
  FROM staging.rejects WHERE run_id = ANY(%s) GROUP BY run_id
"""
# loaded_at and committed_at are both now() of the same transaction
NEWEST = "SELECT max(committed_at) FROM ops.load_batches WHERE staged > 0"
# runs whose loaders all finished since their last check (a retried run is checked again)
UNCHECKED = """
SELECT r.run_id FROM ops.load_runs r
 GROUP BY r.run_id
HAVING bool_and(r.status <> 'running')
   AND coalesce(max(r.finished_at) >
                (SELECT max(q.checked_at) FROM ops.ingest_quality q WHERE q.run_id = r.run_id),
                true)
 ORDER BY min(r.started_at)
 LIMIT 500
"""


def check_run(t: dict) -> list[str]:
    """Problems of one run's figures (empty: all accounted for)."""
    problems = []
    if t["fetched"] != t["staged"] + t["rejected"] + t["duplicates"]:
        problems.append(
            f"fetched {t['fetched']} != staged {t['staged']} + rejected {t['rejected']}"
            f" + duplicates {t['duplicates']}"
        )
    for name in ("fetched", "staged", "duplicates", "rejected", "pages_rejected"):
        if t["run_" + name] != t[name]:
            problems.append(f"loader total {name} {t['run_' + name]} != committed {t[name]}")
    if t["staged_in_table"] != t["staged"]:
        problems.append(f"staging.users has {t['staged_in_table']} rows, staged {t['staged']}")
    if t["rejected_in_table"] != t["rejected"]:
        problems.append(
            f"staging.rejects has {t['rejected_in_table']} record rejects, rejected {t['rejected']}"
        )
    if t["page_rejects_in_table"] != t["pages_rejected"]:
        problems.append(
            f"staging.rejects has {t['page_rejects_in_table']} page rejects,"
            f" pages rejected {t['pages_rejected']}"
        )
    if t["incomplete"]:
        problems.append(f"{t['incomplete']} loader run(s) did not commit every page")
    if t.get("killed"):
        problems.append(
            f"loader run(s) {t['killed']} stopped without an end (killed?): marked failed"
            " after US_QUALITY_STALE_RUN_S without progress; the pages they committed are counted"
        )
    return problems


def gather(cur, run_ids: list[str]) -> dict[str, dict]:
    """Every figure of the given runs, from ops and from the tables themselves."""
    figures: dict[str, dict] = {}
    cur.execute(RUN_TOTALS, (run_ids,))
    for row in cur.fetchall():
        figures[row[0]] = dict(
            zip(
                ("load_runs", "running", "run_fetched", "run_staged", "run_duplicates",
                 "run_rejected", "run_pages_rejected", "incomplete"),
                (int(v) for v in (row[1], row[2], *row[4:])),
            ),
            killed=row[3],
            staged_in_table=0, rejected_in_table=0, page_rejects_in_table=0,
        )
    cur.execute(BATCH_TOTALS, (run_ids,))
    for row in cur.fetchall():
        names = ("fetched", "staged", "duplicates", "rejected", "pages_rejected")
        figures[row[0]].update(zip(names, (int(v) for v in row[1:])))
    cur.execute(STAGED, (run_ids,))
    for run_id, n in cur.fetchall():
        figures[run_id]["staged_in_table"] = int(n)
    cur.execute(REJECTED, (run_ids,))
    for run_id, recs, pages in cur.fetchall():
        figures[run_id]["rejected_in_table"] = int(recs)
        figures[run_id]["page_rejects_in_table"] = int(pages)
    return figures


def write_report(cur, run_id: str, t: dict, problems: list[str], newest, age, checked_by: str):
    cur.execute(
        """INSERT INTO ops.ingest_quality (run_id, checked_by, ok, load_runs, fetched, staged,
               duplicates, rejected, pages_rejected, staged_in_table, rejected_in_table,
               page_rejects_in_table, newest_loaded_at, freshness_seconds, problems)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (run_id, checked_by, not problems, t["load_runs"], t["fetched"], t["staged"],
         t["duplicates"], t["rejected"], t["pages_rejected"], t["staged_in_table"],
         t["rejected_in_table"], t["page_rejects_in_table"], newest, age, problems),
    )


@dag(
    dag_id="userstream_quality",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),  # catchup is off: only bounds backfills
    catchup=False,
    max_active_runs=1,
    tags=["userstream", "quality"],
    default_args={"retries": 0},
    doc_md=__doc__,
)
def userstream_quality():
    @task
    def check() -> dict:
        ctx = get_current_context()
        conf = userstream_conf.load()
        max_age = float(userstream_conf.require(conf, "US_QUALITY_MAX_AGE_S"))
        stale_s = float(userstream_conf.require(conf, "US_QUALITY_STALE_RUN_S"))
        wanted = (ctx["dag_run"].conf or {}).get("run_id")
        db = userstream_conf.connect(conf)
        with db, db.cursor() as cur:
            cur.execute(MARK_STALE, (stale_s,))
            for load_id, run_id, pages in cur.fetchall():
                print(f"loader run {load_id} of {run_id}: no progress for {stale_s:.0f} s, "
                      f"marked failed ({pages} page(s) committed)")
            if wanted:
                run_ids = [wanted]
            else:
                cur.execute(UNCHECKED)
                run_ids = [r[0] for r in cur.fetchall()]
            figures = gather(cur, run_ids) if run_ids else {}
            cur.execute("SELECT now()")
            now = cur.fetchone()[0]
            cur.execute(NEWEST)
            newest = cur.fetchone()[0]
            age = (now - newest).total_seconds() if newest else None
            failures = {}
            for run_id in run_ids:
                t = figures.get(run_id)
                problems = check_run(t) if t else [f"no loader run recorded for {run_id}"]
                if t and t["running"]:
                    problems.append(f"{t['running']} loader run(s) still running")
                if t:
                    write_report(cur, run_id, t, problems, newest, age, ctx["run_id"])
                if problems:
                    failures[run_id] = problems
            if age is None or age > max_age:
                failures["freshness"] = [f"newest staged row is {age} s old (max {max_age} s)"]
        db.close()
        report = {"checked": run_ids, "failures": failures, "newest_age_s": age}
        print(report)
        if failures:
            raise RuntimeError(f"ingestion quality check failed: {failures}")
        return report

    check()


userstream_quality()
