"""The pure parts of the reconciliation (airflow/dags/userstream_reconcile_core.py): the
token function agrees with Cassandra's, the ranges cover the ring without overlap, and the
digests see a missing, an extra and a swapped id."""

import os
import sys
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "airflow", "dags"))

core = pytest.importorskip("userstream_reconcile_core")


def test_token_is_cassandras_murmur3():
    # SELECT token(user_id), user_id FROM users (Cassandra 5.0, Murmur3Partitioner)
    known = {"7e2738d1-676b-42cb-a112-4e18e2d7c15a": -9220502164631765835,
             "8b9b26bb-016b-46e5-868c-4c8b1b254ef7": -9201181910653999550,
             "65abad63-1aa0-4ca1-a6e0-949fe148da56": -9175950866249244286}
    for u, t in known.items():
        assert core.token(uuid.UUID(u)) == t


@pytest.mark.parametrize("n", [1, 2, 3, 7, 256, 4096])
def test_ranges_cover_the_ring_once(n):
    b = core.boundaries(n)
    assert len(b) == n + 1 and b[0] == core.MIN_TOKEN and b[-1] == core.MAX_TOKEN
    assert all(b[i] < b[i + 1] for i in range(n))
    for tok in (core.MIN_TOKEN + 1, core.MAX_TOKEN, 0, -1, 1, *b[1:-1], *(x + 1 for x in b[1:-1])):
        i = core.range_of(tok, b)
        assert b[i] < tok <= b[i + 1]


def test_bad_range_counts_are_refused():
    for n in (0, -1, 65537):
        with pytest.raises(ValueError):
            core.boundaries(n)


def test_digests_differ_exactly_where_the_sets_differ():
    n = 64
    b = core.boundaries(n)
    key = b"k" * 16
    ids = [uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % (1 << 128)) for i in range(1, 2001)]

    def digest(xs):
        d = core.Digests(n, key)
        for u in xs:
            d.add(core.range_of(core.token(u), b), u)
        return d

    same = digest(reversed(ids))
    assert digest(ids).differing(same) == []
    gone, extra = ids[5], uuid.UUID("11111111-2222-4333-8444-555555555555")
    other = digest([u for u in ids if u != gone] + [extra])
    want = sorted({core.range_of(core.token(gone), b), core.range_of(core.token(extra), b)})
    assert other.differing(same) == want


def test_index_digests_and_candidates_find_a_stale_and_a_missing_index_row():
    """A users row and its index rows: X's email changed by a change the job never saw
    (a re-snapshot wrote X's row under the new key at version 900<<20; the old index row
    at 100<<20 stays), Z's country index row lost. Rows written past the cut take no part."""
    n, key, cut_lsn = 16, b"k" * 16, 1000
    b = core.boundaries(n)
    x, y, z = (uuid.UUID(f"{c}0000000-0000-4000-8000-00000000000{c}") for c in "abc")
    v_old, v_snap, v_late = 100 << 20, 900 << 20, 2000 << 20
    users = {x: ("new", v_snap, "FR", v_snap), y: ("y@", v_old, "DE", v_old), z: ("z@", v_old, "NO", v_old)}
    index = {("email", x, ("old",)): v_old, ("email", x, ("new",)): v_snap,
             ("country", x, ("FR", core.bucket_of(x))): v_snap,
             ("email", y, ("y@",)): v_old, ("country", y, ("DE", core.bucket_of(y))): v_old,
             ("email", z, ("z@",)): v_old,
             ("email", y, ("in-flight",)): v_late}  # past the cut: no part
    ix = core.IndexDigests(n, key, cut_lsn)
    for u, row in users.items():
        ix.add_user(core.range_of(core.token(u), b), u, *row)
    for (kind, u, k), wt in index.items():
        ix.add_index(core.range_of(core.token(u), b), kind, u, k, wt)
    differing = ix.expected.differing(ix.actual)
    assert sorted({core.range_of(core.token(u), b) for u in (x, z)}) == differing
    stale, missing = core.index_candidates(users, index, ix.cap)
    assert stale == {("email", x, ("old",)): v_old}
    assert missing == {("country", z, ("NO", core.bucket_of(z)))}
    assert core.index_key_text("country", ("NO", 3)) == "NO/3"


def test_a_resnapshot_explains_only_what_is_older_than_its_epoch():
    epoch = 900 << 20
    a, b, c = (uuid.UUID(int=i) for i in (1, 2, 3))
    out = {"missing": {c}, "ghosts": {a, b},
           "stale_index": {("email", a, ("old",)): 100 << 20, ("email", b, ("x",)): epoch + 5}}
    wt = {a: 100 << 20, b: epoch}
    got = core.explained(out, wt, epoch)
    assert got == {"missing": set(), "ghosts": {a}, "stale_index": {("email", a, ("old",)): 100 << 20}}
    assert core.explained(out, wt, None) == {"missing": set(), "ghosts": set(), "stale_index": {}}
