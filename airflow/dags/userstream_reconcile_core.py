"""The reconciliation of staging.users with Cassandra's users table (docs/lifecycle.md,
"Reconciliation"); the DAG userstream_reconcile runs it. No Airflow here: the DAG hands in
a DB-API connection (ops role) and cassandra-driver sessions, so it is testable alone.

Invariant: Cassandra's users = staging.users, plus in flight, plus retired (purged from
staging by retention: they stay in Cassandra), plus dead letters (ops.dead_letter_keys,
written by the job: a missing user with a dead-lettered record is counted there, not
reported). One run:

1. The cut. H = the Spark job's progress (max_commit_lsn, max_commit_ts of query
   'users': every change up to H is in Cassandra). R = the newest purge cutoff
   (ops.staging_purges): a row fetched before R may have been purged from staging, so
   rows fetched before R are compared on neither side. A staging row takes part when
   loaded_at <= H.ts (its transaction started no later than the last change the job
   wrote; a later one has not reached Cassandra); a Cassandra row when its commit_lsn
   <= H.lsn. Same cut on both sides, so a quiet or a busy pipeline gives equal digests.
2. Digests. The Murmur3 token ring (Cassandra's partitioner) is split into N equal
   ranges. Staging: one pass over the ids in one REPEATABLE READ snapshot; the token of
   each id is computed here (PostgreSQL has no Murmur3), digest = (count, XOR of a keyed
   BLAKE2b of the id; the key is new each run, so no id set can be made to collide on
   purpose). Cassandra: per range, SELECT ... WHERE token(user_id) > ? AND <= ?, the same
   digest. Only ranges whose digests differ are compared id by id (a second pass over
   those ranges only).
3. Candidates: missing = staged (in the cut), absent from Cassandra; ghost = in Cassandra
   (in the cut), absent from the snapshot altogether.
4. Re-check after the snapshot is closed (on a busy pipeline, once the job has written a
   change committed after the snapshot began, at most RECHECK_WAIT_S later): a missing
   candidate that is now in Cassandra, or no longer in staging, was in flight; a ghost
   candidate that is now in staging (a new insert), or whose erasure is pending
   (ops.erasures without cassandra_clean_at), or that has left Cassandra, was in flight;
   one fetched before a purge cutoff newer than the cut's was retired meanwhile.
   What remains is reported.
5. Repair (when asked): a missing user is re-emitted through CDC by a no-op UPDATE of its
   staging row (ops.reconcile_reemit): the job writes it USING TIMESTAMP that update's LSN,
   as every change. A ghost is deleted from users and its two index rows USING TIMESTAMP
   the newest write time of the row's cells: that removes every cell of it, and any later
   change of the id (a higher LSN) still wins.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import secrets
import time
import uuid

from cassandra.murmur3 import murmur3

MIN_TOKEN = -(1 << 63)
MAX_TOKEN = (1 << 63) - 1
CHUNK = 500  # ids per IN (...) / ANY(...) in the re-check and repairs
RECHECK_WAIT_S = 120  # at most this long for a busy job to pass the snapshot (re-check)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def boundaries(n: int) -> list[int]:
    """n+1 tokens; range i is (b[i], b[i+1]]. Murmur3Partitioner never gives MIN_TOKEN."""
    if n < 1 or n > 65536:
        raise ValueError(f"ranges must be 1..65536, not {n}")
    span = MAX_TOKEN - MIN_TOKEN
    return [MIN_TOKEN + (span * i) // n for i in range(n)] + [MAX_TOKEN]


def token(u: uuid.UUID) -> int:
    """Cassandra's token of a uuid partition key (Murmur3Partitioner: MIN maps to MAX)."""
    h = murmur3(u.bytes)
    return MAX_TOKEN if h == MIN_TOKEN else h


def range_of(tok: int, bounds: list[int]) -> int:
    return max(bisect.bisect_left(bounds, tok) - 1, 0)


class Digests:
    """(count, XOR of keyed hashes) per range."""

    def __init__(self, n: int, key: bytes):
        self.key = key
        self.count = [0] * n
        self.xor = [0] * n

    def add(self, i: int, u: uuid.UUID, extra: bytes = b"") -> None:
        h = hashlib.blake2b(u.bytes + extra, digest_size=8, key=self.key).digest()
        self.count[i] += 1
        self.xor[i] ^= int.from_bytes(h, "big")

    def differing(self, other: "Digests") -> list[int]:
        return [i for i in range(len(self.count))
                if (self.count[i], self.xor[i]) != (other.count[i], other.xor[i])]


def _utc(t):
    """A Cassandra timestamp (naive UTC) or a PostgreSQL timestamptz, tz-aware."""
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _as_uuid(v) -> uuid.UUID:
    return v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))


# --- PostgreSQL -------------------------------------------------------------------------

PROGRESS = """SELECT max(max_commit_lsn), max(max_commit_ts) FROM ops.stream_progress
               WHERE query_name = 'users'"""
RETIRED = "SELECT max(cutoff) FROM ops.staging_purges WHERE users > 0"
# The consistent point of the relay's finished snapshot (docs/lifecycle.md "A re-snapshot"):
# its rows are written at versions from epoch * 2^20 up. Only the slot of staging.users
# (others, such as a test relay's on another table, say nothing about it).
SNAPSHOT_EPOCH = """SELECT consistent_lsn - '0/0' FROM ops.relay_slots
                     WHERE slot_name = %s AND snapshot_done_at IS NOT NULL"""
STAGED_IDS = """SELECT user_id, loaded_at <= %s AND (%s::timestamptz IS NULL OR fetched_at >= %s)
                  FROM staging.users"""


def staging_pass(db, cut, bounds, digests, want=None):
    """One pass over staging's ids in the open snapshot. Digests of the ids in the cut;
    with want (a set of range indexes): also {range: (ids in the cut, all ids)}."""
    n_cut = 0
    sets = {i: (set(), set()) for i in want} if want else {}
    with db.cursor(name=f"reconcile_{secrets.token_hex(4)}") as cur:
        cur.itersize = 20000
        cur.execute(STAGED_IDS, (cut["ts"], cut["retired"], cut["retired"]))
        for uid, in_cut in cur:
            u = _as_uuid(uid)
            i = range_of(token(u), bounds)
            if in_cut:
                n_cut += 1
                if digests is not None:
                    digests.add(i, u)
            if i in sets:
                sets[i][1].add(u)
                if in_cut:
                    sets[i][0].add(u)
    return n_cut, sets


# --- Cassandra --------------------------------------------------------------------------

RANGE_CQL = ("SELECT user_id, commit_lsn, fetched_at, email_hmac, writetime(email_hmac), country_code, "
             "writetime(country_code) FROM users WHERE token(user_id) > ? AND token(user_id) <= ?")


def cassandra_in_cut(row, cut) -> bool:
    lsn_ok = row.commit_lsn is None or row.commit_lsn <= cut["lsn"]
    fetched = _utc(row.fetched_at)
    return lsn_ok and (cut["retired"] is None or fetched is None or fetched >= cut["retired"])


def cassandra_range(session, stmt, bounds, i, cut, keys=None):
    """(ids in the cut, all ids) of range i; keys (a dict), when given, gets
    {user_id: (email_hmac, its write time, country_code, its write time)} of every row."""
    in_cut, every = set(), set()
    for row in session.execute(stmt, (bounds[i], bounds[i + 1])):
        every.add(row.user_id)
        if cassandra_in_cut(row, cut):
            in_cut.add(row.user_id)
        if keys is not None:
            keys[row.user_id] = tuple(row[3:7])
    return in_cut, every


def cassandra_pass(session, stmt, bounds, cut, key, index=None):
    """Digests of every range, from the rows in the cut; index (an IndexDigests), when
    given, also gets the index keys each users row should have."""
    d = Digests(len(bounds) - 1, key)
    total = 0
    for i in range(len(bounds) - 1):
        for row in session.execute(stmt, (bounds[i], bounds[i + 1])):
            if cassandra_in_cut(row, cut):
                d.add(i, row.user_id)
                total += 1
            if index is not None:
                index.add_user(i, row.user_id, *row[3:7])
    return d, total


def _chunks(xs, n=CHUNK):
    xs = sorted(xs)
    for k in range(0, len(xs), n):
        yield xs[k:k + n]


def cassandra_fetched(session, ids) -> dict:
    """{user_id: fetched_at (tz-aware or None)} of the ids present in Cassandra."""
    stmt = "SELECT user_id, fetched_at FROM users WHERE user_id IN ({})"
    found = {}
    for part in _chunks(ids):
        for r in session.execute(stmt.format(",".join(["%s"] * len(part))), part):
            found[r.user_id] = _utc(r.fetched_at)
    return found


def cassandra_present(session, ids) -> set:
    return set(cassandra_fetched(session, ids))


def ghost_row(session, meta_cols, uid):
    """(email_hmac, country_code, newest write time of the row's cells) or None if gone."""
    cols = ", ".join(f"writetime({c})" for c in meta_cols)
    row = session.execute(f"SELECT email_hmac, country_code, {cols} FROM users WHERE user_id = %s", (uid,)).one()
    if row is None:
        return None
    times = [t for t in list(row)[2:] if t is not None]
    return row[0], row[1], (max(times) if times else None)


def index_writetime(session, table, cols, where, params):
    w = ", ".join(f"writetime({c})" for c in cols)
    row = session.execute(f"SELECT {w} FROM {table} WHERE {where}", params).one()
    if row is None:
        return None
    times = [t for t in row if t is not None]
    return max(times) if times else 0


def delete_ghost(reader, writer, uid, email_hmac, country, wt) -> None:
    """The users row and its two index rows, each USING TIMESTAMP its newest cell's."""
    writer.execute("DELETE FROM users USING TIMESTAMP %s WHERE user_id = %s", (wt, uid))
    if email_hmac is not None:
        t = index_writetime(reader, "users_by_email_hash", ("full_name", "country_code", "email_domain", "registered_at"),
                            "email_hmac = %s AND user_id = %s", (email_hmac, uid))
        if t is not None:
            writer.execute("DELETE FROM users_by_email_hash USING TIMESTAMP %s WHERE email_hmac = %s AND user_id = %s",
                           (max(t, wt), email_hmac, uid))
    if country is not None:
        bucket = int(str(uid)[0], 16) % 16
        t = index_writetime(reader, "users_by_country", ("full_name", "city", "email_domain", "registered_at"),
                            "country_code = %s AND bucket = %s AND user_id = %s", (country, bucket, uid))
        if t is not None:
            writer.execute("DELETE FROM users_by_country USING TIMESTAMP %s "
                           "WHERE country_code = %s AND bucket = %s AND user_id = %s",
                           (max(t, wt), country, bucket, uid))


# --- Index tables -----------------------------------------------------------------------
#
# users_by_email_hash and users_by_country must hold exactly the keys of the users rows:
# (email_hmac, user_id) and (country_code, bucket, user_id) of each. A change the job sees
# deletes the keys it makes stale (job.py, _delete_stale_index_rows); a change it never
# sees does not: a user whose email or country changed while no slot existed, then
# re-snapshotted (issue 12, item 6), keeps its old index rows beside the new ones.
# Compared like the ids: a digest of (user, key) pairs per token range of the user id, on
# the users side from the same scan, on the index side from one scan of each table; id
# by id only where they differ.

SEQ_BITS = 20  # write time = lsn * 2^20 + seq (spark/userstream_spark/transform.py)
INDEX_KINDS = {
    # kind: (table, key columns, value columns (their newest write time is the row's))
    "email": ("users_by_email_hash", ("email_hmac",), ("full_name", "country_code", "email_domain", "registered_at")),
    "country": ("users_by_country", ("country_code", "bucket"), ("full_name", "city", "email_domain", "registered_at")),
}


def bucket_of(uid) -> int:
    return int(str(uid)[0], 16) % 16


def expected_keys(uid, email, e_wt, country, c_wt) -> list:
    """[(kind, key, write time of the users cell)] that a users row asks for."""
    out = []
    if email is not None:
        out.append(("email", (email,), e_wt))
    if country is not None:
        out.append(("country", (country, bucket_of(uid)), c_wt))
    return out


def _pair(kind, key) -> bytes:
    return ("\0".join([kind, *map(str, key)])).encode()


def index_key_text(kind, key) -> str:
    return "/".join(map(str, key))


class IndexDigests:
    """(user, key) pairs per range: expected (from users rows), actual (index rows). Only
    writes at or below the cut's version take part (later ones may be in flight)."""

    def __init__(self, n: int, key: bytes, cut_lsn: int):
        self.expected = Digests(n, key)
        self.actual = Digests(n, key)
        self.cap = ((cut_lsn + 1) << SEQ_BITS) - 1

    def add_user(self, i, uid, email, e_wt, country, c_wt) -> None:
        for kind, k, wt in expected_keys(uid, email, e_wt, country, c_wt):
            if wt is not None and wt <= self.cap:
                self.expected.add(i, uid, _pair(kind, k))

    def add_index(self, i, kind, uid, key, wt) -> None:
        if wt <= self.cap:
            self.actual.add(i, uid, _pair(kind, key))


def index_scan(session, bounds, fn, want=None) -> int:
    """Every row of both index tables: fn(range, kind, user_id, key, newest write time);
    with want (range indexes), only the rows of those ranges."""
    n = 0
    for kind, (table, kcols, vcols) in INDEX_KINDS.items():
        cols = ", ".join([*kcols, "user_id", *(f"writetime({c})" for c in vcols)])
        stmt = session.prepare(f"SELECT {cols} FROM {table}")
        stmt.fetch_size = 5000
        nk = len(kcols)
        for row in session.execute(stmt):
            uid = row[nk]
            i = range_of(token(uid), bounds)
            if want is None or i in want:
                times = [t for t in row[nk + 1:] if t is not None]
                fn(i, kind, uid, tuple(row[:nk]), max(times) if times else 0)
                n += 1
    return n


def index_candidates(keys: dict, actual: dict, cap: int):
    """(stale {(kind, uid, key): write time}, missing {(kind, uid, key)}) of the compared
    ranges: keys = {uid: users keys and their write times}, actual = {(kind, uid, key):
    write time} of the index rows."""
    stale, missing = {}, set()
    for (kind, uid, k), wt in actual.items():
        u = keys.get(uid)
        want = {(kd, kk) for kd, kk, _ in expected_keys(uid, *u)} if u else set()
        if wt <= cap and (kind, k) not in want:
            stale[(kind, uid, k)] = wt
    for uid, u in keys.items():
        for kind, k, wt in expected_keys(uid, *u):
            if wt is not None and wt <= cap and (kind, uid, k) not in actual:
                missing.add((kind, uid, k))
    return stale, missing


def index_row_writetime(session, kind, uid, key):
    table, kcols, vcols = INDEX_KINDS[kind]
    where = " AND ".join(f"{c} = %s" for c in (*kcols, "user_id"))
    return index_writetime(session, table, vcols, where, (*key, uid))


def users_keys(session, ids) -> dict:
    """{uid: (email_hmac, its write time, country_code, its write time)} of the ids present."""
    stmt = ("SELECT user_id, email_hmac, writetime(email_hmac), country_code, writetime(country_code) "
            "FROM users WHERE user_id IN ({})")
    found = {}
    for part in _chunks(ids):
        for r in session.execute(stmt.format(",".join(["%s"] * len(part))), part):
            found[r[0]] = tuple(r[1:5])
    return found


def index_recheck(db, reader, out) -> int:
    """Each candidate read again, after the users re-check. A stale one stays stale when
    its users row holds another key written after it (the users row moved past it), or
    when the users row is gone and the user is not staged (a staged user without a users
    row is missing: its index rows are current and come back with its re-emit). A missing
    one stays missing when its users row still asks for it and the index row is still
    absent. Returns how many were cleared (in flight)."""
    stale, missing = out["stale_index"], out["missing_index"]
    before = len(stale) + len(missing)
    if not before:
        return 0
    users = users_keys(reader, {u for _, u, _ in stale} | {u for _, u, _ in missing})
    gone = sorted({u for _, u, _ in stale if u not in users})
    staged = set()
    if gone:
        with db.cursor() as cur:
            cur.execute("SELECT user_id FROM staging.users WHERE user_id = ANY(%s)", (gone,))
            staged = {_as_uuid(r[0]) for r in cur.fetchall()}
        db.commit()
    for c in list(stale):
        kind, uid, k = c
        wt = index_row_writetime(reader, kind, uid, k)
        u = users.get(uid)
        now = {kd: (kk, w) for kd, kk, w in expected_keys(uid, *u)} if u else {}
        if wt is None or (u is None and uid in staged):
            del stale[c]
        elif u is not None and (kind not in now or now[kind][0] == k or now[kind][1] is None or wt >= now[kind][1]):
            del stale[c]
        else:
            stale[c] = wt
    for c in list(missing):
        kind, uid, k = c
        u = users.get(uid)
        now = {(kd, kk) for kd, kk, _ in expected_keys(uid, *u)} if u else set()
        if (kind, k) not in now or index_row_writetime(reader, kind, uid, k) is not None:
            missing.discard(c)
    return before - len(stale) - len(missing)


def delete_stale_index(writer, kind, uid, key, wt) -> None:
    """One stale index row, USING TIMESTAMP its own newest write time: a later write of
    the same key (the user changes back) has a higher version and still wins."""
    table, kcols, _ = INDEX_KINDS[kind]
    where = " AND ".join(f"{c} = %s" for c in (*kcols, "user_id"))
    writer.execute(f"DELETE FROM {table} USING TIMESTAMP %s WHERE {where}", (wt, *key, uid))


# --- One run ----------------------------------------------------------------------------

def read_cut(db) -> dict:
    with db.cursor() as cur:
        cur.execute(PROGRESS)
        lsn, ts = cur.fetchone()
        cur.execute(RETIRED)
        retired = cur.fetchone()[0]
    db.commit()
    return {"lsn": int(lsn) if lsn is not None else None, "ts": ts, "retired": retired}


def compare(db, reader, n, log=print) -> dict:
    """Steps 1-3: the cut, the digests, the candidates of the differing ranges (ids, and
    the index tables' (user, key) pairs)."""
    cut = read_cut(db)
    out = {"cut": cut, "ranges_differing": 0, "staged": 0, "cassandra": 0, "missing": set(), "ghosts": set(),
           "index_ranges_differing": 0, "stale_index": {}, "missing_index": set()}
    if cut["lsn"] is None:
        out["problems"] = ["the Spark job has written no progress for query 'users' yet: nothing to compare"]
        return out
    bounds = boundaries(n)
    key = secrets.token_bytes(16)
    stmt = reader.prepare(RANGE_CQL)
    stmt.fetch_size = 5000
    with db.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute("SELECT pg_current_wal_lsn()::text, now()")
        out["snapshot_lsn"], out["snapshot_ts"] = cur.fetchone()
    t0 = time.monotonic()
    pg = Digests(n, key)
    out["staged"], _ = staging_pass(db, cut, bounds, pg)
    t1 = time.monotonic()
    ix = IndexDigests(n, key, cut["lsn"])
    cd, out["cassandra"] = cassandra_pass(reader, stmt, bounds, cut, key, ix)
    t2 = time.monotonic()
    n_index = index_scan(reader, bounds, ix.add_index)
    t3 = time.monotonic()
    diff = pg.differing(cd)
    idiff = set(ix.expected.differing(ix.actual))
    out["ranges_differing"], out["index_ranges_differing"] = len(diff), len(idiff)
    log(f"digests: staging {out['staged']} ids in {t1 - t0:.1f} s, Cassandra {out['cassandra']} ids "
        f"in {t2 - t1:.1f} s, {n_index} index rows in {t3 - t2:.1f} s; {len(diff)} of {n} ranges differ "
        f"by id, {len(idiff)} by index keys")
    keys = {}
    if diff:
        _, sets = staging_pass(db, cut, bounds, None, want=set(diff))
        for i in diff:
            c_cut, c_all = cassandra_range(reader, stmt, bounds, i, cut, keys if i in idiff else None)
            p_cut, p_all = sets[i]
            out["missing"] |= p_cut - c_all
            out["ghosts"] |= c_cut - p_all
    db.commit()  # the snapshot ends here
    if idiff:
        for i in idiff - set(diff):
            cassandra_range(reader, stmt, bounds, i, cut, keys)
        actual = {}
        index_scan(reader, bounds, lambda i, kind, uid, k, wt: actual.__setitem__((kind, uid, k), wt), want=idiff)
        out["stale_index"], out["missing_index"] = index_candidates(keys, actual, ix.cap)
    return out


def wait_for_progress(db, out, timeout_s: float) -> None:
    """A busy pipeline (the job wrote more since the cut) may still be writing a loader
    transaction that started before the job's last change and committed after it: wait
    (bounded) until the job has written a change committed after the snapshot began.
    A quiet pipeline has nothing in flight and is not waited for."""
    cut, deadline = out["cut"], time.monotonic() + timeout_s
    while True:
        now = read_cut(db)
        if now["lsn"] == cut["lsn"] or (now["ts"] and now["ts"] >= out["snapshot_ts"]):
            return
        if time.monotonic() > deadline:
            return
        time.sleep(2)


DEAD_LETTERED = "SELECT DISTINCT record_key FROM ops.dead_letter_keys WHERE record_key = ANY(%s)"


def recheck(db, reader, out, wait_s: float = RECHECK_WAIT_S) -> int:
    """Step 4: drops the candidates that were in flight; returns how many. Missing ones
    that the job dead-lettered move to out["dead_letters"] (not differences)."""
    before = len(out["missing"]) + len(out["ghosts"])
    if out["missing"] or out["stale_index"] or out["missing_index"]:
        wait_for_progress(db, out, wait_s)
    if out["missing"]:
        out["missing"] -= cassandra_present(reader, out["missing"])
    with db.cursor() as cur:
        if out["missing"]:
            cur.execute("SELECT user_id FROM staging.users WHERE user_id = ANY(%s)", (list(out["missing"]),))
            out["missing"] &= {_as_uuid(r[0]) for r in cur.fetchall()}
        if out["missing"]:
            # refused by the job (ops.dead_letter_keys): in the DLQ topic, not missing
            cur.execute(DEAD_LETTERED, ([str(u) for u in out["missing"]],))
            out["dead_letters"] = {_as_uuid(r[0]) for r in cur.fetchall()} & out["missing"]
            out["missing"] -= out["dead_letters"]
        if out["ghosts"]:
            ids = list(out["ghosts"])
            cur.execute("SELECT user_id FROM staging.users WHERE user_id = ANY(%s) UNION "
                        "SELECT user_id FROM ops.erasures WHERE cassandra_clean_at IS NULL AND user_id = ANY(%s)",
                        (ids, ids))
            out["ghosts"] -= {_as_uuid(r[0]) for r in cur.fetchall()}
    db.commit()
    if out["ghosts"]:
        # a purge since the cut retired more rows: those are not ghosts either
        retired = read_cut(db)["retired"]
        fetched = cassandra_fetched(reader, out["ghosts"])
        out["ghosts"] = {u for u, f in fetched.items() if u in out["ghosts"]
                         and (retired is None or f is None or f >= retired)}
    dead = len(out.get("dead_letters", ()))
    return before - dead - len(out["missing"]) - len(out["ghosts"]) + index_recheck(db, reader, out)


STILL_MISSING = """SELECT DISTINCT user_id FROM ops.reconcile_diffs
                    WHERE kind = 'missing' AND repaired_at IS NOT NULL AND user_id = ANY(%s)"""


def repair(db, reader, writer, out, log=print) -> dict:
    """Step 5: {user_id: write time used (ghost) or None (missing re-emitted)}. A user
    that an earlier run re-emitted and that is still missing is not re-emitted again: a
    tombstone newer than any of its versions shadows it (a delete with a wall-clock
    timestamp, cqlsh's default), which no change through the pipeline can outrank."""
    done = {}
    with db.cursor() as cur:
        again = set()
        if out["missing"]:
            cur.execute(STILL_MISSING, (list(out["missing"]),))
            again = {_as_uuid(r[0]) for r in cur.fetchall()}
        if again:
            out.setdefault("problems", []).append(
                f"{len(again)} user(s) re-emitted by an earlier run are still missing (e.g. {min(again)}): "
                "a tombstone newer than their versions shadows them; not re-emitted again")
        for part in _chunks(out["missing"] - again, 10000):
            cur.execute("SELECT ops.reconcile_reemit(%s::uuid[])", (part,))
            if cur.fetchone()[0] == len(part):
                done.update((u, None) for u in part)
    db.commit()
    cols = [c for c in reader.cluster.metadata.keyspaces[reader.keyspace].tables["users"].columns
            if c != "user_id"]
    for uid in sorted(out["ghosts"]):
        g = ghost_row(reader, cols, uid)
        if g is None:
            continue
        email_hmac, country, wt = g
        if wt is None:
            log(f"ghost {uid}: no cell has a write time; not deleted")
            continue
        delete_ghost(reader, writer, uid, email_hmac, country, wt)
        done[uid] = wt
    return done


def repair_index(writer, out) -> set:
    """Step 5 for the index tables: each stale row deleted at its own write time (after the
    ghosts, whose current index rows delete_ghost takes). A missing index row is only
    reported: its user's next change (or a re-emit of a staged user) writes it."""
    done = set()
    for c in sorted(out["stale_index"], key=str):
        kind, uid, k = c
        delete_stale_index(writer, kind, uid, k, out["stale_index"][c])
        done.add(c)
    return done


def read_epoch(db, slot: str):
    """The lowest version the slot's finished snapshot wrote (its consistent LSN * 2^20),
    or None."""
    with db.cursor() as cur:
        cur.execute(SNAPSHOT_EPOCH, (slot,))
        row = cur.fetchone()
    db.commit()
    return int(row[0]) << SEQ_BITS if row and row[0] is not None else None


def explained(out, ghost_wt, epoch) -> dict:
    """The differences a re-snapshot explains, repaired even without repair: ghosts and
    stale index rows whose newest write time is below the newest snapshot's epoch. That
    snapshot rewrote every staged user at or above the epoch, so such a row was not in it
    and no change since touched it: the user was deleted, or its key changed, while no slot
    existed (retired users and pending erasures are already out of the candidates). Any
    other difference is a bug to look at first, and waits for repair."""
    none = {"missing": set(), "ghosts": set(), "stale_index": {}}
    if epoch is None:
        return none
    return {"missing": set(),
            "ghosts": {u for u in out["ghosts"] if ghost_wt.get(u) is not None and ghost_wt[u] < epoch},
            "stale_index": {c: wt for c, wt in out["stale_index"].items() if wt < epoch}}


def run(db, reader, writer, n: int, do_repair: bool, run_by: str, log=print,
        slot: str = "userstream_relay") -> dict:
    """A whole run, recorded in ops.reconcile_runs / ops.reconcile_diffs. writer: a session,
    or a function that opens one (called only when something is to be repaired; without
    repair, only differences a re-snapshot explains are). slot: the relay's (US_RELAY_SLOT),
    whose snapshot gives the epoch."""
    started = time.monotonic()
    with db.cursor() as cur:
        cur.execute("INSERT INTO ops.reconcile_runs (run_by, repair, ranges) VALUES (%s, %s, %s) "
                    "RETURNING reconcile_id", (run_by, do_repair, n))
        rid = cur.fetchone()[0]
    db.commit()
    out = compare(db, reader, n, log)
    in_flight = recheck(db, reader, out) if "problems" not in out else 0
    epoch = read_epoch(db, slot)
    ghost_wt = {}
    if out["ghosts"] and not do_repair:
        cols = [c for c in reader.cluster.metadata.keyspaces[reader.keyspace].tables["users"].columns
                if c != "user_id"]
        for u in out["ghosts"]:
            g = ghost_row(reader, cols, u)
            ghost_wt[u] = g[2] if g else None
    todo = out if do_repair else explained(out, ghost_wt, epoch)
    wts, index_done = {}, set()
    if todo["missing"] or todo["ghosts"] or todo["stale_index"]:
        writer = writer() if callable(writer) else writer
    if todo["missing"] or todo["ghosts"]:
        wts = repair(db, reader, writer, todo, log)
    if todo["stale_index"]:
        index_done = repair_index(writer, todo)
    cut = out["cut"]
    with db.cursor() as cur:
        for kind, ids in (("missing", out["missing"]), ("ghost", out["ghosts"])):
            for u in sorted(ids):
                cur.execute("INSERT INTO ops.reconcile_diffs (reconcile_id, user_id, kind, token, writetime, repaired_at) "
                            "VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)",
                            (rid, u, kind, token(u), wts.get(u, ghost_wt.get(u)), u in wts))
        index_diffs = [(f"stale_{c[0]}_index", c, wt) for c, wt in out["stale_index"].items()] + \
                      [(f"missing_{c[0]}_index", c, None) for c in out["missing_index"]]
        for label, c, wt in sorted(index_diffs, key=str):
            _, u, k = c
            cur.execute("INSERT INTO ops.reconcile_diffs (reconcile_id, user_id, kind, index_key, token, writetime, "
                        "repaired_at) VALUES (%s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)",
                        (rid, u, label, index_key_text(c[0], k), token(u), wt, c in index_done))
        cur.execute(
            """UPDATE ops.reconcile_runs SET finished_at = now(), ranges_differing = %s, staged = %s,
                   cassandra = %s, missing = %s, ghosts = %s, stale_index = %s, missing_index = %s,
                   index_ranges_differing = %s, snapshot_epoch = %s, dead_letters = %s, in_flight = %s,
                   repaired = %s,
                   snapshot_lsn = %s::pg_lsn, progress_lsn = %s, progress_ts = %s, retired_before = %s,
                   duration_ms = %s, problems = %s
             WHERE reconcile_id = %s""",
            (out["ranges_differing"], out["staged"], out["cassandra"], len(out["missing"]), len(out["ghosts"]),
             len(out["stale_index"]), len(out["missing_index"]), out["index_ranges_differing"],
             epoch, len(out.get("dead_letters", ())), in_flight, len(wts) + len(index_done), out.get("snapshot_lsn"), cut["lsn"], cut["ts"], cut["retired"],
             int((time.monotonic() - started) * 1000), out.get("problems", []), rid))
    db.commit()
    report = {"reconcile_id": rid, "ranges": n, "ranges_differing": out["ranges_differing"],
              "staged": out["staged"], "cassandra": out["cassandra"],
              "missing": len(out["missing"]), "ghosts": len(out["ghosts"]),
              "stale_index": len(out["stale_index"]), "missing_index": len(out["missing_index"]),
              "dead_letters": len(out.get("dead_letters", ())),
              "first_stale_index": sorted(f"{k}:{u}:{index_key_text(k, v)}" for k, u, v in out["stale_index"])[:20],
              "first_missing": sorted(str(u) for u in out["missing"])[:20],
              "first_ghosts": sorted(str(u) for u in out["ghosts"])[:20],
              "in_flight": in_flight, "repaired": len(wts) + len(index_done), "problems": out.get("problems", []),
              "seconds": round(time.monotonic() - started, 2)}
    return report
