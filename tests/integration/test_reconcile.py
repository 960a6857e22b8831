"""Whole-pipeline reconciliation (DAG userstream_reconcile, docs/lifecycle.md
"Reconciliation") on the session's real stack with the relay and the Spark job running:
a user lost from Cassandra and a ghost row put there by hand are reported, exactly, and
repaired; the next run finds nothing.

The DAG runs in the stack's own Airflow (`./userstream airflow dags test`), so it logs in
through the Connections `up` made. Waits are bounded only so that a stuck pipeline fails
with its state.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

import pytest

from flow_support import running, wait_until
from loadtest_support import ingest_for, unique

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PIPELINE = ("relay", "spark_job")
# A new id each run: the repair's tombstone of an earlier run's ghost would
# shadow a fixed one written again at timestamp 1000 on the same stack.
GHOST = uuid.uuid4()


@pytest.fixture(scope="module")
def session(stack):
    from cassandra.cluster import Cluster
    from cassandra.policies import RoundRobinPolicy

    cluster = Cluster([stack["US_CASSANDRA_HOST"]], port=int(stack["US_CASSANDRA_PORT"]),
                      auth_provider=stack.cassandra_auth(), load_balancing_policy=RoundRobinPolicy())
    s = cluster.connect(stack["US_CASSANDRA_KEYSPACE"])
    s.default_timeout = 120
    yield s
    cluster.shutdown()


@pytest.fixture(scope="module")
def flowing(stack, session):
    """Relay and Spark job running (started here if they were not), 200 fresh users in
    Cassandra."""
    started = [s for s in PIPELINE if not running(stack, s)]
    for svc in started:
        stack.us("restart", svc, timeout=900)
    try:
        with ingest_for(stack) as ing:
            run = unique("reconcile")
            rc, _, err = ing.load("--seed", run, "--pages", "2", "--results", "100", "--run-id", run)
            assert rc == 0, err
            ids = {uuid.UUID(r[0]) for r in ing.sql(f"SELECT user_id FROM staging.users WHERE run_id = '{run}'")}
            assert len(ids) == 200
            wait_until("the loaded users reach Cassandra", lambda: ids <= present(session, ids))
            yield stack, ing, ids
    finally:
        if started:
            stack.us("stop", *started, check=False)


def present(session, ids) -> set:
    q = "SELECT user_id FROM users WHERE user_id IN ({})"
    out = set()
    xs = sorted(ids)
    for k in range(0, len(xs), 100):
        part = xs[k:k + 100]
        out |= {r.user_id for r in session.execute(q.format(",".join(["%s"] * len(part))), part)}
    return out


def differences(ing, rid) -> set:
    return {(uuid.UUID(u), kind) for u, kind in
            ing.sql(f"SELECT user_id, kind FROM ops.reconcile_diffs WHERE reconcile_id = {rid}")}


def reconcile(stack, ing, repair: bool) -> int:
    """One DAG run; its reconcile_id (its exit code is not the point: the rows are)."""
    before = int(ing.one("SELECT coalesce(max(reconcile_id), 0) FROM ops.reconcile_runs"))
    p = stack.us("airflow", "dags", "test", "userstream_reconcile", "-c", json.dumps({"repair": repair}),
                 check=False, timeout=900)
    rid = int(ing.one(f"SELECT coalesce(max(reconcile_id), 0) FROM ops.reconcile_runs WHERE reconcile_id > {before}"))
    assert rid > before, f"no reconciliation recorded\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert ing.one(f"SELECT finished_at IS NOT NULL FROM ops.reconcile_runs WHERE reconcile_id = {rid}") == "t", \
        f"the run did not finish\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return rid


def baseline(stack) -> set:
    """Differences the session stack already had (other tests' doings), by the same code
    the DAG runs, without recording or repairing anything."""
    import psycopg
    from cassandra.cluster import Cluster
    from cassandra.policies import RoundRobinPolicy

    sys.path.insert(0, os.path.join(ROOT, "airflow", "dags"))
    import userstream_reconcile_core as core

    role = stack["US_PG_OPS_USER"]
    with open(os.path.join(stack["US_SECRETS_DIR"], f"pg-{role}"), encoding="utf-8") as f:
        pw = f.read().strip()
    db = psycopg.connect(host=stack["US_PG_HOST"], port=stack["US_PG_PORT"], dbname=stack["US_PG_DATABASE"],
                         user=role, password=pw)
    cluster = Cluster([stack["US_CASSANDRA_HOST"]], port=int(stack["US_CASSANDRA_PORT"]),
                      auth_provider=stack.cassandra_auth("READER"), load_balancing_policy=RoundRobinPolicy())
    try:
        reader = cluster.connect(stack["US_CASSANDRA_KEYSPACE"])
        out = core.compare(db, reader, 64, log=lambda *_: None)
        core.recheck(db, reader, out)
        return ({(u, "missing") for u in out["missing"]} | {(u, "ghost") for u in out["ghosts"]}
                | {(u, f"stale_{kind}_index") for kind, u, _ in out["stale_index"]}
                | {(u, f"missing_{kind}_index") for kind, u, _ in out["missing_index"]})
    finally:
        db.close()
        cluster.shutdown()


def test_reconcile_reports_and_repairs_a_lost_row_and_a_ghost(flowing, session):
    stack, ing, ids = flowing
    before = baseline(stack)
    lost = min(ids)
    # A lost write: the row's cells deleted at their own write time (a later version of
    # the user still wins, as for any change the pipeline replays).
    row = session.execute("SELECT email_hmac, country_code, writetime(first_name) AS wt FROM users "
                          "WHERE user_id = %s", (lost,)).one()
    session.execute("DELETE FROM users USING TIMESTAMP %s WHERE user_id = %s", (row.wt, lost))
    # A ghost: a user staging never had, with its index rows, as a missed delete leaves.
    session.execute("INSERT INTO users (user_id, first_name, full_name, country_code, email_hmac, commit_lsn, "
                    "fetched_at) VALUES (%s, 'Ghost', 'Ghost Row', 'FR', 'ghost-hmac', 1, toTimestamp(now())) "
                    "USING TIMESTAMP 1000", (GHOST,))
    bucket = int(str(GHOST)[0], 16) % 16  # the job's bucket: the first hex digit of the id
    session.execute("INSERT INTO users_by_country (country_code, bucket, user_id, full_name) "
                    "VALUES ('FR', %s, %s, 'Ghost Row') USING TIMESTAMP 1000", (bucket, GHOST))
    session.execute("INSERT INTO users_by_email_hash (email_hmac, user_id, full_name) "
                    "VALUES ('ghost-hmac', %s, 'Ghost Row') USING TIMESTAMP 1000", (GHOST,))

    first = reconcile(stack, ing, repair=True)
    found = differences(ing, first)
    assert found - before == {(lost, "missing"), (GHOST, "ghost")}
    assert found <= before | {(lost, "missing"), (GHOST, "ghost")}
    assert ing.one(f"SELECT count(*) FROM ops.reconcile_diffs WHERE reconcile_id = {first} "
                   f"AND user_id IN ('{lost}', '{GHOST}') AND repaired_at IS NOT NULL") == "2"
    assert ing.one(f"SELECT writetime FROM ops.reconcile_diffs WHERE reconcile_id = {first} "
                   f"AND user_id = '{GHOST}'") == "1000"

    # The ghost is gone from users and both index tables at once; the lost user comes back
    # through the relay and the Spark job.
    assert not present(session, {GHOST})
    assert session.execute("SELECT * FROM users_by_country WHERE country_code = 'FR' AND bucket = 6 "
                           "AND user_id = %s", (GHOST,)).one() is None
    assert session.execute("SELECT * FROM users_by_email_hash WHERE email_hmac = 'ghost-hmac' "
                           "AND user_id = %s", (GHOST,)).one() is None
    wait_until("the re-emitted user is back in Cassandra", lambda: lost in present(session, {lost}))
    back = session.execute("SELECT email_hmac, country_code, writetime(first_name) AS wt FROM users "
                           "WHERE user_id = %s", (lost,)).one()
    assert (back.email_hmac, back.country_code) == (row.email_hmac, row.country_code)
    assert back.wt > row.wt  # the re-emit's LSN: a newer version of the same image

    second = reconcile(stack, ing, repair=False)
    left = differences(ing, second)
    assert not left & {(lost, "missing"), (GHOST, "ghost")}
    assert left <= before
    if not before:
        assert ing.one(f"SELECT missing + ghosts FROM ops.reconcile_runs WHERE reconcile_id = {second}") == "0"


def index_rows(session, uid, email_hmac, country):
    """(users_by_email_hash rows, users_by_country rows) of a user under these keys."""
    bucket = int(str(uid)[0], 16) % 16
    e = session.execute("SELECT user_id FROM users_by_email_hash WHERE email_hmac = %s AND user_id = %s",
                        (email_hmac, uid)).all() if email_hmac else []
    c = session.execute("SELECT user_id FROM users_by_country WHERE country_code = %s AND bucket = %s "
                        "AND user_id = %s", (country, bucket, uid)).all() if country else []
    return len(e), len(c)


def test_resnapshot_leaves_no_ghost_and_no_stale_index_row(flowing, session):
    """Issue 12, item 6. The slot is lost and dropped by the operator (README, exit 3);
    while no slot exists, user Y is deleted and user X changes email and country, so no
    change record is ever sent. The relay re-creates the slot and re-snapshots the table
    (op 'r' at the new consistent point). The snapshot rewrites X under its new keys and
    has no Y: Y's rows and X's old index rows stay in Cassandra until the reconciliation
    removes them, without being asked to repair (they are older than the snapshot's
    epoch); then Cassandra equals staging."""
    stack, ing, ids = flowing
    before = baseline(stack)
    admin, slot = stack["US_PG_ADMIN_USER"], stack.cfg.get("US_RELAY_SLOT", "userstream_relay")
    x, y = sorted(ids)[1:3]  # min(ids) is the other test's lost user
    q = "SELECT email_hmac, country_code, commit_lsn FROM users WHERE user_id = %s"
    old_x, old_y = session.execute(q, (x,)).one(), session.execute(q, (y,)).one()
    assert index_rows(session, x, old_x.email_hmac, old_x.country_code) == (1, 1)
    assert index_rows(session, y, old_y.email_hmac, old_y.country_code) == (1, 1)
    country = ing.one(f"SELECT country FROM staging.users WHERE user_id = '{x}'")
    new_country = "Norway" if country != "Norway" else "Spain"

    stack.us("stop", "relay")
    try:
        stack.psql(admin, f"SELECT pg_drop_replication_slot('{slot}')")
        stack.psql(admin, f"DELETE FROM staging.users WHERE user_id = '{y}'")
        stack.psql(admin, f"UPDATE staging.users SET email = 'resnap.{x.hex[:8]}@example.org', "
                          f"country = '{new_country}' WHERE user_id = '{x}'")
    finally:
        stack.us("restart", "relay", timeout=900)
    epoch = int(wait_until("the re-snapshot is done", lambda: ing.one(
        f"SELECT (consistent_lsn - '0/0')::text FROM ops.relay_slots WHERE slot_name = '{slot}' "
        f"AND snapshot_done_at IS NOT NULL AND consistent_lsn > '0/0'")))
    new_x = wait_until("X's snapshot row is in Cassandra", lambda: (
        lambda r: r if r.commit_lsn == epoch else None)(session.execute(q, (x,)).one()))
    assert new_x.email_hmac != old_x.email_hmac and new_x.country_code != old_x.country_code
    # its index rows are written beside it, by the same batch
    wait_until("X's new index rows are in Cassandra",
               lambda: index_rows(session, x, new_x.email_hmac, new_x.country_code) == (1, 1))

    # What the snapshot alone leaves: Y whole, X under its old and its new keys.
    assert y in present(session, {y})
    assert index_rows(session, y, old_y.email_hmac, old_y.country_code) == (1, 1)
    assert index_rows(session, x, old_x.email_hmac, old_x.country_code) == (1, 1)

    # Without repair: the snapshot's epoch explains these, so they are repaired anyway.
    rid = reconcile(stack, ing, repair=False)
    assert int(ing.one(f"SELECT snapshot_epoch FROM ops.reconcile_runs WHERE reconcile_id = {rid}")) == epoch << 20
    found = ing.sql(f"SELECT user_id, kind, repaired_at IS NOT NULL FROM ops.reconcile_diffs "
                    f"WHERE reconcile_id = {rid} AND user_id IN ('{x}', '{y}')")
    assert sorted((uuid.UUID(u), k, r) for u, k, r in found) == sorted(
        [(y, "ghost", "t"), (x, "stale_email_index", "t"), (x, "stale_country_index", "t")])
    assert not present(session, {y})
    assert index_rows(session, y, old_y.email_hmac, old_y.country_code) == (0, 0)
    assert index_rows(session, x, old_x.email_hmac, old_x.country_code) == (0, 0)
    assert index_rows(session, x, new_x.email_hmac, new_x.country_code) == (1, 1)

    # Cassandra equals staging again (but for what the session's stack had before).
    after = baseline(stack)
    assert not {u for u, _ in after} & {x, y}
    assert after <= before


def test_a_dead_lettered_user_is_not_reported_missing(flowing):
    """Cassandra = staged + dead letters + in flight: a staged user whose record the job
    refuses (an email it cannot use, put in by hand: the loader would have rejected it)
    is in the dead-letter topic and in ops.dead_letter_keys, never in Cassandra. The
    reconciliation counts it as a dead letter, not as missing (and does not re-emit it:
    it would be refused again)."""
    stack, ing, ids = flowing
    admin, bad = stack["US_PG_ADMIN_USER"], uuid.uuid4()
    cols = ing.one("SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) "
                   "FROM information_schema.columns WHERE table_schema = 'staging' AND table_name = 'users' "
                   "AND column_name NOT IN ('user_id', 'email') AND is_generated = 'NEVER'")
    stack.psql(admin, f"INSERT INTO staging.users (user_id, email, {cols}) SELECT '{bad}', 'not-an-email', "
                      f"{cols} FROM staging.users WHERE user_id = '{min(ids)}'")
    try:
        wait_until("the job dead-letters the user", lambda: ing.one(
            f"SELECT count(*) FROM ops.dead_letter_keys WHERE record_key = '{bad}'") != "0")
        assert ing.one(f"SELECT reason FROM ops.dead_letter_keys WHERE record_key = '{bad}' LIMIT 1") \
            == "email missing or malformed"
        rid = reconcile(stack, ing, repair=False)
        assert (bad, "missing") not in differences(ing, rid)
        assert int(ing.one(f"SELECT dead_letters FROM ops.reconcile_runs WHERE reconcile_id = {rid}")) >= 1
    finally:
        stack.psql(admin, f"DELETE FROM staging.users WHERE user_id = '{bad}'")
