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
