"""lsn_checks.py and its rules in transform.classify: a record's us.lsn beyond
PostgreSQL's WAL position + margin, or not monotonic per key within a batch,
is a dead letter with its reason (issue 12 item 3)."""

import json

import pytest
from avro_util import change, headers, new_uuid, user, users_schema

from userstream_spark import decode as dec
from userstream_spark import lsn_checks
from userstream_spark import transform as tr

V1 = users_schema()
SCHEMAS = {1: json.dumps(V1)}
LIMIT = lsn_checks.LIMIT_REASON
ORDER = lsn_checks.ORDER_REASON


@pytest.fixture
def flags(spark):
    """rows: (partition, key, offset, lsn) -> the order rule's verdict per row."""

    def run(rows):
        df = spark.createDataFrame([(p, k, o, None if lsn is None else str(lsn)) for p, k, o, lsn in rows],
                                   "src_partition int, key_text string, src_offset long, lsn string")  # fmt: skip
        df = df.withColumn("lsn", df["lsn"].cast("decimal(20,0)"))
        bad = set(lsn_checks.violations(df))
        return [(p, o) in bad for p, _, o, _ in rows]

    return run


@pytest.mark.parametrize(
    "lsns, refused",
    [
        ([10, 20, 30], []),  # commit order
        ([10, 10, 10], []),  # one transaction, or a snapshot's rows, or re-sends
        ([10, 20, 10, 20], []),  # a relay restart: the same LSNs again, in order
        ([10, 20, 30, 20, 30], []),  # a restart that re-sends from the middle
        ([10, 20, 10], []),  # a re-send of 10 (seen before 20): 20 comes next batch
        ([10, 900, 20], [1]),  # 900 would outrank 20: refused, 20 is written
        ([900, 20, 30], [0]),
        ([20, 900, 30, 900], []),  # 900 re-sent after the drop: the relay's own restart
        ([500, 1], [0]),  # a lower record: the higher one cannot be trusted to win
        ([30, 20, 10], [0, 1]),
    ],
)
def test_order_rule_per_key(flags, lsns, refused):
    rows = [(0, "k", i, lsn) for i, lsn in enumerate(lsns)]
    got = flags(rows)
    assert [i for i, f in enumerate(got) if f] == refused


def test_order_rule_is_per_partition_and_key_and_by_offset_not_row_order(flags):
    rows = [
        (0, "a", 7, 50),
        (0, "b", 1, 10),
        (0, "a", 3, 90),  # offset 3 < 7: 90 comes first, then 50: refused
        (1, "a", 9, 10),  # another partition: not compared
        (0, None, 8, 1),  # no key: takes no part
        (0, "b", 2, None),  # no valid LSN: takes no part
        (0, "b", 5, 2**43),  # beyond the write-timestamp range: refused by that rule, takes no part
        (0, "b", 4, 10),
    ]
    assert flags(rows) == [False, False, True, False, False, False, False, False]


def classified(kafka_df, recs, limit=None):
    """As the job classifies a batch: the order rule's offsets from the whole
    batch (the job's stats pass), then classify with them and the limit."""
    env = dec.parse_envelope(kafka_df(recs))
    inverted = lsn_checks.violations(env)
    return tr.classify(dec.decode(env, SCHEMAS), limit, inverted).orderBy("src_offset")


def reasons(kafka_df, recs, limit=None):
    return [r["reject_reason"] for r in classified(kafka_df, recs, limit).collect()]


def test_upper_bound(kafka_df):
    a, b = new_uuid(1), new_uuid(2)
    recs = [
        change(V1, 1, "c", 1000, 0, user(user_id=a)),
        (a, None, headers("d", 2**43 - 1, 0)),  # a tombstone that would outrank every later change
        change(V1, 1, "u", 1001, 0, user(user_id=b)),  # exactly at the limit: fine
        change(V1, 1, "u", 1002, 0, user(user_id=b)),
        (None, None, headers("t", 1002, 0)),  # a truncate marker too
    ]
    assert reasons(kafka_df, recs, limit=1001) == [None, LIMIT, None, LIMIT, LIMIT]
    assert [r["reject_stage"] for r in classified(kafka_df, recs, 1001).collect()][1] == "validate"
    # PostgreSQL could not be asked: no upper bound, the order check still runs
    assert reasons(kafka_df, recs) == [None, None, None, None, None]
    assert lsn_checks.lsn_limit(None, 64) is None and lsn_checks.lsn_limit(1000, 1) == 1001


def test_order_in_classify_refuses_the_record_that_would_outrank(kafka_df):
    a, b = new_uuid(1), new_uuid(2)
    recs = [
        change(V1, 1, "c", 10, 0, user(user_id=a)),
        (a, None, headers("d", 5000, 0)),  # below the limit, but a later change of a is lower
        change(V1, 1, "u", 20, 0, user(user_id=a, city="Later")),
        change(V1, 1, "c", 10, 1, user(user_id=b)),
        change(V1, 1, "c", 10, 1, user(user_id=b)),  # a re-send: same LSN
    ]
    assert reasons(kafka_df, recs, limit=100000) == [None, ORDER, None, None, None]
    good = tr.good(classified(kafka_df, recs, 100000))
    assert sorted((r["uid"], r["op"]) for r in good.collect()) == sorted([(a, "c"), (a, "u"), (b, "c"), (b, "c")])


def test_a_huge_lsn_gets_the_first_reason_that_applies(kafka_df):
    a = new_uuid(1)
    recs = [(a, None, headers("d", 2**43, 0)), (a, None, headers("d", 2**43 - 1, 0)), (a, None, headers("d", 9, 0))]
    assert reasons(kafka_df, recs, limit=100) == ["us.lsn beyond the write-timestamp range (2^43)", LIMIT, None]


def test_many_records(kafka_df):
    recs = [change(V1, 1, "c", 100 + i, 0, user(user_id=new_uuid(i))) for i in range(40)]
    recs.insert(25, (new_uuid(3), None, headers("d", 99999, 0)))  # 3's insert came earlier, lower: fine
    recs.append((new_uuid(30), None, headers("d", 50, 0)))  # below 30's insert at 130: that one is refused
    got = classified(kafka_df, recs, 10**6).collect()
    refused = [(r["src_offset"], r["reject_reason"]) for r in got if r["reject_reason"]]
    assert refused == [(31, ORDER)]  # user 30's insert (offset 31, after the inserted tombstone)


def test_the_job_finds_the_offsets_in_its_stats_pass_then_classifies_with_them(kafka_df):
    from userstream_spark import job

    a, b = new_uuid(1), new_uuid(2)
    recs = [
        change(V1, 1, "c", 10, 0, user(user_id=a)),
        change(V1, 1, "u", 900, 0, user(user_id=a, city="Forged")),
        change(V1, 1, "u", 20, 0, user(user_id=a)),
        change(V1, 1, "c", 10, 1, user(user_id=b), commit_ts=None),
    ]
    env = dec.parse_envelope(kafka_df(recs, partition=2))
    st = job._users_stats(tr.classify(dec.decode(env, SCHEMAS), 10**6))
    inverted = [(r["src_partition"], r["src_offset"]) for r in st["inverted"]]
    assert inverted == [(2, 1)] and st["rejects"] == 0
    again = job._users_stats(tr.classify(dec.decode(env, SCHEMAS), 10**6, inverted))
    assert (again["rejects"], again["good"], again["ud"]) == (1, 3, 1)
    assert {(w["country_code"]) for w in again["signup_windows"]} == {"US"}
