"""sinks.py: dead-letter rows, delete lists, sign-up windows (no Kafka/Cassandra needed)."""

import json
from datetime import date, datetime, timezone

import pytest

from avro_util import change, headers, new_uuid, user, users_schema

from userstream_spark import decode as dec
from userstream_spark import sinks
from userstream_spark import transform as tr

V1 = users_schema()


def test_dlq_keeps_original_bytes_and_adds_reason(kafka_df):
    bad = change(V1, 1, "c", 5, 0, user(email="nope"))
    garbage = (new_uuid(1), b"\x07garbage", headers("c", 6, 0))
    df = kafka_df([bad, garbage], partition=3)
    c = tr.classify(dec.decode(dec.parse_envelope(df), {1: json.dumps(V1)}))
    out = sinks.dlq_frame(tr.rejected(c)).orderBy("value").collect()
    by_key = {bytes(r["key"]).decode(): r for r in out}
    r = by_key[bad[0]]
    assert bytes(r["value"]) == bad[1]
    h = {k: bytes(v).decode() for k, v in r["headers"]}
    assert h["us.op"] == "c" and h["us.lsn"] == "5"
    assert h["us.dlq.stage"] == "validate" and h["us.dlq.reason"] == "email missing or malformed"
    assert h["us.dlq.source"] == "userstream.users/3/0"
    g = {k: bytes(v).decode() for k, v in by_key[new_uuid(1)]["headers"]}
    assert g["us.dlq.stage"] == "decode" and g["us.dlq.source"] == "userstream.users/3/1"
    # their keys for ops.dead_letter_keys: the same source as the header
    keys = sorted(sinks.dead_letter_keys(tr.rejected(c)))
    assert keys[0] == ("userstream.users/3/0", bad[0], "5", "email missing or malformed")
    assert keys[1][:3] == ("userstream.users/3/1", new_uuid(1), "6")


def test_delete_lists():
    uid = new_uuid(7)
    cands = [
        {"user_id": uid, "w_version": 99, "w_op": "d", "old_email_hmac": "ab", "old_country_code": "FR"},
        {"user_id": uid, "w_version": 99, "w_op": "d", "old_email_hmac": "ab", "old_country_code": None},
    ]
    ds = sinks.index_deletes(cands)
    assert sorted((d.table, d.key, d.timestamp) for d in ds) == [
        ("users_by_country", ("FR", sinks.bucket_of(uid), uid), 99),
        ("users_by_email_hash", ("ab", uid), 99),
    ]
    assert sinks.user_deletes([{"user_id": uid, "writetime": 5}]) == [sinks.Delete("users", (uid,), 5)]


def test_delete_cql_checks_every_value():
    import pytest

    uid = new_uuid(7)
    assert sinks.delete_cql("ks", sinks.Delete("users", (uid,), 2**60)) == (
        f"DELETE FROM ks.users USING TIMESTAMP {2**60} WHERE user_id = {uid}"
    )
    h = "a" * 64
    assert sinks.delete_cql("ks", sinks.Delete("users_by_country", ("FR", 3, uid), 5)).endswith(
        f"WHERE country_code = 'FR' AND bucket = 3 AND user_id = {uid}"
    )
    assert f"email_hmac = '{h}'" in sinks.delete_cql("ks", sinks.Delete("users_by_email_hash", (h, uid), 5))
    for bad in [sinks.Delete("users", ("x' OR 1=1",), 1), sinks.Delete("users_by_country", ("F'", 1, uid), 1),
                sinks.Delete("users_by_email_hash", ("zz", uid), 1), sinks.Delete("users_by_country", ("FR", 99, uid), 1),
                sinks.Delete("other", (uid,), 1)]:  # fmt: skip
        with pytest.raises(ValueError):
            sinks.delete_cql("ks", bad)


def test_signup_window_binds_day_minute_country():
    ms = int(datetime(2026, 11, 24, 23, 59, tzinfo=timezone.utc).timestamp() * 1000)
    day, minute, cc = sinks.SignupWindow(ms, "FR").key()
    assert (day, minute, cc) == (date(2026, 11, 24), datetime(2026, 11, 24, 23, 59, tzinfo=timezone.utc), "FR")


@pytest.mark.parametrize("ms,cc", [(1_000, "FR"), (60_000, "fr"), (60_000, "FRA"), (60_000, None)])
def test_signup_window_refuses_what_is_not_a_window(ms, cc):
    with pytest.raises(ValueError):
        sinks.SignupWindow(ms, cc).key()


def test_topic_offsets_of_a_first_batch():
    # pyspark 3.5 turns the first batch's null start offset into "None"
    assert sinks._topic_offsets("None") is None
    assert sinks._topic_offsets(None) is None
    assert sinks._topic_offsets('{"userstream.users":{"0":12}}') == {"0": 12}


def test_placeholder_uuid_hides_the_user_and_keeps_versions_apart():
    assert sinks.placeholder_uuid((10 << 20) + 1) == "00000000-0000-0000-0000-000000a00001"
    assert sinks.placeholder_uuid(2**63 - 1) == "00000000-0000-0000-7fff-ffffffffffff"
    assert len({sinks.placeholder_uuid(v) for v in range(1000)}) == 1000
    for bad in (-1, 2**63):
        with pytest.raises(ValueError):
            sinks.placeholder_uuid(bad)


def test_erased_signup_cql_replaces_the_row_by_a_placeholder():
    uid = new_uuid(7)
    ms = int(datetime(2026, 11, 24, 23, 59, tzinfo=timezone.utc).timestamp() * 1000)
    rows = [{"user_id": uid, "minute_ms": ms, "signup_country": "FR", "signup_lsn": 10,
             "signup_version": 10 << 20, "delete_version": 12 << 20}] * 2  # fmt: skip
    (e,) = sinks.erased_signups(rows)
    assert e.window() == sinks.SignupWindow(ms, "FR")
    ins, dele = e.erase_cql("ks")
    part = f"day = '2026-11-24' AND minute = {ms} AND country_code = 'FR'"
    assert ins == ("INSERT INTO ks.signup_events (day, minute, country_code, user_id, commit_lsn, version) "
                   f"VALUES ('2026-11-24', {ms}, 'FR', {sinks.placeholder_uuid(10 << 20)}, 10, {10 << 20}) "
                   f"USING TIMESTAMP {10 << 20}")  # fmt: skip
    assert dele == f"DELETE FROM ks.signup_events USING TIMESTAMP {12 << 20} WHERE {part} AND user_id = {uid} AND commit_lsn = 10"
    assert uid not in ins
    for bad in [dict(user_id="x' OR 1=1"), dict(country_code="F'"), dict(minute_ms=ms + 1),
                dict(delete_version=10 << 20), dict(lsn=2**43)]:  # fmt: skip
        with pytest.raises(ValueError):
            sinks.ErasedSignup(**{**e.__dict__, **bad}).erase_cql("ks")


def test_wal_position_of_an_unreachable_postgresql_is_unknown_with_a_reason():
    """The job then skips the us.lsn upper bound for that batch (and logs why):
    nothing raises, no password or row value is in the reason."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = sinks.WalPosition(f"host=127.0.0.1 port={port} dbname=x user=ops connect_timeout=5")
    pos, why = w.read()
    assert pos is None and why.startswith("OperationalError: ") and "\n" not in why
    w.close()
